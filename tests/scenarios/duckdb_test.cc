// User journeys of the duckdb sink (SPEC §5.19) against the real PostgreSQL
// (WAL) and pgcdc's HTTP server, queried with plain HTTP requests:
//  - WAL rows land in cdc_events and come back from POST /query (with
//    params), from the typed view "public.<table>", and per channel from
//    GET /query/tables;
//  - read-only mode refuses DROP/COPY (403), bad SQL answers 400 with
//    DuckDB's message and counts it, a slow query is interrupted (408), a
//    request without a JSON content type or with the wrong token is refused;
//  - with a database file and a persistent slot, pgcdc killed with SIGKILL
//    several times: every row is in the table afterwards (acknowledged only
//    once committed) and exactly once (replays replace their copy);
//  - a full disk under the database file (a tmpfs, as root): pgcdc stops
//    with exit code 1, nothing staged acknowledged, and after a restart with
//    room every row is there once;
//  - `pgcdc snapshot -a duckdb` into a file: the export ends once the rows
//    are committed (the first flush) and every row is in it (read back with
//    DuckDB's C API).
#include <gtest/gtest.h>
#include <signal.h>

#include "harness.h"
#include "json_util.h"
#ifdef PGCDC_TEST_DUCKDB_API
#include "duckdb_reader.h"
#endif

namespace pgcdc::testing {
namespace {

std::optional<HttpResult> Query(const std::string& addr, const std::string& body,
                                const std::vector<std::string>& headers = {
                                    "Content-Type: application/json"}) {
  return HttpSend(addr, "POST", "/query", headers, body, 10s);
}

// The first row's `key` of a /query answer as an integer (-1 when absent).
int64_t FirstInt(const std::optional<HttpResult>& r, const std::string& key) {
  if (!r || r->status != 200) return -1;
  auto v = ParseJson(r->body);
  if (!v.is_array() || v.as_array().empty()) return -1;
  const auto* k = v.as_array()[0].as_object().if_contains(key);
  return k != nullptr && k->is_int64() ? k->as_int64() : -1;
}

int64_t Count(const std::string& addr, const std::string& table) {
  return FirstInt(Query(addr, R"({"sql":"SELECT count(DISTINCT payload->>'$.row.id') AS n FROM )"
                              R"(cdc_events WHERE channel = 'pgcdc:)" +
                                  table + R"('"})"),
                  "n");
}

