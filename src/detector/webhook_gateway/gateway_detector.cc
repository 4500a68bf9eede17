#include "detector/webhook_gateway/gateway_detector.h"

#include <algorithm>
#include <atomic>
#include <stop_token>
#include <utility>

#include "config/config.h"
#include "core/health.h"
#include "core/json.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/time.h"
#include "core/trace_context.h"
#include "pipeline/ack_tracker.h"
#include "registry/define.h"

namespace pgcdc::detector::webhook_gateway {

namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

constexpr std::string_view kSource = "webhook_gateway";
constexpr size_t kMaxBatch = 1024;  // events per published batch
constexpr auto kFirstPause = std::chrono::microseconds(50);
constexpr auto kMaxPause = std::chrono::microseconds(2000);

struct Families {
  metrics::Family<metrics::Counter>& requests = metrics::Default().AddCounter(
      "pgcdc_webhook_gateway_requests_total",
      "Requests to /ingest by source and answered HTTP status (source _unknown for unknown "
      "sources).",
      {"source", "status"});
  metrics::Family<metrics::Counter>& received = metrics::Default().AddCounter(
      "pgcdc_webhook_gateway_received_total", "Requests accepted as events.", {"source"});
  metrics::Family<metrics::Counter>& signature_failures = metrics::Default().AddCounter(
      "pgcdc_webhook_gateway_signature_failures_total",
      "Requests refused with 401: missing, malformed or wrong signature, or a timestamp outside "
      "the tolerance.",
      {"source"});
  metrics::Family<metrics::Counter>& oversize = metrics::Default().AddCounter(
      "pgcdc_webhook_gateway_oversize_total",
      "Requests refused with 413 (body larger than webhook_gateway.max_body_size).", {"source"});
  metrics::Family<metrics::Counter>& duplicates = metrics::Default().AddCounter(
      "pgcdc_webhook_gateway_duplicates_total",
      "Retries recognised by their idempotency key, answered with the first event id and not "
      "emitted again.",
      {"source"});
  metrics::Family<metrics::Counter>& raw = metrics::Default().AddCounter(
      "pgcdc_webhook_gateway_raw_payloads_total",
      "Accepted bodies that were not JSON (emitted as {\"raw\":\"...\"}).", {"source"});
  metrics::Family<metrics::Counter>& errors = metrics::Default().AddCounter(
      "pgcdc_webhook_gateway_errors_total",
      "Accepted requests answered 503 (not delivered within ack_timeout, gateway busy, or "
      "shutting down).",
      {"source"});
  metrics::Gauge& pending =
      metrics::DefaultGauge("pgcdc_webhook_gateway_pending",
                            "Requests queued or published and waiting for their answer.");
};

Families& F() { return metrics::Lazy<Families>(); }

net::HttpResponse JsonResponse(int status, std::string body) {
  net::HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

net::HttpResponse ErrorResponse(int status, std::string_view error, std::string_view reason = {}) {
  std::string body = "{\"error\":";
  json::AppendString(body, error);
  if (!reason.empty()) {
    body += ",\"reason\":";
    json::AppendString(body, reason);
  }
  body += '}';
  return JsonResponse(status, std::move(body));
}

net::HttpResponse OkResponse(const std::string& event_id, bool duplicate) {
  std::string body = "{\"status\":\"ok\",\"event_id\":\"";
  body += event_id;
  body += duplicate ? "\",\"duplicate\":true}" : "\"}";
  return JsonResponse(200, std::move(body));
}

int64_t NowUnixSeconds() { return NowUnixNanos() / 1'000'000'000; }

}  // namespace

struct WebhookGatewayDetector::SourceState {
  explicit SourceState(Source s)
      : source(std::move(s)),
        ok(F().requests.With({source.name, "200"})),
        received(F().received.With({source.name})),
        signature_failures(F().signature_failures.With({source.name})),
        oversize(F().oversize.With({source.name})),
        duplicates(F().duplicates.With({source.name})),
        raw(F().raw.With({source.name})),
        errors(F().errors.With({source.name})) {}

  // Counts an answer other than 200.
  void Refused(int status) { F().requests.With({source.name, std::to_string(status)}).Inc(); }

  // At most one warning per second per source (rejections can come in floods).
  void Warn(std::string_view message, std::string_view reason) {
    const int64_t now = NowUnixSeconds();
    int64_t last = last_warn.load(std::memory_order_relaxed);
    if (now == last || !last_warn.compare_exchange_strong(last, now)) return;
    log::Warn(message, {{"detector", kSource}, {"source", source.name}, {"reason", reason}});
  }

  Source source;
  metrics::Counter& ok;
  metrics::Counter& received;
  metrics::Counter& signature_failures;
  metrics::Counter& oversize;
  metrics::Counter& duplicates;
  metrics::Counter& raw;
  metrics::Counter& errors;
  std::atomic<int64_t> last_warn{0};
};

WebhookGatewayDetector::WebhookGatewayDetector(Options options)
    : options_(std::move(options)),
      idempotency_(options_.idempotency_window,
                   static_cast<size_t>(std::max<int64_t>(options_.idempotency_max_keys, 1))) {
  for (auto& s : options_.sources) {
    s.verify.tolerance_seconds =
        std::chrono::duration_cast<std::chrono::seconds>(options_.timestamp_tolerance).count();
    sources_.push_back(std::make_unique<SourceState>(s));
  }
}

WebhookGatewayDetector::~WebhookGatewayDetector() = default;

Status WebhookGatewayDetector::AttachHttp(net::HttpServer* http) {
  if (http == nullptr) {
    return Fail(ErrorCode::kConfig,
                "detector webhook_gateway receives requests on the main HTTP server; set "
                "http_addr (--http-addr)");
  }
  http->RaiseBodyLimit(static_cast<uint64_t>(options_.max_body_size));
  http->OnBodyTooLarge([this](const std::string& path) { OnBodyTooLarge(path); });
  // Providers cannot send pgcdc's --http-auth-token: the route is exempt from
  // it and each source authenticates by its signature (docs/security.md).
  http->HandlePrefixAsync("POST", "/ingest/",
                          [this](net::HttpRequest&& req, const net::HttpReply& reply) {
                            OnRequest(std::move(req), reply);
                          },
                          {.public_route = true});
  return Ok();
}

void WebhookGatewayDetector::OnBodyTooLarge(const std::string& path) {
  auto ingest = ParseIngestPath(path);
  if (!ingest) return;
  for (auto& s : sources_) {
    if (s->source.name == ingest->source) {
      s->oversize.Inc();
      s->Refused(413);
      return;
    }
  }
}

void WebhookGatewayDetector::OnRequest(net::HttpRequest&& req, const net::HttpReply& reply) {
  auto ingest = ParseIngestPath(req.path);
  SourceState* src = nullptr;
  if (ingest) {
    for (auto& s : sources_) {
      if (s->source.name == ingest->source) src = s.get();
    }
  }
  if (src == nullptr) {
    F().requests.With({"_unknown", "404"}).Inc();
    reply(ErrorResponse(404, "unknown source"));
    return;
  }
  if (req.body.size() > static_cast<size_t>(options_.max_body_size)) {
    src->oversize.Inc();
    src->Refused(413);
    reply(ErrorResponse(413, "request body too large"));
    return;
  }
  const VerifyConfig& verify = src->source.verify;
  const VerifyResult verdict = Verify(verify, req.headers, req.body, NowUnixSeconds());
  if (verdict != VerifyResult::kOk) {
    src->signature_failures.Inc();
    src->Refused(401);
    src->Warn("webhook_gateway: request refused", VerifyResultName(verdict));
    reply(ErrorResponse(401, "signature validation failed", VerifyResultName(verdict)));
    return;
  }
  const Scheme scheme = ResolveScheme(verify, req.headers).scheme;
  Accept(*src, req, ingest->channel, scheme, reply);
}

void WebhookGatewayDetector::Accept(SourceState& src, const net::HttpRequest& req,
                                    const std::string& path_channel, Scheme scheme,
                                    const net::HttpReply& reply) {
  Body body = ParseBody(req.body, scheme == Scheme::kStripe);
  if (body.raw) src.raw.Inc();
  Item item;
  item.event = MakeEvent(ChannelFor(src.source, path_channel, body.type), "INSERT",
                         std::move(body.payload), kSource);
  item.event_id = item.event.id.ToString();
  // An incoming W3C traceparent: the event's trace continues the caller's.
  if (trace::Enabled()) {
    if (auto tp = req.headers.find("traceparent"); tp != req.headers.end()) {
      if (auto parent = trace::ParseTraceparent(tp->second)) {
        auto ts = req.headers.find("tracestate");
        trace::RememberRemoteParent(item.event.id, *parent,
                                    ts != req.headers.end() ? ts->second : std::string());
      }
    }
  }
  item.idem_key = IdempotencyKey(src.source, scheme, req.headers, body.id);
  item.reply = reply;
  item.source = &src;
  if (!item.idem_key.empty()) {
    auto waiter = [&src, reply](bool delivered, const std::string& id) {
      if (delivered) {
        src.ok.Inc();
        reply(OkResponse(id, /*duplicate=*/true));
      } else {
        src.Refused(503);
        reply(ErrorResponse(503, "first delivery of this idempotency key failed; retry"));
      }
    };
    auto hit = idempotency_.Begin(item.idem_key, item.event_id, waiter, SteadyClock::now());
    if (hit.state != IdempotencyCache::State::kNew) {
      src.duplicates.Inc();
      if (hit.state == IdempotencyCache::State::kDone) {
        src.ok.Inc();
        reply(OkResponse(hit.event_id, /*duplicate=*/true));
      }
      return;
    }
  }
  Enqueue(std::move(item));
}

void WebhookGatewayDetector::Enqueue(Item item) {
  std::string_view refusal;
  {
    MutexLock lock(mu_);
    if (!accepting_) {
      refusal = "request cancelled";
    } else if (queue_.size() >= static_cast<size_t>(options_.max_pending)) {
      refusal = "gateway busy";
    } else {
      queue_.push_back(std::move(item));
      F().pending.Add(1);
      cv_.NotifyOne();
      return;
    }
  }
  F().pending.Add(1);  // Finish() takes it off again
  Finish(item, false, refusal);
}

void WebhookGatewayDetector::Finish(Item& item, bool ok, std::string_view error) {
  SourceState& src = *item.source;
  F().pending.Add(-1);
  if (ok) {
    src.received.Inc();
    src.ok.Inc();
    item.reply(OkResponse(item.event_id, false));
  } else {
    src.errors.Inc();
    src.Refused(503);
    net::HttpResponse r = ErrorResponse(503, error);
    r.headers["Retry-After"] = "1";
    item.reply(std::move(r));
  }
  if (!item.idem_key.empty()) {
    for (auto& waiter : idempotency_.Finish(item.idem_key, ok, SteadyClock::now())) {
      waiter(ok, item.event_id);
    }
  }
}

Status WebhookGatewayDetector::Run(RunContext& ctx) {
  std::string names;
  for (const auto& s : sources_) names += (names.empty() ? "" : ",") + s->source.name;
  const bool track =
      options_.ack == AckMode::kDelivered && ctx.acks != nullptr && ctx.acks->size() > 0;
  log::Info("starting detector", {{"detector", kSource},
                                  {"sources", names},
                                  {"ack", std::string(track ? "delivered" : "enqueued")},
                                  {"routes", std::string("POST /ingest/{source}[/{channel}]")}});
  if (ctx.health != nullptr) ctx.health->Up(ctx.health_name);
  std::stop_callback on_stop(ctx.stop, [this] {
    MutexLock lock(mu_);
    stop_ = true;
    cv_.NotifyAll();
  });
  std::deque<Item> inflight;
  uint64_t seq = 0;
  auto pause = std::chrono::microseconds(kFirstPause);
  for (;;) {
    {
      MutexLock lock(mu_);
      if (stop_) break;
    }
    const int published = PublishQueued(ctx, inflight, track, &seq);
    if (published < 0) break;  // the bus no longer accepts events
    const size_t before = inflight.size();
    AnswerDelivered(ctx, inflight);
    const bool progressed = published > 0 || inflight.size() != before;
    pause = progressed ? kFirstPause : std::min(pause * 2, kMaxPause);
    WaitForWork(inflight.size(), track ? Unconfirmed(ctx, seq) : 0, pause);
  }
  Drain(ctx, inflight);
  return Ok();
}

int WebhookGatewayDetector::PublishQueued(RunContext& ctx, std::deque<Item>& inflight, bool track,
                                          uint64_t* seq) {
  std::vector<Item> take;
  {
    MutexLock lock(mu_);
    size_t room = std::min(queue_.size(), kMaxBatch);
    if (track && options_.max_inflight > 0) {
      const size_t unconfirmed = Unconfirmed(ctx, *seq);
      room = std::min(room, options_.max_inflight - std::min(options_.max_inflight, unconfirmed));
    }
    take.reserve(room);
    for (size_t i = 0; i < room; ++i) {
      take.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
  }
  if (take.empty()) return 0;
  EventBatch batch;
  batch.events.reserve(take.size());
  for (auto& item : take) {
    if (track) item.event.seq = item.seq = ++*seq;
    batch.events.push_back(std::move(item.event));
  }
  if (!ctx.publish(std::move(batch))) {
    for (auto& item : take) Finish(item, false, "request cancelled");
    return -1;
  }
  if (!track) {
    for (auto& item : take) Finish(item, true);
    return static_cast<int>(take.size());
  }
  const auto deadline = SteadyClock::now() + options_.ack_timeout;
  for (auto& item : take) {
    item.deadline = deadline;
    inflight.push_back(std::move(item));
  }
  return static_cast<int>(take.size());
}

void WebhookGatewayDetector::AnswerDelivered(RunContext& ctx, std::deque<Item>& inflight) {
  if (inflight.empty()) return;
  const uint64_t through = ctx.acks->DeliveredThrough();
  const auto now = SteadyClock::now();
  while (!inflight.empty()) {
    Item& front = inflight.front();
    if (front.seq <= through) {
      Finish(front, true);
    } else if (now >= front.deadline) {
      log::Warn("webhook_gateway: event not delivered within ack_timeout; answered 503",
                {{"detector", kSource},
                 {"source", front.source->source.name},
                 {"event_id", front.event_id}});
      Finish(front, false, "delivery timed out");
    } else {
      break;
    }
    inflight.pop_front();
  }
}

size_t WebhookGatewayDetector::Unconfirmed(const RunContext& ctx, uint64_t seq) {
  // Events answered 503 after ack_timeout still count until delivered: they
  // still occupy the adapter queues.
  return static_cast<size_t>(seq - std::min(seq, ctx.acks->DeliveredThrough()));
}

void WebhookGatewayDetector::WaitForWork(size_t inflight, size_t unconfirmed,
                                         std::chrono::microseconds pause) {
  MutexLock lock(mu_);
  const bool full = options_.max_inflight > 0 && unconfirmed >= options_.max_inflight;
  if (stop_ || (!queue_.empty() && !full)) return;
  if (inflight == 0 && !full) {
    while (!stop_ && queue_.empty()) cv_.Wait(mu_);
    return;
  }
  const auto deadline = SteadyClock::now() + pause;
  while (!stop_ && (queue_.empty() || full)) {
    if (!cv_.WaitUntil(mu_, deadline)) return;
  }
}

void WebhookGatewayDetector::Drain(RunContext& ctx, std::deque<Item>& inflight) {
  std::deque<Item> queued;
  {
    MutexLock lock(mu_);
    accepting_ = false;
    queued.swap(queue_);
  }
  for (auto& item : queued) Finish(item, false, "request cancelled");
  // Adapters keep draining during a shutdown: give published events the
  // grace to be confirmed so their callers get a 200.
  const auto deadline = SteadyClock::now() + options_.stop_grace;
  while (!inflight.empty() && SteadyClock::now() < deadline) {
    AnswerDelivered(ctx, inflight);
    MutexLock lock(mu_);
    (void)cv_.WaitUntil(mu_, std::min(deadline, SteadyClock::now() + kMaxPause));
  }
  for (auto& item : inflight) Finish(item, false, "request cancelled");
  if (!queued.empty() || !inflight.empty()) {
    log::Info("webhook_gateway: stopped; unconfirmed requests were answered 503",
              {{"detector", kSource},
               {"queued", static_cast<uint64_t>(queued.size())},
               {"unconfirmed", static_cast<uint64_t>(inflight.size())}});
  }
}

}  // namespace pgcdc::detector::webhook_gateway

namespace pgcdc::detector::webhook_gateway {

namespace {

// --webhookgw-source values and the YAML sources map together.
Result<std::vector<Source>> AllSources(const Options& o) {
  auto sources = ParseCliSources(o.cli_sources);
  if (!sources) return Fail(sources.error());
  if (auto st = ParseYamlSources(o.sources_yaml, *sources); !st) return Fail(st.error());
  return sources;
}

}  // namespace

ConnectorInfo Connector() {
  using O = Options;
  return DefineDetector<Options>({
      .name = "webhook_gateway",
      .description =
          "Inbound webhook gateway: POST /ingest/{source}[/{channel}] on the main HTTP server "
          "becomes an INSERT event; HMAC-SHA256 signatures (Stripe, GitHub, Slack, Shopify, "
          "generic; two secrets for rotation), idempotent retries, and 200 only after every "
          "adapter delivered the event (ack=delivered). Needs no --db.",
      .params = Params({{
          Param("webhook_gateway.cli_sources", &O::cli_sources,
                "sources, name[:secret=S,secret2=S2,header=H,prefix=P,scheme=stripe|github|slack|"
                "shopify|generic] (repeatable)",
                {.flag = "webhookgw-source"}),
          TreeParamAt<O>("webhook_gateway.sources", &O::sources_yaml,
                         "sources by name (YAML map): {secret, secondary_secret, "
                         "signature_header, channel_prefix, scheme}"),
          Param("webhook_gateway.max_body_size", &O::max_body_size,
                "largest request body in bytes (larger: 413)",
                {.flag = "webhookgw-max-body", .min = 1, .max = int64_t{64} << 20}),
          ParamEnum("webhook_gateway.ack", &O::ack,
                    {{"delivered", AckMode::kDelivered}, {"enqueued", AckMode::kEnqueued}},
                    "answer 200 once every adapter delivered the event (delivered) or once it "
                    "is on the bus (enqueued)",
                    {.flag = "webhookgw-ack"}),
          Param("webhook_gateway.ack_timeout", &O::ack_timeout,
                "with ack=delivered: answer 503 when delivery takes longer",
                {.flag = "webhookgw-ack-timeout", .min = 1}),
          Param("webhook_gateway.timestamp_tolerance", &O::timestamp_tolerance,
                "Stripe and Slack signatures: largest distance between their timestamp and now",
                {.flag = "webhookgw-timestamp-tolerance", .min = 1000}),
          Param("webhook_gateway.idempotency_window", &O::idempotency_window,
                "how long a delivered idempotency key answers retries with its first event id "
                "(0 = off)",
                {.flag = "webhookgw-idempotency-window"}),
          Param("webhook_gateway.idempotency_max_keys", &O::idempotency_max_keys,
                "idempotency keys remembered at most (the oldest are forgotten first)",
                {.flag = "webhookgw-idempotency-max-keys", .min = 1}),
          Param("webhook_gateway.max_pending", &O::max_pending,
                "requests waiting for the bus or for delivery at most (more: 503 gateway busy)",
                {.flag = "webhookgw-max-pending", .min = 1}),
      }}),
      .validate =
          [](const O& o, const Context& ctx, Errors& errors) {
            auto sources = AllSources(o);
            if (!sources) {
              errors.push_back(sources.error().message());
            } else if (sources->empty()) {
              errors.push_back(
                  "webhook_gateway: at least one source is required (--webhookgw-source NAME or "
                  "webhook_gateway.cli_sources in the config file)");
            }
            if (ctx.core.http_addr.empty()) {
              errors.push_back(
                  "http_addr: detector webhook_gateway receives requests on the main HTTP "
                  "server; set --http-addr");
            }
          },
      .make = [](O o, const Context& ctx) -> Result<DetectorPtr> {
        auto sources = AllSources(o);
        if (!sources) return Fail(sources.error());
        o.sources = std::move(*sources);
        o.stop_grace = std::chrono::duration_cast<milliseconds>(ctx.core.shutdown_timeout) / 2;
        // In fast mode an adapter queue that overflows drops events; with at
        // most bus.buffer_size unconfirmed events no queue can overflow, so
        // no event that was answered 200 is ever dropped.
        o.max_inflight = static_cast<size_t>(ctx.core.bus_buffer_size);
        return std::make_unique<WebhookGatewayDetector>(std::move(o));
      },
  });
}

}  // namespace pgcdc::detector::webhook_gateway

PGCDC_REGISTER_CONNECTOR(detector, webhook_gateway, pgcdc::detector::webhook_gateway::Connector)
