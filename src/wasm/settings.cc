#include "wasm/settings.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <optional>
#include <set>

#include "core/json.h"
#include "core/json_dom.h"
#include "registry/define.h"

namespace pgcdc::wasm {

namespace {

// A YAML value as JSON (Extism config values are JSON texts, SPEC §10.1).
void YamlToJson(const YAML::Node& node, json::Writer& w) {
  if (node.IsMap()) {
    w.BeginObject();
    for (const auto& kv : node) {
      w.Key(kv.first.as<std::string>());
      YamlToJson(kv.second, w);
    }
    w.EndObject();
  } else if (node.IsSequence()) {
    w.BeginArray();
    for (const auto& item : node) YamlToJson(item, w);
    w.EndArray();
  } else if (!node.IsDefined() || node.IsNull()) {
    w.Null();
  } else {
    const std::string& s = node.Scalar();
    char* end = nullptr;
    // Plain scalars that are JSON literals or numbers stay as they are.
    const bool literal = s == "true" || s == "false" ||
                         (!s.empty() && (std::strtod(s.c_str(), &end), *end == '\0') &&
                          json::ParseDom(s).has_value());
    if (node.Tag() != "!" && literal) {
      w.Raw(s);
    } else {
      w.String(s);
    }
  }
}

Status ConfigFromYamlMap(const YAML::Node& map, const std::string& where,
                         std::map<std::string, std::string>& out) {
  if (map.IsNull()) return Ok();
  if (!map.IsMap()) return Fail(ErrorCode::kConfig, where + ": expected a map");
  for (const auto& c : map) {
    std::string text;
    json::Writer w(text);
    YamlToJson(c.second, w);
    out[c.first.as<std::string>()] = std::move(text);
  }
  return Ok();
}

// A flag's JSON object; each value is kept as JSON text.
Status ConfigFromJson(std::string_view text, std::map<std::string, std::string>& out) {
  if (text.empty()) return Ok();
  auto dom = json::ParseDom(text);
  if (!dom || !dom->is_object()) {
    return Fail(ErrorCode::kConfig, "config must be a JSON object, got " + std::string(text));
  }
  for (const auto& kv : dom->as_object()) {
    out[std::string(kv.key())] = json::SerializeDom(kv.value());
  }
  return Ok();
}

// One entry of plugins.transforms / plugins.adapters.
Result<Entry> EntryFromYaml(const YAML::Node& item, const std::string& list, size_t index,
                            const std::string& default_name, bool transform) {
  const std::string where = list + "[" + std::to_string(index) + "]";
  if (!item.IsMap()) return Fail(ErrorCode::kConfig, where + ": expected a map");
  Entry e{.name = default_name};
  for (const auto& kv : item) {
    const std::string key = kv.first.as<std::string>();
    if (key == "name") {
      e.name = kv.second.as<std::string>();
    } else if (key == "path") {
      e.path = kv.second.as<std::string>();
    } else if (key == "encoding") {
      if (kv.second.as<std::string>() != "json" && kv.second.as<std::string>() != "protobuf") {
        return Fail(ErrorCode::kConfig, where + ".encoding: expected json or protobuf");
      }
    } else if (key == "config") {
      if (auto st = ConfigFromYamlMap(kv.second, where + ".config", e.config); !st) {
        return Fail(st.error());
      }
    } else if (key == "scope" && transform) {
      if (kv.second.IsMap() && kv.second["adapter"].IsScalar()) {
        e.adapter = kv.second["adapter"].as<std::string>();
      } else if (!kv.second.IsScalar() || kv.second.as<std::string>() != "global") {
        return Fail(ErrorCode::kConfig, where + ".scope: expected global or {adapter: <name>}");
      }
    } else {
      return Fail(ErrorCode::kConfig, where + ": unknown key " + key);
    }
  }
  if (e.path.empty()) return Fail(ErrorCode::kConfig, where + ".path: required");
  return e;
}

Status AppendYamlList(const std::string& yaml, const std::string& list, const char* prefix,
                      bool transform, std::vector<Entry>& out) {
  if (yaml.empty()) return Ok();
  try {
    const YAML::Node node = YAML::Load(yaml);
    if (!node.IsNull() && !node.IsSequence()) {
      return Fail(ErrorCode::kConfig, list + ": expected a list");
    }
    for (const auto& item : node) {
      auto e =
          EntryFromYaml(item, list, out.size(), prefix + std::to_string(out.size()), transform);
      if (!e) return Fail(e.error());
      out.push_back(std::move(*e));
    }
  } catch (const YAML::Exception& ex) {
    return Fail(ErrorCode::kConfig, list + ": " + ex.what());
  }
  return Ok();
}

Result<std::optional<Entry>> SingleEntry(const std::string& path, const std::string& yaml,
                                         const std::string& json, const std::string& name,
                                         const std::string& key, const std::string& flag) {
  if (path.empty()) {
    if (!yaml.empty() || !json.empty()) {
      return Fail(ErrorCode::kConfig, key + ".config needs " + key + ".path (--" + flag + ")");
    }
    return std::optional<Entry>();
  }
  Entry e{.name = name, .path = path};
  try {
    if (!yaml.empty()) {
      if (auto st = ConfigFromYamlMap(YAML::Load(yaml), key + ".config", e.config); !st) {
        return Fail(st.error());
      }
    }
  } catch (const YAML::Exception& ex) {
    return Fail(ErrorCode::kConfig, key + ".config: " + ex.what());
  }
  if (auto st = ConfigFromJson(json, e.config); !st) {
    return Fail(ErrorCode::kConfig, "--" + flag + "-config: " + st.error().message());
  }
  return std::optional<Entry>(std::move(e));
}

bool ValidName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '-' && c != '_') return false;
  }
  return true;
}

}  // namespace

