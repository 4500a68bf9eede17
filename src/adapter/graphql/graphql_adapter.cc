#include "adapter/graphql/graphql_adapter.h"

#include <atomic>
#include <boost/json.hpp>
#include <map>

#include "adapter/graphql/schema.h"
#include "adapter/graphql/subscription.h"
#include "core/json.h"
#include "core/json_dom.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/mutex.h"
#include "core/scope.h"
#include "net/http_server.h"
#include "registry/define.h"

namespace pgcdc::adapter::graphql {

using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr std::string_view kSubprotocol = "graphql-transport-ws";

// Close codes of graphql-transport-ws.
constexpr uint16_t kBadMessage = 4400;
constexpr uint16_t kUnauthorized = 4401;
constexpr uint16_t kForbidden = 4403;
constexpr uint16_t kInitTimeout = 4408;
constexpr uint16_t kDuplicateId = 4409;
constexpr uint16_t kTooManyInits = 4429;
constexpr uint16_t kPolicyViolation = 1008;

struct Metrics {
  metrics::Gauge& clients = metrics::DefaultGauge(
      "pgcdc_graphql_clients_active", "WebSocket connections open on the graphql endpoint.");
  metrics::Gauge& subscriptions =
      metrics::DefaultGauge("pgcdc_graphql_subscriptions_active", "Active graphql subscriptions.");
  metrics::Counter& sent = metrics::DefaultCounter(
      "pgcdc_graphql_events_sent_total", "Events queued to graphql subscribers (next messages).");
  metrics::Counter& slow = metrics::DefaultCounter(
      "pgcdc_graphql_slow_subscriptions_total",
      "graphql subscriptions ended with an error because their buffer was full.");
  metrics::Family<metrics::Counter>& errors = metrics::Default().AddCounter(
      "pgcdc_graphql_protocol_errors_total",
      "graphql clients refused: bad messages, documents, tokens, duplicate ids, timeouts.",
      {"reason"});
};

Metrics& M() { return metrics::Lazy<Metrics>(); }

net::SharedFrame Text(std::string_view json) {
  return std::make_shared<const std::string>(net::EncodeWebSocketText(json));
}

std::string ErrorJson(std::string_view id, const DocumentError& e) {
  std::string out = "{\"id\":";
  json::AppendString(out, id);
  out += ",\"type\":\"error\",\"payload\":[{\"message\":";
  json::AppendString(out, e.message);
  if (e.line > 0) {
    out += ",\"locations\":[{\"line\":" + std::to_string(e.line) +
           ",\"column\":" + std::to_string(e.column) + "}]";
  }
  out += "}]}";
  return out;
}

std::string IdMessage(std::string_view id, std::string_view type) {
  std::string out = "{\"id\":";
  json::AppendString(out, id);
  out.append(",\"type\":\"").append(type).append("\"}");
  return out;
}

}  // namespace

struct Subscription {
  std::string id;
  Plan plan;
  net::StreamPtr stream;
  std::string prefix;  // {"id":…,"type":"next","payload":{"data":{"<key>":
  // Messages of this subscription queued and not yet written (a frame's
  // deleter counts it down once the server dropped it).
  std::shared_ptr<std::atomic<size_t>> pending = std::make_shared<std::atomic<size_t>>(0);
  std::atomic<bool> ended{false};
};
using SubPtr = std::shared_ptr<Subscription>;

struct Connection {
  net::StreamPtr stream;
  SteadyClock::time_point opened = SteadyClock::now();
  SteadyClock::time_point next_ping;
  bool authorized = false;  // token checked on the upgrade (or none required)
  bool init = false;
  bool acked = false;
  bool closed = false;
  std::map<std::string, SubPtr, std::less<>> subs;
};
using ConnPtr = std::shared_ptr<Connection>;

struct GraphqlAdapter::State {
  Options options;
  net::HttpAuth auth;  // options.token as a bearer token
  TableTypes tables;
  mutable Mutex mu;
  CondVar cv;
  bool stopping GUARDED_BY(mu) = false;
  std::map<Connection*, ConnPtr> conns GUARDED_BY(mu);
  std::vector<SubPtr> subs GUARDED_BY(mu);
  uint64_t generation GUARDED_BY(mu) = 0;
  // Adapter worker only.
  uint64_t seen_generation = ~uint64_t{0};
  std::vector<SubPtr> snapshot;
  std::vector<std::vector<net::SharedFrame>> outbox;  // parallel to snapshot
  const RowSchema* last_schema = nullptr;

