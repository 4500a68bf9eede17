// Rows of the SQLite change table (pgcdc_changes, SPEC §2.4) as events
// (pure; unit-tested).
//
// Event shape (SPEC §1.5.9): channel pgcdc:<table_name>, operation = the
// stored text, source "sqlite", payload {"new": <row_data>, "old":
// <old_data>} with a key only for a non-NULL column. The triggers `pgcdc init
// --detector sqlite` generates write blobs as {"__pgcdc_blob":"<hex>"}
// (SQLite has no base64 function and json_object refuses blobs); those
// become base64 strings here, the way every other source renders binary.
//
// Event ids are deterministic: MakePositionUuid(rowid, 0, origin of the
// database file), so a change delivered again after a crash keeps its id
// (rowids of an AUTOINCREMENT table are never reused).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/event.h"

namespace pgcdc::detector::sqlite {

inline constexpr std::string_view kSource = "sqlite";
inline constexpr std::string_view kChangeTable = "pgcdc_changes";
inline constexpr std::string_view kBlobMarker = "__pgcdc_blob";

struct ChangeRow {
  int64_t rowid = 0;
  std::optional<std::string> table_name;
  std::optional<std::string> operation;
  std::optional<std::string> row_data;
  std::optional<std::string> old_data;
  std::optional<std::string> created_at;
};

struct ChangeEvent {
  Event event;
  // Non-empty: the row cannot become an event (NULL/empty table name or
  // operation, row data that is not JSON). `event` then describes the row
  // for the dead letter queue: channel pgcdc:_sqlite_invalid, payload
  // {"rowid","table_name","operation","row_data","old_data","reason"} with
  // the stored texts as strings.
  std::string invalid_reason;
};

// `origin` = PositionOrigin of the database file; `now_ns` is used when
// created_at is missing or not a time SQLite writes.
ChangeEvent MakeChangeEvent(const ChangeRow& row, uint32_t origin, int64_t now_ns);

// Compacts a row image and turns blob markers into base64 strings.
Result<std::string> NormalizeRowJson(std::string_view json);

// "YYYY-MM-DD HH:MM:SS[.fff]" (datetime('now')) or the ISO form with 'T' and
// an optional 'Z' (strftime('%Y-%m-%dT%H:%M:%fZ')), read as UTC.
std::optional<int64_t> ParseSqliteTime(std::string_view text);

}  // namespace pgcdc::detector::sqlite
