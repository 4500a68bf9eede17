// User journey: stream a table's changes into ClickHouse (WAL → clickhouse).
// ClickHouse is not packaged here, so the server is a FAKE node process
// (tests/scenarios/fakes/fake_clickhouse.js) that speaks the HTTP interface
// for the statements pgcdc sends, checks every JSONEachRow line against the
// table's column types, stores rows, and fails on demand.
//  - happy path: auto-created ReplacingMergeTree table, every change a row
//    with its payload, settings and credentials sent, nothing logged secret;
//  - a 10 s outage (500s, a stalled request, then refused connections):
//    health degraded, retries counted, nothing lost;
//  - a row the table refuses (an Enum column without TRUNCATE): that event
//    goes to the DLQ with ClickHouse's text, the rest of its batch arrives;
//  - bad DSNs, a missing table, a wrong password: clear errors, exit code;
//  - kill -9 with a persistent slot: every row present afterwards.
#include <gtest/gtest.h>
#include <signal.h>

#include "fake_clickhouse.h"
#include "harness.h"
#include "json_util.h"

namespace pgcdc::testing {
namespace {

std::vector<std::string> ClickHouseArgs(const std::string& publication, const FakeClickHouse& fake,
                                        std::vector<std::string> extra) {
  std::vector<std::string> sink = {"-a",
                                   "clickhouse",
                                   "--clickhouse-dsn",
                                   fake.Dsn(),
                                   "--clickhouse-batch-size",
                                   "100",
                                   "--clickhouse-flush-interval",
                                   "100ms",
                                   "--clickhouse-backoff-base",
                                   "100ms",
                                   "--clickhouse-backoff-cap",
                                   "1s"};
  sink.insert(sink.end(), extra.begin(), extra.end());
  return WalListenArgs(publication, sink);
}

// The payload of each stored row by operation and row id ("INSERT/7").
std::map<std::string, boost::json::object> PayloadsByRow(const boost::json::array& rows) {
  std::map<std::string, boost::json::object> out;
  for (const auto& r : rows) {
    const auto& o = r.as_object();
    auto payload = ParseJson(std::string(o.at("payload").as_string())).as_object();
    const auto& image = payload["row"].is_object() ? payload["row"] : payload["old"];
    if (!image.is_object()) continue;
    out[std::string(o.at("operation").as_string()) + "/" +
        std::to_string(image.as_object().at("id").as_int64())] = payload;
  }
  return out;
}

TEST(ClickHouseScenario, EveryChangeArrivesAsARowWithItsPayload) {
  FakeClickHouse fake;
  ASSERT_TRUE(fake.ok());
  auto conn = Connect();
  FreshPublishedTable(conn, "ch_happy", "id int PRIMARY KEY, title text, n numeric", "p_chhappy");
  auto p = StartWalListen(ClickHouseArgs("p_chhappy", fake,
                                         {"--clickhouse-auto-create", "--clickhouse-async-insert",
                                          "--clickhouse-setting", "max_insert_threads=2"}));
  ASSERT_TRUE(p);
  ExecOrFail(conn,
             "INSERT INTO ch_happy SELECT g, 't' || g, g / 4.0 FROM generate_series(1, 250) g");
  ExecOrFail(conn, "UPDATE ch_happy SET title = 'renamed' WHERE id <= 10");
  ExecOrFail(conn, "DELETE FROM ch_happy WHERE id > 245");
  ASSERT_TRUE(Eventually([&] { return fake.Count().first == 265; }, 30s))
      << fake.Count().first << "\n"
      << p->Stderr();
  const auto rows = fake.Rows();
  const auto payloads = PayloadsByRow(rows);
  ASSERT_EQ(payloads.size(), 265u);
  auto ins = payloads.at("INSERT/7");
  EXPECT_EQ(ins["row"].as_object()["title"], boost::json::value("t7"));
  EXPECT_EQ(ins["table"], boost::json::value("ch_happy"));
  EXPECT_EQ(payloads.at("UPDATE/3").at("row").as_object().at("title"),
            boost::json::value("renamed"));
  EXPECT_TRUE(payloads.contains("DELETE/250"));
  for (const auto& r : rows) {
    const auto& o = r.as_object();
    EXPECT_EQ(o.at("channel"), boost::json::value("pgcdc:ch_happy"));
    EXPECT_EQ(o.at("source"), boost::json::value("wal_replication"));
    EXPECT_GT(o.at("lsn").to_number<double>(), 0);
    EXPECT_GT(o.at("created_at").to_number<double>(), 1.6e12);  // Unix milliseconds
    EXPECT_GT(o.at("_version").to_number<double>(), 1.6e12);
    EXPECT_EQ(o.at("id").as_string().size(), 36u);
  }
  EXPECT_EQ(fake.Count().second, 265);  // every event id once
  auto state = fake.State();
  const auto& table = state["tables"].as_object()["cdc.pgcdc_events"].as_object();
  EXPECT_EQ(table.at("engine"),
            boost::json::value("ReplacingMergeTree(_version) ORDER BY (channel, id)"));
  size_t inserts = 0;
  for (const auto& r : state["requests"].as_array()) {
    const auto& o = r.as_object();
    if (!o.at("query").as_string().starts_with("INSERT INTO \"cdc\".\"pgcdc_events\"")) continue;
    ++inserts;
    const auto& settings = o.at("settings").as_object();
    EXPECT_EQ(settings.at("async_insert"), boost::json::value("1"));
    EXPECT_EQ(settings.at("wait_for_async_insert"), boost::json::value("1"));
    EXPECT_EQ(settings.at("max_insert_threads"), boost::json::value("2"));
  }
  EXPECT_GE(inserts, 3u);  // batches of at most 100
  EXPECT_EQ(ScrapeMetric(*p, "pgcdc_clickhouse_rows_inserted_total").value_or(0), 265);
  EXPECT_GE(ScrapeMetric(*p, "pgcdc_clickhouse_flushes_total{status=\"ok\"}").value_or(0), 3);
  EXPECT_EQ(p->Stderr().find("ch-s3cret"), std::string::npos);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0);
}

TEST(ClickHouseScenario, ATenSecondOutageLosesNothing) {
  FakeClickHouse fake;
  ASSERT_TRUE(fake.ok());
  auto conn = Connect();
  FreshPublishedTable(conn, "ch_outage", "id int PRIMARY KEY, v text", "p_choutage");
  auto p = StartWalListen(ClickHouseArgs(
      "p_choutage", fake, {"--clickhouse-auto-create", "--clickhouse-timeout", "1s"}));
  ASSERT_TRUE(p);
  ExecOrFail(conn, "INSERT INTO ch_outage SELECT g, 'v' FROM generate_series(1, 100) g");
  ASSERT_TRUE(Eventually([&] { return fake.Count().first == 100; })) << p->Stderr();

  // Three 500s, one request that never gets an answer, then no listener for 10 s.
  fake.Control("/_fake/fail?status=500&count=3");
  ExecOrFail(conn, "INSERT INTO ch_outage SELECT g, 'v' FROM generate_series(101, 200) g");
  ASSERT_TRUE(Eventually([&] {
    return ScrapeMetric(*p, "pgcdc_clickhouse_retries_total").value_or(0) >= 3;
  })) << p->Stderr();
  ASSERT_TRUE(Eventually([&] { return fake.Count().first == 200; })) << p->Stderr();
  fake.Control("/_fake/stall?ms=3000&count=1");
  ExecOrFail(conn, "INSERT INTO ch_outage SELECT g, 'v' FROM generate_series(201, 300) g");
  ASSERT_TRUE(Eventually([&] { return fake.Count().first == 300; }, 30s)) << p->Stderr();
  const auto before_down = ScrapeMetric(*p, "pgcdc_clickhouse_retries_total").value_or(0);
  EXPECT_GE(before_down, 4);  // the stalled request timed out and was sent again
  fake.Control("/_fake/down?ms=10000");
  const auto down_at = std::chrono::steady_clock::now();
  ExecOrFail(conn, "INSERT INTO ch_outage SELECT g, 'v' FROM generate_series(301, 500) g");
  ASSERT_TRUE(Eventually([&] {
    return Healthz(*p).find(R"("clickhouse":{"status":"degraded")") != std::string::npos;
  })) << Healthz(*p);
  EXPECT_EQ(fake.Count().first, -1);  // not listening
  ASSERT_TRUE(Eventually([&] { return fake.Count().second == 500; }, 40s))
      << fake.Count().second << "\n"
      << p->Stderr();
  EXPECT_GE(std::chrono::steady_clock::now() - down_at, 9s);
  ASSERT_TRUE(Eventually([&] {
    return Healthz(*p).find(R"("clickhouse":{"status":"up")") != std::string::npos;
  })) << Healthz(*p);
  EXPECT_GT(ScrapeMetric(*p, "pgcdc_clickhouse_retries_total").value_or(0), before_down);
  EXPECT_EQ(ScrapeMetric(*p, "pgcdc_clickhouse_dead_lettered_total").value_or(0), 0);
  std::set<int64_t> ids;
  for (const auto& [key, payload] : PayloadsByRow(fake.Rows())) {
    ids.insert(payload.at("row").as_object().at("id").as_int64());
  }
  EXPECT_EQ(ids.size(), 500u);
  EXPECT_EQ(*ids.begin(), 1);
  EXPECT_EQ(*ids.rbegin(), 500);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0);
}

