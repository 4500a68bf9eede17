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
  using O = streamsink::Options;
  return streamsink::DefineStreamConnector({
      .name = "sse",
      .description =
          "Server-Sent Events: GET /events and /events/<channel> on the main HTTP server; "
          "Last-Event-ID resume from a bounded replay buffer; slow clients are disconnected.",
      .section = "sse",
      .flag_prefix = "sse",
      .path = "/events",
      .route = streamsink::Route::kEventStream,
      .encode = EncodeFrame,
      .keepalive_key = "heartbeat_interval",
      .keepalive_description = "keep-alive comment after this long without data",
      .queue_description = "events queued per client; a client that falls this far behind is "
                           "disconnected",
      .extra =
          {
              Param("sse.replay_buffer", &O::replay_buffer,
                    "recent events kept for Last-Event-ID resumes (0 = off)",
                    {.min = 0, .max = 10'000'000}),
              Param("sse.cors_origins", &O::cors_origins,
                    "origins allowed by CORS (* = any); empty = no CORS header (the default: "
                    "browsers on other origins are refused unless you list them)",
                    {.flag = "sse-cors-origin"}),
          },
  });
}

}  // namespace pgcdc::adapter::sse

PGCDC_REGISTER_CONNECTOR(adapter, sse, pgcdc::adapter::sse::Connector)
