// SnapshotDetector: a one-shot detector that exports one table as SNAPSHOT
// events (TableSnapshot) inside a REPEATABLE READ, READ ONLY transaction and
// then returns, which makes the pipeline stop and drain (`pgcdc snapshot`).
//
// Lifecycle:
//   1. Prepare() (caller's thread, optional): connect, session settings,
//      BEGIN (optionally on an exported snapshot), describe the table,
//      validate the WHERE clause, read the row estimate. Errors here are the
//      user's (unknown table, bad WHERE, connection refused) and nothing has
//      been published yet, so the command can report them plainly.
//   2. Run() (detector thread): Prepare() if not done, stream every row in
//      batches of `batch_size` (each event stamped with an increasing seq),
//      end the transaction, then wait until every adapter has acknowledged
//      the last event (RunContext::acks) so the pipeline's shutdown drain has
//      nothing left to deliver. Returns Ok also when a stop was requested
//      midway; completed()/delivered() tell the difference.
// Not restartable: one export per object. Connection loss is an error (a
// consistent snapshot cannot resume on a new connection).
//
// Metrics: pgcdc_snapshot_rows_exported_total (rows handed to the bus) and
// pgcdc_snapshot_duration_seconds (whole export incl. delivery, histogram).
//
// Threading: Prepare() and Run() must not overlap; the accessors are atomic
// and may be read from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "codec/pgtypes/pgtypes.h"
#include "core/metrics.h"
#include "detector/detector.h"
#include "pg/conn.h"
#include "snapshot/table_snapshot.h"

namespace pgcdc::snapshot {

struct SnapshotDetectorOptions {
  std::string database_url;
  SnapshotOptions snapshot;   // table, where, snapshot_id, batch_size, max_row_bytes
  std::string snapshot_name;  // exported snapshot to adopt; "" = a fresh one
  // Called on the detector thread: on_start once with the row estimate (-1
  // unknown) before the first row, on_progress after every batch with the
  // rows published so far, on_finish once at the end (completed=false when
  // interrupted or failed; after the delivery wait when completed).
  std::function<void(int64_t estimated_rows)> on_start;
  // Called on the detector thread before the first row is read: blocks
  // until the export may start (e.g. a serving sink has a client); false =
  // stop requested, nothing is exported.
  std::function<bool(std::stop_token)> await_start;
  std::function<void(uint64_t rows)> on_progress;
  std::function<void(uint64_t rows, bool completed)> on_finish;
};

class SnapshotDetector : public detector::Detector {
 public:
  explicit SnapshotDetector(SnapshotDetectorOptions options);
  ~SnapshotDetector() override;

  std::string_view Name() const override { return "snapshot"; }

  // Connects and checks everything that can be checked before exporting.
  Status Prepare();
  Status Run(detector::RunContext& ctx) override;

  int64_t estimated_rows() const { return estimated_rows_.load(); }
  // Rows published to the bus.
  uint64_t rows() const { return rows_.load(); }
  // Every row was read and published.
  bool completed() const { return completed_.load(); }
  // ... and every adapter acknowledged all of them.
  bool delivered() const { return delivered_.load(); }
  double duration_seconds() const { return duration_seconds_.load(); }

 private:
  SnapshotDetectorOptions options_;
  pg::Conn conn_;
  pgtypes::TypeCatalog catalog_;
  std::optional<TableSnapshot> snapshot_;
  bool prepared_ = false;
  std::atomic<int64_t> estimated_rows_{-1};
  std::atomic<uint64_t> rows_{0};
  std::atomic<bool> completed_{false};
  std::atomic<bool> delivered_{false};
  std::atomic<double> duration_seconds_{0};
  // Registered on construction so /metrics shows them from the start.
  metrics::Counter& rows_metric_;
  metrics::Histogram& duration_metric_;
};

}  // namespace pgcdc::snapshot
