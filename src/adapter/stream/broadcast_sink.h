// Shared core of the sse and ws sinks: an adapter that fans events out to
// streaming HTTP clients through a net::Broadcaster. It serves <path> (all
// channels) and <path>/<channel> (plus ?channel=a,b filters) either on the
// main HTTP server (Services::http) or, when `addr` names another address, on
// its own server started in Open(). Deliver() encodes each event once (the
// protocol's `encode`) and only queues the frames to the clients' bounded
// queues; a client that falls behind is disconnected by the broadcaster, the
// pipeline never waits for a socket. Events are acknowledged once queued.
// Metrics (pgcdc_<name>_*) and shutdown close frames come from the
// broadcaster. Threads: Deliver()/Close() on the adapter worker; route
// handlers on the HTTP server's I/O thread (they hold only copies and the
// shared broadcaster, so they may outlive the adapter).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "adapter/adapter.h"
#include "registry/registry.h"

namespace pgcdc::net {
struct BroadcastFrame;
}  // namespace pgcdc::net

namespace pgcdc::streamsink {

// How clients subscribe: a long-lived text/event-stream response (which also
// honours Last-Event-ID resumes and CORS) or a WebSocket upgrade.
enum class Route { kEventStream, kWebSocket };

// Fills frame.bytes (and frame.id when the frame is a resume point) for one
// event; frame.channel is already set. Runs on the adapter worker.
using EncodeFn = void (*)(const Event& event, net::BroadcastFrame& frame);

struct Options {
  std::string name;  // adapter, own server and metric name ("sse", "ws")
  std::string flag;  // the own-listener flag, for messages ("--sse-addr")
  std::string path;  // route root ("/events")
  Route route = Route::kEventStream;
  EncodeFn encode = nullptr;
  std::string addr;       // own listener; empty or == http_addr: the main server
  std::string http_addr;  // the main server's configured address
  std::chrono::milliseconds keepalive{std::chrono::seconds(15)};
  size_t client_queue = 1024;
  size_t replay_buffer = 1024;            // frames kept for resumes; 0 = off
  // kEventStream: origins answered with CORS headers (and OPTIONS preflight),
  // empty = no CORS header. kWebSocket: browser origins allowed to connect
  // besides the server's own (a request without Origin is not a browser's).
  // "*" = any.
  std::vector<std::string> cors_origins;
};

class BroadcastSink final : public adapter::Adapter {
 public:
  explicit BroadcastSink(Options options);
  ~BroadcastSink() override;
  std::string_view Name() const override;
  Status Attach(const adapter::Services& services) override;
  Status Open() override;
  Status Deliver(std::span<const Event* const> events) override;
  std::optional<size_t> Subscribers() const override;
  void Close() override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// What differs between the streaming sinks' connector declarations.
struct StreamConnector {
  std::string name;         // registry and metric name ("sse")
  std::string description;  // for `pgcdc list`
  std::string section;      // YAML section ("sse", "websocket")
  std::string flag_prefix;  // "sse" -> --sse-addr, --sse-client-queue
  std::string path;         // route root ("/events")
  Route route = Route::kEventStream;
  EncodeFn encode = nullptr;
  std::string keepalive_key;  // "heartbeat_interval", "ping_interval"
  std::string keepalive_description;
  std::string queue_description;
  // Route-specific parameters bound to Options (e.g. sse's replay buffer).
  std::vector<ParamSpec> extra;
};

// The declaration of a streaming sink: <section>.addr, the keepalive, the
// per-client queue and `extra`, all bound to Options; validation (an HTTP
// server must exist) and the factory are shared.
ConnectorInfo DefineStreamConnector(StreamConnector spec);

}  // namespace pgcdc::streamsink
