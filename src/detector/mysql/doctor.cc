// `pgcdc doctor --detector mysql`: what the detector needs from the server,
// checked one by one with a fix hint each (the detector itself refuses to
// start on the fatal ones; see ConnectChecked).
#include <filesystem>
#include <string>

#include "detector/mysql/client.h"
#include "detector/mysql/mysql_detector.h"
#include "detector/mysql/state_file.h"

namespace pgcdc::detector::mysql {

namespace {

using Level = CheckResult::Level;

constexpr const char* kServerFlags =
    "start the server with --log-bin --binlog-format=ROW --binlog-row-image=FULL "
    "--binlog-row-metadata=FULL (or set them in my.cnf)";

CheckResult Expect(std::string name, const std::string& found, const std::string& want,
                   Level otherwise, std::string hint) {
  return Verdict(found == want, otherwise, std::move(name), found.empty() ? "(not set)" : found,
                 std::move(hint));
}

// log_bin, binlog_format, binlog_row_image, binlog_row_metadata, server_id.
void CheckVariables(Client& c, const Options& o, CheckList& out, bool& mariadb) {
  auto vars = c.Query(
      "SELECT @@log_bin, @@binlog_format, @@binlog_row_image, @@server_id, "
      "VERSION()");
  if (!vars || vars->empty()) {
    out.push_back({.level = Level::kFail,
                   .name = "server variables",
                   .detail = vars ? "no row" : vars.error().message()});
    return;
  }
  const Row& v = vars->front();
  const std::string version = v[4].value_or("");
  mariadb = version.find("MariaDB") != std::string::npos;
  out.push_back({.name = "version", .detail = version + (mariadb ? " (mariadb)" : " (mysql)")});
  out.push_back(Expect("log_bin", v[0].value_or("0") == "1" ? "ON" : "OFF", "ON", Level::kFail,
                       kServerFlags));
  out.push_back(Expect("binlog_format", v[1].value_or(""), "ROW", Level::kFail,
                       "SET GLOBAL binlog_format = 'ROW' and binlog_format=ROW in my.cnf; "
                       "sessions already open keep their old format until they reconnect"));
  out.push_back(Expect("binlog_row_image", v[2].value_or(""), "FULL", Level::kWarn,
                       "SET GLOBAL binlog_row_image = 'FULL' (otherwise row images hold only "
                       "some columns)"));
  auto meta = c.Scalar("SELECT @@binlog_row_metadata");
  out.push_back(Expect("binlog_row_metadata", meta ? *meta : "unsupported by this server", "FULL",
                       Level::kWarn,
                       "SET GLOBAL binlog_row_metadata = 'FULL' (otherwise column names come "
                       "from information_schema, which can lag behind DDL)"));
  const std::string ours = std::to_string(o.server_id);
  out.push_back(Verdict(v[3].value_or("") != ours, Level::kFail, "server_id",
                        "server " + v[3].value_or("?") + ", pgcdc " + ours,
                        "pick a --mysql-server-id different from the server's own"));
}

// Another replica connected with our server id would be kicked off (or kick
// us off) by the server.
void CheckReplicas(Client& c, const Options& o, CheckList& out) {
  auto hosts = c.Query("SHOW SLAVE HOSTS");
  if (!hosts) {
    out.push_back({.level = Level::kWarn,
                   .name = "replicas",
                   .detail = "cannot list: " + hosts.error().message(),
                   .hint = "GRANT REPLICATION MASTER ADMIN (MariaDB) / REPLICATION CLIENT"});
    return;
  }
  const std::string ours = std::to_string(o.server_id);
  for (const auto& row : *hosts) {
    if (!row.empty() && row[0].value_or("") == ours) {
      out.push_back({.level = Level::kWarn,
                     .name = "replicas",
                     .detail = "a replica with server id " + ours + " is connected now",
                     .hint = "another pgcdc or replica uses this id; each needs its own "
                             "--mysql-server-id"});
      return;
    }
  }
  out.push_back({.name = "replicas",
                 .detail = std::to_string(hosts->size()) + " connected, none with id " + ours});
}

// The binary log list (REPLICATION CLIENT / BINLOG MONITOR) and, when a
// state file exists, whether its file is still there.
void CheckPosition(Client& c, const Options& o, CheckList& out) {
  auto logs = c.Query("SHOW BINARY LOGS");
  if (!logs) {
    out.push_back({.level = Level::kFail,
                   .name = "binary logs",
                   .detail = logs.error().message(),
                   .hint = "GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO the pgcdc user "
                           "(MariaDB 10.5+: BINLOG MONITOR, REPLICATION SLAVE)"});
    return;
  }
  out.push_back({.name = "binary logs",
                 .detail = std::to_string(logs->size()) + " files" +
                           (logs->empty() ? "" : ", oldest " + logs->front()[0].value_or(""))});
  if (o.state_file.empty()) {
    out.push_back({.level = Level::kWarn,
                   .name = "state file",
                   .detail = "none: a restart starts at the current end of the binlog",
                   .hint = "set --mysql-state-file to resume after a restart without a gap"});
    return;
  }
  auto state = LoadState(o.state_file);
  if (!state) {
    out.push_back({.level = Level::kFail,
                   .name = "state file",
                   .detail = state.error().message(),
                   .hint = "move the damaged file away; pgcdc then starts at the current end"});
    return;
  }
  if (!*state) {
    const auto dir = std::filesystem::path(o.state_file).parent_path();
    std::error_code ec;
    const bool dir_ok = dir.empty() || std::filesystem::is_directory(dir, ec);
    out.push_back(Verdict(dir_ok, Level::kFail, "state file",
                          dir_ok ? "not written yet (first start begins at the current end)"
                                 : "directory " + dir.string() + " does not exist",
                          "create the directory"));
    return;
  }
  const Position& p = (*state)->position;
  bool present = o.use_gtid;
  for (const auto& row : *logs) present = present || row[0].value_or("") == p.file;
  out.push_back(Verdict(
      present, Level::kFail, "state file",
      p.file + ":" + std::to_string(p.pos) + (p.gtid.empty() ? "" : " gtid " + p.gtid),
      "the stored binlog file was purged: events were lost to pgcdc; raise expire_logs_days / "
      "binlog_expire_logs_seconds, then remove the state file to start at the current end (and "
      "re-sync the sinks)"));
}

void CheckTableList(Client& c, const Options& o, CheckList& out) {
  for (const auto& entry : o.tables) {
    auto exists = TableExists(c, entry);
    const bool ok = exists && *exists;
    out.push_back(Verdict(ok, Level::kFail, "table " + entry,
                          !exists ? exists.error().message() : (ok ? "exists" : "not found"),
                          "check --mysql-tables and the user's SELECT grants"));
  }
}

}  // namespace

CheckList CheckServer(const Options& o) {
  CheckList out;
  auto opts = ParseAddr(o.addr);
  if (!opts) return FailedCheck("mysql.addr", opts.error().message());
  opts->user = o.user;
  opts->password = o.password;
  opts->connect_timeout = std::chrono::seconds(5);
  opts->read_timeout = std::chrono::seconds(10);
  auto c = Client::Connect(*opts);
  if (!c) {
    return FailedCheck("connect", c.error().message(),
                       "check --mysql-addr, --mysql-user and --mysql-password (or "
                       "PGCDC_MYSQL_PASSWORD) and that the server accepts TCP connections");
  }
  out.push_back({.name = "connect", .detail = o.addr + " as " + o.user});
  bool mariadb = false;
  CheckVariables(**c, o, out, mariadb);
  if (o.use_gtid && !mariadb) {
    out.push_back({.level = Level::kFail,
                   .name = "gtid",
                   .detail = "--mysql-gtid on a MySQL server",
                   .hint = "GTID mode is implemented for MariaDB only; use file/position mode"});
  }
  CheckReplicas(**c, o, out);
  CheckPosition(**c, o, out);
  CheckTableList(**c, o, out);
  return out;
}

}  // namespace pgcdc::detector::mysql
