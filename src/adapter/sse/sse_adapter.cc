#include "adapter/sse/sse_adapter.h"

#include "adapter/stream/broadcast_sink.h"
#include "net/broadcaster.h"
#include "registry/define.h"

namespace pgcdc::adapter::sse {

namespace {

// One frame per event: "id: <event id>\nevent: <channel>\ndata: <envelope>\n\n";
// the id makes it a Last-Event-ID resume point.
void EncodeFrame(const Event& e, net::BroadcastFrame& f) {
  f.id = e.id.ToString();
  f.bytes = std::make_shared<const std::string>(net::EncodeSseEvent(f.id, e.channel, e.Json()));
}

}  // namespace

ConnectorInfo Connector() {
  return DefineAdapter<Config>({
      .name = "sse",
      .description =
          "Server-Sent Events: GET /events and /events/<channel> on the main HTTP server; "
          "Last-Event-ID resume from a bounded replay buffer; slow clients are disconnected.",
      .params =
          {
              Param("sse.addr", &Config::addr,
                    "own listener for /events (HOST:PORT); empty = the main HTTP server "
                    "(--http-addr)",
                    {.flag = "sse-addr"}),
              Param("sse.heartbeat_interval", &Config::heartbeat_interval,
                    "keep-alive comment after this long without data",
                    {.flag = "sse-heartbeat-interval", .min = 1}),
              Param("sse.client_queue", &Config::client_queue,
                    "events queued per client; a client that falls this far behind is "
                    "disconnected",
                    {.flag = "sse-client-queue", .min = 1, .max = 10'000'000}),
              Param("sse.replay_buffer", &Config::replay_buffer,
                    "recent events kept for Last-Event-ID resumes (0 = off)",
                    {.flag = "sse-replay-buffer", .min = 0, .max = 10'000'000}),
              Param("sse.cors_origins", &Config::cors_origins,
                    "origins allowed by CORS (* = any); empty = no CORS header (the default: "
                    "browsers on other origins are refused unless you list them)",
                    {.flag = "sse-cors-origin"}),
          },
      .validate =
          [](const Config& c, const Context& ctx, Errors& errors) {
            streamsink::ValidateListener("sse", c.addr, "sse.addr", "--sse-addr",
                                         ctx.core.http_addr, errors);
          },
      .make = [](Config c, const Context& ctx) -> Result<AdapterPtr> {
        streamsink::Options o;
        o.name = "sse";
        o.flag = "--sse-addr";
        o.path = "/events";
        o.route = streamsink::Route::kEventStream;
        o.encode = EncodeFrame;
        o.addr = std::move(c.addr);
        o.http_addr = ctx.core.http_addr;
        o.keepalive = c.heartbeat_interval;
        o.client_queue = static_cast<size_t>(c.client_queue);
        o.replay_buffer = static_cast<size_t>(c.replay_buffer);
        o.cors_origins = std::move(c.cors_origins);
        return std::make_unique<streamsink::BroadcastSink>(std::move(o));
      },
  });
}

}  // namespace pgcdc::adapter::sse

PGCDC_REGISTER_CONNECTOR(adapter, sse, pgcdc::adapter::sse::Connector)
