// Journey: the schema store (--schema-store, docs/schema-store.md). A WAL
// pipeline registers each table's columns when PostgreSQL describes the
// relation; ALTER TABLE ADD COLUMN makes version 2; GET /api/v1/schemas/...
// shows it (behind the HTTP token), and with --schema-store-type pg the
// versions are rows of pgcdc_schemas that survive a restart. Failure paths:
// a bad store type, a non-wal detector, an unreachable --schema-db.
#include <gtest/gtest.h>
#include <signal.h>

#include "harness.h"
#include "json_util.h"

namespace pgcdc::testing {
namespace {

std::unique_ptr<Process> StartWal(const std::string& publication,
                                  const std::vector<std::string>& extra) {
  auto p = Process::Start({.args = WalListenArgs(publication, extra)});
  EXPECT_TRUE(p);
  if (p) {
    EXPECT_TRUE(p->WaitForStderr("streaming detector=wal")) << p->Stderr();
  }
  return p;
}

void FreshTable(pg::Conn& conn, const std::string& table, const std::string& publication) {
  ExecOrFail(conn, "DROP TABLE IF EXISTS " + table + " CASCADE");
  ExecOrFail(conn, "CREATE TABLE " + table + " (id int PRIMARY KEY, v text)");
  ExecOrFail(conn, "DROP PUBLICATION IF EXISTS " + publication);
  ExecOrFail(conn, "CREATE PUBLICATION " + publication + " FOR TABLE " + table);
}

HttpResult Get(const std::string& addr, const std::string& path, const std::string& token = {}) {
  std::vector<std::string> headers;
  if (!token.empty()) headers.push_back("Authorization: Bearer " + token);
  auto r = HttpSend(addr, "GET", path, headers);
  EXPECT_TRUE(r) << path;
  return r ? *r : HttpResult{};
}

std::vector<std::string> ColumnNames(const boost::json::object& version) {
  std::vector<std::string> names;
  for (const auto& c : version.at("columns").as_array()) {
    names.emplace_back(c.as_object().at("name").as_string());
  }
  return names;
}

// Inserts, adds a column, inserts again; returns once both rows were
// delivered (stdout) — the second one is the new relation definition's.
void InsertAlterInsert(pg::Conn& conn, Process& p, const std::string& table) {
  ExecOrFail(conn, "INSERT INTO " + table + " VALUES (1, 'a'), (2, 'b')");
  ASSERT_TRUE(p.WaitForLines(2)) << p.Stderr();
  ExecOrFail(conn, "ALTER TABLE " + table + " ADD COLUMN extra timestamptz");
  ExecOrFail(conn, "INSERT INTO " + table + " VALUES (3, 'c', now())");
  ASSERT_TRUE(p.WaitForLines(3)) << p.Stderr();
}

TEST(SchemaStoreScenario, MemoryStoreVersionsAColumnAddedByAlterTable) {
  auto conn = Connect();
  FreshTable(conn, "ss_mem", "p_ss_mem");
  auto p = StartWal("p_ss_mem", {"--schema-store"});
  ASSERT_TRUE(p);
  auto addr = p->HttpAddr();
  ASSERT_TRUE(addr);
  InsertAlterInsert(conn, *p, "ss_mem");

  auto latest = Get(*addr, "/api/v1/schemas/public.ss_mem");
  ASSERT_EQ(latest.status, 200) << latest.body;
  auto v2 = ParseJson(latest.body).as_object();
  EXPECT_EQ(v2["subject"].as_string(), "public.ss_mem");
  EXPECT_EQ(v2["version"].as_int64(), 2);
  EXPECT_EQ(v2["hash"].as_string().size(), 64u);
  EXPECT_EQ(ColumnNames(v2), (std::vector<std::string>{"id", "v", "extra"}));
  EXPECT_EQ(boost::json::serialize(v2["columns"].as_array().back()),
            R"({"name":"extra","type_oid":1184,"type_name":"timestamptz"})");

  auto first = Get(*addr, "/api/v1/schemas/public.ss_mem/versions/1");
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(ColumnNames(ParseJson(first.body).as_object()), (std::vector<std::string>{"id", "v"}));
  auto list = Get(*addr, "/api/v1/schemas");
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_EQ(list.body,
            R"({"store":"memory","subjects":[{"subject":"public.ss_mem","latest_version":2}]})");

  auto unknown = Get(*addr, "/api/v1/schemas/public.nope");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_TRUE(ParseJson(unknown.body).as_object().contains("error")) << unknown.body;
  EXPECT_EQ(Get(*addr, "/api/v1/schemas/public.ss_mem/versions/3").status, 404);
  EXPECT_EQ(Get(*addr, "/api/v1/schemas/public.ss_mem/versions/x").status, 400);

  // Registration happens per relation definition, not per row.
  ExecOrFail(conn, "INSERT INTO ss_mem SELECT g, 'x', now() FROM generate_series(10, 59) g");
  ASSERT_TRUE(p->WaitForLines(53)) << p->Stderr();
  auto m = Get(*addr, "/metrics");
  EXPECT_EQ(MetricValue(m.body, "pgcdc_schema_store_registrations_total"), 2.0) << m.body;
  EXPECT_EQ(MetricValue(m.body, "pgcdc_schema_store_errors_total"), 0.0);
  // (PostgreSQL re-sends a Relation message after any relcache invalidation,
  // e.g. autovacuum's ANALYZE; those find the cached hash.)
  EXPECT_LT(MetricValue(m.body, "pgcdc_schema_store_unchanged_total").value_or(99), 10.0);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
}

TEST(SchemaStoreScenario, PgStoreKeepsVersionsInPgcdcSchemasAcrossRestarts) {
  auto conn = Connect();
  FreshTable(conn, "ss_pg", "p_ss_pg");
  (void)conn.Exec("DELETE FROM pgcdc_schemas WHERE subject = 'public.ss_pg'");
  const std::vector<std::string> extra = {"--schema-store", "--schema-store-type", "pg",
                                          "--http-auth-token", "s3cret"};
  auto p = StartWal("p_ss_pg", extra);
  ASSERT_TRUE(p);
  auto addr = p->HttpAddr();
  ASSERT_TRUE(addr);
  InsertAlterInsert(conn, *p, "ss_pg");

  EXPECT_EQ(Get(*addr, "/api/v1/schemas/public.ss_pg").status, 401);
  auto latest = Get(*addr, "/api/v1/schemas/public.ss_pg", "s3cret");
  ASSERT_EQ(latest.status, 200) << latest.body;
  EXPECT_EQ(ParseJson(latest.body).as_object()["version"].as_int64(), 2);
  auto list = Get(*addr, "/api/v1/schemas", "s3cret");
  EXPECT_NE(list.body.find(R"("store":"pg")"), std::string::npos) << list.body;
  EXPECT_NE(list.body.find(R"({"subject":"public.ss_pg","latest_version":2})"), std::string::npos)
      << list.body;

  auto rows = conn.Query(
      "SELECT version::text, jsonb_array_length(columns)::text, columns->2->>'name', "
      "columns->2->>'type_name', length(hash)::text FROM pgcdc_schemas "
      "WHERE subject = 'public.ss_pg' ORDER BY version");
  ASSERT_TRUE(rows) << rows.error().message();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0][0], "1");
  EXPECT_EQ((*rows)[0][1], "2");
  EXPECT_EQ((*rows)[1][0], "2");
  EXPECT_EQ((*rows)[1][1], "3");
  EXPECT_EQ((*rows)[1][2], "extra");
  EXPECT_EQ((*rows)[1][3], "timestamptz");
  EXPECT_EQ((*rows)[1][4], "64");
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();

