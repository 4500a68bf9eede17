// Chains from configuration: CLI shortcut parameters + the YAML
// `transforms:` section (SPEC §6, §4.6).
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <filesystem>
#include <set>

#include "config/config.h"
#include "config/core_params.h"
#include "registry/define.h"
#include "transform/builtins.h"
#include "transform/wasm_transform.h"

namespace pgcdc::transform {

namespace {

constexpr std::string_view kPrefix = "transforms.";

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

}  // namespace

namespace {

// The CLI shortcut parameters (transforms.<x>), bound once into this struct.
struct Shortcuts {
  std::vector<std::string> drop_columns;
  std::vector<std::string> filter_operations;
  std::string filter_cel;
  DedupOptions dedup;
  bool debezium = false;
  DebeziumOptions debezium_options;
  bool cloudevents = false;
  CloudEventsOptions cloudevents_options;
};

}  // namespace

const std::vector<ParamSpec>& Params() {
  using S = Shortcuts;
  // Flags are the keys without "transforms." (--dedup-key) unless named.
  static const std::vector<ParamSpec> params = FlagsFromKeys(
      "transforms.", "",
      {
          Param("transforms.drop_columns", &S::drop_columns,
                "drop these keys from every event's row images (global transform)"),
          Param("transforms.filter_operations", &S::filter_operations,
                "keep only events with these operations, e.g. INSERT,UPDATE"),
          Param("transforms.filter_cel", &S::filter_cel,
                "keep only events for which this CEL expression is true (docs/cel.md)"),
          Param("transforms.dedup.key", &S::dedup, &DedupOptions::key_path,
                "dedup key: dot path into the payload, e.g. row.id (empty = event id)"),
          Param("transforms.dedup.window", &S::dedup, &DedupOptions::window,
                "drop events whose dedup key was seen within this window (0 = off)"),
          Param("transforms.dedup.max_keys", &S::dedup, &DedupOptions::max_keys,
                "dedup cache capacity (least recently used keys are evicted)", {.min = 1}),
          Param("transforms.debezium.enabled", &S::debezium,
                "wrap payloads in a Debezium change envelope", {.flag = "debezium-envelope"}),
          Param("transforms.debezium.connector_name", &S::debezium_options,
                &DebeziumOptions::connector_name, "Debezium source.name"),
          Param("transforms.debezium.database", &S::debezium_options, &DebeziumOptions::database,
                "Debezium source.db"),
          Param("transforms.cloudevents.enabled", &S::cloudevents,
                "wrap payloads in a CloudEvents 1.0 structured envelope",
                {.flag = "cloudevents-envelope"}),
          Param("transforms.cloudevents.source", &S::cloudevents_options,
                &CloudEventsOptions::source, "CloudEvents source attribute"),
          Param("transforms.cloudevents.type_prefix", &S::cloudevents_options,
                &CloudEventsOptions::type_prefix,
                "CloudEvents type prefix (type = <prefix>.<operation>)"),
          TreeParam("transforms.global", "transform chain applied to every event (YAML list)"),
          TreeParam("transforms.adapter", "transform chains per adapter (YAML map of lists)"),
      });
  return params;
}

const std::vector<std::string>& TypeNames() {
  static const std::vector<std::string> names = {"drop_columns", "rename_fields", "mask",
                                                 "filter",       "cel_filter",    "dedup",
                                                 "debezium",     "cloudevents"};
  return names;
}

namespace {

std::vector<ParamSpec> ParamsWithPrefix(std::string_view prefix) {
  std::vector<ParamSpec> out;
  for (const auto& p : Params()) {
    if (std::string_view(p.key).starts_with(prefix)) out.push_back(p);
  }
  return out;
}

Shortcuts BindShortcuts(const config::Config& cfg) { return BindConfig<Shortcuts>(Params(), cfg); }

// Shortcut-flag problems shared by Build() and the connectors' validate.
void ValidateShortcuts(const Shortcuts& s, std::vector<std::string>& errors) {
  if (!s.filter_cel.empty()) {
    auto t = MakeCelFilter(s.filter_cel);
    if (!t) errors.push_back("transforms.filter_cel (--filter-cel): " + t.error().message());
  }
  if (s.dedup.window.count() == 0 && !s.dedup.key_path.empty()) {
    errors.push_back("transforms.dedup.key (--dedup-key): needs --dedup-window greater than 0");
  }
}

}  // namespace

std::vector<ConnectorInfo> Connectors() {
  struct Entry {
    const char* name;
    const char* description;
    const char* params_prefix;
  };
  static const Entry kEntries[] = {
      {"drop_columns", "remove keys from the row images (or top-level keys)",
       "transforms.drop_columns"},
      {"rename_fields", "rename keys in the row images (or top-level keys)", nullptr},
      {"mask", "hash (SHA-256), redact or partially mask field values", nullptr},
      {"filter", "keep events by operation, or by a field's value (equals / in)",
       "transforms.filter_operations"},
      {"cel_filter", "keep events for which a CEL expression is true", "transforms.filter_cel"},
      {"dedup", "drop events whose key was seen within a time window", "transforms.dedup."},
      {"debezium", "wrap the payload in a Debezium change envelope", "transforms.debezium."},
      {"cloudevents", "wrap the payload in a CloudEvents 1.0 envelope", "transforms.cloudevents."},
  };
  std::vector<ConnectorInfo> out;
  for (const auto& e : kEntries) {
    ConnectorInfo info;
    info.kind = ConnectorKind::kTransform;
    info.name = e.name;
    info.description = e.description;
    if (e.params_prefix != nullptr) info.params = ParamsWithPrefix(e.params_prefix);
    if (info.name == "cel_filter" || info.name == "dedup") {
      const std::string name = info.name;
      info.validate = [name](const config::Config& cfg, const config::CoreSettings&,
                             std::vector<std::string>& errors) {
        std::vector<std::string> all;
        ValidateShortcuts(BindShortcuts(cfg), all);
        const std::string mine =
            name == "cel_filter" ? "transforms.filter_cel" : "transforms.dedup";
        for (auto& msg : all) {
          if (msg.starts_with(mine)) errors.push_back(std::move(msg));
        }
      };
    }
    out.push_back(std::move(info));
  }
  ConnectorInfo wasm;
  wasm.kind = ConnectorKind::kTransform;
  wasm.name = "wasm";
  wasm.description =
      "Wasm plugins (Extism ABI): transforms that rewrite or drop events; the same plugins.* "
      "keys load adapter, DLQ and checkpoint store plugins (docs/plugins.md)";
  wasm.params = PluginParams();
  out.push_back(std::move(wasm));
  return out;
}

// ---- Build --------------------------------------------------------------------

namespace {

class Builder {
 public:
  Builder(const config::Config& cfg, std::string file, const ChainSet* previous)
      : shortcuts_(BindShortcuts(cfg)),
        adapters_(config::BindCore(cfg).adapters),
        file_(std::move(file)),
        previous_(previous) {}

