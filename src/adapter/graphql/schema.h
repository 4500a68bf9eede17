// The GraphQL schema the graphql adapter serves as SDL (GET <path>/schema).
//
// Always: `Event` (the envelope; payload as the JSON scalar) and
// `Subscription.events(channel, operation, where)`. In schema-aware mode
// every table seen in the WAL's relation messages (Event::schema) adds typed
// types — <T>Row (one field per column, typed from the column's type OID),
// <T>Change (op/table/schema/row/old) and <T>Event — and a root field
// `<schema>_<table>` that receives only that table's events. Names are made
// GraphQL-safe ([_A-Za-z0-9], no leading digit). Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/event.h"
#include "core/mutex.h"

namespace pgcdc::adapter::graphql {

// "public", "orders" -> "public_orders" (the root field name).
std::string TableFieldName(std::string_view ns, std::string_view table);
// The GraphQL scalar for a PostgreSQL type OID (Int, BigInt, Float, Boolean,
// JSON or String).
std::string_view ScalarForOid(uint32_t oid);

class TableTypes {
 public:
  // Records (or replaces) the table of a row event's schema. Cheap when the
  // schema pointer did not change.
  void Observe(const std::shared_ptr<const RowSchema>& schema);
  // "schema.table" for a root field name, nullopt when unknown.
  std::optional<std::string> TableForField(std::string_view field) const;
  // The SDL document (static types, then one block per table, sorted).
  std::string Sdl() const;

 private:
  mutable Mutex mu_;
  std::map<std::string, std::shared_ptr<const RowSchema>, std::less<>> by_field_ GUARDED_BY(mu_);
};

}  // namespace pgcdc::adapter::graphql
