// User journey: applications write events into an outbox table inside their
// own transactions; pgcdc polls it, emits each row once delivered, and only
// then deletes (or marks) it — so a crash never loses a row, and several
// pgcdc instances can share one table.
#include <gtest/gtest.h>
#include <signal.h>

#include <map>
#include <regex>
#include <set>
#include <thread>

#include "harness.h"
#include "json_util.h"

namespace pgcdc::testing {
namespace {

std::vector<std::string> OutboxArgs(const std::string& table, std::vector<std::string> extra = {},
                                    const std::string& url = SharedCluster().Url()) {
  std::vector<std::string> args = {"listen",      "--detector",
                                   "outbox",      "--db",
                                   url,           "--outbox-table",
                                   table,         "--http-addr",
                                   "127.0.0.1:0", "--outbox-poll-interval",
                                   "20ms",        "--outbox-backoff-base",
                                   "100ms",       "--outbox-backoff-cap",
                                   "500ms"};
  for (auto& a : extra) args.push_back(a);
  return args;
}

// Starts pgcdc on `table` and waits until it polls.
std::unique_ptr<Process> StartOutbox(const std::string& table, std::vector<std::string> extra = {},
                                     const std::string& url = SharedCluster().Url()) {
  auto p = Process::Start({.args = OutboxArgs(table, std::move(extra), url)});
  EXPECT_TRUE(p);
  if (p) {
    EXPECT_TRUE(p->WaitForStderr("polling detector=outbox")) << p->Stderr();
  }
  return p;
}

// (Re)creates `table` from the DDL `pgcdc init --adapter outbox` prints.
void CreateOutbox(pg::Conn& conn, const std::string& table) {
  auto init = RunCommand({PgcdcBinary(), "init", "--table", table, "--adapter", "outbox"});
  ASSERT_EQ(init.exit_code, 0) << init.output;
  ExecOrFail(conn, "DROP TABLE IF EXISTS " + table);
  ExecOrFail(conn, init.output);
}

int64_t Scalar(pg::Conn& conn, const std::string& sql) {
  auto r = conn.Query(sql);
  EXPECT_TRUE(r) << sql << ": " << (r ? "" : r.error().message());
  if (!r || r->empty() || !(*r)[0][0]) return -1;
  return std::stoll(*(*r)[0][0]);
}

// The "n" member of each event payload, in output order.
std::vector<int64_t> PayloadNumbers(Process& p) {
  std::vector<int64_t> out;
  for (auto& l : p.StdoutLines()) {
    out.push_back(ParseJson(l).as_object()["payload"].as_object()["n"].as_int64());
  }
  return out;
}

TEST(OutboxScenario, RowsBecomeEventsInCreatedAtOrderAndAreDeleted) {
  auto conn = Connect();
  CreateOutbox(conn, "ob_happy");
  ExecOrFail(conn, "DROP TABLE IF EXISTS ob_orders");
  ExecOrFail(conn, "CREATE TABLE ob_orders (id int PRIMARY KEY, status text)");
  auto p = StartOutbox("ob_happy");
  ASSERT_TRUE(p);
  // One application transaction: the business change plus its events, whose
  // created_at order differs from the insertion order.
  ExecOrFail(conn, R"(BEGIN;
    INSERT INTO ob_orders VALUES (1, 'new');
    INSERT INTO ob_happy (channel, operation, payload, created_at) VALUES
      ('pgcdc:orders', 'INSERT', '{"id": 1, "note": "<&> üñí€"}', '2000-01-01 00:00:02+00'),
      ('pgcdc:orders', 'order.updated', '{"b": [1, 2.50, null], "a": {"x": true}}',
       '2000-01-01 00:00:01+00');
    INSERT INTO ob_happy (channel, payload, created_at)
      VALUES ('audit', '"just text"', '2000-01-01 00:00:03+00');
    COMMIT)");
  ASSERT_TRUE(p->WaitForLines(3)) << p->Stderr();
  // A later transaction; a rolled-back one never produces an event.
  ExecOrFail(conn,
             "BEGIN; INSERT INTO ob_happy (channel, operation, payload) VALUES ('x', 'DELETE', "
             "'42'); ROLLBACK");
  ExecOrFail(conn,
             "INSERT INTO ob_happy (id, channel, operation, payload) VALUES "
             "('11111111-2222-4333-8444-555555555555', 'pgcdc:orders', 'DELETE', '{\"id\": 1}')");
  ASSERT_TRUE(p->WaitForLines(4)) << p->Stderr();
  ASSERT_TRUE(Eventually([&] {
    return ScrapeMetric(*p, "pgcdc_outbox_rows_committed_total") == 4;
  })) << p->Stderr();
  EXPECT_EQ(Scalar(conn, "SELECT count(*) FROM ob_happy"), 0);

  auto lines = p->StdoutLines();
  ASSERT_EQ(lines.size(), 4u);
  // jsonb stores objects with its own key order (shorter keys first); the
  // payload is that text, compacted.
  EXPECT_EQ(CheckEnvelope(lines[0], "pgcdc:orders", "order.updated", "outbox"),
            R"({"a":{"x":true},"b":[1,2.50,null]})");
  EXPECT_EQ(CheckEnvelope(lines[1], "pgcdc:orders", "INSERT", "outbox"),
            R"({"id":1,"note":"<&> üñí€"})");
  EXPECT_EQ(CheckEnvelope(lines[2], "audit", "NOTIFY", "outbox"), R"("just text")");
  EXPECT_EQ(CheckEnvelope(lines[3], "pgcdc:orders", "DELETE", "outbox"), R"({"id":1})");
  // The event id is the outbox row's id (stable if the row is redelivered).
  EXPECT_EQ(ParseJson(lines[3]).as_object()["id"].as_string(),
            "11111111-2222-4333-8444-555555555555");

  EXPECT_EQ(ScrapeMetric(*p, "pgcdc_outbox_events_total"), 4.0);
  EXPECT_EQ(ScrapeMetric(*p, "pgcdc_outbox_invalid_rows_total"), 0.0);
  EXPECT_EQ(ScrapeMetric(*p, "pgcdc_detector_connected{detector=\"outbox\"}"), 1.0);
  EXPECT_GE(ScrapeMetric(*p, "pgcdc_outbox_polls_total").value_or(0), 2.0);
  auto health = HttpGet(*p->HttpAddr(), "/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200) << health->body;
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
}

TEST(OutboxScenario, KeepProcessedMarksRowsInsteadOfDeleting) {
  auto conn = Connect();
  CreateOutbox(conn, "ob_keep");
  auto p = StartOutbox("ob_keep", {"--outbox-keep-processed"});
  ASSERT_TRUE(p);
  for (int i = 1; i <= 3; ++i) {
    ExecOrFail(conn, "INSERT INTO ob_keep (channel, payload) VALUES ('k', '{\"n\": " +
                         std::to_string(i) + "}')");
  }
  ASSERT_TRUE(p->WaitForLines(3)) << p->Stderr();
  ASSERT_TRUE(Eventually([&] {
    return Scalar(conn, "SELECT count(*) FROM ob_keep WHERE processed_at IS NOT NULL") == 3;
  })) << p->Stderr();
  ExecOrFail(conn, "INSERT INTO ob_keep (channel, payload) VALUES ('k', '{\"n\": 4}')");
  ASSERT_TRUE(Eventually([&] {
    return ScrapeMetric(*p, "pgcdc_outbox_rows_committed_total") == 4;
  })) << p->Stderr();
  // Marked rows stay, and are never emitted again.
  EXPECT_EQ(Scalar(conn, "SELECT count(*) FROM ob_keep"), 4);
  EXPECT_EQ(Scalar(conn, "SELECT count(*) FROM ob_keep WHERE processed_at >= created_at"), 4);
  EXPECT_EQ(PayloadNumbers(*p), (std::vector<int64_t>{1, 2, 3, 4}));
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
  // A restart does not deliver processed rows again.
  auto q = StartOutbox("ob_keep", {"--outbox-keep-processed"});
  ASSERT_TRUE(q);
  ASSERT_TRUE(Eventually([&] { return ScrapeMetric(*q, "pgcdc_outbox_polls_total") >= 2; }));
  EXPECT_EQ(q->StdoutLines().size(), 0u);
  q->Signal(SIGTERM);
  EXPECT_EQ(q->Wait(), 0) << q->Stderr();
}

// Two instances on one table: rows one instance holds (locked, waiting for
// its stuck sink) are skipped by the other, and every row comes out exactly
// once across both.
TEST(OutboxScenario, TwoInstancesShareATableAndDeliverEachRowOnce) {
  auto conn = Connect();
  CreateOutbox(conn, "ob_pair");
  const std::vector<std::string> extra = {"--outbox-batch-size", "20"};
  auto a = StartOutbox("ob_pair", extra);
  ASSERT_TRUE(a);
  a->PauseStdout();
  // 100 rows of ~50 KB: A's first batch (1 MB) cannot pass its paused pipe.
  ExecOrFail(conn,
             "INSERT INTO ob_pair (channel, payload) SELECT 'pair', jsonb_build_object('n', g, "
             "'pad', repeat('x', 50000)) FROM generate_series(1, 100) g");
  ASSERT_TRUE(Eventually([&] { return ScrapeMetric(*a, "pgcdc_outbox_inflight_rows") == 20; }))
      << a->Stderr();
  // A holds its 20 rows locked.
  EXPECT_EQ(Scalar(conn, "SELECT count(*) FROM (SELECT 1 FROM ob_pair FOR UPDATE SKIP LOCKED) s"),
            80);

  auto b = StartOutbox("ob_pair", extra);
  ASSERT_TRUE(b);
  ASSERT_TRUE(b->WaitForLines(80)) << b->Stderr();
  ASSERT_TRUE(Eventually([&] { return Scalar(conn, "SELECT count(*) FROM ob_pair") == 20; }));
  a->ResumeStdout();
  ASSERT_TRUE(a->WaitForLines(20)) << a->Stderr();
  ASSERT_TRUE(Eventually([&] { return Scalar(conn, "SELECT count(*) FROM ob_pair") == 0; }));

  // Free-running phase: an application writes small transactions while both
  // instances poll.
  std::thread writer([] {
    auto w = Connect();
    for (int i = 0; i < 60; ++i) {
      ExecOrFail(w,
                 "INSERT INTO ob_pair (channel, payload) SELECT 'pair', jsonb_build_object('n', "
                 "g) FROM generate_series(" +
                     std::to_string(101 + i * 5) + ", " + std::to_string(105 + i * 5) + ") g");
    }
  });
  writer.join();
  ASSERT_TRUE(Eventually([&] {
    return a->StdoutLines().size() + b->StdoutLines().size() == 400 &&
           Scalar(conn, "SELECT count(*) FROM ob_pair") == 0;
  })) << a->StdoutLines().size()
      << " + " << b->StdoutLines().size();
  a->Signal(SIGTERM);
  b->Signal(SIGTERM);
  EXPECT_EQ(a->Wait(), 0) << a->Stderr();
  EXPECT_EQ(b->Wait(), 0) << b->Stderr();

  std::map<int64_t, int> seen;
  for (auto* p : {a.get(), b.get()}) {
    for (int64_t n : PayloadNumbers(*p)) ++seen[n];
  }
  ASSERT_EQ(seen.size(), 400u);
  EXPECT_EQ(seen.begin()->first, 1);
  EXPECT_EQ(seen.rbegin()->first, 400);
  for (auto& [n, count] : seen) EXPECT_EQ(count, 1) << "row " << n << " delivered " << count;
}

// Crash safety: rows whose events are published but not yet delivered are
// locked, not deleted; kill -9 leaves them in the table and the next run
// delivers them.
TEST(OutboxScenario, KillNineBeforeDeliveryLosesNoRow) {
  auto conn = Connect();
  CreateOutbox(conn, "ob_crash");
  const std::vector<std::string> extra = {"--bus-mode",          "reliable", "--bus-buffer", "10",
                                          "--outbox-batch-size", "10"};
  auto p = StartOutbox("ob_crash", extra);
  ASSERT_TRUE(p);
  p->PauseStdout();
  ExecOrFail(conn,
             "INSERT INTO ob_crash (channel, operation, payload, created_at) SELECT 'crash', "
             "'INSERT', jsonb_build_object('n', g, 'pad', repeat('y', 50000)), "
             "'2000-01-01'::timestamptz + g * interval '1 second' FROM generate_series(1, 30) g");
  ASSERT_TRUE(Eventually([&] { return ScrapeMetric(*p, "pgcdc_outbox_inflight_rows") == 10; }))
      << p->Stderr();
  EXPECT_EQ(ScrapeMetric(*p, "pgcdc_outbox_rows_committed_total"), 0.0);
  EXPECT_EQ(Scalar(conn, "SELECT count(*) FROM (SELECT 1 FROM ob_crash FOR UPDATE SKIP LOCKED) s"),
            20);
  p->Signal(SIGKILL);
  ASSERT_TRUE(p->Wait());
  // The reference implementation would have deleted the first batch by now.
  EXPECT_EQ(Scalar(conn, "SELECT count(*) FROM ob_crash"), 30);

  auto q = StartOutbox("ob_crash", extra);
  ASSERT_TRUE(q);
  ASSERT_TRUE(q->WaitForLines(30)) << q->Stderr();
  ASSERT_TRUE(Eventually([&] { return Scalar(conn, "SELECT count(*) FROM ob_crash") == 0; }));
  std::vector<int64_t> want;
  for (int i = 1; i <= 30; ++i) want.push_back(i);
  EXPECT_EQ(PayloadNumbers(*q), want);
  q->Signal(SIGTERM);
  EXPECT_EQ(q->Wait(), 0) << q->Stderr();
}

// SIGTERM while a batch waits for a slow sink: once the sink catches up
// (within the shutdown budget) the batch is committed, not re-delivered.
TEST(OutboxScenario, GracefulStopCommitsABatchTheSinkFinishes) {
  auto conn = Connect();
  CreateOutbox(conn, "ob_stop");
  auto p = StartOutbox("ob_stop", {"--outbox-batch-size", "10", "--shutdown-timeout", "20s"});
  ASSERT_TRUE(p);
  p->PauseStdout();
  ExecOrFail(conn,
             "INSERT INTO ob_stop (channel, payload) SELECT 'stop', jsonb_build_object('n', g, "
             "'pad', repeat('z', 50000)) FROM generate_series(1, 10) g");
  ASSERT_TRUE(Eventually([&] { return ScrapeMetric(*p, "pgcdc_outbox_inflight_rows") == 10; }))
      << p->Stderr();
  p->Signal(SIGTERM);
  ASSERT_TRUE(p->WaitForStderr("shutting down")) << p->Stderr();
  p->ResumeStdout();
  EXPECT_EQ(p->Wait(30s), 0) << p->Stderr();
  EXPECT_EQ(p->StdoutLines().size(), 10u);
  EXPECT_EQ(Scalar(conn, "SELECT count(*) FROM ob_stop"), 0);
}

TEST(OutboxScenario, InvalidRowsAreEmittedOnTheInvalidChannelNotDropped) {
  auto conn = Connect();
  // A hand-made table without the NOT NULL constraints `pgcdc init` adds.
  ExecOrFail(conn, "DROP TABLE IF EXISTS ob_invalid");
  ExecOrFail(conn,
             "CREATE TABLE ob_invalid (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), channel "
             "text, operation text, payload jsonb, created_at timestamptz NOT NULL DEFAULT now(), "
             "processed_at timestamptz)");
  auto p = StartOutbox("ob_invalid");
  ASSERT_TRUE(p);
  ExecOrFail(conn, R"(INSERT INTO ob_invalid (id, channel, operation, payload, created_at) VALUES
    ('00000000-0000-4000-8000-000000000001', 'ok', 'INSERT', '{"a": 1}', '2000-01-01 00:00:01+00'),
    ('00000000-0000-4000-8000-000000000002', NULL, 'INSERT', '{"b": 2}', '2000-01-01 00:00:02+00'),
    ('00000000-0000-4000-8000-000000000003', 'c3', '', '3', '2000-01-01 00:00:03+00'),
    ('00000000-0000-4000-8000-000000000004', 'c4', 'UPDATE', NULL, '2000-01-01 00:00:04+00'))");
  ASSERT_TRUE(p->WaitForLines(4)) << p->Stderr();
  auto lines = p->StdoutLines();
  EXPECT_EQ(CheckEnvelope(lines[0], "ok", "INSERT", "outbox"), R"({"a":1})");
  EXPECT_EQ(CheckEnvelope(lines[1], "pgcdc:_outbox_invalid", "INVALID", "outbox"),
            R"({"outbox_id":"00000000-0000-4000-8000-000000000002","table":"ob_invalid",)"
            R"("reason":"channel is NULL","channel":null,"operation":"INSERT","payload":{"b":2}})");
  EXPECT_EQ(CheckEnvelope(lines[2], "pgcdc:_outbox_invalid", "INVALID", "outbox"),
            R"({"outbox_id":"00000000-0000-4000-8000-000000000003","table":"ob_invalid",)"
            R"("reason":"operation is empty","channel":"c3","operation":"","payload":3})");
  EXPECT_EQ(CheckEnvelope(lines[3], "c4", "UPDATE", "outbox"), "null");
  ASSERT_TRUE(Eventually([&] { return Scalar(conn, "SELECT count(*) FROM ob_invalid") == 0; }));
  EXPECT_EQ(ScrapeMetric(*p, "pgcdc_outbox_invalid_rows_total"), 2.0);
  EXPECT_TRUE(p->WaitForStderr("invalid row", 5s, 2)) << p->Stderr();
  EXPECT_NE(p->Stderr().find("00000000-0000-4000-8000-000000000002"), std::string::npos);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
}

TEST(OutboxScenario, SchemaQualifiedTable) {
  auto conn = Connect();
  ExecOrFail(conn, "DROP SCHEMA IF EXISTS ob_app CASCADE");
  ExecOrFail(conn, "CREATE SCHEMA ob_app");
  auto init =
      RunCommand({PgcdcBinary(), "init", "--table", "ob_app.Events", "--adapter", "outbox"});
  ASSERT_EQ(init.exit_code, 0) << init.output;
  ExecOrFail(conn, init.output);
  auto p = StartOutbox("ob_app.Events");
  ASSERT_TRUE(p);
  ExecOrFail(conn, "INSERT INTO ob_app.\"Events\" (channel, payload) VALUES ('s', '{\"n\": 7}')");
  ASSERT_TRUE(p->WaitForLines(1)) << p->Stderr();
  EXPECT_EQ(PayloadNumbers(*p), (std::vector<int64_t>{7}));
  ASSERT_TRUE(
      Eventually([&] { return Scalar(conn, "SELECT count(*) FROM ob_app.\"Events\"") == 0; }));
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
}

TEST(OutboxScenario, ReconnectsAfterBackendTerminated) {
  auto conn = Connect();
  CreateOutbox(conn, "ob_reconnect");
  const std::string url = SharedCluster().Url() + "&application_name=ob_reconnect";
  auto p = StartOutbox("ob_reconnect", {}, url);
  ASSERT_TRUE(p);
  ExecOrFail(conn, "INSERT INTO ob_reconnect (channel, payload) VALUES ('r', '{\"n\": 1}')");
  ASSERT_TRUE(p->WaitForLines(1)) << p->Stderr();
  // Terminate between polls: a connection lost before the commit would (by
  // design) deliver row 1 again.
  ASSERT_TRUE(
      Eventually([&] { return ScrapeMetric(*p, "pgcdc_outbox_rows_committed_total") == 1; }));
  auto killed = conn.Query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = "
      "'ob_reconnect'");
  ASSERT_TRUE(killed) << killed.error().message();
  ASSERT_EQ(killed->size(), 1u);
  ASSERT_TRUE(p->WaitForStderr("connection lost, reconnecting")) << p->Stderr();
  ASSERT_TRUE(p->WaitForStderr("polling detector=outbox", 15s, 2)) << p->Stderr();
  ExecOrFail(conn, "INSERT INTO ob_reconnect (channel, payload) VALUES ('r', '{\"n\": 2}')");
  ASSERT_TRUE(p->WaitForLines(2)) << p->Stderr();
  EXPECT_EQ(PayloadNumbers(*p), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(ScrapeMetric(*p, "pgcdc_detector_reconnects_total{detector=\"outbox\"}"), 1.0);
  EXPECT_EQ(ScrapeMetric(*p, "pgcdc_outbox_errors_total"), 1.0);
  ASSERT_TRUE(Eventually([&] {
    auto h = HttpGet(*p->HttpAddr(), "/healthz");
    return h && h->status == 200;
  }));
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
}

TEST(OutboxScenario, MissingTableIsAClearErrorNotARetryLoop) {
  auto conn = Connect();
  ExecOrFail(conn, "DROP TABLE IF EXISTS ob_missing");
  auto p = Process::Start({.args = OutboxArgs("ob_missing")});
  ASSERT_TRUE(p);
  auto code = p->Wait(20s);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 1);
  const std::string err = p->Stderr();
  EXPECT_NE(err.find("outbox table ob_missing does not exist"), std::string::npos) << err;
  EXPECT_NE(err.find("pgcdc init --table ob_missing --adapter outbox"), std::string::npos) << err;
  EXPECT_EQ(err.find("reconnecting"), std::string::npos) << err;
}

TEST(OutboxScenario, TableWithWrongColumnsIsAClearError) {
  auto conn = Connect();
  ExecOrFail(conn, "DROP TABLE IF EXISTS ob_wrong");
  ExecOrFail(conn, "CREATE TABLE ob_wrong (id bigserial PRIMARY KEY, channel text, body text)");
  auto p = Process::Start({.args = OutboxArgs("ob_wrong")});
  ASSERT_TRUE(p);
  auto code = p->Wait(20s);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 1);
  const std::string err = p->Stderr();
  EXPECT_NE(err.find("outbox table ob_wrong cannot be used"), std::string::npos) << err;
}

TEST(OutboxScenario, ConfigErrorsAreReportedUpFront) {
  auto p = Process::Start({.args = OutboxArgs("a.b.c", {"--outbox-batch-size", "5000"})});
  ASSERT_TRUE(p);
  EXPECT_EQ(p->Wait(), 2);
  const std::string err = p->Stderr();
  EXPECT_NE(err.find("outbox.table"), std::string::npos) << err;
  EXPECT_NE(err.find("larger than bus.buffer_size"), std::string::npos) << err;
}

}  // namespace
}  // namespace pgcdc::testing
