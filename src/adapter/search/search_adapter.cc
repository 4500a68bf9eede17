#include "adapter/search/search_adapter.h"

#include <algorithm>

#include "core/log.h"
#include "core/metrics.h"
#include "dlq/dlq.h"
#include "net/http1_client.h"
#include "registry/define.h"

namespace pgcdc::adapter::search {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::string_view kAdapter = "search";
// Requests pipelined on the connection at once.
constexpr size_t kWindow = 32;
// Response bytes kept: a Typesense import answers one line per document.
constexpr size_t kMaxBody = size_t{64} << 20;

struct Metrics {
  metrics::Counter& upserted =
      metrics::DefaultCounter("pgcdc_search_upserted_total",
                              "Documents the search engine accepted (upserts and partial "
                              "updates).");
  metrics::Counter& deleted =
      metrics::DefaultCounter("pgcdc_search_deleted_total", "Documents deleted from the index.");
  metrics::Counter& partial = metrics::DefaultCounter(
      "pgcdc_search_partial_updates_total",
      "Partial updates sent for rows with unchanged TOAST columns (those columns kept).");
  metrics::Histogram& batch_duration = metrics::DefaultHistogram(
      "pgcdc_search_batch_duration_seconds",
      "Time to send one batch of held documents until the engine accepted all of them.",
      {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30});
  metrics::Counter& errors = metrics::DefaultCounter(
      "pgcdc_search_errors_total",
      "Failed search requests (retried, rejected or refused) and rejected documents.");
  metrics::Counter& retries = metrics::DefaultCounter(
      "pgcdc_search_retries_total", "Times the search adapter backed off and sent again.");
  metrics::Counter& dead_lettered =
      metrics::DefaultCounter("pgcdc_search_dead_lettered_total",
                              "Events sent to the DLQ because the engine rejected "
                              "their document.");
  metrics::Family<metrics::Counter>& skipped = metrics::Default().AddCounter(
      "pgcdc_search_skipped_total",
      "Events the search adapter does not index: not_row (transaction markers, schema events, "
      "messages), no_id, truncate.",
      {"reason"});
};

Metrics& M() { return metrics::Lazy<Metrics>(); }

Error Cancelled() { return Error(ErrorCode::kCancelled, "search: interrupted"); }

}  // namespace

struct SearchAdapter::Conn {
  Conn(const net::Http1Url& url, net::TlsOptions tls) : http(url, std::move(tls), kMaxBody) {}
  net::Http1Connection http;
  std::string base_path;  // the URL's path without a trailing '/'
};

struct SearchAdapter::Held {
  Event event;
  Document doc;
};

// One request: held_[begin, end) (several documents only for an upsert).
struct SearchAdapter::Unit {
  Document::Kind kind = Document::Kind::kUpsert;
  size_t begin = 0;
  size_t end = 0;
  Request request;
};

SearchAdapter::SearchAdapter(Options options)
    : RetryingAdapter(kAdapter, options.backoff), options_(std::move(options)) {
  if (options_.batch_size == 0) options_.batch_size = 1;
  while (options_.url.ends_with('/')) options_.url.pop_back();
  M();
}

SearchAdapter::~SearchAdapter() { conn_.reset(); }

// ---- start-up ------------------------------------------------------------------

Status SearchAdapter::Open() {
  auto url = net::ParseHttp1Url(options_.url);
  if (!url) return Fail(url.error().Wrap("search.url"));
  host_header_ = url->host_header;
  conn_ =
      std::make_unique<Conn>(*url, net::TlsOptions{.ca_file = options_.tls_ca_file,
                                                   .insecure_skip_verify = options_.tls_insecure});
  conn_->base_path = url->target.substr(0, url->target.find('?'));
  while (conn_->base_path.ends_with('/')) conn_->base_path.pop_back();
  if (skip_validation()) {
    log::Info("search: start-up checks skipped (--skip-validation)", {{"adapter", kAdapter}});
  } else if (auto st = Preflight(); !st) {
    return st;
  }
  log::Info("search ready", {{"adapter", kAdapter},
                             {"engine", EngineName(options_.engine)},
                             {"url", options_.url},
                             {"index", options_.index},
                             {"batch_size", static_cast<uint64_t>(options_.batch_size)}});
  return Ok();
}

