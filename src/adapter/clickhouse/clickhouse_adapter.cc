#include "adapter/clickhouse/clickhouse_adapter.h"

#include <algorithm>

#include "core/log.h"
#include "core/metrics.h"
#include "core/time.h"
#include "dlq/dlq.h"
#include "registry/define.h"

namespace pgcdc::adapter::clickhouse {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::string_view kAdapter = "clickhouse";
// Response bytes kept (ClickHouse's exception text, the column list).
constexpr size_t kMaxBody = size_t{1} << 20;

struct Metrics {
  metrics::Family<metrics::Counter>& flushes = metrics::Default().AddCounter(
      "pgcdc_clickhouse_flushes_total",
      "Batches sent to ClickHouse by outcome: ok (every row inserted), partial (some rows "
      "refused and dead-lettered), error (the adapter stopped).",
      {"status"});
  metrics::Histogram& flush_size = metrics::DefaultHistogram(
      "pgcdc_clickhouse_flush_size", "Rows per batch sent to ClickHouse (after in-batch dedup).",
      {10, 100, 500, 1000, 5000, 10000, 50000});
  metrics::Histogram& flush_duration = metrics::DefaultHistogram(
      "pgcdc_clickhouse_flush_duration_seconds",
      "Time from a batch's first request until ClickHouse accepted (or refused) all its rows, "
      "retries included.",
      metrics::DefaultBuckets());
  metrics::Counter& rows_inserted = metrics::DefaultCounter("pgcdc_clickhouse_rows_inserted_total",
                                                            "Rows ClickHouse accepted (HTTP 200).");
  metrics::Counter& dedup_skipped = metrics::DefaultCounter(
      "pgcdc_clickhouse_dedup_skipped_total",
      "Events not sent because an event with the same id was already in the batch.");
  metrics::Counter& retries = metrics::DefaultCounter(
      "pgcdc_clickhouse_retries_total",
      "Requests sent again after a connection error, a timeout, 408, 429 or 5xx.");
  metrics::Counter& dead_lettered =
      metrics::DefaultCounter("pgcdc_clickhouse_dead_lettered_total",
                              "Events sent to the DLQ because ClickHouse refused their row.");
  metrics::Counter& split_requests = metrics::DefaultCounter(
      "pgcdc_clickhouse_split_requests_total",
      "Refused inserts of several rows that were split in halves to find the refused rows.");
};

Metrics& M() { return metrics::Lazy<Metrics>(); }

Error Cancelled() { return Error(ErrorCode::kCancelled, "clickhouse: interrupted"); }

}  // namespace

struct ClickHouseAdapter::Conn {
  Conn(const net::Http1Url& url, net::TlsOptions tls) : http(url, std::move(tls), kMaxBody) {}
  net::Http1Connection http;
};

ClickHouseAdapter::ClickHouseAdapter(Options options)
    : RetryingAdapter(kAdapter, options.backoff), options_(std::move(options)) {
  if (options_.batch_size == 0) options_.batch_size = 10000;
  if (options_.flush_interval.count() <= 0) options_.flush_interval = std::chrono::seconds(1);
  if (options_.timeout.count() <= 0) options_.timeout = std::chrono::seconds(30);
  M();
}

ClickHouseAdapter::~ClickHouseAdapter() { conn_.reset(); }

// ---- start-up ------------------------------------------------------------------

Status ClickHouseAdapter::Open() {
  auto dsn = ParseDsn(options_.dsn);
  if (!dsn) return Fail(dsn.error());
  dsn_ = std::move(*dsn);
  auto settings = MergeSettings(options_.async_insert, options_.settings);
  if (!settings) return Fail(settings.error());
  settings->emplace("database", dsn_.database);
  insert_target_ = Target(InsertStatement(dsn_.database, options_.table), *settings);
  conn_ = std::make_unique<Conn>(dsn_.url,
                                 net::TlsOptions{.ca_file = options_.tls_ca_file,
                                                 .insecure_skip_verify = options_.tls_insecure});
  if (auto st = Preflight(); !st) return st;
  log::Info("clickhouse ready", {{"adapter", kAdapter},
                                 {"dsn", dsn_.redacted},
                                 {"table", QualifiedTable(dsn_.database, options_.table)},
                                 {"batch_size", static_cast<uint64_t>(options_.batch_size)},
                                 {"async_insert", options_.async_insert}});
  return Ok();
}

