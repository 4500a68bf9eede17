#include "detector/listennotify/listen_notify.h"

#include <libpq-fe.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <regex>

#include "config/config.h"
#include "core/health.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/supervisor.h"
#include "core/time.h"
#include "detector/listennotify/notify_event.h"
#include "pg/conn.h"

namespace pgcdc::listennotify {

namespace {

struct Metrics {
  metrics::Counter* errors;
  metrics::Counter* notifications;
  Metrics() {
    auto& r = metrics::Default();
    errors =
        &r.AddCounter("pgcdc_listennotify_errors_total", "LISTEN/NOTIFY connection errors.").Get();
    notifications =
        &r.AddCounter("pgcdc_listennotify_notifications_total", "Notifications received.").Get();
  }
};

Metrics& M() {
  static Metrics m;
  return m;
}

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
    M().notifications->Inc(batch.events.size());
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
  SupervisorOptions so;
  so.component = "listen_notify";
  so.failures = M().errors;
  so.retry = options_.backoff;
  so.health = ctx.health;
  so.health_name = ctx.health_name;
  Supervisor supervisor(std::move(so), ctx.stop);
  return supervisor.Run([&](Supervisor::Session& session) {
    return ListenAndServe(options_, channel_list, ctx, session);
  });
}

ConnectorInfo Connector() {
  ConnectorInfo info;
  info.kind = ConnectorKind::kDetector;
  info.name = "listen_notify";
  info.description =
      "PostgreSQL LISTEN/NOTIFY: one dedicated connection LISTENs on each channel; pair with the "
      "trigger from `pgcdc init --table T`. At-most-once (notifications sent while disconnected "
      "are lost).";
  info.params = {
      {.key = "database_url",
       .type = ParamType::kString,
       .description = "PostgreSQL connection string (URI or key=value)",
       .flag = "db"},
      {.key = "channels",
       .type = ParamType::kStringList,
       .description = "channel(s) to LISTEN on (repeatable or comma-separated)",
       .flag = "channel",
       .short_flag = "c"},
      {.key = "detector.backoff_base",
       .type = ParamType::kDuration,
       .default_value = "5s",
       .description = "reconnect backoff base (full jitter, doubles per attempt)",
       .min = 1},
      {.key = "detector.backoff_cap",
       .type = ParamType::kDuration,
       .default_value = "60s",
       .description = "reconnect backoff cap",
       .min = 1},
  };
  info.validate = [](const config::Config& cfg, std::vector<std::string>& errors) {
    if (!cfg.Has("database_url")) {
      errors.push_back(
          "database_url: required for detector listen_notify (--db, PGCDC_DATABASE_URL or "
          "database_url in the config file)");
    }
    if (cfg.GetList("channels").empty()) {
      errors.push_back("channels: listen_notify needs at least one channel (-c/--channel)");
    }
    for (const auto& ch : cfg.GetList("channels")) {
      if (ch.size() > 63) {
        errors.push_back("channels: \"" + ch +
                         "\" is longer than PostgreSQL's 63-byte identifier limit");
      }
    }
    if (cfg.GetDuration("detector.backoff_cap") < cfg.GetDuration("detector.backoff_base")) {
      errors.push_back("detector.backoff_cap: must be >= detector.backoff_base");
    }
  };
  info.make_detector = [](const config::Config& cfg) -> Result<detector::DetectorPtr> {
    Options o;
    o.database_url = cfg.GetString("database_url");
    o.channels = cfg.GetList("channels");
    o.backoff.base = std::chrono::duration_cast<std::chrono::milliseconds>(
        cfg.GetDuration("detector.backoff_base"));
    o.backoff.cap = std::chrono::duration_cast<std::chrono::milliseconds>(
        cfg.GetDuration("detector.backoff_cap"));
    return std::make_unique<ListenNotifyDetector>(std::move(o));
  };
  return info;
}

}  // namespace pgcdc::listennotify
