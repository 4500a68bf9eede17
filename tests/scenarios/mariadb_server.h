// A real MariaDB server for scenario tests (SERVICES.md "MariaDB 10.11"):
// mariadbd started as root with --user=mysql (it drops privileges itself, so
// the process we signal is the server), loopback only, a free port, its own
// data directory (mariadb-install-db), row-based binlog with full row images
// and full row metadata. Stopped (SIGKILL) with the object.
//
// MariaDbClient is a plain libmariadb connection for the test's own SQL.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "harness.h"

struct st_mysql;

namespace pgcdc::testing {

class MariaDbClient {
 public:
  ~MariaDbClient();
  MariaDbClient(const MariaDbClient&) = delete;
  MariaDbClient& operator=(const MariaDbClient&) = delete;
  // Runs one statement (or several separated by ';'); false (and a test
  // failure unless quiet) on error.
  bool Exec(const std::string& sql, bool quiet = false);
  // Rows of a query's result, NULL as nullopt (empty on error, a test failure).
  std::vector<std::vector<std::optional<std::string>>> Query(const std::string& sql);
  // The first value of the first row ("" when none).
  std::string Scalar(const std::string& sql);
  std::string LastError() const;

 private:
  friend class MariaDbServer;
  MariaDbClient() = default;
  st_mysql* mysql_ = nullptr;
};

class MariaDbServer {
 public:
  // `extra` server options, e.g. {"--binlog-row-metadata=MINIMAL"}.
  explicit MariaDbServer(std::vector<std::string> extra = {});
  ~MariaDbServer();
  MariaDbServer(const MariaDbServer&) = delete;
  MariaDbServer& operator=(const MariaDbServer&) = delete;

  // Starts (again, same port and data); true once it accepts connections.
  bool Start();
  void Kill();    // SIGKILL
  void Pause();   // SIGSTOP: connections stay open, nothing is answered
  void Resume();  // SIGCONT

  int port() const { return port_; }
  std::string Addr() const { return "127.0.0.1:" + std::to_string(port_); }
  // A root connection (utf8mb4); null (and a test failure) on error.
  std::unique_ptr<MariaDbClient> Connect(bool quiet = false) const;
  // `mariadb` CLI arguments for this server (root, no password).
  std::vector<std::string> CliArgs() const;

 private:
  std::vector<std::string> extra_;
  TempDir dir_;
  int port_;
  bool installed_ = false;
  std::unique_ptr<Process> process_;
};

// One server for the whole test binary (started on first use).
MariaDbServer& SharedMariaDb();

}  // namespace pgcdc::testing
