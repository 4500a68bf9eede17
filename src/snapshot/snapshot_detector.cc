#include "snapshot/snapshot_detector.h"

#include <chrono>

#include "core/ack_poll.h"
#include "core/health.h"
#include "core/log.h"
#include "core/metrics.h"
#include "pipeline/ack_tracker.h"

namespace pgcdc::snapshot {

namespace {

// The wait for the last acknowledgement looks at the tracker at most this
// far apart.
constexpr std::chrono::milliseconds kAckPollMax{5};

}  // namespace

SnapshotDetector::SnapshotDetector(SnapshotDetectorOptions options)
    : options_(std::move(options)),
      rows_metric_(
          metrics::DefaultCounter("pgcdc_snapshot_rows_exported_total",
                                  "Rows exported by table snapshots (handed to the bus).")),
      duration_metric_(
          metrics::DefaultHistogram("pgcdc_snapshot_duration_seconds",
                                    "Duration of completed table snapshots, including delivery.",
                                    {1, 5, 10, 30, 60, 120, 300, 600})) {}

SnapshotDetector::~SnapshotDetector() = default;

Status SnapshotDetector::Prepare() {
  if (prepared_) return Ok();
  auto conn = pg::Conn::Open(options_.database_url);
  if (!conn) return Fail(conn.error());
  conn_ = std::move(*conn);
  if (auto st = PrepareSession(conn_); !st) return st;
  if (auto st = BeginSnapshotTransaction(conn_, options_.snapshot_name); !st) return st;
  snapshot_.emplace(conn_, catalog_, options_.snapshot);
  if (auto st = snapshot_->Describe(); !st) {
    (void)conn_.Exec("ROLLBACK");
    return st;
  }
  // The estimate covers the whole table; with a filter it says nothing.
  int64_t estimate = -1;
  if (options_.snapshot.where.empty()) {
    if (auto est = EstimateRows(conn_, options_.snapshot.table); est) {
      estimate = *est;
    } else {
      log::Debug("snapshot: no row estimate", {{"error", est.error().message()}});
    }
  }
  estimated_rows_ = estimate;
  prepared_ = true;
  return Ok();
}

Status SnapshotDetector::Run(detector::RunContext& ctx) {
  const auto start = std::chrono::steady_clock::now();
  if (auto st = Prepare(); !st) return st;
  if (ctx.health != nullptr) ctx.health->Up(ctx.health_name);
  if (options_.await_start && !options_.await_start(ctx.stop)) {
    (void)conn_.Exec("ROLLBACK");
    if (options_.on_finish) options_.on_finish(0, false);
    return Ok();  // stopped before the export began: completed() stays false
  }
  log::Info("snapshot started", {{"table", options_.snapshot.table},
                                 {"estimated_rows", estimated_rows_.load()},
                                 {"columns", static_cast<uint64_t>(snapshot_->columns().size())}});
  if (options_.on_start) options_.on_start(estimated_rows_.load());

  uint64_t seq = 0;
  auto publish = [&](EventBatch&& batch) -> bool {
    for (Event& e : batch.events) e.seq = ++seq;
    const size_t n = batch.events.size();
    if (!ctx.publish(std::move(batch))) return false;
    rows_.fetch_add(n);
    rows_metric_.Inc(n);
    return true;
  };
  auto progress = [&](uint64_t rows) {
    if (options_.on_progress) options_.on_progress(rows);
  };
  auto stats = snapshot_->Run(publish, progress, ctx.stop);
  if (!stats) {
    (void)conn_.Exec("ROLLBACK");
    if (options_.on_finish) options_.on_finish(rows_.load(), false);
    return Fail(stats.error().Wrap("snapshot " + options_.snapshot.table));
  }
  // Read-only: nothing to commit either way; ROLLBACK also ends a COPY-
  // cancelled (aborted) transaction cleanly.
  (void)conn_.Exec(stats->completed ? "COMMIT" : "ROLLBACK");
  if (stats->value_errors > 0) {
    log::Warn("snapshot: some values could not be typed and were exported as strings",
              {{"values", stats->value_errors}});
  }
  if (!stats->completed) {
    if (options_.on_finish) options_.on_finish(rows_.load(), false);
    log::Warn("snapshot interrupted", {{"table", options_.snapshot.table}, {"rows", rows_.load()}});
    return Ok();
  }
  completed_ = true;

  // Wait until every adapter is done with the last event, so "exit 0" means
  // "delivered", whatever the shutdown timeout.
  bool delivered = true;
  if (ctx.acks != nullptr && seq > 0) {
    // Ends early on a stop request.
    delivered =
        WaitForAck(*ctx.acks, seq, ctx.stop, {.max_pause = kAckPollMax}) == WaitResult::kDone;
  }
  delivered_ = delivered;
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  duration_seconds_ = secs;
  if (options_.on_finish) options_.on_finish(rows_.load(), true);
  if (delivered) {
    duration_metric_.Observe(secs);
    log::Info("snapshot complete",
              {{"table", options_.snapshot.table},
               {"rows", rows_.load()},
               {"duration_ms", static_cast<int64_t>(secs * 1000)},
               {"rows_per_second",
                static_cast<int64_t>(secs > 0 ? static_cast<double>(rows_.load()) / secs : 0)}});
  }
  return Ok();
}

}  // namespace pgcdc::snapshot
