// The gRPC side of the grpc sink: pgcdc.EventStream/Subscribe served on the
// callback API (gRPC's own threads; no thread per stream), one
// hub Client per stream, and the event encoding. The only translation unit
// that sees the generated code (compile firewall).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "adapter/grpc/hub.h"
#include "core/error.h"
#include "core/event.h"

namespace pgcdc::adapter::grpc {

// The pgcdc.Event message for `event`, serialized once (payload = the
// event's compact JSON payload, created_at RFC 3339 with nanoseconds).
std::shared_ptr<const std::string> EncodeEvent(const Event& event);

struct StreamServerOptions {
  std::string addr;  // HOST:PORT
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string token;        // bearer token; empty = no check
  size_t client_queue = 0;  // for the RESOURCE_EXHAUSTED message
};

class StreamServer {
 public:
  [[nodiscard]] static Result<std::unique_ptr<StreamServer>> Start(
      const StreamServerOptions& options, std::shared_ptr<Hub> hub);
  ~StreamServer();
  StreamServer(const StreamServer&) = delete;
  StreamServer& operator=(const StreamServer&) = delete;

  const std::string& addr() const;
  // Ends every stream with UNAVAILABLE, waits up to `grace` for them to be
  // delivered, then cancels what is left. Returns once all streams are done.
  void Stop(std::chrono::milliseconds grace);

 private:
  struct Impl;
  explicit StreamServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pgcdc::adapter::grpc
