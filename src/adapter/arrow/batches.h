// From buffered events to Arrow record batches, and the Flight ticket
// format: the pure part of the arrow sink (no gRPC), shared by the Flight
// server, the unit tests and the fuzz target.
//
// Schemas (docs/arrow.md):
//  - envelope (SPEC §5.18, the default): id, channel, operation, payload
//    (nullable; the compact JSON), source utf8, created_at timestamp[µs, UTC];
//  - typed (--arrow-schema typed): _pgcdc_id, _pgcdc_operation,
//    _pgcdc_created_at, then one column per table column of the WAL row image
//    (`row`: the new row, the old one for DELETE), typed by TypeForPgOid.
//    Events without a table definition (TRUNCATE, messages) get null row
//    columns. One DoGet stream has one schema, so a typed stream ends before
//    the first event whose table definition differs (ALTER TABLE); the next
//    ticket (its offset is the stream's next_offset) continues with the new one.
// With dictionaries (the default), the repetitive string columns — channel,
// operation and source; typed: _pgcdc_operation — are dictionary-encoded:
// int32 indices plus one DictionaryBatch per column per stream, which Arrow
// readers decode much faster than a string per row. A stream then also ends
// before the event that would give one dictionary more than
// kMaxDictionaryValues values (the next ticket continues there).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "adapter/arrow/store.h"
#include "arrow/ipc.h"
#include "core/error.h"

namespace pgcdc::adapter::arrow {

enum class SchemaMode { kEnvelope, kTyped };

// {"channel":"<channel>","offset":<absolute offset>}; offset may be left
// out (= the oldest buffered event). kInvalidArgument with the reason for
// anything else (not JSON, no channel, a negative or fractional offset,
// unknown keys, longer than 4 KiB).
struct Ticket {
  std::string channel;
  std::optional<uint64_t> offset;
};
[[nodiscard]] Result<Ticket> ParseTicket(std::string_view bytes);
std::string TicketJson(std::string_view channel, uint64_t offset);

// The Arrow type a PostgreSQL type is served as in typed mode: bool, int2/
// int4/int8 (oid as int64), float4/float8, date (date32), timestamp and
// timestamptz (timestamp[µs], the latter with time zone UTC), bytea
// (binary); everything else — numeric (exact digits), json/jsonb (compact
// JSON), text, uuid, intervals, arrays, … — utf8 text.
arrow_ipc::Type TypeForPgOid(uint32_t oid);

inline constexpr size_t kMaxDictionaryValues = 4096;

// `dictionaries`: channel/operation/source (typed: _pgcdc_operation) are
// dictionary-encoded utf8 (ids 0, 1, … in column order).
arrow_ipc::Schema EnvelopeSchema(bool dictionaries = true);
// Typed mode: the envelope columns above, then `row`'s columns (none when
// null).
arrow_ipc::Schema TypedSchema(const RowSchema* row, bool dictionaries = true);
// Typed mode with --schema-store: the schema's custom_metadata
// pgcdc.schema_subject ("public.orders") and pgcdc.schema_version ("2") of
// the table definition `row` was registered as; empty without one.
arrow_ipc::Metadata StoreMetadata(const std::shared_ptr<const RowSchema>& row);

// The distinct values of one dictionary-encoded column in a stream, in the
// order first seen (views into the stream's entries).
class Dictionary {
 public:
  Dictionary(size_t column, int64_t id) : column_(column), id_(id) {}
  // The index of `value`, adding it; -1 when that would make more than
  // kMaxDictionaryValues values.
  int32_t Add(std::string_view value);
  // The index of a value added before.
  int32_t IndexOf(std::string_view value) const;
  size_t column() const { return column_; }
  int64_t id() const { return id_; }
  const std::vector<std::string_view>& values() const { return values_; }

 private:
  size_t column_;
  int64_t id_;
  std::vector<std::string_view> values_;
  std::unordered_map<std::string_view, int32_t> index_;  // used past a few values
};

// How many of `entries` (from the front) one stream serves and with which
// schema: all of them in envelope mode; in typed mode up to the first event
// whose table definition differs from the first one's.
struct Plan {
  arrow_ipc::Schema schema;
  arrow_ipc::Metadata metadata;    // typed mode: StoreMetadata(row)
  const RowSchema* row = nullptr;  // typed mode: the table definition
  size_t count = 0;
  std::vector<Dictionary> dictionaries;  // of entries[0, count)
};
Plan PlanStream(SchemaMode mode, std::span<const EntryPtr> entries, bool dictionaries = true);

// The DictionaryBatch messages of `plan` (sent after the schema, before the
// first record batch).
[[nodiscard]] Result<std::vector<arrow_ipc::EncodedBatch>> EncodeDictionaries(const Plan& plan);

// Where the record batch that starts at entries[0] ends: at most
// `max_rows` rows and about `max_bytes` of payload (at least one row).
size_t BatchEnd(std::span<const EntryPtr> entries, size_t max_rows, size_t max_bytes);

// One record batch of `entries` under `plan`. Values that do not convert to
// their column's type (a date 'infinity', a 5-digit year, an int out of
// range) are null and counted in `value_errors`.
[[nodiscard]] Result<arrow_ipc::EncodedBatch> EncodeBatch(SchemaMode mode, const Plan& plan,
                                                          std::span<const EntryPtr> entries,
                                                          size_t& value_errors);

}  // namespace pgcdc::adapter::arrow
