// User journey: export a table once with `pgcdc snapshot` — typed values equal
// to PostgreSQL's own row_to_json, schema-qualified names, filters, large
// tables, exported snapshots, clear failures — plus the TableSnapshot library
// underneath (batching, early stop, estimates).
#include <gtest/gtest.h>

#include <chrono>
#include <regex>
#include <set>

#include "harness.h"
#include "json_util.h"
#include "snapshot/table_snapshot.h"

namespace pgcdc::testing {
namespace {

struct Ran {
  int code = -1;
  std::vector<std::string> out;
  std::string err;
  double seconds = 0;
};

Ran RunPgcdc(std::vector<std::string> args, std::map<std::string, std::string> env = {},
             std::chrono::milliseconds timeout = 60s) {
  const auto start = Clock::now();
  auto p = Process::Start({.args = std::move(args), .env = std::move(env)});
  Ran r;
  if (!p) return r;
  r.code = p->Wait(timeout).value_or(-1);
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  r.out = p->StdoutLines();
  r.err = p->Stderr();
  return r;
}

Ran Snapshot(const std::string& table, std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"snapshot", "--db", SharedCluster().Url(), "--table", table};
  for (auto& a : extra) args.push_back(a);
  return RunPgcdc(std::move(args));
}

// row_to_json of every row, by id, in the session settings of the exporter.
std::map<int64_t, boost::json::object> ServerRows(pg::Conn& conn, const std::string& from) {
  std::map<int64_t, boost::json::object> out;
  auto st = conn.Exec("SET TimeZone = 'UTC'");
  EXPECT_TRUE(st);
  auto rows = conn.Query("SELECT row_to_json(_r)::text FROM " + from + " _r");
  EXPECT_TRUE(rows) << rows.error().message();
  if (!rows) return out;
  for (auto& r : *rows) {
    auto obj = ParseJson(*r.at(0)).as_object();
    out[obj["id"].as_int64()] = obj;
  }
  return out;
}

// Checks envelope and payload shape of one snapshot event line and returns
// the row object.
boost::json::object CheckEvent(const std::string& line, const std::string& channel,
                               const std::string& table) {
  EXPECT_EQ(ObjectKeys(line), (std::vector<std::string>{"id", "channel", "operation", "payload",
                                                        "source", "created_at"}))
      << line;
  auto ev = ParseJson(line).as_object();
  EXPECT_EQ(ev["channel"].as_string(), channel);
  EXPECT_EQ(ev["operation"].as_string(), "SNAPSHOT");
  EXPECT_EQ(ev["source"].as_string(), "snapshot");
  EXPECT_EQ(ev["id"].as_string().size(), 36u);
  auto payload = ev["payload"].as_object();
  std::vector<std::string> keys;
  for (auto& kv : payload) keys.emplace_back(kv.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"old", "op", "row", "table"})) << line;
  EXPECT_TRUE(payload["old"].is_null());
  EXPECT_EQ(payload["op"].as_string(), "SNAPSHOT");
  EXPECT_EQ(payload["table"].as_string(), table);
  return payload["row"].as_object();
}

// Compares an exported row with row_to_json: same columns in the same
// (table) order, equal values. `string_numerics` are columns whose values
// exceed double precision: pgtypes emits them as exact strings (documented).
void ExpectSameRow(const boost::json::object& got, const boost::json::object& want,
                   const std::set<std::string>& string_numerics = {}) {
  std::vector<std::string> got_keys, want_keys;
  for (auto& kv : got) got_keys.emplace_back(kv.key());
  for (auto& kv : want) want_keys.emplace_back(kv.key());
  EXPECT_EQ(got_keys, want_keys);
  for (auto& [k, v] : want) {
    const auto* g = got.if_contains(k);
    ASSERT_NE(g, nullptr) << k;
    if (string_numerics.count(std::string(k)) && v.is_number()) {
      ASSERT_TRUE(g->is_string()) << k;
      continue;
    }
    EXPECT_EQ(boost::json::serialize(*g), boost::json::serialize(v)) << "column " << k;
  }
}