std::string Entry::ConfigJson() const {
  std::string out;
  json::Writer w(out);
  w.BeginObject();
  for (const auto& [k, v] : config) {
    w.Key(k);
    w.Raw(v);
  }
  w.EndObject();
  return out;
}

const std::vector<ParamSpec>& Params() {
  using S = Settings;
  static const std::vector<ParamSpec> params = {
      Param("plugins.transform", &S::transform_paths,
            "Wasm transform plugin (.wasm, Extism ABI; repeatable; docs/plugins.md)",
            {.flag = "plugin-transform", .split_commas = false}),
      Param("plugins.transform_config", &S::transform_configs,
            "JSON config object for the --plugin-transform at the same position",
            {.flag = "plugin-transform-config", .split_commas = false}),
      TreeParamAt<S>("plugins.transforms", &S::transforms_yaml,
                     "Wasm transforms (YAML list of {name, path, config, encoding, scope})"),
      Param("plugins.adapter", &S::adapter_paths,
            "Wasm adapter plugin: a sink whose `handle` export gets each event (repeatable)",
            {.flag = "plugin-adapter", .split_commas = false}),
      Param("plugins.adapter_name", &S::adapter_names,
            "name of the --plugin-adapter at the same position (default wasm-adapter-<i>)",
            {.flag = "plugin-adapter-name", .split_commas = false}),
      Param("plugins.adapter_config", &S::adapter_configs,
            "JSON config object for the --plugin-adapter at the same position",
            {.flag = "plugin-adapter-config", .split_commas = false}),
      TreeParamAt<S>("plugins.adapters", &S::adapters_yaml,
                     "Wasm adapters (YAML list of {name, path, config})"),
      Param("plugins.adapter_max_attempts", &S::adapter_max_attempts,
            "calls of an adapter plugin's `handle` per event before it goes to the DLQ",
            {.flag = "plugin-adapter-max-attempts", .min = 1, .max = 100}),
      Param("plugins.adapter_backoff_base", &S::adapter_backoff_base,
            "first wait before an adapter plugin's failed event is retried (doubles, capped at "
            "30 s)",
            {.flag = "plugin-adapter-backoff-base", .min = 1}),
      Param("plugins.dlq.path", &S::dlq_path,
            "Wasm DLQ plugin (`record` export), used with --dlq plugin",
            {.flag = "dlq-plugin-path"}),
      TreeParamAt<S>("plugins.dlq.config", &S::dlq_config_yaml, "config map of the DLQ plugin"),
      Param("plugins.dlq_config", &S::dlq_config_json,
            "config of the DLQ plugin as a JSON object (merged over plugins.dlq.config)",
            {.flag = "dlq-plugin-config"}),
      Param("plugins.checkpoint.path", &S::checkpoint_path,
            "Wasm checkpoint store plugin (`load`/`save` exports) for --persistent-slot, instead "
            "of the pgcdc_checkpoints table",
            {.flag = "checkpoint-plugin"}),
      TreeParamAt<S>("plugins.checkpoint.config", &S::checkpoint_config_yaml,
                     "config map of the checkpoint store plugin"),
      Param("plugins.checkpoint_config", &S::checkpoint_config_json,
            "config of the checkpoint store plugin as a JSON object",
            {.flag = "checkpoint-plugin-config"}),
      Param("plugins.call_timeout", &S::call_timeout,
            "time limit of one plugin call; a call running longer is stopped and fails",
            {.flag = "plugin-call-timeout", .min = 1}),
      Param("plugins.max_memory_mb", &S::max_memory_mb,
            "most linear memory one plugin instance may grow to (MiB)",
            {.flag = "plugin-max-memory-mb", .min = 1, .max = 4096}),
      Param("plugins.http_allow", &S::http_allow,
            "origins (scheme://host[:port][/path]) plugins' HTTP requests (pgcdc_http_request, "
            "Extism's http_request) may reach; none by default, * = any",
            {.flag = "plugin-http-allow"}),
      Param("plugins.http_timeout", &S::http_timeout,
            "time limit of one HTTP request from a plugin (the call's own limit also applies)",
            {.flag = "plugin-http-timeout", .min = 1}),
  };
  return params;
}