  std::vector<std::string> errors;

  void AddCliHead(std::vector<TransformPtr>& out) {
    const Shortcuts& s = shortcuts_;
    ValidateShortcuts(s, errors);
    if (!s.drop_columns.empty()) out.push_back(MakeDropColumns(s.drop_columns));
    if (!s.filter_operations.empty()) {
      auto f = MakeFilter(FilterOptions{.operations = s.filter_operations});
      if (f) out.push_back(*f);
    }
    if (!s.filter_cel.empty()) {
      auto f = MakeCelFilter(s.filter_cel);
      if (f) out.push_back(*f);  // the error was reported by ValidateShortcuts
    }
    if (s.dedup.window.count() > 0) {
      DedupOptions o = s.dedup;
      if (o.max_keys <= 0) o.max_keys = 100000;
      auto d = Dedup(std::move(o), "cli");
      if (!d) {
        errors.push_back("transforms.dedup (--dedup-*): " + d.error().message());
      } else {
        out.push_back(*d);
      }
    }
  }

  void AddCliTail(std::vector<TransformPtr>& out) {
    if (shortcuts_.debezium) out.push_back(MakeDebezium(shortcuts_.debezium_options));
    if (shortcuts_.cloudevents) out.push_back(MakeCloudEvents(shortcuts_.cloudevents_options));
  }

