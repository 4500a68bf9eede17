// sse adapter (SPEC §5.3): Server-Sent Events on GET /events (all channels)
// and /events/<channel> (plus ?channel=a,b filters). Each event becomes one
// frame "id: <event id>\nevent: <channel>\ndata: <envelope JSON>\n\n",
// encoded once and shared by every client. Deliver() only queues frames to
// the clients' bounded queues (net::Broadcaster); a client that falls behind
// is disconnected, the pipeline never waits for a socket. Events are
// acknowledged once queued: delivery is best-effort for clients that are not
// connected, softened by a bounded replay ring for Last-Event-ID resumes.
//
// Serves on the main HTTP server (Services::http, --http-addr) unless
// --sse-addr names another address; then the adapter runs its own server.
// Threads: Deliver()/Close() on the adapter worker; route handlers on the
// HTTP server's I/O thread.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "adapter/adapter.h"
#include "registry/registry.h"

namespace pgcdc::net {
class Broadcaster;
struct BroadcastFrame;
}  // namespace pgcdc::net

namespace pgcdc::ssesink {

struct Options {
  std::string addr;       // own listener; empty or == http_addr: the main server
  std::string http_addr;  // the main server's configured address
  std::chrono::milliseconds heartbeat{std::chrono::seconds(15)};
  size_t client_queue = 1024;
  size_t replay_buffer = 1024;
  std::vector<std::string> cors_origins{"*"};
};

class SseAdapter : public adapter::Adapter {
 public:
  explicit SseAdapter(Options options);
  ~SseAdapter() override;
  std::string_view Name() const override { return "sse"; }
  Status Attach(const adapter::Services& services) override;
  Status Open() override;
  Status Deliver(std::span<const Event* const> events) override;
  void Close() override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

ConnectorInfo Connector();

}  // namespace pgcdc::ssesink
