// User journeys with several detectors in one pipeline (`detectors:` in YAML,
// or --detector repeated): two PostgreSQL databases streamed in parallel into
// one sink, each with its own slot and checkpoint, surviving kill -9 without
// losing a row; failover from an unreachable PostgreSQL to a reachable one;
// configuration mistakes refused with exit code 2.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "harness.h"
#include "json_util.h"

namespace pgcdc::testing {
namespace {

constexpr const char* kSecondDb = "multi_b";

void EnsureSecondDatabase() {
  auto conn = Connect();
  auto exists =
      conn.Query("SELECT 1 FROM pg_database WHERE datname = '" + std::string(kSecondDb) + "'");
  ASSERT_TRUE(exists) << exists.error().message();
  if (exists->empty()) ExecOrFail(conn, "CREATE DATABASE " + std::string(kSecondDb));
}

pg::Conn ConnectTo(const std::string& db) {
  auto c = pg::Conn::Open(SharedCluster().Url(db));
  if (!c) {
    ADD_FAILURE() << c.error().message();
    return pg::Conn();
  }
  return std::move(*c);
}

// A fresh table `t` (id int primary key, src text) published as `pub` in
// database `db`, with slot `slot` and its checkpoint forgotten.
void FreshTableIn(const std::string& db, const std::string& table, const std::string& pub,
                  const std::string& slot) {
  auto conn = ConnectTo(db);
  (void)conn.Exec("SELECT pg_drop_replication_slot('" + slot + "') FROM pg_replication_slots " +
                  "WHERE slot_name = '" + slot + "'");
  (void)conn.Exec("DELETE FROM pgcdc_checkpoints WHERE slot_name = '" + slot + "'");
  ExecOrFail(conn, "DROP TABLE IF EXISTS " + table);
  ExecOrFail(conn, "CREATE TABLE " + table + " (id int PRIMARY KEY, src text)");
  ExecOrFail(conn, "DROP PUBLICATION IF EXISTS " + pub);
  ExecOrFail(conn, "CREATE PUBLICATION " + pub + " FOR TABLE " + table);
}

void InsertRows(const std::string& db, const std::string& table, int first, int last) {
  auto conn = ConnectTo(db);
  for (int from = first; from <= last; from += 25) {
    const int to = std::min(last, from + 24);
    ExecOrFail(conn, "INSERT INTO " + table + " SELECT g, '" + db + "' FROM generate_series(" +
                         std::to_string(from) + ", " + std::to_string(to) + ") g");
  }
}

// {db}/{id} of every INSERT line on stdout.
std::set<std::string> RowsSeen(const std::vector<std::string>& lines) {
  std::set<std::string> out;
  for (const auto& line : lines) {
    auto v = ParseJson(line);
    if (!v.is_object() || !v.as_object().contains("payload")) continue;
    const auto& p = v.at("payload");
    if (!p.is_object() || !p.as_object().contains("row")) continue;
    const auto& row = p.at("row");
    out.insert(std::string(row.at("src").as_string()) + "/" +
               std::to_string(row.at("id").as_int64()));
  }
  return out;
}

size_t Count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

std::vector<std::string> ListenWithConfig(const std::string& config_path,
                                          const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args = {"listen", "--config", config_path, "--http-addr", "127.0.0.1:0"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

std::string TwoDatabaseConfig() {
  const std::string a = SharedCluster().Url();
  const std::string b = SharedCluster().Url(kSecondDb);
  return "adapters: [stdout]\n"
         "detector_mode: parallel\n"
         "detector:\n"
         "  backoff_base: 100ms\n"
         "  backoff_cap: 500ms\n"
         "  persistent_slot: true\n"
         "detectors:\n"
         "  - type: wal\n"
         "    name: orders_a\n"
         "    database_url: \"" +
         a +
         "\"\n"
         "    publication: multi_pub_a\n"
         "    slot_name: multi_slot_a\n"
         "    status_interval: 200ms\n"
         "  - type: wal\n"
         "    name: orders_b\n"
         "    database_url: \"" +
         b +
         "\"\n"
         "    publication: multi_pub_b\n"
         "    slot_name: multi_slot_b\n"
         "    status_interval: 200ms\n";
}

std::unique_ptr<Process> StartBothStreaming(const std::vector<std::string>& args) {
  auto p = Process::Start({.args = args});
  if (!p) return nullptr;
  const bool both =
      Eventually([&] { return Count(p->Stderr(), "streaming detector=wal") >= 2; }, 30s);
  if (!both) {
    ADD_FAILURE() << "both wal children did not start streaming: " << p->Stderr();
    return nullptr;
  }
  return p;
}

// Waits (30 s at most) until children orders_a and orders_b have each
// published at least `n` events.
bool BothChildrenPublished(Process& p, double n) {
  auto child_events = [&](const std::string& child) {
    return ScrapeMetric(p, "pgcdc_detector_child_events_total{child=\"" + child + "\"}")
        .value_or(0);
  };
  return Eventually([&] { return child_events("orders_a") >= n && child_events("orders_b") >= n; },
                    30s);
}

TEST(MultiDetectorTest, ParallelWalFromTwoDatabasesSurvivesKillNine) {
  EnsureSecondDatabase();
  FreshTableIn("postgres", "multi_orders", "multi_pub_a", "multi_slot_a");
  FreshTableIn(kSecondDb, "multi_orders", "multi_pub_b", "multi_slot_b");
  TempDir dir;
  const std::string cfg = dir.Write("pgcdc.yaml", TwoDatabaseConfig());

  std::set<std::string> seen;
  {
    auto p = StartBothStreaming(ListenWithConfig(cfg));
    ASSERT_TRUE(p);
    InsertRows("postgres", "multi_orders", 1, 1);
    InsertRows(kSecondDb, "multi_orders", 1, 1);
    ASSERT_TRUE(p->WaitForLines(2, 30s)) << p->Stderr();
    // The sink stalls (stdout not read) while both children read 400 rows
    // each and confirm to their slots a few times: each must confirm only
    // what reached stdout, in its own numbering, or the kill loses rows.
    p->PauseStdout();
    for (int first = 2; first <= 400; first += 50) {  // interleaved
      InsertRows("postgres", "multi_orders", first, std::min(400, first + 49));
      InsertRows(kSecondDb, "multi_orders", first, std::min(400, first + 49));
    }
    ASSERT_TRUE(BothChildrenPublished(*p, 400)) << p->Stderr();
    const double saved = ScrapeMetric(*p, "pgcdc_checkpoint_total").value_or(0);
    ASSERT_TRUE(Eventually(
        [&] { return ScrapeMetric(*p, "pgcdc_checkpoint_total").value_or(0) >= saved + 6; }, 30s));
    // Per-child health.
    const std::string health = Healthz(*p);
    EXPECT_NE(health.find("\"detector:orders_a\""), std::string::npos) << health;
    EXPECT_NE(health.find("\"detector:orders_b\""), std::string::npos) << health;
    p->Signal(SIGKILL);
    p->ResumeStdout();
    (void)p->Wait();
    seen = RowsSeen(p->StdoutLines());
    EXPECT_LT(seen.size(), 800u);  // the kill came mid-stream
  }
  // Rows written while nothing ran, then a second run: every row of both
  // databases arrives (the first run's unconfirmed tail again, at least once).
  InsertRows("postgres", "multi_orders", 401, 500);
  InsertRows(kSecondDb, "multi_orders", 401, 500);
  auto p = StartBothStreaming(ListenWithConfig(cfg));
  ASSERT_TRUE(p);
  std::set<std::string> want;
  for (const char* db : {"postgres", kSecondDb}) {
    for (int i = 1; i <= 500; ++i) want.insert(std::string(db) + "/" + std::to_string(i));
  }
  const bool all = Eventually(
      [&] {
        std::set<std::string> now = seen;
        for (auto& r : RowsSeen(p->StdoutLines())) now.insert(r);
        return now == want;
      },
      60s);
  std::set<std::string> now = seen;
  for (auto& r : RowsSeen(p->StdoutLines())) now.insert(r);
  EXPECT_TRUE(all) << "rows missing: " << want.size() - now.size() << " of " << want.size();
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
}

// A clean stop while the sink is behind: both children publish what they
// hold, the sink finishes its queue, and only then does each child confirm,
// so the next run repeats nothing of either database.
TEST(MultiDetectorTest, CleanStopConfirmsBothChildrenSoARestartRepeatsNothing) {
  EnsureSecondDatabase();
  FreshTableIn("postgres", "multi_stop", "multi_pub_a", "multi_slot_a");
  FreshTableIn(kSecondDb, "multi_stop", "multi_pub_b", "multi_slot_b");
  TempDir dir;
  const std::string cfg = dir.Write("pgcdc.yaml", TwoDatabaseConfig());
  {
    auto p = StartBothStreaming(ListenWithConfig(cfg, {"--shutdown-timeout", "30s"}));
    ASSERT_TRUE(p);
    p->PauseStdout();  // the sink falls behind
    InsertRows("postgres", "multi_stop", 1, 300);
    InsertRows(kSecondDb, "multi_stop", 1, 300);
    ASSERT_TRUE(BothChildrenPublished(*p, 300)) << p->Stderr();
    p->Signal(SIGTERM);
    // The sink stays stalled longer than a child alone would wait for it
    // (2.5 s): the children must wait for the drain of the whole pipeline.
    std::this_thread::sleep_for(3500ms);
    p->ResumeStdout();
    ASSERT_EQ(p->Wait(), 0) << p->Stderr();
    EXPECT_EQ(RowsSeen(p->StdoutLines()).size(), 600u);
  }
  InsertRows("postgres", "multi_stop", 301, 301);
  InsertRows(kSecondDb, "multi_stop", 301, 301);
  auto p = StartBothStreaming(ListenWithConfig(cfg));
  ASSERT_TRUE(p);
  // Each database's events arrive in its WAL order: a repeated row would come
  // before that database's new one.
  const std::set<std::string> want = {"postgres/301", std::string(kSecondDb) + "/301"};
  ASSERT_TRUE(Eventually(
      [&] {
        auto seen = RowsSeen(p->StdoutLines());
        return seen.contains(*want.begin()) && seen.contains(*want.rbegin());
      },
      30s))
      << p->Stderr();
  EXPECT_EQ(RowsSeen(p->StdoutLines()), want);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
}

TEST(MultiDetectorTest, FailoverFromAnUnreachablePostgres) {
  auto setup = Connect();
  FreshPublishedTable(setup, "multi_fo", "id int primary key", "multi_fo_pub");
  TempDir dir;
  const std::string cfg = dir.Write("pgcdc.yaml",
                                    "adapters: [stdout]\n"
                                    "detector_mode: failover\n"
                                    "detector:\n"
                                    "  failover_timeout: 2s\n"
                                    "  backoff_base: 100ms\n"
                                    "  backoff_cap: 300ms\n"
                                    "detectors:\n"
                                    "  - type: wal\n"
                                    "    name: primary\n"
                                    "    database_url: \"postgres://postgres@127.0.0.1:" +
                                        std::to_string(FreeTcpPort()) +
                                        "/postgres?connect_timeout=1\"\n"
                                        "    publication: multi_fo_pub\n"
                                        "  - type: wal\n"
                                        "    name: standby\n"
                                        "    database_url: \"" +
                                        SharedCluster().Url() +
                                        "\"\n"
                                        "    publication: multi_fo_pub\n");
  auto p = Process::Start({.args = ListenWithConfig(cfg)});
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->WaitForStderr("failing over to the next detector", 30s)) << p->Stderr();
  ASSERT_TRUE(p->WaitForStderr("streaming detector=wal", 30s)) << p->Stderr();
  auto conn = Connect();
  ExecOrFail(conn, "INSERT INTO multi_fo SELECT generate_series(1, 20)");
  ASSERT_TRUE(p->WaitForLines(20, 30s)) << p->Stderr();
  EXPECT_EQ(ScrapeMetric(*p, "pgcdc_detector_failovers_total"), 1.0);
  const std::string health = Healthz(*p);
  EXPECT_NE(health.find("failed over"), std::string::npos) << health;
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
}

TEST(MultiDetectorTest, RepeatedDetectorFlagRunsBoth) {
  // --detector wal --detector outbox: both children share the top-level flags.
  auto conn = Connect();
  FreshPublishedTable(conn, "multi_rep", "id int primary key", "multi_rep_pub");
  auto init = RunCommand({PgcdcBinary(), "init", "--table", "multi_outbox", "--adapter", "outbox"});
  ASSERT_EQ(init.exit_code, 0) << init.output;
  ExecOrFail(conn, "DROP TABLE IF EXISTS multi_outbox");
  ExecOrFail(conn, init.output);
  auto p =
      Process::Start({.args = WalListenArgs("multi_rep_pub",
                                            {"--detector", "outbox", "--outbox-table",
                                             "multi_outbox", "--outbox-poll-interval", "100ms"})});
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->WaitForStderr("streaming detector=wal", 30s)) << p->Stderr();
  ExecOrFail(conn, "INSERT INTO multi_rep VALUES (1)");
  ExecOrFail(conn,
             "INSERT INTO multi_outbox (channel, payload) VALUES ('outbox:orders', '{\"n\": 1}')");
  ASSERT_TRUE(p->WaitForLines(2, 30s)) << p->Stderr();
  std::set<std::string> channels;
  for (const auto& l : p->StdoutLines()) {
    channels.insert(std::string(ParseJson(l).at("channel").as_string()));
  }
  EXPECT_TRUE(channels.contains("outbox:orders")) << p->Stderr();
  EXPECT_EQ(channels.size(), 2u);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
}

TEST(MultiDetectorTest, DoctorChecksEveryChild) {
  auto conn = Connect();
  FreshPublishedTable(conn, "multi_doc", "id int primary key", "multi_doc_pub");
  TempDir dir;
  const std::string cfg =
      dir.Write("pgcdc.yaml",
                "adapters: [stdout]\n"
                "detectors:\n"
                "  - {type: wal, name: good, publication: multi_doc_pub, database_url: \"" +
                    SharedCluster().Url() +
                    "\"}\n"
                    "  - {type: wal, name: down, publication: multi_doc_pub, database_url: "
                    "\"postgres://postgres@127.0.0.1:" +
                    std::to_string(FreeTcpPort()) + "/postgres\"}\n");
  auto r = RunCommand({PgcdcBinary(), "doctor", "--config", cfg});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("wal:good"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("wal:down"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Connection refused"), std::string::npos) << r.output;
}

TEST(MultiDetectorTest, BadConfigurationsAreUsageErrors) {
  TempDir dir;
  struct Case {
    std::string yaml;
    std::string want;
  };
  const std::vector<Case> cases = {
      {"detectors:\n  - type: wal\n  - type: nosuch\n", "detectors[1] (nosuch): unknown detector"},
      {"detectors:\n  - type: wal\n    publication: p\n    adapters: [stdout]\n",
       "adapters is not a setting of detector wal"},
      {"detectors:\n  - type: wal\n    publicaton: p\n", "publicaton"},
      {"detectors:\n  - {type: wal, name: x}\n  - {type: wal, name: x}\n", "\"x\" is used twice"},
      {"detectors: {type: wal}\n", "must be a non-empty list"},
      {"detector_mode: round-robin\ndetectors:\n  - type: wal\n", "detector_mode"},
  };
  for (const auto& c : cases) {
    const std::string cfg = dir.Write("bad.yaml", "adapters: [stdout]\n" + c.yaml);
    auto [code, err] = RunToExit({"listen", "--config", cfg, "--db", SharedCluster().Url()});
    EXPECT_EQ(code, 2) << c.yaml << err;
    EXPECT_NE(err.find(c.want), std::string::npos) << c.yaml << err;
  }
  // Both a list and --detector.
  const std::string cfg = dir.Write("both.yaml", "adapters: [stdout]\ndetectors:\n  - type: wal\n");
  auto [code, err] = RunToExit({"listen", "--config", cfg, "--detector", "outbox"});
  EXPECT_EQ(code, 2) << err;
  EXPECT_NE(err.find("cannot be combined"), std::string::npos) << err;
}

}  // namespace
}  // namespace pgcdc::testing
