#include "detector/sqlite/sqlite_detector.h"

#include <filesystem>
#include <utility>
#include <vector>

#include "core/log.h"
#include "core/metrics.h"
#include "core/sleep.h"
#include "core/time.h"
#include "core/uuid.h"
#include "detector/delivery.h"
#include "detector/sqlite/change_row.h"
#include "detector/sqlite/setup_sql.h"
#include "detector/sqlite/sqlite_db.h"
#include "dlq/dlq.h"
#include "registry/define.h"

namespace pgcdc::detector::sqlite {

namespace {

using std::chrono::milliseconds;

struct Metrics {
  metrics::Counter& polls =
      metrics::DefaultCounter("pgcdc_sqlite_polled_total", "SQLite change-table polls run.");
  metrics::Counter& events = metrics::DefaultCounter("pgcdc_sqlite_events_processed_total",
                                                     "Events published from SQLite change rows.");
  metrics::Counter& finished = metrics::DefaultCounter(
      "pgcdc_sqlite_rows_finished_total",
      "SQLite change rows deleted (or marked processed) after every adapter finished with them.");
  metrics::Counter& invalid = metrics::DefaultCounter(
      "pgcdc_sqlite_invalid_rows_total",
      "SQLite change rows that could not become events (sent to the dead letter queue).");
  metrics::Counter& errors = metrics::DefaultCounter("pgcdc_sqlite_errors_total",
                                                     "SQLite poll cycles that ended in an error.");
};

Metrics& M() { return metrics::Lazy<Metrics>(); }

std::string SetupHint(const std::string& path) {
  return "create it with: pgcdc init --detector sqlite --table <table> --sqlite-db " + path +
         " --apply";
}

// The file's identity for event ids: its absolute path.
uint32_t OriginOf(const std::string& path) {
  std::error_code ec;
  auto abs = std::filesystem::absolute(path, ec);
  return PositionOrigin("sqlite:" + (ec ? path : abs.string()));
}

}  // namespace

struct SqliteDetector::Session {
  Db db;
  Stmt select;
  Stmt finish;
};

SqliteDetector::SqliteDetector(Options options)
    : options_(std::move(options)), origin_(OriginOf(options_.db_path)) {}

Status SqliteDetector::Run(RunContext& ctx) {
  log::Info("starting detector", {{"detector", "sqlite"},
                                  {"db", options_.db_path},
                                  {"keep_processed", options_.keep_processed}});
  SupervisorOptions so = SupervisorFor(ctx, "sqlite", M().errors, options_.backoff);
  so.is_fatal = [this](const Error& error, bool) {
    return !checked_ && error.code() == ErrorCode::kInvalidArgument;
  };
  Supervisor supervisor(std::move(so), ctx.stop);
  return supervisor.Run([&](Supervisor::Session& session) { return RunCycle(ctx, session); });
}

Result<SqliteDetector::Session> SqliteDetector::Open() {
  auto db = Db::Open(options_.db_path, {.busy_timeout = options_.busy_timeout});
  if (!db) return Fail(db.error());
  auto mode = db->QueryText("PRAGMA journal_mode = WAL");
  if (!mode) return Fail(mode.error().Wrap("set WAL mode"));
  if (!*mode || **mode != "wal") {
    log::Warn("sqlite: the database is not in WAL mode; writers wait while pgcdc reads",
              {{"detector", "sqlite"}, {"journal_mode", mode->value_or("")}});
  }
  auto exists = db->QueryText(
      "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'pgcdc_changes'");
  if (!exists) return Fail(exists.error().Wrap("check change table"));
  if (!*exists || **exists == "0") {
    return Fail(ErrorCode::kInvalidArgument, "SQLite database " + options_.db_path +
                                                 " has no change table pgcdc_changes; " +
                                                 SetupHint(options_.db_path));
  }
  auto select = db->Prepare(
      "SELECT rowid, table_name, operation, row_data, old_data, created_at FROM pgcdc_changes "
      "WHERE processed = 0 ORDER BY rowid LIMIT ?1");
  auto finish = db->Prepare(options_.keep_processed
                                ? "UPDATE pgcdc_changes SET processed = 1 WHERE rowid <= ?1 "
                                  "AND processed = 0"
                                : "DELETE FROM pgcdc_changes WHERE rowid <= ?1 AND processed = 0");
  if (!select || !finish) {
    const Error& e = !select ? select.error() : finish.error();
    if (e.code() == ErrorCode::kConnection) return Fail(e);  // busy: retry
    return Fail(ErrorCode::kInvalidArgument,
                "SQLite change table pgcdc_changes in " + options_.db_path +
                    " cannot be used: " + e.message() +
                    " (expected columns rowid, table_name, operation, row_data, old_data, "
                    "created_at, processed; " +
                    SetupHint(options_.db_path) + ")");
  }
  if (auto st = select->Bind(1, options_.batch_size); !st) return Fail(st.error());
  return Session{std::move(*db), std::move(*select), std::move(*finish)};
}

Status SqliteDetector::RunCycle(RunContext& ctx, Supervisor::Session& session) {
  auto s = Open();
  if (!s) return Fail(s.error());
  checked_ = true;
  session.Up();
  log::Info("polling",
            {{"detector", "sqlite"},
             {"db", options_.db_path},
             {"batch_size", options_.batch_size},
             {"poll_interval_ms", static_cast<int64_t>(options_.poll_interval.count())}});
  const Sleeper& sleeper = session.sleeper();
  return PollLoop(
      sleeper, static_cast<size_t>(options_.batch_size), options_.poll_interval,
      [&](size_t* rows, bool* stopped) { return PollOnce(ctx, sleeper, *s, rows, stopped); });
}

Status SqliteDetector::DeadLetter(RunContext& ctx, const Event& event, const std::string& reason) {
  M().invalid.Inc();
  log::Warn("sqlite: change row cannot become an event; sent to the dead letter queue",
            {{"detector", "sqlite"}, {"reason", reason}, {"row", event.payload}});
  if (ctx.dlq == nullptr) return Ok();  // logged above in full
  if (auto st = ctx.dlq->Record(event, "sqlite", reason); !st) {
    return Fail(st.error().Wrap("record invalid change row in the dead letter queue"));
  }
  return Ok();
}

Status SqliteDetector::PollOnce(RunContext& ctx, const Sleeper& sleeper, Session& s, size_t* rows,
                                bool* stopped) {
  auto& m = M();
  m.polls.Inc();
  EventBatch batch;
  int64_t last_rowid = 0;
  const int64_t now = NowUnixNanos();
  s.select.Reset();
  while (true) {
    auto more = s.select.Step();
    if (!more) return Fail(more.error().Wrap("poll pgcdc_changes"));
    if (!*more) break;
    ChangeRow row{.rowid = s.select.Int(0),
                  .table_name = s.select.Text(1),
                  .operation = s.select.Text(2),
                  .row_data = s.select.Text(3),
                  .old_data = s.select.Text(4),
                  .created_at = s.select.Text(5)};
    ++*rows;
    last_rowid = row.rowid;
    ChangeEvent ce = MakeChangeEvent(row, origin_, now);
    if (!ce.invalid_reason.empty()) {
      if (auto st = DeadLetter(ctx, ce.event, ce.invalid_reason); !st) return st;
      continue;
    }
    ce.event.seq = ++next_seq_;
    batch.events.push_back(std::move(ce.event));
  }
  s.select.Reset();  // ends the read transaction
  if (*rows == 0) return Ok();
  const size_t events = batch.events.size();
  if (events > 0) {
    const uint64_t last_seq = next_seq_;
    m.events.Inc(events);
    if (!ctx.publish(std::move(batch))) {
      *stopped = true;  // shutting down; the rows stay
      return Ok();
    }
    const DeliveryWaitOptions wait{
        .stop_grace = options_.stop_grace, .on_slow = [&](uint64_t delivered) {
          log::Warn("sqlite: still waiting for the adapters to confirm a batch",
                    {{"detector", "sqlite"},
                     {"rows", static_cast<uint64_t>(events)},
                     {"delivered_seq", delivered},
                     {"batch_seq", last_seq}});
        }};
    if (!WaitDelivered(ctx, sleeper, last_seq, wait)) {
      log::Info(
          "sqlite: stopped before the adapters confirmed the last batch; its rows stay and "
          "will be delivered again",
          {{"detector", "sqlite"}, {"rows", static_cast<uint64_t>(events)}});
      *stopped = true;
      return Ok();
    }
  }
  s.finish.Reset();
  if (auto st = s.finish.Bind(1, last_rowid); !st) return st;
  if (auto done = s.finish.Step(); !done) return Fail(done.error().Wrap("finish change rows"));
  s.finish.Reset();
  m.finished.Inc(*rows);
  return Ok();
}

namespace {

Result<std::vector<std::string>> TableColumns(Db& db, const std::string& table) {
  auto stmt = db.Prepare("SELECT name FROM pragma_table_info(?1)");
  if (!stmt) return Fail(stmt.error());
  if (auto st = stmt->Bind(1, std::string_view(table)); !st) return Fail(st.error());
  std::vector<std::string> columns;
  while (true) {
    auto row = stmt->Step();
    if (!row) return Fail(row.error());
    if (!*row) break;
    columns.push_back(stmt->Text(0).value_or(""));
  }
  if (columns.empty()) {
    return Fail(ErrorCode::kInvalidArgument,
                "table " + table + " not found in SQLite database " + db.path());
  }
  return columns;
}

Result<std::string> Setup(const Options& o, const SetupRequest& request) {
  if (o.db_path.empty()) {
    return Fail(ErrorCode::kInvalidArgument, "name the database file with --sqlite-db");
  }
  auto db = Db::Open(o.db_path, {.busy_timeout = o.busy_timeout});
  if (!db) return Fail(db.error());
  auto columns = TableColumns(*db, request.table);
  if (!columns) return Fail(columns.error());
  auto script = SetupScript(o.db_path, request.table, *columns);
  if (!script) return Fail(script.error());
  if (request.apply) {
    if (auto st = db->Exec(*script); !st) {
      (void)db->Exec("ROLLBACK");
      return Fail(st.error().Wrap("apply the setup to " + o.db_path));
    }
  }
  return script;
}

using Level = CheckResult::Level;

// The change table's state: present, usable, backlog, triggers feeding it.
void CheckChangeTable(Db& db, const std::string& path, CheckList& out) {
  auto count = db.QueryText("SELECT count(*) FROM pgcdc_changes WHERE processed = 0");
  if (!count) {
    const bool missing = count.error().message().find("no such table") != std::string::npos;
    out.push_back({.level = Level::kFail,
                   .name = "change table",
                   .detail = missing ? "pgcdc_changes not found" : count.error().message(),
                   .hint = SetupHint(path)});
    return;
  }
  out.push_back({.name = "change table",
                 .detail = "pgcdc_changes, " + count->value_or("0") + " rows pending"});
  auto triggers = db.QueryText(
      "SELECT group_concat(DISTINCT tbl_name) FROM sqlite_master WHERE type = 'trigger' AND "
      "sql LIKE '%pgcdc_changes%'");
  const std::string tables = triggers && *triggers ? **triggers : "";
  out.push_back(Verdict(!tables.empty(), Level::kWarn, "triggers",
                        tables.empty() ? "no trigger writes pgcdc_changes" : "on " + tables,
                        SetupHint(path)));
}

CheckList Check(const Options& o) {
  std::error_code ec;
  if (!std::filesystem::exists(o.db_path, ec)) {
    return FailedCheck("database file", o.db_path + " does not exist",
                       "check --sqlite-db; pgcdc never creates the database");
  }
  auto db = Db::Open(o.db_path, {.busy_timeout = o.busy_timeout});
  if (!db) return FailedCheck("database file", db.error().message());
  CheckList out{{.name = "database file", .detail = o.db_path}};
  auto mode = db->QueryText("PRAGMA journal_mode");
  const std::string journal = mode && *mode ? **mode : "unknown";
  out.push_back(Verdict(journal == "wal", Level::kWarn, "journal_mode", journal,
                        "pgcdc switches the file to WAL on start (writers are not blocked by its "
                        "reads); or run PRAGMA journal_mode = WAL yourself"));
  CheckChangeTable(*db, o.db_path, out);
  return out;
}

}  // namespace

ConnectorInfo Connector() {
  return DefineDetector<Options>({
      .name = "sqlite",
      .description =
          "SQLite: polls the change table that triggers from `pgcdc init --detector sqlite "
          "--table T --sqlite-db F` fill; rows are deleted (or marked processed) only after "
          "every adapter delivered them. At-least-once; event ids stay the same on "
          "redelivery; needs no --db.",
      .params = Params({
          {
              Param("sqlite.db_path", &Options::db_path, "SQLite database file (must exist)",
                    {.flag = "sqlite-db", .required = true}),
              Param("sqlite.poll_interval", &Options::poll_interval,
                    "pause between polls that found less than a full batch", {.min = 1}),
              Param("sqlite.batch_size", &Options::batch_size,
                    "change rows per poll (deleted together once delivered)",
                    {.min = 1, .max = 100000}),
              Param("sqlite.keep_processed", &Options::keep_processed,
                    "mark delivered rows processed = 1 instead of deleting them"),
              Param("sqlite.busy_timeout", &Options::busy_timeout,
                    "how long a statement waits for another connection's lock", {.min = 0}),
          },
          ReconnectParams<Options>("sqlite"),
      }),
      .validate =
          [](const Options& o, const Context& ctx, Errors& errors) {
            if (ctx.core.bus_mode == "fast" && o.batch_size > ctx.core.bus_buffer_size) {
              errors.push_back("sqlite.batch_size: " + std::to_string(o.batch_size) +
                               " is larger than bus.buffer_size (" +
                               std::to_string(ctx.core.bus_buffer_size) +
                               "); fast mode would drop the rest of a batch");
            }
            ValidateBackoff("sqlite", o.backoff, errors);
          },
      .make = [](Options o, const Context& ctx) -> Result<DetectorPtr> {
        o.stop_grace = std::chrono::duration_cast<milliseconds>(ctx.core.shutdown_timeout) / 2;
        return std::make_unique<SqliteDetector>(std::move(o));
      },
      .setup = Setup,
      .check = [](const Options& o, const Context&) { return Check(o); },
  });
}

}  // namespace pgcdc::detector::sqlite

PGCDC_REGISTER_CONNECTOR(detector, sqlite, pgcdc::detector::sqlite::Connector)
