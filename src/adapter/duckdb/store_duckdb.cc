// The duckdb sink's store on DuckDB's C API (see store.h).
#include <cctype>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "adapter/duckdb/store.h"
#include "core/json.h"
#include "core/metrics.h"
#include "core/mutex.h"
#include "core/scope.h"
#include "parquet/duckdb_api.h"

namespace pgcdc::adapter::duckdb {

namespace {

using duckdb_api::Duck;
using duckdb_api::Exec;
using Clock = std::chrono::steady_clock;
using Kind = QueryOutcome::Kind;

metrics::Counter& InvalidPayloads() {
  static metrics::Counter& c = metrics::DefaultCounter(
      "pgcdc_duckdb_invalid_payloads_total", "Events whose payload was not JSON (stored as NULL).");
  return c;
}

QueryOutcome Outcome(Kind kind, std::string body) { return {kind, std::move(body), 0}; }

// A prepared statement destroyed with its scope.
struct Prepared {
  duckdb_prepared_statement stmt = nullptr;
  ~Prepared() {
    if (stmt != nullptr) Duck().destroy_prepare(&stmt);
  }
  std::string Error() const {
    const char* e = stmt != nullptr ? Duck().prepare_error(stmt) : nullptr;
    return e != nullptr ? e : "cannot prepare the statement";
  }
};

// A result destroyed with its scope.
struct ResultGuard {
  duckdb_result res{};
  bool filled = false;
  ~ResultGuard() {
    if (filled) Duck().destroy_result(&res);
  }
};

std::string_view StatementName(duckdb_statement_type type) {
  switch (type) {
    case DUCKDB_STATEMENT_TYPE_INSERT:
      return "INSERT";
    case DUCKDB_STATEMENT_TYPE_UPDATE:
      return "UPDATE";
    case DUCKDB_STATEMENT_TYPE_DELETE:
      return "DELETE";
    case DUCKDB_STATEMENT_TYPE_CREATE:
      return "CREATE";
    case DUCKDB_STATEMENT_TYPE_ALTER:
      return "ALTER";
    case DUCKDB_STATEMENT_TYPE_DROP:
      return "DROP";
    case DUCKDB_STATEMENT_TYPE_COPY:
      return "COPY";
    case DUCKDB_STATEMENT_TYPE_EXPORT:
      return "EXPORT";
    case DUCKDB_STATEMENT_TYPE_ATTACH:
      return "ATTACH";
    case DUCKDB_STATEMENT_TYPE_DETACH:
      return "DETACH";
    case DUCKDB_STATEMENT_TYPE_LOAD:
      return "INSTALL/LOAD";
    case DUCKDB_STATEMENT_TYPE_PRAGMA:
      return "PRAGMA";
    case DUCKDB_STATEMENT_TYPE_SET:
    case DUCKDB_STATEMENT_TYPE_VARIABLE_SET:
      return "SET";
    case DUCKDB_STATEMENT_TYPE_CALL:
      return "CALL";
    case DUCKDB_STATEMENT_TYPE_TRANSACTION:
      return "transaction";
    case DUCKDB_STATEMENT_TYPE_EXPLAIN:
      return "EXPLAIN";
    default:
      return "this kind of";
  }
}

bool IsNumeric(duckdb_type t) {
  switch (t) {
    case DUCKDB_TYPE_TINYINT:
    case DUCKDB_TYPE_SMALLINT:
    case DUCKDB_TYPE_INTEGER:
    case DUCKDB_TYPE_BIGINT:
    case DUCKDB_TYPE_UTINYINT:
    case DUCKDB_TYPE_USMALLINT:
    case DUCKDB_TYPE_UINTEGER:
    case DUCKDB_TYPE_UBIGINT:
    case DUCKDB_TYPE_FLOAT:
    case DUCKDB_TYPE_DOUBLE:
    case DUCKDB_TYPE_HUGEINT:
    case DUCKDB_TYPE_DECIMAL:
    case DUCKDB_TYPE_BOOLEAN:
      return true;
    default:
      return false;
  }
}

class DuckStore final : public Store {
 public:
  explicit DuckStore(StoreOptions options) : options_(std::move(options)) {}
  ~DuckStore() override;