  // Ends the connection with a graphql-transport-ws close code (counted).
  void CloseConn(Connection& c, uint16_t code, std::string_view reason, std::string_view metric)
      REQUIRES(mu) {
    if (c.closed) return;
    c.closed = true;
    M().errors.With({metric}).Inc();
    log::Warn("graphql: closing client",
              {{"peer", c.stream->peer()}, {"code", std::to_string(code)}, {"reason", reason}});
    c.stream->Close(code, reason, false);
  }

  void RemoveSub(Connection& c, const SubPtr& s) REQUIRES(mu) {
    s->ended = true;
    c.subs.erase(s->id);
    std::erase(subs, s);
    ++generation;
    M().subscriptions.Add(-1);
  }

  void HandleInit(Connection& c, const boost::json::object& msg) REQUIRES(mu);
  // A subscribe message checked and planned (without the lock).
  struct SubscribeRequest {
    bool valid = false;  // has an id and a query
    std::string id;
    std::expected<Plan, DocumentError> plan = std::unexpected(DocumentError{});
  };
  SubscribeRequest ReadSubscribe(const boost::json::object& msg) const;
  void HandleSubscribe(Connection& c, SubscribeRequest&& req) REQUIRES(mu);
  void HandleMessage(const ConnPtr& c, const std::string& text);
  net::StreamDecision Upgrade(const std::shared_ptr<State>& self, const net::HttpRequest& req);
  // Deliver(): the next message of `s` with the event object `body`.
  net::SharedFrame NextFrame(const SubPtr& s, const std::string& body);
  // Deliver(): frames per snapshot subscription, then queued per stream.
  void FanOut(std::span<const Event* const> events);
  void FlushOutbox();
  void EndSlow(const SubPtr& s);
  void Housekeep();
};

void GraphqlAdapter::State::HandleInit(Connection& c, const boost::json::object& msg) {
  if (c.init) return CloseConn(c, kTooManyInits, "Too many initialisation requests", "init_twice");
  c.init = true;
  if (!c.authorized) {
    std::string credential;
    if (const auto* p = msg.if_contains("payload"); p != nullptr && p->is_object()) {
      if (const auto* a = p->as_object().if_contains("authorization"); a && a->is_string()) {
        credential = std::string(a->as_string());
      } else if (const auto* t = p->as_object().if_contains("token"); t && t->is_string()) {
        credential = "Bearer " + std::string(t->as_string());
      }
    }
    if (!net::HttpAuthorized(auth, credential))
      return CloseConn(c, kForbidden, "Forbidden", "forbidden");
    c.authorized = true;
  }
  c.acked = true;
  c.next_ping = SteadyClock::now() + options.keepalive_interval;
  c.stream->PushUnbounded(Text(R"({"type":"connection_ack"})"));
}

GraphqlAdapter::State::SubscribeRequest GraphqlAdapter::State::ReadSubscribe(
    const boost::json::object& msg) const {
  SubscribeRequest r;
  const auto* id = msg.if_contains("id");
  const auto* payload = msg.if_contains("payload");
  const boost::json::value* query = nullptr;
  if (payload != nullptr && payload->is_object()) query = payload->as_object().if_contains("query");
  if (id == nullptr || !id->is_string() || id->as_string().empty() || query == nullptr ||
      !query->is_string()) {
    return r;
  }
  r.valid = true;
  r.id = std::string(id->as_string());
  const auto& p = payload->as_object();
  std::string op_name;
  if (const auto* n = p.if_contains("operationName"); n && n->is_string()) op_name = n->as_string();
  auto op = ParseOperation(query->as_string(), op_name);
  if (!op) {
    r.plan = std::unexpected(op.error());
    return r;
  }
  static const boost::json::value kNoVariables;
  const auto* vars = p.if_contains("variables");
  TableLookup lookup;
  if (options.schema_aware) lookup = [this](std::string_view f) { return tables.TableForField(f); };
  r.plan = MakePlan(*op, vars != nullptr ? *vars : kNoVariables, lookup);
  return r;
}

