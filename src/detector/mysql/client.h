// A MySQL/MariaDB connection for the mysql detector (MariaDB Connector/C):
// plain queries, queries with bound string parameters, and a binlog dump as a
// replica (mariadb_rpl_*), used only as a transport: events come back as raw
// bytes and are decoded by binlog.h.
//
// Interrupt() may be called from any thread: it shuts the socket down so a
// blocked read returns at once (used on stop).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

// Connector/C's own type names.
struct st_mysql;              // NOLINT(readability-identifier-naming)
struct st_mariadb_rpl;        // NOLINT(readability-identifier-naming)
struct st_mariadb_rpl_event;  // NOLINT(readability-identifier-naming)

namespace pgcdc::detector::mysql {

struct ConnectOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 3306;
  std::string user;
  std::string password;
  std::chrono::seconds connect_timeout{10};
  // A read that waits longer fails (dead server); 0 = none.
  std::chrono::seconds read_timeout{0};
};

// "host:port" (port 3306 when missing; "[v6]:port" allowed).
Result<ConnectOptions> ParseAddr(const std::string& addr);

using Row = std::vector<std::optional<std::string>>;

class Client {
 public:
  static Result<std::unique_ptr<Client>> Connect(const ConnectOptions& options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  Result<std::vector<Row>> Query(const std::string& sql);
  // `sql` with `?` placeholders, each bound to a string parameter.
  Result<std::vector<Row>> Query(const std::string& sql, const std::vector<std::string>& params);
  // Streams a query's rows (mysql_use_result: one row in memory at a time)
  // into `row`; a non-Ok return from `row` stops and is returned. The views
  // are valid during the call only.
  using RowView = std::vector<std::optional<std::string_view>>;
  Status QueryEach(const std::string& sql, const std::function<Status(const RowView&)>& row);
  Status Exec(const std::string& sql);
  // One value of a one-row query ("" for NULL).
  Result<std::string> Scalar(const std::string& sql);

  // Starts a binlog dump as replica `server_id` from `file`/`pos` (MariaDB
  // GTID mode: set @slave_connect_state first and pass an empty file).
  Status StartDump(uint32_t server_id, const std::string& file, uint64_t pos);
  // The next event's bytes (without the packet's OK byte), valid until the
  // next call. Errors: connection lost, read timeout, server error (e.g. the
  // requested binlog was purged: ErrorCode::kNotFound).
  Result<std::span<const uint8_t>> NextEvent();

  void Interrupt();
  int socket() const { return fd_; }
  bool interrupted() const { return interrupted_.load(); }
  // True when the socket has bytes waiting (a read would not block).
  bool Readable(std::chrono::milliseconds wait) const;

 private:
  Client() = default;
  Error LastError(const std::string& what) const;

  st_mysql* mysql_ = nullptr;
  st_mariadb_rpl* rpl_ = nullptr;
  st_mariadb_rpl_event* event_ = nullptr;
  int fd_ = -1;
  std::atomic<bool> interrupted_{false};
};

}  // namespace pgcdc::detector::mysql
