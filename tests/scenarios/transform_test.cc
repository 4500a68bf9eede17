// User journey: reshape and filter events before they reach the sinks. CLI
// shortcuts build the global chain (every adapter), YAML adds per-adapter
// chains that never leak into another adapter's events; the same model works
// for WAL rows and for the LISTEN/NOTIFY trigger format. Bad transforms are
// start-up errors with a position; SIGHUP swaps chains atomically.
#include <gtest/gtest.h>
#include <signal.h>

#include "harness.h"
#include "json_util.h"

namespace pgcdc::testing {
namespace {

std::vector<boost::json::object> Objects(const std::vector<std::string>& lines) {
  std::vector<boost::json::object> out;
  for (const auto& l : lines) out.push_back(ParseJson(l).as_object());
  return out;
}

TEST(TransformScenario, NotifyTriggerFormatDropColumnsAndCelFilter) {
  auto p = Process::Start({.args = {"listen", "--db", SharedCluster().Url(), "-c", "tf:users",
                                    "--http-addr", "", "--drop-columns", "email", "--filter-cel",
                                    "operation == \"INSERT\" || row.status != old.status"}});
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->WaitForStderr("listening detector=listen_notify")) << p->Stderr();
  auto conn = Connect();
  const std::vector<std::pair<std::string, std::string>> notes = {
      {"INSERT",
       R"({"op":"INSERT","table":"users","row":{"id":1,"email":"a@x","status":"new"},"old":null})"},
      // status unchanged: filtered out by CEL
      {"UPDATE",
       R"({"op":"UPDATE","table":"users","row":{"id":1,"email":"b@x","status":"new"},"old":{"id":1,"email":"a@x","status":"new"}})"},
      {"UPDATE",
       R"({"op":"UPDATE","table":"users","row":{"id":1,"email":"b@x","status":"paid"},"old":{"id":1,"email":"b@x","status":"new"}})"},
  };
  for (const auto& [op, payload] : notes) {
    ASSERT_TRUE(conn.Query("SELECT pg_notify('tf:users', $1)", {payload}));
  }
  ASSERT_TRUE(p->WaitForLines(2)) << p->Stderr();
  p->Signal(SIGTERM);
  ASSERT_EQ(p->Wait(), 0) << p->Stderr();
  auto events = Objects(p->StdoutLines());
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].at("operation").as_string(), "INSERT");
  EXPECT_EQ(events[1].at("operation").as_string(), "UPDATE");
  for (const auto& e : events) {
    const auto& payload = e.at("payload").as_object();
    EXPECT_FALSE(payload.at("row").as_object().contains("email")) << e;
    if (payload.at("old").is_object()) {
      EXPECT_FALSE(payload.at("old").as_object().contains("email")) << e;
    }
    EXPECT_TRUE(payload.at("row").as_object().contains("status"));
  }
  EXPECT_EQ(events[1].at("payload").at("row").at("status").as_string(), "paid");
}

TEST(TransformScenario, WalDebeziumGlobalAndPerAdapterMaskStayIsolated) {
  auto conn = Connect();
  FreshPublishedTable(conn, "tf_users", "id int PRIMARY KEY, email text, status text", "p_tf");
  ExecOrFail(conn, "ALTER TABLE tf_users REPLICA IDENTITY FULL");
  TempDir dir;
  const std::string file = dir.path + "/masked.jsonl";
  const std::string yaml = dir.Write("pgcdc.yaml", R"(transforms:
  adapter:
    file:
      - {type: mask, fields: [{field: email, mode: hash}]}
)");
  auto p = Process::Start({.args = {"--config",
                                    yaml,
                                    "listen",
                                    "--detector",
                                    "wal",
                                    "--db",
                                    SharedCluster().Url(),
                                    "--publication",
                                    "p_tf",
                                    "-a",
                                    "stdout",
                                    "-a",
                                    "file",
                                    "--file-path",
                                    file,
                                    "--http-addr",
                                    "",
                                    "--debezium-envelope",
                                    "--debezium-database",
                                    "shop"}});
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->WaitForStderr("streaming detector=wal")) << p->Stderr();
  ExecOrFail(conn, "INSERT INTO tf_users VALUES (1, 'ada@example.com', 'new')");
  ExecOrFail(conn, "UPDATE tf_users SET status = 'paid' WHERE id = 1");
  ExecOrFail(conn, "DELETE FROM tf_users WHERE id = 1");
  ASSERT_TRUE(p->WaitForLines(3)) << p->Stderr();
  ASSERT_TRUE(Eventually([&] { return ReadFileLines(file).size() >= 3; }));
  p->Signal(SIGTERM);
  ASSERT_EQ(p->Wait(), 0) << p->Stderr();

  auto out = Objects(p->StdoutLines());
  auto masked = Objects(ReadFileLines(file));
  ASSERT_EQ(out.size(), 3u);
  ASSERT_EQ(masked.size(), 3u);
  const char* ops[] = {"c", "u", "d"};
  for (size_t i = 0; i < 3; ++i) {
    // Global: Debezium envelope for both adapters.
    const auto& d = out[i].at("payload").as_object();
    EXPECT_EQ(d.at("op").as_string(), ops[i]) << out[i];
    EXPECT_EQ(d.at("source").at("db").as_string(), "shop");
    EXPECT_EQ(d.at("source").at("table").as_string(), "tf_users");
    EXPECT_TRUE(d.contains("ts_ms"));
    const auto& m = masked[i].at("payload").as_object();
    EXPECT_EQ(m.at("op").as_string(), ops[i]);
    EXPECT_EQ(out[i].at("id"), masked[i].at("id"));
  }
  // stdout keeps the address; the file adapter's copy is hashed.
  EXPECT_EQ(out[0].at("payload").at("after").at("email").as_string(), "ada@example.com");
  const std::string hashed(masked[0].at("payload").at("after").at("email").as_string());
  EXPECT_EQ(hashed.size(), 64u) << hashed;
  EXPECT_EQ(hashed.find_first_not_of("0123456789abcdef"), std::string::npos) << hashed;
  EXPECT_EQ(masked[2].at("payload").at("before").at("email").as_string(), hashed);
  EXPECT_TRUE(masked[2].at("payload").at("after").is_null());
}