Status ClickHouseAdapter::Preflight() {
  Reply reply;
  if (auto st = Send(PingHead(dsn_), {}, reply); !st) return st;
  if (!reply.failure.empty()) {
    return Fail(ErrorCode::kConnection,
                "clickhouse: cannot reach ClickHouse at " + dsn_.redacted + ": " + reply.failure);
  }
  if (reply.answer.verdict != Verdict::kOk) {
    return Fail(ErrorCode::kConnection,
                "clickhouse: " + dsn_.redacted +
                    " does not answer as ClickHouse's HTTP interface (GET /ping: " +
                    reply.answer.message + ")");
  }
  if (options_.auto_create) {
    const std::string target = Target(CreateTableStatement(dsn_.database, options_.table), {});
    if (auto st = Send(RequestHead(dsn_, target, 0), {}, reply); !st) return st;
    if (!reply.failure.empty()) {
      return Fail(ErrorCode::kConnection, "clickhouse: creating the table: " + reply.failure);
    }
    if (reply.answer.verdict != Verdict::kOk) return Fatal("creating the table", reply.answer);
  }
  return CheckColumns();
}

Status ClickHouseAdapter::CheckColumns() {
  const std::string qualified = QualifiedTable(dsn_.database, options_.table);
  const std::string target =
      Target(ColumnsQuery(), ColumnsQueryParams(dsn_.database, options_.table));
  Reply reply;
  if (auto st = Send(RequestHead(dsn_, target, 0), {}, reply); !st) return st;
  if (!reply.failure.empty()) {
    return Fail(ErrorCode::kConnection,
                "clickhouse: reading the columns of " + qualified + ": " + reply.failure);
  }
  if (reply.answer.verdict != Verdict::kOk)
    return Fatal("reading the table's columns", reply.answer);
  const auto names = ParseColumnNames(reply.body);
  if (names.empty()) {
    return Fail(ErrorCode::kNotFound, "clickhouse: table " + qualified +
                                          " does not exist: create it (docs/clickhouse.md) or pass "
                                          "--clickhouse-auto-create");
  }
  std::string missing;
  for (std::string_view column : kColumns) {
    if (std::find(names.begin(), names.end(), column) == names.end()) {
      missing += (missing.empty() ? "" : ", ") + std::string(column);
    }
  }
  if (!missing.empty()) {
    return Fail(ErrorCode::kConfig,
                "clickhouse: table " + qualified + " lacks the column(s) " + missing +
                    " that every row carries (docs/clickhouse.md has the table definition)");
  }
  return Ok();
}

// ---- holding -------------------------------------------------------------------

Status ClickHouseAdapter::Deliver(std::span<const Event* const> events) {
  for (const Event* e : events) {
    if (held_.empty()) oldest_at_ = Clock::now();
    held_.push_back(*e);
    if (held_.size() >= options_.batch_size) {
      if (auto st = SendHeld(); !st) return st;
    }
  }
  return Ok();
}

Status ClickHouseAdapter::Flush() {
  if (held_.empty() || Clock::now() - oldest_at_ < options_.flush_interval) return Ok();
  return SendHeld();
}

std::optional<uint64_t> ClickHouseAdapter::OldestHeldSeq() const {
  for (const Event& e : held_) {
    if (e.seq != 0) return e.seq;
  }
  return std::nullopt;
}

void ClickHouseAdapter::Interrupt() {
  RetryingAdapter::Interrupt();
  if (conn_) conn_->http.Interrupt();
}

void ClickHouseAdapter::Close() {
  closing_ = true;
  if (conn_ && !held_.empty()) {
    if (auto st = SendHeld(); !st) {
      log::Warn(
          "clickhouse: rows still held at shutdown were not inserted; they come again after a "
          "restart",
          {{"adapter", kAdapter},
           {"rows", static_cast<uint64_t>(held_.size())},
           {"error", st.error().message()}});
    }
  }
  held_.clear();
  conn_.reset();
}

// ---- sending -------------------------------------------------------------------