Status SearchAdapter::Preflight() {
  const std::string engine(EngineName(options_.engine));
  std::vector<Unit> probe(2);
  probe[0].request = HealthRequest();
  probe[1].request = IndexRequest(options_.engine, options_.index);
  std::vector<int> status;
  std::vector<std::string> bodies;
  std::string failure;
  if (auto st = Exchange(probe, status, bodies, failure); !st) return st;
  if (!failure.empty()) {
    return Fail(ErrorCode::kConnection,
                "search: cannot reach " + engine + " at " + options_.url + ": " + failure);
  }
  if (status[0] >= 400) {
    return Fail(ErrorCode::kConnection, "search: " + engine + " at " + options_.url +
                                            " is not healthy (GET /health: HTTP " +
                                            std::to_string(status[0]) + ")");
  }
  const int index_status = status[1];
  if (ClassifyStatus(index_status) == Outcome::kAuth) {
    return Fail(ErrorCode::kConfig, "search: " + engine + " refused the API key (HTTP " +
                                        std::to_string(index_status) +
                                        "): check search.api_key (--search-api-key)");
  }
  if (index_status == 404 && options_.engine == Engine::kTypesense) {
    return Fail(ErrorCode::kConfig, "search: typesense collection \"" + options_.index +
                                        "\" does not exist: create it (with its schema) first");
  }
  if (index_status >= 500) {
    return Fail(ErrorCode::kConnection, "search: " + engine + " answered HTTP " +
                                            std::to_string(index_status) +
                                            " for the index: " + ErrorMessage(bodies[1]));
  }
  return Ok();
}

// ---- holding -------------------------------------------------------------------

Status SearchAdapter::Deliver(std::span<const Event* const> events) {
  for (const Event* e : events) {
    Document doc = PlanDocument(options_.engine, options_.id_column, *e);
    if (doc.kind == Document::Kind::kSkip) {
      M().skipped.With({doc.skip_reason}).Inc();
      continue;
    }
    if (held_.empty()) oldest_at_ = Clock::now();
    held_.push_back(Held{.event = *e, .doc = std::move(doc)});
    if (held_.size() >= options_.batch_size) {
      if (auto st = SendHeld(); !st) return st;
    }
  }
  return Ok();
}

Status SearchAdapter::Flush() {
  if (held_.empty() || Clock::now() - oldest_at_ < options_.batch_interval) return Ok();
  return SendHeld();
}

std::optional<uint64_t> SearchAdapter::OldestHeldSeq() const {
  for (const Held& h : held_) {
    if (h.event.seq != 0) return h.event.seq;
  }
  return std::nullopt;
}

void SearchAdapter::Interrupt() {
  RetryingAdapter::Interrupt();
  if (conn_) conn_->http.Interrupt();
}

void SearchAdapter::Close() {
  closing_ = true;
  if (conn_ && !held_.empty()) {
    if (auto st = SendHeld(); !st) {
      log::Warn(
          "search: documents still held at shutdown were not sent; they come again after a "
          "restart",
          {{"adapter", kAdapter},
           {"documents", static_cast<uint64_t>(held_.size())},
           {"error", st.error().message()}});
    }
  }
  held_.clear();
  conn_.reset();
}

// ---- sending -------------------------------------------------------------------

Status SearchAdapter::SendHeld() {
  const auto started = Clock::now();
  std::vector<Unit> units;
  std::vector<const std::string*> docs;
  for (size_t i = 0; i < held_.size();) {
    Unit u{.kind = held_[i].doc.kind, .begin = i, .end = i + 1};
    const Document& d = held_[i].doc;
    if (d.kind == Document::Kind::kUpsert) {
      docs.clear();
      while (u.end < held_.size() && held_[u.end].doc.kind == Document::Kind::kUpsert) ++u.end;
      for (size_t k = i; k < u.end; ++k) docs.push_back(&held_[k].doc.body);
      u.request = UpsertRequest(options_.engine, options_.index, docs);
    } else if (d.kind == Document::Kind::kPartial) {
      u.request = PartialRequest(options_.engine, options_.index, d.id, d.body);
    } else {
      u.request = DeleteRequest(options_.engine, options_.index, d.id);
    }
    i = u.end;
    units.push_back(std::move(u));
  }
  if (auto st = Run(units); !st) return st;
  held_.clear();
  M().batch_duration.Observe(std::chrono::duration<double>(Clock::now() - started).count());
  return Ok();
}

