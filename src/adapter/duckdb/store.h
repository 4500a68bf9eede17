// The duckdb sink's database (SPEC §5.19): the cdc_events table, the staging
// of delivered events, typed views, retention, and the /query executions.
// Implemented on DuckDB's C API in store_duckdb.cc (the only file of the sink
// that includes duckdb.h); store_none.cc when the build has no DuckDB.
//
// Threads: the writer side (Append … DeleteBefore, CreateView) is used by the
// adapter's worker thread only; Query()/Tables() by up to `query_threads`
// threads at once, each with its own connection; Close() after both stopped.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "adapter/duckdb/query.h"
#include "core/error.h"
#include "core/event.h"

namespace pgcdc::adapter::duckdb {

struct StoreOptions {
  std::string path = ":memory:";
  // Queries may only read (one SELECT per request; external access — files,
  // ATTACH, extensions — and configuration changes are off database-wide).
  bool readonly_queries = true;
  size_t query_threads = 2;
  size_t max_result_bytes = 16u << 20;
};

// The outcome of one /query execution.
struct QueryOutcome {
  enum class Kind { kOk, kSqlError, kRefused, kTimeout, kTooLarge };
  Kind kind = Kind::kOk;
  std::string body;  // kOk: the JSON array; else the message for the client
  uint64_t rows = 0;
};

class Store {
 public:
  // Opens (or creates) the database and the table. kIo with DuckDB's message
  // (e.g. the file is locked by another process); kUnimplemented when the
  // build has no DuckDB.
  [[nodiscard]] static Result<std::unique_ptr<Store>> Open(const StoreOptions& options);
  virtual ~Store() = default;

  // Stages one event (not yet visible, not yet durable): appended to
  // cdc_events through DuckDB's appender, and kept until Commit().
  [[nodiscard]] virtual Status Append(const Event& event) = 0;
  virtual size_t staged() const = 0;
  // Commits every staged row in one transaction (the appender's flush). A
  // batch DuckDB refuses (an id already stored or twice in it: a replay)
  // goes again through a staging table and INSERT OR REPLACE, where the last
  // copy of an id wins. On error the rows stay staged: nothing is reported
  // committed before a later Commit() stored them. After an error that can
  // leave DuckDB's state unlike the file's (I/O, a full disk) every later
  // Append()/Commit() fails: the process must reopen the database.
  [[nodiscard]] virtual Status Commit() = 0;
  // Deletes rows created before `micros` (µs since the epoch, UTC).
  [[nodiscard]] virtual Result<uint64_t> DeleteBefore(int64_t micros) = 0;
  [[nodiscard]] virtual Result<uint64_t> RowCount() = 0;
  [[nodiscard]] virtual Status CreateView(const RowSchema& schema, std::string_view channel) = 0;

  // Runs one request on query connection `slot` (< query_threads); a
  // timeout interrupts it (duckdb_interrupt).
  virtual QueryOutcome Query(size_t slot, const QueryRequest& request) = 0;
  // Interrupts whatever runs on every query connection (shutdown).
  virtual void InterruptQueries() = 0;
};

}  // namespace pgcdc::adapter::duckdb