Status ClickHouseAdapter::SendHeld() {
  const auto started = Clock::now();
  std::vector<Uuid> ids;
  ids.reserve(held_.size());
  for (const Event& e : held_) ids.push_back(e.id);
  const std::vector<size_t> keep = FirstOccurrences(ids);
  M().dedup_skipped.Inc(held_.size() - keep.size());
  const auto version = static_cast<uint64_t>(NowUnixNanos() / 1'000'000);
  std::vector<std::string> lines(keep.size());
  for (size_t i = 0; i < keep.size(); ++i) AppendRow(held_[keep[i]], version, lines[i]);
  M().flush_size.Observe(static_cast<double>(lines.size()));
  // Ranges still to insert, the next one at the back (in event order).
  std::vector<std::pair<size_t, size_t>> todo = {{0, lines.size()}};
  bool partial = false;
  while (!todo.empty()) {
    const auto [begin, end] = todo.back();
    todo.pop_back();
    std::optional<Answer> rejected;
    if (auto st = Insert(lines, begin, end, rejected); !st) {
      M().flushes.With({"error"}).Inc();
      return st;
    }
    if (!rejected) {
      M().rows_inserted.Inc(end - begin);
      continue;
    }
    partial = true;
    if (end - begin > 1) {  // halves, the first one next
      const size_t mid = begin + (end - begin) / 2;
      todo.emplace_back(mid, end);
      todo.emplace_back(begin, mid);
      M().split_requests.Inc();
      continue;
    }
    const Event& event = held_[keep[begin]];
    if (auto st = dlq::DeadLetterRejected(dead_letters(), event, kAdapter,
                                          "clickhouse refused the row: " + rejected->message);
        !st) {
      return st;
    }
    M().dead_lettered.Inc();
  }
  held_.clear();
  M().flushes.With({partial ? "partial" : "ok"}).Inc();
  M().flush_duration.Observe(std::chrono::duration<double>(Clock::now() - started).count());
  return Ok();
}

Status ClickHouseAdapter::Insert(std::span<const std::string> lines, size_t begin, size_t end,
                                 std::optional<Answer>& rejected) {
  if (begin == end) return Ok();
  size_t size = 0;
  for (size_t i = begin; i < end; ++i) size += lines[i].size();
  std::string body;
  body.reserve(size);
  for (size_t i = begin; i < end; ++i) body += lines[i];
  Reply reply;
  if (auto st = SendRetrying(insert_target_, body, reply); !st) return st;
  switch (reply.answer.verdict) {
    case Verdict::kOk:
      return Ok();
    case Verdict::kReject:
      rejected = std::move(reply.answer);
      return Ok();
    case Verdict::kRetry:  // SendRetrying only returns it when closing
    case Verdict::kFatal:
      break;
  }
  return Fatal("inserting into " + QualifiedTable(dsn_.database, options_.table), reply.answer);
}

// One request on the connection (opened again when it broke); `reply` gets
// the answer or why there was none.
Status ClickHouseAdapter::Send(std::string_view head, std::string_view body, Reply& reply) {
  reply = Reply{};
  const net::Http1Connection::Request request{.head = head, .body = body};
  std::vector<net::Http1Response> responses;
  const Status st =
      conn_->http.Exchange(std::span(&request, 1), responses, Clock::now() + options_.timeout);
  if (!responses.empty()) {
    reply.answer = Classify(responses[0].status, responses[0].body);
    reply.body = std::move(responses[0].body);
    return Ok();
  }
  if (!st) {
    if (st.error().code() == ErrorCode::kCancelled || interrupted()) return Fail(Cancelled());
    reply.failure = st.error().message();
  } else {
    reply.failure = "no answer";
  }
  return Ok();
}

// Send() until ClickHouse gives an answer that is not "try again".
Status ClickHouseAdapter::SendRetrying(std::string_view target, std::string_view body,
                                       Reply& reply) {
  const std::string head = RequestHead(dsn_, target, body.size());
  for (;;) {
    if (interrupted()) return Fail(Cancelled());
    if (auto st = Send(head, body, reply); !st) return st;
    const bool transient = !reply.failure.empty() || reply.answer.verdict == Verdict::kRetry;
    if (!transient) {
      backoff().Reset();
      Recovered();
      return Ok();
    }
    const std::string why = reply.failure.empty() ? reply.answer.message : reply.failure;
    if (closing_) return Fail(ErrorCode::kConnection, "clickhouse: " + why);
    Degraded(why);
    M().retries.Inc();
    const auto delay = backoff().Next();
    log::Warn("clickhouse: insert failed; the batch is held and sent again",
              {{"adapter", kAdapter},
               {"error", why},
               {"retry_in_ms", static_cast<int64_t>(delay.count())}});
    if (!sleeper().SleepFor(delay)) return Fail(Cancelled());
  }
}

