// Parquet writer: "write these rows as one Parquet file into this buffer (or
// file)". Not tied to a sink: the s3 sink uses it today; a DuckDB or Iceberg
// sink can reuse it.
//
// Implemented with DuckDB's C API (libduckdb from npm, cmake/DuckDB.cmake),
// kept entirely behind this header (pimpl): nothing here includes duckdb.h.
// A build without DuckDB compiles a stub whose Create() fails with
// UnavailableReason(); callers check Available() at configuration time.
//
// Rows are buffered inside DuckDB (columnar, compact) in a temporary table of
// the writer's own connection to one process-wide in-memory database; Finish()
// writes them as a Snappy-compressed Parquet file and starts over empty.
//
// Threading: one Writer is used by one thread at a time; different Writers
// may be used from different threads.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace pgcdc::parquet {

// Column types (the Parquet physical/logical type DuckDB writes for each).
enum class Type {
  kString,       // BYTE_ARRAY UTF8
  kJson,         // BYTE_ARRAY JSON
  kBool,         // BOOLEAN
  kInt16,        // INT32 INT_16
  kInt32,        // INT32
  kInt64,        // INT64
  kFloat,        // FLOAT
  kDouble,       // DOUBLE
  kDate,         // INT32 DATE
  kTime,         // INT64 TIME_MICROS
  kTimestamp,    // INT64 TIMESTAMP_MICROS (not adjusted to UTC)
  kTimestampTz,  // INT64 TIMESTAMP_MICROS, isAdjustedToUTC
  kUuid,         // FIXED_LEN_BYTE_ARRAY(16) UUID
};

// The type a PostgreSQL type (its OID) is written as. Unmapped types (numeric
// — kept exact —, text, bytea, arrays, intervals, enums, …) are strings.
Type TypeForPgOid(uint32_t oid);

// DuckDB's name of the type (for messages and tests): "VARCHAR", "BIGINT", ...
std::string_view TypeName(Type type);

// Microseconds since the Unix epoch of an ISO-8601 / PostgreSQL timestamp
// with an offset ("2025-06-15 12:00:00.5+02", "…T…Z", "+05:30"); nullopt for
// anything else (BC dates, infinity, 5-digit years). Text() on a kTimestampTz
// column uses it, since DuckDB's cast ignores the offset.
std::optional<int64_t> ParseTimestampTz(std::string_view text);

struct Column {
  std::string name;  // any text; quoted, so never interpreted as SQL
  Type type = Type::kString;
  // The Parquet field_id of the column (Iceberg data files need them); 0 = none.
  int field_id = 0;
};

struct Options {
  std::string compression = "snappy";  // snappy, zstd, gzip, uncompressed
  uint64_t row_group_size = 122'880;   // rows per row group
};

// True when this build can write Parquet: built with DuckDB's header and its
// library loads (the first call loads it).
bool Available();
// Why it cannot (empty when Available()).
std::string_view UnavailableReason();

class Writer;
using WriterPtr = std::unique_ptr<Writer>;

class Writer {
 public:
  // A writer for files with `columns` (at least one; names unique).
  // kUnimplemented when the build has no DuckDB; kInvalidArgument for a bad
  // schema; kIo when DuckDB cannot start.
  [[nodiscard]] static Result<WriterPtr> Create(std::vector<Column> columns, Options options = {});
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Row building: exactly one value call per column, in column order, then
  // EndRow(). A failed value call leaves the column pending: the caller may
  // retry it (e.g. Null() after a Text() that could not be cast).
  Status Null();
  Status String(std::string_view value);
  // The value's text form, converted to the column's type by DuckDB
  // ("12" → INTEGER, "2025-06-15 12:00:00+00" → TIMESTAMPTZ, "t" → BOOLEAN).
  // kInvalidArgument ("cannot convert …") when it does not parse.
  Status Text(std::string_view value);
  Status Bool(bool value);
  Status Int64(int64_t value);
  Status Double(double value);
  // Microseconds since 1970-01-01 UTC (kTimestamp / kTimestampTz columns).
  Status TimestampMicros(int64_t micros);
  Status EndRow();

  // Rows buffered since the last Finish().
  uint64_t rows() const;
  const std::vector<Column>& columns() const;

  // The buffered rows as one Parquet file (also with no rows); the writer is
  // empty afterwards. On error the rows stay buffered.
  [[nodiscard]] Result<std::string> Finish();
  // The same, written to `path` (replaced if it exists).
  [[nodiscard]] Status FinishToFile(const std::string& path);

 private:
  struct Impl;
  explicit Writer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pgcdc::parquet
