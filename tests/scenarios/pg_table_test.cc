// User journey: archive change events in a PostgreSQL table. pgcdc inserts
// one row per event in batches; when its session is killed it reconnects and
// retries without losing a row; rows the server rejects (duplicate key, check
// constraint, invalid JSONB) go to the dead letter queue while the others are
// inserted; a missing table is a clear start-up error.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <set>
#include <thread>

#include "harness.h"
#include "json_util.h"

namespace pgcdc::testing {
namespace {

// The events table as SPEC §5.7 defines it (what `pgcdc init --adapter
// pg_table` prints).
std::string EventsDdl(const std::string& quoted) {
  return "CREATE TABLE " + quoted +
         " (id TEXT PRIMARY KEY, channel TEXT NOT NULL, operation TEXT NOT NULL, payload JSONB "
         "NOT NULL, source TEXT NOT NULL, created_at TIMESTAMPTZ NOT NULL)";
}

int64_t Scalar(pg::Conn& conn, const std::string& sql) {
  auto r = conn.Query(sql);
  EXPECT_TRUE(r) << sql << ": " << (r ? "" : r.error().message());
  if (!r || r->empty() || !(*r)[0][0]) return -1;
  return std::stoll(*(*r)[0][0]);
}

std::vector<std::string> PgTableArgs(const std::string& channel, const std::string& table,
                                     const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args = {"listen",
                                   "--db",
                                   SharedCluster().Url(),
                                   "-c",
                                   channel,
                                   "-a",
                                   "pg_table",
                                   "--pg-table-name",
                                   table,
                                   "--pg-table-backoff-base",
                                   "50ms",
                                   "--pg-table-backoff-cap",
                                   "300ms",
                                   "--bus-mode",
                                   "reliable",
                                   "--http-addr",
                                   "127.0.0.1:0"};
  for (auto& a : extra) args.push_back(a);
  return args;
}

std::unique_ptr<Process> StartPgTable(const std::string& channel, const std::string& table,
                                      const std::vector<std::string>& extra = {}) {
  auto p = Process::Start({.args = PgTableArgs(channel, table, extra)});
  EXPECT_TRUE(p);
  if (p) {
    EXPECT_TRUE(p->WaitForStderr("listening detector=listen_notify")) << p->Stderr();
  }
  return p;
}

// DLQ lines on stderr for adapter pg_table.
std::vector<boost::json::object> DlqRecords(Process& p) {
  std::vector<boost::json::object> out;
  const std::string err = p.Stderr();
  size_t pos = 0;
  while ((pos = err.find("{\"event\":", pos)) != std::string::npos) {
    const size_t end = err.find('\n', pos);
    const std::string line = err.substr(pos, end - pos);
    pos = end;
    auto v = ParseJson(line).as_object();
    if (v["adapter"] == "pg_table") out.push_back(v);
  }
  return out;
}

TEST(PgTableScenario, RowsEqualTheEvents) {
  auto conn = Connect();
  ExecOrFail(conn, "DROP SCHEMA IF EXISTS pt CASCADE; CREATE SCHEMA pt");
  ExecOrFail(conn, EventsDdl("pt.\"HappyEvents\""));
  // The stdout adapter alongside gives the envelopes to compare with.
  auto p =
      StartPgTable("pgcdc:pt", "pt.HappyEvents", {"-a", "stdout", "--pg-table-batch-size", "7"});
  ASSERT_TRUE(p);
  ExecOrFail(conn,
             "SELECT pg_notify('pgcdc:pt', json_build_object('n', g, 's', 'üñí €', 'a', "
             "json_build_array(1, 2.5, null))::text) FROM generate_series(1, 50) g");
  ExecOrFail(conn, "SELECT pg_notify('pgcdc:pt', 'plain text, not JSON')");
  ExecOrFail(conn, R"(SELECT pg_notify('pgcdc:pt', '{"op":"INSERT","table":"t","row":{"id":1}}'))");
  ASSERT_TRUE(p->WaitForLines(52)) << p->Stderr();
  ASSERT_TRUE(Eventually([&] {
    return ScrapeMetric(*p, "pgcdc_pg_table_rows_inserted_total") == 52;
  })) << p->Stderr();
  EXPECT_EQ(Scalar(conn, "SELECT count(*) FROM pt.\"HappyEvents\""), 52);
  for (const auto& line : p->StdoutLines()) {
    auto v = ParseJson(line).as_object();
    auto same = conn.Query(
        "SELECT count(*) FROM pt.\"HappyEvents\" WHERE id = $1 AND channel = $2 AND operation = "
        "$3 AND payload = $4::jsonb AND source = $5 AND created_at = $6::timestamptz",
        {std::string(v["id"].as_string()), std::string(v["channel"].as_string()),
         std::string(v["operation"].as_string()), boost::json::serialize(v["payload"]),
         std::string(v["source"].as_string()), std::string(v["created_at"].as_string())});
    ASSERT_TRUE(same) << same.error().message();
    EXPECT_EQ((*same)[0][0], "1") << line;
  }
  EXPECT_EQ(Scalar(conn, "SELECT count(*) FROM pt.\"HappyEvents\" WHERE operation = 'INSERT'"), 1);
  EXPECT_EQ(Scalar(conn,
                   "SELECT count(*) FROM pt.\"HappyEvents\" WHERE payload = "
                   "'\"plain text, not JSON\"'::jsonb"),
            1);
  EXPECT_EQ(ScrapeMetric(*p, "pgcdc_pg_table_rows_dead_lettered_total"), 0.0);
  EXPECT_EQ(ScrapeMetric(*p, "pgcdc_pg_table_reconnects_total"), 0.0);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
}

TEST(PgTableScenario, BackendKilledWhileEventsFlowLosesNothing) {
  auto conn = Connect();
  ExecOrFail(conn, "DROP TABLE IF EXISTS pt_kill");
  ExecOrFail(conn, EventsDdl("pt_kill"));
  auto p = StartPgTable("pgcdc:ptkill", "pt_kill", {"--pg-table-batch-size", "10"});
  ASSERT_TRUE(p);

  constexpr int kEvents = 3000;
  std::atomic<bool> writer_done{false};
  std::thread writer([&] {
    auto w = Connect();
    for (int i = 1; i <= kEvents; i += 10) {
      auto st = w.Exec(
          "SELECT pg_notify('pgcdc:ptkill', json_build_object('n', g)::text) FROM "
          "generate_series(" +
          std::to_string(i) + ", " + std::to_string(i + 9) + ") g");
      if (!st) ADD_FAILURE() << st.error().message();
    }
    writer_done = true;
  });
  int kills = 0;
  for (int round = 1; round <= 3; ++round) {
    const int64_t target = round * kEvents / 5;
    ASSERT_TRUE(
        Eventually([&] { return Scalar(conn, "SELECT count(*) FROM pt_kill") >= target; }, 60s))
        << p->Stderr();
    kills += static_cast<int>(
        Scalar(conn,
               "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
               "application_name = 'pgcdc_pg_table'"));
    ASSERT_TRUE(Eventually([&] {
      return ScrapeMetric(*p, "pgcdc_pg_table_reconnects_total").value_or(0) >= round;
    })) << p->Stderr();
  }
  writer.join();
  EXPECT_EQ(kills, 3) << p->Stderr();
  if (::getenv("PGCDC_TEST_VERBOSE")) std::cerr << p->Stderr();
  ASSERT_TRUE(
      Eventually([&] { return Scalar(conn, "SELECT count(*) FROM pt_kill") >= kEvents; }, 60s))
      << p->Stderr();
  EXPECT_EQ(Scalar(conn, "SELECT count(*) FROM pt_kill"), kEvents);
  EXPECT_EQ(Scalar(conn,
                   "SELECT count(DISTINCT (payload->>'n')::int) FROM pt_kill WHERE "
                   "(payload->>'n')::int BETWEEN 1 AND " +
                       std::to_string(kEvents)),
            kEvents);
  EXPECT_TRUE(DlqRecords(*p).empty()) << p->Stderr();
  EXPECT_EQ(ScrapeMetric(*p, "pgcdc_pg_table_rows_dead_lettered_total"), 0.0);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
}

// A commit confirmed before its WAL is flushed is lost when the server
// crashes, yet pgcdc would already have acknowledged its events (the chaos
// suite lost a batch that way with `pg_ctl restart -m immediate`). The
// shared cluster runs with synchronous_commit = off, so pgcdc's session must
// raise it to `local`, and keep a stricter setting of the database. A column
// default records each inserting session's setting.
TEST(PgTableScenario, InsertsWaitForTheWalFlushEvenWhenTheServerDoesNot) {
  auto conn = Connect();
  (void)conn.Exec("DROP DATABASE IF EXISTS pt_sync WITH (FORCE)");
  ExecOrFail(conn, "CREATE DATABASE pt_sync");
  auto target = pg::Conn::Open(SharedCluster().Url("pt_sync"));
  ASSERT_TRUE(target) << target.error().message();
  ASSERT_EQ(Scalar(*target, "SELECT (current_setting('synchronous_commit') = 'off')::int"), 1);
  ExecOrFail(*target, EventsDdl("pt_sync_events"));
  ExecOrFail(*target,
             "ALTER TABLE pt_sync_events ADD COLUMN sync text DEFAULT "
             "current_setting('synchronous_commit')");
  auto run = [&](const std::string& channel, int events) {
    auto p =
        StartPgTable(channel, "pt_sync_events", {"--pg-table-url", SharedCluster().Url("pt_sync")});
    ASSERT_TRUE(p);
    ExecOrFail(conn, "SELECT pg_notify('" + channel +
                         "', json_build_object('n', g)::text) FROM generate_series(1, " +
                         std::to_string(events) + ") g");
    ASSERT_TRUE(Eventually([&] {
      return ScrapeMetric(*p, "pgcdc_pg_table_rows_inserted_total") == events;
    })) << p->Stderr();
    p->Signal(SIGTERM);
    EXPECT_EQ(p->Wait(), 0) << p->Stderr();
  };
  run("pgcdc:ptsync", 5);
  EXPECT_EQ(Scalar(*target, "SELECT count(*) FROM pt_sync_events WHERE sync = 'local'"), 5);
  // A stricter setting of the database stays as it is.
  ExecOrFail(conn, "ALTER DATABASE pt_sync SET synchronous_commit = remote_apply");
  run("pgcdc:ptsync2", 3);
  EXPECT_EQ(Scalar(*target, "SELECT count(*) FROM pt_sync_events WHERE sync = 'remote_apply'"), 3);
}

// After a crash the WAL source delivers events again with the ids of their
// first delivery but a new created_at. Two persistent slots of one
// publication give the same ids too, which makes the redelivery
// deterministic here: the second run finds every row already stored and
// neither inserts it again nor dead-letters it.
TEST(PgTableScenario, RedeliveredWalEventsCountAsStored) {
  auto conn = Connect();
  FreshPublishedTable(conn, "pt_redo", "id int PRIMARY KEY", "p_ptredo", "pgcdc_ptredo_a");
  (void)conn.Query("SELECT pg_drop_replication_slot('pgcdc_ptredo_b')");
  (void)conn.Query("DELETE FROM pgcdc_checkpoints WHERE slot_name = 'pgcdc_ptredo_b'");
  for (const char* slot : {"pgcdc_ptredo_a", "pgcdc_ptredo_b"}) {
    ExecOrFail(
        conn, std::string("SELECT pg_create_logical_replication_slot('") + slot + "', 'pgoutput')");
  }
  ExecOrFail(conn, "DROP TABLE IF EXISTS pt_redo_events");
  ExecOrFail(conn, EventsDdl("pt_redo_events"));
  ExecOrFail(conn, "INSERT INTO pt_redo SELECT generate_series(1, 20)");
  for (const char* slot : {"pgcdc_ptredo_a", "pgcdc_ptredo_b"}) {
    auto p = StartWalListen(WalListenArgs(
        "p_ptredo", {"--persistent-slot", "--slot-name", slot, "-a", "pg_table", "--pg-table-name",
                     "pt_redo_events", "--pg-table-batch-size", "7"}));
    ASSERT_TRUE(p);
    ASSERT_TRUE(Eventually([&] {
      return ScrapeMetric(*p, "pgcdc_pg_table_rows_inserted_total") == 20;
    })) << p->Stderr();
    EXPECT_EQ(ScrapeMetric(*p, "pgcdc_pg_table_rows_dead_lettered_total"), 0.0) << p->Stderr();
    EXPECT_TRUE(DlqRecords(*p).empty()) << p->Stderr();
    p->Signal(SIGTERM);
    EXPECT_EQ(p->Wait(), 0) << p->Stderr();
  }
  EXPECT_EQ(Scalar(conn, "SELECT count(*) FROM pt_redo_events"), 20);
  for (const char* slot : {"pgcdc_ptredo_a", "pgcdc_ptredo_b"}) {
    (void)conn.Query(std::string("SELECT pg_drop_replication_slot('") + slot + "')");
  }
}

TEST(PgTableScenario, RejectedRowsGoToTheDlqAndTheOthersAreInserted) {
  auto conn = Connect();
  ExecOrFail(conn, "DROP TABLE IF EXISTS pt_bad");
  ExecOrFail(conn, EventsDdl("pt_bad"));
  // Lets the test force a duplicate primary key, and rejects "bad" payloads.
  ExecOrFail(conn, R"(
    ALTER TABLE pt_bad ADD CONSTRAINT pt_bad_not_bad CHECK (payload->>'bad' IS NULL);
    CREATE FUNCTION pt_bad_force_id() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.payload ? 'force_id' THEN NEW.id := NEW.payload->>'force_id'; END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER pt_bad_force_id BEFORE INSERT ON pt_bad
      FOR EACH ROW EXECUTE FUNCTION pt_bad_force_id();
    INSERT INTO pt_bad VALUES ('dup-1', 'x', 'x', '{}', 'x', now());)");
  auto p = StartPgTable("pgcdc:ptbad", "pt_bad", {"--pg-table-batch-size", "50"});
  ASSERT_TRUE(p);
  // One transaction: the 20 events arrive (and are written) together.
  ExecOrFail(conn, R"(SELECT pg_notify('pgcdc:ptbad', CASE g
      WHEN 5 THEN '{"n":5,"force_id":"dup-1"}'
      WHEN 12 THEN '{"n":12,"bad":true}'
      WHEN 15 THEN '{"n":15,"s":"\u0000"}'
      ELSE json_build_object('n', g)::text END) FROM generate_series(1, 20) g)");
  ASSERT_TRUE(Eventually([&] {
    return ScrapeMetric(*p, "pgcdc_pg_table_rows_dead_lettered_total") == 3 &&
           ScrapeMetric(*p, "pgcdc_pg_table_rows_inserted_total") == 17;
  })) << p->Stderr();
  EXPECT_EQ(Scalar(conn, "SELECT count(*) FROM pt_bad WHERE source = 'listen_notify'"), 17);
  EXPECT_EQ(Scalar(conn, "SELECT count(*) FROM pt_bad WHERE (payload->>'n')::int IN (5, 12, 15)"),
            0);

