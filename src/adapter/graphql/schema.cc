#include "adapter/graphql/schema.h"

#include "schema/ref.h"

namespace pgcdc::adapter::graphql {

namespace {

constexpr std::string_view kStaticSdl =
    "\"\"\"Any JSON value.\"\"\"\n"
    "scalar JSON\n\n"
    "\"\"\"A 64-bit integer (JSON number).\"\"\"\n"
    "scalar BigInt\n\n"
    "\"\"\"pgcdc serves subscriptions only; queries are not executed.\"\"\"\n"
    "type Query {\n"
    "  _unused: Boolean\n"
    "}\n\n"
    "\"\"\"One change event (docs/events.md).\"\"\"\n"
    "type Event {\n"
    "  id: String!\n"
    "  channel: String!\n"
    "  operation: String!\n"
    "  payload: JSON\n"
    "  source: String!\n"
    "  created_at: String!\n"
    "}\n\n";

constexpr std::string_view kFilterArgs = "(channel: String, operation: String, where: JSON)";

// "public_orders" -> "PublicOrders".
std::string TypeName(std::string_view field) {
  std::string out;
  bool upper = true;
  for (char c : field) {
    if (c == '_') {
      upper = true;
      continue;
    }
    out.push_back(upper && c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c);
    upper = false;
  }
  if (out.empty() || (out[0] >= '0' && out[0] <= '9')) out.insert(0, "T");
  return out;
}

// The table's schema store version (--schema-store), when it has one, goes
// into the row type's description:
// "A row of public.orders (schema store: public.orders version 2)."
void AppendTableTypes(const std::string& field, const std::shared_ptr<const RowSchema>& table,
                      std::string& out) {
  const RowSchema& s = *table;
  const std::string t = TypeName(field);
  out += "\"\"\"A row of " + s.namespace_name + "." + s.table;
  if (const schema::Ref* ref = schema::RefOf(table); ref != nullptr) {
    out += " (schema store: " + ref->subject + " version " + std::to_string(ref->version) + ")";
  }
  out += ".\"\"\"\ntype " + t + "Row {\n";
  for (const auto& c : s.columns) {
    out += "  " + TableFieldName("", c.name) + ": " + std::string(ScalarForOid(c.type_oid)) + "\n";
  }
  out += "}\n\n\"\"\"A change to " + s.namespace_name + "." + s.table + ".\"\"\"\ntype " + t +
         "Change {\n  op: String\n  table: String\n  schema: String\n  row: " + t +
         "Row\n  old: " + t + "Row\n}\n\ntype " + t +
         "Event {\n  id: String!\n  channel: String!\n  operation: String!\n  payload: " + t +
         "Change\n  source: String!\n  created_at: String!\n}\n\n";
}

}  // namespace

std::string TableFieldName(std::string_view ns, std::string_view table) {
  std::string raw = ns.empty() ? std::string(table) : std::string(ns) + "_" + std::string(table);
  std::string out;
  for (char c : raw) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    out.push_back(ok ? c : '_');
  }
  if (out.empty() || (out[0] >= '0' && out[0] <= '9')) out.insert(0, "_");
  if (out.starts_with("__")) out.insert(0, "t");  // "__" is reserved for introspection
  return out;
}

std::string_view ScalarForOid(uint32_t oid) {
  switch (oid) {
    case 16:
      return "Boolean";
    case 21:
    case 23:
      return "Int";
    case 20:
      return "BigInt";
    case 700:
    case 701:
    case 1700:
      return "Float";
    case 114:
    case 3802:
    case 1000:  // arrays: JSON arrays in the payload
    case 1005:
    case 1007:
    case 1009:
    case 1015:
    case 1016:
    case 1021:
    case 1022:
    case 1231:
    case 199:
    case 3807:
      return "JSON";
    default:
      return "String";
  }
}

void TableTypes::Observe(const std::shared_ptr<const RowSchema>& schema) {
  if (!schema) return;
  std::string field = TableFieldName(schema->namespace_name, schema->table);
  MutexLock lock(mu_);
  auto& slot = by_field_[field];
  if (slot != schema) slot = schema;
}

std::optional<std::string> TableTypes::TableForField(std::string_view field) const {
  MutexLock lock(mu_);
  auto it = by_field_.find(field);
  if (it == by_field_.end()) return std::nullopt;
  return it->second->namespace_name + "." + it->second->table;
}

std::string TableTypes::Sdl() const {
  std::string out(kStaticSdl);
  std::string roots = "type Subscription {\n  events" + std::string(kFilterArgs) + ": Event\n";
  MutexLock lock(mu_);
  for (const auto& [field, schema] : by_field_) {
    AppendTableTypes(field, schema, out);
    roots += "  " + field + std::string(kFilterArgs) + ": " + TypeName(field) + "Event\n";
  }
  out += roots + "}\n";
  return out;
}

}  // namespace pgcdc::adapter::graphql
