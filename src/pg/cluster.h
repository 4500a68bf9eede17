// TempCluster: a throwaway PostgreSQL cluster in a temporary directory,
// listening on 127.0.0.1 and a free port. Used by `pgcdc playground` and by
// the scenario-test harness.
//
// PostgreSQL refuses to run as root; when we are root, initdb/pg_ctl run as
// the `postgres` system user (via runuser) and the directory is chowned to it.
// Stop() (also run by the destructor) stops the server and removes the
// directory. Not thread-safe; one owner.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/error.h"

namespace pgcdc::pg {

struct ClusterOptions {
  std::string bin_dir;                // empty = auto-detect PostgreSQL 15 binaries
  std::vector<std::string> settings;  // extra "-c name=value" server settings
  bool logical_replication = true;    // wal_level=logical and slots/senders
  std::string log_prefix = "pgcdc";   // temp dir name prefix
};

class TempCluster {
 public:
  static Result<std::unique_ptr<TempCluster>> Start(const ClusterOptions& options = {});
  ~TempCluster();
  TempCluster(const TempCluster&) = delete;
  TempCluster& operator=(const TempCluster&) = delete;

  // libpq URI for a database on this cluster (superuser "postgres", no password).
  std::string Url(const std::string& database = "postgres") const;
  int port() const { return port_; }
  const std::string& dir() const { return dir_; }
  std::string LogPath() const { return dir_ + "/server.log"; }

  // Stops the server (fast shutdown) and keeps the data directory.
  Status StopServer();
  // Starts the server again on the same port (for restart scenarios).
  Status StartServer();
  // Stops the server and deletes the directory. Idempotent.
  Status Stop();

 private:
  TempCluster() = default;
  Status RunTool(const std::vector<std::string>& argv, const std::string& what);
  std::string bin_dir_;
  std::string dir_;
  std::vector<std::string> server_args_;
  int port_ = 0;
  bool as_postgres_user_ = false;
  bool running_ = false;
};

// Picks a currently free TCP port on 127.0.0.1.
Result<int> FreeLocalPort();

}  // namespace pgcdc::pg
