// ReplicationConn: a libpq connection in logical replication mode
// (`replication=database`) speaking the walsender command protocol:
// IDENTIFY_SYSTEM, CREATE_REPLICATION_SLOT, START_REPLICATION and the COPY
// BOTH stream (raw CopyData in, standby status updates out). Decoding of the
// bytes lives in codec/pgoutput. One owner thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "detector/wal/slot_guard.h"
#include "pg/conn.h"

namespace pgcdc::detector::wal {

struct SlotInfo {
  std::string name;
  uint64_t consistent_point = 0;
  std::string snapshot_name;  // empty unless exported
};

// IDENTIFY_SYSTEM's answer.
struct SystemIdentity {
  std::string system_id;  // the cluster's system identifier (decimal)
  uint64_t xlogpos = 0;   // current WAL insert position
  std::string dbname;     // the database this connection replicates
};

class ReplicationConn {
 public:
  // Connects with replication=database and session settings that make
  // PostgreSQL's text output stable (ISO dates, UTC, …).
  static Result<ReplicationConn> Open(const std::string& url);

  ReplicationConn() = default;

  // The server's identity and current WAL insert position.
  Result<SystemIdentity> IdentifySystem();
  // Creates a logical slot using pgoutput (see CreateSlotCommand). `exists`
  // is set (and Ok returned with only the name filled) when a persistent slot
  // of that name exists.
  Result<SlotInfo> CreateSlot(const std::string& name, const CreateSlotOptions& options,
                              bool* exists);
  // ALTER_REPLICATION_SLOT … (FAILOVER …) (PostgreSQL 17+).
  Status SetSlotFailover(const std::string& name, bool failover);
  // The server's version number (e.g. 150004), 0 when not connected.
  int server_version();
  // DROP_REPLICATION_SLOT (the slot must not be in use).
  Status DropSlot(const std::string& name);
  // START_REPLICATION … LOGICAL lsn (proto_version '2', streaming, messages).
  Status StartReplication(const std::string& slot, uint64_t start_lsn,
                          const std::vector<std::string>& publications, int proto_version);

  // Receives one CopyData message, waiting at most `timeout`. Returns an empty
  // optional on timeout, an error when the stream ended or the connection
  // broke. The returned bytes are valid until the next call.
  // `wake_fd` and `extra_fd` (optional, -1) end the wait early when readable.
  Result<std::optional<std::string_view>> Receive(std::chrono::microseconds timeout, int wake_fd,
                                                  int extra_fd = -1);
  Status Send(const std::string& copy_data);

  int socket() const { return conn_.socket(); }
  std::string ErrorMessage() const { return conn_.ErrorMessage(); }

 private:
  struct FreeCopyData {
    void operator()(char* data) const;  // PQfreemem
  };
  explicit ReplicationConn(pg::Conn conn) : conn_(std::move(conn)) {}
  // Runs a walsender command that returns no rows of interest.
  Status Command(const std::string& sql, const std::string& what);
  pg::Conn conn_;
  std::unique_ptr<char, FreeCopyData> buffer_;  // the CopyData Receive() returned last
};

}  // namespace pgcdc::detector::wal
