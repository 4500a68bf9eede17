#include "adapter/duckdb/duckdb_adapter.h"

#include <deque>
#include <thread>

#include "core/log.h"
#include "core/metrics.h"
#include "core/mutex.h"
#include "core/time.h"
#include "net/http_server.h"
#include "registry/define.h"

namespace pgcdc::adapter::duckdb {

namespace {

using Clock = std::chrono::steady_clock;

struct Metrics {
  metrics::Family<metrics::Counter>& queries = metrics::Default().AddCounter(
      "pgcdc_duckdb_queries_total",
      "duckdb /query and /query/tables requests by outcome (ok, sql_error, bad_request, "
      "readonly_refused, timeout, too_large, unauthorized, forbidden, unavailable, busy).",
      {"status"});
  metrics::Histogram& duration =
      metrics::DefaultHistogram("pgcdc_duckdb_query_duration_seconds",
                                "Time duckdb queries took to run.", metrics::DefaultBuckets());
  metrics::Gauge& rows =
      metrics::DefaultGauge("pgcdc_duckdb_rows_total", "Rows in the duckdb cdc_events table.");
  metrics::Family<metrics::Counter>& flushes = metrics::Default().AddCounter(
      "pgcdc_duckdb_flushes_total", "duckdb flushes (one transaction each) by status.", {"status"});
  metrics::Gauge& buffered = metrics::DefaultGauge(
      "pgcdc_duckdb_buffered_events",
      "Events staged in duckdb and not yet committed (not yet acknowledged).");
  metrics::Counter& expired = metrics::DefaultCounter("pgcdc_duckdb_retention_deleted_total",
                                                      "duckdb rows deleted by retention.");
};

Metrics& M() { return metrics::Lazy<Metrics>(); }

net::HttpResponse Text(int status, std::string message) {
  net::HttpResponse r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::move(message) + "\n";
  return r;
}

// The HTTP answer and metric label of an outcome.
std::pair<net::HttpResponse, std::string_view> Answer(QueryOutcome&& out) {
  using Kind = QueryOutcome::Kind;
  switch (out.kind) {
    case Kind::kOk: {
      net::HttpResponse r;
      r.body = std::move(out.body);
      return {std::move(r), "ok"};
    }
    case Kind::kRefused:
      return {Text(403, std::move(out.body)), "readonly_refused"};
    case Kind::kTimeout:
      return {Text(408, std::move(out.body)), "timeout"};
    case Kind::kTooLarge:
      return {Text(400, std::move(out.body)), "too_large"};
    case Kind::kSqlError:
      break;
  }
  return {Text(400, std::move(out.body)), "sql_error"};
}

}  // namespace

std::chrono::milliseconds RetentionInterval(std::chrono::milliseconds retention) {
  return std::max<std::chrono::milliseconds>(retention / 10, std::chrono::seconds(1));
}

// ---- the /query side ------------------------------------------------------------

struct DuckdbAdapter::Queries {
  struct Job {
    QueryRequest request;
    net::HttpReply reply;
  };

  Options options;
  net::HttpAuth auth;  // options.query_token
  Mutex mu;
  CondVar cv;
  std::shared_ptr<Store> store GUARDED_BY(mu);
  std::deque<Job> jobs GUARDED_BY(mu);
  bool stopping GUARDED_BY(mu) = false;
  std::vector<std::thread> workers;

  static void Reply(const net::HttpReply& reply, net::HttpResponse r, std::string_view status) {
    M().queries.With({status}).Inc();
    reply(std::move(r));
  }

  // Checks shared by both routes; nullopt = go on.
  std::optional<std::pair<net::HttpResponse, std::string_view>> Refuse(
      const net::HttpRequest& req) const {
    auto h = req.headers.find("authorization");
    if (auth.enabled() && !net::HttpAuthorized(auth, h == req.headers.end() ? "" : h->second)) {
      auto r = Text(401, "unauthorized: send Authorization: Bearer <duckdb.query_token>");
      r.headers["WWW-Authenticate"] = "Bearer";
      return std::pair{std::move(r), std::string_view("unauthorized")};
    }
    // No CORS: a page of another site may not run queries (its requests
    // carry an Origin that is not ours).
    if (!net::WebSocketOriginAllowed({}, req)) {
      return std::pair{Text(403, "cross-origin request refused"), std::string_view("forbidden")};
    }
    return std::nullopt;
  }

  void Submit(QueryRequest request, const net::HttpReply& reply) {
    {
      MutexLock lock(mu);
      if (store != nullptr && !stopping && jobs.size() < options.query_queue) {
        jobs.push_back({std::move(request), reply});
        cv.NotifyOne();
        return;
      }
      if (store == nullptr || stopping) {
        lock.Unlock();
        return Reply(reply, Text(503, "duckdb: database not ready"), "unavailable");
      }
    }
    Reply(reply,
          Text(503, "duckdb: too many queries waiting (" + std::to_string(options.query_queue) +
                        "); retry later"),
          "busy");
  }