  // Reads the `transforms:` section; fills `global` and `per_adapter`.
  void SetText(const std::string* text) { text_ = text; }

  void ReadYaml(std::vector<TransformPtr>& global,
                std::map<std::string, std::vector<TransformPtr>>& per_adapter) {
    if (file_.empty() && !text_) return;
    YAML::Node root;
    try {
      root = text_ ? YAML::Load(*text_) : YAML::LoadFile(file_);
    } catch (const YAML::BadFile&) {
      errors.push_back(file_ + ": cannot read the config file");
      return;
    } catch (const YAML::Exception& e) {
      errors.push_back(file_ + ": " + e.what());
      return;
    }
    if (!root.IsMap()) return;
    const YAML::Node section = root["transforms"];
    if (!section.IsDefined() || section.IsNull()) return;
    if (!section.IsMap()) {
      Error(section, "transforms", "expected a map with global and adapter lists");
      return;
    }
    std::set<std::string> leafs, prefixes;
    for (const auto& p : Params()) {
      std::string k = p.key.substr(kPrefix.size());
      const size_t dot = k.find('.');
      if (dot == std::string::npos) {
        leafs.insert(k);
      } else {
        prefixes.insert(k.substr(0, dot));
        leafs.insert(k);
      }
    }
    const std::vector<std::string>& adapters = adapters_;
    for (auto it = section.begin(); it != section.end(); ++it) {
      const std::string name = Scalar(it->first);
      const YAML::Node value = it->second;
      if (name == "global") {
        ReadList(value, "transforms.global", "global", global);
      } else if (name == "adapter") {
        if (value.IsNull()) continue;
        if (!value.IsMap()) {
          Error(value, "transforms.adapter", "expected a map of adapter name: [transforms]");
          continue;
        }
        for (auto a = value.begin(); a != value.end(); ++a) {
          const std::string adapter = Scalar(a->first);
          const std::string path = "transforms.adapter." + adapter;
          if (std::find(adapters.begin(), adapters.end(), adapter) == adapters.end()) {
            std::string enabled;
            for (const auto& n : adapters) enabled += (enabled.empty() ? "" : ", ") + n;
            Error(a->first, path,
                  "adapter " + Quote(adapter) + " is not enabled (adapters: " + enabled + ")");
          }
          ReadList(a->second, path, "adapter:" + adapter, per_adapter[adapter]);
        }
      } else if (leafs.count(name)) {
        // A CLI shortcut's YAML key: config::Load reads it.
      } else if (prefixes.count(name)) {
        if (!value.IsMap()) continue;  // config::Load reports type problems
        for (auto sub = value.begin(); sub != value.end(); ++sub) {
          const std::string key = name + "." + Scalar(sub->first);
          if (!leafs.count(key)) {
            Error(sub->first, "transforms." + key, "unknown config key");
          }
        }
      } else {
        Error(it->first, "transforms." + name,
              "unknown config key (expected global, adapter or a shortcut such as drop_columns)");
      }
    }
  }

 private:
  std::string Where(const YAML::Node& node) const {
    const auto mark = node.Mark();
    if (mark.line < 0) return file_;
    return file_ + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
  }

  void Error(const YAML::Node& node, const std::string& path, const std::string& msg) {
    errors.push_back(path + ": " + msg + " (" + Where(node) + ")");
  }

