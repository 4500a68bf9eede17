// Server: the built-in broker's TCP listener (Boost.Asio, one I/O thread).
//
// Accepts Kafka clients on one listener — plain, or TLS when a certificate
// and key are configured — and feeds each connection's frames to a Broker
// (broker.h), strictly one request at a time per connection, as Kafka does:
// while a request is being handled (a Fetch long poll, a JoinGroup waiting
// for the other members) the connection's later requests wait, and the
// socket is not read. Frames larger than `max_frame_size` or with a negative
// size close the connection. Responses are written in request order.
//
// Lifecycle: construct, Start() (binds — a clear error when the address is
// taken — and starts the I/O thread), Stop() (closes the listener and every
// connection, cancels long polls, joins). The TopicStore and OffsetStore
// must outlive the server. Asio headers stay in server.cc.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "adapter/kafkaserver/broker.h"
#include "core/error.h"

namespace pgcdc::adapter::kafkaserver {

struct ServerOptions {
  // Listen address; empty host = all interfaces. Port 0 picks a free port.
  std::string host;
  uint16_t port = 9092;
  // TLS listener when both are set (PEM files).
  std::string tls_cert_file;
  std::string tls_key_file;
  // Largest request frame accepted (Kafka: socket.request.max.bytes).
  size_t max_frame_size = 100u * 1024u * 1024u;
  // A connection's pending responses beyond this many bytes pause its
  // request processing until the client reads.
  size_t max_pending_write_bytes = 8u * 1024u * 1024u;
  // Open connections; more are closed at once (0 = unlimited).
  size_t max_connections = 1024;
  // A connection waiting for its client's next bytes (or a TLS handshake)
  // this long is closed. Connections with a request in progress (a Fetch
  // long poll) are not idle.
  std::chrono::milliseconds idle_timeout{std::chrono::minutes(9)};
  // How often group sessions are checked.
  std::chrono::milliseconds tick_interval{1000};
  // Broker settings; advertised_host empty = the listen host, or "localhost"
  // for an all-interfaces listener; advertised_port 0 = the bound port.
  BrokerOptions broker;
};

class Server {
 public:
  Server(ServerOptions options, TopicStore& topics, OffsetStore* offsets);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts serving; returns the bound "host:port".
  Result<std::string> Start();
  void Stop();

  // Open client connections (any thread).
  size_t ConnectionCount() const;
  // The advertised "host:port" (after Start).
  std::string Advertised() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// "host:port" for a listen host: IPv6 in brackets.
std::string JoinHostPort(const std::string& host, int port);
// The advertised host for a listen host when none is configured: the listen
// host itself, or "localhost" for "", "0.0.0.0" and "::".
std::string DefaultAdvertisedHost(const std::string& listen_host);

}  // namespace pgcdc::adapter::kafkaserver
