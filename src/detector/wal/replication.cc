#include "detector/wal/replication.h"

#include <libpq-fe.h>
#include <poll.h>

#include <cerrno>
#include <cstring>

#include "codec/pgoutput/pgoutput.h"
#include "pg/conn.h"

namespace pgcdc::detector::wal {

namespace {
using pg::TrimMessage;
std::string SqlState(const PGresult* r) {
  const char* s = PQresultErrorField(r, PG_DIAG_SQLSTATE);
  return s == nullptr ? "" : s;
}
}  // namespace

Result<ReplicationConn> ReplicationConn::Open(const std::string& url) {
  auto c = pg::ConnectRaw(url, "replication connect", {},
                          {{"replication", "database"},
                           {"options",
                            "-c DateStyle=ISO,MDY -c TimeZone=UTC -c IntervalStyle=postgres "
                            "-c extra_float_digits=1"},
                           {"application_name", "pgcdc"}});
  if (!c) return Fail(c.error());
  return ReplicationConn(pg::Conn::Adopt(*c));
}

void ReplicationConn::FreeCopyData::operator()(char* data) const { PQfreemem(data); }

Result<SystemIdentity> ReplicationConn::IdentifySystem() {
  PGresult* r = PQexec(conn_.raw(), "IDENTIFY_SYSTEM");
  if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 || PQnfields(r) < 4) {
    std::string err = TrimMessage(PQresultErrorMessage(r));
    PQclear(r);
    return Fail(ErrorCode::kProtocol, "IDENTIFY_SYSTEM: " + err);
  }
  SystemIdentity id;
  id.system_id = PQgetvalue(r, 0, 0);
  id.dbname = PQgetisnull(r, 0, 3) ? "" : PQgetvalue(r, 0, 3);
  auto lsn = pgoutput::ParseLsn(PQgetvalue(r, 0, 2));
  PQclear(r);
  if (!lsn) return Fail(lsn.error().Wrap("IDENTIFY_SYSTEM"));
  id.xlogpos = *lsn;
  return id;
}

Result<SlotInfo> ReplicationConn::CreateSlot(const std::string& name,
                                             const CreateSlotOptions& options, bool* exists) {
  *exists = false;
  const std::string sql = CreateSlotCommand(name, options);
  PGresult* r = PQexec(conn_.raw(), sql.c_str());
  if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    const std::string state = SqlState(r);
    std::string err = TrimMessage(PQresultErrorMessage(r));
    PQclear(r);
    if (state == "42710") {  // duplicate_object: reuse the existing slot
      *exists = true;
      return SlotInfo{name, 0, {}};
    }
    return Fail(state.empty() ? ErrorCode::kConnection : ErrorCode::kInvalidArgument,
                "create slot " + name + ": " + err);
  }
  SlotInfo info;
  info.name = PQgetvalue(r, 0, 0);
  auto lsn = pgoutput::ParseLsn(PQgetvalue(r, 0, 1));
  if (!PQgetisnull(r, 0, 2)) info.snapshot_name = PQgetvalue(r, 0, 2);
  PQclear(r);
  if (!lsn) return Fail(lsn.error().Wrap("create slot"));
  info.consistent_point = *lsn;
  return info;
}

Status ReplicationConn::DropSlot(const std::string& name) {
  return Command("DROP_REPLICATION_SLOT " + pg::QuoteIdentifier(name), "drop slot " + name);
}

Status ReplicationConn::SetSlotFailover(const std::string& name, bool failover) {
  return Command(AlterSlotFailoverCommand(name, failover), "alter slot " + name);
}

Status ReplicationConn::Command(const std::string& sql, const std::string& what) {
  PGresult* r = PQexec(conn_.raw(), sql.c_str());
  const auto st = PQresultStatus(r);
  std::string err = TrimMessage(PQresultErrorMessage(r));
  PQclear(r);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    return Fail(ErrorCode::kConnection, what + ": " + err);
  }
  return Ok();
}