  static std::string Scalar(const YAML::Node& node) {
    return node.IsScalar() ? node.Scalar() : std::string();
  }

  bool StringList(const YAML::Node& node, const std::string& path, std::vector<std::string>& out) {
    if (node.IsScalar()) {
      out.push_back(node.Scalar());
      return true;
    }
    if (!node.IsSequence()) {
      Error(node, path, "expected a list of strings");
      return false;
    }
    for (const auto& item : node) {
      if (!item.IsScalar()) {
        Error(item, path, "expected a list of strings");
        return false;
      }
      out.push_back(item.Scalar());
    }
    return true;
  }

  // Checks that `map` only has `allowed` keys.
  bool OnlyKeys(const YAML::Node& map, const std::string& path,
                std::initializer_list<std::string_view> allowed) {
    bool ok = true;
    for (auto it = map.begin(); it != map.end(); ++it) {
      const std::string key = Scalar(it->first);
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        std::string list;
        for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
        Error(it->first, path, "unknown key " + Quote(key) + " (expected " + list + ")");
        ok = false;
      }
    }
    return ok;
  }

  // A required/optional sub-map; null when absent.
  YAML::Node SubMap(const YAML::Node& entry, const char* key, const std::string& path,
                    bool required) {
    YAML::Node n = entry[key];
    if (!n.IsDefined() || n.IsNull()) {
      if (required) Error(entry, path, "missing " + std::string(key));
      return YAML::Node(YAML::NodeType::Null);
    }
    if (!n.IsMap()) {
      Error(n, path + "." + key, "expected a map");
      return YAML::Node(YAML::NodeType::Null);
    }
    return n;
  }

  std::string OptString(const YAML::Node& map, const char* key, const std::string& path,
                        std::string fallback) {
    if (!map.IsMap()) return fallback;
    YAML::Node n = map[key];
    if (!n.IsDefined() || n.IsNull()) return fallback;
    if (!n.IsScalar()) {
      Error(n, path + "." + key, "expected a string");
      return fallback;
    }
    return n.Scalar();
  }

  Result<std::shared_ptr<DedupTransform>> Dedup(DedupOptions o, const std::string& scope) {
    const std::string identity = scope + "#" + std::to_string(dedup_count_[scope]++) + "|" +
                                 o.key_path + "|" + std::to_string(o.window.count()) + "|" +
                                 std::to_string(o.max_keys);
    if (previous_ != nullptr) {
      std::vector<ChainPtr> chains{previous_->global};
      for (const auto& [_, c] : previous_->per_adapter) chains.push_back(c);
      for (const auto& c : chains) {
        if (!c) continue;
        for (const auto& t : c->transforms()) {
          auto d = std::dynamic_pointer_cast<DedupTransform>(t);
          if (d && d->reuse_key() == identity) return d;
        }
      }
    }
    auto d = MakeDedup(std::move(o));
    if (!d) return d;
    (*d)->set_reuse_key(identity);
    return d;
  }

  void ReadList(const YAML::Node& list, const std::string& path, const std::string& scope,
                std::vector<TransformPtr>& out) {
    if (list.IsNull()) return;
    if (!list.IsSequence()) {
      Error(list, path, "expected a list of transforms");
      return;
    }
    size_t i = 0;
    for (const auto& entry : list) {
      const std::string label = path + "[" + std::to_string(i++) + "]";
      if (!entry.IsMap()) {
        Error(entry, label, "expected a map with a type key");
        continue;
      }
      const std::string type = OptString(entry, "type", label, "");
      if (type.empty()) {
        Error(entry, label, "missing type");
        continue;
      }
      if (std::find(TypeNames().begin(), TypeNames().end(), type) == TypeNames().end()) {
        std::string known;
        for (const auto& n : TypeNames()) known += (known.empty() ? "" : ", ") + n;
        Error(entry["type"], label,
              "unknown transform type " + Quote(type) + " (known: " + known + ")");
        continue;
      }
      auto t = ReadEntry(entry, label + " (" + type + ")", type, scope);
      if (t) out.push_back(std::move(t));
    }
  }

