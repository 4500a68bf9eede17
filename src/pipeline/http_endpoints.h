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

}  // namespace pgcdc::pipeline