  void OnQuery(net::HttpRequest&& req, const net::HttpReply& reply) {
    if (req.path != "/query") return reply(Text(404, "not found"));
    if (auto refused = Refuse(req)) return Reply(reply, std::move(refused->first), refused->second);
    auto ct = req.headers.find("content-type");
    if (ct == req.headers.end() || !ct->second.starts_with("application/json")) {
      return Reply(reply, Text(415, "Content-Type must be application/json"), "bad_request");
    }
    auto parsed = ParseQueryRequest(req.body, options.query_timeout, options.query_max_timeout);
    if (!parsed) return Reply(reply, Text(400, parsed.error().message()), "bad_request");
    Submit(std::move(*parsed), reply);
  }

  void OnTables(net::HttpRequest&& req, const net::HttpReply& reply) {
    if (req.path != "/query/tables") return reply(Text(404, "not found"));
    if (auto refused = Refuse(req)) return Reply(reply, std::move(refused->first), refused->second);
    Submit(QueryRequest{TablesSql(), {}, options.query_timeout}, reply);
  }

  void Work(size_t slot) {
    MutexLock lock(mu);
    while (true) {
      while (!stopping && jobs.empty()) cv.Wait(mu);
      if (stopping) return;
      Job job = std::move(jobs.front());
      jobs.pop_front();
      std::shared_ptr<Store> s = store;
      lock.Unlock();
      const auto start = Clock::now();
      QueryOutcome out = s->Query(slot, job.request);
      M().duration.Observe(std::chrono::duration<double>(Clock::now() - start).count());
      auto [response, status] = Answer(std::move(out));
      Reply(job.reply, std::move(response), status);
      lock.Lock();
    }
  }

  void Start(std::shared_ptr<Store> s) {
    {
      MutexLock lock(mu);
      store = std::move(s);
    }
    for (size_t i = 0; i < options.query_threads; ++i) workers.emplace_back([this, i] { Work(i); });
  }

