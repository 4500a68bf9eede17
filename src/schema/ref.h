// Schema store references on row events (SPEC §1.6's internal metadata
// `pgcdc.schema_subject` / `pgcdc.schema_version`, never in the JSON).
//
// The `wal` detector registers a table's columns once per Relation message
// (docs/schema-store.md) and builds one RowSchema per relation definition;
// every row event of that definition shares it (Event::schema). The store's
// subject and version ride along with that shared RowSchema: WithRef() makes
// the shared_ptr with a deleter that holds the Ref, and RefOf() finds it again
// with std::get_deleter. So stamping an event costs nothing beyond the
// shared_ptr copy every WAL row event already has — no per-event field, no
// allocation — and core/event.h stays unchanged.
//
// A RowSchema made any other way (no store, a registration that failed, a
// copy made by someone else) has no ref: RefOf() is nullptr.
#pragma once

#include <memory>
#include <string>
#include <utility>

#include "core/event.h"

namespace pgcdc::schema {

// Where a relation definition is in the schema store.
struct Ref {
  std::string subject;  // "<schema>.<table>", e.g. "public.orders"
  int version = 0;      // 1, 2, …
  bool operator==(const Ref&) const = default;
};

namespace internal {
// Deletes the RowSchema; carries its Ref in the shared_ptr's control block.
struct RefDeleter {
  Ref ref;
  void operator()(const RowSchema* schema) const { delete schema; }
};
}  // namespace internal

// A shared RowSchema carrying `ref` (per relation definition, not per event).
inline std::shared_ptr<const RowSchema> WithRef(RowSchema schema, Ref ref) {
  return std::shared_ptr<const RowSchema>(new RowSchema(std::move(schema)),
                                          internal::RefDeleter{std::move(ref)});
}

// The ref `schema` was made with by WithRef(), or nullptr. Valid while
// `schema` (any copy of it) lives. No lock and no allocation, but a type_info
// comparison: callers that see many events cache it per schema pointer.
inline const Ref* RefOf(const std::shared_ptr<const RowSchema>& schema) {
  const auto* deleter = std::get_deleter<internal::RefDeleter>(schema);
  return deleter != nullptr ? &deleter->ref : nullptr;
}

}  // namespace pgcdc::schema