TEST(DuckdbScenario, WalRowsAreQueryableOverHttp) {
  auto conn = Connect();
  FreshPublishedTable(conn, "duck_orders",
                      "id int PRIMARY KEY, status text, amount numeric, placed_at timestamptz",
                      "p_duck");
  auto p = StartWalListen(WalListenArgs(
      "p_duck", {"-a", "duckdb", "--duckdb-flush-interval", "100ms", "--duckdb-flush-size", "7"}));
  ASSERT_TRUE(p);
  auto addr = p->HttpAddr();
  ASSERT_TRUE(addr);
  ExecOrFail(conn,
             "INSERT INTO duck_orders SELECT g, 's' || g, g * 1.5, '2025-06-15 12:00:00+00' FROM "
             "generate_series(1, 50) g");
  ExecOrFail(conn, "UPDATE duck_orders SET status = 'paid' WHERE id = 7");
  ASSERT_TRUE(Eventually([&] {
    return FirstInt(Query(*addr, R"({"sql":"SELECT count(*) AS n FROM cdc_events"})"), "n") == 51;
  })) << p->Stderr();

  auto row = Query(*addr, R"({"sql":"SELECT operation, payload->>'$.row.status' AS s FROM )"
                          R"(cdc_events WHERE payload->>'$.row.id' = $1 ORDER BY created_at",)"
                          R"("params":["7"]})");
  ASSERT_TRUE(row);
  EXPECT_EQ(row->status, 200) << row->body;
  EXPECT_EQ(row->body, R"([{"operation":"INSERT","s":"s7"},{"operation":"UPDATE","s":"paid"}])");
  EXPECT_NE(row->headers.find("application/json"), std::string::npos) << row->headers;
  EXPECT_EQ(row->headers.find("Access-Control-Allow-Origin"), std::string::npos);

  // The typed view: the table's columns with their types.
  auto typed = Query(*addr, R"({"sql":"SELECT id, status, amount, epoch(placed_at)::BIGINT AS )"
                            R"(t, typeof(id) AS ty FROM \"public.duck_orders\" WHERE id = 3"})");
  ASSERT_TRUE(typed);
  EXPECT_EQ(typed->body,
            R"([{"id":3,"status":"s3","amount":"4.5","t":1749988800,"ty":"INTEGER"}])");

  EXPECT_TRUE(Eventually(
      [&] { return ScrapeMetric(*p, "pgcdc_duckdb_rows_total").value_or(0) == 51; }, 5s));
  EXPECT_GE(ScrapeMetric(*p, "pgcdc_duckdb_flushes_total{status=\"ok\"}").value_or(0), 7);
  EXPECT_GE(ScrapeMetric(*p, "pgcdc_duckdb_queries_total{status=\"ok\"}").value_or(0), 3);
  auto tables = HttpGet(*addr, "/query/tables");
  ASSERT_TRUE(tables);
  EXPECT_EQ(tables->status, 200);
  EXPECT_EQ(tables->body, R"([{"channel":"pgcdc:duck_orders","count":51}])");
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
}

TEST(DuckdbScenario, RefusalsAndErrorsAreClearAndCounted) {
  auto conn = Connect();
  FreshPublishedTable(conn, "duck_err", "id int PRIMARY KEY", "p_duckerr");
  auto p = StartWalListen(
      WalListenArgs("p_duckerr", {"-a", "duckdb", "--duckdb-query-token", "s3cret"}));
  ASSERT_TRUE(p);
  auto addr = p->HttpAddr();
  ASSERT_TRUE(addr);
  const std::vector<std::string> auth = {"Content-Type: application/json",
                                         "Authorization: Bearer s3cret"};
  auto no_token = Query(*addr, R"({"sql":"SELECT 1"})");
  ASSERT_TRUE(no_token);
  EXPECT_EQ(no_token->status, 401);
  auto ok = Query(*addr, R"({"sql":"SELECT 1 AS one"})", auth);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->body, R"([{"one":1}])");

  auto drop = Query(*addr, R"({"sql":"DROP TABLE cdc_events"})", auth);
  ASSERT_TRUE(drop);
  EXPECT_EQ(drop->status, 403);
  EXPECT_NE(drop->body.find("read-only: DROP"), std::string::npos) << drop->body;
  auto copy = Query(*addr, R"({"sql":"COPY cdc_events TO '/tmp/pgcdc-duck.csv'"})", auth);
  ASSERT_TRUE(copy);
  EXPECT_NE(copy->status, 200);
  EXPECT_NE(copy->body.find("disabled by configuration"), std::string::npos) << copy->body;

  auto bad = Query(*addr, R"({"sql":"SELEC 1"})", auth);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("syntax error"), std::string::npos) << bad->body;
  EXPECT_GE(ScrapeMetric(*p, "pgcdc_duckdb_queries_total{status=\"sql_error\"}").value_or(0), 1);

  auto slow = Query(
      *addr, R"j({"sql":"SELECT count(*) FROM range(1000000000000)","timeout":"300ms"})j", auth);
  ASSERT_TRUE(slow);
  EXPECT_EQ(slow->status, 408) << slow->body;
  EXPECT_GE(ScrapeMetric(*p, "pgcdc_duckdb_queries_total{status=\"timeout\"}").value_or(0), 1);

  auto no_json = Query(*addr, R"({"sql":"SELECT 1"})", {"Authorization: Bearer s3cret"});
  ASSERT_TRUE(no_json);
  EXPECT_EQ(no_json->status, 415);
  auto missing = Query(*addr, R"({"params":[]})", auth);
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 400);
  EXPECT_NE(missing->body.find("missing sql"), std::string::npos);
  auto cross = Query(*addr, R"({"sql":"SELECT 1"})",
                     {"Content-Type: application/json", "Authorization: Bearer s3cret",
                      "Origin: http://evil.example"});
  ASSERT_TRUE(cross);
  EXPECT_EQ(cross->status, 403);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
}

