#include "detector/outbox/outbox_detector.h"

#include <algorithm>
#include <thread>
#include <utility>
#include <vector>

#include "core/health.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/stop_waker.h"
#include "core/time.h"
#include "pg/conn.h"
#include "pipeline/ack_tracker.h"
#include "registry/define.h"

namespace pgcdc::detector::outbox {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// While a batch waits for the adapters, the ack watermark is re-read with an
// exponentially growing pause up to this bound.
constexpr milliseconds kAckPollMax{20};
// Before that, a few short pauses catch the common fast confirmation.
constexpr int kAckSpins = 20;
constexpr std::chrono::microseconds kAckSpinPause{50};
// A batch waiting longer than this is reported (and again at this interval).
constexpr milliseconds kAckWarnInterval{30000};

struct Metrics {
  metrics::Counter* polls;
  metrics::Counter* events;
  metrics::Counter* committed;
  metrics::Counter* invalid;
  metrics::Counter* errors;
  metrics::Counter* reconnects;
  metrics::Gauge* inflight;
  metrics::Gauge* connected;
  Metrics() {
    auto& r = metrics::Default();
    polls = &r.AddCounter("pgcdc_outbox_polls_total", "Outbox poll transactions run.").Get();
    events = &r.AddCounter("pgcdc_outbox_events_total", "Events published from outbox rows.").Get();
    committed = &r.AddCounter("pgcdc_outbox_rows_committed_total",
                              "Outbox rows deleted (or marked processed) after every adapter "
                              "finished with their events.")
                     .Get();
    invalid = &r.AddCounter("pgcdc_outbox_invalid_rows_total",
                            "Outbox rows with a NULL/empty channel or operation or a non-JSON "
                            "payload, emitted on pgcdc:_outbox_invalid.")
                   .Get();
    errors =
        &r.AddCounter("pgcdc_outbox_errors_total", "Outbox poll cycles that ended in an error.")
             .Get();
    reconnects = &r.AddCounter("pgcdc_detector_reconnects_total",
                               "Reconnections after a lost source connection.", {"detector"})
                      .With({"outbox"});
    inflight = &r.AddGauge("pgcdc_outbox_inflight_rows",
                           "Outbox rows locked and published, waiting for the adapters.")
                    .Get();
    connected = &r.AddGauge("pgcdc_detector_connected",
                            "1 while the detector holds a live source connection.", {"detector"})
                     .With({"outbox"});
  }
};

Metrics& M() {
  static Metrics m;
  return m;
}

int64_t Millis(milliseconds d) { return static_cast<int64_t>(d.count()); }

}  // namespace

OutboxDetector::OutboxDetector(Options options) : options_(std::move(options)) {
  // Validated by Connector().validate; a bad name here is a programming error
  // and surfaces as a failing CheckTable.
  auto quoted = QuoteTableName(options_.table);
  quoted_table_ = quoted ? *quoted : pg::QuoteIdentifier(options_.table);
  sql_ = MakeOutboxSql(quoted_table_, options_.keep_processed);
}

Status OutboxDetector::Run(RunContext& ctx) {
  StopWaker waker(ctx.stop);
  Backoff backoff(options_.backoff);
  log::Info("starting detector", {{"detector", "outbox"},
                                  {"db", pg::RedactUrl(options_.database_url)},
                                  {"table", options_.table},
                                  {"keep_processed", options_.keep_processed}});
  if (ctx.acks == nullptr || ctx.acks->size() == 0) {
    log::Warn(
        "outbox: no delivery tracking available; rows are finished as soon as they are "
        "published",
        {{"detector", "outbox"}});
  }
  while (!ctx.stop.stop_requested()) {
    bool polled = false;
    Status st = RunCycle(ctx, waker, &polled);
    M().connected->Set(0);
    M().inflight->Set(0);
    if (st || ctx.stop.stop_requested()) return Ok();
    if (polled) backoff.Reset();
    // A missing or unusable table is a setup mistake: report it instead of
    // retrying forever. Once the table was verified, everything is retried.
    if (!table_checked_ && st.error().code() == ErrorCode::kInvalidArgument) {
      return Fail(st.error());
    }
    M().errors->Inc();
    if (ctx.health != nullptr) ctx.health->Down(ctx.health_name, st.error().message());
    const auto delay = backoff.Next();
    log::Warn("connection lost, reconnecting", {{"detector", "outbox"},
                                                {"error", st.error().message()},
                                                {"attempt", backoff.attempt()},
                                                {"retry_in_ms", Millis(delay)}});
    if (!waker.SleepFor(delay)) return Ok();
  }
  return Ok();
}