  Status Init();
  Status Append(const Event& event) override;
  size_t staged() const override { return rows_.size(); }
  Status Commit() override;
  Result<uint64_t> DeleteBefore(int64_t micros) override;
  Result<uint64_t> RowCount() override;
  Status CreateView(const RowSchema& schema, std::string_view channel) override;
  QueryOutcome Query(size_t slot, const QueryRequest& request) override;
  void InterruptQueries() override;

 private:
  struct Row;
  Status OpenAppender(const char* schema, const char* table, duckdb_appender& out);
  static Status AppendRow(duckdb_appender app, const Row& r);
  Status Replace();
  QueryOutcome Run(size_t slot, duckdb_prepared_statement stmt, const QueryRequest& r, bool json);
  QueryOutcome Fetch(duckdb_result& res, bool json);
  static QueryOutcome Failed(duckdb_result& res);
  static Status Bind(duckdb_prepared_statement stmt, const QueryRequest& r);
  void Arm(size_t slot, Clock::time_point deadline) EXCLUDES(mu_);
  bool Disarm(size_t slot) EXCLUDES(mu_);  // true when it was interrupted
  void Watchdog() EXCLUDES(mu_);

  StoreOptions options_;
  duckdb_database db_ = nullptr;
  duckdb_connection writer_ = nullptr;
  // A delivered event until its commit.
  struct Row {
    std::string id, channel, operation, payload;
    std::string_view source;
    int64_t created_at_us = 0;
    bool payload_null = false;
  };
  duckdb_appender direct_ = nullptr;  // into cdc_events
  duckdb_appender stage_ = nullptr;   // into pgcdc_stage (replays)
  std::vector<Row> rows_;
  // The direct appender refused rows_ (and dropped them): they, and rows
  // staged after them, go through Replace() until it succeeds.
  bool replace_pending_ = false;
  // Set once a commit failed in a way that can leave DuckDB's state unlike
  // the file's (an I/O error such as a full disk): nothing more is written
  // or reported committed in this process.
  std::optional<std::string> failed_;
  std::string scratch_;  // payload validation
  std::vector<duckdb_connection> readers_;

