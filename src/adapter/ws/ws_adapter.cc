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
  return streamsink::DefineStreamConnector({
      .name = "ws",
      .description =
          "WebSocket: GET /ws and /ws/<channel> on the main HTTP server, one text message per "
          "event; pings; slow clients are disconnected (close 1013).",
      .section = "websocket",
      .flag_prefix = "ws",
      .path = "/ws",
      .route = streamsink::Route::kWebSocket,
      .encode = EncodeFrame,
      .keepalive_key = "ping_interval",
      .keepalive_description = "ping every client this often; one that has not answered by the "
                               "next ping is dropped",
      .queue_description = "messages queued per client; a client that falls this far behind is "
                           "disconnected (close 1013)",
      .extra =
          {
              Param("websocket.allowed_origins", &streamsink::Options::cors_origins,
                    "browser origins (scheme://host:port) allowed to connect besides the "
                    "server's own; * = any. Requests without an Origin (non-browser clients) "
                    "are always accepted",
                    {.flag = "ws-allowed-origin"}),
          },
  });
}

}  // namespace pgcdc::adapter::ws

PGCDC_REGISTER_CONNECTOR(adapter, ws, pgcdc::adapter::ws::Connector)
