#include "adapter/sse/sse_adapter.h"

#include "adapter/stream/broadcast_sink.h"
#include "config/config.h"
#include "net/broadcaster.h"

namespace pgcdc::ssesink {

namespace {

// One frame per event: "id: <event id>\nevent: <channel>\ndata: <envelope>\n\n";
// the id makes it a Last-Event-ID resume point.
void EncodeFrame(const Event& e, net::BroadcastFrame& f) {
  f.id = e.id.ToString();
  f.bytes = std::make_shared<const std::string>(net::EncodeSseEvent(f.id, e.channel, e.Json()));
}

}  // namespace

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
    streamsink::ValidateListener(cfg, "sse", "sse.addr", "--sse-addr", errors);
  };
  info.make_adapter = [](const config::Config& cfg) -> Result<adapter::AdapterPtr> {
    streamsink::Options o;
    o.name = "sse";
    o.flag = "--sse-addr";
    o.path = "/events";
    o.route = streamsink::Route::kEventStream;
    o.encode = EncodeFrame;
    o.addr = cfg.GetString("sse.addr");
    o.http_addr = cfg.GetString("http_addr");
    o.keepalive = std::chrono::duration_cast<std::chrono::milliseconds>(
        cfg.GetDuration("sse.heartbeat_interval"));
    o.client_queue = static_cast<size_t>(cfg.GetInt("sse.client_queue"));
    o.replay_buffer = static_cast<size_t>(cfg.GetInt("sse.replay_buffer"));
    o.cors_origins = cfg.GetList("sse.cors_origins");
    return std::make_unique<streamsink::BroadcastSink>(std::move(o));
  };
  return info;
}

}  // namespace pgcdc::ssesink