Status OutboxDetector::RunCycle(RunContext& ctx, const StopWaker& waker, bool* polled) {
  auto conn = pg::Conn::Open(options_.database_url);
  if (!conn) return Fail(conn.error());
  if (auto st = CheckTable(*conn); !st) return st;
  table_checked_ = true;
  // The poll transaction is idle on purpose while adapters deliver; a server
  // default that kills idle transactions would turn every slow delivery into
  // a re-delivery.
  if (auto st = conn->Exec("SET idle_in_transaction_session_timeout = 0"); !st) {
    return Fail(st.error().Wrap("configure session"));
  }
  if (ever_connected_) M().reconnects->Inc();
  ever_connected_ = true;
  M().connected->Set(1);
  if (ctx.health != nullptr) ctx.health->Up(ctx.health_name);
  log::Info("polling", {{"detector", "outbox"},
                        {"table", options_.table},
                        {"batch_size", options_.batch_size},
                        {"poll_interval_ms", Millis(options_.poll_interval)}});

  while (!ctx.stop.stop_requested()) {
    size_t rows = 0;
    bool stopped = false;
    if (auto st = PollOnce(ctx, waker, *conn, &rows, &stopped); !st) return st;
    if (stopped) return Ok();
    *polled = true;
    // A full batch suggests more rows are waiting: poll again at once.
    if (rows < static_cast<size_t>(options_.batch_size) &&
        !waker.SleepFor(options_.poll_interval)) {
      return Ok();
    }
  }
  return Ok();
}

Status OutboxDetector::CheckTable(pg::Conn& conn) {
  auto exists = conn.Query(sql_.exists, {quoted_table_});
  if (!exists) return Fail(exists.error().Wrap("check outbox table " + options_.table));
  if (exists->empty() || exists->front().empty() || exists->front()[0] != "t") {
    return Fail(ErrorCode::kInvalidArgument,
                "outbox table " + options_.table +
                    " does not exist; create it with: pgcdc init --table " + options_.table +
                    " --adapter outbox | psql <database-url>");
  }
  // Run every statement once on no rows: wrong column names or types and
  // missing privileges show up now, with a clear message, instead of as a
  // retry loop.
  Status st = conn.Exec("BEGIN");
  if (st) {
    auto r = conn.Query(sql_.select, {std::string("0")});
    if (!r) st = Fail(r.error());
  }
  if (st) {
    auto r = conn.Query(sql_.finish, {std::string("{}")});
    if (!r) st = Fail(r.error());
  }
  if (st) st = conn.Exec("ROLLBACK");
  if (!st) {
    if (!conn.ok()) return Fail(st.error().Wrap("check outbox table " + options_.table));
    return Fail(ErrorCode::kInvalidArgument,
                "outbox table " + options_.table + " cannot be used: " + st.error().message() +
                    " (expected columns id uuid, channel text, operation text, payload jsonb, "
                    "created_at timestamptz, processed_at timestamptz, and SELECT, UPDATE and "
                    "DELETE privileges; see pgcdc init --table " +
                    options_.table + " --adapter outbox)");
  }
  return Ok();
}

Status OutboxDetector::PollOnce(RunContext& ctx, const StopWaker& waker, pg::Conn& conn,
                                size_t* rows, bool* stopped) {
  auto& m = M();
  if (auto st = conn.Exec("BEGIN"); !st) return Fail(st.error().Wrap("begin"));
  auto selected = conn.Query(sql_.select, {std::to_string(options_.batch_size)});
  if (!selected) return Fail(selected.error().Wrap("poll " + options_.table));
  m.polls->Inc();
  *rows = selected->size();
  if (selected->empty()) {
    if (auto st = conn.Exec("COMMIT"); !st) return Fail(st.error().Wrap("commit"));
    return Ok();
  }

  EventBatch batch;
  batch.events.reserve(selected->size());
  std::vector<std::string> ids;
  ids.reserve(selected->size());
  const int64_t now = NowUnixNanos();
  for (auto& r : *selected) {
    OutboxRow row;
    row.id = r[0].value_or("");
    row.channel = std::move(r[1]);
    row.operation = std::move(r[2]);
    row.payload = std::move(r[3]);
    RowEvent re = MakeOutboxEvent(row, options_.table, now);
    if (!re.invalid_reason.empty()) {
      m.invalid->Inc();
      log::Warn("outbox: invalid row emitted on " + std::string(kInvalidChannel),
                {{"detector", "outbox"},
                 {"table", options_.table},
                 {"id", row.id},
                 {"reason", re.invalid_reason}});
    }
    re.event.seq = ++next_seq_;
    batch.events.push_back(std::move(re.event));
    ids.push_back(std::move(row.id));
  }
  const uint64_t last_seq = next_seq_;
  m.inflight->Set(static_cast<double>(ids.size()));
  m.events->Inc(ids.size());
  if (!ctx.publish(std::move(batch))) {
    // The bus no longer accepts events: shutting down. Rolling back keeps
    // the rows for the next run.
    (void)conn.Exec("ROLLBACK");
    *stopped = true;
    return Ok();
  }
  if (!WaitDelivered(ctx, waker, last_seq, ids.size())) {
    (void)conn.Exec("ROLLBACK");
    log::Info(
        "outbox: stopped before the adapters confirmed the last batch; its rows stay in "
        "the table and will be delivered again",
        {{"detector", "outbox"}, {"rows", static_cast<uint64_t>(ids.size())}});
    *stopped = true;
    return Ok();
  }
  auto finished = conn.Query(sql_.finish, {UuidArrayLiteral(ids)});
  if (!finished) return Fail(finished.error().Wrap("finish rows in " + options_.table));
  if (auto st = conn.Exec("COMMIT"); !st) return Fail(st.error().Wrap("commit"));
  m.committed->Inc(ids.size());
  m.inflight->Set(0);
  return Ok();
}

