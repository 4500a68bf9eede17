#include "snapshot/snapshot_detector.h"

#include <chrono>
#include <thread>

#include "core/ack_poll.h"
#include "core/health.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/mutex.h"
#include "core/scope.h"
#include "pipeline/ack_tracker.h"

namespace pgcdc::snapshot {

namespace {

// The waits for acknowledgements look at the tracker at most this far apart.
constexpr std::chrono::milliseconds kAckPollMax{5};

metrics::Counter& ChunkCounter(std::string_view state) {
  return metrics::Default()
      .AddCounter("pgcdc_snapshot_chunks_total",
                  "Table snapshot chunks: done = acknowledged by every adapter in this run, "
                  "skipped = already done according to the state file.",
                  {"state"})
      .With({state});
}

}  // namespace

// What the workers share while Run() is exporting.
struct SnapshotDetector::Shared {
  detector::RunContext& ctx;
  std::stop_source stop;  // a worker's failure stops the others
  std::atomic<size_t> next_chunk{0};
  std::atomic<size_t> chunks_done{0};
  Mutex mu;                            // publishing order, seq, state file, error
  uint64_t seq GUARDED_BY(mu) = 0;     // last seq stamped
  Status error GUARDED_BY(mu) = Ok();  // the first worker failure
  bool state_warned GUARDED_BY(mu) = false;
  std::atomic<uint64_t> value_errors{0};
};

SnapshotDetector::SnapshotDetector(SnapshotDetectorOptions options)
    : options_(std::move(options)),
      rows_metric_(
          metrics::DefaultCounter("pgcdc_snapshot_rows_exported_total",
                                  "Rows exported by table snapshots (handed to the bus).")),
      duration_metric_(
          metrics::DefaultHistogram("pgcdc_snapshot_duration_seconds",
                                    "Duration of completed table snapshots, including delivery.",
                                    {1, 5, 10, 30, 60, 120, 300, 600})),
      chunks_done_metric_(ChunkCounter("done")),
      chunks_skipped_metric_(ChunkCounter("skipped")) {
  if (options_.workers == 0) options_.workers = 1;
  if (options_.chunk_pages == 0) options_.chunk_pages = 1;
}

SnapshotDetector::~SnapshotDetector() = default;

Result<std::unique_ptr<SnapshotDetector::Worker>> SnapshotDetector::OpenWorker(
    const std::string& snapshot_name) {
  auto conn = pg::Conn::Open(options_.database_url);
  if (!conn) return Fail(conn.error());
  auto w = std::make_unique<Worker>();
  w->conn = std::move(*conn);
  if (auto st = PrepareSession(w->conn); !st) return Fail(st.error());
  if (auto st = BeginSnapshotTransaction(w->conn, snapshot_name); !st) return Fail(st.error());
  w->snapshot.emplace(w->conn, w->catalog, options_.snapshot);
  if (auto st = w->snapshot->Describe(); !st) {
    (void)w->conn.Exec("ROLLBACK");
    return Fail(st.error());
  }
  return w;
}

Status SnapshotDetector::Prepare() {
  if (prepared_) return Ok();
  auto first = OpenWorker(options_.snapshot_name);
  if (!first) return Fail(first.error());
  workers_.push_back(std::move(*first));
  pg::Conn& conn = workers_[0]->conn;
  // The estimate covers the whole table; with a filter it says nothing.
  int64_t estimate = -1;
  if (options_.snapshot.where.empty()) {
    if (auto est = EstimateRows(conn, options_.snapshot.table); est) {
      estimate = *est;
    } else {
      log::Debug("snapshot: no row estimate", {{"error", est.error().message()}});
    }
  }
  if (auto st = PlanChunks(); !st) {
    EndTransactions(false);
    return st;
  }
  // A resumed run reads only part of the table.
  if (estimate > 0 && todo_.size() < chunks_.size()) {
    estimate =
        static_cast<int64_t>(static_cast<double>(estimate) * static_cast<double>(todo_.size()) /
                             static_cast<double>(chunks_.size()));
  }
  estimated_rows_ = estimate;
  if (auto st = OpenMoreWorkers(); !st) {
    EndTransactions(false);
    return st;
  }
  prepared_ = true;
  return Ok();
}

Status SnapshotDetector::PlanChunks() {
  auto layout = ReadTableLayout(workers_[0]->conn, workers_[0]->snapshot->table().Quoted());
  if (!layout) return Fail(layout.error());
  if (!options_.state_path.empty()) {
    if (auto st = LoadState(*layout); !st) return st;
  }
  const uint64_t chunk_pages = state_ ? state_->chunk_pages : options_.chunk_pages;
  chunks_ = layout->splittable ? snapshot::PlanChunks(layout->pages, chunk_pages)
                               : std::vector<PageRange>{PageRange{}};
  todo_.clear();
  for (const auto& c : chunks_) {
    if (!state_ || !state_->Covers(c)) todo_.push_back(c);
  }
  if (todo_.size() < chunks_.size()) {
    chunks_skipped_metric_.Inc(chunks_.size() - todo_.size());
    log::Info("snapshot resuming from the state file",
              {{"table", options_.snapshot.table},
               {"state", options_.state_path},
               {"chunks_done", static_cast<uint64_t>(chunks_.size() - todo_.size())},
               {"chunks_left", static_cast<uint64_t>(todo_.size())}});
  }
  return Ok();
}

Status SnapshotDetector::LoadState(const TableLayout& layout) {
  auto id = ReadIdentity(workers_[0]->conn);
  if (!id) return Fail(id.error());
  id->table = options_.snapshot.table;
  id->where = options_.snapshot.where;
  id->table_oid = layout.oid;
  auto loaded = LoadSnapshotState(options_.state_path);
  if (!loaded) {
    return Fail(ErrorCode::kConfig, loaded.error().message() +
                                        " (remove the file to start the export over, or pass "
                                        "another --snapshot-state)");
  }
  if (*loaded && (*loaded)->identity == *id) {
    state_ = std::move(**loaded);
    return Ok();
  }
  if (*loaded) {
    log::Warn(
        "snapshot: the state file belongs to another export (table, filter, database or "
        "table OID differ); starting over",
        {{"state", options_.state_path}, {"state_table", (*loaded)->identity.table}});
  }
  state_.emplace();
  state_->identity = std::move(*id);
  state_->chunk_pages = options_.chunk_pages;
  return Ok();
}

Status SnapshotDetector::OpenMoreWorkers() {
  const size_t n = std::min(options_.workers, std::max<size_t>(todo_.size(), 1));
  if (n <= 1) return Ok();
  std::string name = options_.snapshot_name;
  if (name.empty()) {
    auto rows = workers_[0]->conn.Query("SELECT pg_export_snapshot()");
    if (!rows) return Fail(rows.error().Wrap("export the snapshot for the workers"));
    if (rows->empty() || rows->front().empty() || !rows->front()[0]) {
      return Fail(ErrorCode::kProtocol, "pg_export_snapshot() returned nothing");
    }
    name = *rows->front()[0];
  }
  for (size_t i = 1; i < n; ++i) {
    auto w = OpenWorker(name);
    if (!w) return Fail(w.error().Wrap("snapshot worker " + std::to_string(i + 1)));
    workers_.push_back(std::move(*w));
  }
  return Ok();
}

void SnapshotDetector::EndTransactions(bool commit) {
  // Read-only: nothing to commit either way; ROLLBACK also ends a COPY-
  // cancelled (aborted) transaction cleanly.
  for (auto& w : workers_) (void)w->conn.Exec(commit ? "COMMIT" : "ROLLBACK");
}

bool SnapshotDetector::PublishChunkBatch(Shared& shared, EventBatch&& batch, uint64_t& last_seq) {
  const size_t n = batch.events.size();
  MutexLock lock(shared.mu);
  for (Event& e : batch.events) e.seq = ++shared.seq;
  if (!shared.ctx.publish(std::move(batch))) return false;
  last_seq = shared.seq;
  const uint64_t total = rows_.fetch_add(n) + n;
  rows_metric_.Inc(n);
  if (options_.on_progress) options_.on_progress(total);
  return true;
}

void SnapshotDetector::ChunkDone(Shared& shared, const PageRange& range) {
  chunks_done_metric_.Inc();
  shared.chunks_done.fetch_add(1);
  if (!state_) return;
  MutexLock lock(shared.mu);
  state_->MarkDone(range);
  if (auto st = SaveSnapshotState(options_.state_path, *state_); !st && !shared.state_warned) {
    shared.state_warned = true;
    log::Warn("snapshot: cannot save the state file; a rerun after a crash will start over",
              {{"error", st.error().message()}});
  }
}

// Takes chunks until none is left, the export stops or this worker fails.
void SnapshotDetector::RunWorker(Worker& w, Shared& shared) {
  const std::stop_token stop = shared.stop.get_token();
  for (;;) {
    const size_t i = shared.next_chunk.fetch_add(1);
    if (i >= todo_.size() || stop.stop_requested()) return;
    const PageRange range = todo_[i];
    w.snapshot->SetPageRange(range);
    uint64_t last_seq = 0;
    auto stats = w.snapshot->Run(
        [&](EventBatch&& batch) { return PublishChunkBatch(shared, std::move(batch), last_seq); },
        {}, stop);
    if (!stats) {
      MutexLock lock(shared.mu);
      if (shared.error) shared.error = Fail(stats.error().Wrap("chunk " + Describe(range)));
      shared.stop.request_stop();
      return;
    }
    shared.value_errors.fetch_add(stats->value_errors);
    if (!stats->completed) {
      shared.stop.request_stop();
      return;
    }
    // The chunk counts as done once every adapter has its rows; waiting here
    // bounds what a crash re-delivers to one chunk per worker.
    const pipeline::DeliveryWatermark* acks = shared.ctx.acks;
    if (acks != nullptr && last_seq > 0 &&
        WaitForAck(*acks, last_seq, stop, {.max_pause = kAckPollMax}) != WaitResult::kDone) {
      return;
    }
    ChunkDone(shared, range);
  }
}

Status SnapshotDetector::Run(detector::RunContext& ctx) {
  const auto start = std::chrono::steady_clock::now();
  if (auto st = Prepare(); !st) return st;
  if (ctx.health != nullptr) ctx.health->Up(ctx.health_name);
  if (options_.await_start && !options_.await_start(ctx.stop)) {
    EndTransactions(false);
    if (options_.on_finish) options_.on_finish(0, false);
    return Ok();  // stopped before the export began: completed() stays false
  }
  log::Info("snapshot started",
            {{"table", options_.snapshot.table},
             {"estimated_rows", estimated_rows_.load()},
             {"columns", static_cast<uint64_t>(workers_[0]->snapshot->columns().size())},
             {"workers", static_cast<uint64_t>(workers_.size())},
             {"chunks", static_cast<uint64_t>(todo_.size())}});
  if (options_.on_start) options_.on_start(estimated_rows_.load());

  Shared shared{.ctx = ctx};
  {
    MutexLock lock(shared.mu);
    shared.seq = options_.first_seq;
  }
  last_seq_ = options_.first_seq;
  std::stop_callback forward(ctx.stop, [&shared] { shared.stop.request_stop(); });
  {
    std::vector<std::jthread> threads;
    for (size_t i = 1; i < workers_.size(); ++i) {
      threads.emplace_back(scope::Bind([this, &shared, i] { RunWorker(*workers_[i], shared); }));
    }
    RunWorker(*workers_[0], shared);
  }  // joins the other workers
  Status error = Ok();
  {
    MutexLock lock(shared.mu);
    error = shared.error;
    last_seq_ = shared.seq;
  }
  const bool completed = error && shared.chunks_done.load() == todo_.size();
  EndTransactions(completed);
  if (shared.value_errors.load() > 0) {
    log::Warn("snapshot: some values could not be typed and were exported as strings",
              {{"values", shared.value_errors.load()}});
  }
  if (!error) {
    if (options_.on_finish) options_.on_finish(rows_.load(), false);
    return Fail(error.error().Wrap("snapshot " + options_.snapshot.table));
  }
  if (!completed) {
    if (options_.on_finish) options_.on_finish(rows_.load(), false);
    log::Warn("snapshot interrupted", {{"table", options_.snapshot.table}, {"rows", rows_.load()}});
    return Ok();
  }
  completed_ = true;
  FinishRun(ctx, shared, start);
  return Ok();
}

// After the last chunk: waits for the last acknowledgement, removes the state
// file, reports.
void SnapshotDetector::FinishRun(detector::RunContext& ctx, Shared& shared,
                                 std::chrono::steady_clock::time_point start) {
  uint64_t last = 0;
  {
    MutexLock lock(shared.mu);
    last = shared.seq;
  }
  // Ends early on a stop request; "exit 0" means "delivered", whatever the
  // shutdown timeout.
  bool delivered = true;
  if (ctx.acks != nullptr && last > options_.first_seq) {
    delivered =
        WaitForAck(*ctx.acks, last, ctx.stop, {.max_pause = kAckPollMax}) == WaitResult::kDone;
  }
  delivered_ = delivered;
  if (delivered && state_ && options_.remove_state_when_done) {
    if (auto st = RemoveSnapshotState(options_.state_path); !st) {
      log::Warn("snapshot: cannot remove the state file of the finished export",
                {{"error", st.error().message()}});
    }
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  duration_seconds_ = secs;
  if (options_.on_finish) options_.on_finish(rows_.load(), true);
  if (!delivered) return;
  duration_metric_.Observe(secs);
  log::Info("snapshot complete",
            {{"table", options_.snapshot.table},
             {"rows", rows_.load()},
             {"chunks", static_cast<uint64_t>(todo_.size())},
             {"chunks_skipped", static_cast<uint64_t>(chunks_skipped())},
             {"duration_ms", static_cast<int64_t>(secs * 1000)},
             {"rows_per_second",
              static_cast<int64_t>(secs > 0 ? static_cast<double>(rows_.load()) / secs : 0)}});
}

}  // namespace pgcdc::snapshot
