// The REST API of `pgcdc serve` (SPEC §8.5 plus PUT and dry runs) and its
// probes, mounted on an HttpServer:
//
//   GET    /api/v1/pipelines                      list
//   POST   /api/v1/pipelines[?dry_run=true][&start=true]   create (JSON or YAML body)
//   GET    /api/v1/pipelines/{name}               one
//   PUT    /api/v1/pipelines/{name}[?dry_run=true]          replace (drain, restart)
//   DELETE /api/v1/pipelines/{name}               remove (stopped ones)
//   POST   /api/v1/pipelines/{name}/{start|stop|pause|resume}
//   GET    /healthz  /readyz  /metrics
//
// Lifecycle calls that wait for a pipeline to drain run on their own
// threads (the server's I/O thread never blocks); at most kMaxInFlight at
// once, beyond that 503.
#pragma once

#include <memory>

namespace pgcdc::net {
class HttpServer;
}

namespace pgcdc::serve {

class Manager;

class Api {
 public:
  static constexpr size_t kMaxInFlight = 16;
  explicit Api(Manager& manager);
  ~Api();  // waits for calls in flight
  Api(const Api&) = delete;
  Api& operator=(const Api&) = delete;

  void Mount(net::HttpServer& server);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pgcdc::serve
