// User journey: `pgcdc verify` checks that a sink holds what the table holds.
// WAL -> file sink, then verify (match); then rows removed, changed, added and
// reordered in the file, and a corrupt line (mismatch, exit 1, each reported).
// WAL -> pg_table sink, then a sink row removed and one changed. WAL -> Kafka
// (librdkafka mock cluster), then the table changed behind pgcdc's back. Bad
// input: no such table, no primary key, unreadable file, bad --against, a
// missing pg_table sink table, no --db (exit 2).
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>

#include "harness.h"
#include "json_util.h"
#include "kafka_clients.h"

namespace pgcdc::testing {
namespace {

// Every PostgreSQL type family the WAL source maps, one column each.
constexpr const char* kColumns =
    "id int PRIMARY KEY, s text, n numeric, big numeric, f float8, b bool, j json, jb jsonb, "
    "ts timestamp, tz timestamptz, d date, arr int[], tarr text[], ba bytea, u uuid, iv interval, "
    "m vt_mood, p vt_pair, rg int4range, tm time";

constexpr const char* kTypes =
    "DROP TYPE IF EXISTS vt_mood CASCADE; DROP TYPE IF EXISTS vt_pair CASCADE; "
    "CREATE TYPE vt_mood AS ENUM ('sad', 'happy'); CREATE TYPE vt_pair AS (a int, b text)";

// Rows 1..n with a value in every column, then updates, deletes and a row of
// NULLs: 2n/5 updates (ids <= n/5 twice: s, then f/n/tz), n/10 deletes, one insert.
void WriteRows(pg::Conn& conn, const std::string& table, int n) {
  const std::string t = pg::QuoteIdentifier(table);
  ExecOrFail(conn, "INSERT INTO " + t +
                       " SELECT g, E'row ' || g || E' \"q\"\\n\\\\ é', g * 1.5, "
                       "123456789012345678901234567890.123, 1e100 * g, g % 2 = 0, "
                       "'{\"b\": 1, \"a\": [1.0, 2]}', '{\"z\": 1e3, \"a\": \"x\"}', "
                       "'2024-01-02 03:04:05.123456', '2024-01-02 03:04:05+02', '2024-01-02', "
                       "'{1,2,NULL}', ARRAY['a b', 'c\"d'], '\\x00ff'::bytea, gen_random_uuid(), "
                       "'1 day 02:03:04', 'happy', ROW(g, 'x y')::vt_pair, '[1,5)', '12:34:56' "
                       "FROM generate_series(1, " +
                       std::to_string(n) + ") g");
  ExecOrFail(conn, "UPDATE " + t + " SET s = 'updated' WHERE id <= " + std::to_string(n / 5));
  ExecOrFail(conn, "UPDATE " + t + " SET f = 'NaN', n = 'Infinity', tz = '-infinity' WHERE id <= " +
                       std::to_string(n / 5));
  ExecOrFail(conn, "DELETE FROM " + t + " WHERE id > " + std::to_string(n - n / 10));
  ExecOrFail(conn, "INSERT INTO " + t + " (id) VALUES (100000)");
}

size_t EventsFor(int n) { return n + 2 * (n / 5) + n / 10 + 1; }

struct Verified {
  int exit_code = -1;
  std::string out;
  std::string err;
};

Verified Verify(const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"verify", "--db", SharedCluster().Url()};
  args.insert(args.end(), extra.begin(), extra.end());
  auto p = Process::Start({.args = args});
  if (!p) return {};
  Verified v;
  v.exit_code = p->Wait(60s).value_or(-1);
  for (const auto& line : p->StdoutLines()) v.out += line + "\n";
  v.err = p->Stderr();
  return v;
}

boost::json::object VerifyJson(const std::vector<std::string>& extra, int want_exit) {
  std::vector<std::string> args = extra;
  args.insert(args.end(), {"-o", "json"});
  const Verified v = Verify(args);
  EXPECT_EQ(v.exit_code, want_exit) << v.out << v.err;
  if (v.out.empty()) return {};
  return ParseJson(v.out).as_object();
}

uint64_t Count(const boost::json::object& report, const char* category) {
  return report.at(category).as_object().at("count").to_number<uint64_t>();
}

// The example keys of a category, as compact JSON ("{\"id\":5}").
std::vector<std::string> ExampleKeys(const boost::json::object& report, const char* category) {
  std::vector<std::string> keys;
  for (const auto& e : report.at(category).as_object().at("examples").as_array()) {
    keys.push_back(boost::json::serialize(e.as_object().at("key")));
  }
  return keys;
}

void StopPipeline(Process& p) {
  p.Signal(SIGTERM);
  EXPECT_EQ(p.Wait(30s), 0) << p.Stderr();
}

std::unique_ptr<Process> StartWal(const std::string& publication,
                                  const std::vector<std::string>& sink_args) {
  auto p = Process::Start({.args = WalListenArgs(publication, sink_args)});
  EXPECT_TRUE(p);
  if (p) {
    EXPECT_TRUE(p->WaitForStderr("streaming detector=wal", 30s)) << p->Stderr();
  }
  return p;
}

void WriteLines(const std::string& path, const std::vector<std::string>& lines) {
  std::ofstream out(path, std::ios::trunc);
  for (const auto& l : lines) out << l << "\n";
}

// The row id of a file sink line ("" for lines without one).
std::string LineId(const std::string& line) {
  const size_t at = line.find("\"row\":{\"id\":");
  if (at == std::string::npos) return "";
  const size_t start = at + 12;
  return line.substr(start, line.find_first_of(",}", start) - start);
}

// ---------------------------------------------------------------------------

TEST(VerifyScenario, FileSinkMatchesThenReportsRemovedChangedExtraAndReorderedRows) {
  auto conn = Connect();
  ExecOrFail(conn, kTypes);
  FreshPublishedTable(conn, "vt_file", kColumns, "p_vtfile");
  TempDir dir;
  const std::string path = dir.path + "/out.jsonl";
  auto p = StartWal("p_vtfile", {"-a", "file", "--file-path", path});
  ASSERT_TRUE(p);
  WriteRows(conn, "vt_file", 50);
  ASSERT_TRUE(Eventually([&] { return ReadFileLines(path).size() >= EventsFor(50); }, 30s));
  StopPipeline(*p);

  const Verified ok = Verify({"--table", "vt_file", "--against", "file:" + path, "--check-order"});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("matching  46"), std::string::npos) << ok.out;
  EXPECT_NE(ok.out.find("result: MATCH"), std::string::npos) << ok.out;