// DuckDB's library is loaded when the sink opens (src/parquet/duckdb_api.h):
// without it the pipeline stops with an error naming where it looked.
TEST(DuckdbScenario, AMissingLibraryIsAClearError) {
  auto r = RunCommand({"env", "PGCDC_DUCKDB_LIBRARY=/nonexistent/libduckdb.so", PgcdcBinary(),
                       "listen", "--db", SharedCluster().Url(), "-c", "duck_nolib", "-a", "duckdb",
                       "--http-addr", "127.0.0.1:0"});
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("DuckDB's library"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("/nonexistent/libduckdb.so"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("PGCDC_DUCKDB_LIBRARY"), std::string::npos) << r.output;
}

TEST(DuckdbScenario, KillNineWithAFileAndPersistentSlotLosesNothing) {
  auto conn = Connect();
  TempDir dir;
  const std::string db = dir.path + "/cdc.duckdb";
  FreshPublishedTable(conn, "duck_crash", "id int PRIMARY KEY, v int", "p_duckcrash",
                      "pgcdc_p_duckcrash");
  const auto args =
      WalListenArgs("p_duckcrash", {"-a", "duckdb", "--duckdb-path", db, "--persistent-slot",
                                    "--duckdb-flush-size", "2000", "--duckdb-flush-interval", "30s",
                                    "--detector-status-interval", "200ms"});
  constexpr int kRows = 20000;
  KillNineRun run = SinkKillNineRun("duck_crash", kRows, /*seed=*/21);
  run.rounds = 4;
  // Each kill comes while events are staged (received, not committed): a
  // sink that acknowledged them at receipt would lose them.
  RunKillNineRounds(
      run, [&] { return StartStreaming(args); },
      [&](Process& p) {
        auto addr = p.HttpAddr();
        return addr ? static_cast<double>(Count(*addr, "duck_crash")) : 0.0;
      },
      [&](Process& p) {
        (void)Eventually(
            [&] { return ScrapeMetric(p, "pgcdc_duckdb_buffered_events").value_or(0) >= 500; },
            10s);
      });
  if (HasFailure()) return;
  auto p = StartStreaming(args);
  ASSERT_TRUE(p);
  auto addr = p->HttpAddr();
  ASSERT_TRUE(addr);
  ASSERT_TRUE(Eventually([&] { return Count(*addr, "duck_crash") == kRows; }, 120s))
      << Count(*addr, "duck_crash") << " of " << kRows << "\n"
      << p->Stderr();
  // Replays replaced their copies: one row per event id, one INSERT per row.
  EXPECT_EQ(FirstInt(Query(*addr, R"({"sql":"SELECT count(*) AS n FROM cdc_events"})"), "n"),
            kRows);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0);
  (void)conn.Query("SELECT pg_drop_replication_slot('pgcdc_p_duckcrash')");
}