TEST(ClickHouseScenario, ARefusedRowGoesToTheDlqAndTheRestIsInserted) {
  FakeClickHouse fake;
  ASSERT_TRUE(fake.ok());
  // The user's own table: operation is an Enum without TRUNCATE.
  fake.Control("/_fake/exec?database=cdc",
               "CREATE TABLE cdc.ops (id String, channel LowCardinality(String), operation "
               "Enum8('INSERT' = 1, 'UPDATE' = 2, 'DELETE' = 3), source String, payload String, "
               "lsn UInt64, created_at DateTime64(3), _version UInt64) ENGINE = "
               "ReplacingMergeTree(_version) ORDER BY (channel, id)");
  auto conn = Connect();
  FreshPublishedTable(conn, "ch_reject", "id int PRIMARY KEY, v text", "p_chreject");
  auto p = StartWalListen(ClickHouseArgs("p_chreject", fake,
                                         {"--clickhouse-table", "ops", "--clickhouse-batch-size",
                                          "1000", "--clickhouse-flush-interval", "500ms"}));
  ASSERT_TRUE(p);
  ExecOrFail(conn,
             "BEGIN; INSERT INTO ch_reject SELECT g, 'v' FROM generate_series(1, 10) g; "
             "TRUNCATE ch_reject; INSERT INTO ch_reject SELECT g, 'w' FROM generate_series(11, 20) "
             "g; COMMIT");
  ASSERT_TRUE(Eventually([&] {
    return ScrapeMetric(*p, "pgcdc_clickhouse_dead_lettered_total").value_or(0) == 1;
  })) << p->Stderr();
  ASSERT_TRUE(Eventually([&] { return fake.Count("ops").first == 20; }))
      << fake.Count("ops").first << p->Stderr();
  for (const auto& r : fake.Rows("ops")) {
    EXPECT_EQ(r.as_object().at("operation"), boost::json::value("INSERT"));
  }
  // The DLQ record (stderr here) carries ClickHouse's text.
  ASSERT_TRUE(p->WaitForStderr("Unknown element 'TRUNCATE' for enum")) << p->Stderr();
  EXPECT_NE(p->Stderr().find(R"("adapter":"clickhouse")"), std::string::npos);
  EXPECT_NE(p->Stderr().find("Code: 691. DB::Exception"), std::string::npos);
  EXPECT_GE(ScrapeMetric(*p, "pgcdc_clickhouse_split_requests_total").value_or(0), 1);
  EXPECT_GE(ScrapeMetric(*p, "pgcdc_clickhouse_flushes_total{status=\"partial\"}").value_or(0), 1);
  EXPECT_EQ(ScrapeMetric(*p, "pgcdc_clickhouse_rows_inserted_total").value_or(0), 20);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0);
}

