// The `plugins.*` configuration (SPEC §5.24, §6.5, §4.2, §10.1,
// docs/plugins.md): declared once here (the `wasm` transform entry of the
// registry carries the parameters), read by the transform chain builder, the
// pipeline assembly (adapters, DLQ) and the wal detector's checkpoint store.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "core/error.h"
#include "registry/param_spec.h"
#include "wasm/plugin.h"

namespace pgcdc::config {
class Config;
}

namespace pgcdc::wasm {

struct Settings {
  std::vector<std::string> transform_paths;
  std::vector<std::string> transform_configs;
  std::string transforms_yaml;
  std::vector<std::string> adapter_paths;
  std::vector<std::string> adapter_names;
  std::vector<std::string> adapter_configs;
  std::string adapters_yaml;
  int64_t adapter_max_attempts = 3;
  std::chrono::milliseconds adapter_backoff_base{200};
  std::string dlq_path;
  std::string dlq_config_yaml;
  std::string dlq_config_json;
  std::string checkpoint_path;
  std::string checkpoint_config_yaml;
  std::string checkpoint_config_json;
  std::chrono::milliseconds call_timeout{1000};
  int64_t max_memory_mb = 64;
  std::vector<std::string> http_allow;
  std::chrono::milliseconds http_timeout{30000};
};

// The parameters above (flags, YAML keys, env).
const std::vector<ParamSpec>& Params();
Settings Bind(const config::Config& cfg);

// One plugin to load: its metric/log name, file and Extism config (each
// value JSON text, SPEC §10.1), and for transforms the adapter it is scoped
// to (empty = global). `init` is the config as one JSON object, the input of
// an adapter's, DLQ's or checkpoint store's `init` export.
struct Entry {
  std::string name;
  std::string path;
  std::map<std::string, std::string> config;
  std::string adapter;
  std::string ConfigJson() const;
};

// The transform plugins (flags first, then plugins.transforms) and the
// adapter plugins (--plugin-adapter, then plugins.adapters). Errors name the
// flag or key.
Result<std::vector<Entry>> TransformEntries(const Settings& s);
Result<std::vector<Entry>> AdapterEntries(const Settings& s);
// The DLQ (`dlq-plugin`) and checkpoint (`checkpoint-plugin`) plugins;
// nullopt when no path is configured.
Result<std::optional<Entry>> DlqEntry(const Settings& s);
Result<std::optional<Entry>> CheckpointEntry(const Settings& s);

// Common validation (call_timeout > 0 …); messages appended to `errors`.
void Validate(const Settings& s, std::vector<std::string>& errors);

// Options for loading `e` as a plugin of `type`.
PluginOptions OptionsFor(const Settings& s, const Entry& e, std::string type);

}  // namespace pgcdc::wasm