  // Remove every event of row 5, change row 7's last image, add a row the
  // table does not have, move an old image of row 3 to the end, and corrupt a line.
  std::vector<std::string> lines;
  std::string old_row3;
  for (const auto& l : ReadFileLines(path)) {
    if (LineId(l) == "5") continue;
    if (LineId(l) == "3" && old_row3.empty()) old_row3 = l;
    lines.push_back(l);
  }
  for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
    if (LineId(*it) != "7") continue;
    const size_t s = it->find("\"s\":\"updated\"");
    ASSERT_NE(s, std::string::npos) << *it;
    it->replace(s, 13, "\"s\":\"tampered\"");
    break;
  }
  std::string extra = lines.front();
  extra.replace(extra.find("\"row\":{\"id\":1,"), 14, "\"row\":{\"id\":777,");
  lines.push_back(extra);
  lines.push_back("{\"id\":\"cut in the mid");
  lines.push_back(old_row3);
  const std::string edited = dir.path + "/edited.jsonl";
  WriteLines(edited, lines);

  auto report = VerifyJson({"--table", "vt_file", "--against", "file:" + edited}, 1);
  ASSERT_FALSE(report.empty());
  EXPECT_FALSE(report.at("match").as_bool());
  EXPECT_EQ(Count(report, "missing"), 1u);
  EXPECT_EQ(ExampleKeys(report, "missing"), std::vector<std::string>{"{\"id\":5}"});
  EXPECT_EQ(Count(report, "differing"), 2u) << "row 7 tampered, row 3 rolled back";
  EXPECT_EQ(ExampleKeys(report, "differing"),
            (std::vector<std::string>{"{\"id\":3}", "{\"id\":7}"}));
  const auto& row7 = report.at("differing").as_object().at("examples").as_array()[1].as_object();
  EXPECT_EQ(boost::json::serialize(row7.at("columns")), "[\"s\"]");
  EXPECT_EQ(row7.at("sink").as_object().at("s").as_string(), "tampered");
  EXPECT_EQ(Count(report, "extra"), 1u);
  EXPECT_EQ(ExampleKeys(report, "extra"), std::vector<std::string>{"{\"id\":777}"});
  const auto& sink = report.at("sink").as_object();
  EXPECT_EQ(sink.at("unreadable").as_object().at("count").to_number<int>(), 1);

  auto ordered =
      VerifyJson({"--table", "vt_file", "--against", "file:" + edited, "--check-order"}, 1);
  ASSERT_FALSE(ordered.empty());
  const auto& order = ordered.at("order").as_object();
  EXPECT_EQ(order.at("violations").as_object().at("count").to_number<int>(), 0)
      << "the moved and the copied lines repeat ids already seen: duplicates, not reordering";
  EXPECT_EQ(order.at("duplicates").to_number<int>(), 2);

  // Human summary of the same.
  const Verified text = Verify({"--table", "vt_file", "--against", "file:" + edited});
  EXPECT_EQ(text.exit_code, 1);
  EXPECT_NE(text.out.find("missing   1"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("result: MISMATCH"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("edited.jsonl:"), std::string::npos) << "the corrupt line is located";
}

TEST(VerifyScenario, OrderCheckFindsAnEventDeliveredOutOfOrder) {
  auto conn = Connect();
  FreshPublishedTable(conn, "vt_order", "id int PRIMARY KEY, v int", "p_vtorder");
  TempDir dir;
  const std::string path = dir.path + "/out.jsonl";
  auto p = StartWal("p_vtorder", {"-a", "file", "--file-path", path});
  ASSERT_TRUE(p);
  ExecOrFail(conn, "INSERT INTO vt_order VALUES (1, 1)");
  ExecOrFail(conn, "UPDATE vt_order SET v = 2");
  ExecOrFail(conn, "UPDATE vt_order SET v = 3");
  ASSERT_TRUE(Eventually([&] { return ReadFileLines(path).size() >= 3; }, 30s));
  StopPipeline(*p);
  auto lines = ReadFileLines(path);
  ASSERT_EQ(lines.size(), 3u);
  std::swap(lines[1], lines[2]);  // v=3 delivered before v=2
  WriteLines(path, lines);
  auto report =
      VerifyJson({"--table", "vt_order", "--against", "file:" + path, "--check-order"}, 1);
  ASSERT_FALSE(report.empty());
  EXPECT_EQ(Count(report, "differing"), 1u) << "the sink ends with v=2";
  const auto& violations = report.at("order").as_object().at("violations").as_object();
  EXPECT_EQ(violations.at("count").to_number<int>(), 1);
}

TEST(VerifyScenario, SchemaQualifiedTableWithACompositeKeyAndOtherTablesInTheSink) {
  auto conn = Connect();
  ExecOrFail(conn,
             "DROP SCHEMA IF EXISTS vt_s CASCADE; CREATE SCHEMA vt_s; "
             "CREATE TABLE vt_s.lines (order_id int, sku text, qty int, PRIMARY KEY (order_id, "
             "sku)); CREATE TABLE vt_s.other (id int PRIMARY KEY, v text); "
             "DROP PUBLICATION IF EXISTS p_vts; CREATE PUBLICATION p_vts FOR TABLE vt_s.lines, "
             "vt_s.other");
  TempDir dir;
  const std::string path = dir.path + "/out.jsonl";
  auto p = StartWal("p_vts", {"-a", "file", "--file-path", path});
  ASSERT_TRUE(p);
  ExecOrFail(conn,
             "INSERT INTO vt_s.lines SELECT g / 3, 'sku-' || g % 3, g FROM "
             "generate_series(3, 32) g");
  ExecOrFail(conn, "INSERT INTO vt_s.other SELECT g, 'x' FROM generate_series(1, 5) g");
  ExecOrFail(conn, "UPDATE vt_s.lines SET sku = 'renamed' WHERE order_id = 2 AND sku = 'sku-0'");
  ExecOrFail(conn, "DELETE FROM vt_s.lines WHERE order_id = 3");
  ASSERT_TRUE(Eventually([&] { return ReadFileLines(path).size() >= 30 + 5 + 1 + 3; }, 30s));
  StopPipeline(*p);

  auto ok = VerifyJson({"--table", "vt_s.lines", "--against", "file:" + path, "--check-order"}, 0);
  ASSERT_FALSE(ok.empty());
  EXPECT_EQ(ok.at("matching").to_number<int>(), 27);
  EXPECT_EQ(ok.at("sink").as_object().at("other_tables").to_number<int>(), 5);
  ExecOrFail(conn, "DROP PUBLICATION p_vts");
  ExecOrFail(conn, "UPDATE vt_s.lines SET qty = 0 WHERE order_id = 4 AND sku = 'sku-1'");
  auto changed = VerifyJson({"--table", "vt_s.lines", "--against", "file:" + path}, 1);
  ASSERT_FALSE(changed.empty());
  EXPECT_EQ(ExampleKeys(changed, "differing"),
            std::vector<std::string>{"{\"order_id\":4,\"sku\":\"sku-1\"}"});
}

TEST(VerifyScenario, PgTableSinkWithARemovedAndAChangedRow) {
  auto conn = Connect();
  ExecOrFail(conn, kTypes);
  FreshPublishedTable(conn, "vt_pg", kColumns, "p_vtpg");
  const CommandResult ddl =
      RunCommand({PgcdcBinary(), "init", "--adapter", "pg_table", "--table", "vt_events"});
  ASSERT_EQ(ddl.exit_code, 0) << ddl.output;
  ExecOrFail(conn, "DROP TABLE IF EXISTS vt_events; " + ddl.output);
  auto p = StartWal("p_vtpg", {"-a", "pg_table", "--pg-table-name", "vt_events"});
  ASSERT_TRUE(p);
  WriteRows(conn, "vt_pg", 40);
  ASSERT_TRUE(Eventually(
      [&] {
        auto r = conn.Query("SELECT count(*) FROM vt_events");
        return r && std::stoul(*(*r)[0][0]) >= EventsFor(40);
      },
      30s));
  StopPipeline(*p);

  const std::string against = "pg_table:" + SharedCluster().Url() + "/vt_events";
  const Verified ok = Verify({"--table", "vt_pg", "--against", against});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;

  ExecOrFail(conn, "DELETE FROM vt_events WHERE payload->'row'->>'id' = '20'");
  ExecOrFail(conn,
             "UPDATE vt_events SET payload = jsonb_set(payload, '{row,jb,z}', '1001') "
             "WHERE payload->'row'->>'id' = '30'");
  auto report = VerifyJson({"--table", "vt_pg", "--against", against}, 1);
  ASSERT_FALSE(report.empty());
  EXPECT_EQ(ExampleKeys(report, "missing"), std::vector<std::string>{"{\"id\":20}"});
  EXPECT_EQ(ExampleKeys(report, "differing"), std::vector<std::string>{"{\"id\":30}"});
  EXPECT_EQ(Count(report, "extra"), 0u);
  EXPECT_EQ(boost::json::serialize(
                report.at("differing").as_object().at("examples").as_array()[0].at("columns")),
            "[\"jb\"]");

  // The sink table in the --db database, named without a DSN.
  auto local = VerifyJson({"--table", "vt_pg", "--against", "pg_table:vt_events"}, 1);
  ASSERT_FALSE(local.empty());
  EXPECT_EQ(Count(local, "missing"), 1u);
}

TEST(VerifyScenario, KafkaTopicAgainstATableChangedBehindPgcdcsBack) {
  auto mock = MockKafka::Start({"--brokers", "2"});
  ASSERT_TRUE(mock);
  auto conn = Connect();
  FreshPublishedTable(conn, "vt_kafka", "id int PRIMARY KEY, status text, amount numeric",
                      "p_vtkafka");
  auto p = StartWal("p_vtkafka", {"-a", "kafka", "--kafka-brokers", mock->bootstrap()});
  ASSERT_TRUE(p);
  ExecOrFail(conn, "INSERT INTO vt_kafka SELECT g, 'new', g * 1.25 FROM generate_series(1, 200) g");
  ExecOrFail(conn, "UPDATE vt_kafka SET status = 'paid' WHERE id % 3 = 0");
  ExecOrFail(conn, "DELETE FROM vt_kafka WHERE id > 190");
  constexpr double kEvents = 200 + 66 + 10;
  ASSERT_TRUE(Eventually(
      [&] {
        auto v = ScrapeMetric(*p, "pgcdc_kafka_records_delivered_total");
        return v && *v >= kEvents;
      },
      60s));
  StopPipeline(*p);

  const std::string against = "kafka:" + mock->bootstrap() + "/pgcdc.vt_kafka";
  auto ok = VerifyJson({"--table", "vt_kafka", "--against", against, "--check-order"}, 0);
  ASSERT_FALSE(ok.empty());
  EXPECT_EQ(ok.at("matching").to_number<int>(), 190);
  EXPECT_EQ(ok.at("order").as_object().at("positioned_events").to_number<int>(), kEvents)
      << "ids come from the pgcdc-event-id header";

  // Changes pgcdc never saw: the sink now lacks, misses and holds stale rows.
  ExecOrFail(conn, "DROP PUBLICATION p_vtkafka");
  ExecOrFail(conn, "DELETE FROM vt_kafka WHERE id = 1");
  ExecOrFail(conn, "UPDATE vt_kafka SET amount = 0 WHERE id = 2");
  ExecOrFail(conn, "INSERT INTO vt_kafka VALUES (500, 'new', 1)");
  auto report = VerifyJson({"--table", "vt_kafka", "--against", against}, 1);
  ASSERT_FALSE(report.empty());
  EXPECT_EQ(ExampleKeys(report, "extra"), std::vector<std::string>{"{\"id\":1}"});
  EXPECT_EQ(ExampleKeys(report, "differing"), std::vector<std::string>{"{\"id\":2}"});
  EXPECT_EQ(ExampleKeys(report, "missing"), std::vector<std::string>{"{\"id\":500}"});

  const Verified no_topic =
      Verify({"--table", "vt_kafka", "--against", "kafka:" + mock->bootstrap() + "/nope",
              "--kafka-timeout", "5s"});
  EXPECT_NE(no_topic.exit_code, 0) << no_topic.out;
  EXPECT_NE(no_topic.exit_code, -1) << "exits within the timeout";
}

TEST(VerifyScenario, BadInputIsAClearUsageError) {
  auto conn = Connect();
  ExecOrFail(conn,
             "DROP TABLE IF EXISTS vt_nopk; CREATE TABLE vt_nopk (a int); "
             "DROP TABLE IF EXISTS vt_bad; CREATE TABLE vt_bad (id int PRIMARY KEY)");
  TempDir dir;
  const std::string file = dir.Write("empty.jsonl", "");
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"--table", "vt_missing", "--against", "file:" + file}, "\"vt_missing\" does not exist"},
      {{"--table", "vt_nopk", "--against", "file:" + file}, "has no primary key"},
      {{"--table", "vt_bad", "--against", "file:" + dir.path + "/nope.jsonl"}, "cannot read"},
      {{"--table", "vt_bad", "--against", "file:" + dir.path}, "is not a file"},
      {{"--table", "vt_bad", "--against", "s3:bucket/key"}, "unknown sink \"s3\""},
      {{"--table", "vt_bad", "--against", "pg_table:vt_no_events"}, "does not exist"},
      {{"--table", "vt_bad", "--against", "file:" + file, "--ignore-columns", "id"},
       "primary key column"},
      {{"--table", "vt_bad"}, "--against is required"},
  };
  for (const auto& c : cases) {
    const Verified v = Verify(c.args);
    EXPECT_EQ(v.exit_code, 2) << c.message << "\n" << v.out << v.err;
    EXPECT_NE(v.err.find(c.message), std::string::npos) << c.message << "\n" << v.err;
  }
  auto p = Process::Start({.args = {"verify", "--table", "t", "--against", "file:x"},
                           .env = {{"PGCDC_DATABASE_URL", ""}}});
  ASSERT_TRUE(p);
  EXPECT_EQ(p->Wait(), 2);
  EXPECT_NE(p->Stderr().find("database_url: required"), std::string::npos) << p->Stderr();

  // An empty table against an empty file matches.
  const Verified empty = Verify({"--table", "vt_bad", "--against", "file:" + file});
  EXPECT_EQ(empty.exit_code, 0) << empty.out << empty.err;
}

}  // namespace
}  // namespace pgcdc::testing
