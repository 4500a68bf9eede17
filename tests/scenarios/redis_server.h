// A real redis-server for scenario tests (SERVICES.md): loopback only, a
// free port, its own data directory; stopped (SIGKILL) with the object.
// Persistent mode (append-only file, fsync always) keeps the data across
// Kill()/Start(), for outage tests. With a certificate directory (see
// test_certs.h) it serves TLS only (rediss://), verifying nothing of clients.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "harness.h"

namespace pgcdc::testing {

class RedisServer {
 public:
  explicit RedisServer(bool persistent = false, std::string tls_dir = {});
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  // Starts (again, on the same port and data directory); true once it
  // answers PING.
  bool Start();
  // SIGKILL, as a crash would.
  void Kill();

  int port() const { return port_; }
  std::string Url() const {
    return (tls_dir_.empty() ? "redis://127.0.0.1:" : "rediss://127.0.0.1:") +
           std::to_string(port_);
  }
  // redis-cli against this server: its output without the final newline.
  std::string Cli(const std::vector<std::string>& args) const;
  // An integer reply (DBSIZE, XLEN, …); -1 when the reply is not a number.
  long long CliInt(const std::vector<std::string>& args) const;

 private:
  bool persistent_;
  std::string tls_dir_;
  TempDir dir_;
  int port_;
  std::unique_ptr<Process> process_;
};

}  // namespace pgcdc::testing