// Sends `units` pipelined; `status`/`bodies` get the answers that arrived
// (a prefix), `failure` why the others did not.
Status SearchAdapter::Exchange(std::span<const Unit> units, std::vector<int>& status,
                               std::vector<std::string>& bodies, std::string& failure) {
  std::vector<std::string> heads;
  std::vector<net::Http1Connection::Request> requests;
  heads.reserve(units.size());
  requests.reserve(units.size());
  for (const Unit& u : units) {
    heads.push_back(
        RequestHead(options_.engine, u.request, conn_->base_path, host_header_, options_.api_key));
    requests.push_back({.head = heads.back(), .body = u.request.body});
  }
  std::vector<net::Http1Response> responses;
  const Status st = conn_->http.Exchange(requests, responses, Clock::now() + options_.timeout);
  status.clear();
  bodies.clear();
  for (auto& r : responses) {
    status.push_back(r.status);
    bodies.push_back(std::move(r.body));
  }
  if (!st) {
    if (st.error().code() == ErrorCode::kCancelled) return Fail(Cancelled());
    failure = st.error().message();
  }
  return Ok();
}

Status SearchAdapter::Run(std::vector<Unit>& units) {
  const bool one_by_one = options_.wait && options_.engine == Engine::kMeilisearch;
  std::vector<int> status;
  std::vector<std::string> bodies;
  size_t first = 0;
  while (first < units.size()) {
    if (interrupted()) return Fail(Cancelled());
    const size_t n = std::min(one_by_one ? size_t{1} : kWindow, units.size() - first);
    std::string failure;
    std::string retry;
    if (auto st = Exchange(std::span(units).subspan(first, n), status, bodies, failure); !st) {
      return st;
    }
    const size_t before = units.size();
    for (size_t k = 0; k < status.size() && retry.empty(); ++k) {
      if (auto st = HandleResponse(units, first, status[k], bodies[k], retry); !st) return st;
      if (!retry.empty()) break;
      ++first;
      if (units.size() != before) break;  // a split: send its single documents next
    }
    if (retry.empty() && units.size() == before) retry = failure;
    if (retry.empty()) {
      backoff().Reset();
      Recovered();
      continue;
    }
    M().errors.Inc();
    if (closing_) return Fail(ErrorCode::kConnection, "search: " + retry);
    Degraded(retry);
    M().retries.Inc();
    const auto delay = backoff().Next();
    log::Warn("search: request failed; sending again from the first unanswered one",
              {{"adapter", kAdapter},
               {"error", retry},
               {"pending_requests", static_cast<uint64_t>(units.size() - first)},
               {"retry_in_ms", static_cast<int64_t>(delay.count())}});
    if (!sleeper().SleepFor(delay)) return Fail(Cancelled());
  }
  return Ok();
}

// The answer to units[i]: sets `retry` when it must be sent again.
Status SearchAdapter::HandleResponse(std::vector<Unit>& units, size_t i, int status,
                                     const std::string& body, std::string& retry) {
  const Unit& u = units[i];
  const std::string engine(EngineName(options_.engine));
  switch (ClassifyStatus(status)) {
    case Outcome::kOk:
      return Accepted(units, i, body, retry);
    case Outcome::kRetry:
      retry = engine + " answered HTTP " + std::to_string(status) + ": " + ErrorMessage(body);
      return Ok();
    case Outcome::kAuth:
      M().errors.Inc();
      return Fail(ErrorCode::kConfig, "search: " + engine + " refused the API key (HTTP " +
                                          std::to_string(status) +
                                          "): check search.api_key (--search-api-key)");
    case Outcome::kReject:
      break;
  }
  if (status == 404 && options_.engine == Engine::kTypesense) {
    if (u.kind == Document::Kind::kDelete) {  // already gone
      M().deleted.Inc();
      return Ok();
    }
    if (u.kind == Document::Kind::kUpsert) {
      M().errors.Inc();
      return Fail(ErrorCode::kConfig, "search: typesense collection \"" + options_.index +
                                          "\" does not exist (HTTP 404): " + ErrorMessage(body));
    }
    return Rejected(units, i,
                    "typesense: the document is not in the collection, so a partial update "
                    "(unchanged TOAST columns) cannot complete it: " +
                        ErrorMessage(body));
  }
  return Rejected(units, i,
                  engine + " rejected the request (HTTP " + std::to_string(status) +
                      "): " + ErrorMessage(body));
}

