// `pgcdc completion bash|zsh|fish` and `pgcdc man`: the command tree as
// CLI11 holds it, turned into the model completion.h generates text from.
#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/cli.h"
#include "cli/completion.h"

#ifndef PGCDC_VERSION
#define PGCDC_VERSION "0.0.0"
#endif

namespace pgcdc::cli {

namespace {

std::vector<std::string> ConnectorNames(ConnectorKind kind) {
  std::vector<std::string> out;
  for (const ConnectorInfo* c : Builtins().List(kind)) out.push_back(c->name);
  return out;
}

// "a|b|c" type names (enumerated settings) are the option's choices.
std::vector<std::string> Choices(const CLI::Option& opt) {
  const std::string type = opt.get_type_name();
  std::vector<std::string> out;
  if (type.find('|') == std::string::npos) return out;
  size_t start = 0;
  while (start <= type.size()) {
    const size_t end = std::min(type.find('|', start), type.size());
    out.push_back(type.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

completion::Option Model(const CLI::Option& opt) {
  completion::Option o;
  o.longs = opt.get_lnames();
  o.shorts = opt.get_snames();
  o.takes_value = !opt.get_type_name().empty();  // flags have no type name
  o.value_name = opt.get_type_name();
  o.description = opt.get_description();
  o.choices = Choices(opt);
  if (o.choices.empty()) {
    for (const auto& l : o.longs) {
      if (l == "adapter") o.choices = ConnectorNames(ConnectorKind::kAdapter);
      if (l == "detector") o.choices = ConnectorNames(ConnectorKind::kDetector);
    }
  }
  if (!o.choices.empty()) o.value_name = o.takes_value ? "NAME" : "";
  return o;
}

completion::Command Model(const CLI::App& app) {
  completion::Command c;
  c.name = app.get_name();
  c.description = app.get_description();
  // The root's "pgcdc - change data capture …" reads "change data capture …".
  if (const std::string head = c.name + " - "; c.description.starts_with(head)) {
    c.description.erase(0, head.size());
  }
  for (const CLI::Option* opt : app.get_options()) {
    if (opt->get_group().empty() || !opt->nonpositional()) continue;  // hidden or positional
    c.options.push_back(Model(*opt));
  }
  for (const CLI::App* sub : app.get_subcommands(
           [](const CLI::App* a) { return !a->get_group().empty() && !a->get_name().empty(); })) {
    c.subcommands.push_back(Model(*sub));
  }
  return c;
}

}  // namespace

void AddCompletionCommands(CLI::App& root) {
  auto* completion = root.add_subcommand(
      "completion",
      "Print a shell completion script: bash (source <(pgcdc completion bash)), zsh (save as "
      "_pgcdc in $fpath) or fish (pgcdc completion fish | source)");
  auto shell = std::make_shared<std::string>();
  completion->add_option("shell", *shell, "bash | zsh | fish")
      ->required()
      ->check(CLI::IsMember({"bash", "zsh", "fish"}));
  completion->callback([&root, shell] {
    const completion::Command model = Model(root);
    if (*shell == "bash") std::cout << completion::Bash(model);
    if (*shell == "zsh") std::cout << completion::Zsh(model);
    if (*shell == "fish") std::cout << completion::Fish(model);
  });

  auto* man = root.add_subcommand("man", "Print the pgcdc(1) man page (roff) for every command");
  man->callback([&root] { std::cout << completion::ManPage(Model(root), PGCDC_VERSION); });
}

}  // namespace pgcdc::cli
