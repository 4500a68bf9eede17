// ClientSocket: the transport under pgcdc's own protocol clients (HTTP/1.1,
// RESP). One TCP connection, optionally TLS (OpenSSL: SNI, hostname or IP
// verification, CA file, client certificate), non-blocking I/O with a
// deadline per exchange, and Interrupt() from another thread.
//
// A client writes a whole pipelined window of requests with Exchange() and
// reads the answers back in the same call through a Reader, which parses
// them and says when it has all it expected. Any error drops the connection
// (the next Exchange() reconnects). One ClientSocket is used by one thread at
// a time. OpenSSL headers stay in the .cc.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/error.h"

namespace pgcdc::net {

struct TlsOptions {
  std::string ca_file;    // empty: system trust store
  std::string cert_file;  // client certificate (PEM)
  std::string key_file;   // client key (PEM); empty: in cert_file
  bool insecure_skip_verify = false;
};

struct Endpoint {
  std::string host;  // name or IP literal, IPv6 without brackets
  uint16_t port = 0;
  bool tls = false;
  std::string display;  // how messages name the peer (e.g. "host:port")
};

class ClientSocket {
 public:
  using Clock = std::chrono::steady_clock;

  // Parses what an exchange reads back. Called only from Exchange().
  class Reader {
   public:
    virtual ~Reader() = default;
    // Bytes arrived. An error (kProtocol for malformed input) ends the
    // exchange and drops the connection.
    virtual Status OnData(std::string_view data) = 0;
    // The peer closed the stream; Done() is checked afterwards.
    virtual void OnEof() {}
    // True once every expected answer was read.
    virtual bool Done() const = 0;
  };

  ClientSocket(Endpoint endpoint, TlsOptions tls);
  ~ClientSocket();
  ClientSocket(const ClientSocket&) = delete;
  ClientSocket& operator=(const ClientSocket&) = delete;

  // Connects when not connected. A connection the peer closed while idle is
  // noticed and replaced first, so a request is not lost to a stale socket.
  Status EnsureConnected(Clock::time_point deadline);
  // EnsureConnected(), then writes `out` and reads into `reader` until reader.Done(). Errors carry
  // kTimeout, kCancelled (Interrupt), kConnection or the reader's code; the
  // message is the bare reason. The connection is dropped after an error,
  // and also when the reader was done before `out` was written whole (the
  // stream is then out of step).
  Status Exchange(std::string_view out, Reader& reader, Clock::time_point deadline);

  // Thread-safe: makes a blocked Exchange() return promptly (kCancelled),
  // now and for every later call.
  void Interrupt();
  bool connected() const;
  void Drop();
  // Connections opened so far (for tests and metrics).
  uint64_t connects() const { return connects_; }
  const Endpoint& endpoint() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  uint64_t connects_ = 0;
};

}  // namespace pgcdc::net
