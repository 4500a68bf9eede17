#include "adapter/ws/ws_adapter.h"

#include "adapter/stream/broadcast_sink.h"
#include "config/config.h"
#include "net/broadcaster.h"

namespace pgcdc::wssink {

namespace {

// One text message per event: the compact envelope JSON.
void EncodeFrame(const Event& e, net::BroadcastFrame& f) {
  f.bytes = std::make_shared<const std::string>(net::EncodeWebSocketText(e.Json()));
}

}  // namespace

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
    streamsink::ValidateListener(cfg, "ws", "websocket.addr", "--ws-addr", errors);
  };
  info.make_adapter = [](const config::Config& cfg) -> Result<adapter::AdapterPtr> {
    streamsink::Options o;
    o.name = "ws";
    o.flag = "--ws-addr";
    o.path = "/ws";
    o.route = streamsink::Route::kWebSocket;
    o.encode = EncodeFrame;
    o.addr = cfg.GetString("websocket.addr");
    o.http_addr = cfg.GetString("http_addr");
    o.keepalive = std::chrono::duration_cast<std::chrono::milliseconds>(
        cfg.GetDuration("websocket.ping_interval"));
    o.client_queue = static_cast<size_t>(cfg.GetInt("websocket.client_queue"));
    return std::make_unique<streamsink::BroadcastSink>(std::move(o));
  };
  return info;
}

}  // namespace pgcdc::wssink