Settings Bind(const config::Config& cfg) { return BindConfig<Settings>(Params(), cfg); }

Result<std::vector<Entry>> TransformEntries(const Settings& s) {
  std::vector<Entry> out;
  for (size_t i = 0; i < s.transform_paths.size(); ++i) {
    Entry e{.name = "wasm-transform-" + std::to_string(i), .path = s.transform_paths[i]};
    if (i < s.transform_configs.size()) {
      if (auto st = ConfigFromJson(s.transform_configs[i], e.config); !st) {
        return Fail(ErrorCode::kConfig, "--plugin-transform-config #" + std::to_string(i + 1) +
                                            ": " + st.error().message());
      }
    }
    out.push_back(std::move(e));
  }
  if (s.transform_configs.size() > s.transform_paths.size()) {
    return Fail(ErrorCode::kConfig,
                "--plugin-transform-config given more often than --plugin-transform");
  }
  if (auto st =
          AppendYamlList(s.transforms_yaml, "plugins.transforms", "wasm-transform-", true, out);
      !st) {
    return Fail(st.error());
  }
  return out;
}

Result<std::vector<Entry>> AdapterEntries(const Settings& s) {
  std::vector<Entry> out;
  for (size_t i = 0; i < s.adapter_paths.size(); ++i) {
    Entry e{.name = "wasm-adapter-" + std::to_string(i), .path = s.adapter_paths[i]};
    if (i < s.adapter_names.size() && !s.adapter_names[i].empty()) e.name = s.adapter_names[i];
    if (i < s.adapter_configs.size()) {
      if (auto st = ConfigFromJson(s.adapter_configs[i], e.config); !st) {
        return Fail(ErrorCode::kConfig, "--plugin-adapter-config #" + std::to_string(i + 1) + ": " +
                                            st.error().message());
      }
    }
    out.push_back(std::move(e));
  }
  if (s.adapter_configs.size() > s.adapter_paths.size() ||
      s.adapter_names.size() > s.adapter_paths.size()) {
    return Fail(ErrorCode::kConfig,
                "--plugin-adapter-name/--plugin-adapter-config given more often than "
                "--plugin-adapter");
  }
  if (auto st = AppendYamlList(s.adapters_yaml, "plugins.adapters", "wasm-adapter-", false, out);
      !st) {
    return Fail(st.error());
  }
  std::set<std::string> seen;
  for (const auto& e : out) {
    if (!ValidName(e.name)) {
      return Fail(ErrorCode::kConfig,
                  "adapter plugin name \"" + e.name + "\": use 1-64 letters, digits, '_' or '-'");
    }
    if (!seen.insert(e.name).second) {
      return Fail(ErrorCode::kConfig, "adapter plugin name \"" + e.name + "\" is used twice");
    }
  }
  return out;
}

Result<std::optional<Entry>> DlqEntry(const Settings& s) {
  return SingleEntry(s.dlq_path, s.dlq_config_yaml, s.dlq_config_json, "dlq-plugin", "plugins.dlq",
                     "dlq-plugin");
}

Result<std::optional<Entry>> CheckpointEntry(const Settings& s) {
  return SingleEntry(s.checkpoint_path, s.checkpoint_config_yaml, s.checkpoint_config_json,
                     "checkpoint-plugin", "plugins.checkpoint", "checkpoint-plugin");
}

void Validate(const Settings& s, std::vector<std::string>& errors) {
  if (s.call_timeout.count() <= 0) {
    errors.push_back("plugins.call_timeout (--plugin-call-timeout): must be greater than 0");
  }
  for (const auto& origin : s.http_allow) {
    if (origin != "*" && !origin.starts_with("http://") && !origin.starts_with("https://")) {
      errors.push_back("plugins.http_allow: \"" + origin +
                       "\" is not an http:// or https:// origin (or *)");
    }
  }
}

PluginOptions OptionsFor(const Settings& s, const Entry& e, std::string type) {
  return PluginOptions{
      .name = e.name,
      .type = std::move(type),
      .config = e.config,
      .call_timeout = s.call_timeout,
      .max_memory_pages = static_cast<uint32_t>(s.max_memory_mb * 16),
      .http_allow = s.http_allow,
      .http_timeout = s.http_timeout,
  };
}

}  // namespace pgcdc::wasm
