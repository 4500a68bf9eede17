// grpc adapter (SPEC §5.11, fixed and extended): serves pgcdc.EventStream/
// Subscribe (proto/pgcdc/eventstream.proto), a server-streaming RPC that
// sends every event on the requested channels (empty = all).
//
// Differences from upstream (docs/grpc.md):
//  - a client whose queue (`client_queue` events) stays full for
//    `slow_client_timeout` is ended with RESOURCE_EXHAUSTED and counted
//    (upstream dropped its events silently); meanwhile the sink waits;
//  - shutdown ends every stream with UNAVAILABLE and waits at most the
//    shutdown grace for them (upstream hung while a client stayed connected);
//  - SubscribeRequest.resume_from replays from a bounded buffer (NOT_FOUND
//    when the id is no longer there);
//  - TLS (grpc.tls_cert/tls_key), a bearer token (grpc.token) and a
//    localhost default address.
// Events are acknowledged to the pipeline once queued to the clients (like
// sse/ws): a serving sink delivers to whoever is attached.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "adapter/adapter.h"
#include "registry/registry.h"

namespace pgcdc::adapter::grpc {

struct Options {
  std::string addr = "127.0.0.1:9090";
  size_t client_queue = 256;
  size_t replay_buffer = 1024;
  size_t max_clients = 1000;
  std::chrono::milliseconds slow_client_timeout{std::chrono::seconds(1)};
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string token;
  std::chrono::milliseconds shutdown_grace{std::chrono::seconds(2)};
  bool wait_for_client = false;
};

[[nodiscard]] AdapterPtr MakeGrpcAdapter(Options options);

ConnectorInfo Connector();

}  // namespace pgcdc::adapter::grpc
