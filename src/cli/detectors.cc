// Several detectors in one pipeline: the children of a multi-detector, from a
// `detectors:` list in YAML or from a repeated / comma-separated --detector.
//
// A child's configuration is the top-level one with the child's own settings
// on top: `type`, an optional `name`, `database_url`, scalar keys of the
// detector: section written flat (publication, slot_name, ...) and whole
// sections (mysql:, sqlite:, ...). A child may set only what its detector
// declares; anything else is an error naming detectors[i].
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "cli/cli.h"
#include "core/log.h"
#include "detector/multi/multi_detector.h"

namespace pgcdc::cli {

namespace {

// The keys a child of detector `info` may set.
std::set<std::string> ChildKeys(const ConnectorInfo& info) {
  std::set<std::string> keys = {"database_url", "detector.type"};
  for (const auto& p : info.params) keys.insert(p.key);
  return keys;
}

// The child's YAML entry rewritten into the top-level document's shape:
// {type: wal, publication: p} -> {detector: {type: wal, publication: p}}.
YAML::Node ChildDocument(const YAML::Node& entry, const std::string& type,
                         const std::set<std::string>& known) {
  YAML::Node doc(YAML::NodeType::Map);
  YAML::Node det(YAML::NodeType::Map);
  for (const auto& kv : entry) {
    const auto key = kv.first.as<std::string>();
    if (key == "type" || key == "name") continue;
    if (kv.second.IsMap() || known.contains(key)) {
      doc[key] = kv.second;  // a section, or a top-level key (database_url, adapters, ...)
    } else {
      det[key] = kv.second;
    }
  }
  if (doc["detector"] && doc["detector"].IsMap()) {
    for (const auto& kv : det) doc["detector"][kv.first] = kv.second;
  } else {
    doc["detector"] = det;
  }
  doc["detector"]["type"] = type;
  return doc;
}

// The child's own settings, loaded from its entry alone and laid over `child`.
void Overlay(const Registry& registry, const ConnectorInfo& info, const YAML::Node& doc,
             const std::string& where, config::Config& child, std::vector<std::string>& errors) {
  config::Sources src;
  src.yaml_text = YAML::Dump(doc);
  src.yaml_path = where;
  src.getenv = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  const std::vector<ParamSpec> all = AllParams(registry);
  src.schema = all;
  config::LoadResult loaded = config::Load(all, src);
  for (const auto& e : loaded.errors) {
    // "<where>:3:5: unknown key ..." -> "<where>: unknown key ...": the
    // positions are of the rewritten entry, not of the file.
    std::string m = e;
    if (m.starts_with(where + ":")) {
      size_t at = where.size();
      while (at < m.size() && (m[at] == ':' || std::isdigit(static_cast<unsigned char>(m[at])))) {
        ++at;
      }
      m = m.substr(at);
      m.erase(0, m.find_first_not_of(' '));
    }
    errors.push_back(where + ": " + m);
  }
  const std::set<std::string> allowed = ChildKeys(info);
  for (const auto& [key, value] : loaded.config.values()) {
    if (loaded.config.origin(key) != config::Origin::kYaml) continue;
    if (!allowed.contains(key)) {
      errors.push_back(where + ": " + key + " is not a setting of detector " + info.name +
                       " (pipeline-wide settings belong at the top level)");
      continue;
    }
    child.Set(key, value, config::Origin::kYaml, where);
  }
}

struct Entry {
  std::string type;
  std::string name;
  std::optional<YAML::Node> node;  // the YAML entry; none for --detector
};

std::vector<Entry> EntriesFromYaml(const std::string& text, std::vector<std::string>& errors) {
  std::vector<Entry> out;
  YAML::Node list;
  try {
    list = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    errors.push_back(std::string("detectors: ") + e.what());
    return out;
  }
  if (!list.IsSequence() || list.size() == 0) {
    errors.push_back("detectors: must be a non-empty list of maps (each with a type)");
    return out;
  }
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string where = "detectors[" + std::to_string(i) + "]";
    const YAML::Node& e = list[i];
    if (!e.IsMap() || !e["type"] || !e["type"].IsScalar()) {
      errors.push_back(where + ": must be a map with a type (e.g. {type: wal, publication: p})");
      continue;
    }
    Entry entry{.type = e["type"].as<std::string>(), .name = {}, .node = e};
    if (e["name"]) {
      if (!e["name"].IsScalar() || e["name"].as<std::string>().empty()) {
        errors.push_back(where + ".name: must be a non-empty string");
        continue;
      }
      entry.name = e["name"].as<std::string>();
    }
    out.push_back(std::move(entry));
  }
  return out;
}

// Names children without one: the type when it is the only one of its type,
// else type#n (n counts from 1 within the list).
void NameChildren(std::vector<Entry>& entries, std::vector<std::string>& errors) {
  std::map<std::string, int> per_type;
  for (const auto& e : entries) ++per_type[e.type];
  std::set<std::string> seen;
  for (size_t i = 0; i < entries.size(); ++i) {
    Entry& e = entries[i];
    if (e.name.empty()) {
      e.name = per_type[e.type] == 1 ? e.type : e.type + "#" + std::to_string(i + 1);
    }
    if (!seen.insert(e.name).second) {
      errors.push_back("detectors[" + std::to_string(i) + "].name: \"" + e.name +
                       "\" is used twice");
    }
  }
}

}  // namespace

