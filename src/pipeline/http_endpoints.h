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

// GET /debug/threads (each thread's id, name, state and CPU time) and
// GET /debug/memory (resident/virtual size, allocator totals): SPEC's pprof
// for a C++ process. Behind the server's credentials like /metrics.
void MountDebug(net::HttpServer& server);

}  // namespace pgcdc::pipeline
