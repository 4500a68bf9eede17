#include "adapter/sse/sse_adapter.h"

#include <algorithm>

#include "config/config.h"
#include "core/log.h"
#include "net/broadcaster.h"
#include "net/http_server.h"

namespace pgcdc::ssesink {

namespace {

constexpr std::string_view kPrefix = "/events/";

net::HttpResponse JsonError(int status, const std::string& message) {
  // Messages are fixed texts chosen by us (no user input): no escaping needed.
  net::HttpResponse r;
  r.status = status;
  r.body = "{\"error\":\"" + message + "\"}";
  return r;
}

}  // namespace

struct SseAdapter::Impl {
  Options options;
  std::shared_ptr<net::Broadcaster> broadcaster;
  std::unique_ptr<net::HttpServer> own_server;  // when --sse-addr is its own listener
  bool mounted = false;
  std::vector<net::BroadcastFrame> frames;  // Deliver() scratch

  bool OwnServer() const { return !options.addr.empty() && options.addr != options.http_addr; }

  void Mount(net::HttpServer& server) {
    auto handler = [b = broadcaster, cors = options.cors_origins](
                       const net::HttpRequest& req) -> net::StreamDecision {
      const bool has_path =
          req.path.size() >= kPrefix.size() && req.path.compare(0, kPrefix.size(), kPrefix) == 0;
      const std::string path_channel =
          has_path ? net::DecodePathComponent(std::string_view(req.path).substr(kPrefix.size()))
                   : std::string();
      auto q = req.query.find("channel");
      auto filter = net::ParseChannelFilter(path_channel, has_path,
                                            q == req.query.end() ? nullptr : &q->second);
      if (!filter.ok)
        return net::StreamDecision::Refuse(JsonError(400, "bad channel filter: " + filter.error));
      if (b->closed()) return net::StreamDecision::Refuse(JsonError(503, "server shutting down"));
      std::map<std::string, std::string> headers;
      if (std::find(cors.begin(), cors.end(), "*") != cors.end()) {
        headers["Access-Control-Allow-Origin"] = "*";
      } else if (auto o = req.headers.find("origin");
                 o != req.headers.end() &&
                 std::find(cors.begin(), cors.end(), o->second) != cors.end()) {
        headers["Access-Control-Allow-Origin"] = o->second;
        headers["Vary"] = "Origin";
      }
      std::string last_id;
      if (auto h = req.headers.find("last-event-id"); h != req.headers.end()) last_id = h->second;
      return net::StreamDecision::Accept(
          b->Subscribe(std::move(filter.channels), std::move(last_id), std::move(headers)));
    };
    server.HandleEventStream("/events", handler);
    server.HandleEventStream(std::string(kPrefix), handler, /*prefix=*/true);
    mounted = true;
  }
};

SseAdapter::SseAdapter(Options options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  net::Broadcaster::Options bo;
  bo.name = "sse";
  bo.client_queue = impl_->options.client_queue;
  bo.replay_capacity = impl_->options.replay_buffer;
  bo.keepalive = impl_->options.heartbeat;
  impl_->broadcaster = std::make_shared<net::Broadcaster>(bo);
}

SseAdapter::~SseAdapter() { Close(); }

Status SseAdapter::Attach(const adapter::Services& services) {
  if (impl_->OwnServer()) return Ok();  // started in Open()
  if (services.http == nullptr) {
    return Fail(ErrorCode::kConfig,
                "sse: no HTTP server to serve /events on: set --http-addr (the main server) or "
                "--sse-addr");
  }
  impl_->Mount(*services.http);
  return Ok();
}

Status SseAdapter::Open() {
  if (impl_->OwnServer() && !impl_->own_server) {
    impl_->own_server = std::make_unique<net::HttpServer>("sse");
    impl_->Mount(*impl_->own_server);
  }
  if (!impl_->mounted) {
    return Fail(ErrorCode::kConfig, "sse: not attached to an HTTP server (internal wiring)");
  }
  if (impl_->own_server) {
    auto addr = net::ParseListenAddress(impl_->options.addr);
    if (!addr) return Fail(addr.error().Wrap("sse address"));
    auto bound = impl_->own_server->Start(*addr);
    if (!bound) return Fail(bound.error());
    log::Info("http server listening", {{"server", "sse"}, {"addr", *bound}});
  }
  return Ok();
}

Status SseAdapter::Deliver(std::span<const Event* const> events) {
  auto& frames = impl_->frames;
  frames.clear();
  for (const Event* e : events) {
    net::BroadcastFrame f;
    f.id = e->id.ToString();
    f.channel = e->channel;
    f.bytes = std::make_shared<const std::string>(net::EncodeSseEvent(f.id, e->channel, e->Json()));
    frames.push_back(std::move(f));
  }
  impl_->broadcaster->Publish(frames);
  frames.clear();
  return Ok();
}

void SseAdapter::Close() {
  impl_->broadcaster->CloseAll();
  if (impl_->own_server) impl_->own_server->Stop();
}

ConnectorInfo Connector() {
  ConnectorInfo info;
  info.kind = ConnectorKind::kAdapter;
  info.name = "sse";
  info.description =
      "Server-Sent Events: GET /events and /events/<channel> on the main HTTP server; "
      "Last-Event-ID resume from a bounded replay buffer; slow clients are disconnected.";
  info.params = {
      {.key = "sse.addr",
       .type = ParamType::kString,
       .description = "own listener for /events (HOST:PORT); empty = the main HTTP server "
                      "(--http-addr)",
       .flag = "sse-addr"},
      {.key = "sse.heartbeat_interval",
       .type = ParamType::kDuration,
       .default_value = "15s",
       .description = "keep-alive comment after this long without data",
       .flag = "sse-heartbeat-interval",
       .min = 1},
      {.key = "sse.client_queue",
       .type = ParamType::kInt,
       .default_value = "1024",
       .description = "events queued per client; a client that falls this far behind is "
                      "disconnected",
       .flag = "sse-client-queue",
       .min = 1,
       .max = 10'000'000},
      {.key = "sse.replay_buffer",
       .type = ParamType::kInt,
       .default_value = "1024",
       .description = "recent events kept for Last-Event-ID resumes (0 = off)",
       .flag = "sse-replay-buffer",
       .min = 0,
       .max = 10'000'000},
      {.key = "sse.cors_origins",
       .type = ParamType::kStringList,
       .default_value = "*",
       .description = "origins allowed by CORS (* = any; empty = no CORS header)",
       .flag = "sse-cors-origin"},
  };
  info.validate = [](const config::Config& cfg, std::vector<std::string>& errors) {
    if (cfg.GetString("sse.addr").empty() && cfg.GetString("http_addr").empty()) {
      errors.push_back(
          "sse: needs an HTTP server: set --http-addr (the main server) or --sse-addr");
    } else if (cfg.Has("sse.addr")) {
      if (auto a = net::ParseListenAddress(cfg.GetString("sse.addr")); !a) {
        errors.push_back("sse.addr: " + a.error().message());
      }
    }
  };
  info.make_adapter = [](const config::Config& cfg) -> Result<adapter::AdapterPtr> {
    Options o;
    o.addr = cfg.GetString("sse.addr");
    o.http_addr = cfg.GetString("http_addr");
    o.heartbeat = std::chrono::duration_cast<std::chrono::milliseconds>(
        cfg.GetDuration("sse.heartbeat_interval"));
    o.client_queue = static_cast<size_t>(cfg.GetInt("sse.client_queue"));
    o.replay_buffer = static_cast<size_t>(cfg.GetInt("sse.replay_buffer"));
    o.cors_origins = cfg.GetList("sse.cors_origins");
    return std::make_unique<SseAdapter>(std::move(o));
  };
  return info;
}

}  // namespace pgcdc::ssesink