Status SearchAdapter::Accepted(std::vector<Unit>& units, size_t i, const std::string& body,
                               std::string& retry) {
  // Not a reference: Rejected() may insert into `units`.
  const Document::Kind kind = units[i].kind;
  const size_t begin = units[i].begin;
  const size_t docs = units[i].end - begin;
  if (options_.engine == Engine::kTypesense && kind == Document::Kind::kUpsert) {
    const auto results = ParseImportResults(body, docs);
    for (size_t k = 0; k < docs; ++k) {
      if (results[k].empty()) {
        M().upserted.Inc();
        continue;
      }
      M().errors.Inc();
      if (auto st = DeadLetter(held_[begin + k].event, "typesense: " + results[k]); !st) return st;
    }
    return Ok();
  }
  if (options_.engine == Engine::kMeilisearch && options_.wait) {
    auto uid = ParseTaskUid(body);
    if (!uid) {
      retry = uid.error().message();
      return Ok();
    }
    std::string failed;
    if (auto st = WaitForTask(*uid, failed, retry); !st) return st;
    if (!retry.empty()) return Ok();
    if (!failed.empty()) return Rejected(units, i, "meilisearch: " + failed);
  }
  if (kind == Document::Kind::kDelete) {
    M().deleted.Inc();
  } else {
    M().upserted.Inc(docs);
    if (kind == Document::Kind::kPartial) M().partial.Inc();
  }
  return Ok();
}

// Polls GET /tasks/{uid} until the task finished (`failed` set when it did
// not succeed) or the timeout passed (`retry` set).
Status SearchAdapter::WaitForTask(uint64_t uid, std::string& failed, std::string& retry) {
  const auto deadline = Clock::now() + options_.timeout;
  auto pause = std::chrono::milliseconds(2);
  std::vector<Unit> poll(1);
  poll[0].request = TaskRequest(uid);
  std::vector<int> status;
  std::vector<std::string> bodies;
  for (;;) {
    std::string failure;
    if (auto st = Exchange(poll, status, bodies, failure); !st) return st;
    if (!failure.empty()) {
      retry = "meilisearch task " + std::to_string(uid) + ": " + failure;
      return Ok();
    }
    if (ClassifyStatus(status[0]) == Outcome::kAuth) {
      return Fail(ErrorCode::kConfig,
                  "search: meilisearch refused the API key for GET /tasks (HTTP " +
                      std::to_string(status[0]) + "): check search.api_key (--search-api-key)");
    }
    if (status[0] != 200) {
      retry = "meilisearch task " + std::to_string(uid) + ": HTTP " + std::to_string(status[0]);
      return Ok();
    }
    auto state = ParseTaskState(bodies[0]);
    if (!state) {
      retry = state.error().message();
      return Ok();
    }
    if (state->status == TaskState::Status::kSucceeded) return Ok();
    if (state->status == TaskState::Status::kFailed) {
      failed = state->error;
      return Ok();
    }
    if (Clock::now() >= deadline) {
      retry = "meilisearch task " + std::to_string(uid) + " not finished within search.timeout";
      return Ok();
    }
    if (!sleeper().SleepFor(pause)) return Fail(Cancelled());
    pause = std::min(pause * 2, std::chrono::milliseconds(200));
  }
}

