// User journey: services follow row changes over gRPC (pgcdc.EventStream/
// Subscribe). Real client: npm @grpc/grpc-js with proto/pgcdc/eventstream.proto
// (tests/tools/grpc_clients.js); real PostgreSQL, WAL detector.
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "harness.h"
#include "stream_clients.h"
#include "test_certs.h"

namespace pgcdc::testing {
namespace {

constexpr int kUnavailable = 14;
constexpr int kResourceExhausted = 8;
constexpr int kNotFound = 5;
constexpr int kUnauthenticated = 16;

// Two published tables (one publication) for the WAL detector.
void FreshTables(const std::string& a, const std::string& b, const std::string& publication) {
  auto conn = Connect();
  ExecOrFail(conn, "DROP PUBLICATION IF EXISTS " + publication);
  ExecOrFail(conn, "DROP TABLE IF EXISTS " + a + ", " + b + " CASCADE");
  for (const auto& t : {a, b}) {
    ExecOrFail(conn, "CREATE TABLE " + t + " (id int PRIMARY KEY, pad text)");
  }
  ExecOrFail(conn, "CREATE PUBLICATION " + publication + " FOR TABLE " + a + ", " + b);
}

void InsertRows(const std::string& table, int first, int last, int pad = 0) {
  auto conn = Connect();
  ExecOrFail(conn, "INSERT INTO " + table + " SELECT g, repeat('x', " + std::to_string(pad) +
                       ") FROM generate_series(" + std::to_string(first) + ", " +
                       std::to_string(last) + ") g");
}

std::unique_ptr<Process> StartGrpc(const std::string& publication, std::vector<std::string> extra) {
  // reliable: the bus never drops while the sink waits for a client that is
  // briefly behind (fast mode would drop at the bus, counted there).
  std::vector<std::string> args = {"-a",          "grpc",       "--grpc-addr",
                                   "127.0.0.1:0", "--bus-mode", "reliable"};
  args.insert(args.end(), extra.begin(), extra.end());
  return StartWalListen(WalListenArgs(publication, args));
}

std::unique_ptr<Process> StartClients(std::vector<std::string> args) {
  return StartNode("grpc_clients.js", std::move(args));
}

// The status the client's only stream ended with, once the client is done:
// {"code":C,"details":D}; an empty object (and a test failure) otherwise.
boost::json::object OnlyStatus(Process& c, std::chrono::milliseconds timeout = 20s) {
  if (!WaitFor(c, "done", timeout)) {
    const auto lines = c.StdoutLines();
    ADD_FAILURE() << "client not done; its last line: " << (lines.empty() ? "" : lines.back())
                  << "\nstderr: " << c.Stderr();
    return {};
  }
  auto done = LastWith(c, "done");
  const auto& statuses = (*done)["statuses"].as_array();
  if (statuses.size() != 1) {
    ADD_FAILURE() << "statuses: " << boost::json::serialize(statuses);
    return {};
  }
  return statuses[0].as_object();
}

int64_t Code(const boost::json::object& status) {
  auto it = status.find("code");
  return it == status.end() ? -1 : it->value().as_int64();
}

std::string Details(const boost::json::object& status) {
  auto it = status.find("details");
  return it == status.end() ? std::string() : std::string(it->value().as_string());
}

bool ClientsActive(Process& p, double n) {
  return Eventually([&] { return ScrapeMetric(p, "pgcdc_grpc_active_clients") == n; });
}

TEST(GrpcScenario, RowsArriveInOrderFilteredAndShutdownEndsStreamsWithUnavailable) {
  constexpr int kRows = 3000;
  FreshTables("g_orders", "g_users", "p_grpc_basic");
  auto p = StartGrpc("p_grpc_basic", {});
  ASSERT_TRUE(p);
  const auto addr = GrpcAddr(*p);
  ASSERT_FALSE(addr.empty()) << p->Stderr();
  auto all = StartClients({"--addr", addr, "--timeout-ms", "60000", "--keep", "100000"});
  auto orders =
      StartClients({"--addr", addr, "--channels", "pgcdc:g_orders", "--timeout-ms", "60000"});
  ASSERT_TRUE(all && orders);
  ASSERT_TRUE(WaitFor(*all, "open") && WaitFor(*orders, "open"));
  ASSERT_TRUE(ClientsActive(*p, 2)) << p->Stderr();

  InsertRows("g_orders", 1, kRows / 2);
  InsertRows("g_users", 1, 10);
  InsertRows("g_orders", kRows / 2 + 1, kRows);
  ASSERT_TRUE(Eventually(
      [&] {
        return Counts(*all) == std::vector<int64_t>{kRows + 10} &&
               Counts(*orders) == std::vector<int64_t>{kRows};
      },
      30s))
      << p->Stderr();
  EXPECT_EQ(ScrapeMetric(*p, "pgcdc_grpc_events_sent_total"), 2 * kRows + 10);

  const auto t0 = Clock::now();
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(10s), 0) << p->Stderr();
  EXPECT_LT(Clock::now() - t0, 4s);
  for (auto* c : {all.get(), orders.get()}) {
    auto st = OnlyStatus(*c);
    EXPECT_EQ(Code(st), kUnavailable);
    EXPECT_EQ(Details(st), "server shutting down");
  }
  // Every g_orders row, in commit order, with SPEC's fields.
  const auto last = LastWith(*all, "done");
  ASSERT_TRUE(last);
  auto done = *last;
  const auto& events = done["events"].as_array();
  ASSERT_EQ(events.size(), static_cast<size_t>(kRows + 10));
  int next_order = 1;
  for (const auto& v : events) {
    const auto& e = v.as_object();
    ASSERT_EQ(e.at("operation").as_string(), "INSERT");
    ASSERT_EQ(e.at("source").as_string(), "wal_replication");
    EXPECT_EQ(e.at("id").as_string().size(), 36u);
    EXPECT_FALSE(e.at("created_at").as_string().empty());
    if (e.at("channel").as_string() != "pgcdc:g_orders") continue;
    auto payload = boost::json::parse(e.at("payload").as_string()).as_object();
    ASSERT_EQ(payload["row"].as_object()["id"].as_int64(), next_order) << e;
    ++next_order;
  }
  EXPECT_EQ(next_order, kRows + 1);
}

TEST(GrpcScenario, StalledClientGetsResourceExhaustedOthersGetEverything) {
  constexpr int kRows = 600;
  FreshTables("g_slow", "g_slow_other", "p_grpc_slow");
  auto p = StartGrpc("p_grpc_slow", {"--grpc-client-queue", "64"});
  ASSERT_TRUE(p);
  const auto addr = GrpcAddr(*p);
  ASSERT_FALSE(addr.empty()) << p->Stderr();
  auto stalled = StartClients({"--addr", addr, "--pause", "--timeout-ms", "60000", "--keep", "0"});
  auto healthy = StartClients(
      {"--addr", addr, "--clients", "3", "--timeout-ms", "60000", "--keep", "0", "--quiet"});
  ASSERT_TRUE(stalled && healthy);
  ASSERT_TRUE(WaitFor(*stalled, "open") && WaitFor(*healthy, "open"));
  ASSERT_TRUE(ClientsActive(*p, 4));
  InsertRows("g_slow", 1, 1);
  ASSERT_TRUE(WaitFor(*stalled, "paused"));
  // 3 KB rows in chunks the healthy clients read before the next comes; the
  // paused one stops reading, its HTTP/2 window fills, then its queue.
  for (int sent = 1; sent < kRows; sent += 50) {
    InsertRows("g_slow", sent + 1, sent + 50, 3000);
    ASSERT_TRUE(Eventually([&] {
      auto c = Counts(*healthy);
      return c.size() == 3 && c[0] >= sent + 50 && c[1] >= sent + 50 && c[2] >= sent + 50;
    })) << sent;
  }
  ASSERT_TRUE(Eventually([&] {
    return ScrapeMetric(*p, "pgcdc_grpc_slow_client_disconnects_total") == 1;
  })) << p->Stderr();
  EXPECT_TRUE(ClientsActive(*p, 3));
  // Once it reads again it sees what was written before, then the status.
  stalled->Signal(SIGUSR2);
  auto st = OnlyStatus(*stalled, 30s);
  EXPECT_EQ(Code(st), kResourceExhausted);
  EXPECT_NE(Details(st).find("slow consumer"), std::string::npos) << st;
  EXPECT_LT(Counts(*stalled)[0], kRows);
  EXPECT_EQ(Counts(*healthy), (std::vector<int64_t>{kRows + 1, kRows + 1, kRows + 1}));
  EXPECT_TRUE(p->Stderr().find("slow client disconnected") != std::string::npos);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(10s), 0);
}

