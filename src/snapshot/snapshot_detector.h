// SnapshotDetector: a one-shot detector that exports one table as SNAPSHOT
// events (TableSnapshot) inside REPEATABLE READ, READ ONLY transactions and
// then returns, which makes the pipeline stop and drain (`pgcdc snapshot`).
//
// Chunks and workers: the table's heap is cut into page ranges (chunk_plan.h)
// read with TID range scans by `workers` connections, which all read one
// snapshot: the first connection's (exported with pg_export_snapshot() when
// there is more than one worker) or the one named by `snapshot_name`.
// Relations without a heap of their own (views, partitioned tables) are one
// chunk. Events of different chunks interleave on the bus; each row is one
// event of one chunk.
//
// Resume: with a `state_path`, a chunk is marked done in the state file
// (snapshot_state.h) once every adapter acknowledged its last event, and a
// run that finds a state file of the same export skips the done chunks. A
// worker waits for that acknowledgement before it starts its next chunk, so
// a crash re-delivers at most one chunk per worker. A completed export
// removes the file.
//
// Lifecycle:
//   1. Prepare() (caller's thread, optional): connect every worker, session
//      settings, BEGIN (on the shared snapshot), describe the table, validate
//      the WHERE clause, read the row estimate, plan the chunks, read the
//      state file. Errors here are the user's (unknown table, bad WHERE,
//      connection refused: kInvalidArgument/kNotFound/kConnection; a corrupt
//      state file: kConfig) and nothing has been published yet.
//   2. Run() (detector thread): Prepare() if not done, then the workers
//      (the first on the calling thread) take chunks in order until none is
//      left; events are stamped with an increasing seq. Then it waits until
//      every adapter has acknowledged the last event (RunContext::acks) so
//      the pipeline's shutdown drain has nothing left to deliver. Returns Ok
//      also when a stop was requested midway; completed()/delivered() tell
//      the difference.
// Not restartable: one export per object. Connection loss is an error (a
// consistent snapshot cannot resume on a new connection; a new run resumes
// from the state file).
//
// Metrics: pgcdc_snapshot_rows_exported_total (rows handed to the bus),
// pgcdc_snapshot_duration_seconds (whole export incl. delivery, histogram),
// pgcdc_snapshot_chunks_total{state="done|skipped"} (chunks acknowledged in
// this run / skipped because a state file had them done).
//
// Threading: Prepare() and Run() must not overlap; the accessors are atomic
// and may be read from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "codec/pgtypes/pgtypes.h"
#include "core/metrics.h"
#include "detector/detector.h"
#include "pg/conn.h"
#include "snapshot/chunk_plan.h"
#include "snapshot/snapshot_state.h"
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
  // Connections reading chunks in parallel (>= 1).
  size_t workers = 1;
  // Pages per chunk (>= 1); a resumed run uses the state file's value.
  uint64_t chunk_pages = 1024;
  // State file for resuming; "" = none (a new run starts over).
  std::string state_path;
  // Remove the state file once the export is delivered. The WAL detector's
  // --snapshot-first keeps it until the slot's checkpoint covers the
  // snapshot, and removes it then.
  bool remove_state_when_done = true;
  // Event::seq of the first event is first_seq + 1 (a detector that goes on
  // publishing after the export continues from last_seq()).
  uint64_t first_seq = 0;
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
  // Event::seq of the last event published (first_seq when none).
  uint64_t last_seq() const { return last_seq_.load(); }
  // Chunks of this run's plan, and how many a state file had already done.
  size_t chunks_total() const { return chunks_.size(); }
  size_t chunks_skipped() const { return chunks_.size() - todo_.size(); }

 private:
  // One connection reading chunks, inside a transaction on the shared
  // snapshot.
  struct Worker {
    pg::Conn conn;
    pgtypes::TypeCatalog catalog;
    std::optional<TableSnapshot> snapshot;
  };
  // Shared by the workers during Run().
  struct Shared;

  Result<std::unique_ptr<Worker>> OpenWorker(const std::string& snapshot_name);
  Status PlanChunks();
  Status LoadState(const TableLayout& layout);
  Status OpenMoreWorkers();
  void RunWorker(Worker& w, Shared& shared);
  bool PublishChunkBatch(Shared& shared, EventBatch&& batch, uint64_t& last_seq);
  void ChunkDone(Shared& shared, const PageRange& range);
  void EndTransactions(bool commit);
  void FinishRun(detector::RunContext& ctx, Shared& shared,
                 std::chrono::steady_clock::time_point start);

  SnapshotDetectorOptions options_;
  std::vector<std::unique_ptr<Worker>> workers_;  // [0] prepares and exports
  std::vector<PageRange> chunks_;                 // the whole plan
  std::vector<PageRange> todo_;                   // minus those a state file had done
  std::optional<SnapshotState> state_;            // with state_path
  bool prepared_ = false;
  std::atomic<int64_t> estimated_rows_{-1};
  std::atomic<uint64_t> rows_{0};
  std::atomic<bool> completed_{false};
  std::atomic<bool> delivered_{false};
  std::atomic<double> duration_seconds_{0};
  std::atomic<uint64_t> last_seq_{0};
  // Registered on construction so /metrics shows them from the start.
  metrics::Counter& rows_metric_;
  metrics::Histogram& duration_metric_;
  metrics::Counter& chunks_done_metric_;
  metrics::Counter& chunks_skipped_metric_;
};

}  // namespace pgcdc::snapshot