// A full disk under the database file: the commit fails, pgcdc stops (exit
// 1) without acknowledging the staged events, and after a restart with room
// every row is there once. (The first chaos run lost 496 events here: the
// final flush at shutdown reported the failed batch committed.)
TEST(DuckdbScenario, AFullDiskStopsWithoutAcknowledgingAndLosesNothing) {
  TmpfsDisk disk;
  if (!disk.mounted()) GTEST_SKIP() << "needs root to mount a tmpfs";
  auto conn = Connect();
  FreshPublishedTable(conn, "duck_full", "id int PRIMARY KEY, v int", "p_duckfull",
                      "pgcdc_p_duckfull");
  const auto args =
      WalListenArgs("p_duckfull", {"-a", "duckdb", "--duckdb-path", disk.path() + "/cdc.duckdb",
                                   "--persistent-slot", "--duckdb-flush-interval", "1s",
                                   "--detector-status-interval", "200ms"});
  auto p = StartStreaming(args);
  ASSERT_TRUE(p);
  auto addr = p->HttpAddr();
  ASSERT_TRUE(addr);
  ExecOrFail(conn, "INSERT INTO duck_full SELECT g, g FROM generate_series(1, 500) g");
  ASSERT_TRUE(Eventually([&] { return Count(*addr, "duck_full") == 500; }, 30s)) << p->Stderr();
  disk.Fill(true);
  // Fewer than a flush: the interval commits them, on the full disk.
  ExecOrFail(conn, "INSERT INTO duck_full SELECT g, g FROM generate_series(501, 800) g");
  const auto code = p->Wait(30s);
  disk.Fill(false);
  ASSERT_TRUE(code.has_value()) << "pgcdc kept running on a full disk\n" << p->Stderr();
  EXPECT_EQ(*code, 1);
  EXPECT_NE(p->Stderr().find("No space left on device"), std::string::npos) << p->Stderr();
  EXPECT_NE(p->Stderr().find("not acknowledged"), std::string::npos) << p->Stderr();
  auto again = StartStreaming(args);
  ASSERT_TRUE(again);
  addr = again->HttpAddr();
  ASSERT_TRUE(addr);
  ASSERT_TRUE(Eventually([&] { return Count(*addr, "duck_full") == 800; }, 30s))
      << Count(*addr, "duck_full") << " of 800\n"
      << again->Stderr();
  EXPECT_EQ(FirstInt(Query(*addr, R"({"sql":"SELECT count(*) AS n FROM cdc_events"})"), "n"), 800);
  again->Signal(SIGTERM);
  EXPECT_EQ(again->Wait(), 0);
  (void)conn.Query("SELECT pg_drop_replication_slot('pgcdc_p_duckfull')");
}

#ifdef PGCDC_TEST_DUCKDB_API
// One integer from `sql` on the database file at `path` (opened read-only).
int64_t ReadInt(const std::string& path, const std::string& sql) {
  DuckReader db(path);
  std::string error = db.error();
  auto rows = db.Query(sql, error);
  if (rows.empty() || rows[0].empty()) {
    ADD_FAILURE() << error;
    return -1;
  }
  return std::stoll(rows[0].begin()->second);
}

TEST(DuckdbScenario, SnapshotIntoAFileHasEveryRow) {
  auto conn = Connect();
  ExecOrFail(conn, "DROP TABLE IF EXISTS duck_snap");
  ExecOrFail(conn, "CREATE TABLE duck_snap (id int PRIMARY KEY, name text)");
  ExecOrFail(conn, "INSERT INTO duck_snap SELECT g, 'row ' || g FROM generate_series(1, 300) g");
  TempDir dir;
  const std::string db = dir.path + "/snap.duckdb";
  auto p = Process::Start({
      .args = {"snapshot", "--db", SharedCluster().Url(), "--table", "duck_snap", "-a", "duckdb",
               "--duckdb-path", db, "--duckdb-flush-interval", "1s"},
  });
  ASSERT_TRUE(p);
  ASSERT_EQ(p->Wait(60s), 0) << p->Stderr();
  EXPECT_EQ(ReadInt(db,
                    "SELECT count(DISTINCT payload->>'$.row.id') FROM cdc_events WHERE "
                    "operation = 'SNAPSHOT'"),
            300);
}
#endif

}  // namespace
}  // namespace pgcdc::testing