void GraphqlAdapter::State::HandleSubscribe(Connection& c, SubscribeRequest&& req) {
  if (!c.acked) return CloseConn(c, kUnauthorized, "Unauthorized", "unauthorized");
  if (!req.valid) return CloseConn(c, kBadMessage, "Invalid message received", "invalid_message");
  const std::string& sid = req.id;
  if (c.subs.contains(sid)) {
    return CloseConn(c, kDuplicateId, "Subscriber for " + sid + " already exists", "duplicate_id");
  }
  auto refuse = [&](const DocumentError& e) {
    M().errors.With({"document"}).Inc();
    c.stream->PushUnbounded(Text(ErrorJson(sid, e)));
  };
  if (!req.plan) return refuse(req.plan.error());
  if (c.subs.size() >= options.max_subscriptions) {
    return refuse({"Too many subscriptions on this connection (graphql.max_subscriptions = " +
                   std::to_string(options.max_subscriptions) + ")."});
  }
  auto s = std::make_shared<Subscription>();
  s->id = sid;
  s->stream = c.stream;
  s->prefix = "{\"id\":";
  json::AppendString(s->prefix, sid);
  s->prefix += ",\"type\":\"next\",\"payload\":{\"data\":{";
  json::AppendString(s->prefix, req.plan->response_key);
  s->prefix += ":";
  s->plan = std::move(*req.plan);
  c.subs.emplace(sid, s);
  subs.push_back(std::move(s));
  ++generation;
  M().subscriptions.Add(1);
}

void GraphqlAdapter::State::HandleMessage(const ConnPtr& c, const std::string& text) {
  // Parsing (JSON, the document) happens before taking the lock.
  auto doc = json::ParseDom(text);
  const boost::json::object* msg = doc ? doc->if_object() : nullptr;
  const boost::json::value* type = msg != nullptr ? msg->if_contains("type") : nullptr;
  std::string_view t;
  if (type != nullptr && type->is_string()) t = type->as_string();
  std::optional<SubscribeRequest> sub;
  if (t == "subscribe") sub = ReadSubscribe(*msg);
  MutexLock lock(mu);
  if (c->closed) return;
  if (t == "connection_init") return HandleInit(*c, *msg);
  if (t == "ping") return (void)c->stream->PushUnbounded(Text(R"({"type":"pong"})"));
  if (t == "pong") return;
  if (t == "subscribe") return HandleSubscribe(*c, std::move(*sub));
  if (t == "complete") {
    const auto* id = msg->if_contains("id");
    if (id == nullptr || !id->is_string()) {
      return CloseConn(*c, kBadMessage, "Invalid message received", "invalid_message");
    }
    if (auto it = c->subs.find(std::string_view(id->as_string())); it != c->subs.end()) {
      RemoveSub(*c, SubPtr(it->second));
    }
    return;
  }
  CloseConn(*c, kBadMessage, "Invalid message received", "invalid_message");
}

