// User journey: dashboards follow changes live over WebSocket. Real client:
// npm "ws" (tests/tools/ws_clients.js); raw sockets for a client that never
// reads.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <boost/json.hpp>

#include "harness.h"
#include "json_util.h"
#include "stream_clients.h"

namespace pgcdc::testing {
namespace {

std::unique_ptr<Process> StartWs(const std::vector<std::string>& extra) {
  return StartStreamSink("ws", extra);
}

std::unique_ptr<Process> StartNode(std::vector<std::string> args) {
  return pgcdc::testing::StartNode("ws_clients.js", std::move(args));
}

TEST(WsScenario, MessagesFilteredByChannelAndClose1000OnShutdown) {
  auto p = StartWs({"-c", "ws_a", "-c", "ws_b", "--ws-ping-interval", "200ms"});
  ASSERT_TRUE(p);
  auto addr = p->HttpAddr();
  ASSERT_TRUE(addr) << p->Stderr();
  auto all = StartNode({"--url", "ws://" + *addr + "/ws"});
  auto only_a = StartNode({"--url", "ws://" + *addr + "/ws/ws_a"});
  auto query = StartNode({"--url", "ws://" + *addr + "/ws?channel=ws_b"});
  ASSERT_TRUE(all && only_a && query);
  for (auto* c : {all.get(), only_a.get(), query.get()}) ASSERT_TRUE(WaitFor(*c, "open"));
  ASSERT_TRUE(Eventually([&] {
    return ScrapeMetric(*p, "pgcdc_ws_clients_active{channel=\"*\"}") == 1 &&
           ScrapeMetric(*p, "pgcdc_ws_clients_active{channel=\"ws_a\"}") == 1 &&
           ScrapeMetric(*p, "pgcdc_ws_clients_active{channel=\"ws_b\"}") == 1;
  }));
  NotifyMany("ws_a", 2);
  NotifyMany("ws_b", 3);
  ASSERT_TRUE(Eventually([&] {
    return Counts(*all) == std::vector<int64_t>{5} && Counts(*only_a) == std::vector<int64_t>{2} &&
           Counts(*query) == std::vector<int64_t>{3};
  })) << p->Stderr();
  // Several ping intervals pass; node's ws answers pings, so nobody is dropped.
  ASSERT_TRUE(Eventually([&] { return ScrapeMetric(*p, "pgcdc_ws_events_sent_total") == 10; }));

  const auto t0 = Clock::now();
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(10s), 0) << p->Stderr();
  EXPECT_LT(Clock::now() - t0, 4s);
  for (auto* c : {all.get(), only_a.get(), query.get()}) {
    ASSERT_TRUE(WaitFor(*c, "done"));
    auto done = *LastWith(*c, "done");
    ASSERT_EQ(done["closes"].as_array().size(), 1u);
    const auto& close = done["closes"].as_array()[0].as_object();
    EXPECT_EQ(close.at("code").as_int64(), 1000);
    EXPECT_EQ(close.at("reason").as_string(), "server shutting down");
  }
  auto done = *LastWith(*all, "done");
  for (const auto& m : done["messages"].as_array()) {
    const std::string text(m.as_string());
    auto env = boost::json::parse(text).as_object();
    EXPECT_FALSE(
        CheckEnvelope(text, std::string(env["channel"].as_string()), "NOTIFY", "listen_notify")
            .empty());
  }
}

TEST(WsScenario, StalledClientGetsDisconnectedOthersGetEverything) {
  constexpr int kEvents = 400;
  constexpr int kChunk = 25;
  auto p = StartWs({"-c", "ws_fan", "--ws-client-queue", "64", "--bus-buffer", "100000"});
  ASSERT_TRUE(p);
  auto addr = p->HttpAddr();
  ASSERT_TRUE(addr);
  StalledClient stalled(*addr,
                        "GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: "
                        "Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: "
                        "dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
  ASSERT_TRUE(stalled.ok());
  auto clients = StartNode({"--url", "ws://" + *addr + "/ws", "--clients", "50", "--expect",
                            std::to_string(kEvents), "--keep", "0", "--timeout-ms", "90000",
                            "--progress-ms", "50"});
  ASSERT_TRUE(clients && WaitFor(*clients, "open"));
  ASSERT_TRUE(
      Eventually([&] { return ScrapeMetric(*p, "pgcdc_ws_clients_active{channel=\"*\"}") == 51; }));
  // Paced: healthy clients read each chunk before the next one comes.
  for (int sent = 0; sent < kEvents; sent += kChunk) {
    NotifyMany("ws_fan", kChunk, 3000);
    ASSERT_TRUE(Eventually(
        [&] {
          if (LastWith(*clients, "done")) return true;
          auto counts = Counts(*clients);
          return !counts.empty() && std::all_of(counts.begin(), counts.end(),
                                                [&](int64_t c) { return c >= sent + kChunk; });
        },
        30s))
        << sent;
  }
  ASSERT_TRUE(WaitFor(*clients, "done", 60s));
  for (auto c : Counts(*clients)) EXPECT_EQ(c, kEvents);
  EXPECT_TRUE(Eventually([&] {
    return ScrapeMetric(*p, "pgcdc_ws_slow_client_disconnects_total") == 1;
  })) << p->Stderr();
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(10s), 0);
}

TEST(WsScenario, PlainGetBadFilterAndMissingServerAreClearErrors) {
  auto p = StartWs({"-c", "ws_bad"});
  ASSERT_TRUE(p);
  auto addr = p->HttpAddr();
  ASSERT_TRUE(addr);
  auto plain = HttpGet(*addr, "/ws");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->status, 426);
  auto bad = StartNode({"--url", "ws://" + *addr + "/ws?channel=a,,b"});
  ASSERT_TRUE(bad && WaitFor(*bad, "error"));
  EXPECT_NE((*LastWith(*bad, "error"))["error"].as_string().find("400"), std::string::npos);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(10s), 0);

  auto none = Process::Start(
      {.args = {"listen", "--db", SharedCluster().Url(), "-a", "ws", "--http-addr", ""}});
  ASSERT_TRUE(none);
  EXPECT_EQ(none->Wait(), 2);
  EXPECT_NE(none->Stderr().find("--ws-addr"), std::string::npos) << none->Stderr();
}

}  // namespace
}  // namespace pgcdc::testing
