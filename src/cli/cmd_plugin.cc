// `pgcdc plugin init <name> [--type transform|adapter|dlq|checkpoint]
// [--lang c|rust]`: scaffolds a Wasm plugin project in C (plugin.c,
// pgcdc_pdk.h, Makefile, README.md) that builds with Debian's clang-19 and
// wasi-libc, or in Rust without crates (plugin.rs, pgcdc_pdk.rs, Makefile,
// README.md) that builds with Debian's rustc and libstd-rust-dev-wasm32, and
// loads in pgcdc as is (docs/plugins.md). The files are src/wasm/pdk
// (embedded at build time by cmake/EmbedText.cmake), and the build compiles
// the same templates into the test plugins, so the tests run what users start
// from.
// SPEC's scaffold is TinyGo, and its adapter/DLQ/checkpoint templates export
// names the host never calls; these export exactly what pgcdc calls.
//
// Exit codes: 0 written; 2 bad name/type or a target folder that is not
// empty (without --force); 1 a file could not be written.
#include <CLI/CLI.hpp>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cli/cli.h"

namespace pgcdc::cli {

// The files of src/wasm/pdk by name (generated: cmake/EmbedText.cmake).
std::string_view PluginFile(std::string_view name);

namespace {

struct InitFlags {
  std::string name;
  std::string type = "transform";
  std::string lang = "c";
  std::string dir;
  bool force = false;
};

struct PluginType {
  const char* name;
  const char* what;  // README: what the template does
  const char* run;   // README: how to run it
};

constexpr PluginType kTypes[] = {
    {"transform",
     "`plugin.c` passes every event on unchanged, except events whose operation is\n"
     "the config value `drop_operation`, which it drops and counts.",
     "    pgcdc listen --detector wal --db postgres://localhost/app --all-tables \\\n"
     "      --plugin-transform ./@NAME@.wasm \\\n"
     "      --plugin-transform-config '{\"drop_operation\": \"DELETE\"}'\n\n"
     "or in YAML:\n\n"
     "    plugins:\n      transforms:\n        - name: @NAME@\n"
     "          path: ./@NAME@.wasm\n          config: {drop_operation: DELETE}"},
    {"adapter",
     "`plugin.c` is a sink: it POSTs each event to the config value `url` and fails\n"
     "the event (pgcdc retries it, then dead-letters it) unless the answer is 2xx.",
     "    pgcdc listen --detector wal --db postgres://localhost/app --all-tables \\\n"
     "      --persistent-slot --plugin-adapter ./@NAME@.wasm --plugin-adapter-name @NAME@ \\\n"
     "      --plugin-adapter-config '{\"url\": \"http://127.0.0.1:9000/events\"}' \\\n"
     "      --plugin-http-allow http://127.0.0.1:9000"},
    {"dlq",
     "`plugin.c` is a dead letter queue: it POSTs each dead letter to the config\n"
     "value `url` and fails unless the answer is 2xx (the event is then not\n"
     "acknowledged, so nothing is lost).",
     "    pgcdc listen --detector wal --db postgres://localhost/app --all-tables \\\n"
     "      -a webhook -u http://127.0.0.1:8000/hook \\\n"
     "      --dlq plugin --dlq-plugin-path ./@NAME@.wasm \\\n"
     "      --dlq-plugin-config '{\"url\": \"http://127.0.0.1:9000/dead\"}' \\\n"
     "      --plugin-http-allow http://127.0.0.1:9000"},
    {"checkpoint",
     "`plugin.c` keeps the replication slot's position in an HTTP key-value service\n"
     "(PUT/GET <url>/<slot>, body {\"lsn\":N}; 404 = none), so it survives a crash.",
     "    pgcdc listen --detector wal --db postgres://localhost/app --all-tables \\\n"
     "      --persistent-slot --checkpoint-plugin ./@NAME@.wasm \\\n"
     "      --checkpoint-plugin-config '{\"url\": \"http://127.0.0.1:9000/kv\"}' \\\n"
     "      --plugin-http-allow http://127.0.0.1:9000"},
};

// Replaces every `key` in text with `value`.
std::string Fill(std::string text, std::string_view key, std::string_view value) {
  for (size_t at = text.find(key); at != std::string::npos; at = text.find(key, at)) {
    text.replace(at, key.size(), value);
    at += value.size();
  }
  return text;
}

bool ValidName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (const char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  }
  return true;
}

const PluginType* FindType(std::string_view name) {
  for (const auto& t : kTypes) {
    if (name == t.name) return &t;
  }
  return nullptr;
}

// The project's files: name in the folder → text with @NAME@ filled in.
std::vector<std::pair<std::string, std::string>> ProjectFiles(const PluginType& type,
                                                              const std::string& lang,
                                                              const std::string& name) {
  const bool rust = lang == "rust";
  const std::string what = rust ? Fill(type.what, "`plugin.c`", "`plugin.rs`") : type.what;
  std::string readme =
      Fill(std::string(PluginFile(rust ? "README.rust.md" : "README.md")), "@WHAT@", what);
  readme = Fill(std::move(readme), "@RUN@", type.run);
  readme = Fill(std::move(readme), "@TYPE@", type.name);
  const std::string source = rust ? std::string(type.name) + ".rs" : std::string(type.name);
  return {{rust ? "plugin.rs" : "plugin.c", Fill(std::string(PluginFile(source)), "@NAME@", name)},
          {rust ? "pgcdc_pdk.rs" : "pgcdc_pdk.h",
           std::string(PluginFile(rust ? "pgcdc_pdk.rs" : "pgcdc_pdk.h"))},
          {"Makefile",
           Fill(std::string(PluginFile(rust ? "Makefile.rust" : "Makefile")), "@NAME@", name)},
          {"README.md", Fill(std::move(readme), "@NAME@", name)}};
}

int RunInit(const InitFlags& f) {
  if (!ValidName(f.name)) {
    return ReportConfigErrors(
        {"plugin name \"" + f.name + "\": use 1-64 letters, digits, '_' or '-'"});
  }
  const PluginType* type = FindType(f.type);
  if (type == nullptr) {
    return ReportConfigErrors(
        {"--type " + f.type + ": expected transform, adapter, dlq or checkpoint"});
  }
  if (f.lang != "c" && f.lang != "rust") {
    return ReportConfigErrors({"--lang " + f.lang + ": expected c or rust"});
  }
  namespace fs = std::filesystem;
  const fs::path dir = f.dir.empty() ? fs::path(f.name) : fs::path(f.dir);
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_empty(dir, ec) && !f.force) {
    return ReportConfigErrors(
        {dir.string() + " exists and is not empty (use --force to overwrite its files)"});
  }
  fs::create_directories(dir, ec);
  if (ec) {
    std::cerr << "pgcdc plugin init: cannot create " << dir.string() << ": " << ec.message()
              << "\n";
    return kExitFailure;
  }
  std::string written;
  for (const auto& [file, text] : ProjectFiles(*type, f.lang, f.name)) {
    std::ofstream out(dir / file, std::ios::trunc);
    out << text;
    if (!out.flush()) {
      std::cerr << "pgcdc plugin init: cannot write " << (dir / file).string() << "\n";
      return kExitFailure;
    }
    written += (written.empty() ? "" : ", ") + file;
  }
  std::cerr << "wrote a " << type->name << " plugin project in "
            << (f.lang == "rust" ? "Rust" : "C") << " in " << dir.string() << " (" << written
            << "); build it with: make -C " << dir.string() << "\n";
  return kExitOk;
}

}  // namespace

void AddPluginCommand(CLI::App& root) {
  auto* plugin = root.add_subcommand("plugin", "Wasm plugin tools");
  plugin->require_subcommand(1);
  auto* init = plugin->add_subcommand(
      "init",
      "Scaffold a Wasm plugin project in C (plugin.c, pgcdc_pdk.h, Makefile, README.md) or "
      "Rust (plugin.rs, pgcdc_pdk.rs, Makefile, README.md)");
  auto f = std::make_shared<InitFlags>();
  init->add_option("name", f->name, "the plugin's name (letters, digits, _ and -)")->required();
  init->add_option("--type", f->type, "the plugin's kind")
      ->check(CLI::IsMember({"transform", "adapter", "dlq", "checkpoint"}))
      ->capture_default_str();
  init->add_option("--lang", f->lang,
                   "the plugin's language: c (clang-19, wasi-libc) or rust (rustc, no crates)")
      ->check(CLI::IsMember({"c", "rust"}))
      ->capture_default_str();
  init->add_option("-o,--output", f->dir, "the project folder (default: ./<name>)");
  init->add_flag("--force", f->force, "write into a folder that is not empty");
  init->callback([f] { CommandExitCode() = RunInit(*f); });
}

}  // namespace pgcdc::cli