  auto records = DlqRecords(*p);
  ASSERT_EQ(records.size(), 3u) << p->Stderr();
  std::map<int64_t, std::string> errors;
  for (auto& r : records) {
    const std::string event = boost::json::serialize(r["event"]);
    EXPECT_EQ(CheckEnvelope(event, "pgcdc:ptbad", "NOTIFY", "listen_notify").substr(0, 5),
              "{\"n\":");
    errors[r["event"].as_object()["payload"].as_object()["n"].as_int64()] =
        std::string(r["error"].as_string());
  }
  EXPECT_NE(errors[5].find("duplicate key value violates unique constraint"), std::string::npos)
      << errors[5];
  EXPECT_NE(errors[5].find("SQLSTATE 23505"), std::string::npos) << errors[5];
  EXPECT_NE(errors[12].find("pt_bad_not_bad"), std::string::npos) << errors[12];
  EXPECT_NE(errors[15].find("SQLSTATE 22P05"), std::string::npos) << errors[15];

  // Still running and inserting.
  ExecOrFail(conn, "SELECT pg_notify('pgcdc:ptbad', '{\"n\":21}')");
  ASSERT_TRUE(Eventually([&] {
    return Scalar(conn, "SELECT count(*) FROM pt_bad WHERE payload->>'n' = '21'") == 1;
  })) << p->Stderr();
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
}

TEST(PgTableScenario, OutageHoldsEventsBackAndShutdownDoesNotHang) {
  auto conn = Connect();
  (void)conn.Exec("ALTER DATABASE pt_outage ALLOW_CONNECTIONS true");
  (void)conn.Exec("DROP DATABASE IF EXISTS pt_outage WITH (FORCE)");
  ExecOrFail(conn, "CREATE DATABASE pt_outage");
  {
    auto target = pg::Conn::Open(SharedCluster().Url("pt_outage"));
    ASSERT_TRUE(target) << target.error().message();
    ExecOrFail(*target, EventsDdl("pt_out"));
  }
  auto p = StartPgTable(
      "pgcdc:ptout", "pt_out",
      {"--pg-table-url", SharedCluster().Url("pt_outage"), "--shutdown-timeout", "1s"});
  ASSERT_TRUE(p);
  // The target database goes away (the source database stays up).
  ExecOrFail(conn, "ALTER DATABASE pt_outage ALLOW_CONNECTIONS false");
  ExecOrFail(conn,
             "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = "
             "'pgcdc_pg_table'");
  ExecOrFail(conn,
             "SELECT pg_notify('pgcdc:ptout', json_build_object('n', g)::text) FROM "
             "generate_series(1, 5) g");
  ASSERT_TRUE(p->WaitForStderr("pg_table: cannot connect; retrying", 15s, 2)) << p->Stderr();
  EXPECT_FALSE(p->Wait(0ms).has_value()) << "pgcdc must keep running";
  // Back: the held events arrive.
  ExecOrFail(conn, "ALTER DATABASE pt_outage ALLOW_CONNECTIONS true");
  auto target = pg::Conn::Open(SharedCluster().Url("pt_outage"));
  ASSERT_TRUE(target);
  ASSERT_TRUE(Eventually([&] { return Scalar(*target, "SELECT count(*) FROM pt_out") == 5; }))
      << p->Stderr();
  EXPECT_GE(ScrapeMetric(*p, "pgcdc_pg_table_reconnects_total").value_or(0), 1.0);

  // Down again, with events waiting: SIGTERM ends pgcdc after the shutdown
  // timeout (the retry loop is interrupted; the events are not acknowledged).
  ExecOrFail(conn, "ALTER DATABASE pt_outage ALLOW_CONNECTIONS false");
  ExecOrFail(conn,
             "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = "
             "'pgcdc_pg_table'");
  ExecOrFail(conn, "SELECT pg_notify('pgcdc:ptout', '{\"n\":6}')");
  ASSERT_TRUE(p->WaitForStderr("pg_table: cannot connect; retrying", 15s, 3)) << p->Stderr();
  const auto start = Clock::now();
  p->Signal(SIGTERM);
  auto code = p->Wait(10s);
  ASSERT_TRUE(code.has_value()) << "pgcdc hung at shutdown\n" << p->Stderr();
  EXPECT_NE(*code, 0);
  EXPECT_LT(Clock::now() - start, 5s);
  EXPECT_NE(p->Stderr().find("closing with rows not written"), std::string::npos) << p->Stderr();
  ExecOrFail(conn, "ALTER DATABASE pt_outage ALLOW_CONNECTIONS true");
}

TEST(PgTableScenario, MissingTableOrColumnsOrDatabaseIsAClearStartupError) {
  auto conn = Connect();
  ExecOrFail(conn, "DROP TABLE IF EXISTS pt_missing");
  auto missing = Process::Start({.args = PgTableArgs("x", "pt_missing")});
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->Wait(), 1);
  EXPECT_NE(missing->Stderr().find("table \\\"pt_missing\\\" does not exist"), std::string::npos)
      << missing->Stderr();