  // A new process sees the unchanged table: no new version.
  auto again = StartWal("p_ss_pg", extra);
  ASSERT_TRUE(again);
  ExecOrFail(conn, "INSERT INTO ss_pg VALUES (4, 'd', now())");
  ASSERT_TRUE(again->WaitForLines(1)) << again->Stderr();
  auto addr2 = again->HttpAddr();
  ASSERT_TRUE(addr2);
  auto m = Get(*addr2, "/metrics", "s3cret");
  EXPECT_EQ(MetricValue(m.body, "pgcdc_schema_store_registrations_total"), 0.0) << m.body;
  EXPECT_GE(MetricValue(m.body, "pgcdc_schema_store_unchanged_total").value_or(0), 1.0) << m.body;
  auto count =
      conn.Query("SELECT count(*)::text FROM pgcdc_schemas WHERE subject = 'public.ss_pg'");
  ASSERT_TRUE(count);
  EXPECT_EQ(count->at(0).at(0), "2");
  again->Signal(SIGTERM);
  EXPECT_EQ(again->Wait(), 0) << again->Stderr();
}

TEST(SchemaStoreScenario, BadSettingsAreClearErrors) {
  auto bogus = Process::Start(
      {.args = WalListenArgs("p_ss_mem", {"--schema-store", "--schema-store-type", "bogus"})});
  ASSERT_TRUE(bogus);
  EXPECT_EQ(bogus->Wait(), 2);
  EXPECT_NE(
      bogus->Stderr().find(
          R"(schema.store: invalid value "bogus" (from flag --schema-store-type; allowed: memory, pg))"),
      std::string::npos)
      << bogus->Stderr();

  auto notify = Process::Start(
      {.args = {"listen", "--db", SharedCluster().Url(), "--channel", "c", "--schema-store"}});
  ASSERT_TRUE(notify);
  EXPECT_EQ(notify->Wait(), 2);
  EXPECT_NE(notify->Stderr().find("--schema-store needs --detector wal"), std::string::npos)
      << notify->Stderr();

  const std::string nowhere =
      "postgres://127.0.0.1:" + std::to_string(FreeTcpPort()) + "/x?connect_timeout=3";
  auto unreachable =
      Process::Start({.args = WalListenArgs("p_ss_mem", {"--schema-store", "--schema-store-type",
                                                         "pg", "--schema-db", nowhere})});
  ASSERT_TRUE(unreachable);
  const auto code = unreachable->Wait(30s);
  ASSERT_TRUE(code) << unreachable->Stderr();
  EXPECT_EQ(*code, 1);
  EXPECT_NE(unreachable->Stderr().find("cannot open the schema store (pg)"), std::string::npos)
      << unreachable->Stderr();
}

}  // namespace
}  // namespace pgcdc::testing
