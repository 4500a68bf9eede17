// pg_table backend: one row per record in the dead letter table (see
// store.h), replayable with `pgcdc dlq replay`.
//
// Connects on the first Record() (a pipeline that never dead-letters never
// touches the database) and creates the table when missing. Record() returns
// Ok only after the INSERT committed (autocommit). On failure it reconnects
// once and retries; if that fails too it returns the error, and the caller
// must not acknowledge the event. A retry after a lost reply may store a
// record twice (at-least-once). Thread-safe: one connection behind a mutex.
#include <chrono>
#include <optional>

#include "core/log.h"
#include "core/metrics.h"
#include "core/mutex.h"
#include "dlq/dlq.h"
#include "dlq/store.h"
#include "pg/conn.h"

namespace pgcdc::dlq {

namespace {

metrics::Counter& Errors() {
  static metrics::Counter& c = metrics::DefaultCounter(
      "pgcdc_dlq_errors_total",
      "Dead letter queue writes that failed (the event was not acknowledged).");
  return c;
}

metrics::Gauge& Depth() {
  static metrics::Gauge& g = metrics::DefaultGauge(
      "pgcdc_dlq_depth",
      "Records in the pg_table dead letter queue not replayed yet (counted when pgcdc writes to "
      "it, at most every 10 s).");
  return g;
}

class PgTableDlq final : public DeadLetterQueue {
 public:
  PgTableDlq(std::string url, TableName table) : url_(std::move(url)), table_(std::move(table)) {
    Errors();  // expose the family at 0
  }

  std::string_view Kind() const override { return "pg_table"; }

  Status Record(const Event& event, std::string_view adapter, std::string_view error) override {
    MutexLock lock(mu_);
    Status st = Ok();
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (attempt > 0) {
        log::Warn("dlq: write failed, reconnecting once",
                  {{"table", table_.Display()}, {"error", st.error().message()}});
      }
      st = TryRecord(event, adapter, error);
      if (st) {
        RecordsFor(adapter).Inc();
        UpdateDepth();
        return Ok();
      }
      conn_.reset();  // a fresh connection (and table check) for the retry
    }
    Errors().Inc();
    log::Error("dlq: cannot record event", {{"table", table_.Display()},
                                            {"event_id", event.id.ToString()},
                                            {"adapter", adapter},
                                            {"error", st.error().message()}});
    return Fail(st.error().Wrap("dlq pg_table " + table_.Display()));
  }

  void Close() override {
    MutexLock lock(mu_);
    conn_.reset();
  }

 private:
  // The table's pending count, re-read at most every 10 s (other writers and
  // `pgcdc dlq replay` change it too); in between, this process's records.
  void UpdateDepth() REQUIRES(mu_) {
    const auto now = std::chrono::steady_clock::now();
    if (conn_ && (!depth_read_ || now - *depth_read_ >= std::chrono::seconds(10))) {
      Filter pending;
      pending.pending_only = true;
      if (auto n = Store(*conn_, table_).Count(pending); n) {
        Depth().Set(static_cast<double>(*n));
        depth_read_ = now;
        return;
      }
    }
    Depth().Add(1);
  }

  Status TryRecord(const Event& event, std::string_view adapter, std::string_view error)
      REQUIRES(mu_) {
    if (!conn_) {
      auto c = pg::Conn::Open(url_);
      if (!c) return Fail(c.error().Wrap(pg::RedactUrl(url_)));
      conn_.emplace(std::move(*c));
      Store store(*conn_, table_);
      if (auto st = store.EnsureTable(); !st) return st;
      log::Info("dlq: connected", {{"table", table_.Display()}, {"db", pg::RedactUrl(url_)}});
    }
    return Store(*conn_, table_).Insert(event, adapter, error);
  }

  const std::string url_;
  const TableName table_;
  Mutex mu_;
  std::optional<pg::Conn> conn_ GUARDED_BY(mu_);
  std::optional<std::chrono::steady_clock::time_point> depth_read_ GUARDED_BY(mu_);
};

}  // namespace

Result<DeadLetterQueuePtr> MakePgTable(const Options& options) {
  if (options.db_url.empty()) {
    return Fail(ErrorCode::kConfig,
                "dlq pg_table: no database (set --dlq-db, or --db for the detector's database)");
  }
  auto table = ParseTableName(options.table);
  if (!table) return Fail(ErrorCode::kConfig, "dlq.table: " + table.error().message());
  return std::make_unique<PgTableDlq>(options.db_url, std::move(*table));
}

}  // namespace pgcdc::dlq
