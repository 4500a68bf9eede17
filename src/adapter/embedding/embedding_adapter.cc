#include "adapter/embedding/embedding_adapter.h"

#include <algorithm>
#include <charconv>
#include <set>
#include <thread>

#include "core/log.h"
#include "core/metrics.h"
#include "core/scope.h"
#include "dlq/dlq.h"
#include "net/http1_client.h"
#include "pg/table_name.h"
#include "registry/define.h"

namespace pgcdc::adapter::embedding {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::string_view kAdapter = "embedding";
constexpr const char* kApplicationName = "pgcdc_embedding";
// Ids per write statement (6 parameters each, far below libpq's 65535).
constexpr size_t kRowsPerStatement = 1000;
// Response bytes kept: a batch of large vectors as JSON text.
constexpr size_t kMaxBody = size_t{256} << 20;
constexpr const char* kColumns[] = {"source_id", "source_table", "content",
                                    "embedding", "event_id",     "content_hash"};

struct Metrics {
  metrics::Counter& requests = metrics::DefaultCounter("pgcdc_embedding_api_requests_total",
                                                       "Requests sent to the embeddings API.");
  metrics::Histogram& duration = metrics::DefaultHistogram(
      "pgcdc_embedding_api_duration_seconds", "Round trip of one embeddings API request.",
      {0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30});
  metrics::Counter& errors = metrics::DefaultCounter(
      "pgcdc_embedding_api_errors_total",
      "Failed embeddings API requests (retried, refused or with an unusable answer).");
  metrics::Counter& tokens = metrics::DefaultCounter(
      "pgcdc_embedding_tokens_total", "Tokens the embeddings API reported (usage.total_tokens).");
  metrics::Counter& embedded = metrics::DefaultCounter(
      "pgcdc_embedding_texts_embedded_total", "Distinct texts the embeddings API embedded.");
  metrics::Counter& upserted = metrics::DefaultCounter("pgcdc_embedding_upserted_total",
                                                       "Rows upserted into the embeddings table.");
  metrics::Counter& deleted = metrics::DefaultCounter(
      "pgcdc_embedding_deleted_total", "Delete statements' ids (rows removed if present).");
  metrics::Counter& retries = metrics::DefaultCounter(
      "pgcdc_embedding_retries_total",
      "Times the embedding adapter backed off (API or PostgreSQL unavailable).");
  metrics::Family<metrics::Counter>& skipped = metrics::Default().AddCounter(
      "pgcdc_embedding_skipped_total",
      "Events the embedding adapter does not embed: not_row, truncate, no_id, empty_content, "
      "unchanged (same text hash as stored, old image or unchanged TOAST), superseded (a later "
      "event of the same id in the batch).",
      {"reason"});
  metrics::Family<metrics::Counter>& dead_lettered = metrics::Default().AddCounter(
      "pgcdc_embedding_dead_lettered_total",
      "Events sent to the DLQ: bad_input (no text columns, partial TOAST), api_rejected, "
      "bad_response (malformed JSON, wrong count), dimension, retries_exhausted, row_rejected.",
      {"reason"});
};

Metrics& M() { return metrics::Lazy<Metrics>(); }

Error Cancelled() { return Error(ErrorCode::kCancelled, "embedding: interrupted"); }

// The N of "vector(N)"; 0 when the type has no dimension.
size_t VectorDimension(std::string_view type) {
  size_t n = 0;
  if (!type.starts_with("vector(")) return 0;
  const auto* begin = type.data() + 7;
  auto r = std::from_chars(begin, type.data() + type.size(), n);
  return r.ec == std::errc() ? n : 0;
}

std::chrono::milliseconds RetryAfter(std::string_view value) {
  uint64_t s = 0;
  auto r = std::from_chars(value.data(), value.data() + value.size(), s);
  if (r.ec != std::errc() || value.empty()) return std::chrono::milliseconds(0);
  return std::chrono::seconds(std::min<uint64_t>(s, 3600));
}

}  // namespace

struct EmbeddingAdapter::Held {
  Event event;
  Item item;
  bool dead = false;  // dead-lettered: takes no part in the writes
};

struct EmbeddingAdapter::Api {
  net::Http1Url url;
  std::string path;
  std::vector<std::unique_ptr<net::Http1Connection>> conns;  // one per concurrent request
};

