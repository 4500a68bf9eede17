#include "transform/wasm_transform.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>

#include "core/json.h"
#include "core/json_dom.h"
#include "registry/define.h"
#include "transform/payload.h"
#include "wasm/plugin.h"

namespace pgcdc::transform {

namespace {

struct PluginSettings {
  std::vector<std::string> paths;
  std::vector<std::string> configs;
  std::string transforms_yaml;
  std::chrono::milliseconds call_timeout{1000};
  int64_t max_memory_mb = 64;
};

// True when `json` has whitespace outside strings.
bool HasWhitespace(std::string_view json) {
  bool in_string = false;
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      return true;
    }
  }
  return false;
}

// JSON text without whitespace outside strings (Event::payload is compact);
// numbers keep their exact text.
std::string Compact(std::string_view json) {
  std::string out;
  out.reserve(json.size());
  bool in_string = false;
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < json.size()) {
        out += json[++i];
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
      out += c;
    } else if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
      out += c;
    }
  }
  return out;
}

class WasmTransform final : public Transform {
 public:
  explicit WasmTransform(std::shared_ptr<wasm::Plugin> plugin) : plugin_(std::move(plugin)) {}
  std::string_view Type() const override { return "wasm"; }

  Result<Verdict> ApplyTo(PayloadContext& ctx) override {
    const Event& ev = ctx.event();
    Event view;  // the envelope with the chain's current payload
    view.id = ev.id;
    view.channel = ev.channel;
    view.operation = ev.operation;
    view.payload = std::string(ctx.PayloadText());
    view.source = ev.source;
    view.created_at_ns = ev.created_at_ns;
    view.transaction = ev.transaction;
    std::string input;
    AppendEventJson(view, input);
    auto out = plugin_->Call("transform", input);
    if (!out) return Fail(out.error());
    if (out->empty()) return Verdict::kDrop;
    if (auto st = ApplyOutput(ctx, *out); !st) return Fail(st.error());
    return Verdict::kKeep;
  }

 private:
  Status ApplyOutput(PayloadContext& ctx, std::string_view output) {
    const std::string where = "plugin " + plugin_->options().name + ": ";
    Arena arena;
    auto root = JsonObject::Parse(output, arena);
    if (!root) return Fail(ErrorCode::kParse, where + "output is not a JSON event object");
    const JsonObject::Member* payload = (*root)->Find("payload");
    if (payload == nullptr) return Fail(ErrorCode::kParse, where + "output has no payload");
    Event& ev = ctx.event();
    for (auto [key, field] : {std::pair{"channel", &ev.channel}, {"operation", &ev.operation}}) {
      const JsonObject::Member* m = (*root)->Find(key);
      if (m == nullptr) continue;
      if (m->raw.empty() || m->raw.front() != '"') {
        return Fail(ErrorCode::kParse, where + "output " + key + " is not a string");
      }
      std::string value = StringifyJson(m->raw);
      if (value != *field) {
        *field = std::move(value);
        ev.InvalidateJson();
      }
    }
    if (payload->raw == ctx.PayloadText()) return {};  // unchanged (the common case)
    std::string compact =
        HasWhitespace(payload->raw) ? Compact(payload->raw) : std::string(payload->raw);
    if (compact != ctx.PayloadText()) {
      ctx.ReplacePayload(std::move(compact));
      ev.schema.reset();  // the row may no longer match the relation's columns
    }
    return {};
  }

  std::shared_ptr<wasm::Plugin> plugin_;
};

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

struct PluginEntry {
  std::string name;
  std::string path;
  std::map<std::string, std::string> config;
  std::string adapter;  // empty = global
};

// --plugin-transform-config: a JSON object; each value is kept as JSON text.
Status ConfigFromJson(std::string_view text, std::map<std::string, std::string>& out) {
  if (text.empty()) return {};
  auto dom = json::ParseDom(text);
  if (!dom || !dom->is_object()) {
    return Fail(ErrorCode::kConfig, "config must be a JSON object, got " + std::string(text));
  }
  for (const auto& kv : dom->as_object()) {
    out[std::string(kv.key())] = json::SerializeDom(kv.value());
  }
  return {};
}

