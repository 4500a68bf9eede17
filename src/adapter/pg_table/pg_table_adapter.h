// pg_table adapter (SPEC §5.7, fixed): inserts every event as a row
// (id, channel, operation, payload, source, created_at) into a PostgreSQL
// table, batch_size rows per multi-row INSERT. `pgcdc init --adapter
// pg_table --table T` prints the DDL.
//
// Failure handling (no event is acknowledged before its row is committed or
// it is in the DLQ):
//  - connection lost, server shutting down, serialization failure, read-only
//    server, missing privilege or table, …: back off (backoff_base …
//    backoff_cap, jittered), reconnect if needed and retry the rows not yet
//    committed. Events wait meanwhile; nothing is dropped.
//  - a row-level error (SQLSTATE class 22 data exception, 23 integrity
//    constraint violation, 44 check option, P0 trigger RAISE): the batch is
//    split in halves until the offending rows are found; the others are
//    inserted, each offending event goes to the DLQ with the server's error.
//    A duplicate key whose existing row is identical to ours (a retry after
//    a connection lost the COMMIT reply) counts as inserted, not as an error.
//  - the DLQ fails (or none is attached): Deliver/Flush return an error, the
//    event is not acknowledged.
//
// Threads: the adapter worker calls everything except Interrupt(), which may
// come from any thread and makes a blocked Deliver()/Flush() (backoff, a
// query in progress) return kCancelled promptly.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapter/retrying_adapter.h"
#include "pg/session.h"
#include "registry/registry.h"

namespace pgcdc::adapter::pg_table {

struct Options {
  std::string url;
  std::string table = "pgcdc_events";  // "table" or "schema.table", case-sensitive
  size_t batch_size = 100;
  BackoffPolicy backoff{std::chrono::seconds(1), std::chrono::seconds(30),
                        std::chrono::milliseconds(100)};
};

// --- pure helpers (unit tested) ---

// "t" -> "t" quoted; "s.t" -> "s"."t". Empty parts and more than one dot are
// rejected.
Result<std::string> QuoteTableName(std::string_view table);
// INSERT INTO <quoted> (id, channel, operation, payload, source, created_at)
// VALUES ($1, …, $6), … for `rows` rows.
std::string InsertSql(const std::string& quoted_table, size_t rows);

// What to do about a failed statement (shared with other PostgreSQL sinks).
using pg::ClassifyFailure;
using pg::Failure;

// The six bound values of an event's row.
std::vector<std::string> RowValues(const Event& event);

class PgTableAdapter : public RetryingAdapter {
 public:
  explicit PgTableAdapter(Options options);
  ~PgTableAdapter() override;

  // Pre-flight: connect, the table exists with the six columns and we may
  // INSERT into it.
  Status Open() override;
  // Buffers; writes whenever batch_size rows are waiting.
  Status Deliver(std::span<const Event* const> events) override;
  // Writes what is buffered; returns once every row is committed or
  // dead-lettered.
  Status Flush() override;
  void Close() override;

  using Outcome = pg::Outcome;

 private:
  struct Row {
    Event event;
    bool done = false;
  };
  Status WriteBuffered();
  // Writes rows_[begin, end) until each row is committed or dead-lettered,
  // retrying with backoff after connection loss and transient errors.
  Status WriteChunk(size_t begin, size_t end);
  // One attempt at the rows `idx` (all pending); bisects on row errors. On
  // a connection/transient failure it stops and fills `stopped`.
  Status InsertSet(std::span<const size_t> idx, Outcome& stopped);
  // A single row the server rejected: already present (identical), or DLQ.
  Status HandleRejected(Row& row, const Outcome& failure, Outcome& stopped);
  Status Connect();
  Outcome Run(const std::string& sql, const std::vector<std::string>& params) {
    return session_.Run(sql, params);
  }
  void Disconnect() { session_.Disconnect(); }

  Options options_;
  std::string quoted_table_;
  pg::Session session_;
  bool lost_connection_ = false;  // the next successful connect is a reconnect
  std::vector<Row> rows_;
};

ConnectorInfo Connector();

}  // namespace pgcdc::adapter::pg_table
