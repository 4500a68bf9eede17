#include "adapter/pg_table/pg_table_adapter.h"

#include <algorithm>
#include <set>

#include "config/config.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/time.h"
#include "dlq/dlq.h"
#include "pg/table_name.h"
#include "registry/define.h"

namespace pgcdc::adapter::pg_table {

namespace {

using std::chrono::milliseconds;

constexpr std::string_view kAdapter = "pg_table";
// Set when the connection string names no application_name, so operators
// can find the session in pg_stat_activity.
constexpr const char* kApplicationName = "pgcdc_pg_table";
constexpr const char* kColumns[] = {"id",      "channel", "operation",
                                    "payload", "source",  "created_at"};
constexpr size_t kColumnCount = std::size(kColumns);

struct Metrics {
  metrics::Counter& inserted = metrics::DefaultCounter(
      "pgcdc_pg_table_rows_inserted_total",
      "Rows the pg_table adapter committed (including rows found already present after a retry).");
  metrics::Counter& dead_lettered = metrics::DefaultCounter(
      "pgcdc_pg_table_rows_dead_lettered_total",
      "Events the pg_table adapter sent to the DLQ because the server rejected their row.");
  metrics::Counter& reconnects = metrics::DefaultCounter(
      "pgcdc_pg_table_reconnects_total",
      "Times the pg_table adapter reconnected after losing its connection.");
};

Metrics& M() { return metrics::Lazy<Metrics>(); }

Error Cancelled() { return Error(ErrorCode::kCancelled, "pg_table: interrupted"); }

}  // namespace

Result<std::string> QuoteTableName(std::string_view table) {
  auto name = pg::ParseTableName(table);
  if (!name) return Fail(ErrorCode::kConfig, "invalid " + name.error().message());
  return name->Quoted();
}

std::string InsertSql(const std::string& quoted_table, size_t rows) {
  std::string sql = "INSERT INTO " + quoted_table + " (";
  for (size_t c = 0; c < kColumnCount; ++c) {
    if (c > 0) sql += ", ";
    sql += pg::QuoteIdentifier(kColumns[c]);
  }
  sql += ") VALUES ";
  size_t n = 1;
  for (size_t r = 0; r < rows; ++r) {
    sql += r == 0 ? "(" : ", (";
    for (size_t c = 0; c < kColumnCount; ++c) {
      if (c > 0) sql += ", ";
      sql += "$" + std::to_string(n++);
    }
    sql += ")";
  }
  return sql;
}

std::vector<std::string> RowValues(const Event& event) {
  return {event.id.ToString(),       event.channel,
          event.operation,           event.payload,
          std::string(event.source), FormatRfc3339Nano(event.created_at_ns)};
}

PgTableAdapter::PgTableAdapter(Options options)
    : RetryingAdapter(kAdapter, options.backoff),
      options_(std::move(options)),
      session_(options_.url, kApplicationName, sleeper()) {
  if (options_.batch_size == 0) options_.batch_size = 1;
  M();
}

PgTableAdapter::~PgTableAdapter() { Close(); }

Status PgTableAdapter::Connect() { return session_.Connect(); }

Status PgTableAdapter::Open() {
  auto quoted = QuoteTableName(options_.table);
  if (!quoted) return Fail(quoted.error().Wrap("pg_table"));
  quoted_table_ = *quoted;
  const std::string where = " (database " + pg::RedactUrl(options_.url) + ")";
  if (auto st = Connect(); !st) return Fail(st.error().Wrap("pg_table" + where));

  auto found = session_.Query("pg_table: look up table",
                              "SELECT c.oid::oid::text, has_table_privilege(c.oid, 'INSERT') FROM "
                              "(SELECT to_regclass($1::text) AS oid) c",
                              {quoted_table_});
  if (!found) return Fail(found.error());
  if (found->empty() || !(*found)[0][0]) {
    return Fail(ErrorCode::kNotFound,
                "pg_table: table \"" + options_.table + "\" does not exist" + where +
                    "; create it with the SQL from `pgcdc init --adapter pg_table --table " +
                    options_.table + "`");
  }
  const std::string oid = *(*found)[0][0];
  if ((*found)[0][1] != std::optional<std::string>("t")) {
    return Fail(ErrorCode::kConfig,
                "pg_table: no INSERT privilege on table \"" + options_.table + "\"" + where);
  }
  auto cols =
      session_.Query("pg_table: read columns",
                     "SELECT attname::text FROM pg_attribute WHERE attrelid = $1::oid AND attnum > "
                     "0 AND NOT attisdropped",
                     {oid});
  if (!cols) return Fail(cols.error());
  std::set<std::string> have;
  for (auto& r : *cols) have.insert(r[0].value_or(""));
  std::string missing;
  for (const char* col : kColumns) {
    if (!have.count(col)) missing += (missing.empty() ? "" : ", ") + std::string(col);
  }
  if (!missing.empty()) {
    return Fail(ErrorCode::kConfig,
                "pg_table: table \"" + options_.table + "\" has no column(s) " + missing +
                    " (needs id, channel, operation, payload, source, created_at; see `pgcdc "
                    "init --adapter pg_table`)");
  }
  log::Info("pg_table ready", {{"adapter", kAdapter},
                               {"table", options_.table},
                               {"db", pg::RedactUrl(options_.url)},
                               {"batch_size", static_cast<uint64_t>(options_.batch_size)}});
  return Ok();
}

Status PgTableAdapter::Deliver(std::span<const Event* const> events) {
  if (interrupted()) return Fail(Cancelled());
  for (const Event* e : events) rows_.push_back(Row{*e, false});
  if (rows_.size() >= options_.batch_size) return WriteBuffered();
  return Ok();
}

Status PgTableAdapter::Flush() {
  if (rows_.empty()) return Ok();
  if (interrupted()) return Fail(Cancelled());
  return WriteBuffered();
}

Status PgTableAdapter::WriteBuffered() {
  for (size_t begin = 0; begin < rows_.size(); begin += options_.batch_size) {
    const size_t end = std::min(rows_.size(), begin + options_.batch_size);
    if (auto st = WriteChunk(begin, end); !st) {
      // Keep what is not done for a later Flush (after a cancelled attempt
      // the pipeline stops anyway; nothing here is acknowledged).
      std::erase_if(rows_, [](const Row& r) { return r.done; });
      return st;
    }
  }
  rows_.clear();
  return Ok();
}

Status PgTableAdapter::WriteChunk(size_t begin, size_t end) {
  // libpq passes text parameters as C strings: a NUL byte cannot be sent.
  for (size_t i = begin; i < end; ++i) {
    if (rows_[i].done) continue;
    for (const auto& v : RowValues(rows_[i].event)) {
      if (v.find('\0') != std::string::npos) {
        Outcome stopped;
        if (auto st = HandleRejected(
                rows_[i], Outcome::Failed(Failure::kRow, "a value contains a NUL byte"), stopped);
            !st) {
          return st;
        }
        break;
      }
    }
  }
  for (;;) {
    if (interrupted()) return Fail(Cancelled());
    std::vector<size_t> pending;
    for (size_t i = begin; i < end; ++i) {
      if (!rows_[i].done) pending.push_back(i);
    }
    if (pending.empty()) {
      backoff().Reset();
      return Ok();
    }
    if (!session_.connected()) {
      if (auto st = Connect(); !st) {
        if (st.error().code() == ErrorCode::kCancelled) return st;
        lost_connection_ = true;
        const milliseconds delay = backoff().Next();
        log::Warn("pg_table: cannot connect; retrying",
                  {{"adapter", kAdapter},
                   {"error", st.error().message()},
                   {"pending_rows", static_cast<uint64_t>(pending.size())},
                   {"retry_in_ms", static_cast<int64_t>(delay.count())}});
        if (!sleeper().SleepFor(delay)) return Fail(Cancelled());
        continue;
      }
      if (lost_connection_) {
        lost_connection_ = false;
        M().reconnects.Inc();
        log::Info("pg_table: reconnected", {{"adapter", kAdapter}, {"table", options_.table}});
      }
    }
    Outcome stopped;
    if (auto st = InsertSet(pending, stopped); !st) return st;
    if (stopped.ok) continue;  // all done (or dead-lettered); loop confirms
    if (stopped.failure == Failure::kConnection) {
      Disconnect();
      lost_connection_ = true;
    }
    const milliseconds delay = backoff().Next();
    const bool connection = stopped.failure == Failure::kConnection;
    const log::Level level = connection ? log::Level::kWarn : log::Level::kError;
    if (log::Enabled(level)) {
      log::Write(level,
                 connection ? "pg_table: connection lost; retrying the rows not yet committed"
                            : "pg_table: insert failed; retrying",
                 {{"adapter", kAdapter},
                  {"table", options_.table},
                  {"error", stopped.message},
                  {"pending_rows", static_cast<uint64_t>(pending.size())},
                  {"retry_in_ms", static_cast<int64_t>(delay.count())}});
    }
    if (!sleeper().SleepFor(delay)) return Fail(Cancelled());
  }
}

Status PgTableAdapter::InsertSet(std::span<const size_t> idx, Outcome& stopped) {
  std::vector<std::string> params;
  params.reserve(idx.size() * kColumnCount);
  for (size_t i : idx) {
    for (auto& v : RowValues(rows_[i].event)) params.push_back(std::move(v));
  }
  Outcome o = Run(InsertSql(quoted_table_, idx.size()), params);
  if (o.cancelled) return Fail(Cancelled());
  if (o.ok) {
    for (size_t i : idx) rows_[i].done = true;
    M().inserted.Inc(idx.size());
    return Ok();
  }
  if (o.failure != Failure::kRow) {
    stopped = std::move(o);
    return Ok();
  }
  if (idx.size() == 1) return HandleRejected(rows_[idx[0]], o, stopped);
  // Some row is rejected: split until the offending rows are alone; the
  // halves without them are inserted (in order).
  const size_t mid = idx.size() / 2;
  if (auto st = InsertSet(idx.first(mid), stopped); !st || !stopped.ok) return st;
  return InsertSet(idx.subspan(mid), stopped);
}

Status PgTableAdapter::HandleRejected(Row& row, const Outcome& failure, Outcome& stopped) {
  if (failure.sqlstate == "23505") {
    // A retry after a connection lost the reply to a committed INSERT finds
    // its own row, and so does a redelivery after a crash (same event id,
    // a new created_at): identical values but the creation time mean the
    // event is already stored.
    static_assert(std::string_view(kColumns[kColumnCount - 1]) == "created_at");
    constexpr size_t kCompared = kColumnCount - 1;
    std::string sql = "SELECT 1 FROM " + quoted_table_ + " WHERE ";
    for (size_t c = 0; c < kCompared; ++c) {
      const std::string col = pg::QuoteIdentifier(kColumns[c]);
      const std::string p = "$" + std::to_string(c + 1);
      if (c > 0) sql += " AND ";
      sql += std::string_view(kColumns[c]) == "payload" ? col + "::jsonb = " + p + "::jsonb"
                                                        : col + " = " + p;
    }
    sql += " LIMIT 1";
    auto values = RowValues(row.event);
    values.resize(kCompared);
    Outcome same = Run(sql, values);
    if (same.cancelled) return Fail(Cancelled());
    if (same.ok && !same.rows.empty()) {
      row.done = true;
      M().inserted.Inc();
      log::Info("pg_table: row already present with identical values; not inserted again",
                {{"adapter", kAdapter}, {"event_id", row.event.id.ToString()}});
      return Ok();
    }
    if (!same.ok && same.failure != Failure::kRow) {
      stopped = std::move(same);
      return Ok();
    }
  }
  const std::string id = row.event.id.ToString();
  if (dead_letters() == nullptr) {
    return Fail(ErrorCode::kInvalidArgument,
                "pg_table: event " + id + " was rejected (" + failure.message +
                    ") and no dead letter queue is attached to record it");
  }
  if (auto st = dead_letters()->Record(row.event, kAdapter, failure.message); !st) {
    return Fail(st.error().Wrap("pg_table: dead-letter event " + id +
                                " (rejected: " + failure.message + ")"));
  }
  row.done = true;
  M().dead_lettered.Inc();
  log::Warn("pg_table: row rejected; event sent to the dead letter queue",
            {{"adapter", kAdapter},
             {"table", options_.table},
             {"event_id", id},
             {"error", failure.message}});
  return Ok();
}

void PgTableAdapter::Close() {
  size_t left = 0;
  for (const auto& r : rows_) left += r.done ? 0 : 1;
  if (left > 0) {
    log::Warn("pg_table: closing with rows not written (not acknowledged; the source keeps them)",
              {{"adapter", kAdapter}, {"rows", static_cast<uint64_t>(left)}});
  }
  rows_.clear();
  Disconnect();
}

ConnectorInfo Connector() {
  using O = Options;
  return DefineAdapter<Options>({
      .name = "pg_table",
      .description = "Inserts events as rows (id, channel, operation, payload, source, "
                     "created_at) into a PostgreSQL table in batches; retries after connection "
                     "loss, rejected rows go to the DLQ.",
      .params = Params({
          {Param("pg_table.url", &O::url, "database to write to (default: --db)"),
           Param("pg_table.table", &O::table,
                 "target table, table or schema.table (case-sensitive, used as given)",
                 {.flag = "pg-table-name"}),
           Param("pg_table.batch_size", &O::batch_size, "rows per INSERT statement",
                 {.min = 1, .max = 10000})},
          BackoffParams<O>("pg_table", "pg-table", &O::backoff, "retry (failed insert or connect)"),
      }),
      .validate =
          [](const O& o, const Context& ctx, Errors& errors) {
            if (o.url.empty() && ctx.core.database_url.empty()) {
              errors.push_back(
                  "pg_table.url: required for adapter pg_table (--pg-table-url, or --db / "
                  "PGCDC_DATABASE_URL)");
            }
            if (auto q = QuoteTableName(o.table); !q) {
              errors.push_back("pg_table.table: " + q.error().message());
            }
            ValidateBackoff("pg_table", o.backoff, errors);
          },
      .make = [](O o, const Context& ctx) -> Result<AdapterPtr> {
        if (o.url.empty()) o.url = ctx.core.database_url;
        return MakeRetryingAdapter<PgTableAdapter>(std::move(o), ctx);
      },
      .check =
          [](O o, const Context& ctx) {
            if (o.url.empty()) o.url = ctx.core.database_url;
            const std::string table = o.table;
            return OpenCheck<PgTableAdapter>(std::move(o), "table " + table,
                                             "exists with the event columns; INSERT allowed");
          },
  });
}

}  // namespace pgcdc::adapter::pg_table

PGCDC_REGISTER_CONNECTOR(adapter, pg_table, pgcdc::adapter::pg_table::Connector)