TEST(GrpcScenario, ShutdownIsPromptEvenWithAClientThatStoppedReading) {
  FreshTables("g_stop", "g_stop_other", "p_grpc_stop");
  auto p = StartGrpc("p_grpc_stop", {"--grpc-shutdown-grace", "1s"});
  ASSERT_TRUE(p);
  const auto addr = GrpcAddr(*p);
  ASSERT_FALSE(addr.empty()) << p->Stderr();
  auto stalled = StartClients({"--addr", addr, "--pause", "--timeout-ms", "60000", "--keep", "0"});
  ASSERT_TRUE(stalled && WaitFor(*stalled, "open"));
  ASSERT_TRUE(ClientsActive(*p, 1));
  InsertRows("g_stop", 1, 200, 3000);  // more than its HTTP/2 window: a write stays in flight
  ASSERT_TRUE(WaitFor(*stalled, "paused"));
  ASSERT_TRUE(Eventually([&] { return ScrapeMetric(*p, "pgcdc_grpc_events_sent_total") == 200; }));
  const auto t0 = Clock::now();
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(10s), 0) << p->Stderr();
  EXPECT_LT(Clock::now() - t0, 4s);
  stalled->Signal(SIGUSR2);
  auto st = OnlyStatus(*stalled, 30s);
  // UNAVAILABLE when the status got through before the grace ran out,
  // CANCELLED (1) or a connection loss (UNAVAILABLE) otherwise: never a hang.
  EXPECT_TRUE(Code(st) == kUnavailable || Code(st) == 1) << st;
}

