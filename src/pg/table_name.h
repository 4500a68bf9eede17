// A table reference typed by a user: "table" or "schema.table". Either part
// may be written in double quotes (`"My.Schema"."Orders"`, "" for a quote) to
// contain dots; unquoted parts are taken verbatim (no lower-casing). Used by
// every place that takes a table name from a flag or YAML (snapshot, the
// incremental-snapshot signals, the pg_table sink, the DLQ table).
#pragma once

#include <string>
#include <string_view>

#include "core/error.h"

namespace pgcdc::pg {

struct TableName {
  std::string schema;  // empty = resolved through search_path
  std::string name;
  // For SQL text: each part quoted separately, "s1"."items" (or "items").
  std::string Quoted() const;
  // schema.name as users write it, for messages.
  std::string Display() const;
};

// kInvalidArgument with the reason for an empty part, a stray or unterminated
// quote, or more than two parts.
Result<TableName> ParseTableName(std::string_view text);

}  // namespace pgcdc::pg