net::StreamDecision GraphqlAdapter::State::Upgrade(const std::shared_ptr<State>& self,
                                                   const net::HttpRequest& req) {
  auto refuse = [](int status, std::string message) {
    net::HttpResponse r;
    r.status = status;
    r.content_type = "text/plain; charset=utf-8";
    r.body = std::move(message) + "\n";
    return net::StreamDecision::Refuse(std::move(r));
  };
  if (!net::WebSocketOriginAllowed(options.allowed_origins, req)) {
    M().errors.With({"origin"}).Inc();
    return refuse(403, "origin not allowed");
  }
  auto conn = std::make_shared<Connection>();
  conn->authorized = !auth.enabled();
  if (auto h = req.headers.find("authorization"); h != req.headers.end() && auth.enabled()) {
    if (!net::HttpAuthorized(auth, h->second)) {
      M().errors.With({"forbidden"}).Inc();
      return refuse(401, "invalid bearer token");
    }
    conn->authorized = true;
  }
  {
    MutexLock lock(mu);
    if (stopping) return refuse(503, "server shutting down");
  }
  net::StreamSpec spec;
  bool subprotocol = false;
  if (auto h = req.headers.find("sec-websocket-protocol"); h != req.headers.end()) {
    subprotocol = h->second.find(kSubprotocol) != std::string::npos;
  }
  if (subprotocol) spec.headers["Sec-WebSocket-Protocol"] = std::string(kSubprotocol);
  // Subscriptions count their own messages (buffer_size); the connection's
  // queue is bounded by all of them (and the server's byte cap).
  spec.queue_capacity = options.buffer_size * options.max_subscriptions;
  spec.keepalive = options.keepalive_interval;
  spec.on_open = [self, conn, subprotocol](const net::StreamPtr& stream) {
    MutexLock lock(self->mu);
    conn->stream = stream;
    self->conns[conn.get()] = conn;
    M().clients.Add(1);
    if (self->stopping) {
      conn->closed = true;
      stream->Close(net::kWsCloseNormal, "server shutting down", false);
    } else if (!subprotocol) {
      self->CloseConn(*conn, kPolicyViolation, "subprotocol must be graphql-transport-ws",
                      "subprotocol");
    }
    self->cv.NotifyAll();
  };
  spec.on_message = [self, conn](const net::StreamPtr&, std::string&& text, bool) {
    self->HandleMessage(conn, text);
  };
  spec.on_close = [self, conn](const net::StreamPtr&, net::StreamEnd) {
    MutexLock lock(self->mu);
    if (self->conns.erase(conn.get()) == 0) return;
    M().clients.Add(-1);
    while (!conn->subs.empty()) self->RemoveSub(*conn, SubPtr(conn->subs.begin()->second));
    conn->stream = nullptr;
  };
  return net::StreamDecision::Accept(std::move(spec));
}

void GraphqlAdapter::State::EndSlow(const SubPtr& s) {
  MutexLock lock(mu);
  if (s->ended) return;
  M().slow.Inc();
  log::Warn("graphql: slow subscriber, subscription ended",
            {{"peer", s->stream->peer()},
             {"id", s->id},
             {"waiting", std::to_string(s->pending->load())},
             {"connection_queue", std::to_string(s->stream->queued())}});
  s->stream->PushUnbounded(
      Text(ErrorJson(s->id, {"slow subscriber: " + std::to_string(options.buffer_size) +
                             " messages still waiting to be sent (graphql.buffer_size); "
                             "subscription ended"})));
  for (auto& [_, c] : conns) {
    if (c->stream == s->stream) {
      RemoveSub(*c, s);
      return;
    }
  }
  s->ended = true;
}

namespace {

// A `next` frame that counts itself out of its subscription's waiting
// messages once the server dropped it (written, or the stream closed).
struct CountedFrame {
  std::string bytes;
  std::shared_ptr<std::atomic<size_t>> pending;
  CountedFrame() = default;
  CountedFrame(const CountedFrame&) = delete;
  CountedFrame& operator=(const CountedFrame&) = delete;
  ~CountedFrame() { pending->fetch_sub(1, std::memory_order_relaxed); }
};

}  // namespace

net::SharedFrame GraphqlAdapter::State::NextFrame(const SubPtr& s, const std::string& body) {
  constexpr std::string_view kSuffix = "}}}";
  const size_t len = s->prefix.size() + body.size() + kSuffix.size();
  s->pending->fetch_add(1, std::memory_order_relaxed);
  auto f = std::make_shared<CountedFrame>();
  f->pending = s->pending;
  f->bytes.reserve(len + 10);
  net::AppendWebSocketHeader(f->bytes, 0x1, len);
  f->bytes.append(s->prefix).append(body).append(kSuffix);
  return {f, &f->bytes};  // shares f's ownership
}