TEST(GrpcScenario, ResumeFromReplaysAndAnUnknownIdIsNotFound) {
  FreshTables("g_resume", "g_resume_other", "p_grpc_resume");
  auto p = StartGrpc("p_grpc_resume", {"--grpc-replay-buffer", "100"});
  ASSERT_TRUE(p);
  const auto addr = GrpcAddr(*p);
  ASSERT_FALSE(addr.empty()) << p->Stderr();
  auto first = StartClients({"--addr", addr, "--expect", "150", "--timeout-ms", "60000"});
  ASSERT_TRUE(first && WaitFor(*first, "open"));
  ASSERT_TRUE(ClientsActive(*p, 1));
  InsertRows("g_resume", 1, 150);
  ASSERT_TRUE(WaitFor(*first, "done", 30s));
  const auto events = (*LastWith(*first, "done"))["events"].as_array();
  ASSERT_EQ(events.size(), 150u);
  auto id_of = [&](size_t i) { return std::string(events[i].as_object().at("id").as_string()); };

  // Row 120 was seen last: 121..150 come again, then live rows.
  auto resumed = StartClients(
      {"--addr", addr, "--resume-from", id_of(119), "--expect", "40", "--timeout-ms", "60000"});
  ASSERT_TRUE(resumed && WaitFor(*resumed, "open"));
  ASSERT_TRUE(Eventually([&] { return Counts(*resumed) == std::vector<int64_t>{30}; }));
  InsertRows("g_resume", 151, 160);
  ASSERT_TRUE(WaitFor(*resumed, "done", 30s));
  const auto got = (*LastWith(*resumed, "done"))["events"].as_array();
  ASSERT_EQ(got.size(), 40u);
  for (size_t i = 0; i < got.size(); ++i) {
    auto payload = boost::json::parse(got[i].as_object().at("payload").as_string()).as_object();
    EXPECT_EQ(payload["row"].as_object()["id"].as_int64(), static_cast<int64_t>(121 + i));
  }
  EXPECT_EQ(ScrapeMetric(*p, "pgcdc_grpc_replayed_total"), 30);

  // Row 10 fell out of the 100-event buffer; a made-up id was never in it.
  for (const std::string& id : {id_of(9), std::string("not-an-event-id")}) {
    auto miss = StartClients({"--addr", addr, "--resume-from", id, "--timeout-ms", "20000"});
    ASSERT_TRUE(miss);
    auto st = OnlyStatus(*miss);
    EXPECT_EQ(Code(st), kNotFound);
    EXPECT_NE(Details(st).find("not in the replay buffer"), std::string::npos) << st;
  }
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(10s), 0);
}

TEST(GrpcScenario, TlsAndBearerToken) {
  TestCertificates certs;
  ASSERT_TRUE(certs.Generate());
  FreshTables("g_tls", "g_tls_other", "p_grpc_tls");
  auto p = StartGrpc("p_grpc_tls", {"--grpc-tls-cert", certs.dir + "/server.pem", "--grpc-tls-key",
                                    certs.dir + "/server.key", "--grpc-token", "s3cret"});
  ASSERT_TRUE(p);
  const auto addr = GrpcAddr(*p);
  ASSERT_FALSE(addr.empty()) << p->Stderr();
  const std::string ca = certs.dir + "/ca.pem";
  for (const std::string& token : {std::string(), std::string("wrong")}) {
    auto refused = StartClients({"--addr", addr, "--ca", ca, "--token", token});
    ASSERT_TRUE(refused);
    EXPECT_EQ(Code(OnlyStatus(*refused)), kUnauthenticated);
  }
  auto ok = StartClients(
      {"--addr", addr, "--ca", ca, "--token", "s3cret", "--expect", "5", "--timeout-ms", "30000"});
  ASSERT_TRUE(ok && WaitFor(*ok, "open"));
  ASSERT_TRUE(ClientsActive(*p, 1));
  InsertRows("g_tls", 1, 5);
  ASSERT_TRUE(WaitFor(*ok, "done", 30s));
  EXPECT_EQ(Counts(*ok), std::vector<int64_t>{5});
  // A plaintext client cannot talk to the TLS listener.
  auto plain = StartClients({"--addr", addr, "--token", "s3cret", "--timeout-ms", "20000"});
  ASSERT_TRUE(plain);
  EXPECT_EQ(Code(OnlyStatus(*plain, 25s)), kUnavailable);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(10s), 0);
}

}  // namespace
}  // namespace pgcdc::testing
