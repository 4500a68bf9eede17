#include "adapter/graphql/subscription.h"

#include <boost/json.hpp>
#include <charconv>
#include <map>

#include "adapter/graphql/raw_json.h"
#include "core/json.h"
#include "core/json_dom.h"
#include "core/time.h"

namespace pgcdc::adapter::graphql {

namespace {

using boost::json::value;

std::unexpected<DocumentError> Error(std::string message, uint32_t line = 0, uint32_t column = 0) {
  return std::unexpected(DocumentError{std::move(message), line, column});
}

struct Scope {
  const boost::json::object* given = nullptr;  // the client's variables
  std::map<std::string, const VariableDefinition*> defined;
};

// A literal or variable reference as JSON (enums as their name).
std::expected<value, DocumentError> Resolve(const Value& v, const Scope& scope) {
  switch (v.kind) {
    case Value::Kind::kVariable: {
      auto d = scope.defined.find(v.text);
      if (d == scope.defined.end()) {
        return Error("Variable \"$" + v.text + "\" is not defined.", v.line, v.column);
      }
      if (scope.given != nullptr) {
        if (const value* given = scope.given->if_contains(v.text)) return *given;
      }
      if (d->second->has_default) return Resolve(d->second->default_value, scope);
      return value(nullptr);
    }
    case Value::Kind::kNull:
      return value(nullptr);
    case Value::Kind::kBool:
      return value(v.text == "true");
    case Value::Kind::kInt: {
      int64_t n = 0;
      auto [p, ec] = std::from_chars(v.text.data(), v.text.data() + v.text.size(), n);
      if (ec == std::errc() && p == v.text.data() + v.text.size()) return value(n);
      [[fallthrough]];  // out of range: as a float
    }
    case Value::Kind::kFloat:
      return value(std::strtod(v.text.c_str(), nullptr));
    case Value::Kind::kString:
    case Value::Kind::kEnum:
      return value(v.text);
    case Value::Kind::kList: {
      boost::json::array a;
      for (const auto& item : v.items) {
        auto r = Resolve(item, scope);
        if (!r) return r;
        a.push_back(std::move(*r));
      }
      return value(std::move(a));
    }
    case Value::Kind::kObject: {
      boost::json::object o;
      for (size_t i = 0; i < v.keys.size() && i < v.items.size(); ++i) {
        auto r = Resolve(v.items[i], scope);
        if (!r) return r;
        o[v.keys[i]] = std::move(*r);
      }
      return value(std::move(o));
    }
  }
  return value(nullptr);
}

// Required variables must be given (or defaulted) and not null.
std::expected<void, DocumentError> CheckVariables(const Operation& op, const Scope& scope) {
  for (const auto& d : op.variables) {
    const value* given = scope.given != nullptr ? scope.given->if_contains(d.name) : nullptr;
    const bool missing = (given == nullptr && !d.has_default) || (given && given->is_null());
    if (d.type.ends_with("!") && missing) {
      return Error("Variable \"$" + d.name + "\" of required type \"" + d.type +
                   "\" was not provided.");
    }
  }
  return {};
}

// Sets a string filter from `v`; null leaves it unset.
std::expected<void, DocumentError> SetString(std::optional<std::string>& out, const value& v,
                                             std::string_view name) {
  if (v.is_null()) return {};
  if (!v.is_string()) return Error("Argument \"" + std::string(name) + "\" must be a String.");
  out = std::string(v.as_string());
  return {};
}

std::expected<void, DocumentError> SetFilter(Plan& plan, std::string_view name, const value& v) {
  if (name == "channel") return SetString(plan.channel, v, name);
  if (name == "operation") return SetString(plan.operation, v, name);
  if (v.is_null()) {
    plan.where.reset();
    return {};
  }
  if (!v.is_object()) return Error("Argument \"where\" must be an object (payload key -> value).");
  plan.where = v.as_object();
  return {};
}

constexpr std::string_view kEventFields[] = {"id",         "channel", "operation", "source",
                                             "created_at", "payload", "__typename"};

std::expected<void, DocumentError> CheckEventField(const Field& f, std::string_view type) {
  bool known = false;
  for (auto name : kEventFields) known = known || f.name == name;
  if (!known) {
    return Error("Cannot query field \"" + f.name + "\" on type \"" + std::string(type) + "\".",
                 f.line, f.column);
  }
  if (!f.arguments.empty()) {
    return Error("Unknown argument \"" + f.arguments.front().name + "\" on field \"" +
                     std::string(type) + "." + f.name + "\".",
                 f.line, f.column);
  }
  if (f.has_selection_set && f.name != "payload") {
    return Error("Field \"" + f.name + "\" must not have a selection since type \"String\" has " +
                     "no subfields.",
                 f.line, f.column);
  }
  return {};
}

// Canonical text of a selection (aliases and names, nested), keying shared
// encodings.
void AppendKey(const std::vector<Field>& fields, std::string& out) {
  out.push_back('{');
  for (const auto& f : fields) {
    out.append(f.alias).push_back(':');
    out.append(f.name);
    if (f.has_selection_set) AppendKey(f.selections, out);
    out.push_back(' ');
  }
  out.push_back('}');
}

std::expected<void, DocumentError> ApplyArguments(Plan& plan, const Field& root,
                                                  const Scope& scope) {
  for (const auto& a : root.arguments) {
    if (a.name != "channel" && a.name != "operation" && a.name != "where") {
      return Error(
          "Unknown argument \"" + a.name + "\" on field \"Subscription." + root.name + "\".",
          a.value.line, a.value.column);
    }
    auto v = Resolve(a.value, scope);
    if (!v) return std::unexpected(v.error());
    if (auto st = SetFilter(plan, a.name, *v); !st) return st;
  }
  return {};
}

}  // namespace

std::expected<Plan, DocumentError> MakePlan(const Operation& op, const value& variables,
                                            const TableLookup& tables) {
  if (op.type != "subscription") {
    return Error("Only subscription operations are supported (got " + op.type + ").");
  }
  if (!variables.is_null() && !variables.is_object()) {
    return Error("Variables must be an object.");
  }
  if (op.selections.size() != 1) {
    return Error("Subscription must select only one top level field.");
  }
  Scope scope;
  scope.given = variables.if_object();
  for (const auto& d : op.variables) scope.defined[d.name] = &d;
  if (auto st = CheckVariables(op, scope); !st) return std::unexpected(st.error());

  const Field& root = op.selections.front();
  Plan plan;
  plan.response_key = root.alias;
  std::string type = "Event";
  if (root.name != "events") {
    auto table = tables ? tables(root.name) : std::nullopt;
    if (!table) {
      return Error("Cannot query field \"" + root.name + "\" on type \"Subscription\".", root.line,
                   root.column);
    }
    plan.table = std::move(*table);
    type = root.name;
  }
  // Compatibility (SPEC §5.17): filters from variables by name, then arguments.
  if (scope.given != nullptr) {
    for (std::string_view name : {"channel", "operation", "where"}) {
      if (const value* v = scope.given->if_contains(name)) {
        if (auto st = SetFilter(plan, name, *v); !st) return std::unexpected(st.error());
      }
    }
  }
  if (auto st = ApplyArguments(plan, root, scope); !st) return std::unexpected(st.error());
  plan.needs_payload = plan.where.has_value();
  if (root.has_selection_set) {
    plan.whole_event = false;
    plan.fields = root.selections;
    for (const auto& f : plan.fields) {
      if (auto st = CheckEventField(f, type); !st) return std::unexpected(st.error());
    }
    AppendKey(plan.fields, plan.projection_key);
  } else {
    plan.projection_key = "*";
  }
  return plan;
}

namespace {

bool NumberEquals(const value& a, const value& b) {
  return a.to_number<double>() == b.to_number<double>();
}

bool ValueMatches(const value* actual, const value& expected) {
  if (actual == nullptr) return expected.is_null();
  if (actual->is_number() && expected.is_number()) return NumberEquals(*actual, expected);
  return *actual == expected;
}

// Appends the projection of the raw JSON `raw` (objects by key, lists
// element-wise, anything else as is; malformed containers as null).
void AppendProjected(std::string_view raw, const std::vector<Field>& fields, std::string& out) {
  const size_t i = raw.find_first_not_of(" \t\r\n");
  const char c = i == std::string_view::npos ? '\0' : raw[i];
  if (c == '{') {
    std::vector<std::pair<std::string, std::string_view>> members;
    auto add = [&](const std::string& k, std::string_view v) { members.emplace_back(k, v); };
    if (!ForEachMember(raw, add)) return (void)out.append("null");
    out.push_back('{');
    for (size_t f = 0; f < fields.size(); ++f) {
      if (f > 0) out.push_back(',');
      json::AppendString(out, fields[f].alias);
      out.push_back(':');
      const std::string_view* v = nullptr;
      for (const auto& [k, mv] : members) {
        if (k == fields[f].name) v = &mv;  // the last of duplicate keys, like JSON.parse
      }
      if (v == nullptr) {
        out.append("null");
      } else if (fields[f].has_selection_set) {
        AppendProjected(*v, fields[f].selections, out);
      } else {
        out.append(*v);
      }
    }
    out.push_back('}');
  } else if (c == '[') {
    std::vector<std::string_view> items;
    if (!ForEachElement(raw, [&](std::string_view v) { items.push_back(v); })) {
      return (void)out.append("null");
    }
    out.push_back('[');
    for (size_t k = 0; k < items.size(); ++k) {
      if (k > 0) out.push_back(',');
      AppendProjected(items[k], fields, out);
    }
    out.push_back(']');
  } else {
    out.append(raw.empty() ? std::string_view("null") : raw);
  }
}

void AppendField(const Field& f, const Event& e, std::string& out) {
  if (f.name == "id") {
    out.push_back('"');
    e.id.AppendTo(out);
    out.push_back('"');
  } else if (f.name == "channel") {
    json::AppendString(out, e.channel);
  } else if (f.name == "operation") {
    json::AppendString(out, e.operation);
  } else if (f.name == "source") {
    json::AppendString(out, e.source);
  } else if (f.name == "created_at") {
    out.push_back('"');
    AppendRfc3339Nano(e.created_at_ns, out);
    out.push_back('"');
  } else if (f.name == "__typename") {
    out.append("\"Event\"");
  } else if (f.has_selection_set) {
    AppendProjected(e.payload, f.selections, out);
  } else {
    out.append(e.payload);
  }
}

}  // namespace

bool Matches(const Plan& plan, const Event& e, const value* payload) {
  if (plan.channel && e.channel != *plan.channel) return false;
  if (plan.operation && e.operation != *plan.operation) return false;
  if (plan.table) {
    if (!e.schema) return false;
    const std::string& t = *plan.table;
    const auto& ns = e.schema->namespace_name;
    if (t.size() != ns.size() + 1 + e.schema->table.size() || !t.starts_with(ns) ||
        t[ns.size()] != '.' || !t.ends_with(e.schema->table)) {
      return false;
    }
  }
  if (plan.where) {
    const auto* o = payload != nullptr ? payload->if_object() : nullptr;
    if (o == nullptr) return false;
    for (const auto& [k, expected] : *plan.where) {
      if (!ValueMatches(o->if_contains(k), expected)) return false;
    }
  }
  return true;
}

void AppendEventObject(const Plan& plan, const Event& e, std::string& out) {
  if (plan.whole_event) {
    out.append(e.Json());  // the envelope (transaction included when known)
    return;
  }
  out.push_back('{');
  for (size_t i = 0; i < plan.fields.size(); ++i) {
    if (i > 0) out.push_back(',');
    json::AppendString(out, plan.fields[i].alias);
    out.push_back(':');
    AppendField(plan.fields[i], e, out);
  }
  out.push_back('}');
}

}  // namespace pgcdc::adapter::graphql
