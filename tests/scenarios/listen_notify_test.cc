// User journey: capture changes with LISTEN/NOTIFY and read them on stdout.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "harness.h"
#include "json_util.h"

namespace pgcdc::testing {
namespace {

// Starts `pgcdc listen` on the shared cluster with extra args and waits until
// it is listening.
std::unique_ptr<Process> StartListen(std::vector<std::string> extra,
                                     std::map<std::string, std::string> env = {}) {
  std::vector<std::string> args = {"listen",
                                   "--db",
                                   SharedCluster().Url(),
                                   "--http-addr",
                                   "127.0.0.1:0",
                                   "--detector-backoff-base",
                                   "100ms",
                                   "--detector-backoff-cap",
                                   "500ms"};
  for (auto& a : extra) args.push_back(a);
  auto p = Process::Start({.args = args, .env = env});
  EXPECT_TRUE(p != nullptr);
  if (p) {
    EXPECT_TRUE(p->WaitForStderr("listening detector=listen_notify")) << p->Stderr();
  }
  return p;
}

void Notify(const std::string& channel, const std::string& payload) {
  auto conn = Connect();
  auto r = conn.Query("SELECT pg_notify($1, $2)", {channel, payload});
  ASSERT_TRUE(r) << r.error().message();
}

// Starts pgcdc with a huge queue and a paused stdout reader, sends `count`
// distinct notifications and waits until pgcdc has received all of them, so
// they sit undelivered inside pgcdc.
std::unique_ptr<Process> StartWithBacklog(const std::string& channel, int count,
                                          const std::string& shutdown_timeout,
                                          const std::string& payload_sql = "g::text") {
  auto p = StartListen(
      {"-c", channel, "--bus-buffer", "100000", "--shutdown-timeout", shutdown_timeout});
  if (!p) return p;
  auto addr = p->HttpAddr();
  EXPECT_TRUE(addr);
  if (!addr) return nullptr;
  p->PauseStdout();
  auto conn = Connect();
  auto r = conn.Query("SELECT pg_notify($1, " + payload_sql + ") FROM generate_series(1, " +
                          std::to_string(count) + ") g",
                      {channel});
  EXPECT_TRUE(r) << r.error().message();
  EXPECT_TRUE(Eventually([&] {
    auto m = HttpGet(*addr, "/metrics");
    return m && MetricValue(m->body, "pgcdc_events_received_total") == count;
  })) << p->Stderr();
  return p;
}

TEST(ListenNotifyScenario, PayloadShapesBecomeExactEnvelopes) {
  auto p = StartListen({"-c", "pgcdc:shapes"});
  ASSERT_TRUE(p);
  Notify("pgcdc:shapes",
         R"({"op": "INSERT", "table": "orders", "row": {"id": 1, "amount": 12.5}, "old": null})");
  Notify("pgcdc:shapes", R"({ "hello" : [1, 2, {"x": true}] })");
  Notify("pgcdc:shapes", "plain text with \"quotes\", a tab\tand üñí€ode");
  Notify("pgcdc:shapes", R"({"op": "", "k": 1})");  // empty op is not an operation
  Notify("pgcdc:shapes", "42");
  ASSERT_TRUE(p->WaitForLines(5)) << p->Stderr();
  auto lines = p->StdoutLines();
  EXPECT_EQ(CheckEnvelope(lines[0], "pgcdc:shapes", "INSERT", "listen_notify"),
            R"({"op":"INSERT","table":"orders","row":{"id":1,"amount":12.5},"old":null})");
  EXPECT_EQ(CheckEnvelope(lines[1], "pgcdc:shapes", "NOTIFY", "listen_notify"),
            R"({"hello":[1,2,{"x":true}]})");
  EXPECT_EQ(CheckEnvelope(lines[2], "pgcdc:shapes", "NOTIFY", "listen_notify"),
            "\"plain text with \\\"quotes\\\", a tab\\tand üñí€ode\"");
  EXPECT_EQ(CheckEnvelope(lines[3], "pgcdc:shapes", "NOTIFY", "listen_notify"),
            R"({"op":"","k":1})");
  EXPECT_EQ(CheckEnvelope(lines[4], "pgcdc:shapes", "NOTIFY", "listen_notify"), "42");
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
}

TEST(ListenNotifyScenario, InitTriggerCapturesInsertUpdateDelete) {
  auto init = RunCommand({PgcdcBinary(), "init", "--table", "items"});
  ASSERT_EQ(init.exit_code, 0) << init.output;
  auto conn = Connect();
  ExecOrFail(conn, "DROP TABLE IF EXISTS items");
  ExecOrFail(conn, "CREATE TABLE items (id int PRIMARY KEY, name text, price numeric, tags jsonb)");
  ExecOrFail(conn, init.output);
  auto p = StartListen({"--channel", "pgcdc:items"});
  ASSERT_TRUE(p);
  ExecOrFail(conn, R"(INSERT INTO items VALUES (1, 'widget <&>', 9.99, '{"a": [1, 2]}'))");
  ExecOrFail(conn, "UPDATE items SET price = 12 WHERE id = 1");
  ExecOrFail(conn, "DELETE FROM items WHERE id = 1");
  ASSERT_TRUE(p->WaitForLines(3)) << p->Stderr();
  auto lines = p->StdoutLines();
  EXPECT_EQ(
      CheckEnvelope(lines[0], "pgcdc:items", "INSERT", "listen_notify"),
      R"({"op":"INSERT","table":"items","row":{"id":1,"name":"widget <&>","price":9.99,"tags":{"a":[1,2]}},"old":null})");
  EXPECT_EQ(
      CheckEnvelope(lines[1], "pgcdc:items", "UPDATE", "listen_notify"),
      R"({"op":"UPDATE","table":"items","row":{"id":1,"name":"widget <&>","price":12,"tags":{"a":[1,2]}},"old":{"id":1,"name":"widget <&>","price":9.99,"tags":{"a":[1,2]}}})");
  EXPECT_EQ(
      CheckEnvelope(lines[2], "pgcdc:items", "DELETE", "listen_notify"),
      R"({"op":"DELETE","table":"items","row":{"id":1,"name":"widget <&>","price":12,"tags":{"a":[1,2]}},"old":null})");
  p->Signal(SIGINT);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
}

TEST(ListenNotifyScenario, MultipleChannelsIncludingOddNames) {
  auto p = StartListen({"-c", "alpha", "-c", "pgcdc:beta.v2,Weird \"Chan\""});
  ASSERT_TRUE(p);
  Notify("alpha", "1");
  Notify("pgcdc:beta.v2", "2");
  Notify("Weird \"Chan\"", "3");
  Notify("not-listened", "4");
  Notify("alpha", "5");
  ASSERT_TRUE(p->WaitForLines(4)) << p->Stderr();
  auto lines = p->StdoutLines();
  ASSERT_EQ(lines.size(), 4u);
  std::vector<std::pair<std::string, std::string>> got;
  for (auto& l : lines) {
    auto v = ParseJson(l).as_object();
    got.emplace_back(std::string(v["channel"].as_string()), boost::json::serialize(v["payload"]));
  }
  EXPECT_EQ(got,
            (std::vector<std::pair<std::string, std::string>>{
                {"alpha", "1"}, {"pgcdc:beta.v2", "2"}, {"Weird \"Chan\"", "3"}, {"alpha", "5"}}));
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0);
}

TEST(ListenNotifyScenario, ReconnectsAfterBackendTerminated) {
  auto p = StartListen({"-c", "pgcdc:reconnect"});
  ASSERT_TRUE(p);
  auto addr = p->HttpAddr();
  ASSERT_TRUE(addr);
  Notify("pgcdc:reconnect", "\"before\"");
  ASSERT_TRUE(p->WaitForLines(1));
  auto conn = Connect();
  auto killed = conn.Query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN "
      "%reconnect%'");
  ASSERT_TRUE(killed) << killed.error().message();
  ASSERT_EQ(killed->size(), 1u);
  ASSERT_TRUE(p->WaitForStderr("connection lost, reconnecting")) << p->Stderr();
  ASSERT_TRUE(p->WaitForStderr("listening detector=listen_notify", 15s, 2)) << p->Stderr();
  Notify("pgcdc:reconnect", "\"after\"");
  ASSERT_TRUE(p->WaitForLines(2)) << p->Stderr();
  EXPECT_NE(p->StdoutLines()[1].find("\"payload\":\"after\""), std::string::npos);
  auto metrics = HttpGet(*addr, "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(
      MetricValue(metrics->body, "pgcdc_detector_reconnects_total{detector=\"listen_notify\"}"),
      1.0)
      << metrics->body;
  EXPECT_EQ(MetricValue(metrics->body, "pgcdc_listennotify_errors_total"), 1.0);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0);
}

