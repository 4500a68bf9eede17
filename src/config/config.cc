#include "config/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <set>

#include "core/enum_names.h"

namespace pgcdc::config {

namespace {

std::string Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

}  // namespace

std::vector<std::string> SplitCommas(std::string_view s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string_view::npos) comma = s.size();
    std::string item = Trim(s.substr(start, comma - start));
    if (!item.empty()) out.push_back(std::move(item));
    start = comma + 1;
  }
  return out;
}

constexpr EnumNames<Origin, Origin::kFlag> kOriginNames({"unset", "default", "yaml", "env", "flag"},
                                                        "unset");

std::string_view OriginName(Origin origin) { return kOriginNames(origin); }

Result<std::chrono::nanoseconds> ParseDuration(std::string_view text) {
  std::string s = Trim(text);
  if (s.empty()) return Fail(ErrorCode::kConfig, "empty duration");
  if (s == "0") return std::chrono::nanoseconds(0);
  if (s[0] == '-') return Fail(ErrorCode::kConfig, "invalid duration " + Quote(s) + ": negative");
  if (s[0] == '+') s.erase(0, 1);
  long double total = 0;
  size_t i = 0;
  while (i < s.size()) {
    size_t num_start = i;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
    if (i == num_start) {
      return Fail(ErrorCode::kConfig,
                  "invalid duration " + Quote(text) + " (expected e.g. 500ms, 5s, 1m30s)");
    }
    std::string num = s.substr(num_start, i - num_start);
    size_t unit_start = i;
    while (i < s.size() && !std::isdigit(static_cast<unsigned char>(s[i])) && s[i] != '.') ++i;
    std::string unit = s.substr(unit_start, i - unit_start);
    long double mult = 0;
    if (unit == "ns")
      mult = 1;
    else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs")
      mult = 1e3;
    else if (unit == "ms")
      mult = 1e6;
    else if (unit == "s")
      mult = 1e9;
    else if (unit == "m")
      mult = 60e9;
    else if (unit == "h")
      mult = 3600e9;
    else {
      return Fail(ErrorCode::kConfig,
                  "invalid duration " + Quote(text) +
                      (unit.empty() ? " (missing unit: use ns, us, ms, s, m or h)"
                                    : " (unknown unit " + Quote(unit) + ")"));
    }
    char* end = nullptr;
    long double v = std::strtold(num.c_str(), &end);
    if (end != num.c_str() + num.size() || std::count(num.begin(), num.end(), '.') > 1) {
      return Fail(ErrorCode::kConfig, "invalid duration " + Quote(text));
    }
    total += v * mult;
  }
  if (total > 9.2e18L) return Fail(ErrorCode::kConfig, "duration " + Quote(text) + " too large");
  return std::chrono::nanoseconds(static_cast<int64_t>(std::llround(total)));
}

