#include "adapter/ws/ws_adapter.h"

#include "adapter/stream/broadcast_sink.h"
#include "net/broadcaster.h"
#include "registry/define.h"

namespace pgcdc::adapter::ws {

namespace {

// One text message per event: the compact envelope JSON.
void EncodeFrame(const Event& e, net::BroadcastFrame& f) {
  f.bytes = std::make_shared<const std::string>(net::EncodeWebSocketText(e.Json()));
}

}  // namespace

ConnectorInfo Connector() {
  return DefineAdapter<Config>({
      .name = "ws",
      .description =
          "WebSocket: GET /ws and /ws/<channel> on the main HTTP server, one text message per "
          "event; pings; slow clients are disconnected (close 1013).",
      .params =
          {
              Param("websocket.addr", &Config::addr,
                    "own listener for /ws (HOST:PORT); empty = the main HTTP server "
                    "(--http-addr)",
                    {.flag = "ws-addr"}),
              Param("websocket.ping_interval", &Config::ping_interval,
                    "ping every client this often; one that has not answered by the next ping "
                    "is dropped",
                    {.flag = "ws-ping-interval", .min = 1}),
              Param("websocket.client_queue", &Config::client_queue,
                    "messages queued per client; a client that falls this far behind is "
                    "disconnected (close 1013)",
                    {.flag = "ws-client-queue", .min = 1, .max = 10'000'000}),
          },
      .validate =
          [](const Config& c, const Context& ctx, Errors& errors) {
            streamsink::ValidateListener("ws", c.addr, "websocket.addr", "--ws-addr",
                                         ctx.core.http_addr, errors);
          },
      .make = [](Config c, const Context& ctx) -> Result<AdapterPtr> {
        streamsink::Options o;
        o.name = "ws";
        o.flag = "--ws-addr";
        o.path = "/ws";
        o.route = streamsink::Route::kWebSocket;
        o.encode = EncodeFrame;
        o.addr = std::move(c.addr);
        o.http_addr = ctx.core.http_addr;
        o.keepalive = c.ping_interval;
        o.client_queue = static_cast<size_t>(c.client_queue);
        return std::make_unique<streamsink::BroadcastSink>(std::move(o));
      },
  });
}

}  // namespace pgcdc::adapter::ws

PGCDC_REGISTER_CONNECTOR(adapter, ws, pgcdc::adapter::ws::Connector)