TEST(ListenNotifyScenario, ReconnectsAfterServerRestartAndReportsHealth) {
  auto p = StartListen({"-c", "pgcdc:restart"});
  ASSERT_TRUE(p);
  auto addr = p->HttpAddr();
  ASSERT_TRUE(addr);
  ASSERT_TRUE(Eventually([&] {
    auto h = HttpGet(*addr, "/healthz");
    return h && h->status == 200;
  }));
  ASSERT_TRUE(SharedCluster().StopServer());
  ASSERT_TRUE(p->WaitForStderr("connection lost, reconnecting")) << p->Stderr();
  // While the database is down the detector is down and /healthz says so.
  ASSERT_TRUE(Eventually([&] {
    auto h = HttpGet(*addr, "/healthz");
    return h && h->status == 503 &&
           h->body.find("\"detector\":{\"status\":\"down\"") != std::string::npos;
  })) << HttpGet(*addr, "/healthz")->body;
  ASSERT_TRUE(SharedCluster().StartServer());
  ASSERT_TRUE(p->WaitForStderr("listening detector=listen_notify", 20s, 2)) << p->Stderr();
  Notify("pgcdc:restart", "\"back\"");
  ASSERT_TRUE(p->WaitForLines(1)) << p->Stderr();
  auto health = HttpGet(*addr, "/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200) << health->body;
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0);
}

