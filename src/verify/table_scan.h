// TableScan: the source side of `pgcdc verify`. Streams every row of one
// table in primary-key order with one `COPY (SELECT * … ORDER BY pk) TO
// STDOUT` (text format; the statement has no values, so nothing to bind)
// inside a REPEATABLE READ, READ ONLY transaction, and hashes it in chunks of
// `chunk_rows` rows. A reader thread keeps receiving the next chunks while
// the current one is hashed, so PostgreSQL never waits for pgcdc. COPY,
// not a keyset-paginated SELECT: the server sends COPY rows markedly cheaper
// (BENCHMARKS.md, "pgcdc verify").
//
// Each row is rendered exactly as the WAL source renders it (the same session
// settings and pgtypes conversion as snapshots), then canonicalised and
// hashed (canonical.h).
//
// Threading: one thread; the connection is used exclusively while a scan
// object lives.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "codec/pgtypes/pgtypes.h"
#include "core/error.h"
#include "pg/conn.h"
#include "pg/table_name.h"
#include "verify/canonical.h"

namespace pgcdc::verify {

struct TableInfo {
  pg::TableName name;
  std::vector<std::string> columns;  // table order
  std::vector<uint32_t> type_oids;
  std::vector<std::string> key_columns;  // primary key order
};

// A row of the table while its callback runs.
class SourceRow {
 public:
  virtual ~SourceRow() = default;
  // Appends the row's canonical JSON without the columns in `mask`
  // (AppendCanonicalRow).
  virtual void AppendCanonical(uint64_t mask, std::string& out) const = 0;
};

struct ScanStats {
  uint64_t rows = 0;
  uint64_t chunks = 0;
  uint64_t value_errors = 0;  // values pgtypes could not type (sent as strings, as the WAL does)
  double seconds = 0;
};

class TableScan {
 public:
  // Applies the session settings, begins the read-only transaction, reads
  // the columns and the primary key. kNotFound: no such table;
  // kInvalidArgument: a bad name or no primary key.
  static Result<std::unique_ptr<TableScan>> Open(pg::Conn& conn, std::string_view table);

  const TableInfo& info() const { return info_; }

  using RowFn = std::function<void(const std::string& key, uint64_t hash, const SourceRow& row)>;
  // Called with the key of a row some rows before `fn` gets that row.
  using PrefetchFn = std::function<void(std::string_view key)>;
  // Calls `fn` for every row, in key order. `shape` must describe info().
  Result<ScanStats> Run(const RowShape& shape, size_t chunk_rows, const RowFn& fn,
                        const PrefetchFn& prefetch = {});

 private:
  TableScan(pg::Conn& conn) : conn_(conn) {}
  Status Describe(std::string_view table);
  Status ReadPrimaryKey();

  pg::Conn& conn_;
  pgtypes::TypeCatalog catalog_;
  TableInfo info_;
};

}  // namespace pgcdc::verify
