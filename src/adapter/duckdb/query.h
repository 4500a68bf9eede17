// The engine-free parts of the duckdb sink (pure, unit tested): the
// POST /query request, the SQL the sink generates (table, per-table typed
// views, the JSON wrapper for SELECT results) and the read-only rule.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/event.h"

namespace pgcdc::adapter::duckdb {

// POST /query body: {"sql":"…","params":[…],"timeout":"30s"}.
struct QueryRequest {
  std::string sql;
  // Positional parameters ($1/? …): strings as given; numbers and booleans as
  // their JSON text; null = SQL NULL.
  std::vector<std::optional<std::string>> params;
  std::chrono::milliseconds timeout{0};
};

// kInvalidArgument with a message for the client (bad JSON, missing sql, bad
// params or timeout). A missing timeout is `default_timeout`; a longer one
// than `max_timeout` is refused.
Result<QueryRequest> ParseQueryRequest(std::string_view body,
                                       std::chrono::milliseconds default_timeout,
                                       std::chrono::milliseconds max_timeout);

// The events table (SPEC §5.19), the staging table of the replay path and
// the statement that moves its rows into cdc_events (INSERT OR REPLACE; the
// latest copy of an id wins).
std::string CreateTableSql();
std::string CreateStageSql();
std::string ReplaceSql();

// The typed view of a WAL table: named "<schema>.<table>" (e.g.
// "public.orders"), one column per table column (its PostgreSQL type mapped
// as the Parquet writer maps it; values that do not convert are NULL), read
// from payload.row, then _operation, _created_at and _event_id, over the
// events of `channel`.
std::string ViewName(const RowSchema& schema);
std::string ViewSql(const RowSchema& schema, std::string_view channel);

// A JSON pointer to row member `column` ("/row/<column>", RFC 6901 escapes).
std::string RowPointer(std::string_view column);

// One SELECT statement wrapped so that each result row is one JSON object
// text (column name → value; DuckDB's to_json). Trailing semicolons and
// blanks are dropped; the closing parenthesis goes on a new line so a
// trailing line comment cannot swallow it.
std::string JsonRowsSql(std::string_view select);

// The per-channel counts of GET /query/tables.
std::string TablesSql();

}  // namespace pgcdc::adapter::duckdb