TEST(ClickHouseScenario, SnapshotInsertsEveryRow) {
  FakeClickHouse fake;
  ASSERT_TRUE(fake.ok());
  auto conn = Connect();
  ExecOrFail(conn, "DROP TABLE IF EXISTS ch_snap");
  ExecOrFail(conn, "CREATE TABLE ch_snap (id int PRIMARY KEY, name text, n numeric)");
  ExecOrFail(conn,
             "INSERT INTO ch_snap SELECT g, 'row ' || g, g / 4.0 FROM generate_series(1, 333) g");
  auto p = Process::Start({.args = {"snapshot", "--db", SharedCluster().Url(), "--table", "ch_snap",
                                    "-a", "clickhouse", "--clickhouse-dsn", fake.Dsn(),
                                    "--clickhouse-auto-create", "--clickhouse-batch-size", "100"}});
  ASSERT_TRUE(p);
  ASSERT_EQ(p->Wait(60s), 0) << p->Stderr();
  EXPECT_EQ(fake.Count(), std::make_pair(int64_t{333}, int64_t{333}));
  const auto payloads = PayloadsByRow(fake.Rows());
  ASSERT_EQ(payloads.size(), 333u);
  const auto& row = payloads.at("SNAPSHOT/333").at("row").as_object();
  EXPECT_EQ(row.at("name"), boost::json::value("row 333"));
}