// One API request: distinct texts (by hash) and its answer.
struct EmbeddingAdapter::Request {
  std::vector<std::string> hashes;
  std::vector<const std::string*> texts;
  uint32_t attempts = 0;
  bool done = false;
  int status = 0;
  std::string body;
  std::string retry_after;
  std::string failure;  // transport error
};

EmbeddingAdapter::EmbeddingAdapter(Options options)
    : RetryingAdapter(kAdapter, options.backoff),
      options_(std::move(options)),
      session_(options_.db_url, kApplicationName, sleeper()) {
  options_.batch_size = std::max<size_t>(options_.batch_size, 1);
  options_.concurrency = std::max<size_t>(options_.concurrency, 1);
  plan_ = PlanOptions{.columns = options_.columns,
                      .id_column = options_.id_column,
                      .model = options_.model,
                      .skip_unchanged = options_.skip_unchanged};
  M();
}

EmbeddingAdapter::~EmbeddingAdapter() { session_.Disconnect(); }

// ---- start-up ------------------------------------------------------------------

Status EmbeddingAdapter::Open() {
  auto url = net::ParseHttp1Url(options_.api_url);
  if (!url) return Fail(url.error().Wrap("embedding.api_url"));
  api_ = std::make_unique<Api>();
  api_->url = *url;
  api_->path = EmbeddingsPath(url->target);
  for (size_t i = 0; i < options_.concurrency; ++i) {
    api_->conns.push_back(
        std::make_unique<net::Http1Connection>(*url, net::TlsOptions{}, kMaxBody));
  }
  auto name = pg::ParseTableName(options_.table);
  if (!name) return Fail(ErrorCode::kConfig, "embedding.table: invalid " + name.error().message());
  quoted_table_ = name->Quoted();
  const std::string where = " (database " + pg::RedactUrl(options_.db_url) + ")";
  if (auto st = session_.Connect(); !st) return Fail(st.error().Wrap("embedding" + where));
  auto cols = session_.Query(
      "embedding: read the table's columns",
      "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a WHERE "
      "a.attrelid = to_regclass($1::text) AND a.attnum > 0 AND NOT a.attisdropped",
      {quoted_table_});
  if (!cols) return Fail(cols.error());
  std::set<std::string> have;
  for (const auto& r : *cols) {
    have.insert(r[0].value_or(""));
    if (r[0] == std::optional<std::string>("embedding"))
      dimension_ = VectorDimension(r[1].value_or(""));
  }
  std::string missing;
  for (const char* c : kColumns) {
    if (!have.contains(c)) missing += (missing.empty() ? "" : ", ") + std::string(c);
  }
  if (!missing.empty()) {
    return Fail(ErrorCode::kConfig,
                "embedding: table \"" + options_.table + "\"" + where +
                    (have.empty() ? " does not exist" : " has no column(s) " + missing) +
                    "; create it with the SQL from `pgcdc init --adapter embedding --table " +
                    options_.table + " --dimension N`");
  }
  if (dimension_ == 0) dimension_ = options_.dimension;
  log::Info("embedding ready", {{"adapter", kAdapter},
                                {"table", options_.table},
                                {"dimension", static_cast<uint64_t>(dimension_)},
                                {"api", options_.api_url},
                                {"model", options_.model},
                                {"batch_size", static_cast<uint64_t>(options_.batch_size)}});
  return Ok();
}

// ---- holding -------------------------------------------------------------------

Status EmbeddingAdapter::Deliver(std::span<const Event* const> events) {
  if (interrupted()) return Fail(Cancelled());
  for (const Event* e : events) {
    Item item = PlanItem(plan_, *e);
    if (item.kind == Item::Kind::kSkip) {
      M().skipped.With({item.reason}).Inc();
      continue;
    }
    held_.push_back(Held{.event = *e, .item = std::move(item)});
    if (held_.back().item.kind == Item::Kind::kReject) {
      const std::string why = held_.back().item.reason;
      if (auto st = DeadLetter(held_.back(), "bad_input", why); !st) return st;
      held_.pop_back();
      continue;
    }
    if (held_.size() >= options_.batch_size * options_.concurrency) {
      if (auto st = Process(); !st) return st;
    }
  }
  return Ok();
}

Status EmbeddingAdapter::Flush() {
  if (held_.empty()) return Ok();
  if (interrupted()) return Fail(Cancelled());
  return Process();
}

void EmbeddingAdapter::Interrupt() {
  RetryingAdapter::Interrupt();
  if (api_) {
    for (auto& c : api_->conns) c->Interrupt();
  }
}