  TransformPtr ReadEntry(const YAML::Node& e, const std::string& path, const std::string& type,
                         const std::string& scope) {
    const size_t errors_before = errors.size();
    TransformPtr result;
    if (type == "drop_columns") {
      OnlyKeys(e, path, {"type", "columns"});
      std::vector<std::string> cols;
      if (!e["columns"].IsDefined()) {
        Error(e, path, "missing columns");
      } else if (StringList(e["columns"], path + ".columns", cols)) {
        result = MakeDropColumns(std::move(cols));
      }
    } else if (type == "rename_fields") {
      OnlyKeys(e, path, {"type", "mapping"});
      YAML::Node m = SubMap(e, "mapping", path, true);
      std::vector<std::pair<std::string, std::string>> mapping;
      for (auto it = m.begin(); m.IsMap() && it != m.end(); ++it) {
        if (!it->second.IsScalar() || Scalar(it->first).empty() || it->second.Scalar().empty()) {
          Error(it->first, path + ".mapping", "expected old_name: new_name strings");
          continue;
        }
        mapping.emplace_back(Scalar(it->first), it->second.Scalar());
      }
      if (m.IsMap()) result = MakeRenameFields(std::move(mapping));
    } else if (type == "mask") {
      OnlyKeys(e, path, {"type", "fields", "salt"});
      const YAML::Node fields = e["fields"];
      std::vector<MaskField> out;
      if (!fields.IsDefined() || !fields.IsSequence()) {
        Error(fields.IsDefined() ? fields : e, path, "fields: expected a list of {field, mode}");
      } else {
        for (const auto& f : fields) {
          if (!f.IsMap()) {
            Error(f, path + ".fields", "expected {field, mode}");
            continue;
          }
          OnlyKeys(f, path + ".fields", {"field", "mode"});
          MaskField mf{.field = OptString(f, "field", path + ".fields", "")};
          if (mf.field.empty()) Error(f, path + ".fields", "missing field");
          auto mode = ParseMaskMode(OptString(f, "mode", path + ".fields", "redact"));
          if (!mode) {
            Error(f["mode"], path + ".fields", mode.error().message());
          } else {
            mf.mode = *mode;
          }
          out.push_back(std::move(mf));
        }
        result = MakeMask(std::move(out), OptString(e, "salt", path, ""));
      }
    } else if (type == "filter") {
      OnlyKeys(e, path, {"type", "filter"});
      YAML::Node f = SubMap(e, "filter", path, true);
      if (f.IsMap()) {
        OnlyKeys(f, path + ".filter", {"operations", "field", "in", "equals"});
        FilterOptions o;
        if (f["operations"].IsDefined()) {
          StringList(f["operations"], path + ".filter.operations", o.operations);
        }
        o.field = OptString(f, "field", path + ".filter", "");
        if (f["in"].IsDefined()) StringList(f["in"], path + ".filter.in", o.in);
        if (f["equals"].IsDefined() && !f["equals"].IsNull()) {
          o.equals = OptString(f, "equals", path + ".filter", "");
        }
        auto t = MakeFilter(std::move(o));
        if (!t) {
          Error(f, path, t.error().message());
        } else {
          result = *t;
        }
      }
    } else if (type == "cel_filter") {
      OnlyKeys(e, path, {"type", "expression"});
      const std::string expr = OptString(e, "expression", path, "");
      if (expr.empty()) {
        Error(e, path, "missing expression");
      } else {
        auto t = MakeCelFilter(expr);
        if (!t) {
          Error(e["expression"], path, "invalid expression:\n" + t.error().message());
        } else {
          result = *t;
        }
      }
    } else if (type == "debezium") {
      OnlyKeys(e, path, {"type", "debezium"});
      YAML::Node d = SubMap(e, "debezium", path, false);
      if (d.IsMap()) OnlyKeys(d, path + ".debezium", {"connector_name", "database"});
      result = MakeDebezium(
          DebeziumOptions{.connector_name = OptString(d, "connector_name", path, "pgcdc"),
                          .database = OptString(d, "database", path, "")});
    } else if (type == "cloudevents") {
      OnlyKeys(e, path, {"type", "cloudevents"});
      YAML::Node c = SubMap(e, "cloudevents", path, false);
      if (c.IsMap()) OnlyKeys(c, path + ".cloudevents", {"source", "type_prefix"});
      result = MakeCloudEvents(
          CloudEventsOptions{.source = OptString(c, "source", path, "/pgcdc"),
                             .type_prefix = OptString(c, "type_prefix", path, "io.pgcdc.change")});
    } else if (type == "dedup") {
      OnlyKeys(e, path, {"type", "dedup"});
      YAML::Node d = SubMap(e, "dedup", path, true);
      if (d.IsMap()) {
        OnlyKeys(d, path + ".dedup", {"key_path", "window", "max_keys"});
        DedupOptions o{.key_path = OptString(d, "key_path", path + ".dedup", "")};
        const std::string window = OptString(d, "window", path + ".dedup", "");
        auto w = config::ParseDuration(window);
        if (window.empty()) {
          Error(d, path + ".dedup", "missing window (e.g. 1m)");
        } else if (!w) {
          Error(d["window"], path + ".dedup.window", w.error().message());
        } else {
          o.window = *w;
        }
        const std::string max_keys = OptString(d, "max_keys", path + ".dedup", "100000");
        auto [ptr, ec] =
            std::from_chars(max_keys.data(), max_keys.data() + max_keys.size(), o.max_keys);
        if (ec != std::errc() || ptr != max_keys.data() + max_keys.size()) {
          Error(d["max_keys"], path + ".dedup.max_keys", "invalid integer " + Quote(max_keys));
        }
        if (errors.size() == errors_before) {
          auto t = Dedup(std::move(o), scope);
          if (!t) {
            Error(d, path, t.error().message());
          } else {
            result = *t;
          }
        }
      }
    }
    return errors.size() == errors_before ? result : nullptr;
  }