TEST(SnapshotScenario, TypedRowsEqualRowToJsonExactlyOnce) {
  auto conn = Connect();
  ExecOrFail(conn, "DROP TABLE IF EXISTS snap_types CASCADE");
  ExecOrFail(conn, "DROP TYPE IF EXISTS snap_mood, snap_pair CASCADE");
  ExecOrFail(conn, "DROP DOMAIN IF EXISTS snap_posint CASCADE");
  ExecOrFail(conn, "CREATE TYPE snap_mood AS ENUM ('sad', 'happy')");
  ExecOrFail(conn, "CREATE DOMAIN snap_posint AS int CHECK (VALUE > 0)");
  ExecOrFail(conn, "CREATE TYPE snap_pair AS (a int, b text)");
  ExecOrFail(conn, R"(CREATE TABLE snap_types (
      id int PRIMARY KEY, i2 smallint, i4 int, i8 bigint, f4 real, f8 double precision,
      num numeric, bool boolean, txt text, vc varchar(10), ch char(3), js json, jsb jsonb,
      by bytea, ts timestamp, tstz timestamptz, d date, t time, tz timetz, iv interval, u uuid,
      ip inet, arr int[], tarr text[], mood snap_mood, moods snap_mood[], dom snap_posint,
      pair snap_pair, big numeric))");
  ExecOrFail(conn, R"(INSERT INTO snap_types VALUES
      (1, -2, 2147483647, 9007199254740993, 1.5, -0.000123, 12.50, true,
       E'tab\there\nnew \\ back "q" \u00e9 \u20ac <&>', 'v', 'ab', '{"a" : [1, 2]}',
       '{"b": {"c": null}}', '\x00ff', '2026-11-24 02:34:37.913847',
       '2026-11-24 02:34:37.9+05', '2026-11-24', '13:14:15', '13:14:15+02', '1 day 02:00:00',
       'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '10.0.0.1/8', '{1,NULL,3}', '{"a b","c,d",NULL}',
       'happy', '{sad,happy}', 5, ROW(7, 'x"y'), 123456789012345678901234567890.5),
      (2, NULL, NULL, NULL, 'NaN', 'Infinity', 'NaN', NULL, '', NULL, NULL, NULL, NULL, '',
       'infinity', '-infinity', NULL, NULL, NULL, NULL, NULL, NULL, '{}', '{}', NULL, NULL, NULL,
       ROW(NULL, NULL), NULL),
      (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL))");

  auto r = Snapshot("snap_types");
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_EQ(r.out.size(), 3u) << r.err;
  auto want = ServerRows(conn, "snap_types");
  std::set<int64_t> seen;
  for (auto& line : r.out) {
    auto row = CheckEvent(line, "pgcdc:snap_types", "snap_types");
    const int64_t id = row["id"].as_int64();
    EXPECT_TRUE(seen.insert(id).second) << "row " << id << " twice";
    ASSERT_TRUE(want.count(id));
    ExpectSameRow(row, want[id], {"big"});
  }
  EXPECT_EQ(seen, (std::set<int64_t>{1, 2, 3}));
  // Stdout carries events only; the progress/summary logs go to stderr.
  EXPECT_NE(r.err.find("snapshot complete"), std::string::npos) << r.err;
}

TEST(SnapshotScenario, SchemaQualifiedTableIsQuotedPartByPart) {
  auto conn = Connect();
  ExecOrFail(conn, "DROP SCHEMA IF EXISTS s1 CASCADE");
  ExecOrFail(conn, "DROP TABLE IF EXISTS public.\"s1.items\"");
  ExecOrFail(conn, "CREATE SCHEMA s1");
  ExecOrFail(conn, "CREATE TYPE s1.color AS ENUM ('red', 'blue')");
  ExecOrFail(conn,
             "CREATE TABLE s1.items (id int PRIMARY KEY, name text, color s1.color, "
             "price numeric(10,2), tags text[], created timestamptz)");
  ExecOrFail(conn,
             "INSERT INTO s1.items VALUES (1, 'pen', 'blue', 1.25, '{a,b}', "
             "'2025-01-02 03:04:05+00'), (2, 'ink', NULL, NULL, NULL, NULL)");
  // A decoy that quoting "s1.items" as one identifier would find instead.
  ExecOrFail(conn, "CREATE TABLE public.\"s1.items\" (id int, decoy bool)");
  ExecOrFail(conn, "INSERT INTO public.\"s1.items\" VALUES (99, true)");

  auto r = Snapshot("s1.items");
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_EQ(r.out.size(), 2u) << r.err;
  auto want = ServerRows(conn, "s1.items");
  std::set<int64_t> seen;
  for (auto& line : r.out) {
    auto row = CheckEvent(line, "pgcdc:s1.items", "items");
    const int64_t id = row["id"].as_int64();
    seen.insert(id);
    ExpectSameRow(row, want[id]);
  }
  EXPECT_EQ(seen, (std::set<int64_t>{1, 2}));

  // The quoted form reaches the decoy; the channel keeps the string as given.
  r = Snapshot("\"s1.items\"");
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_EQ(r.out.size(), 1u);
  auto row = CheckEvent(r.out[0], "pgcdc:\"s1.items\"", "s1.items");
  EXPECT_EQ(row["id"].as_int64(), 99);
}