void EmbeddingAdapter::Close() {
  if (!held_.empty()) {
    log::Warn(
        "embedding: closing with events not written (not acknowledged; the source keeps "
        "them)",
        {{"adapter", kAdapter}, {"events", static_cast<uint64_t>(held_.size())}});
  }
  held_.clear();
  session_.Disconnect();
}

Status EmbeddingAdapter::DeadLetter(Held& h, std::string_view reason, const std::string& why) {
  if (auto st = dlq::DeadLetterRejected(dead_letters(), h.event, kAdapter, why); !st) return st;
  h.dead = true;
  M().dead_lettered.With({std::string(reason)}).Inc();
  return Ok();
}

Status EmbeddingAdapter::Wait(const std::string& why, std::chrono::milliseconds at_least) {
  Degraded(why);
  M().retries.Inc();
  const auto delay = std::max(backoff().Next(), std::min(at_least, backoff().policy().cap));
  log::Warn("embedding: retrying", {{"adapter", kAdapter},
                                    {"error", why},
                                    {"pending_events", static_cast<uint64_t>(held_.size())},
                                    {"retry_in_ms", static_cast<int64_t>(delay.count())}});
  if (!sleeper().SleepFor(delay)) return Fail(Cancelled());
  return Ok();
}

// ---- processing ----------------------------------------------------------------

Status EmbeddingAdapter::Process() {
  if (auto st = LookupHashes(); !st) return st;
  std::vector<size_t> ops = FinalOps();
  for (;;) {
    const bool missing = std::any_of(ops.begin(), ops.end(), [&](size_t i) {
      const Item& it = held_[i].item;
      return it.kind == Item::Kind::kUpsert && !vectors_.contains(it.hash) &&
             stored_[it.source_id] != it.hash;
    });
    if (!missing) break;
    if (auto st = Embed(ops); !st) return st;
    ops = FinalOps();  // dead-lettered events no longer count
  }
  if (auto st = Write(ops); !st) return st;
  const size_t live =
      std::count_if(held_.begin(), held_.end(), [](const Held& h) { return !h.dead; });
  if (live > ops.size()) M().skipped.With({"superseded"}).Inc(live - ops.size());
  held_.clear();
  stored_.clear();
  vectors_.clear();
  looked_up_ = false;
  backoff().Reset();
  Recovered();
  return Ok();
}

Status EmbeddingAdapter::EnsureConnected() {
  while (!session_.connected()) {
    if (interrupted()) return Fail(Cancelled());
    auto st = session_.Connect();
    if (st) break;
    if (st.error().code() == ErrorCode::kCancelled) return st;
    if (auto w = Wait("cannot connect to PostgreSQL: " + st.error().message()); !w) return w;
  }
  return Ok();
}

Status EmbeddingAdapter::LookupHashes() {
  if (looked_up_) return Ok();
  std::vector<std::string> ids;
  for (const Held& h : held_) ids.push_back(h.item.source_id);
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  for (;;) {
    if (auto st = EnsureConnected(); !st) return st;
    pg::Outcome o = session_.Run(LookupSql(quoted_table_), {TextArray(ids)});
    if (o.cancelled) return Fail(Cancelled());
    if (o.ok) {
      for (auto& r : o.rows) stored_[r[0].value_or("")] = r[1].value_or("");
      looked_up_ = true;
      return Ok();
    }
    if (o.failure == pg::Failure::kConnection) session_.Disconnect();
    if (auto st = Wait("read the stored content hashes: " + o.message); !st) return st;
  }
}

std::vector<size_t> EmbeddingAdapter::FinalOps() const {
  std::unordered_map<std::string_view, size_t> last;
  for (size_t i = 0; i < held_.size(); ++i) {
    if (!held_[i].dead) last[held_[i].item.source_id] = i;
  }
  std::vector<size_t> ops;
  ops.reserve(last.size());
  for (const auto& [id, i] : last) ops.push_back(i);
  std::sort(ops.begin(), ops.end());
  return ops;
}

// ---- the embeddings API --------------------------------------------------------