void GraphqlAdapter::State::FanOut(std::span<const Event* const> events) {
  std::vector<std::pair<const std::string*, std::string>> bodies;  // per projection
  for (const Event* e : events) {
    if (e->filtered) continue;
    std::optional<boost::json::value> dom;
    bool parsed = false;
    bodies.clear();
    for (size_t k = 0; k < snapshot.size(); ++k) {
      const SubPtr& s = snapshot[k];
      if (s->ended.load(std::memory_order_relaxed)) continue;
      if (s->plan.needs_payload && !parsed) {
        parsed = true;
        if (auto d = json::ParseDom(e->payload)) dom = std::move(*d);
      }
      if (!Matches(s->plan, *e, dom ? &*dom : nullptr)) continue;
      const std::string* body = nullptr;
      for (const auto& [key, b] : bodies) {
        if (*key == s->plan.projection_key) body = &b;
      }
      if (body == nullptr) {
        bodies.emplace_back(&s->plan.projection_key, std::string());
        AppendEventObject(s->plan, *e, bodies.back().second);
        body = &bodies.back().second;
      }
      outbox[k].push_back(NextFrame(s, *body));
    }
  }
}

void GraphqlAdapter::State::FlushOutbox() {
  // Under the lock that `complete` (RemoveSub) and shutdown take: a
  // subscription ended while FanOut built its frames gets none of them, so
  // no `next` follows its `complete` or error.
  std::vector<SubPtr> slow;
  {
    MutexLock lock(mu);
    for (size_t k = 0; k < snapshot.size(); ++k) {
      auto& frames = outbox[k];
      if (frames.empty()) continue;
      if (snapshot[k]->ended.load(std::memory_order_relaxed)) {
        frames.clear();  // they count themselves out
        continue;
      }
      size_t queued = 0;
      const auto r = snapshot[k]->stream->PushMany(frames, queued);
      frames.clear();  // frames not queued count themselves out here
      if (r == net::Stream::PushResult::kFull) slow.push_back(snapshot[k]);
      M().sent.Inc(queued);
    }
  }
  for (const auto& s : slow) EndSlow(s);
}

void GraphqlAdapter::State::Housekeep() {
  static const net::SharedFrame kPing = Text(R"({"type":"ping"})");
  MutexLock lock(mu);
  while (!stopping) {
    const auto now = SteadyClock::now();
    auto next = now + std::chrono::hours(1);
    for (auto& [_, c] : conns) {
      if (c->closed) continue;
      if (!c->init) {
        const auto deadline = c->opened + options.init_timeout;
        if (now >= deadline) {
          CloseConn(*c, kInitTimeout, "Connection initialisation timeout", "init_timeout");
        } else {
          next = std::min(next, deadline);
        }
      } else if (c->acked) {
        if (now >= c->next_ping) {
          c->stream->PushUnbounded(kPing);
          c->next_ping = now + options.keepalive_interval;
        }
        next = std::min(next, c->next_ping);
      }
    }
    cv.WaitUntil(mu, next);
  }
}

GraphqlAdapter::GraphqlAdapter(Options options) : state_(std::make_shared<State>()) {
  state_->options = std::move(options);
  state_->auth.bearer_token = state_->options.token;
}

GraphqlAdapter::~GraphqlAdapter() { Close(); }

Status GraphqlAdapter::Attach(const Services& services) {
  if (services.http == nullptr) {
    return Fail(ErrorCode::kConfig, "graphql: no HTTP server to serve " + state_->options.path +
                                        " on: set --http-addr");
  }
  auto self = state_;
  services.http->HandleWebSocket(state_->options.path, [self](const net::HttpRequest& req) {
    return self->Upgrade(self, req);
  });
  if (state_->options.schema_aware) {
    services.http->Handle("GET", state_->options.path + "/schema", [self](const net::HttpRequest&) {
      net::HttpResponse r;
      r.content_type = "text/plain; charset=utf-8";
      r.body = self->tables.Sdl();
      return r;
    });
  }
  return Ok();
}

Status GraphqlAdapter::Open() {
  (void)M();
  if (!housekeeper_.joinable())
    housekeeper_ = std::thread(scope::Bind([s = state_] { s->Housekeep(); }));
  return Ok();
}

