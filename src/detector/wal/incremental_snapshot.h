// Incremental (signal-table) snapshots for the wal detector (SPEC §2.2,
// events §1.5.3/§1.5.4), without the reference tool's quirks: schema-qualified
// tables work, and a stopped snapshot stays stopped.
//
// IncrementalSnapshots is owned by WalDetector::Run() and lives as long as
// the detector runs (across replication reconnects). Its public methods are
// called only on the detector thread: HandleSignal() once the transaction
// that inserted the signal has committed, ResumeRunning() after every
// (re)connect. Each active snapshot runs on its own thread (one per table)
// with its own connections (one to the data, one to the progress database).
// A chunk is one short REPEATABLE READ READ ONLY transaction:
//   SELECT * FROM "s"."t" WHERE ("k1", "k2") > ($1, $2) ORDER BY "k1", "k2"
//   LIMIT n
// after which pgcdc_snapshot_progress (created by migration 2) records the
// last key and the row count. The progress row's `status` is the single
// source of truth: `running` snapshots are resumed on (re)connect from
// `last_pk`; `stopped`, `completed` and `failed` never run again.
//
// Events are handed to the wal detector (PublishFn), which stamps them with
// Event::seq on its own thread, in order with WAL events. A chunk's progress
// is saved only once every adapter has delivered it (WaitFn), so after a
// crash nothing is missing: rows after last_pk are re-read, and only rows of
// the chunk in flight may repeat.
//
// The destructor stops every snapshot thread and joins it; their progress
// stays `running`, so the next start resumes them.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/event.h"
#include "detector/wal/signal.h"
#include "pg/conn.h"

namespace pgcdc::detector::wal {

inline constexpr std::string_view kIncrementalSource = "incremental_snapshot";
inline constexpr std::string_view kSnapshotControlChannel = "pgcdc:_snapshot";

struct IncrementalOptions {
  bool enabled = false;
  std::string signal_table = "pgcdc_signals";  // table or schema.table
  size_t chunk_size = 1000;
  std::chrono::milliseconds chunk_delay{0};
  std::string database_url;  // the tables to snapshot
  std::string progress_db;   // pgcdc_snapshot_progress (default: database_url)
};

// JSON array of the key's text values: ["1","abc"] (stored in last_pk).
std::string EncodeKey(const std::vector<std::string>& key);

// SNAPSHOT_STARTED / SNAPSHOT_COMPLETED payloads (keys sorted, SPEC §1.5.4).
std::string StartedPayload(size_t chunk_size, std::string_view snapshot_id, std::string_view table);
std::string CompletedPayload(int64_t duration_ms, uint64_t rows, std::string_view snapshot_id,
                             std::string_view table);

class IncrementalSnapshots {
 public:
  using PublishFn = std::function<bool(EventBatch&&)>;
  // Blocks until everything published so far has been delivered by every
  // adapter; false when stopping.
  using WaitFn = std::function<bool(std::stop_token)>;

  // `publish` and `wait_delivered` must stay callable (from any thread) until
  // destruction. A chunk's progress is saved only after wait_delivered.
  IncrementalSnapshots(IncrementalOptions options, PublishFn publish, WaitFn wait_delivered = {});
  ~IncrementalSnapshots();
  IncrementalSnapshots(const IncrementalSnapshots&) = delete;
  IncrementalSnapshots& operator=(const IncrementalSnapshots&) = delete;

  // Acts on a committed signal. Problems are logged (a signal never stops
  // the stream).
  void HandleSignal(const Signal& signal);
  // Starts a thread for every `running` snapshot that has none.
  void ResumeRunning();
  // Number of snapshot threads still running (for tests and logs).
  size_t active();

 private:
  struct Job;
  // Connects (and migrates) the detector thread's progress connection.
  Status EnsureControl();
  void Reap();
  Job* Active(const std::string& key);
  void StartJob(std::string snapshot_id, std::string table);
  void RunJob(Job& job, std::stop_token stop);

  IncrementalOptions options_;
  PublishFn publish_;
  WaitFn wait_;
  std::optional<pg::Conn> control_;                   // detector thread only
  std::map<std::string, std::unique_ptr<Job>> jobs_;  // by normalised table; detector thread
};

}  // namespace pgcdc::detector::wal
