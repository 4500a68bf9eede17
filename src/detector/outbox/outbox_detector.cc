#include "detector/outbox/outbox_detector.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "config/config.h"
#include "core/health.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/sleep.h"
#include "core/time.h"
#include "detector/delivery.h"
#include "pg/conn.h"
#include "registry/define.h"

namespace pgcdc::detector::outbox {

namespace {

using std::chrono::milliseconds;

struct Metrics {
  metrics::Counter& polls =
      metrics::DefaultCounter("pgcdc_outbox_polls_total", "Outbox poll transactions run.");
  metrics::Counter& events =
      metrics::DefaultCounter("pgcdc_outbox_events_total", "Events published from outbox rows.");
  metrics::Counter& committed = metrics::DefaultCounter(
      "pgcdc_outbox_rows_committed_total",
      "Outbox rows deleted (or marked processed) after every adapter finished with their events.");
  metrics::Counter& invalid =
      metrics::DefaultCounter("pgcdc_outbox_invalid_rows_total",
                              "Outbox rows with a NULL/empty channel or operation or a non-JSON "
                              "payload, emitted on pgcdc:_outbox_invalid.");
  metrics::Counter& errors = metrics::DefaultCounter("pgcdc_outbox_errors_total",
                                                     "Outbox poll cycles that ended in an error.");
  metrics::Gauge& inflight = metrics::DefaultGauge(
      "pgcdc_outbox_inflight_rows", "Outbox rows locked and published, waiting for the adapters.");
};

Metrics& M() { return metrics::Lazy<Metrics>(); }

int64_t Millis(milliseconds d) { return static_cast<int64_t>(d.count()); }

}  // namespace

OutboxDetector::OutboxDetector(Options options) : options_(std::move(options)) {
  // Validated by Connector().validate; a bad name here is a programming error
  // and surfaces as a failing CheckTable.
  auto quoted = QuoteTableName(options_.table);
  quoted_table_ = quoted ? *quoted : pg::QuoteIdentifier(options_.table);
  sql_ = MakeOutboxSql(quoted_table_, options_.keep_processed);
}

Status OutboxDetector::Run(detector::RunContext& ctx) {
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
  SupervisorOptions so = detector::SupervisorFor(ctx, "outbox", M().errors, options_.backoff);
  // A missing or unusable table is a setup mistake: report it instead of
  // retrying forever. Once the table was verified, everything is retried.
  so.is_fatal = [this](const Error& error, bool) {
    return !table_checked_ && error.code() == ErrorCode::kInvalidArgument;
  };
  Supervisor supervisor(std::move(so), ctx.stop);
  return supervisor.Run([&](Supervisor::Session& session) {
    Status st = RunCycle(ctx, session);
    M().inflight.Set(0);
    return st;
  });
}

Status OutboxDetector::RunCycle(detector::RunContext& ctx, Supervisor::Session& session) {
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
  session.Up();
  log::Info("polling", {{"detector", "outbox"},
                        {"table", options_.table},
                        {"batch_size", options_.batch_size},
                        {"poll_interval_ms", Millis(options_.poll_interval)}});

  const Sleeper& sleeper = session.sleeper();
  return PollLoop(
      sleeper, static_cast<size_t>(options_.batch_size), options_.poll_interval,
      [&](size_t* rows, bool* stopped) { return PollOnce(ctx, sleeper, *conn, rows, stopped); });
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

CheckList OutboxDetector::Doctor() {
  using Level = CheckResult::Level;
  auto conn = pg::Conn::Open(options_.database_url);
  if (!conn) {
    return FailedCheck("connect", conn.error().message(),
                       "check --db and that PostgreSQL accepts the connection");
  }
  CheckList out{{.name = "connect", .detail = pg::RedactUrl(options_.database_url)}};
  if (auto st = CheckTable(*conn); !st) {
    out.push_back({.level = Level::kFail, .name = "outbox table", .detail = st.error().message()});
    return out;
  }
  auto pending = conn->Query("SELECT count(*) FROM " + quoted_table_);
  out.push_back({.name = "outbox table",
                 .detail = options_.table + ", " +
                           (pending && !pending->empty() ? pending->front()[0].value_or("?")
                                                         : std::string("?")) +
                           " rows"});
  return out;
}

Status OutboxDetector::PollOnce(detector::RunContext& ctx, const Sleeper& sleeper, pg::Conn& conn,
                                size_t* rows, bool* stopped) {
  auto& m = M();
  if (auto st = conn.Exec("BEGIN"); !st) return Fail(st.error().Wrap("begin"));
  auto selected = conn.Query(sql_.select, {std::to_string(options_.batch_size)});
  if (!selected) return Fail(selected.error().Wrap("poll " + options_.table));
  m.polls.Inc();
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
      m.invalid.Inc();
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
  m.inflight.Set(static_cast<double>(ids.size()));
  m.events.Inc(ids.size());
  if (!ctx.publish(std::move(batch))) {
    // The bus no longer accepts events: shutting down. Rolling back keeps
    // the rows for the next run.
    (void)conn.Exec("ROLLBACK");
    *stopped = true;
    return Ok();
  }
  const DeliveryWaitOptions wait{
      .stop_grace = options_.stop_grace, .on_slow = [&](uint64_t delivered) {
        log::Warn("outbox: still waiting for the adapters to confirm a batch; its rows stay locked",
                  {{"detector", "outbox"},
                   {"rows", static_cast<uint64_t>(ids.size())},
                   {"delivered_seq", delivered},
                   {"batch_seq", last_seq}});
      }};
  if (!WaitDelivered(ctx, sleeper, last_seq, wait)) {
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
  m.committed.Inc(ids.size());
  m.inflight.Set(0);
  return Ok();
}

ConnectorInfo Connector() {
  return DefineDetector<Options>({
      .name = "outbox",
      .description =
          "Transactional outbox: polls a table filled by applications in their own transactions "
          "(`pgcdc init --table T --adapter outbox`) with FOR UPDATE SKIP LOCKED; rows are "
          "deleted (or marked processed) only after every adapter delivered them. At-least-once; "
          "several instances may share a table.",
      .params = Params({
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
          },
          ReconnectParams<Options>("outbox"),
      }),
      .validate =
          [](const Options& o, const Context& ctx, Errors& errors) {
            RequireDatabaseUrl(ctx, "outbox", errors);
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
            ValidateBackoff("outbox", o.backoff, errors);
          },
      .make = [](Options o, const Context& ctx) -> Result<DetectorPtr> {
        o.database_url = ctx.core.database_url;
        // Leave the adapters the other half of the shutdown budget.
        o.stop_grace = std::chrono::duration_cast<milliseconds>(ctx.core.shutdown_timeout) / 2;
        if (auto q = QuoteTableName(o.table); !q) return Fail(q.error());
        return std::make_unique<OutboxDetector>(std::move(o));
      },
      .check =
          [](Options o, const Context& ctx) {
            o.database_url = ctx.core.database_url;
            return OutboxDetector(std::move(o)).Doctor();
          },
  });
}

}  // namespace pgcdc::detector::outbox

PGCDC_REGISTER_CONNECTOR(detector, outbox, pgcdc::detector::outbox::Connector)
