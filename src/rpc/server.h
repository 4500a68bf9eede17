// A gRPC server's lifecycle for the connectors that serve gRPC (grpc, arrow
// Flight): listen address in pgcdc's HOST:PORT form (empty host = all
// interfaces, port 0 = any free port), optional TLS from PEM files, a bearer
// token check, and a bounded shutdown. The services are registered by the
// caller (callback API; the library's own threads run them, so no thread per
// stream). Includes grpcpp, never generated code.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace pgcdc::rpc {

struct ServerOptions {
  std::string name;           // for logs ("grpc")
  std::string addr;           // HOST:PORT
  std::string tls_cert_file;  // PEM; both or none
  std::string tls_key_file;
  size_t max_message_bytes = 0;  // 0 = gRPC's default
};

class Server {
 public:
  // Builds, binds and starts. Fails (kConfig) on a bad address or unreadable
  // TLS files, (kConnection) when the port cannot be bound.
  [[nodiscard]] static Result<std::unique_ptr<Server>> Start(
      const ServerOptions& options, const std::vector<::grpc::Service*>& services);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The bound address (HOST:PORT with the port actually chosen).
  const std::string& addr() const { return addr_; }
  // Refuses new calls, waits up to `grace` for calls in flight to finish,
  // cancels the rest and returns once every handler is done. Idempotent.
  void Stop(std::chrono::milliseconds grace);

 private:
  Server() = default;
  std::unique_ptr<::grpc::Server> server_;
  std::string addr_;
  bool stopped_ = false;
};

// OK when `token` is empty or the call carries `authorization: Bearer
// <token>` (compared in constant time); UNAUTHENTICATED otherwise.
::grpc::Status CheckBearer(const ::grpc::ServerContextBase& context, const std::string& token);

// Configuration checks of the connectors that serve gRPC: `<section>.addr`
// is a listen address, and --<section>-tls-cert / --<section>-tls-key come
// together. Appends one message per problem to `errors`.
void ValidateServerOptions(std::string_view section, const ServerOptions& options,
                           std::vector<std::string>& errors);

// "host:port" for gRPC from pgcdc's listen address ("" host = all
// interfaces: "[::]"; an IPv6 host is bracketed).
[[nodiscard]] Result<std::string> GrpcListenAddress(const std::string& addr);

}  // namespace pgcdc::rpc