  void Stop() {
    std::deque<Job> waiting;
    std::shared_ptr<Store> s;
    {
      MutexLock lock(mu);
      stopping = true;
      waiting.swap(jobs);
      s = store;
    }
    cv.NotifyAll();
    if (s != nullptr) s->InterruptQueries();
    for (auto& w : workers) w.join();
    workers.clear();
    for (auto& job : waiting) Reply(job.reply, Text(503, "duckdb: shutting down"), "unavailable");
    MutexLock lock(mu);
    store.reset();
  }
};

// ---- the adapter ------------------------------------------------------------------

DuckdbAdapter::DuckdbAdapter(Options options)
    : options_(std::move(options)), queries_(std::make_shared<Queries>()) {
  queries_->options = options_;
  queries_->auth.bearer_token = options_.query_token;
}

DuckdbAdapter::~DuckdbAdapter() { Close(); }

Status DuckdbAdapter::Attach(const Services& services) {
  if (services.http == nullptr) {
    return Fail(ErrorCode::kConfig, "duckdb: no HTTP server to serve /query on: set --http-addr");
  }
  auto q = queries_;
  services.http->HandlePrefixAsync("POST", "/query",
                                   [q](net::HttpRequest&& req, const net::HttpReply& reply) {
                                     q->OnQuery(std::move(req), reply);
                                   });
  services.http->HandlePrefixAsync("GET", "/query/tables",
                                   [q](net::HttpRequest&& req, const net::HttpReply& reply) {
                                     q->OnTables(std::move(req), reply);
                                   });
  return Ok();
}

Status DuckdbAdapter::Open() {
  (void)M();
  StoreOptions so;
  so.path = options_.path;
  so.readonly_queries = options_.query_readonly;
  so.query_threads = options_.query_threads;
  so.max_result_bytes = options_.query_max_bytes;
  auto store = Store::Open(so);
  if (!store) return Fail(store.error());
  store_ = std::move(*store);
  next_retention_ = Clock::now();
  if (auto st = Housekeep(); !st) return st;
  queries_->Start(store_);
  log::Info("duckdb: database " + options_.path + " open; /query " +
            (options_.query_readonly ? "read-only" : "read-write"));
  return Ok();
}

Status DuckdbAdapter::EnsureView(const Event& e) {
  // Events of one relation version share their schema: one pointer compare.
  if (e.schema == last_schema_) return Ok();
  std::vector<std::pair<std::string, uint32_t>> cols;
  cols.reserve(e.schema->columns.size());
  for (const auto& c : e.schema->columns) cols.emplace_back(c.name, c.type_oid);
  std::string name = ViewName(*e.schema);
  auto it = views_.find(name);
  if (it == views_.end() || it->second != cols) {
    if (auto st = store_->CreateView(*e.schema, e.channel); !st) {
      // A view is a convenience: the event itself is stored regardless.
      log::Warn(st.error().message());
    }
    views_[std::move(name)] = std::move(cols);
  }
  last_schema_ = e.schema;
  return Ok();
}

Status DuckdbAdapter::Deliver(std::span<const Event* const> events) {
  if (store_ == nullptr) return Fail(ErrorCode::kClosed, "duckdb: closed");
  for (const Event* e : events) {
    if (e->filtered) continue;
    if (store_->staged() == 0) since_ = Clock::now();
    if (auto st = store_->Append(*e); !st) return st;
    if (e->seq != 0 && !first_seq_) first_seq_ = e->seq;
    if (e->schema != nullptr) {
      if (auto st = EnsureView(*e); !st) return st;
    }
    if (store_->staged() >= options_.flush_size) {
      if (auto st = Commit(); !st) return st;
    }
  }
  M().buffered.Set(static_cast<double>(store_->staged()));
  return Housekeep();
}

Status DuckdbAdapter::Commit() {
  if (auto st = store_->Commit(); !st) {
    M().flushes.With({"error"}).Inc();
    return st;
  }
  M().flushes.With({"ok"}).Inc();
  M().buffered.Set(0);
  first_seq_.reset();
  rows_changed_ = true;
  CountRows();
  return Ok();
}

Status DuckdbAdapter::Flush() {
  if (store_ == nullptr) return Ok();
  if (store_->staged() > 0 && Clock::now() - since_ >= options_.flush_interval) {
    if (auto st = Commit(); !st) return st;
  }
  return Housekeep();
}

void DuckdbAdapter::CountRows() {
  // At most once a second, after a change (count(*) costs ~1 ms per million rows).
  const auto now = Clock::now();
  if (!rows_changed_ || now < next_count_) return;
  next_count_ = now + std::chrono::seconds(1);
  rows_changed_ = false;
  if (auto rows = store_->RowCount()) M().rows.Set(static_cast<double>(*rows));
}

Status DuckdbAdapter::Housekeep() {
  CountRows();
  const auto now = Clock::now();
  if (now < next_retention_) return Ok();
  next_retention_ = now + RetentionInterval(options_.retention);
  const int64_t cutoff =
      (NowUnixNanos() - std::chrono::nanoseconds(options_.retention).count()) / 1000;
  auto deleted = store_->DeleteBefore(cutoff);
  if (!deleted) return Fail(deleted.error());
  M().expired.Inc(*deleted);
  rows_changed_ = rows_changed_ || *deleted > 0;
  return Ok();
}

std::optional<uint64_t> DuckdbAdapter::OldestHeldSeq() const { return first_seq_; }

void DuckdbAdapter::Close() {
  if (store_ == nullptr) return;
  if (store_->staged() > 0) {
    if (auto st = Commit(); !st) log::Error("duckdb: final flush: " + st.error().message());
  }
  queries_->Stop();
  store_.reset();
}

// ---- declaration --------------------------------------------------------------------

ConnectorInfo Connector() {
  using O = Options;
  return DefineAdapter<Options>({
      .name = "duckdb",
      .description =
          "Stores events in DuckDB (in memory or a file; typed views per WAL table, retention) "
          "and answers SQL on POST /query and GET /query/tables of the main HTTP server; "
          "events acknowledged once committed; read-only queries by default.",
      .params = Params({
          {Param("duckdb.path", &O::path, "database file; :memory: keeps it in memory"),
           Param("duckdb.retention", &O::retention, "rows older than this are deleted", {.min = 1}),
           Param("duckdb.flush_interval", &O::flush_interval,
                 "write buffered events at least this often", {.min = 1}),
           Param("duckdb.flush_size", &O::flush_size,
                 "write (one transaction) once this many events are buffered",
                 {.min = 1, .max = 10'000'000}),
           Param("duckdb.query_readonly", &O::query_readonly,
                 "/query runs only SELECT (DROP, COPY, ATTACH, INSTALL/LOAD, SET, PRAGMA refused "
                 "with 403); the database has external access off"),
           Param("duckdb.query_timeout", &O::query_timeout,
                 "default /query timeout (a request's \"timeout\" overrides it)", {.min = 1}),
           Param("duckdb.query_max_timeout", &O::query_max_timeout,
                 "largest \"timeout\" a request may ask for", {.min = 1}),
           Param("duckdb.query_max_bytes", &O::query_max_bytes,
                 "largest /query result (JSON bytes); larger results answer 400", {.min = 1024}),
           Param("duckdb.query_threads", &O::query_threads, "queries running at once",
                 {.min = 1, .max = 64}),
           Param("duckdb.query_token", &O::query_token,
                 "bearer token /query and /query/tables require (Authorization: Bearer …); "
                 "empty = none beyond --http-auth-token")},
      }),
      .validate =
          [](const O& o, const Context& ctx, Errors& errors) {
            if (ctx.core.http_addr.empty()) {
              errors.push_back("duckdb: needs the main HTTP server for /query: set --http-addr");
            }
            if (o.query_timeout > o.query_max_timeout) {
              errors.push_back("duckdb.query_timeout: larger than duckdb.query_max_timeout");
            }
          },
      .make = [](O o, const Context&) -> Result<AdapterPtr> {
        return std::make_unique<DuckdbAdapter>(std::move(o));
      },
  });
}

}  // namespace pgcdc::adapter::duckdb

PGCDC_REGISTER_CONNECTOR(adapter, duckdb, pgcdc::adapter::duckdb::Connector)
