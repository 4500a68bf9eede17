// Shell completions (bash, zsh, fish) and the man page, generated from one
// model of the command tree. Pure text generation: the CLI11 walk that fills
// the model lives in cmd_completion.cc, so this stays testable on its own.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace pgcdc::cli::completion {

struct Option {
  std::vector<std::string> longs;   // without the leading "--"
  std::vector<std::string> shorts;  // without the leading "-"
  bool takes_value = false;
  std::string value_name;  // shown in the man page ("URL", "N", …)
  std::string description;
  std::vector<std::string> choices;  // completed values; empty = files
};

struct Command {
  std::string name;
  std::string description;
  std::vector<Option> options;
  std::vector<Command> subcommands;
};

// Each returns a complete script for `root` (named root.name) that the shell
// loads as is: `source <(pgcdc completion bash)`, `pgcdc completion zsh >
// "${fpath[1]}/_pgcdc"`, `pgcdc completion fish | source`.
std::string Bash(const Command& root);
std::string Zsh(const Command& root);
std::string Fish(const Command& root);

// The whole tree as one roff man page (section 1).
std::string ManPage(const Command& root, std::string_view version);

}  // namespace pgcdc::cli::completion