// One entry of the YAML list plugins.transforms.
Result<PluginEntry> EntryFromYaml(const YAML::Node& item, size_t index) {
  const std::string where = "plugins.transforms[" + std::to_string(index) + "]";
  if (!item.IsMap()) return Fail(ErrorCode::kConfig, where + ": expected a map");
  PluginEntry e{.name = "wasm-transform-" + std::to_string(index)};
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
      if (!kv.second.IsMap()) return Fail(ErrorCode::kConfig, where + ".config: expected a map");
      for (const auto& c : kv.second) {
        std::string text;
        json::Writer w(text);
        YamlToJson(c.second, w);
        e.config[c.first.as<std::string>()] = std::move(text);
      }
    } else if (key == "scope") {
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

Result<std::vector<PluginEntry>> Entries(const PluginSettings& s) {
  std::vector<PluginEntry> out;
  for (size_t i = 0; i < s.paths.size(); ++i) {
    PluginEntry e{.name = "wasm-transform-" + std::to_string(i), .path = s.paths[i]};
    if (i < s.configs.size()) {
      if (auto st = ConfigFromJson(s.configs[i], e.config); !st) {
        return Fail(ErrorCode::kConfig, "--plugin-transform-config #" + std::to_string(i + 1) +
                                            ": " + st.error().message());
      }
    }
    out.push_back(std::move(e));
  }
  if (s.configs.size() > s.paths.size()) {
    return Fail(ErrorCode::kConfig,
                "--plugin-transform-config given more often than --plugin-transform");
  }
  if (s.transforms_yaml.empty()) return out;
  try {
    const YAML::Node list = YAML::Load(s.transforms_yaml);
    if (!list.IsNull() && !list.IsSequence()) {
      return Fail(ErrorCode::kConfig, "plugins.transforms: expected a list");
    }
    for (const auto& item : list) {
      auto e = EntryFromYaml(item, out.size());
      if (!e) return Fail(e.error());
      out.push_back(std::move(*e));
    }
  } catch (const YAML::Exception& ex) {
    return Fail(ErrorCode::kConfig, std::string("plugins.transforms: ") + ex.what());
  }
  return out;
}

}  // namespace

const std::vector<ParamSpec>& PluginParams() {
  using S = PluginSettings;
  static const std::vector<ParamSpec> params = {
      Param("plugins.transform", &S::paths,
            "Wasm transform plugin (.wasm, Extism ABI; repeatable; docs/plugins.md)",
            {.flag = "plugin-transform", .split_commas = false}),
      Param("plugins.transform_config", &S::configs,
            "JSON config object for the --plugin-transform at the same position",
            {.flag = "plugin-transform-config", .split_commas = false}),
      TreeParamAt<S>("plugins.transforms", &S::transforms_yaml,
                     "Wasm transforms (YAML list of {name, path, config, encoding, scope})"),
      Param("plugins.call_timeout", &S::call_timeout,
            "time limit of one plugin call; a call running longer is stopped and fails",
            {.flag = "plugin-call-timeout", .min = 1}),
      Param("plugins.max_memory_mb", &S::max_memory_mb,
            "most linear memory one plugin instance may grow to (MiB)",
            {.flag = "plugin-max-memory-mb", .min = 1, .max = 4096}),
  };
  return params;
}

TransformPtr MakeWasmTransform(std::shared_ptr<wasm::Plugin> plugin) {
  return std::make_shared<WasmTransform>(std::move(plugin));
}

void AddPluginTransforms(const config::Config& cfg, const std::vector<std::string>& adapters,
                         std::vector<TransformPtr>& global,
                         std::map<std::string, std::vector<TransformPtr>>& per_adapter,
                         std::vector<std::string>& errors) {
  const auto settings = BindConfig<PluginSettings>(PluginParams(), cfg);
  auto entries = Entries(settings);
  if (settings.call_timeout.count() <= 0) {
    errors.push_back("plugins.call_timeout (--plugin-call-timeout): must be greater than 0");
    return;
  }
  if (!entries) {
    errors.push_back(entries.error().message());
    return;
  }
  for (auto& e : *entries) {
    if (!e.adapter.empty() &&
        std::find(adapters.begin(), adapters.end(), e.adapter) == adapters.end()) {
      errors.push_back("plugin " + e.name + ": scope adapter " + e.adapter + " is not configured");
      continue;
    }
    auto plugin = wasm::Plugin::Load(
        e.path, wasm::PluginOptions{
                    .name = e.name,
                    .type = "transform",
                    .config = std::move(e.config),
                    .call_timeout = settings.call_timeout,
                    .max_memory_pages = static_cast<uint32_t>(settings.max_memory_mb * 16),
                });
    if (!plugin) {
      errors.push_back("plugin " + e.name + ": " + plugin.error().message());
      continue;
    }
    if (!(*plugin)->HasFunction("transform")) {
      errors.push_back("plugin " + e.name + " (" + e.path + "): no `transform` export");
      continue;
    }
    auto t = MakeWasmTransform(std::shared_ptr<wasm::Plugin>(std::move(*plugin)));
    (e.adapter.empty() ? global : per_adapter[e.adapter]).push_back(std::move(t));
  }
}

}  // namespace pgcdc::transform
