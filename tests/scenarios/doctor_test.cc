// User journey: before starting a pipeline, `pgcdc doctor` (same flags as
// `listen`) checks the source's prerequisites against the real server —
// PostgreSQL's wal_level, role, publication and slot; MariaDB's binlog
// settings and server id; SQLite's change table — and names the fix for each
// problem. Exit 0 when nothing fails, 1 when a check fails, 2 for an invalid
// configuration.
#include <gtest/gtest.h>

#include "harness.h"
#include "json_util.h"
#include "mariadb_server.h"
#include "redis_server.h"

namespace pgcdc::testing {
namespace {

struct Report {
  int exit_code = -1;
  std::string output;
  // check name -> {status, found, hint} of the first finding with that name.
  std::map<std::string, std::array<std::string, 3>> checks;
};

Report Doctor(std::vector<std::string> args) {
  args.insert(args.begin(), {PgcdcBinary(), "doctor", "-o", "json"});
  auto r = RunCommand(args);
  Report out{.exit_code = r.exit_code, .output = r.output};
  const auto start = r.output.find("{\"ok\"");
  if (start == std::string::npos) return out;
  const auto end = r.output.find('\n', start);
  auto doc = ParseJson(r.output.substr(start, end - start)).as_object();
  for (const auto& c : doc["checks"].as_array()) {
    const auto& o = c.as_object();
    auto hint = o.contains("hint") ? std::string(o.at("hint").as_string()) : "";
    out.checks.try_emplace(
        std::string(o.at("check").as_string()),
        std::array<std::string, 3>{std::string(o.at("status").as_string()),
                                   std::string(o.at("found").as_string()), hint});
  }
  return out;
}

std::string Status(const Report& r, const std::string& check) {
  auto it = r.checks.find(check);
  return it == r.checks.end() ? "(missing)" : it->second[0];
}

TEST(Doctor, WalReadyAndNotReady) {
  auto conn = Connect();
  FreshPublishedTable(conn, "doc_ok", "id int PRIMARY KEY, v text", "p_doc_ok", "pgcdc_p_doc_ok");
  const std::string db = SharedCluster().Url();
  auto ok = Doctor({"--detector", "wal", "--db", db, "--publication", "p_doc_ok",
                    "--persistent-slot", "-a", "stdout"});
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_EQ(Status(ok, "wal_level"), "ok") << ok.output;
  EXPECT_EQ(Status(ok, "role"), "ok") << ok.output;
  EXPECT_EQ(Status(ok, "publication"), "ok") << ok.output;
  EXPECT_EQ(Status(ok, "replica identity"), "ok") << ok.output;
  EXPECT_EQ(Status(ok, "slot"), "ok") << ok.output;  // created on first start

  // A publication that does not exist fails with the command that makes it.
  auto missing = Doctor({"--detector", "wal", "--db", db, "--publication", "p_doc_none",
                         "--persistent-slot", "-a", "stdout"});
  EXPECT_EQ(missing.exit_code, 1) << missing.output;
  EXPECT_EQ(Status(missing, "publication"), "fail") << missing.output;
  EXPECT_NE(missing.checks["publication"][2].find("pgcdc init --detector wal"), std::string::npos)
      << missing.output;

  // A keyless table in the publication: UPDATE/DELETE would fail on it.
  FreshPublishedTable(conn, "doc_nokey", "id int, v text", "p_doc_nokey");
  auto nokey =
      Doctor({"--detector", "wal", "--db", db, "--publication", "p_doc_nokey", "-a", "stdout"});
  EXPECT_EQ(nokey.exit_code, 0) << nokey.output;  // a warning, not a failure
  EXPECT_EQ(Status(nokey, "replica identity"), "warn") << nokey.output;
  EXPECT_NE(nokey.checks["replica identity"][1].find("doc_nokey"), std::string::npos);
  EXPECT_EQ(Status(nokey, "slot"), "warn") << nokey.output;  // temporary slot

  // Nothing listening: one failed connect check, no crash.
  auto down = Doctor({"--detector", "wal", "--db",
                      "postgres://127.0.0.1:" + std::to_string(FreeTcpPort()) + "/x",
                      "--publication", "p", "-a", "stdout"});
  EXPECT_EQ(down.exit_code, 1) << down.output;
  EXPECT_EQ(Status(down, "connect"), "fail") << down.output;
}

TEST(Doctor, OutboxTable) {
  auto conn = Connect();
  ExecOrFail(conn, "DROP TABLE IF EXISTS doc_outbox");
  const std::string db = SharedCluster().Url();
  const std::vector<std::string> args = {"--detector",     "outbox",     "--db", db,
                                         "--outbox-table", "doc_outbox", "-a",   "stdout"};
  auto missing = Doctor(args);
  EXPECT_EQ(missing.exit_code, 1) << missing.output;
  EXPECT_EQ(Status(missing, "outbox table"), "fail") << missing.output;
  EXPECT_NE(missing.checks["outbox table"][1].find("pgcdc init --table doc_outbox"),
            std::string::npos)
      << missing.output;

  auto ddl = RunCommand({PgcdcBinary(), "init", "--adapter", "outbox", "--table", "doc_outbox"});
  ASSERT_EQ(ddl.exit_code, 0) << ddl.output;
  ExecOrFail(conn, ddl.output);
  auto ok = Doctor(args);
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_EQ(Status(ok, "outbox table"), "ok") << ok.output;
  EXPECT_NE(ok.checks["outbox table"][1].find("0 rows"), std::string::npos) << ok.output;
}

// Sinks whose start-up check has no side effects are checked too.
TEST(Doctor, PgTableAndRedisSinks) {
  auto conn = Connect();
  ExecOrFail(conn, "DROP TABLE IF EXISTS doc_events");
  FreshPublishedTable(conn, "doc_sink", "id int PRIMARY KEY", "p_doc_sink");
  RedisServer redis;  // started by its constructor
  const std::vector<std::string> base = {"--detector",
                                         "wal",
                                         "--db",
                                         SharedCluster().Url(),
                                         "--publication",
                                         "p_doc_sink",
                                         "-a",
                                         "pg_table",
                                         "-a",
                                         "redis",
                                         "--pg-table-name",
                                         "doc_events",
                                         "--redis-url",
                                         redis.Url()};
  auto missing = Doctor(base);
  EXPECT_EQ(missing.exit_code, 1) << missing.output;
  EXPECT_EQ(Status(missing, "table doc_events"), "fail") << missing.output;
  EXPECT_NE(missing.checks["table doc_events"][1].find("pgcdc init --adapter pg_table"),
            std::string::npos)
      << missing.output;
  EXPECT_EQ(Status(missing, "connect"), "ok") << missing.output;  // postgres and redis both

  auto ddl = RunCommand({PgcdcBinary(), "init", "--adapter", "pg_table", "--table", "doc_events"});
  ASSERT_EQ(ddl.exit_code, 0) << ddl.output;
  ExecOrFail(conn, ddl.output);
  auto ok = Doctor(base);
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_EQ(Status(ok, "table doc_events"), "ok") << ok.output;

  redis.Kill();
  auto down = Doctor(base);
  EXPECT_EQ(down.exit_code, 1) << down.output;
  EXPECT_NE(down.output.find("\"connector\":\"redis\",\"check\":\"connect\",\"status\":\"fail\""),
            std::string::npos)
      << down.output;
}

std::vector<std::string> MysqlArgs(const std::string& addr, const std::string& server_id) {
  return {"--detector",        "mysql",   "--mysql-addr", addr,    "--mysql-user", "root",
          "--mysql-server-id", server_id, "-a",           "stdout"};
}

TEST(Doctor, MariaDbBinlogSettings) {
  auto& server = SharedMariaDb();
  auto ok = Doctor(MysqlArgs(server.Addr(), "4242"));
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_EQ(Status(ok, "binlog_format"), "ok") << ok.output;
  EXPECT_EQ(Status(ok, "binlog_row_metadata"), "ok") << ok.output;
  EXPECT_EQ(Status(ok, "binary logs"), "ok") << ok.output;
  EXPECT_EQ(Status(ok, "state file"), "warn") << ok.output;  // none: restart starts at the end

  // The server's own id is refused.
  const std::string own = server.Connect()->Scalar("SELECT @@server_id");
  auto clash = Doctor(MysqlArgs(server.Addr(), own));
  EXPECT_EQ(clash.exit_code, 1) << clash.output;
  EXPECT_EQ(Status(clash, "server_id"), "fail") << clash.output;

  // A state file naming a binlog the server no longer has: events were lost.
  TempDir dir;
  const std::string state = dir.Write(
      "pos.json", R"({"addr":")" + server.Addr() + R"(","file":"gone-bin.000001","pos":4})");
  auto args = MysqlArgs(server.Addr(), "4242");
  args.insert(args.end(), {"--mysql-state-file", state, "--mysql-tables", "nosuchdb.t"});
  auto purged = Doctor(args);
  EXPECT_EQ(purged.exit_code, 1) << purged.output;
  EXPECT_EQ(Status(purged, "state file"), "fail") << purged.output;
  EXPECT_NE(purged.checks["state file"][2].find("purged"), std::string::npos);
  EXPECT_EQ(Status(purged, "table nosuchdb.t"), "fail") << purged.output;
}

TEST(Doctor, MariaDbWithoutRowFormat) {
  MariaDbServer server({"--binlog-format=MIXED", "--binlog-row-metadata=MINIMAL"});
  ASSERT_TRUE(server.Start());
  auto r = Doctor(MysqlArgs(server.Addr(), "4242"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_EQ(Status(r, "binlog_format"), "fail") << r.output;
  EXPECT_EQ(r.checks["binlog_format"][1], "MIXED");
  EXPECT_NE(r.checks["binlog_format"][2].find("binlog_format"), std::string::npos);
  EXPECT_EQ(Status(r, "binlog_row_metadata"), "warn") << r.output;
}

TEST(Doctor, SqliteChangeTable) {
  TempDir dir;
  const std::string db = dir.path + "/app.db";
  ASSERT_EQ(RunCommand({"sqlite3", db, "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)"})
                .exit_code,
            0);
  auto before = Doctor({"--detector", "sqlite", "--sqlite-db", db, "-a", "stdout"});
  EXPECT_EQ(before.exit_code, 1) << before.output;
  EXPECT_EQ(Status(before, "change table"), "fail") << before.output;
  EXPECT_NE(before.checks["change table"][2].find("pgcdc init --detector sqlite"),
            std::string::npos);

  auto init = RunCommand({PgcdcBinary(), "init", "--detector", "sqlite", "--table", "items",
                          "--sqlite-db", db, "--apply"});
  ASSERT_EQ(init.exit_code, 0) << init.output;
  ASSERT_EQ(RunCommand({"sqlite3", db, "INSERT INTO items (name) VALUES ('a')"}).exit_code, 0);
  auto after = Doctor({"--detector", "sqlite", "--sqlite-db", db, "-a", "stdout"});
  EXPECT_EQ(after.exit_code, 0) << after.output;
  EXPECT_EQ(Status(after, "change table"), "ok") << after.output;
  EXPECT_NE(after.checks["change table"][1].find("1 rows pending"), std::string::npos)
      << after.output;
  EXPECT_EQ(Status(after, "triggers"), "ok") << after.output;
  EXPECT_EQ(Status(after, "journal_mode"), "ok") << after.output;
}

// The reference tool's name for the gateway ("webhook-gateway") is accepted.
TEST(Doctor, HyphenatedDetectorNameIsAccepted) {
  auto r = Doctor({"--detector", "webhook-gateway", "--webhookgw-source", "a", "-a", "stdout"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("\"connector\":\"webhook_gateway\""), std::string::npos) << r.output;
}

TEST(Doctor, InvalidConfigurationIsAUsageError) {
  auto r = RunCommand({PgcdcBinary(), "doctor", "--detector", "mysql", "-a", "stdout"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("mysql.addr: required for detector mysql"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("--mysql-server-id"), std::string::npos) << r.output;
  auto sqlite = RunCommand({PgcdcBinary(), "doctor", "--detector", "sqlite", "-a", "stdout"});
  EXPECT_EQ(sqlite.exit_code, 2) << sqlite.output;
  EXPECT_NE(sqlite.output.find("sqlite.db_path: required"), std::string::npos) << sqlite.output;
}

// `pgcdc validate` (SPEC's command): config, database and the same server
// checks as doctor, as COMPONENT STATUS DURATION MESSAGE rows; exit 1 on any FAIL.
TEST(Validate, RowsAndExitCodes) {
  auto ok = RunCommand({PgcdcBinary(), "validate", "--db", SharedCluster().Url(), "-c", "v"});
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_NE(ok.output.find("COMPONENT"), std::string::npos) << ok.output;
  EXPECT_NE(ok.output.find("database"), std::string::npos) << ok.output;
  EXPECT_EQ(ok.output.find("FAIL"), std::string::npos) << ok.output;

  auto json = RunCommand({PgcdcBinary(), "validate", "-o", "json", "--db",
                          "postgres://postgres@127.0.0.1:" + std::to_string(FreeTcpPort()) + "/x",
                          "-c", "v"});
  EXPECT_EQ(json.exit_code, 1) << json.output;
  EXPECT_NE(json.output.find("validation failed"), std::string::npos) << json.output;
  const auto start = json.output.find("{\"ok\"");
  ASSERT_NE(start, std::string::npos) << json.output;
  auto doc = ParseJson(json.output.substr(start, json.output.find('\n', start) - start));
  EXPECT_FALSE(doc.at("ok").as_bool());
  bool database_failed = false;
  for (const auto& c : doc.at("checks").as_array()) {
    if (c.at("component").as_string() == "database") {
      database_failed = c.at("status").as_string() == "FAIL";
    }
  }
  EXPECT_TRUE(database_failed) << json.output;

  auto bad = RunCommand(
      {PgcdcBinary(), "validate", "--db", SharedCluster().Url(), "-c", "v", "--bus-mode", "turbo"});
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  EXPECT_NE(bad.output.find("bus.mode"), std::string::npos) << bad.output;
}

}  // namespace
}  // namespace pgcdc::testing