Status EmbeddingAdapter::Embed(const std::vector<size_t>& ops) {
  std::vector<Request> requests;
  std::set<std::string_view> queued;
  for (size_t i : ops) {
    const Item& it = held_[i].item;
    if (it.kind != Item::Kind::kUpsert || vectors_.contains(it.hash)) continue;
    if (auto s = stored_.find(it.source_id); s != stored_.end() && s->second == it.hash) continue;
    if (!queued.insert(it.hash).second) continue;  // the same text once
    if (requests.empty() || requests.back().hashes.size() >= options_.batch_size) {
      requests.emplace_back();
    }
    requests.back().hashes.push_back(it.hash);
    requests.back().texts.push_back(&it.content);
  }
  return RunRequests(requests);
}

// Sends requests[wave[k]] on connection k, concurrently (wave[0] on this
// thread).
void EmbeddingAdapter::SendWave(std::vector<Request>& requests, const std::vector<size_t>& wave) {
  auto one = [&](size_t k) {
    Request& r = requests[wave[k]];
    const std::string body = RequestBody(options_.model, r.texts);
    const std::string head =
        RequestHead(api_->path, api_->url.host_header, options_.api_key, body.size());
    const net::Http1Connection::Request req{.head = head, .body = body};
    std::vector<net::Http1Response> answers;
    const auto started = Clock::now();
    const Status st =
        api_->conns[k]->Exchange(std::span(&req, 1), answers, started + options_.timeout);
    M().requests.Inc();
    M().duration.Observe(std::chrono::duration<double>(Clock::now() - started).count());
    r.status = 0;
    r.failure.clear();
    if (!answers.empty()) {
      r.status = answers[0].status;
      r.body = std::move(answers[0].body);
      r.retry_after = answers[0].retry_after;
    } else {
      r.failure = st ? "no answer" : st.error().message();
    }
  };
  std::vector<std::jthread> threads;
  threads.reserve(wave.size());
  for (size_t k = 1; k < wave.size(); ++k) threads.emplace_back(scope::Bind(one), k);
  one(0);
}

Status EmbeddingAdapter::RunRequests(std::vector<Request>& requests) {
  for (;;) {
    if (interrupted()) return Fail(Cancelled());
    std::vector<size_t> wave;
    for (size_t i = 0; i < requests.size() && wave.size() < options_.concurrency; ++i) {
      if (!requests[i].done) wave.push_back(i);
    }
    if (wave.empty()) return Ok();
    SendWave(requests, wave);
    if (interrupted()) return Fail(Cancelled());
    std::string retry;
    std::chrono::milliseconds after{0};
    for (size_t i : wave) {
      const std::string before = retry;
      if (auto st = HandleAnswer(requests, i, retry); !st) return st;
      if (retry != before) after = std::max(after, RetryAfter(requests[i].retry_after));
    }
    if (retry.empty()) {
      backoff().Reset();
      Recovered();
      continue;
    }
    if (auto st = Wait(retry, after); !st) return st;
  }
}

// The answer to requests[i]: vectors kept, or the request split, dead-
// lettered, or (`retry` set) sent again.
Status EmbeddingAdapter::HandleAnswer(std::vector<Request>& requests, size_t i,
                                      std::string& retry) {
  Request& r = requests[i];
  std::string transient;
  if (!r.failure.empty()) {
    transient = "embeddings API unreachable: " + r.failure;
  } else {
    switch (ClassifyStatus(r.status)) {
      case Outcome::kOk:
        return Accept(requests, i);
      case Outcome::kRetry:
        transient = "embeddings API answered HTTP " + std::to_string(r.status) + ": " +
                    ApiErrorMessage(r.body);
        break;
      case Outcome::kAuth:
        M().errors.Inc();
        return Fail(ErrorCode::kConfig, "embedding: the embeddings API refused the key (HTTP " +
                                            std::to_string(r.status) +
                                            "): check embedding.api_key (--embedding-api-key)");
      case Outcome::kReject:
        return Unusable(requests, i, "api_rejected",
                        "the embeddings API rejected the input (HTTP " + std::to_string(r.status) +
                            "): " + ApiErrorMessage(r.body));
    }
  }
  M().errors.Inc();
  if (++r.attempts >= options_.max_retries && options_.max_retries > 0) {
    r.done = true;
    const std::string why = transient + " (after " + std::to_string(r.attempts) + " attempts)";
    for (const std::string& hash : std::vector<std::string>(r.hashes)) {
      if (auto st = DeadLetterText(hash, "retries_exhausted", why); !st) return st;
    }
    return Ok();
  }
  if (retry.empty()) retry = transient;
  return Ok();
}