  Mutex mu_;
  CondVar cv_;
  std::vector<std::optional<Clock::time_point>> deadlines_ GUARDED_BY(mu_);
  std::vector<bool> interrupted_ GUARDED_BY(mu_);
  bool stop_ GUARDED_BY(mu_) = false;
  std::thread watchdog_;
};

DuckStore::~DuckStore() {
  {
    MutexLock lock(mu_);
    stop_ = true;
  }
  cv_.NotifyAll();
  if (watchdog_.joinable()) watchdog_.join();
  if (stage_ != nullptr) Duck().appender_destroy(&stage_);
  if (direct_ != nullptr) Duck().appender_destroy(&direct_);
  for (auto& c : readers_) Duck().disconnect(&c);
  if (writer_ != nullptr) Duck().disconnect(&writer_);
  if (db_ != nullptr) Duck().close(&db_);
}

Status DuckStore::Init() {
  std::vector<std::pair<std::string, std::string>> settings;
  // Read-only queries: no files, no ATTACH, no extensions, no SET — for
  // every connection, enforced by DuckDB itself (the statement type check
  // in Query() comes on top).
  if (options_.readonly_queries) {
    settings = {{"enable_external_access", "false"}, {"lock_configuration", "true"}};
  }
  auto db = duckdb_api::Open(options_.path, settings, "duckdb");
  if (!db) return Fail(db.error());
  db_ = *db;
  if (Duck().connect(db_, &writer_) == DuckDBError) {
    writer_ = nullptr;
    return Fail(ErrorCode::kIo, "duckdb: cannot connect");
  }
  if (auto st = Exec(writer_, CreateTableSql(), "duckdb: create table cdc_events"); !st) return st;
  if (auto st = Exec(writer_, CreateStageSql(), "duckdb: create staging table"); !st) return st;
  if (auto st = OpenAppender("temp", "pgcdc_stage", stage_); !st) return st;
  if (auto st = OpenAppender(nullptr, "cdc_events", direct_); !st) return st;
  readers_.assign(options_.query_threads, nullptr);
  for (auto& c : readers_) {
    if (Duck().connect(db_, &c) == DuckDBError) {
      c = nullptr;
      return Fail(ErrorCode::kIo, "duckdb: cannot connect");
    }
  }
  {
    MutexLock lock(mu_);
    deadlines_.assign(readers_.size(), std::nullopt);
    interrupted_.assign(readers_.size(), false);
  }
  watchdog_ = std::thread(scope::Bind([this] { Watchdog(); }));
  return Ok();
}

Status DuckStore::OpenAppender(const char* schema, const char* table, duckdb_appender& out) {
  if (out != nullptr) Duck().appender_destroy(&out);
  if (Duck().appender_create_ext(writer_, schema, "main", table, &out) == DuckDBError) {
    std::string msg = out != nullptr ? duckdb_api::AppenderError(out) : "?";
    return Fail(ErrorCode::kIo, std::string("duckdb: appender for ") + table + ": " + msg);
  }
  return Ok();
}

Status DuckStore::AppendRow(duckdb_appender app, const Row& r) {
  const bool ok =
      Duck().append_varchar_length(app, r.id.data(), r.id.size()) == DuckDBSuccess &&
      Duck().append_varchar_length(app, r.channel.data(), r.channel.size()) == DuckDBSuccess &&
      Duck().append_varchar_length(app, r.operation.data(), r.operation.size()) == DuckDBSuccess &&
      (r.payload_null ? Duck().append_null(app)
                      : Duck().append_varchar_length(app, r.payload.data(), r.payload.size())) ==
          DuckDBSuccess &&
      Duck().append_varchar_length(app, r.source.data(), r.source.size()) == DuckDBSuccess &&
      Duck().append_timestamp(app, duckdb_timestamp{r.created_at_us}) == DuckDBSuccess &&
      Duck().appender_end_row(app) == DuckDBSuccess;
  if (!ok) return Fail(ErrorCode::kIo, "duckdb: append: " + duckdb_api::AppenderError(app));
  return Ok();
}

// Rows go straight into cdc_events through an appender (one write, the
// fastest path) and are kept here until committed, for the replay path.
Status DuckStore::Append(const Event& e) {
  // SPEC: a payload that is not JSON is stored as NULL. Events always carry
  // JSON (core/event.h); the appender would store anything as is.
  scratch_.clear();
  const bool json = json::Compact(e.payload, scratch_).has_value();
  if (!json) InvalidPayloads().Inc();
  if (failed_) return Fail(ErrorCode::kIo, *failed_);
  rows_.push_back(Row{e.id.ToString(), e.channel, e.operation, json ? e.payload : std::string(),
                      e.source, e.created_at_ns / 1000, !json});
  if (replace_pending_) return Ok();
  if (auto st = AppendRow(direct_, rows_.back()); !st) {
    rows_.pop_back();
    return st;
  }
  return Ok();
}

// The slow path for a batch the direct flush refused (an id already stored
// or twice in the batch: a replay, or a payload DuckDB does not take as
// JSON): staged, then INSERT OR REPLACE in one transaction.
Status DuckStore::Replace() {
  Status st = Ok();
  for (const Row& r : rows_) {
    if (st = AppendRow(stage_, r); !st) break;
  }
  if (st && Duck().appender_flush(stage_) == DuckDBError) {
    st = Fail(ErrorCode::kIo, "duckdb: flush staged rows: " + duckdb_api::AppenderError(stage_));
  }
  if (!st) {
    // A failed appender keeps neither its rows nor its use: a new one.
    (void)OpenAppender("temp", "pgcdc_stage", stage_);
    return st;
  }
  st = Exec(writer_, "BEGIN TRANSACTION", "duckdb: begin");
  if (st) st = Exec(writer_, ReplaceSql(), "duckdb: insert");
  if (st) {
    st = Exec(writer_, "COMMIT", "duckdb: commit");
    if (!st) failed_ = st.error().message();  // the commit itself failed (its WAL write)
  }
  if (!st) (void)Exec(writer_, "ROLLBACK", "duckdb: rollback");
  (void)Exec(writer_, "DELETE FROM pgcdc_stage", "duckdb: clear staging");
  return st;
}

namespace {

// Errors of a batch the table refuses as such (a replayed id, a value that
// does not convert): the slow path stores it. Anything else (I/O, a full
// disk, a fatal error) may have left the database in memory unlike its file.
bool RefusedBatch(duckdb_error_type type) {
  return type == DUCKDB_ERROR_CONSTRAINT || type == DUCKDB_ERROR_CONVERSION ||
         type == DUCKDB_ERROR_INVALID_INPUT;
}

}  // namespace

Status DuckStore::Commit() {
  if (failed_) return Fail(ErrorCode::kIo, *failed_);
  if (rows_.empty()) return Ok();
  if (!replace_pending_) {
    if (Duck().appender_flush(direct_) != DuckDBError) {
      rows_.clear();
      return Ok();
    }
    // The appender dropped the batch (nothing of it was written) and takes
    // no more rows: the batch goes through the slow path, now or at a later
    // Commit() — never reported committed before one succeeded.
    duckdb_error_data data = Duck().appender_error_data(direct_);
    const duckdb_error_type type =
        data != nullptr ? Duck().error_data_error_type(data) : DUCKDB_ERROR_INVALID;
    Duck().destroy_error_data(&data);
    replace_pending_ = true;
    if (!RefusedBatch(type)) {
      failed_ = "duckdb: commit: " + duckdb_api::AppenderError(direct_) +
                " (nothing more is written by this process and the staged events are not "
                "acknowledged; a restart reopens the database and the source replays them)";
      return Fail(ErrorCode::kIo, *failed_);
    }
  }
  if (auto st = Replace(); !st) return st;
  rows_.clear();
  if (auto st = OpenAppender(nullptr, "cdc_events", direct_); !st) return st;
  replace_pending_ = false;
  return Ok();
}

Result<uint64_t> DuckStore::DeleteBefore(int64_t micros) {
  Prepared p;
  if (Duck().prepare(writer_, "DELETE FROM cdc_events WHERE created_at < make_timestamp($1)",
                     &p.stmt) == DuckDBError) {
    return Fail(ErrorCode::kIo, "duckdb: retention: " + p.Error());
  }
  (void)Duck().bind_int64(p.stmt, 1, micros);
  ResultGuard r;
  r.filled = true;
  if (Duck().execute_prepared(p.stmt, &r.res) == DuckDBError) {
    return Fail(ErrorCode::kIo, std::string("duckdb: retention: ") + Duck().result_error(&r.res));
  }
  return Duck().rows_changed(&r.res);
}

Result<uint64_t> DuckStore::RowCount() {
  ResultGuard r;
  r.filled = true;
  if (Duck().query(writer_, "SELECT count(*) FROM cdc_events", &r.res) == DuckDBError) {
    return Fail(ErrorCode::kIo, std::string("duckdb: count: ") + Duck().result_error(&r.res));
  }
  return static_cast<uint64_t>(Duck().value_int64(&r.res, 0, 0));
}

Status DuckStore::CreateView(const RowSchema& schema, std::string_view channel) {
  return Exec(writer_, ViewSql(schema, channel), "duckdb: view " + ViewName(schema));
}

// ---- queries ----------------------------------------------------------------

void DuckStore::Arm(size_t slot, Clock::time_point deadline) {
  {
    MutexLock lock(mu_);
    deadlines_[slot] = deadline;
    interrupted_[slot] = false;
  }
  cv_.NotifyAll();
}

bool DuckStore::Disarm(size_t slot) {
  MutexLock lock(mu_);
  deadlines_[slot].reset();
  return interrupted_[slot];
}

void DuckStore::Watchdog() {
  MutexLock lock(mu_);
  while (!stop_) {
    auto next = Clock::time_point::max();
    const auto now = Clock::now();
    for (size_t i = 0; i < deadlines_.size(); ++i) {
      if (!deadlines_[i]) continue;
      if (*deadlines_[i] <= now) {
        Duck().interrupt(readers_[i]);
        interrupted_[i] = true;
        deadlines_[i].reset();
      } else {
        next = std::min(next, *deadlines_[i]);
      }
    }
    if (next == Clock::time_point::max()) {
      cv_.Wait(mu_);
    } else {
      (void)cv_.WaitUntil(mu_, next);
    }
  }
}

void DuckStore::InterruptQueries() {
  MutexLock lock(mu_);
  for (size_t i = 0; i < readers_.size(); ++i) {
    if (deadlines_[i]) {
      Duck().interrupt(readers_[i]);
      interrupted_[i] = true;
    }
  }
}

Status DuckStore::Bind(duckdb_prepared_statement stmt, const QueryRequest& r) {
  const idx_t n = Duck().nparams(stmt);
  if (n != r.params.size()) {
    return Fail(ErrorCode::kInvalidArgument, "the statement takes " + std::to_string(n) +
                                                 " parameter(s), params has " +
                                                 std::to_string(r.params.size()));
  }
  for (idx_t i = 0; i < n; ++i) {
    const auto& p = r.params[i];
    const duckdb_state st = p ? Duck().bind_varchar_length(stmt, i + 1, p->data(), p->size())
                              : Duck().bind_null(stmt, i + 1);
    if (st == DuckDBError) {
      return Fail(ErrorCode::kInvalidArgument, "cannot bind parameter " + std::to_string(i + 1));
    }
  }
  return Ok();
}

QueryOutcome DuckStore::Query(size_t slot, const QueryRequest& request) {
  duckdb_connection conn = readers_[slot];
  duckdb_extracted_statements ext = nullptr;
  const idx_t n = Duck().extract_statements(conn, request.sql.c_str(), &ext);
  struct ExtGuard {
    duckdb_extracted_statements& e;
    ~ExtGuard() { Duck().destroy_extracted(&e); }
  } ext_guard{ext};
  if (n == 0) {
    const char* e = Duck().extract_statements_error(ext);
    return Outcome(Kind::kSqlError, e != nullptr ? e : "no SQL statement");
  }
  if (n > 1) {
    return Outcome(Kind::kSqlError, "one statement per request (got " + std::to_string(n) + ")");
  }
  Prepared stmt;
  if (Duck().prepare_extracted_statement(conn, ext, 0, &stmt.stmt) == DuckDBError) {
    return Outcome(Kind::kSqlError, stmt.Error());
  }
  const duckdb_statement_type type = Duck().prepared_statement_type(stmt.stmt);
  if (options_.readonly_queries && type != DUCKDB_STATEMENT_TYPE_SELECT) {
    return Outcome(Kind::kRefused, "read-only: " + std::string(StatementName(type)) +
                                       " statements are refused; only SELECT queries run "
                                       "(--duckdb-query-readonly=false allows any statement)");
  }
  if (type == DUCKDB_STATEMENT_TYPE_SELECT) {
    Prepared wrapped;
    if (Duck().prepare(conn, JsonRowsSql(request.sql).c_str(), &wrapped.stmt) == DuckDBSuccess) {
      return Run(slot, wrapped.stmt, request, true);
    }
  }
  return Run(slot, stmt.stmt, request, false);
}

QueryOutcome DuckStore::Run(size_t slot, duckdb_prepared_statement stmt, const QueryRequest& r,
                            bool json) {
  if (auto st = Bind(stmt, r); !st) return Outcome(Kind::kSqlError, st.error().message());
  ResultGuard res;
  Arm(slot, Clock::now() + r.timeout);
  const duckdb_state state = json ? Duck().execute_prepared_streaming(stmt, &res.res)
                                  : Duck().execute_prepared(stmt, &res.res);
  res.filled = true;
  QueryOutcome out = state == DuckDBError ? Failed(res.res) : Fetch(res.res, json);
  if (Disarm(slot) && out.kind != Kind::kOk && out.kind != Kind::kTooLarge) {
    out = Outcome(Kind::kTimeout,
                  "query timeout: interrupted after " + std::to_string(r.timeout.count()) + " ms");
  }
  return out;
}

QueryOutcome DuckStore::Failed(duckdb_result& res) {
  if (Duck().result_error_type(&res) == DUCKDB_ERROR_INTERRUPT) {
    return Outcome(Kind::kTimeout, "query interrupted");
  }
  const char* e = Duck().result_error(&res);
  return Outcome(Kind::kSqlError, e != nullptr ? e : "query failed");
}

QueryOutcome DuckStore::Fetch(duckdb_result& res, bool json) {
  QueryOutcome out;
  out.body = "[";
  auto too_large = [&] {
    return Outcome(Kind::kTooLarge, "result too large: over " +
                                        std::to_string(options_.max_result_bytes) +
                                        " bytes (--duckdb-query-max-bytes); add a LIMIT or "
                                        "aggregate");
  };
  if (json) {
    while (duckdb_data_chunk chunk = Duck().fetch_chunk(res)) {
      const idx_t rows = Duck().data_chunk_get_size(chunk);
      auto* data = static_cast<duckdb_string_t*>(
          Duck().vector_get_data(Duck().data_chunk_get_vector(chunk, 0)));
      for (idx_t i = 0; i < rows; ++i) {
        if (out.rows++ > 0) out.body.push_back(',');
        out.body.append(Duck().string_t_data(&data[i]), Duck().string_t_length(data[i]));
      }
      Duck().destroy_data_chunk(&chunk);
      if (out.body.size() > options_.max_result_bytes) return too_large();
    }
    if (const char* e = Duck().result_error(&res); e != nullptr) return Failed(res);
  } else {
    const idx_t cols = Duck().column_count(&res);
    const idx_t rows = Duck().row_count(&res);
    for (idx_t r = 0; r < rows; ++r, ++out.rows) {
      out.body += r > 0 ? ",{" : "{";
      for (idx_t c = 0; c < cols; ++c) {
        if (c > 0) out.body.push_back(',');
        json::AppendString(out.body, Duck().column_name(&res, c));
        out.body.push_back(':');
        char* v = Duck().value_is_null(&res, c, r) ? nullptr : Duck().value_varchar(&res, c, r);
        if (v == nullptr) {
          out.body += "null";
        } else if (IsNumeric(Duck().column_type(&res, c)) && *v != '\0' &&
                   (Duck().column_type(&res, c) == DUCKDB_TYPE_BOOLEAN ||
                    std::isdigit(static_cast<unsigned char>(v[std::strlen(v) - 1])) != 0)) {
          // Numbers as JSON numbers; inf/nan stay strings.
          out.body += v;
        } else {
          json::AppendString(out.body, v);
        }
        if (v != nullptr) Duck().free(v);
      }
      out.body.push_back('}');
      if (out.body.size() > options_.max_result_bytes) return too_large();
    }
  }
  out.body.push_back(']');
  return out;
}

}  // namespace

Result<std::unique_ptr<Store>> Store::Open(const StoreOptions& options) {
  auto store = std::make_unique<DuckStore>(options);
  if (auto st = store->Init(); !st) return Fail(st.error());
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace pgcdc::adapter::duckdb