  ExecOrFail(conn, "DROP TABLE IF EXISTS pt_cols; CREATE TABLE pt_cols (id text, payload jsonb)");
  auto cols = Process::Start({.args = PgTableArgs("x", "pt_cols")});
  ASSERT_TRUE(cols);
  EXPECT_EQ(cols->Wait(), 1);
  EXPECT_NE(cols->Stderr().find("has no column(s) channel, operation, source, created_at"),
            std::string::npos)
      << cols->Stderr();

  auto bad_url = Process::Start(
      {.args = PgTableArgs("x", "pt_cols", {"--pg-table-url", "postgresql://127.0.0.1:1/x"})});
  ASSERT_TRUE(bad_url);
  EXPECT_EQ(bad_url->Wait(), 1);
  EXPECT_NE(bad_url->Stderr().find("pg_table (database postgresql://127.0.0.1:1/x): connect"),
            std::string::npos)
      << bad_url->Stderr();

  auto bad_name = Process::Start({.args = PgTableArgs("x", "a.b.c")});
  ASSERT_TRUE(bad_name);
  EXPECT_EQ(bad_name->Wait(), 2);
  EXPECT_NE(bad_name->Stderr().find("pg_table.table: invalid table name"), std::string::npos)
      << bad_name->Stderr();
}

}  // namespace
}  // namespace pgcdc::testing
