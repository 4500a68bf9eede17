#include "adapter/ws/ws_adapter.h"

#include "config/config.h"
#include "core/log.h"
#include "net/broadcaster.h"
#include "net/http_server.h"

namespace pgcdc::wssink {

namespace {

constexpr std::string_view kPrefix = "/ws/";

net::HttpResponse JsonError(int status, const std::string& message) {
  // Messages are fixed texts chosen by us (no user input): no escaping needed.
  net::HttpResponse r;
  r.status = status;
  r.body = "{\"error\":\"" + message + "\"}";
  return r;
}

}  // namespace

struct WsAdapter::Impl {
  Options options;
  std::shared_ptr<net::Broadcaster> broadcaster;
  std::unique_ptr<net::HttpServer> own_server;  // when --ws-addr is its own listener
  bool mounted = false;
  std::vector<net::BroadcastFrame> frames;  // Deliver() scratch

  bool OwnServer() const { return !options.addr.empty() && options.addr != options.http_addr; }

  void Mount(net::HttpServer& server) {
    auto handler = [b = broadcaster](const net::HttpRequest& req) -> net::StreamDecision {
      const bool has_path =
          req.path.size() >= kPrefix.size() && req.path.compare(0, kPrefix.size(), kPrefix) == 0;
      const std::string path_channel =
          has_path ? net::DecodePathComponent(std::string_view(req.path).substr(kPrefix.size()))
                   : std::string();
      auto q = req.query.find("channel");
      auto filter = net::ParseChannelFilter(path_channel, has_path,
                                            q == req.query.end() ? nullptr : &q->second);
      if (!filter.ok) {
        return net::StreamDecision::Refuse(JsonError(400, "bad channel filter: " + filter.error));
      }
      if (b->closed()) return net::StreamDecision::Refuse(JsonError(503, "server shutting down"));
      return net::StreamDecision::Accept(b->Subscribe(std::move(filter.channels), {}));
    };
    server.HandleWebSocket("/ws", handler);
    server.HandleWebSocket(std::string(kPrefix), handler, /*prefix=*/true);
    mounted = true;
  }
};

WsAdapter::WsAdapter(Options options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  net::Broadcaster::Options bo;
  bo.name = "ws";
  bo.client_queue = impl_->options.client_queue;
  bo.keepalive = impl_->options.ping_interval;
  impl_->broadcaster = std::make_shared<net::Broadcaster>(bo);
}

WsAdapter::~WsAdapter() { Close(); }

Status WsAdapter::Attach(const adapter::Services& services) {
  if (impl_->OwnServer()) return Ok();  // started in Open()
  if (services.http == nullptr) {
    return Fail(ErrorCode::kConfig,
                "ws: no HTTP server to serve /ws on: set --http-addr (the main server) or "
                "--ws-addr");
  }
  impl_->Mount(*services.http);
  return Ok();
}

Status WsAdapter::Open() {
  if (impl_->OwnServer() && !impl_->own_server) {
    impl_->own_server = std::make_unique<net::HttpServer>("ws");
    impl_->Mount(*impl_->own_server);
  }
  if (!impl_->mounted) {
    return Fail(ErrorCode::kConfig, "ws: not attached to an HTTP server (internal wiring)");
  }
  if (impl_->own_server) {
    auto addr = net::ParseListenAddress(impl_->options.addr);
    if (!addr) return Fail(addr.error().Wrap("ws address"));
    auto bound = impl_->own_server->Start(*addr);
    if (!bound) return Fail(bound.error());
    log::Info("http server listening", {{"server", "ws"}, {"addr", *bound}});
  }
  return Ok();
}

Status WsAdapter::Deliver(std::span<const Event* const> events) {
  auto& frames = impl_->frames;
  frames.clear();
  for (const Event* e : events) {
    net::BroadcastFrame f;
    f.channel = e->channel;
    f.bytes = std::make_shared<const std::string>(net::EncodeWebSocketText(e->Json()));
    frames.push_back(std::move(f));
  }
  impl_->broadcaster->Publish(frames);
  frames.clear();
  return Ok();
}

void WsAdapter::Close() {
  impl_->broadcaster->CloseAll();
  if (impl_->own_server) impl_->own_server->Stop();
}

ConnectorInfo Connector() {
  ConnectorInfo info;
  info.kind = ConnectorKind::kAdapter;
  info.name = "ws";
  info.description =
      "WebSocket: GET /ws and /ws/<channel> on the main HTTP server, one text message per "
      "event; pings; slow clients are disconnected (close 1013).";
  info.params = {
      {.key = "websocket.addr",
       .type = ParamType::kString,
       .description = "own listener for /ws (HOST:PORT); empty = the main HTTP server "
                      "(--http-addr)",
       .flag = "ws-addr"},
      {.key = "websocket.ping_interval",
       .type = ParamType::kDuration,
       .default_value = "15s",
       .description = "ping every client this often; one that has not answered by the next "
                      "ping is dropped",
       .flag = "ws-ping-interval",
       .min = 1},
      {.key = "websocket.client_queue",
       .type = ParamType::kInt,
       .default_value = "1024",
       .description = "messages queued per client; a client that falls this far behind is "
                      "disconnected (close 1013)",
       .flag = "ws-client-queue",
       .min = 1,
       .max = 10'000'000},
  };
  info.validate = [](const config::Config& cfg, std::vector<std::string>& errors) {
    if (cfg.GetString("websocket.addr").empty() && cfg.GetString("http_addr").empty()) {
      errors.push_back("ws: needs an HTTP server: set --http-addr (the main server) or --ws-addr");
    } else if (cfg.Has("websocket.addr")) {
      if (auto a = net::ParseListenAddress(cfg.GetString("websocket.addr")); !a) {
        errors.push_back("websocket.addr: " + a.error().message());
      }
    }
  };
  info.make_adapter = [](const config::Config& cfg) -> Result<adapter::AdapterPtr> {
    Options o;
    o.addr = cfg.GetString("websocket.addr");
    o.http_addr = cfg.GetString("http_addr");
    o.ping_interval = std::chrono::duration_cast<std::chrono::milliseconds>(
        cfg.GetDuration("websocket.ping_interval"));
    o.client_queue = static_cast<size_t>(cfg.GetInt("websocket.client_queue"));
    return std::make_unique<WsAdapter>(std::move(o));
  };
  return info;
}

}  // namespace pgcdc::wssink
