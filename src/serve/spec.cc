#include "serve/spec.h"

#include <yaml-cpp/yaml.h>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <charconv>
#include <set>

#include "config/config.h"
#include "core/json_dom.h"

namespace pgcdc::serve {

namespace bj = boost::json;

bool ValidPipelineName(std::string_view name) {
  if (name.empty() || name.size() > 64 || name.front() == '.') return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

Result<PipelineSpec> ParseSpec(const bj::value& value, std::string_view where) {
  const std::string at(where);
  if (!value.is_object()) return Fail(ErrorCode::kConfig, at + ": a pipeline must be a map");
  const bj::object& obj = value.as_object();
  const bj::value* name = obj.if_contains("name");
  if (name == nullptr || !name->is_string() || name->as_string().empty()) {
    return Fail(ErrorCode::kConfig, at + ": name is required (a string)");
  }
  std::string n(name->as_string());
  if (!ValidPipelineName(n)) {
    return Fail(ErrorCode::kConfig,
                at + ": name \"" + n +
                    "\" must be 1-64 characters of A-Z a-z 0-9 _ - . (not starting with .)");
  }
  if (const bj::value* e = obj.if_contains("enabled"); e != nullptr && !e->is_bool()) {
    return Fail(ErrorCode::kConfig, at + ": enabled must be true or false");
  }
  return PipelineSpec{std::move(n), obj};
}

bool EnabledAtBoot(const PipelineSpec& spec) {
  const bj::value* e = spec.raw.if_contains("enabled");
  return e == nullptr || !e->is_bool() || e->as_bool();
}

namespace {

// Merges `from` into `into`; a leaf set on both sides is an error (the entry
// would say two things about one setting).
void MergeInto(bj::object& into, const bj::object& from, const std::string& path,
               std::vector<std::string>& errors) {
  for (const auto& [key, v] : from) {
    const std::string k(key);
    bj::value* have = into.if_contains(key);
    if (have == nullptr) {
      into[key] = v;
    } else if (have->is_object() && v.is_object()) {
      MergeInto(have->as_object(), v.as_object(), path + k + ".", errors);
    } else {
      errors.push_back(path + k + ": set twice (in a config map and beside it)");
    }
  }
}

// detector: {type: wal, config: {...}} -> detector: {type: wal} + config at the top.
void TranslateDetector(bj::object& doc, std::vector<std::string>& errors) {
  bj::value* det = doc.if_contains("detector");
  if (det == nullptr || !det->is_object()) return;
  bj::object& d = det->as_object();
  bj::value* cfg = d.if_contains("config");
  if (cfg == nullptr) return;
  if (!cfg->is_object()) {
    errors.push_back("detector.config: expected a map of settings");
    return;
  }
  bj::object settings = cfg->as_object();
  d.erase("config");
  MergeInto(doc, settings, "", errors);
}

// adapters: [{name, type, config}] -> adapters: [type...] + each config at the top.
void TranslateAdapters(bj::object& doc, std::vector<std::string>& errors,
                       std::vector<std::string>& warnings) {
  bj::value* list = doc.if_contains("adapters");
  if (list == nullptr || !list->is_array()) return;
  bj::array names;
  std::vector<bj::object> configs;
  std::set<std::string> seen;
  size_t i = 0;
  for (const bj::value& item : list->as_array()) {
    const std::string at = "adapters[" + std::to_string(i++) + "]";
    if (!item.is_object()) {
      names.push_back(item);
      continue;
    }
    const bj::object& a = item.as_object();
    for (const auto& [key, v] : a) {
      if (key != "name" && key != "type" && key != "config") {
        errors.push_back(at + "." + std::string(key) + ": unknown key (known: name, type, config)");
      }
    }
    const bj::value* type = a.if_contains("type");
    const bj::value* name = a.if_contains("name");
    const bj::value* t = type != nullptr ? type : name;
    if (t == nullptr || !t->is_string() || t->as_string().empty()) {
      errors.push_back(at + ": type is required");
      continue;
    }
    const std::string tname(t->as_string());
    if (type != nullptr && name != nullptr && name->is_string() && name->as_string() != tname) {
      warnings.push_back(at + ": name \"" + std::string(name->as_string()) +
                         "\" is not used; pgcdc names an adapter by its type (" + tname + ")");
    }
    if (!seen.insert(tname).second) {
      errors.push_back(at + ": a second " + tname + " adapter (one of each type per pipeline)");
      continue;
    }
    names.emplace_back(tname);
    if (const bj::value* cfg = a.if_contains("config"); cfg != nullptr && !cfg->is_null()) {
      if (!cfg->is_object()) {
        errors.push_back(at + ".config: expected a map of settings");
      } else {
        configs.push_back(cfg->as_object());
      }
    }
  }
  *list = std::move(names);
  for (const auto& c : configs) MergeInto(doc, c, "", errors);
}

// transforms: [{type, config}] -> transforms: {global: [{type, ...config}]}.
void TranslateTransforms(bj::object& doc, std::vector<std::string>& errors) {
  bj::value* list = doc.if_contains("transforms");
  if (list == nullptr || !list->is_array()) return;
  bj::array global;
  size_t i = 0;
  for (const bj::value& item : list->as_array()) {
    const std::string at = "transforms[" + std::to_string(i++) + "]";
    if (!item.is_object()) {
      global.push_back(item);
      continue;
    }
    bj::object t = item.as_object();
    if (bj::value* cfg = t.if_contains("config"); cfg != nullptr) {
      if (!cfg->is_object()) {
        errors.push_back(at + ".config: expected a map of settings");
        continue;
      }
      bj::object settings = cfg->as_object();
      t.erase("config");
      MergeInto(t, settings, at + ".", errors);
    }
    global.emplace_back(std::move(t));
  }
  bj::object section;
  section["global"] = std::move(global);
  *list = std::move(section);
}

}  // namespace

std::string ListenDocument(const PipelineSpec& spec, std::vector<std::string>& errors,
                           std::vector<std::string>& warnings) {
  bj::object doc = spec.raw;
  for (const char* key : {"name", "enabled", "description"}) doc.erase(key);
  TranslateDetector(doc, errors);
  TranslateAdapters(doc, errors, warnings);
  TranslateTransforms(doc, errors);
  return json::SerializeDom(doc);
}

namespace {

bool IsYamlNull(const std::string& s) {
  return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}

bj::value ScalarToJson(const YAML::Node& node) {
  const std::string& s = node.Scalar();
  if (node.Tag() == "!") return bj::value(bj::string_view(s));  // quoted
  if (IsYamlNull(s)) return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  const char* end = s.data() + s.size();
  const char* start = s.data() + ((s[0] == '-' || s[0] == '+') ? 1 : 0);
  const bool leading_zero = end - start > 1 && *start == '0';
  int64_t i = 0;
  if (!leading_zero) {
    auto [p, ec] = std::from_chars(s.data() + (s[0] == '+' ? 1 : 0), end, i);
    if (ec == std::errc() && p == end) return i;
  }
  double d = 0;
  if (s.find_first_of(".eE") != std::string::npos && !leading_zero) {
    auto [p, ec] = std::from_chars(s.data() + (s[0] == '+' ? 1 : 0), end, d);
    if (ec == std::errc() && p == end) return d;
  }
  return bj::value(bj::string_view(s));
}

bj::value NodeToJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      bj::object obj;
      for (const auto& kv : node) obj[kv.first.Scalar()] = NodeToJson(kv.second);
      return obj;
    }
    case YAML::NodeType::Sequence: {
      bj::array arr;
      for (const auto& item : node) arr.push_back(NodeToJson(item));
      return arr;
    }
    case YAML::NodeType::Scalar:
      return ScalarToJson(node);
    default:
      return nullptr;
  }
}

}  // namespace

