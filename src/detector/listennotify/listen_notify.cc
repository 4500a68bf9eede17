#include "detector/listennotify/listen_notify.h"

#include <libpq-fe.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <regex>

#include "core/health.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/supervisor.h"
#include "core/time.h"
#include "detector/listennotify/notify_event.h"
#include "pg/conn.h"
#include "registry/define.h"

namespace pgcdc::detector::listennotify {

namespace {

struct Metrics {
  metrics::Counter& errors = metrics::DefaultCounter("pgcdc_listennotify_errors_total",
                                                     "LISTEN/NOTIFY connection errors.");
  metrics::Counter& notifications =
      metrics::DefaultCounter("pgcdc_listennotify_notifications_total", "Notifications received.");
};

Metrics& M() { return metrics::Lazy<Metrics>(); }

// Connects, LISTENs on every channel and turns notifications into events
// until the connection breaks (error) or a stop (Ok).
Status ListenAndServe(const Options& options, const std::string& channel_list,
                      detector::RunContext& ctx, Supervisor::Session& session) {
  auto conn = pg::Conn::Open(options.database_url);
  if (!conn) return Fail(conn.error());
  for (const auto& ch : options.channels) {
    if (auto st = conn->Exec("LISTEN " + pg::QuoteIdentifier(ch)); !st) {
      return Fail(st.error().Wrap("listen " + ch));
    }
  }
  session.Up();
  log::Info("listening", {{"detector", "listen_notify"}, {"channels", channel_list}});
  PGconn* c = conn->raw();
  EventBatch batch;
  auto publish = [&] {
    M().notifications.Inc(batch.events.size());
    const bool ok = ctx.publish(std::move(batch));
    batch = EventBatch{};
    return ok;
  };
  while (!session.stop_requested()) {
    pollfd fds[2] = {{PQsocket(c), POLLIN, 0}, {session.sleeper().fd(), POLLIN, 0}};
    int rc = ::poll(fds, 2, -1);
    if (rc < 0) {
      if (errno == EINTR) continue;
      return Fail(ErrorCode::kIo, std::string("poll: ") + std::strerror(errno));
    }
    if (session.stop_requested()) return Ok();
    if (PQconsumeInput(c) == 0 || PQstatus(c) != CONNECTION_OK) {
      return Fail(ErrorCode::kConnection, conn->ErrorMessage());
    }
    // Drain results of anything pending (e.g. an error the server sent).
    while (PGnotify* n = PQnotifies(c)) {
      batch.events.push_back(MakeNotifyEvent(n->relname, n->extra, NowUnixNanos()));
      PQfreemem(n);
      if (batch.events.size() >= options.max_batch && !publish()) return Ok();
      PQconsumeInput(c);
    }
    if (!batch.events.empty() && !publish()) return Ok();
    if (PQstatus(c) != CONNECTION_OK) {
      return Fail(ErrorCode::kConnection, conn->ErrorMessage());
    }
  }
  return Ok();
}

}  // namespace

ListenNotifyDetector::ListenNotifyDetector(Options options) : options_(std::move(options)) {}

Status ListenNotifyDetector::Run(detector::RunContext& ctx) {
  const std::string redacted = pg::RedactUrl(options_.database_url);
  std::string channel_list;
  for (const auto& ch : options_.channels) channel_list += (channel_list.empty() ? "" : ",") + ch;
  log::Info("starting detector",
            {{"detector", "listen_notify"}, {"db", redacted}, {"channels", channel_list}});
  // Configuration problems (bad channel, auth) are retried too: the database
  // may be fixed while we wait, and the error is visible in health.
  Supervisor supervisor(detector::SupervisorFor(ctx, "listen_notify", M().errors, options_.backoff),
                        ctx.stop);
  return supervisor.Run([&](Supervisor::Session& session) {
    return ListenAndServe(options_, channel_list, ctx, session);
  });
}

ConnectorInfo Connector() {
  return DefineDetector<Options>({
      .name = "listen_notify",
      .description =
          "PostgreSQL LISTEN/NOTIFY: one dedicated connection LISTENs on each channel; pair with "
          "the trigger from `pgcdc init --table T`. At-most-once (notifications sent while "
          "disconnected are lost).",
      .params = Params({
          {Param("channels", &Options::channels,
                 "channel(s) to LISTEN on (repeatable or comma-separated)",
                 {.flag = "channel", .short_flag = "c"})},
          ReconnectParams<Options>("detector"),
      }),
      .validate =
          [](const Options& o, const Context& ctx, Errors& errors) {
            RequireDatabaseUrl(ctx, "listen_notify", errors);
            if (o.channels.empty()) {
              errors.push_back("channels: listen_notify needs at least one channel (-c/--channel)");
            }
            for (const auto& ch : o.channels) {
              if (ch.size() > 63) {
                errors.push_back("channels: \"" + ch +
                                 "\" is longer than PostgreSQL's 63-byte identifier limit");
              }
            }
            ValidateBackoff("detector", o.backoff, errors);
          },
      .make = [](Options o, const Context& ctx) -> Result<DetectorPtr> {
        o.database_url = ctx.core.database_url;
        return std::make_unique<ListenNotifyDetector>(std::move(o));
      },
  });
}

}  // namespace pgcdc::detector::listennotify

PGCDC_REGISTER_CONNECTOR(detector, listennotify, pgcdc::detector::listennotify::Connector)