TEST(ListenNotifyScenario, SigtermDrainsQueuedEventsAndExitsZero) {
  // A large queue and a paused reader: events pile up inside pgcdc; SIGTERM
  // must still deliver every one of them before exiting 0.
  constexpr int kEvents = 5000;
  auto p = StartWithBacklog("pgcdc:drain", kEvents, "30s");
  ASSERT_TRUE(p);
  p->Signal(SIGTERM);
  ASSERT_TRUE(p->WaitForStderr("shutting down"));
  p->ResumeStdout();
  auto code = p->Wait(30s);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 0) << p->Stderr();
  auto lines = p->StdoutLines();
  ASSERT_EQ(lines.size(), static_cast<size_t>(kEvents));
  for (int i = 0; i < kEvents; ++i) {
    ASSERT_NE(lines[i].find("\"payload\":" + std::to_string(i + 1) + ","), std::string::npos)
        << "order broken at " << i << ": " << lines[i];
  }
}

TEST(ListenNotifyScenario, StuckSinkHitsShutdownTimeoutAndSecondSignalExitsAtOnce) {
  const std::string big = "repeat('x', 1000) || g";
  auto p = StartWithBacklog("pgcdc:stuck", 3000, "300ms", big);
  ASSERT_TRUE(p);
  p->Signal(SIGTERM);
  auto code = p->Wait(10s);
  ASSERT_TRUE(code) << "pgcdc did not give up after the shutdown timeout";
  EXPECT_EQ(*code, 1);
  EXPECT_NE(p->Stderr().find("shutdown timeout exceeded"), std::string::npos) << p->Stderr();

  // Second signal: exits immediately even though the sink is stuck.
  auto q = StartWithBacklog("pgcdc:stuck", 3000, "60s", big);
  ASSERT_TRUE(q);
  q->Signal(SIGTERM);
  ASSERT_TRUE(q->WaitForStderr("shutting down"));
  q->Signal(SIGTERM);
  auto qcode = q->Wait(5s);
  ASSERT_TRUE(qcode);
  EXPECT_EQ(*qcode, 130);
  EXPECT_NE(q->Stderr().find("second signal"), std::string::npos);
}