TEST(TransformScenario, InvalidExpressionsAreStartupErrorsWithPosition) {
  auto r = RunCommand({PgcdcBinary(), "listen", "--db", SharedCluster().Url(), "-c", "x",
                       "--filter-cel", "operation == 'INSERT' && rows.id > 1"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("undeclared reference to 'rows'"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("^"), std::string::npos) << r.output;

  TempDir dir;
  const std::string yaml = dir.Write("pgcdc.yaml", R"(transforms:
  global:
    - {type: no_such_transform}
  adapter:
    stdout:
      - {type: mask, fields: [{field: email, mode: hash}]}
)");
  r = RunCommand(
      {PgcdcBinary(), "--config", yaml, "listen", "--db", SharedCluster().Url(), "-c", "x"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("no_such_transform"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(":3:"), std::string::npos) << r.output;  // YAML line
}

TEST(TransformScenario, SighupSwapsChainsAndKeepsThemOnError) {
  TempDir dir;
  const std::string yaml = dir.Write("pgcdc.yaml", "transforms:\n  global: []\n");
  auto p = Process::Start({.args = {"--config", yaml, "listen", "--db", SharedCluster().Url(), "-c",
                                    "tf:hup", "--http-addr", "127.0.0.1:0"}});
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->WaitForStderr("listening detector=listen_notify")) << p->Stderr();
  auto conn = Connect();
  ASSERT_TRUE(conn.Query("SELECT pg_notify('tf:hup', '{\"a\":1,\"secret\":2}')", {}));
  ASSERT_TRUE(p->WaitForLines(1));
  dir.Write("pgcdc.yaml",
            "transforms:\n  global:\n    - {type: drop_columns, columns: [secret]}\n");
  p->Signal(SIGHUP);
  ASSERT_TRUE(p->WaitForStderr("config reloaded")) << p->Stderr();
  ASSERT_TRUE(conn.Query("SELECT pg_notify('tf:hup', '{\"a\":2,\"secret\":3}')", {}));
  ASSERT_TRUE(p->WaitForLines(2));
  // A broken file is refused; the drop_columns chain stays in force.
  dir.Write("pgcdc.yaml",
            "transforms:\n  global:\n    - {type: cel_filter, expression: 'a ==='}\n");
  p->Signal(SIGHUP);
  ASSERT_TRUE(p->WaitForStderr("config reload failed")) << p->Stderr();
  ASSERT_TRUE(conn.Query("SELECT pg_notify('tf:hup', '{\"a\":3,\"secret\":4}')", {}));
  ASSERT_TRUE(p->WaitForLines(3));
  EXPECT_EQ(ScrapeMetric(*p, "pgcdc_config_reload_errors_total"), 1);
  p->Signal(SIGTERM);
  ASSERT_EQ(p->Wait(), 0) << p->Stderr();
  auto lines = p->StdoutLines();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_TRUE(ParseJson(lines[0]).at("payload").as_object().contains("secret"));
  EXPECT_FALSE(ParseJson(lines[1]).at("payload").as_object().contains("secret"));
  EXPECT_FALSE(ParseJson(lines[2]).at("payload").as_object().contains("secret"));
}

}  // namespace
}  // namespace pgcdc::testing