TEST(ClickHouseScenario, BadDsnsAndTablesAreClearErrors) {
  auto [c1, e1] =
      RunAdapterToExit("clickhouse", {"--clickhouse-dsn", "clickhouse://u:pw@h:9000/db"});
  EXPECT_EQ(c1, 2) << e1;
  EXPECT_NE(e1.find("native TCP protocol"), std::string::npos) << e1;
  EXPECT_NE(e1.find("use http://u:xxx@h:8123/db"), std::string::npos) << e1;
  auto [c2, e2] = RunAdapterToExit("clickhouse", {});
  EXPECT_EQ(c2, 2) << e2;
  EXPECT_NE(e2.find("clickhouse.dsn: required"), std::string::npos) << e2;

  FakeClickHouse fake;
  ASSERT_TRUE(fake.ok());
  // No table and no --clickhouse-auto-create.
  auto [c3, e3] = RunAdapterToExit("clickhouse", {"--clickhouse-dsn", fake.Dsn()});
  EXPECT_NE(c3, 0);
  EXPECT_NE(e3.find("cdc\\\".\\\"pgcdc_events\\\" does not exist: create it"), std::string::npos)
      << e3;
  EXPECT_NE(e3.find("--clickhouse-auto-create"), std::string::npos) << e3;
  // A wrong password.
  const std::string wrong = "http://pgcdc:nope@" + fake.Addr() + "/cdc";
  auto [c4, e4] =
      RunAdapterToExit("clickhouse", {"--clickhouse-dsn", wrong, "--clickhouse-auto-create"});
  EXPECT_NE(c4, 0);
  EXPECT_NE(e4.find("Code: 516"), std::string::npos) << e4;
  EXPECT_NE(e4.find("check the user and password of clickhouse.dsn"), std::string::npos) << e4;
  EXPECT_EQ(e4.find("nope"), std::string::npos) << e4;
  // A table without the columns.
  fake.Control("/_fake/exec?database=cdc",
               "CREATE TABLE cdc.narrow (id String) ENGINE = MergeTree ORDER BY id");
  auto [c5, e5] = RunAdapterToExit(
      "clickhouse", {"--clickhouse-dsn", fake.Dsn(), "--clickhouse-table", "narrow"});
  EXPECT_NE(c5, 0);
  EXPECT_NE(e5.find("lacks the column(s) channel, operation"), std::string::npos) << e5;
  // Nothing listening.
  auto [c6, e6] = RunAdapterToExit("clickhouse", {"--clickhouse-dsn", "http://127.0.0.1:1/db"});
  EXPECT_NE(c6, 0);
  EXPECT_NE(e6.find("cannot reach ClickHouse at http://127.0.0.1:1/db"), std::string::npos) << e6;
}