std::string FormatDuration(std::chrono::nanoseconds d) {
  int64_t ns = d.count();
  if (ns == 0) return "0s";
  std::string out;
  if (ns < 0) {
    out = "-";
    ns = -ns;
  }
  if (ns % 1'000'000'000 != 0 && ns < 1'000'000'000) {
    if (ns % 1'000'000 == 0) return out + std::to_string(ns / 1'000'000) + "ms";
    if (ns % 1'000 == 0) return out + std::to_string(ns / 1'000) + "us";
    return out + std::to_string(ns) + "ns";
  }
  int64_t h = ns / 3'600'000'000'000;
  ns %= 3'600'000'000'000;
  int64_t m = ns / 60'000'000'000;
  ns %= 60'000'000'000;
  if (h > 0) out += std::to_string(h) + "h";
  if (m > 0) out += std::to_string(m) + "m";
  if (ns > 0) {
    if (ns % 1'000'000'000 == 0) {
      out += std::to_string(ns / 1'000'000'000) + "s";
    } else {
      std::string frac = std::to_string(ns % 1'000'000'000);
      frac.insert(0, 9 - frac.size(), '0');
      while (!frac.empty() && frac.back() == '0') frac.pop_back();
      out += std::to_string(ns / 1'000'000'000) + "." + frac + "s";
    }
  }
  return out;
}

Result<bool> ParseBool(std::string_view text) {
  std::string s = Trim(text);
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  if (s == "true" || s == "1" || s == "yes" || s == "on") return true;
  if (s == "false" || s == "0" || s == "no" || s == "off") return false;
  return Fail(ErrorCode::kConfig, "invalid boolean " + Quote(text) + " (expected true or false)");
}

Result<Value> ParseText(const ParamSpec& spec, std::string_view text) {
  switch (spec.type) {
    case ParamType::kString:
      return Value(std::string(text));
    case ParamType::kInt: {
      std::string s = Trim(text);
      int64_t v = 0;
      auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) {
        return Fail(ErrorCode::kConfig, "invalid integer " + Quote(text));
      }
      return Value(v);
    }
    case ParamType::kBool: {
      auto b = ParseBool(text);
      if (!b) return Fail(b.error());
      return Value(*b);
    }
    case ParamType::kDuration: {
      auto d = ParseDuration(text);
      if (!d) return Fail(d.error());
      return Value(*d);
    }
    case ParamType::kStringList:
      return spec.split_commas ? Value(SplitCommas(text))
                               : Value(std::vector<std::string>{std::string(text)});
    case ParamType::kRouteMap: {
      // Routes are the common map; other maps (clickhouse.settings) are name=value.
      const std::string bad =
          spec.key.ends_with("routes")
              ? "invalid route " + Quote(text) + " (expected adapter=channel1,channel2)"
              : "invalid entry " + Quote(text) + " (expected name=value)";
      RouteMap routes;
      const size_t eq = text.find('=');
      if (eq == std::string_view::npos) return Fail(ErrorCode::kConfig, bad);
      std::string adapter = Trim(text.substr(0, eq));
      auto channels = SplitCommas(text.substr(eq + 1));
      if (adapter.empty() || channels.empty()) return Fail(ErrorCode::kConfig, bad);
      routes[adapter] = std::move(channels);
      return Value(std::move(routes));
    }
    case ParamType::kTree:
      return Fail(ErrorCode::kConfig, "can only be set in the YAML file");
  }
  return Fail(ErrorCode::kConfig, "unsupported parameter type");
}

std::string ValueToText(const Value& value) {
  struct Visitor {
    std::string operator()(std::monostate) const { return ""; }
    std::string operator()(const std::string& s) const { return s; }
    std::string operator()(int64_t v) const { return std::to_string(v); }
    std::string operator()(bool v) const { return v ? "true" : "false"; }
    std::string operator()(std::chrono::nanoseconds d) const { return FormatDuration(d); }
    std::string operator()(const std::vector<std::string>& v) const {
      std::string out;
      for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
      return out;
    }
    std::string operator()(const RouteMap& m) const {
      std::string out;
      for (const auto& [k, v] : m) {
        if (!out.empty()) out += " ";
        out += k + "=" + (*this)(v);
      }
      return out;
    }
  };
  return std::visit(Visitor{}, value);
}

namespace {

// Edit distance (insert/delete/substitute), for "did you mean" hints.
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

}  // namespace

std::string DidYouMean(std::string_view name, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_d = std::string::npos;
  for (const auto& c : candidates) {
    const size_t d = EditDistance(name, c);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  const size_t limit = std::max<size_t>(2, name.size() / 3);
  return best_d <= limit ? best : std::string();
}

// ---- Config ----------------------------------------------------------------

void Config::Set(const std::string& key, Value value, Origin origin, std::string origin_detail) {
  values_[key] = std::move(value);
  origins_[key] = Entry{origin, std::move(origin_detail)};
}

const Value* Config::Find(std::string_view key) const {
  auto it = values_.find(key);
  return it == values_.end() ? nullptr : &it->second;
}

bool Config::Has(std::string_view key) const {
  const Value* v = Find(key);
  if (v == nullptr || std::holds_alternative<std::monostate>(*v)) return false;
  if (auto* s = std::get_if<std::string>(v)) return !s->empty();
  if (auto* l = std::get_if<std::vector<std::string>>(v)) return !l->empty();
  if (auto* r = std::get_if<RouteMap>(v)) return !r->empty();
  return true;
}

Origin Config::origin(std::string_view key) const {
  auto it = origins_.find(key);
  return it == origins_.end() ? Origin::kUnset : it->second.origin;
}

std::string Config::OriginDetail(std::string_view key) const {
  auto it = origins_.find(key);
  if (it == origins_.end()) return "unset";
  return it->second.detail.empty() ? std::string(OriginName(it->second.origin)) : it->second.detail;
}

std::string Config::GetString(std::string_view key) const {
  const Value* v = Find(key);
  if (v == nullptr) return {};
  if (auto* s = std::get_if<std::string>(v)) return *s;
  return {};
}
int64_t Config::GetInt(std::string_view key) const {
  const Value* v = Find(key);
  if (auto* i = v ? std::get_if<int64_t>(v) : nullptr) return *i;
  return 0;
}
bool Config::GetBool(std::string_view key) const {
  const Value* v = Find(key);
  if (auto* b = v ? std::get_if<bool>(v) : nullptr) return *b;
  return false;
}
std::chrono::nanoseconds Config::GetDuration(std::string_view key) const {
  const Value* v = Find(key);
  if (auto* d = v ? std::get_if<std::chrono::nanoseconds>(v) : nullptr) return *d;
  return std::chrono::nanoseconds(0);
}
std::vector<std::string> Config::GetList(std::string_view key) const {
  const Value* v = Find(key);
  if (auto* l = v ? std::get_if<std::vector<std::string>>(v) : nullptr) return *l;
  return {};
}
RouteMap Config::GetRoutes(std::string_view key) const {
  const Value* v = Find(key);
  if (auto* r = v ? std::get_if<RouteMap>(v) : nullptr) return *r;
  return {};
}

// ---- YAML --------------------------------------------------------------------

namespace {

std::string YamlWhere(const std::string& file, const YAML::Node& node) {
  const auto mark = node.Mark();
  if (mark.line < 0) return file;
  return file + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

// Converts the YAML node for `spec` to a Value, or explains why it can't.
Result<Value> FromYaml(const ParamSpec& spec, const YAML::Node& node, const std::string& where) {
  auto bad = [&](const std::string& what) {
    return Fail(ErrorCode::kConfig, spec.key + ": " + what + " (" + where + ")");
  };
  try {
    switch (spec.type) {
      case ParamType::kStringList: {
        if (node.IsNull()) return Value(std::vector<std::string>{});
        if (node.IsScalar()) return ParseText(spec, node.Scalar());
        if (!node.IsSequence()) return bad("expected a list of strings");
        std::vector<std::string> out;
        for (const auto& item : node) {
          if (!item.IsScalar()) return bad("expected a list of strings");
          out.push_back(item.Scalar());
        }
        return Value(std::move(out));
      }
      case ParamType::kRouteMap: {
        if (node.IsNull()) return Value(RouteMap{});
        if (!node.IsMap()) return bad("expected a map of adapter: [channels]");
        RouteMap routes;
        for (const auto& kv : node) {
          const std::string adapter = kv.first.as<std::string>();
          std::vector<std::string> chans;
          if (kv.second.IsScalar()) {
            chans = SplitCommas(kv.second.Scalar());
          } else if (kv.second.IsSequence()) {
            for (const auto& c : kv.second) {
              if (!c.IsScalar()) return bad("route channels must be strings");
              chans.push_back(c.Scalar());
            }
          } else {
            return bad("route for " + Quote(adapter) + " must be a list of channels");
          }
          routes[adapter] = std::move(chans);
        }
        return Value(std::move(routes));
      }
      default: {
        if (node.IsNull()) return Value(std::monostate{});
        if (!node.IsScalar()) return bad("expected a single value");
        auto v = ParseText(spec, node.Scalar());
        if (!v) return bad(v.error().message());
        return v;
      }
    }
  } catch (const YAML::Exception& e) {
    return bad(e.what());
  }
}

// The YAML schema of a build: declared keys (leaves and their parents),
// free-form subtrees, and the reference tool's keys nobody here declares.
struct Schema {
  std::set<std::string> leaves;      // declared keys and aliases
  std::set<std::string> parents;     // proper prefixes of declared keys
  std::set<std::string> trees;       // declared kTree keys
  std::set<std::string> upstream;    // upstream leaves not declared
  std::set<std::string> up_parents;  // prefixes of upstream keys
  std::set<std::string> up_trees;    // upstream "x.*" whose x has no declaration

  static void AddPrefixes(const std::string& key, std::set<std::string>& out) {
    for (size_t p = key.find('.'); p != std::string::npos; p = key.find('.', p + 1)) {
      out.insert(key.substr(0, p));
    }
  }

  Schema(const std::vector<ParamSpec>& specs, const std::vector<std::string>& upstream_keys) {
    for (const auto& s : specs) {
      (s.type == ParamType::kTree ? trees : leaves).insert(s.key);
      AddPrefixes(s.key, parents);
      for (const auto& a : s.aliases) {
        leaves.insert(a);
        AddPrefixes(a, parents);
      }
    }
    for (const auto& k : upstream_keys) {
      if (k.ends_with(".*")) {
        std::string base = k.substr(0, k.size() - 2);
        if (!leaves.count(base) && !parents.count(base) && !trees.count(base)) {
          up_trees.insert(base);
          AddPrefixes(base, up_parents);
        }
      } else if (!leaves.count(k) && !trees.count(k)) {
        upstream.insert(k);
        AddPrefixes(k, up_parents);
      }
    }
  }

  // Names one level below `prefix` ("" = top level) that are valid.
  std::vector<std::string> Children(const std::string& prefix) const {
    std::set<std::string> out;
    for (const auto* set : {&leaves, &parents, &trees, &upstream, &up_parents, &up_trees}) {
      for (const auto& k : *set) {
        if (!prefix.empty() &&
            !(k.starts_with(prefix) && k.size() > prefix.size() && k[prefix.size()] == '.')) {
          continue;
        }
        std::string rest = prefix.empty() ? k : k.substr(prefix.size() + 1);
        out.insert(rest.substr(0, rest.find('.')));
      }
    }
    return {out.begin(), out.end()};
  }
};

// " (did you mean `addr`?)" when a sibling name is close enough.
std::string Suggestion(const std::string& name, const std::vector<std::string>& siblings) {
  const std::string best = DidYouMean(name, siblings);
  return best.empty() ? std::string() : " (did you mean `" + best + "`?)";
}

// Walks the YAML tree; every key the schema does not know is an error with a
// suggestion; keys only the reference tool knows are a warning.
void FindUnknownKeys(const YAML::Node& node, const std::string& prefix, const Schema& schema,
                     const Sources& sources, std::vector<std::string>& errors,
                     std::vector<std::string>& warnings) {
  const std::string& file = sources.yaml_path;
  if (!node.IsMap()) return;
  for (const auto& kv : node) {
    std::string name;
    try {
      name = kv.first.as<std::string>();
    } catch (const YAML::Exception&) {
      continue;
    }
    const std::string key = prefix.empty() ? name : prefix + "." + name;
    const std::string where = YamlWhere(file, kv.first);
    if (schema.leaves.count(key) || schema.trees.count(key)) continue;
    if (schema.parents.count(key)) {
      FindUnknownKeys(kv.second, key, schema, sources, errors, warnings);
      continue;
    }
    if (schema.upstream.count(key) || schema.up_trees.count(key)) {
      warnings.push_back(where + ": config key " + Quote(key) +
                         " is not supported by this build of pgcdc; ignored");
      continue;
    }
    if (schema.up_parents.count(key)) {
      FindUnknownKeys(kv.second, key, schema, sources, errors, warnings);
      continue;
    }
    std::string hint = Suggestion(name, schema.Children(prefix));
    if (auto h = sources.section_hints.find(key);
        prefix.empty() && h != sources.section_hints.end()) {
      hint = " (did you mean `" + h->second + "`? " + name + "'s settings are " + h->second + ".*)";
    }
    errors.push_back(where + ": unknown key `" + key + "`" + hint);
  }
}

YAML::Node Lookup(const YAML::Node& root, const std::string& key) {
  YAML::Node cur;
  cur.reset(root);
  size_t start = 0;
  while (true) {
    if (!cur.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    const size_t dot = key.find('.', start);
    const std::string part = key.substr(start, dot == std::string::npos ? dot : dot - start);
    // Note: yaml-cpp's Node::operator= assigns content into the tree; reset()
    // rebinds the handle, which is what walking needs.
    YAML::Node next = cur[part];
    if (!next.IsDefined()) return next;
    cur.reset(next);
    if (dot == std::string::npos) return cur;
    start = dot + 1;
  }
}

using GetEnv = std::function<std::optional<std::string>(const std::string&)>;

std::optional<std::string> ProcessEnv(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

// The config file's root node when a file was read (null for an empty file);
// problems reading it go to `result`.
std::optional<YAML::Node> ReadConfigFile(const Sources& sources, LoadResult& result) {
  if (sources.yaml_path.empty() && !sources.yaml_text) return std::nullopt;
  try {
    YAML::Node root =
        sources.yaml_text ? YAML::Load(*sources.yaml_text) : YAML::LoadFile(sources.yaml_path);
    if (!root.IsNull() && !root.IsMap()) {
      result.errors.push_back(sources.yaml_path + ": top level must be a map of settings");
      return std::nullopt;
    }
    return root;
  } catch (const YAML::BadFile&) {
    if (sources.yaml_required) {
      result.errors.push_back("cannot read config file " + Quote(sources.yaml_path));
    }
  } catch (const YAML::ParserException& e) {
    result.errors.push_back(sources.yaml_path + ":" + std::to_string(e.mark.line + 1) + ":" +
                            std::to_string(e.mark.column + 1) + ": invalid YAML: " + e.msg);
  } catch (const YAML::Exception& e) {
    result.errors.push_back(sources.yaml_path + ": invalid YAML: " + e.what());
  }
  return std::nullopt;
}

// One spec's value as resolved so far and where it came from; each layer
// (default < file < env < flag) replaces it when it has a valid value.
struct Resolved {
  Value value;
  Origin origin = Origin::kUnset;
  std::string detail;

  void Take(Value v, Origin o, std::string d) {
    value = std::move(v);
    origin = o;
    detail = std::move(d);
  }
};

void ResolveDefault(const ParamSpec& spec, Resolved& r, std::vector<std::string>& errors) {
  if (spec.default_value.empty()) return;
  auto v = ParseText(spec, spec.default_value);
  if (v) {
    r.Take(std::move(*v), Origin::kDefault, "");
  } else {
    errors.push_back(spec.key + ": bad built-in default: " + v.error().message());
  }
}

// The spec's key in the file, or else one of its aliases (with a warning).
void ResolveYaml(const ParamSpec& spec, const YAML::Node& root, const std::string& file,
                 Resolved& r, LoadResult& result) {
  YAML::Node node = Lookup(root, spec.key);
  for (size_t a = 0; !node.IsDefined() && a < spec.aliases.size(); ++a) {
    node.reset(Lookup(root, spec.aliases[a]));
    if (node.IsDefined()) {
      result.warnings.push_back(YamlWhere(file, node) + ": " + spec.aliases[a] +
                                " is the reference tool's name; pgcdc reads it as " + spec.key);
    }
  }
  if (!node.IsDefined()) return;
  const std::string where = YamlWhere(file, node);
  auto v = FromYaml(spec, node, where);
  if (v) {
    r.Take(std::move(*v), Origin::kYaml, where);
  } else {
    result.errors.push_back(v.error().message());
  }
}

void ResolveTreeText(const ParamSpec& spec, const YAML::Node& root, const std::string& file,
                     LoadResult& result) {
  YAML::Node node = Lookup(root, spec.key);
  if (!node.IsDefined() || node.IsNull()) return;
  YAML::Emitter emitter;
  emitter << node;
  result.config.Set(spec.key, Value(std::string(emitter.c_str())), Origin::kYaml,
                    YamlWhere(file, node));
}

void ResolveEnv(const ParamSpec& spec, const std::string& env_name, const GetEnv& getenv,
                Resolved& r, std::vector<std::string>& errors) {
  auto env = getenv(env_name);
  if (!env) return;
  auto v = ParseText(spec, *env);
  if (v) {
    r.Take(std::move(*v), Origin::kEnv, "env " + env_name);
  } else {
    errors.push_back(spec.key + ": " + v.error().message() + " (from env " + env_name + ")");
  }
}

// The flag's values (`raws`, non-empty): lists collect every comma-separated
// item, routes win per adapter over the earlier layers, anything else takes
// the last value. Nothing changes when one of them is invalid.
void ResolveFlags(const ParamSpec& spec, const std::vector<std::string>& raws, Resolved& r,
                  std::vector<std::string>& errors) {
  const std::string flag = FlagName(spec);
  auto bad = [&](const Error& e) {
    errors.push_back(spec.key + ": " + e.message() + " (from flag " + flag + ")");
  };
  Value merged;
  if (spec.type == ParamType::kStringList) {
    std::vector<std::string> all;
    for (const auto& raw : raws) {
      if (!spec.split_commas) {
        all.push_back(raw);
        continue;
      }
      for (auto& s : SplitCommas(raw)) all.push_back(std::move(s));
    }
    merged = std::move(all);
  } else if (spec.type == ParamType::kRouteMap) {
    bool ok = true;
    RouteMap routes;
    if (auto* prev = std::get_if<RouteMap>(&r.value)) routes = *prev;
    for (const auto& raw : raws) {
      auto v = ParseText(spec, raw);
      if (!v) {
        bad(v.error());
        ok = false;
        continue;
      }
      for (auto& [k, chans] : std::get<RouteMap>(*v)) routes[k] = chans;
    }
    if (!ok) return;
    merged = std::move(routes);
  } else {
    auto v = ParseText(spec, raws.back());
    if (!v) return bad(v.error());
    merged = std::move(*v);
  }
  r.Take(std::move(merged), Origin::kFlag, "flag " + flag);
}

// The value against the spec's choices.
void CheckChoices(const ParamSpec& spec, const Config& cfg, const std::string& from,
                  std::vector<std::string>& errors) {
  auto check = [&](const std::string& v) {
    if (std::find(spec.choices.begin(), spec.choices.end(), v) == spec.choices.end()) {
      std::string allowed;
      for (const auto& c : spec.choices) allowed += (allowed.empty() ? "" : ", ") + c;
      errors.push_back(spec.key + ": invalid value " + Quote(v) + " (from " + from +
                       "; allowed: " + allowed + ")");
    }
  };
  if (spec.type == ParamType::kStringList) {
    for (const auto& v : cfg.GetList(spec.key)) check(v);
  } else {
    check(ValueToText(cfg.values().find(spec.key)->second));
  }
}

// The value against the spec's min/max (durations in milliseconds).
void CheckRange(const ParamSpec& spec, const Config& cfg, const std::string& from,
                std::vector<std::string>& errors) {
  const bool duration = spec.type == ParamType::kDuration;
  const int64_t v =
      duration
          ? std::chrono::duration_cast<std::chrono::milliseconds>(cfg.GetDuration(spec.key)).count()
          : cfg.GetInt(spec.key);
  auto render = [&](int64_t x) {
    return duration ? FormatDuration(std::chrono::milliseconds(x)) : std::to_string(x);
  };
  if (spec.min && v < *spec.min) {
    errors.push_back(spec.key + ": must be >= " + render(*spec.min) + " (got " + render(v) +
                     " from " + from + ")");
  } else if (spec.max && v > *spec.max) {
    errors.push_back(spec.key + ": must be <= " + render(*spec.max) + " (got " + render(v) +
                     " from " + from + ")");
  }
}

// The per-spec checks of a loaded value: required, choices, min/max.
void CheckSpec(const ParamSpec& spec, const Config& cfg, Origin origin, const std::string& env_name,
               std::vector<std::string>& errors) {
  if (spec.required && !cfg.Has(spec.key)) {
    errors.push_back(spec.key + ": required (set " + FlagName(spec) + ", " + env_name + " or " +
                     spec.key + " in the config file)");
    return;
  }
  if (!cfg.Has(spec.key)) return;
  const std::string from = origin == Origin::kDefault ? "default" : cfg.OriginDetail(spec.key);
  if (!spec.choices.empty()) CheckChoices(spec, cfg, from, errors);
  if (spec.min || spec.max) CheckRange(spec, cfg, from, errors);
}

}  // namespace

LoadResult Load(const std::vector<ParamSpec>& specs, const Sources& sources) {
  LoadResult result;
  const GetEnv getenv = sources.getenv ? sources.getenv : GetEnv(ProcessEnv);
  const std::optional<YAML::Node> root = ReadConfigFile(sources, result);
  if (root && root->IsMap()) {
    const Schema schema(sources.schema.empty() ? specs : sources.schema, sources.upstream_keys);
    FindUnknownKeys(*root, "", schema, sources, result.errors, result.warnings);
  }
  for (const auto& spec : specs) {
    if (spec.type == ParamType::kTree) {
      // Read from the file by its owner; one bound to a field gets the
      // subtree as YAML text.
      if (root && spec.bind) ResolveTreeText(spec, *root, sources.yaml_path, result);
      continue;
    }
    Resolved r;
    ResolveDefault(spec, r, result.errors);
    if (root) ResolveYaml(spec, *root, sources.yaml_path, r, result);
    const std::string env_name = EnvName(spec);
    ResolveEnv(spec, env_name, getenv, r, result.errors);
    if (auto it = sources.flags.find(spec.key); it != sources.flags.end() && !it->second.empty()) {
      ResolveFlags(spec, it->second, r, result.errors);
    }
    result.config.Set(spec.key, std::move(r.value), r.origin, r.detail);
    CheckSpec(spec, result.config, r.origin, env_name, result.errors);
  }
  return result;
}

}  // namespace pgcdc::config
