// `pgcdc plugin init <name>`: scaffolds a Wasm transform plugin project in C
// (plugin.c, Makefile, README.md) that builds with Debian's clang-19 and
// wasi-libc and loads in pgcdc as is (docs/plugins.md). SPEC's scaffold is
// TinyGo and its adapter/DLQ/checkpoint templates export names the host never
// calls; this one exports exactly what pgcdc calls (`transform`). Templates for
// the other plugin types are not written yet: --type refuses them and points
// to the complete examples instead.
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

#include "cli/cli.h"

namespace pgcdc::cli {
namespace {

struct InitFlags {
  std::string name;
  std::string type = "transform";
  std::string dir;
  bool force = false;
};

constexpr const char* kPluginC =
    R"C(// @NAME@: a pgcdc transform plugin (docs/plugins.md in pgcdc's documentation).
//
// pgcdc calls the export `transform` once per event with the event's JSON
// envelope as input: {"id","channel","operation","payload","source",...}.
//   - set an output (an event JSON) to pass the event on: its payload, and its
//     channel and operation when present, replace the original's;
//   - set no output to drop the event;
//   - return non-zero (after error_set) to fail it: pgcdc counts the error and
//     sends the event to the dead letter queue.
//
// This template passes every event on unchanged, except events whose
// operation equals the config value "drop_operation" (e.g. "DELETE"), which
// it drops and counts in pgcdc_plugin_custom_dropped_total.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// Extism's host functions (memory blocks are offsets in pgcdc's kernel).
#define EXTISM(name) __attribute__((import_module("extism:host/env"), import_name(name)))
EXTISM("input_length") uint64_t input_length(void);
EXTISM("input_load_u8") uint32_t input_load_u8(uint64_t offset);
EXTISM("alloc") uint64_t kernel_alloc(uint64_t length);
EXTISM("length") uint64_t kernel_length(uint64_t block);
EXTISM("load_u8") uint32_t kernel_load_u8(uint64_t offset);
EXTISM("store_u8") void kernel_store_u8(uint64_t offset, uint32_t byte);
EXTISM("output_set") void output_set(uint64_t block, uint64_t length);
EXTISM("error_set") void error_set(uint64_t block);
EXTISM("config_get") uint64_t config_get(uint64_t key_block);
// pgcdc's own: a log line at a level ("debug", "info", "warn", "error") and
// a counter pgcdc_plugin_custom_<name>_total{plugin}.
#define PGCDC(name) __attribute__((import_module("extism:host/user"), import_name(name)))
PGCDC("pgcdc_log") void pgcdc_log(uint64_t level_block, uint64_t message_block);
PGCDC("pgcdc_metric_inc") void pgcdc_metric_inc(uint64_t name_block, double value);

static uint64_t to_kernel(const char* bytes, size_t n) {
  uint64_t block = kernel_alloc(n);
  for (size_t i = 0; i < n; i++) kernel_store_u8(block + i, (uint8_t)bytes[i]);
  return block;
}

static uint64_t str(const char* s) { return to_kernel(s, strlen(s)); }

// A config value (JSON-encoded: a string arrives as "\"DELETE\""), or NULL.
static char* config(const char* key) {
  uint64_t block = config_get(str(key));
  if (block == 0) return NULL;
  size_t n = kernel_length(block);
  char* value = malloc(n + 1);
  for (size_t i = 0; i < n; i++) value[i] = (char)kernel_load_u8(block + i);
  value[n] = 0;
  return value;
}

__attribute__((export_name("transform"))) int transform(void) {
  size_t n = input_length();
  char* event = malloc(n + 1);
  if (event == NULL) {
    error_set(str("@NAME@: out of memory"));
    return 1;
  }
  for (size_t i = 0; i < n; i++) event[i] = (char)input_load_u8(i);
  event[n] = 0;

  char* drop = config("drop_operation");
  if (drop != NULL) {
    // The envelope is compact JSON: "operation":"DELETE" (drop holds "\"DELETE\"").
    char needle[128];
    if (strlen(drop) < sizeof(needle) - 16) {
      strcpy(needle, "\"operation\":");
      strcat(needle, drop);
      if (strstr(event, needle) != NULL) {
        pgcdc_metric_inc(str("dropped"), 1.0);
        pgcdc_log(str("debug"), str("@NAME@: event dropped"));
        free(drop);
        free(event);
        return 0;  // no output: the event is dropped
      }
    }
    free(drop);
  }

  // TODO: change the event here. Pass it on unchanged:
  output_set(to_kernel(event, n), n);
  free(event);
  return 0;
}
)C";

constexpr const char* kMakefile = R"MK(# Builds @NAME@.wasm with Debian's clang-19 and wasi-libc:
#   apt install clang-19 lld-19 wasi-libc libclang-rt-19-dev-wasm32
CLANG ?= clang-19

@NAME@.wasm: plugin.c
	$(CLANG) --target=wasm32-wasi -O2 -mexec-model=reactor plugin.c -o $@

clean:
	rm -f @NAME@.wasm

.PHONY: clean
)MK";