bool IsMultiDetector(const config::Config& cfg) {
  return !cfg.GetString("detectors").empty() ||
         cfg.GetString("detector.type").find(',') != std::string::npos;
}

std::vector<ChildDetectorConfig> PlanDetectors(const Registry& registry, const config::Config& cfg,
                                               std::vector<std::string>& errors) {
  std::vector<Entry> entries;
  const std::string yaml = cfg.GetString("detectors");
  if (!yaml.empty()) {
    if (cfg.origin("detector.type") != config::Origin::kDefault) {
      errors.push_back(
          "detectors: cannot be combined with detector.type / --detector (give each entry "
          "its type)");
      return {};
    }
    entries = EntriesFromYaml(yaml, errors);
  } else {
    for (auto& t : config::SplitCommas(cfg.GetString("detector.type")))
      entries.push_back({.type = t});
  }
  NameChildren(entries, errors);
  std::set<std::string> known;
  for (const auto& p : AllParams(registry)) known.insert(p.key);
  std::vector<ChildDetectorConfig> out;
  for (size_t i = 0; i < entries.size(); ++i) {
    Entry& e = entries[i];
    const std::string where = "detectors[" + std::to_string(i) + "] (" + e.name + ")";
    std::replace(e.type.begin(), e.type.end(), '-', '_');
    const ConnectorInfo* info = registry.Find(ConnectorKind::kDetector, e.type);
    if (info == nullptr) {
      errors.push_back(where + ": unknown detector \"" + e.type + "\"");
      continue;
    }
    ChildDetectorConfig child{.name = e.name, .values = cfg, .core = {}};
    child.values.Set("detectors", std::string(), config::Origin::kDefault);
    child.values.Set("detector.type", e.type, config::Origin::kDefault, where);
    if (e.node) {
      Overlay(registry, *info, ChildDocument(*e.node, e.type, known), where, child.values, errors);
    }
    NormalizePipelineConfig(child.values);
    child.core = config::BindCore(child.values);
    std::vector<std::string> child_errors;
    ValidateDetector(registry, child.values, child.core, child_errors);
    for (auto& m : child_errors) errors.push_back(where + ": " + m);
    out.push_back(std::move(child));
  }
  return out;
}

void ValidateMultiDetector(const Registry& registry, const config::Config& cfg,
                           const config::CoreSettings& core, std::vector<std::string>& errors) {
  PlanDetectors(registry, cfg, errors);  // validates every child
  if (core.backpressure.enabled) {
    errors.push_back("backpressure.enabled: needs a single wal detector with --persistent-slot");
  }
  if (core.multi.dedup_window > 0 && core.multi.mode != "parallel") {
    errors.push_back("detector.dedup_window: only used with detector_mode parallel");
  }
}

Result<detector::DetectorPtr> MakeMultiDetector(const Registry& registry, const config::Config& cfg,
                                                const config::CoreSettings& core) {
  std::vector<std::string> errors;
  auto planned = PlanDetectors(registry, cfg, errors);
  if (!errors.empty()) return Fail(ErrorCode::kConfig, errors.front());
  std::vector<detector::multi::Child> children;
  for (auto& c : planned) {
    const ConnectorInfo* info = registry.Find(ConnectorKind::kDetector, c.core.detector_type);
    auto det = info->make_detector(c.values, c.core);
    if (!det) return Fail(det.error().Wrap("detector " + c.name));
    children.push_back({c.name, std::move(*det)});
  }
  detector::multi::Options options;
  options.mode = detector::multi::ParseMode(core.multi.mode)
                     .value_or(detector::multi::Mode::kParallel);  // validated by choices
  options.dedup_window = static_cast<size_t>(core.multi.dedup_window);
  options.failover_timeout = core.multi.failover_timeout;
  return std::make_unique<detector::multi::MultiDetector>(std::move(children), options);
}

}  // namespace pgcdc::cli