bool OutboxDetector::WaitDelivered(RunContext& ctx, const StopWaker& waker, uint64_t seq,
                                   size_t rows) {
  if (ctx.acks == nullptr || ctx.acks->size() == 0) return true;
  auto delivered = [&] { return ctx.acks->DeliveredThrough() >= seq; };
  milliseconds pause{1};
  int spins = 0;
  auto next_warn = Clock::now() + kAckWarnInterval;
  while (!delivered()) {
    if (ctx.stop.stop_requested()) {
      // Adapters keep draining during shutdown: give them a moment so the
      // batch can still be committed rather than re-delivered.
      const auto deadline = Clock::now() + options_.stop_grace;
      while (!delivered()) {
        if (Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(milliseconds(2));
      }
      return true;
    }
    if (spins < kAckSpins) {
      // Sinks usually confirm within a fraction of a millisecond.
      ++spins;
      std::this_thread::sleep_for(kAckSpinPause);
      continue;
    }
    waker.SleepFor(pause);
    pause = std::min(pause * 2, kAckPollMax);
    if (Clock::now() >= next_warn) {
      log::Warn("outbox: still waiting for the adapters to confirm a batch; its rows stay locked",
                {{"detector", "outbox"},
                 {"rows", static_cast<uint64_t>(rows)},
                 {"delivered_seq", ctx.acks->DeliveredThrough()},
                 {"batch_seq", seq}});
      next_warn = Clock::now() + kAckWarnInterval;
    }
  }
  return true;
}

ConnectorInfo Connector() {
  return DefineDetector<Options>({
      .name = "outbox",
      .description =
          "Transactional outbox: polls a table filled by applications in their own transactions "
          "(`pgcdc init --table T --adapter outbox`) with FOR UPDATE SKIP LOCKED; rows are "
          "deleted (or marked processed) only after every adapter delivered them. At-least-once; "
          "several instances may share a table.",
      .params =
          {
              Param("outbox.table", &Options::table,
                    "outbox table, table or schema.table (case-sensitive; pgcdc quotes it)"),
              Param("outbox.poll_interval", &Options::poll_interval,
                    "pause between polls that found less than a full batch", {.min = 1}),
              Param("outbox.batch_size", &Options::batch_size,
                    "rows per poll transaction (all stay locked until delivered)",
                    {.min = 1, .max = 100000}),
              Param("outbox.keep_processed", &Options::keep_processed,
                    "set processed_at on delivered rows instead of deleting them"),
              ParamAt<Options>(
                  "outbox.backoff_base", [](auto& o) -> auto& { return o.backoff.base; },
                  "reconnect backoff base (full jitter, doubles per attempt)", {.min = 1}),
              ParamAt<Options>("outbox.backoff_cap", [](auto& o) -> auto& { return o.backoff.cap; },
                               "reconnect backoff cap", {.min = 1}),
          },
      .validate =
          [](const Options& o, const Context& ctx, Errors& errors) {
            if (ctx.core.database_url.empty()) {
              errors.push_back(
                  "database_url: required for detector outbox (--db, PGCDC_DATABASE_URL or "
                  "database_url in the config file)");
            }
            if (auto q = QuoteTableName(o.table); !q) {
              errors.push_back("outbox.table: " + q.error().message());
            }
            // One batch is in flight at a time and the adapter queues are
            // empty when it is published; if it fits, fast mode never drops
            // outbox events.
            if (ctx.core.bus_mode == "fast" && o.batch_size > ctx.core.bus_buffer_size) {
              errors.push_back("outbox.batch_size: " + std::to_string(o.batch_size) +
                               " is larger than bus.buffer_size (" +
                               std::to_string(ctx.core.bus_buffer_size) +
                               "); fast mode would drop the rest of a batch (lower "
                               "--outbox-batch-size, raise --bus-buffer or use --bus-mode "
                               "reliable)");
            }
            if (o.backoff.cap < o.backoff.base) {
              errors.push_back("outbox.backoff_cap: must be >= outbox.backoff_base");
            }
          },
      .make = [](Options o, const Context& ctx) -> Result<DetectorPtr> {
        o.database_url = ctx.core.database_url;
        // Leave the adapters the other half of the shutdown budget.
        o.stop_grace = std::chrono::duration_cast<milliseconds>(ctx.core.shutdown_timeout) / 2;
        if (auto q = QuoteTableName(o.table); !q) return Fail(q.error());
        return std::make_unique<OutboxDetector>(std::move(o));
      },
  });
}

}  // namespace pgcdc::detector::outbox

PGCDC_REGISTER_CONNECTOR(detector, outbox, pgcdc::detector::outbox::Connector)