TEST(SnapshotScenario, WhereFilters) {
  auto conn = Connect();
  ExecOrFail(conn, "DROP TABLE IF EXISTS snap_where");
  ExecOrFail(conn, "CREATE TABLE snap_where (id int PRIMARY KEY, qty int, name text)");
  ExecOrFail(conn,
             "INSERT INTO snap_where SELECT g, g % 10, 'n' || g FROM generate_series(1, 50) g");
  auto r = Snapshot("public.snap_where", {"--where", "qty > 6 AND name <> 'n8'"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::set<int64_t> ids;
  for (auto& line : r.out) {
    auto row = CheckEvent(line, "pgcdc:public.snap_where", "snap_where");
    EXPECT_GT(row["qty"].as_int64(), 6);
    ids.insert(row["id"].as_int64());
  }
  std::set<int64_t> want;
  for (int g = 1; g <= 50; ++g) {
    if (g % 10 > 6 && g != 8) want.insert(g);
  }
  EXPECT_EQ(ids, want);
  EXPECT_EQ(r.out.size(), want.size());

  // A trailing SQL comment does not swallow anything.
  r = Snapshot("snap_where", {"--where", "qty = 9 -- only nines"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.size(), 5u);

  // A filter that matches nothing is a successful, empty export.
  r = Snapshot("snap_where", {"--where", "false"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(r.out.empty());
}

TEST(SnapshotScenario, TableWithoutColumns) {
  auto conn = Connect();
  ExecOrFail(conn, "DROP TABLE IF EXISTS snap_empty_cols");
  ExecOrFail(conn, "CREATE TABLE snap_empty_cols ()");
  ExecOrFail(conn, "INSERT INTO snap_empty_cols DEFAULT VALUES");
  ExecOrFail(conn, "INSERT INTO snap_empty_cols DEFAULT VALUES");
  auto r = Snapshot("snap_empty_cols");
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_EQ(r.out.size(), 2u);
  auto row = CheckEvent(r.out[0], "pgcdc:snap_empty_cols", "snap_empty_cols");
  EXPECT_TRUE(row.empty());
}

TEST(SnapshotScenario, HundredThousandRowsAllDelivered) {
  auto conn = Connect();
  ExecOrFail(conn, "DROP TABLE IF EXISTS snap_big");
  ExecOrFail(conn,
             "CREATE TABLE snap_big (id int PRIMARY KEY, name text, amount numeric, "
             "at timestamptz, flag bool)");
  ExecOrFail(conn,
             "INSERT INTO snap_big SELECT g, md5(g::text), g * 1.5, "
             "'2025-01-01'::timestamptz + g * interval '1 second', g % 2 = 0 "
             "FROM generate_series(1, 100000) g");
  ExecOrFail(conn, "ANALYZE snap_big");
  auto r = Snapshot("snap_big", {"--batch-size", "500"});
  ASSERT_EQ(r.code, 0) << r.err.substr(0, 4000);
  ASSERT_EQ(r.out.size(), 100000u);
  std::vector<bool> seen(100001, false);
  size_t dups = 0;
  for (auto& line : r.out) {
    // Cheap extraction: "row":{"id":N,
    const auto pos = line.find("\"row\":{\"id\":");
    ASSERT_NE(pos, std::string::npos) << line;
    const int64_t id = std::stoll(line.substr(pos + 12));
    ASSERT_TRUE(id >= 1 && id <= 100000);
    if (seen[id]) ++dups;
    seen[id] = true;
  }
  EXPECT_EQ(dups, 0u);
  // Not a terminal: progress is logged as structured lines, then a summary.
  EXPECT_NE(r.err.find("snapshot progress"), std::string::npos) << r.err.substr(0, 2000);
  std::smatch m;
  const std::regex summary(R"(snapshot complete.*rows=100000.*rows_per_second=(\d+))");
  ASSERT_TRUE(std::regex_search(r.err, m, summary)) << r.err.substr(0, 4000);
  std::printf("[ snapshot ] 100000 rows: exporter %s rows/s; end to end %.0f rows/s (%.2f s)\n",
              m[1].str().c_str(), 100000 / r.seconds, r.seconds);
  RecordProperty("rows_per_second", m[1].str());
}

TEST(SnapshotScenario, SlowSinkDelaysExitButLosesNothing) {
  auto conn = Connect();
  ExecOrFail(conn, "DROP TABLE IF EXISTS snap_slow");
  ExecOrFail(conn, "CREATE TABLE snap_slow (id int PRIMARY KEY, pad text)");
  ExecOrFail(conn,
             "INSERT INTO snap_slow SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g");
  auto p = Process::Start(
      {.args = {"snapshot", "--db", SharedCluster().Url(), "--table", "snap_slow", "--bus-buffer",
                "8", "--shutdown-timeout", "1s", "--metrics-addr", "127.0.0.1:0"}});
  ASSERT_TRUE(p);
  p->PauseStdout();  // ~4 MB of events cannot fit the pipe: the export blocks
  auto addr = p->HttpAddr("metrics");
  ASSERT_TRUE(addr) << p->Stderr();
  // While blocked, the metrics show the rows handed over so far.
  std::optional<double> exported;
  ASSERT_TRUE(Eventually([&] {
    auto m = HttpGet(*addr, "/metrics");
    if (!m || m->status != 200) return false;
    exported = MetricValue(m->body, "pgcdc_snapshot_rows_exported_total");
    return exported && *exported > 0 &&
           MetricValue(m->body, R"(pgcdc_snapshot_duration_seconds_bucket{le="600"})");
  })) << p->Stderr();
  EXPECT_LT(*exported, 20000);
  // Longer than the shutdown timeout: the command must still be waiting
  // for its sink rather than giving up.
  EXPECT_FALSE(p->Wait(1500ms).has_value()) << p->Stderr();
  p->ResumeStdout();
  ASSERT_EQ(p->Wait(60s), 0) << p->Stderr();
  EXPECT_EQ(p->StdoutLines().size(), 20000u);
}

TEST(SnapshotScenario, ExportedSnapshotGivesThatPointInTime) {
  auto conn = Connect();
  ExecOrFail(conn, "DROP TABLE IF EXISTS snap_pit");
  ExecOrFail(conn, "CREATE TABLE snap_pit (id int PRIMARY KEY)");
  ExecOrFail(conn, "INSERT INTO snap_pit VALUES (1), (2)");
  auto holder = Connect();
  ExecOrFail(holder, "BEGIN ISOLATION LEVEL REPEATABLE READ");
  auto name = holder.Query("SELECT pg_export_snapshot()");
  ASSERT_TRUE(name) << name.error().message();
  const std::string snap = *name->at(0).at(0);
  ExecOrFail(conn, "INSERT INTO snap_pit VALUES (3)");  // after the export point

  auto r = Snapshot("snap_pit", {"--snapshot-name", snap});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.size(), 2u);
  r = Snapshot("snap_pit");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.size(), 3u);
  ExecOrFail(holder, "COMMIT");

  // Once the exporting transaction is gone the snapshot cannot be adopted.
  r = Snapshot("snap_pit", {"--snapshot-name", snap});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(r.out.empty());
  EXPECT_NE(r.err.find("pgcdc snapshot: snapshot \"" + snap + "\""), std::string::npos) << r.err;
  // Not an id at all: a usage error, never interpolated into SQL.
  r = Snapshot("snap_pit", {"--snapshot-name", "x'; DROP TABLE snap_pit; --"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--snapshot-name"), std::string::npos) << r.err;
}

TEST(SnapshotScenario, ConfigLayeringFromEnvironment) {
  auto conn = Connect();
  ExecOrFail(conn, "DROP TABLE IF EXISTS snap_env");
  ExecOrFail(conn, "CREATE TABLE snap_env (id int PRIMARY KEY)");
  ExecOrFail(conn, "INSERT INTO snap_env VALUES (1)");
  auto r = RunPgcdc({"snapshot", "--table", "snap_env"},
                    {{"PGCDC_DATABASE_URL", SharedCluster().Url()}, {"PGCDC_LOG_FORMAT", "json"}});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.size(), 1u);
  EXPECT_NE(r.err.find("\"msg\":\"snapshot complete\""), std::string::npos) << r.err;
}

size_t Lines(const std::string& s) {
  return static_cast<size_t>(std::count(s.begin(), s.end(), '\n'));
}

TEST(SnapshotScenario, FailuresAreOneClearMessage) {
  auto conn = Connect();
  ExecOrFail(conn, "DROP TABLE IF EXISTS snap_fail");
  ExecOrFail(conn, "CREATE TABLE snap_fail (id int PRIMARY KEY, qty int)");
  ExecOrFail(conn, "INSERT INTO snap_fail VALUES (1, 1)");

  auto r = Snapshot("no_such_table");
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(r.out.empty());
  EXPECT_NE(r.err.find("pgcdc snapshot: table \"no_such_table\" does not exist"), std::string::npos)
      << r.err;
  EXPECT_EQ(Lines(r.err), 1u) << r.err;

  r = Snapshot("no_such_schema.snap_fail");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("table \"no_such_schema.snap_fail\" does not exist"), std::string::npos)
      << r.err;

  r = Snapshot("snap_fail", {"--where", "no_such_column = 1"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(r.out.empty());
  EXPECT_NE(r.err.find("pgcdc snapshot: invalid WHERE clause \"no_such_column = 1\": column "
                       "\"no_such_column\" does not exist"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(Lines(r.err), 1u) << r.err;

  r = Snapshot("snap_fail", {"--where", "qty >"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("invalid WHERE clause \"qty >\": syntax error at end of input"),
            std::string::npos)
      << r.err;
  r = Snapshot("snap_fail", {"--where", "qty > > 1"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("syntax error at or near \">\""), std::string::npos) << r.err;

  // A second statement cannot ride along in the filter.
  r = Snapshot("snap_fail", {"--where", "true); DROP TABLE snap_fail; SELECT (1"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("invalid WHERE clause"), std::string::npos) << r.err;
  auto still = conn.Query("SELECT count(*) FROM snap_fail");
  ASSERT_TRUE(still) << "table was dropped: " << still.error().message();

  auto port = pg::FreeLocalPort();
  ASSERT_TRUE(port);
  r = RunPgcdc({"snapshot", "--db",
                "postgres://postgres@127.0.0.1:" + std::to_string(*port) + "/postgres", "--table",
                "snap_fail"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("pgcdc snapshot: connect: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("refused"), std::string::npos) << r.err;
  EXPECT_EQ(Lines(r.err), 1u) << r.err;

  // Usage errors: exit 2.
  r = RunPgcdc({"snapshot", "--db", SharedCluster().Url()});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--table"), std::string::npos) << r.err;
  r = Snapshot("a.b.c");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--table: table name \"a.b.c\""), std::string::npos) << r.err;
  r = Snapshot("snap_fail", {"--batch-size", "0"});
  EXPECT_EQ(r.code, 2);
  r = RunPgcdc({"snapshot", "--table", "snap_fail"}, {{"PGCDC_DATABASE_URL", ""}});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("database_url: required"), std::string::npos) << r.err;
  r = Snapshot("snap_fail", {"-a", "nope"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("adapter \"nope\""), std::string::npos) << r.err;
}

// ---- The library underneath ---------------------------------------------------

struct LibFixture {
  pg::Conn conn = Connect();
  pgtypes::TypeCatalog catalog;
  LibFixture() {
    EXPECT_TRUE(snapshot::PrepareSession(conn));
    EXPECT_TRUE(snapshot::BeginSnapshotTransaction(conn));
  }
};

TEST(TableSnapshotLib, BatchesProgressAndSnapshotId) {
  {
    auto conn = Connect();
    ExecOrFail(conn, "DROP TABLE IF EXISTS snap_lib");
    ExecOrFail(conn, "CREATE TABLE snap_lib (id int PRIMARY KEY, v text)");
    ExecOrFail(conn, "INSERT INTO snap_lib SELECT g, 'v' || g FROM generate_series(1, 2500) g");
  }
  LibFixture f;
  snapshot::TableSnapshot ts(f.conn, f.catalog,
                             {.table = "snap_lib", .snapshot_id = "inc-1", .batch_size = 1000});
  ASSERT_TRUE(ts.Describe());
  ASSERT_EQ(ts.columns().size(), 2u);
  EXPECT_EQ(ts.columns()[0].name, "id");
  EXPECT_EQ(ts.columns()[0].type_oid, 23u);
  std::vector<size_t> sizes;
  std::vector<uint64_t> progress;
  std::string first_payload;
  auto stats = ts.Run(
      [&](EventBatch&& b) {
        if (first_payload.empty()) first_payload = b.events.front().payload;
        sizes.push_back(b.events.size());
        return true;
      },
      [&](uint64_t rows) { progress.push_back(rows); });
  ASSERT_TRUE(stats) << stats.error().message();
  EXPECT_TRUE(stats->completed);
  EXPECT_EQ(stats->rows, 2500u);
  EXPECT_EQ(stats->value_errors, 0u);
  EXPECT_EQ(sizes, (std::vector<size_t>{1000, 1000, 500}));
  EXPECT_EQ(progress, (std::vector<uint64_t>{1000, 2000, 2500}));
  EXPECT_EQ(first_payload,
            R"({"old":null,"op":"SNAPSHOT","row":{"id":1,"v":"v1"},"snapshot_id":"inc-1",)"
            R"("table":"snap_lib"})");
  EXPECT_TRUE(f.conn.Exec("COMMIT"));
}

TEST(TableSnapshotLib, EarlyStopCancelsTheCopyAndLeavesTheConnectionUsable) {
  {
    auto conn = Connect();
    ExecOrFail(conn, "DROP TABLE IF EXISTS snap_stop");
    ExecOrFail(conn, "CREATE TABLE snap_stop (id int PRIMARY KEY)");
    ExecOrFail(conn, "INSERT INTO snap_stop SELECT generate_series(1, 50000)");
  }
  LibFixture f;
  snapshot::TableSnapshot ts(f.conn, f.catalog, {.table = "snap_stop", .batch_size = 100});
  int calls = 0;
  auto stats = ts.Run([&](EventBatch&&) { return ++calls < 3; });
  ASSERT_TRUE(stats) << stats.error().message();
  EXPECT_FALSE(stats->completed);
  EXPECT_EQ(stats->rows, 200u);
  EXPECT_TRUE(f.conn.Exec("ROLLBACK"));
  auto one = f.conn.Query("SELECT 1");
  ASSERT_TRUE(one) << one.error().message();

  // A stop request ends the export the same way.
  ASSERT_TRUE(snapshot::BeginSnapshotTransaction(f.conn));
  snapshot::TableSnapshot again(f.conn, f.catalog, {.table = "snap_stop"});
  std::stop_source stop;
  stop.request_stop();
  stats = again.Run([&](EventBatch&&) { return true; }, {}, stop.get_token());
  ASSERT_TRUE(stats) << stats.error().message();
  EXPECT_FALSE(stats->completed);
  EXPECT_EQ(stats->rows, 0u);
  EXPECT_TRUE(f.conn.Exec("ROLLBACK"));
  EXPECT_TRUE(f.conn.Query("SELECT 1"));
}

TEST(TableSnapshotLib, DescribeErrorsAndEstimates) {
  {
    auto conn = Connect();
    ExecOrFail(conn, "DROP TABLE IF EXISTS snap_est");
    ExecOrFail(conn, "CREATE TABLE snap_est (id int)");
    ExecOrFail(conn, "INSERT INTO snap_est SELECT generate_series(1, 1234)");
  }
  LibFixture f;
  auto est = snapshot::EstimateRows(f.conn, "snap_est");
  ASSERT_TRUE(est) << est.error().message();
  EXPECT_EQ(*est, -1);  // never analysed
  EXPECT_TRUE(f.conn.Exec("ROLLBACK"));
  {
    auto conn = Connect();
    ExecOrFail(conn, "ANALYZE snap_est");
  }
  est = snapshot::EstimateRows(f.conn, "public.snap_est");
  ASSERT_TRUE(est) << est.error().message();
  EXPECT_EQ(*est, 1234);
  EXPECT_FALSE(snapshot::EstimateRows(f.conn, "no_such_table"));

  ASSERT_TRUE(snapshot::BeginSnapshotTransaction(f.conn));
  snapshot::TableSnapshot missing(f.conn, f.catalog, {.table = "nope.nope"});
  auto st = missing.Describe();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), ErrorCode::kNotFound);
  EXPECT_TRUE(f.conn.Exec("ROLLBACK"));

  ASSERT_TRUE(snapshot::BeginSnapshotTransaction(f.conn));
  snapshot::TableSnapshot bad(f.conn, f.catalog, {.table = "snap_est", .where = "id ="});
  st = bad.Describe();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(st.error().message().find("invalid WHERE clause"), std::string::npos);
  EXPECT_TRUE(f.conn.Exec("ROLLBACK"));
}

}  // namespace
}  // namespace pgcdc::testing
