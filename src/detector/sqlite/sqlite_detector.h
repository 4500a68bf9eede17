// sqlite detector (SPEC §2.4): polls the change table pgcdc_changes that the
// triggers from `pgcdc init --detector sqlite --table T --sqlite-db F` fill
// (setup_sql.h), and turns each row into an event (change_row.h).
//
// One poll: read up to batch_size pending rows in rowid order (a read, which
// in WAL mode blocks no writer), publish them, wait until every adapter has
// finished with them (RunContext::acks), then delete them — or mark them
// processed with keep_processed — in one short write statement covering
// rowid <= the batch's last. Writers wait at most for that statement.
// A full batch is followed by another poll at once; otherwise the detector
// waits poll_interval.
//
// Delivery guarantee: at-least-once. A crash (or kill -9) before the delete
// delivers the batch again after the restart, with the same event ids. Rows
// that cannot become events (table_name/operation NULL, row data that is not
// JSON) go to the dead letter queue, are counted, and are finished with the
// batch.
//
// Errors: a missing database file or change table ends the detector before
// the first poll with a hint (kInvalidArgument); later errors (a database
// busy beyond busy_timeout, I/O) end the connection and the detector reopens
// it with backoff.
//
// Thread: Run() executes on the pipeline's detector thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "core/retry_policy.h"
#include "core/supervisor.h"
#include "detector/detector.h"

namespace pgcdc::detector::sqlite {

class Db;
class Stmt;

// Also the connector's config struct (sqlite.* parameters).
struct Options {
  std::string db_path;
  std::chrono::milliseconds poll_interval{500};
  int64_t batch_size = 100;
  bool keep_processed = false;
  // How long a statement waits for another connection's lock.
  std::chrono::milliseconds busy_timeout{5000};
  RetryPolicy backoff{.base = std::chrono::seconds(1),   // sqlite.backoff_base
                      .cap = std::chrono::seconds(30)};  // sqlite.backoff_cap
  // After a stop request, how long a published batch may still wait for the
  // adapters so it can be finished instead of delivered again.
  std::chrono::milliseconds stop_grace{2500};
};

class SqliteDetector : public Detector {
 public:
  explicit SqliteDetector(Options options);
  std::string_view Name() const override { return "sqlite"; }
  Status Run(RunContext& ctx) override;

 private:
  struct Session;
  // One open-and-poll cycle (run by the Supervisor).
  Status RunCycle(RunContext& ctx, Supervisor::Session& session);
  // Opens the file, switches it to WAL mode, checks the change table and
  // prepares the statements.
  Result<Session> Open();
  // One poll. *rows = rows read; *stopped = a stop ended it (nothing
  // finished, the rows stay for the next run).
  Status PollOnce(RunContext& ctx, const Sleeper& sleeper, Session& s, size_t* rows, bool* stopped);
  // Records an unusable row in the dead letter queue.
  Status DeadLetter(RunContext& ctx, const Event& event, const std::string& reason);

  Options options_;
  uint32_t origin_ = 0;  // event id origin of this database file
  uint64_t next_seq_ = 0;
  bool checked_ = false;  // the start-up check passed once
};

}  // namespace pgcdc::detector::sqlite
