// outbox detector (SPEC §2.3): polls a transactional outbox table that
// applications fill inside their own transactions, and turns each row into an
// event (see outbox_event.h).
//
// One poll = one database transaction on a dedicated connection:
//   BEGIN
//   SELECT … WHERE processed_at IS NULL ORDER BY created_at, id LIMIT n
//       FOR UPDATE SKIP LOCKED
//   publish the events (each stamped with a detector-wide increasing seq)
//   wait until every adapter has finished with them (RunContext::acks)
//   DELETE the rows (or SET processed_at = clock_timestamp() with keep_processed)
//   COMMIT
// A full batch is followed by another poll at once; otherwise the detector
// waits poll_interval (a stop request interrupts the wait).
//
// Delivery guarantee: at-least-once. Unlike the reference implementation,
// which deletes rows as soon as they are in the bus, rows are only deleted or
// marked after delivery. Until then they stay locked, so other pgcdc
// instances skip them, and a crash (or a lost connection, or a stop before
// the adapters confirm) rolls the transaction back: the rows are delivered
// again later, so a consumer may see a row twice (with a new event id).
//
// Mistakes a retry cannot fix (missing table, wrong columns, no privilege)
// end the detector with a kInvalidArgument error before the first poll; any
// later error ends the connection and the detector reconnects with backoff.
//
// Thread: Run() executes on the pipeline's detector thread; stop is signalled
// through the RunContext stop token.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "core/backoff.h"
#include "core/supervisor.h"
#include "detector/detector.h"
#include "detector/outbox/outbox_event.h"
#include "registry/registry.h"

namespace pgcdc::pg {
class Conn;
}  // namespace pgcdc::pg

namespace pgcdc::detector::outbox {

// Also the connector's config struct: its outbox.* parameters bind to these
// fields, whose initializers are the defaults. database_url and stop_grace
// come from the core settings.
struct Options {
  std::string database_url;
  std::string table = "pgcdc_outbox";  // "table" or "schema.table", unquoted
  std::chrono::milliseconds poll_interval{500};
  int64_t batch_size = 100;
  bool keep_processed = false;
  BackoffPolicy backoff{.base = std::chrono::seconds(1),   // outbox.backoff_base
                        .cap = std::chrono::seconds(30)};  // outbox.backoff_cap
  // After a stop request, how long a batch already published may still wait
  // for the adapters' confirmation so it can be committed instead of being
  // re-delivered after the restart.
  std::chrono::milliseconds stop_grace{2500};
};

class OutboxDetector : public Detector {
 public:
  explicit OutboxDetector(Options options);
  std::string_view Name() const override { return "outbox"; }
  Status Run(RunContext& ctx) override;
  // `pgcdc doctor`: connects once and runs the startup check of the table.
  CheckList Doctor();

 private:
  // One connect-and-poll cycle (run by the Supervisor). Returns Ok when
  // stopped, else the error that ended it.
  Status RunCycle(detector::RunContext& ctx, Supervisor::Session& session);
  // Verifies that the table exists and that the statements we run work on it.
  Status CheckTable(pg::Conn& conn);
  // One poll transaction. *rows = rows handled; *stopped = a stop ended it
  // (the transaction was rolled back, nothing lost).
  Status PollOnce(detector::RunContext& ctx, const Sleeper& sleeper, pg::Conn& conn, size_t* rows,
                  bool* stopped);
  Options options_;
  std::string quoted_table_;
  OutboxSql sql_;
  uint64_t next_seq_ = 0;       // Event::seq counter, monotonic across cycles
  bool table_checked_ = false;  // the startup check passed once
};

}  // namespace pgcdc::detector::outbox