constexpr const char* kReadme = R"MD(# @NAME@

A pgcdc transform plugin in C. `plugin.c` passes every event on unchanged,
except events whose operation is the config value `drop_operation`.

Build (Debian 12: `apt install clang-19 lld-19 wasi-libc libclang-rt-19-dev-wasm32`):

    make

Run it on a pipeline:

    pgcdc listen --detector wal --db postgres://localhost/app --all-tables \
      --plugin-transform ./@NAME@.wasm \
      --plugin-transform-config '{"drop_operation": "DELETE"}'

or in YAML:

    plugins:
      transforms:
        - name: @NAME@
          path: ./@NAME@.wasm
          config: {drop_operation: DELETE}

What the host passes in, what an output means (pass, change, drop, fail) and
which host functions a plugin may import: docs/plugins.md in pgcdc's
documentation (`/usr/share/doc/pgcdc/docs/plugins.md` when installed from the
package).
)MD";

std::string Fill(std::string text, const std::string& name) {
  for (size_t at = text.find("@NAME@"); at != std::string::npos; at = text.find("@NAME@", at)) {
    text.replace(at, 6, name);
    at += name.size();
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

int RunInit(const InitFlags& f) {
  if (!ValidName(f.name)) {
    return ReportConfigErrors(
        {"plugin name \"" + f.name + "\": use 1-64 letters, digits, '_' or '-'"});
  }
  if (f.type != "transform") {
    return ReportConfigErrors(
        {"--type " + f.type +
         ": templates for adapter, dlq and checkpoint plugins are not implemented yet; start "
         "from the complete examples in docs/plugins.md (echo_adapter.c, mem_dlq.c, "
         "mem_checkpoint.c)"});
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
  const std::pair<const char*, const char*> files[] = {
      {"plugin.c", kPluginC}, {"Makefile", kMakefile}, {"README.md", kReadme}};
  for (const auto& [file, text] : files) {
    std::ofstream out(dir / file, std::ios::trunc);
    out << Fill(text, f.name);
    if (!out.flush()) {
      std::cerr << "pgcdc plugin init: cannot write " << (dir / file).string() << "\n";
      return kExitFailure;
    }
  }
  std::cerr << "wrote " << (dir / "plugin.c").string() << ", Makefile and README.md; build with: "
            << "make -C " << dir.string() << "\n";
  return kExitOk;
}

}  // namespace

void AddPluginCommand(CLI::App& root) {
  auto* plugin = root.add_subcommand("plugin", "Wasm plugin tools");
  plugin->require_subcommand(1);
  auto* init = plugin->add_subcommand(
      "init", "Scaffold a Wasm transform plugin project in C (plugin.c, Makefile, README.md)");
  auto f = std::make_shared<InitFlags>();
  init->add_option("name", f->name, "the plugin's name (letters, digits, _ and -)")->required();
  init->add_option("--type", f->type, "transform (adapter, dlq, checkpoint: not implemented yet)")
      ->capture_default_str();
  init->add_option("-o,--output", f->dir, "the project folder (default: ./<name>)");
  init->add_flag("--force", f->force, "write into a folder that is not empty");
  init->callback([f] { CommandExitCode() = RunInit(*f); });
}

}  // namespace pgcdc::cli