// `pgcdc doctor` pings ClickHouse and checks the table without creating it.
TEST(ClickHouseScenario, DoctorChecksTheServerAndTheTable) {
  FakeClickHouse fake;
  ASSERT_TRUE(fake.ok());
  const std::vector<std::string> base = {
      PgcdcBinary(), "doctor", "--db",       SharedCluster().Url(), "-c",
      "x",           "-a",     "clickhouse", "--clickhouse-dsn",    fake.Dsn()};
  auto missing = RunCommand(base);
  EXPECT_NE(missing.exit_code, 0) << missing.output;
  EXPECT_NE(missing.output.find("does not exist"), std::string::npos) << missing.output;
  auto args = base;
  args.push_back("--clickhouse-auto-create");
  auto create = RunCommand(args);
  EXPECT_EQ(create.exit_code, 0) << create.output;
  EXPECT_NE(create.output.find("the table is created at start"), std::string::npos)
      << create.output;
  EXPECT_EQ(fake.Count().first, -1);  // the doctor created nothing
}

TEST(ClickHouseScenario, KillNineWithPersistentSlotLosesNothing) {
  FakeClickHouse fake;
  ASSERT_TRUE(fake.ok());
  fake.Control("/_fake/quiet");
  auto conn = Connect();
  FreshPublishedTable(conn, "ch_crash", "id int PRIMARY KEY, v int", "p_chcrash",
                      "pgcdc_p_chcrash");
  const auto args = ClickHouseArgs(
      "p_chcrash", fake,
      {"--clickhouse-auto-create", "--persistent-slot", "--detector-status-interval", "200ms",
       "--clickhouse-batch-size", "5000", "--clickhouse-flush-interval", "1500ms"});
  // Rows wait up to 1.5 s in the adapter before their insert: a sink that
  // confirmed them earlier would lose them to the kills.
  constexpr int kRows = 30000;
  // Kills come at a number of events received, wherever the adapter is in
  // its batching.
  RunKillNineRounds(SinkKillNineRun("ch_crash", kRows, /*seed=*/21), args, [&](Process& p) {
    return ScrapeMetric(p, "pgcdc_events_received_total").value_or(0);
  });
  if (HasFailure()) return;
  auto p = Process::Start({.args = args});
  ASSERT_TRUE(p);
  ASSERT_TRUE(Eventually([&] { return fake.Count().second == kRows; }, 120s))
      << fake.Count().second << " of " << kRows << "\n"
      << p->Stderr();
  std::map<int64_t, int64_t> v_by_id;
  for (const auto& [key, payload] : PayloadsByRow(fake.Rows())) {
    const auto& row = payload.at("row").as_object();
    v_by_id[row.at("id").as_int64()] = row.at("v").as_int64();
  }
  ASSERT_EQ(v_by_id.size(), static_cast<size_t>(kRows));
  for (int id : {1, 777, kRows / 2, kRows}) EXPECT_EQ(v_by_id[id], id) << id;
  // Redeliveries after the kills carry the same event ids: ReplacingMergeTree
  // keeps one row per id (the fake's "distinct").
  const auto [count, distinct] = fake.Count();
  EXPECT_GE(count, distinct);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0);
  (void)conn.Query("SELECT pg_drop_replication_slot('pgcdc_p_chcrash')");
}

}  // namespace
}  // namespace pgcdc::testing
