#include "pipeline/http_endpoints.h"

#include "core/health.h"
#include "core/metrics.h"
#include "net/http_server.h"

namespace pgcdc::pipeline {

// /healthz and /readyz stay open when HTTP auth is on (probes); /metrics
// needs credentials like everything else.
void MountCoreEndpoints(net::HttpServer& server, const Health& health,
                        const std::function<bool()>& ready) {
  server.Handle("GET", "/healthz",
                [&health](const net::HttpRequest&) {
                  net::HttpResponse r;
                  r.status = health.Overall() == HealthStatus::kDown ? 503 : 200;
                  r.body = health.ToJson();
                  return r;
                },
                {.public_route = true});
  server.Handle("GET", "/readyz",
                [ready](const net::HttpRequest&) {
                  net::HttpResponse r;
                  const bool ok = ready();
                  r.status = ok ? 200 : 503;
                  r.body = ok ? "{\"ready\":true}" : "{\"ready\":false}";
                  return r;
                },
                {.public_route = true});
  MountMetrics(server);
}

void MountMetrics(net::HttpServer& server) {
  server.Handle("GET", "/metrics", [](const net::HttpRequest&) {
    net::HttpResponse r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = metrics::Default().Expose();
    return r;
  });
}

}  // namespace pgcdc::pipeline
