// Avro encoding of events (pure; no I/O). SPEC §10.3, with its quirk fixed:
// row values come from the row images (`row`, `old`), not from the top level.
//
// An event with a RowSchema (WAL row events, Event::schema) and a structured
// payload ({op, table, row, old, …}) becomes a typed record named after its
// table, namespace "pgcdc.<schema>":
//
//   op: string, table: string, schema: string,
//   row: union{null, <table>_row}, old: union{null, <table>_row},
//   unchanged_toast_columns: array<string>
//
// where <table>_row has one nullable field per column, typed from the column's
// PostgreSQL type (SPEC's mapping: bool→boolean, int2/int4→int, int8→long,
// float4→float, float8→double, numeric→bytes decimal(38,18), bytea→bytes,
// date→int date, timestamp/timestamptz→long timestamp-micros, time/timetz→
// long time-micros (UTC), uuid→string uuid, anything else→string with the
// value's text, JSON values as compact JSON text). Any other event becomes
// the opaque record pgcdc.OpaqueEvent{payload: bytes} holding the payload.
//
// With a schema store (--schema-store, docs/schema-store.md) the event's
// RowSchema carries the store version its table definition was registered as
// (schema/ref.h); the typed record then also has two attributes,
// "pgcdc.schema_subject" ("public.orders") and "pgcdc.schema_version" (2).
// Avro readers ignore them (they do not change the encoding), but they make
// one Avro schema per store version: a column added mid-stream is a new
// schema (a new registry version) exactly when the store makes a new version,
// and a registry schema id maps back to the store version. The fields are the
// store version's columns (the store and the encoder read the same Relation
// message), so the encoder never queries the store.
//
// A value the type cannot hold without loss (a numeric with more than 18
// fractional digits or 38 digits in all, NaN in a numeric, ±infinity in a
// date or timestamp, an integer out of range) is an error naming the column:
// the sink dead-letters the event rather than send a wrong value.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/event.h"

namespace pgcdc::schema {
struct Ref;
}  // namespace pgcdc::schema

namespace pgcdc::encoding::avro {

// How one column is written.
enum class FieldType {
  kBoolean,
  kInt,
  kLong,
  kFloat,
  kDouble,
  kDecimal,  // bytes, decimal(38,18)
  kBytes,    // bytea hex text → bytes
  kDate,     // int days since 1970-01-01
  kTimestampMicros,
  kTimeMicros,
  kUuid,    // string, logicalType uuid
  kString,  // text form (JSON text for JSON values)
};
FieldType FieldTypeFor(uint32_t type_oid);

struct Schema {
  bool opaque = true;
  std::string full_name;  // e.g. "pgcdc.public.orders"
  // The schema store version it was made for (0: none; typed records only).
  std::string store_subject;
  int store_version = 0;
  std::string json;  // the Avro schema, compact JSON (what a registry stores)
  // Typed records: one entry per column, in table order.
  struct Field {
    std::string column;  // PostgreSQL column name (key in the row images)
    std::string name;    // Avro field name (sanitised, unique)
    FieldType type = FieldType::kString;
  };
  std::vector<Field> fields;
};

// The opaque schema (shared, built once).
std::shared_ptr<const Schema> OpaqueSchema();
// The typed schema of a table; `store_ref` (may be null): its schema store
// version, written as the record's pgcdc.schema_subject/_version attributes.
std::shared_ptr<const Schema> TableSchema(const RowSchema& table,
                                          const schema::Ref* store_ref = nullptr);
// An Avro name from any text: [A-Za-z0-9_] kept, others → '_', a leading
// digit gets a '_' in front; empty → "_".
std::string SanitizeName(std::string_view text);

// Picks the schema for an event (typed when it has a RowSchema and a
// structured payload; with the RowSchema's store version, if any) and caches
// typed schemas per RowSchema (one cache per sink, used by one thread).
class SchemaCache {
 public:
  std::shared_ptr<const Schema> For(const Event& event);

 private:
  const RowSchema* last_key_ = nullptr;
  std::shared_ptr<const RowSchema> last_table_;  // keeps last_key_ alive
  std::shared_ptr<const Schema> last_;
};

// Appends the Avro binary encoding of `event` under `schema` to `out`. On
// error (kInvalidArgument, naming the column) `out` is left as it was.
Status Encode(const Event& event, const Schema& schema, std::string& out);

// The Confluent wire-format header: magic 0x00 and the schema id (big-endian).
void AppendConfluentHeader(uint32_t schema_id, std::string& out);

// Avro primitives (exposed for tests).
void AppendLong(int64_t v, std::string& out);  // zigzag varint
void AppendBytes(std::string_view bytes, std::string& out);

}  // namespace pgcdc::encoding::avro
