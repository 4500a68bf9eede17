// Pure building blocks of the outbox detector (SPEC §2.3, §1.5.10): table
// name handling, the SQL it runs, and the conversion of one outbox row into an
// Event. No I/O; unit-tested in outbox_event_test.cc.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/event.h"

namespace pgcdc::detector::outbox {

// Event::source of every outbox event.
inline constexpr std::string_view kSource = "outbox";
// Channel and operation of the event emitted for a row that cannot become a
// regular event (NULL/empty channel or operation, payload that is not JSON).
inline constexpr std::string_view kInvalidChannel = "pgcdc:_outbox_invalid";
inline constexpr std::string_view kInvalidOperation = "INVALID";

// Parses a configured table name, "table" or "schema.table", and returns it
// with each part quoted as an identifier ("schema"."table"). Parts are taken
// literally (case-sensitive, no SQL unquoting): empty parts, more than two
// parts, parts longer than 63 bytes and parts containing a double quote or NUL
// are rejected with a kConfig error.
Result<std::string> QuoteTableName(std::string_view name);

// The statements the detector runs against the quoted table name `table`.
struct OutboxSql {
  // $1 = batch size. Rows locked until the transaction ends; rows locked by
  // another transaction (another pgcdc instance) are skipped.
  std::string select;
  // $1 = uuid[] literal of the ids to finish (see UuidArrayLiteral).
  std::string finish;
  // $1 = the quoted table name; one row, one boolean column.
  std::string exists;
};
OutboxSql MakeOutboxSql(const std::string& quoted_table, bool keep_processed);

// "{id1,id2,...}", the text form of a uuid[] parameter. Ids come from the
// database's uuid output, so they need no escaping.
std::string UuidArrayLiteral(const std::vector<std::string>& ids);

// One row as selected: id, channel, operation, payload::text.
struct OutboxRow {
  std::string id;
  std::optional<std::string> channel;
  std::optional<std::string> operation;
  std::optional<std::string> payload;  // JSON text; NULL becomes JSON null
};

struct RowEvent {
  Event event;
  // Empty for a regular event; otherwise why the row was diverted to
  // kInvalidChannel (for the warning log and the invalid-rows metric).
  std::string invalid_reason;
};

// Builds the event for `row` (source "outbox", fresh UUIDv7 id, created_at
// `now_ns`, seq left 0):
//  * regular row: channel = row channel, operation = row operation, payload =
//    the JSON compacted (key order as stored; jsonb's own order for jsonb);
//  * channel or operation NULL/empty, or payload not valid JSON: channel
//    kInvalidChannel, operation kInvalidOperation and payload
//    {"outbox_id":…,"table":…,"reason":…,"channel":…,"operation":…,"payload":…}
//    carrying everything the row held (a non-JSON payload as a JSON string), so
//    nothing is lost and the row can be found and fixed.
// `table` is the configured (unquoted) table name. Never fails.
RowEvent MakeOutboxEvent(const OutboxRow& row, std::string_view table, int64_t now_ns);

}  // namespace pgcdc::detector::outbox