Status ClickHouseAdapter::Fatal(const std::string& what, const Answer& answer) {
  std::string hint;
  if (answer.code == 516 || answer.code == 192 || answer.code == 193 || answer.code == 194) {
    hint = " (check the user and password of clickhouse.dsn)";
  } else if (answer.code == 497 || answer.code == 291) {
    hint = " (the user lacks a grant)";
  }
  return Fail(ErrorCode::kConfig, "clickhouse: " + what + " failed: " + answer.message + hint);
}

// ---- declaration ---------------------------------------------------------------

namespace {

std::vector<ParamSpec> OwnParams() {
  using O = Options;
  return {
      Param("clickhouse.dsn", &O::dsn,
            "ClickHouse HTTP interface: http(s)://user:password@host:8123/database (native "
            "clickhouse://host:9000 DSNs are refused)"),
      Param("clickhouse.table", &O::table, "table the events are inserted into"),
      Param("clickhouse.auto_create", &O::auto_create,
            "create the table when missing (ReplacingMergeTree(_version) ORDER BY (channel, id))"),
      Param("clickhouse.async_insert", &O::async_insert,
            "insert with async_insert=1 and wait_for_async_insert=1 (acknowledged once flushed)"),
      Param("clickhouse.settings", &O::settings,
            "ClickHouse setting sent with every insert, k=v (repeatable; flags override YAML)",
            {.flag = "clickhouse-setting"}),
      Param("clickhouse.batch_size", &O::batch_size,
            "rows held before a batch is inserted (one INSERT request)",
            {.min = 1, .max = 1000000}),
      Param("clickhouse.flush_interval", &O::flush_interval,
            "longest time a row is held before its batch is inserted", {.min = 1}),
      Param("clickhouse.timeout", &O::timeout, "deadline of one request (then it is retried)",
            {.min = 1}),
      Param("clickhouse.tls_ca_file", &O::tls_ca_file,
            "https: CA bundle to verify ClickHouse (default: system store)"),
      Param("clickhouse.tls_insecure", &O::tls_insecure,
            "https: do not verify ClickHouse's certificate (testing only)"),
  };
}

// `pgcdc doctor`: Open() without creating anything; a missing table is
// fine when auto_create will create it.
CheckList Check(Options o) {
  const bool create = o.auto_create;
  o.auto_create = false;
  ClickHouseAdapter adapter(std::move(o));
  const Status st = adapter.Open();
  adapter.Close();
  if (!st && !(create && st.error().code() == ErrorCode::kNotFound)) {
    return FailedCheck("clickhouse", st.error().message());
  }
  return {{.name = "clickhouse",
           .detail = st ? "ClickHouse answers and the table has the columns"
                        : "ClickHouse answers; the table is created at start (auto_create)"}};
}

}  // namespace

ConnectorInfo Connector() {
  using O = Options;
  return DefineAdapter<Options>({
      .name = "clickhouse",
      .description = "Inserts every event as a row of a ClickHouse table over the HTTP interface "
                     "(JSONEachRow batches, ReplacingMergeTree by event id); acknowledged once "
                     "ClickHouse accepted the batch, refused rows go to the DLQ.",
      .params =
          Params({OwnParams(), BackoffParams<O>("clickhouse", "clickhouse", &O::backoff, "retry")}),
      .validate =
          [](const O& o, const Context&, Errors& errors) {
            if (auto d = ParseDsn(o.dsn); !d) errors.push_back(d.error().message());
            if (o.table.empty()) errors.push_back("clickhouse.table: must not be empty");
            if (auto s = MergeSettings(o.async_insert, o.settings); !s) {
              errors.push_back(s.error().message());
            }
            ValidateBackoff("clickhouse", o.backoff, errors);
          },
      .make = MakeRetryingAdapter<ClickHouseAdapter, O>,
      .check = [](O o, const Context&) { return Check(std::move(o)); },
  });
}

}  // namespace pgcdc::adapter::clickhouse

PGCDC_REGISTER_CONNECTOR(adapter, clickhouse, pgcdc::adapter::clickhouse::Connector)