Result<bj::value> YamlToJson(const std::string& text, std::string_view label) {
  try {
    return NodeToJson(YAML::Load(text));
  } catch (const YAML::Exception& e) {
    return Fail(ErrorCode::kParse, std::string(label) + ":" + std::to_string(e.mark.line + 1) +
                                       ":" + std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
}

namespace {

const std::vector<std::string>& ServeKeys() {
  static const std::vector<std::string> keys = {
      "addr",       "tls_cert_file", "tls_key_file", "api_token", "api_token_file",
      "state_file", "log_level",     "log_format",   "pipelines", "otel"};
  return keys;
}

Status ReadScalar(const bj::object& root, const std::string& key, std::string& out,
                  std::vector<std::string>& set_keys) {
  const bj::value* v = root.if_contains(key);
  if (v == nullptr || v->is_null()) return Ok();
  if (!v->is_string()) return Fail(ErrorCode::kConfig, key + ": expected a string");
  out = std::string(v->as_string());
  set_keys.push_back(key);
  return Ok();
}

}  // namespace

Result<ServeFile> ParseServeFile(const std::string& text, std::string_view label) {
  auto json = YamlToJson(text, label);
  if (!json) return Fail(ErrorCode::kConfig, json.error().message());
  ServeFile out;
  if (json->is_null()) return out;  // empty file
  const std::string at = std::string(label) + ": ";
  if (!json->is_object()) return Fail(ErrorCode::kConfig, at + "top level must be a map");
  const bj::object& root = json->as_object();
  std::vector<std::string> errors;
  for (const auto& [key, v] : root) {
    const std::string k(key);
    if (std::find(ServeKeys().begin(), ServeKeys().end(), k) != ServeKeys().end()) continue;
    std::string hint = config::DidYouMean(k, ServeKeys());
    errors.push_back(at + "unknown key " + k +
                     (hint.empty() ? "" : " (did you mean " + hint + "?)"));
  }
  std::pair<const char*, std::string*> scalars[] = {{"addr", &out.addr},
                                                    {"tls_cert_file", &out.tls_cert_file},
                                                    {"tls_key_file", &out.tls_key_file},
                                                    {"api_token", &out.api_token},
                                                    {"api_token_file", &out.api_token_file},
                                                    {"state_file", &out.state_file},
                                                    {"log_level", &out.log_level},
                                                    {"log_format", &out.log_format}};
  for (auto& [key, field] : scalars) {
    if (auto st = ReadScalar(root, key, *field, out.set_keys); !st) {
      errors.push_back(at + st.error().message());
    }
  }
  if (const bj::value* otel = root.if_contains("otel"); otel != nullptr && !otel->is_null()) {
    if (otel->is_object()) {
      out.otel_json = bj::serialize(*otel);
    } else {
      errors.push_back(at + "otel: expected a map of otel.* settings (exporter, endpoint, ...)");
    }
  }
  std::set<std::string> names;
  if (const bj::value* list = root.if_contains("pipelines"); list != nullptr && !list->is_null()) {
    if (!list->is_array()) {
      errors.push_back(at + "pipelines: expected a list");
    } else {
      for (size_t i = 0; i < list->as_array().size(); ++i) {
        auto spec = ParseSpec(list->as_array()[i], "pipelines[" + std::to_string(i) + "]");
        if (!spec) {
          errors.push_back(at + spec.error().message());
        } else if (!names.insert(spec->name).second) {
          errors.push_back(at + "pipelines[" + std::to_string(i) + "]: a second pipeline named " +
                           spec->name);
        } else {
          out.pipelines.push_back(std::move(*spec));
        }
      }
    }
  }
  if (!errors.empty()) {
    std::string msg;
    for (const auto& e : errors) msg += (msg.empty() ? "" : "\n") + e;
    return Fail(ErrorCode::kConfig, msg);
  }
  return out;
}

}  // namespace pgcdc::serve