int ReplicationConn::server_version() {
  return conn_.raw() == nullptr ? 0 : PQserverVersion(conn_.raw());
}

Status ReplicationConn::StartReplication(const std::string& slot, uint64_t start_lsn,
                                         const std::vector<std::string>& publications,
                                         int proto_version) {
  // publication_names is a comma-separated list of identifiers inside a
  // string literal: quote each identifier, then quote the whole literal.
  std::string pubs;
  for (const auto& p : publications) {
    if (!pubs.empty()) pubs += ",";
    pubs += pg::QuoteIdentifier(p);
  }
  std::string sql = "START_REPLICATION SLOT " + pg::QuoteIdentifier(slot) + " LOGICAL " +
                    pgoutput::FormatLsn(start_lsn) + " (proto_version '" +
                    std::to_string(proto_version) + "', publication_names " +
                    pg::QuoteLiteral(pubs) + ", messages 'true'" +
                    (proto_version >= 2 ? ", streaming 'on'" : "") + ")";
  PGresult* r = PQexec(conn_.raw(), sql.c_str());
  const auto st = PQresultStatus(r);
  std::string err = st == PGRES_COPY_BOTH ? "" : TrimMessage(PQresultErrorMessage(r));
  const std::string state = SqlState(r);
  PQclear(r);
  if (st != PGRES_COPY_BOTH) {
    return Fail(state.empty() ? ErrorCode::kConnection : ErrorCode::kInvalidArgument,
                "start replication: " + err);
  }
  return Ok();
}

Result<std::optional<std::string_view>> ReplicationConn::Receive(std::chrono::microseconds timeout,
                                                                 int wake_fd, int extra_fd) {
  buffer_.reset();
  PGconn* conn = conn_.raw();
  while (true) {
    char* data = nullptr;
    int n = PQgetCopyData(conn, &data, /*async=*/1);
    if (n > 0) {
      buffer_.reset(data);
      return std::optional<std::string_view>(std::string_view(data, n));
    }
    if (n == -1) {
      // Stream ended: fetch the final result for its error message.
      PGresult* r = PQgetResult(conn);
      std::string err = r != nullptr ? TrimMessage(PQresultErrorMessage(r)) : "";
      PQclear(r);
      return Fail(ErrorCode::kConnection,
                  "replication stream ended" + (err.empty() ? std::string() : ": " + err));
    }
    if (n == -2) return Fail(ErrorCode::kConnection, "replication: " + ErrorMessage());
    // n == 0: nothing buffered; wait for the socket (or the wake fd).
    pollfd fds[3] = {{PQsocket(conn), POLLIN, 0}, {wake_fd, POLLIN, 0}, {extra_fd, POLLIN, 0}};
    // ppoll: microsecond timeouts (the detector lingers for a fraction of a
    // millisecond to batch a busy trickle). Negative fds are ignored.
    const timespec ts{static_cast<time_t>(timeout.count() / 1'000'000),
                      static_cast<long>(timeout.count() % 1'000'000) * 1000};
    int rc = ::ppoll(fds, 3, &ts, nullptr);
    if (rc < 0 && errno != EINTR) {
      return Fail(ErrorCode::kIo, std::string("poll: ") + std::strerror(errno));
    }
    if (rc <= 0 || (fds[1].revents & POLLIN) || (fds[2].revents & POLLIN)) return std::nullopt;
    if (PQconsumeInput(conn) == 0) {
      return Fail(ErrorCode::kConnection, "replication: " + ErrorMessage());
    }
  }
}

Status ReplicationConn::Send(const std::string& copy_data) {
  if (PQputCopyData(conn_.raw(), copy_data.data(), static_cast<int>(copy_data.size())) != 1 ||
      PQflush(conn_.raw()) != 0) {
    return Fail(ErrorCode::kConnection, "replication send: " + ErrorMessage());
  }
  return Ok();
}

}  // namespace pgcdc::detector::wal
