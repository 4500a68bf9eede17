// Server: the pgwire gateway's TCP listener (Boost.Asio C++20 coroutines on
// one I/O thread).
//
// Per connection: the start-up phase (SSLRequest → 'S' and a TLS handshake
// when a certificate is configured, else 'N'; GSSENCRequest → 'N';
// CancelRequest; the v3 start-up packet; authentication: SCRAM-SHA-256,
// cleartext only when asked for, or none) runs as one sequential coroutine.
// After it a reader coroutine cuts frames into a bounded queue and the
// processor coroutine answers them in order (simple and extended query
// protocol, query.h). A live tail (pgcdc_events_live) is a COPY OUT that the
// processor feeds from the ring until the client cancels (CancelRequest on
// another connection), disconnects, or LIMIT rows were sent; the reader keeps
// reading meanwhile, so a disconnect is seen at once.
//
// Limits: max_connections (more get SQLSTATE 53300 and are closed),
// max_message_size (a larger frame closes the connection: the stream cannot
// be resynchronised), startup_timeout (start-up and authentication),
// idle_timeout (no message while no query runs), write_timeout (a client
// that does not read). Bad frames close the connection; bad SQL answers an
// ErrorResponse and the connection stays usable.
//
// Lifecycle: construct, Start() (binds; a clear error when the address is
// taken), Stop() (closes every connection and joins). Thread-safe:
// Notify(), ConnectionCount(). Asio stays inside server.cc.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "adapter/pgwire/ring.h"
#include "core/error.h"

namespace pgcdc::adapter::pgwire {

struct ServerOptions {
  std::string host = "127.0.0.1";  // empty = all interfaces
  uint16_t port = 5433;            // 0 = a free port
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string password;    // empty = no authentication
  bool cleartext = false;  // password auth in cleartext instead of SCRAM-SHA-256
  size_t max_connections = 64;
  size_t max_message_size = 1u << 20;
  std::chrono::milliseconds startup_timeout{std::chrono::seconds(10)};
  std::chrono::milliseconds idle_timeout{std::chrono::minutes(10)};
  std::chrono::milliseconds write_timeout{std::chrono::seconds(30)};
  size_t tail_batch = 1000;  // rows read from the ring per live-tail wake-up
};

class Server {
 public:
  Server(ServerOptions options, std::shared_ptr<Ring> ring);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts serving; returns the bound "host:port".
  [[nodiscard]] Result<std::string> Start();
  void Stop();

  // New rows are in the ring: wakes live tails (any thread, coalesced).
  void Notify();
  size_t ConnectionCount() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace pgcdc::adapter::pgwire