  Shortcuts shortcuts_;
  std::vector<std::string> adapters_;
  std::string file_;
  const std::string* text_ = nullptr;  // the document itself (file_ only names it)
  const ChainSet* previous_;
  std::map<std::string, int> dedup_count_;
};

}  // namespace

Result<ChainSet> Build(const config::Config& cfg, const std::string& yaml_path,
                       const ChainSet* previous, std::vector<std::string>* errors,
                       const std::string* yaml_text) {
  Builder b(cfg, yaml_path, previous);
  b.SetText(yaml_text);
  std::vector<TransformPtr> global;
  std::map<std::string, std::vector<TransformPtr>> per_adapter;
  b.AddCliHead(global);
  // SPEC §4.6: Wasm transforms come before the YAML chains.
  AddPluginTransforms(cfg, config::BindCore(cfg).adapters, global, per_adapter, b.errors);
  b.ReadYaml(global, per_adapter);
  b.AddCliTail(global);
  if (!b.errors.empty()) {
    std::string msg;
    for (const auto& e : b.errors) msg += (msg.empty() ? "" : "; ") + e;
    if (errors != nullptr) errors->insert(errors->end(), b.errors.begin(), b.errors.end());
    return Fail(ErrorCode::kConfig, msg);
  }
  ChainSet set;
  set.global = std::make_shared<const Chain>(std::move(global));
  for (auto& [name, list] : per_adapter) {
    set.per_adapter[name] = std::make_shared<const Chain>(std::move(list));
  }
  return set;
}

}  // namespace pgcdc::transform