Status GraphqlAdapter::Deliver(std::span<const Event* const> events) {
  auto& st = *state_;
  if (st.options.schema_aware) {
    for (const Event* e : events) {
      if (e->schema && e->schema.get() != st.last_schema) {
        st.tables.Observe(e->schema);
        st.last_schema = e->schema.get();
      }
    }
  }
  {
    MutexLock lock(st.mu);
    if (st.generation != st.seen_generation) {
      st.snapshot = st.subs;
      st.seen_generation = st.generation;
    }
  }
  if (st.snapshot.empty()) return Ok();
  // A subscription that still has buffer_size messages waiting when a batch
  // comes is slow; one that caught up takes the whole batch (so a burst
  // larger than the buffer, e.g. a bulk insert, does not end everybody).
  for (const auto& s : st.snapshot) {
    if (!s->ended.load(std::memory_order_relaxed) &&
        s->pending->load(std::memory_order_relaxed) >= st.options.buffer_size) {
      st.EndSlow(s);
    }
  }
  st.outbox.resize(st.snapshot.size());
  st.FanOut(events);
  st.FlushOutbox();
  return Ok();
}

std::optional<size_t> GraphqlAdapter::Subscribers() const {
  MutexLock lock(state_->mu);
  return state_->subs.size();
}

void GraphqlAdapter::Close() {
  {
    MutexLock lock(state_->mu);
    if (!state_->stopping) {
      state_->stopping = true;
      for (auto& [_, c] : state_->conns) {
        for (auto& [id, s] : c->subs) {
          s->ended = true;  // nothing after its complete (FlushOutbox checks)
          c->stream->PushUnbounded(Text(IdMessage(id, "complete")));
        }
        if (!c->closed) c->stream->Close(net::kWsCloseNormal, "server shutting down", false);
        c->closed = true;
      }
    }
    state_->cv.NotifyAll();
  }
  if (housekeeper_.joinable()) housekeeper_.join();
}

ConnectorInfo Connector() {
  using O = Options;
  return DefineAdapter<Options>({
      .name = "graphql",
      .description = "GraphQL subscriptions (graphql-transport-ws) on GET <path> of the main "
                     "HTTP server: channel/operation/where filters, selection-set projection; "
                     "slow subscribers are ended with an error.",
      .params = Params({
          {Param("graphql.path", &O::path, "WebSocket endpoint on the main HTTP server",
                 {.flag = "graphql-path"}),
           Param("graphql.schema_aware", &O::schema_aware,
                 "serve GET <path>/schema (SDL) with a typed root field per WAL table",
                 {.flag = "graphql-schema-aware"}),
           Param("graphql.buffer_size", &O::buffer_size,
                 "messages waiting per subscription; one more ends it with an error",
                 {.flag = "graphql-buffer-size", .min = 1, .max = 1'000'000}),
           Param("graphql.keepalive_interval", &O::keepalive_interval,
                 "server ping message (and WebSocket ping) interval",
                 {.flag = "graphql-keepalive-interval", .min = 1}),
           Param("graphql.connection_init_timeout", &O::init_timeout,
                 "a client must send connection_init within this time (else close 4408)",
                 {.flag = "graphql-connection-init-timeout", .min = 1}),
           Param("graphql.token", &O::token,
                 "required bearer token: Authorization header on the upgrade or "
                 "connection_init payload {\"authorization\":\"Bearer <token>\"} (else 4403)",
                 {.flag = "graphql-token"}),
           Param("graphql.allowed_origins", &O::allowed_origins,
                 "browser origins allowed to connect besides the server's own; * = any",
                 {.flag = "graphql-allowed-origin"}),
           Param("graphql.max_subscriptions", &O::max_subscriptions, "subscriptions per connection",
                 {.flag = "graphql-max-subscriptions", .min = 1})},
      }),
      .validate =
          [](const O& o, const Context& ctx, Errors& errors) {
            if (ctx.core.http_addr.empty()) {
              errors.push_back("graphql: needs the main HTTP server: set --http-addr");
            }
            if (!o.path.starts_with("/") || o.path.size() < 2 || o.path.ends_with("/")) {
              errors.push_back(
                  "graphql.path: must start with / and not end with / (e.g. /graphql)");
            }
          },
      .make = [](O o, const Context&) -> Result<AdapterPtr> {
        return std::make_unique<GraphqlAdapter>(std::move(o));
      },
  });
}

}  // namespace pgcdc::adapter::graphql

PGCDC_REGISTER_CONNECTOR(adapter, graphql, pgcdc::adapter::graphql::Connector)