TEST(ListenNotifyScenario, ClosedStdoutEndsPipelineCleanly) {
  auto p = StartListen({"-c", "pgcdc:epipe"});
  ASSERT_TRUE(p);
  Notify("pgcdc:epipe", "1");
  ASSERT_TRUE(p->WaitForLines(1));
  p->CloseStdout();
  Notify("pgcdc:epipe", "2");
  auto code = p->Wait(10s);
  ASSERT_TRUE(code) << p->Stderr();
  EXPECT_EQ(*code, 0) << p->Stderr();
  EXPECT_NE(p->Stderr().find("sink closed, stopping pipeline"), std::string::npos) << p->Stderr();
}

TEST(ListenNotifyScenario, MetricsPassPromtoolAndHealthListsComponents) {
  auto p = StartListen({"-c", "pgcdc:metrics", "--metrics-addr", "127.0.0.1:0"});
  ASSERT_TRUE(p);
  auto addr = p->HttpAddr();
  auto maddr = p->HttpAddr("metrics");
  ASSERT_TRUE(addr && maddr);
  Notify("pgcdc:metrics", "{}");
  ASSERT_TRUE(p->WaitForLines(1));
  for (const auto& a : {*addr, *maddr}) {
    auto m = HttpGet(a, "/metrics");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->status, 200);
    EXPECT_NE(m->headers.find("text/plain; version=0.0.4"), std::string::npos) << m->headers;
    EXPECT_EQ(MetricValue(m->body, "pgcdc_events_delivered_total{adapter=\"stdout\"}"), 1.0)
        << m->body;
    auto check = RunCommand({"promtool", "check", "metrics"}, m->body);
    EXPECT_EQ(check.exit_code, 0) << check.output;
    EXPECT_EQ(check.output, "") << check.output;
  }
  auto health = HttpGet(*addr, "/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto h = ParseJson(health->body).as_object();
  EXPECT_EQ(h["status"].as_string(), "up");
  for (const char* c : {"detector", "bus", "stdout"}) {
    EXPECT_EQ(h["components"].as_object()[c].as_object()["status"].as_string(), "up") << c;
  }
  auto ready = HttpGet(*addr, "/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  EXPECT_EQ(ready->body, "{\"ready\":true}");
  EXPECT_EQ(HttpGet(*addr, "/nope")->status, 404);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0);
}

TEST(ListenNotifyScenario, UnreachableDatabaseRetriesWithoutCrashing) {
  auto port = pg::FreeLocalPort();
  ASSERT_TRUE(port);
  auto p = Process::Start(
      {.args = {"listen", "--db",
                "postgresql://postgres@127.0.0.1:" + std::to_string(*port) + "/x?connect_timeout=2",
                "-c", "c", "--http-addr", "127.0.0.1:0", "--detector-backoff-base", "100ms",
                "--detector-backoff-cap", "200ms", "--log-format", "json"}});
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->WaitForStderr("connection lost, reconnecting", 15s, 3)) << p->Stderr();
  // JSON logs: every stderr line is a JSON object with time/level/msg.
  std::istringstream err(p->Stderr());
  std::string line;
  int n = 0;
  while (std::getline(err, line)) {
    auto keys = ObjectKeys(line);
    ASSERT_GE(keys.size(), 3u) << line;
    EXPECT_EQ(keys[0], "time");
    EXPECT_EQ(keys[1], "level");
    EXPECT_EQ(keys[2], "msg");
    ++n;
  }
  EXPECT_GE(n, 3);
  std::string addr;
  std::istringstream err2(p->Stderr());
  while (std::getline(err2, line)) {
    auto v = ParseJson(line).as_object();
    if (v["msg"].as_string() == "http server listening") addr = v["addr"].as_string();
  }
  ASSERT_FALSE(addr.empty()) << p->Stderr();
  auto health = HttpGet(addr, "/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 503);
  EXPECT_NE(health->body.find("Connection refused"), std::string::npos) << health->body;
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
}

}  // namespace
}  // namespace pgcdc::testing