Status EmbeddingAdapter::Accept(std::vector<Request>& requests, size_t i) {
  auto parsed = ParseResponse(requests[i].body, requests[i].hashes.size());
  if (!parsed) {
    return Unusable(requests, i, "bad_response",
                    "the embeddings API answered unusable JSON: " + parsed.error().message());
  }
  Request& r = requests[i];
  r.done = true;
  M().tokens.Inc(parsed->tokens);
  for (size_t k = 0; k < r.hashes.size(); ++k) {
    const auto& v = parsed->vectors[k];
    if (v.size() != dimension_) {
      M().errors.Inc();
      const std::string why = "the embeddings API returned a vector of " +
                              std::to_string(v.size()) + " dimensions; the table holds " +
                              std::to_string(dimension_);
      if (auto st = DeadLetterText(r.hashes[k], "dimension", why); !st) return st;
      continue;
    }
    vectors_[r.hashes[k]] = VectorText(v);
    M().embedded.Inc();
  }
  return Ok();
}

// requests[i] got an answer that cannot be used: several inputs are split
// into single requests (sent next), a single input dead-letters its events.
Status EmbeddingAdapter::Unusable(std::vector<Request>& requests, size_t i, std::string_view reason,
                                  const std::string& why) {
  M().errors.Inc();
  requests[i].done = true;
  const std::vector<std::string> hashes = requests[i].hashes;
  const std::vector<const std::string*> texts = requests[i].texts;
  if (hashes.size() == 1) return DeadLetterText(hashes[0], reason, why);
  log::Warn("embedding: unusable answer for a batch; sending its inputs one by one",
            {{"adapter", kAdapter}, {"error", why}});
  for (size_t k = 0; k < hashes.size(); ++k) {
    Request single;
    single.hashes = {hashes[k]};
    single.texts = {texts[k]};
    requests.push_back(std::move(single));
  }
  return Ok();
}

// Dead-letters every held upsert whose text has `hash`.
Status EmbeddingAdapter::DeadLetterText(const std::string& hash, std::string_view reason,
                                        const std::string& why) {
  for (Held& h : held_) {
    if (h.dead || h.item.kind != Item::Kind::kUpsert || h.item.hash != hash) continue;
    if (auto st = DeadLetter(h, reason, why); !st) return st;
  }
  return Ok();
}

// ---- PostgreSQL ----------------------------------------------------------------

Status EmbeddingAdapter::Write(const std::vector<size_t>& ops) {
  std::vector<size_t> todo;
  for (size_t i : ops) {
    const Item& it = held_[i].item;
    if (it.kind == Item::Kind::kUpsert) {
      if (auto s = stored_.find(it.source_id); s != stored_.end() && s->second == it.hash) {
        M().skipped.With({"unchanged"}).Inc();
        continue;
      }
    }
    todo.push_back(i);
  }
  for (size_t b = 0; b < todo.size(); b += kRowsPerStatement) {
    const auto chunk = std::span(todo).subspan(b, std::min(kRowsPerStatement, todo.size() - b));
    for (;;) {
      if (auto st = EnsureConnected(); !st) return st;
      std::string retry;
      if (auto st = WriteChunk(chunk, retry); !st) return st;
      if (retry.empty()) break;
      if (auto st = Wait(retry); !st) return st;
    }
  }
  return Ok();
}

// One statement for the live operations of `chunk`; a rejected row is
// isolated and dead-lettered. `retry` is set when it must be written again.
Status EmbeddingAdapter::WriteChunk(std::span<const size_t> chunk, std::string& retry) {
  std::vector<std::string> ids;
  std::vector<std::string> params(1);
  size_t rows = 0;
  for (size_t i : chunk) {
    const Held& h = held_[i];
    if (h.dead) continue;
    if (h.item.kind == Item::Kind::kDelete) {
      ids.push_back(h.item.source_id);
      continue;
    }
    params.insert(params.end(), {h.item.source_id, h.item.source_table, h.item.content,
                                 vectors_.at(h.item.hash), h.event.id.ToString(), h.item.hash});
    ++rows;
  }
  if (ids.empty() && rows == 0) return Ok();
  params[0] = TextArray(ids);
  pg::Outcome o = session_.Run(WriteSql(quoted_table_, rows), params);
  if (o.cancelled) return Fail(Cancelled());
  if (o.ok) {
    M().upserted.Inc(rows);
    M().deleted.Inc(ids.size());
    return Ok();
  }
  if (o.failure != pg::Failure::kRow) {
    if (o.failure == pg::Failure::kConnection) session_.Disconnect();
    retry = "write to " + options_.table + ": " + o.message;
    return Ok();
  }
  if (chunk.size() == 1) {
    return DeadLetter(held_[chunk[0]], "row_rejected", "PostgreSQL rejected the row: " + o.message);
  }
  for (size_t k = 0; k < chunk.size() && retry.empty(); ++k) {
    if (auto st = WriteChunk(chunk.subspan(k, 1), retry); !st) return st;
  }
  return Ok();
}