// units[i] was refused: a request of several documents is split into single
// ones (sent next, so only the rejected ones end in the DLQ); a single
// document is dead-lettered.
Status SearchAdapter::Rejected(std::vector<Unit>& units, size_t i, const std::string& why) {
  const size_t begin = units[i].begin;
  const size_t end = units[i].end;
  M().errors.Inc();
  if (end - begin > 1) {  // only upserts are sent several at a time
    std::vector<Unit> singles;
    for (size_t k = begin; k < end; ++k) {
      const std::string* doc = &held_[k].doc.body;
      singles.push_back(
          Unit{.kind = Document::Kind::kUpsert,
               .begin = k,
               .end = k + 1,
               .request = UpsertRequest(options_.engine, options_.index, std::span(&doc, 1))});
    }
    units.insert(units.begin() + static_cast<std::ptrdiff_t>(i) + 1,
                 std::make_move_iterator(singles.begin()), std::make_move_iterator(singles.end()));
    return Ok();
  }
  return DeadLetter(held_[begin].event, why);
}

Status SearchAdapter::DeadLetter(const Event& event, const std::string& reason) {
  if (auto st = dlq::DeadLetterRejected(dead_letters(), event, kAdapter, reason); !st) return st;
  M().dead_lettered.Inc();
  return Ok();
}

// ---- declaration ---------------------------------------------------------------

ConnectorInfo Connector() {
  using O = Options;
  return DefineAdapter<Options>({
      .name = "search",
      .description = "Keeps a Typesense collection or a Meilisearch index in step with row "
                     "changes: batched upserts, partial updates for unchanged TOAST columns, "
                     "deletes; acknowledged once the engine accepted them, rejected documents "
                     "go to the DLQ.",
      .params = Params({
          {ParamEnum("search.engine", &O::engine,
                     {{"typesense", Engine::kTypesense}, {"meilisearch", Engine::kMeilisearch}},
                     "search engine"),
           Param("search.url", &O::url, "engine base URL, http(s)://host:port[/path]"),
           Param("search.api_key", &O::api_key,
                 "API key (Typesense: X-TYPESENSE-API-KEY; Meilisearch: Authorization: Bearer)"),
           Param("search.index", &O::index, "Typesense collection or Meilisearch index"),
           Param("search.id_column", &O::id_column, "row column whose value is the document id"),
           Param("search.batch_size", &O::batch_size,
                 "documents held before they are sent (one import request for consecutive "
                 "upserts)",
                 {.min = 1, .max = 100000}),
           Param("search.batch_interval", &O::batch_interval,
                 "longest time a document is held before it is sent", {.min = 0}),
           Param("search.wait", &O::wait,
                 "meilisearch: wait for each task to finish (a failed task dead-letters its "
                 "documents) before acknowledging"),
           Param("search.timeout", &O::timeout,
                 "deadline of one round trip, and of waiting for a Meilisearch task", {.min = 1}),
           Param("search.tls_ca_file", &O::tls_ca_file,
                 "https: CA bundle to verify the engine (default: system store)"),
           Param("search.tls_insecure", &O::tls_insecure,
                 "https: do not verify the engine's certificate (testing only)")},
          BackoffParams<O>("search", "search", &O::backoff, "retry"),
      }),
      .validate =
          [](const O& o, const Context&, Errors& errors) {
            if (o.url.empty()) {
              errors.push_back("search.url: required for adapter search (--search-url)");
            } else if (auto u = net::ParseHttp1Url(o.url); !u) {
              errors.push_back("search.url: " + u.error().message());
            }
            if (o.index.empty()) {
              errors.push_back("search.index: required for adapter search (--search-index)");
            }
            if (o.id_column.empty()) errors.push_back("search.id_column: must not be empty");
            ValidateBackoff("search", o.backoff, errors);
          },
      .make = MakeRetryingAdapter<SearchAdapter, O>,
      .check =
          [](const O& o, const Context&) {
            return OpenCheck<SearchAdapter>(o, "search", o.url + " answers with the index");
          },
  });
}

}  // namespace pgcdc::adapter::search

PGCDC_REGISTER_CONNECTOR(adapter, search, pgcdc::adapter::search::Connector)
