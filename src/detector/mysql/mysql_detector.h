// mysql detector (SPEC §2.5): reads a MySQL/MariaDB row-based binlog as a
// replica (its own server id) and turns row changes into events (stream.h).
//
// Each cycle: connect, check the server (binlog_format=ROW — anything else is
// a configuration error with a fix hint; binlog_row_image, server id), then
// start a binlog dump from
//   1. the position this process already streamed to (after a reconnect),
//   2. else the position in the state file (--mysql-state-file),
//   3. else the server's current end (SHOW MASTER STATUS / @@gtid_binlog_pos):
//      never the whole retained history.
// In GTID mode (MariaDB) the dump starts from the GTID state instead of the
// file position (SET @slave_connect_state), so it survives a failover to
// another server of the same replication topology.
//
// Delivery guarantee: the state file only ever holds the position after an
// event group (transaction / DDL) every adapter has finished with
// (RunContext::acks), written atomically (state_file.h). After a crash the
// stream resumes there: at-least-once, never a gap; redelivered events carry
// the ids of their first delivery.
//
// The server sends heartbeats (MASTER_HEARTBEAT_PERIOD = heartbeat_interval)
// while idle; a connection that stays silent for three of them counts as dead
// and is reconnected through the shared Supervisor.
//
// Thread: Run() executes on the pipeline's detector thread; a stop request
// shuts the binlog socket down so a blocked read returns at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/retry_policy.h"
#include "core/supervisor.h"
#include "detector/detector.h"
#include "detector/mysql/row_values.h"
#include "detector/mysql/stream.h"
#include "registry/registry.h"

namespace pgcdc::detector::mysql {

class Client;

// Also the connector's config struct (its parameters bind to these fields).
struct Options {
  std::string addr;  // host:port
  std::string user;
  std::string password;
  int64_t server_id = 0;
  std::vector<std::string> tables;
  bool use_gtid = false;
  std::string flavor = "mysql";
  std::string binlog_prefix = "mysql-bin";
  RetryPolicy backoff{.base = std::chrono::seconds(5), .cap = std::chrono::seconds(60)};
  std::string state_file;
  std::chrono::milliseconds heartbeat_interval{5000};
  bool tx_metadata = false;
  bool tx_markers = false;
  bool schema_events = false;
  // With no stored position: the captured tables' rows first (snapshot.h).
  bool snapshot_first = false;
  int64_t max_batch = 1024;
  // After a stop request, how long published events may still wait for the
  // adapters so their position can be saved (core shutdown_timeout / 2).
  std::chrono::milliseconds stop_grace{2500};
};

// Whether a `--mysql-tables` entry (db.table or table) exists on the server.
Result<bool> TableExists(Client& c, const std::string& entry);

// `pgcdc doctor`: the server's prerequisites (doctor.cc).
CheckList CheckServer(const Options& options);

class MysqlDetector : public Detector {
 public:
  explicit MysqlDetector(Options options);
  ~MysqlDetector() override;
  std::string_view Name() const override { return "mysql"; }
  Status Run(RunContext& ctx) override;

 private:
  struct Cycle;
  Status RunCycle(RunContext& ctx, Supervisor::Session& session);
  // Connects and checks the server; fills server facts below.
  Result<std::unique_ptr<Client>> ConnectChecked();
  Status CheckTables(Client& c);
  Status LoadCharsets(Client& c);
  // Where this cycle starts (see the file comment).
  Result<Position> StartPosition(Client& c);
  Status StartDump(Client& c, const Position& start);
  // A plain connection (table lookups, the snapshot).
  Result<std::unique_ptr<Client>> ConnectPlain() const;
  // --mysql-snapshot-first: emits every captured table's rows through
  // `cycle`; returns the binlog position of the snapshot (snapshot.h).
  Result<Position> RunSnapshot(Cycle& cycle);
  Result<Position> OpenSnapshot(Client& snap);

  Options options_;
  TableFilter filter_;
  CharsetMap charsets_;
  std::unordered_map<std::string, uint32_t> collation_ids_;  // collation name -> id
  bool charsets_loaded_ = false;
  bool mariadb_ = false;
  bool checksum_ = false;
  uint32_t id_origin_ = 0;
  std::optional<Position> position_;   // streamed to (resume point after a reconnect)
  std::optional<Position> confirmed_;  // delivered through (every adapter finished)
  std::optional<Position> saved_;      // last position written to the state file
  uint64_t next_seq_ = 0;
  bool checked_ = false;        // the startup checks passed once
  bool fresh_start_ = false;    // StartPosition found no position: the current end
  bool snapshot_done_ = false;  // --mysql-snapshot-first ran in this process
};

}  // namespace pgcdc::detector::mysql