// ---- declaration ---------------------------------------------------------------

ConnectorInfo Connector() {
  using O = Options;
  return DefineAdapter<Options>({
      .name = "embedding",
      .description = "Keeps a pgvector table of text embeddings in step with row changes: "
                     "batched OpenAI-compatible API calls, unchanged text never embedded again "
                     "(content hash), deletes; acknowledged once the rows are committed.",
      .params = Params({
          {Param("embedding.api_url", &O::api_url,
                 "OpenAI-compatible API: base URL or its …/embeddings endpoint"),
           Param("embedding.api_key", &O::api_key, "API key (Authorization: Bearer)"),
           Param("embedding.model", &O::model, "embedding model name"),
           Param("embedding.columns", &O::columns,
                 "row columns whose text is embedded (joined with a space)"),
           Param("embedding.id_column", &O::id_column, "row column whose value is source_id"),
           Param("embedding.table", &O::table,
                 "pgvector table, table or schema.table (`pgcdc init --adapter embedding`)"),
           Param("embedding.db_url", &O::db_url, "database of the table (default: --db)"),
           Param("embedding.dimension", &O::dimension,
                 "vector dimension when the table's embedding column has none (init's DDL too)",
                 {.min = 1, .max = 16000}),
           Param("embedding.batch_size", &O::batch_size, "texts per API request",
                 {.min = 1, .max = 2048}),
           Param("embedding.concurrency", &O::concurrency, "API requests in flight at once",
                 {.min = 1, .max = 64}),
           Param("embedding.max_retries", &O::max_retries,
                 "attempts per API request before its events go to the DLQ (0 = retry until the "
                 "API answers)"),
           Param("embedding.timeout", &O::timeout, "deadline of one API request", {.min = 1}),
           Param("embedding.skip_unchanged", &O::skip_unchanged,
                 "also skip an UPDATE whose old image has the same text (no table read)")},
          BackoffParams<O>("embedding", "embedding", &O::backoff, "retry"),
      }),
      .validate =
          [](const O& o, const Context& ctx, Errors& errors) {
            if (o.api_url.empty()) {
              errors.push_back(
                  "embedding.api_url: required for adapter embedding "
                  "(--embedding-api-url)");
            } else if (auto u = net::ParseHttp1Url(o.api_url); !u) {
              errors.push_back("embedding.api_url: " + u.error().message());
            }
            if (o.columns.empty()) {
              errors.push_back(
                  "embedding.columns: required for adapter embedding "
                  "(--embedding-columns)");
            }
            if (o.id_column.empty()) errors.push_back("embedding.id_column: must not be empty");
            if (o.db_url.empty() && ctx.core.database_url.empty()) {
              errors.push_back(
                  "embedding.db_url: required for adapter embedding "
                  "(--embedding-db-url, or --db / PGCDC_DATABASE_URL)");
            }
            if (auto n = pg::ParseTableName(o.table); !n) {
              errors.push_back("embedding.table: invalid " + n.error().message());
            }
            ValidateBackoff("embedding", o.backoff, errors);
          },
      .make = [](O o, const Context& ctx) -> Result<AdapterPtr> {
        if (o.db_url.empty()) o.db_url = ctx.core.database_url;
        return MakeRetryingAdapter<EmbeddingAdapter>(std::move(o), ctx);
      },
      .check =
          [](O o, const Context& ctx) {
            if (o.db_url.empty()) o.db_url = ctx.core.database_url;
            const std::string table = o.table;
            return OpenCheck<EmbeddingAdapter>(std::move(o), "table " + table,
                                               "exists with the embedding columns");
          },
  });
}

}  // namespace pgcdc::adapter::embedding

PGCDC_REGISTER_CONNECTOR(adapter, embedding, pgcdc::adapter::embedding::Connector)
