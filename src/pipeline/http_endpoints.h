// Core HTTP endpoints shared by every pipeline: /healthz, /readyz, /metrics.
#pragma once

#include <functional>

namespace pgcdc {
class Health;
namespace net {
class HttpServer;
}
}  // namespace pgcdc

namespace pgcdc::pipeline {

// `ready` is polled for /readyz.
void MountCoreEndpoints(net::HttpServer& server, const Health& health,
                        const std::function<bool()>& ready);

// GET /metrics: the process-wide registry, Prometheus text format.
void MountMetrics(net::HttpServer& server);

}  // namespace pgcdc::pipeline
