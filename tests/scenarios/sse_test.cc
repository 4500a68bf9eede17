// User journey: browsers and scripts follow changes live over Server-Sent
// Events. Real clients: npm "eventsource" v3 (tests/tools/sse_clients.js),
// curl, and raw sockets for a client that never reads.
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/json.hpp>

#include "harness.h"
#include "json_util.h"
#include "stream_clients.h"

namespace pgcdc::testing {
namespace {

// pgcdc listen with the sse adapter. `sse_own` = serve on its own listener
// (--sse-addr) instead of the main HTTP server.
std::unique_ptr<Process> StartSse(std::vector<std::string> extra, bool sse_own = false) {
  if (sse_own) {
    // A different address than --http-addr: own listener.
    extra.insert(extra.begin(), {"--sse-addr", "localhost:0"});
  }
  return StartStreamSink("sse", extra);
}

TEST(SseScenario, EventSourceAndCurlGetEnvelopesFilteredByChannel) {
  auto p = StartSse({"-c", "sse_a", "-c", "sse_b"});
  ASSERT_TRUE(p);
  auto addr = p->HttpAddr();
  ASSERT_TRUE(addr) << p->Stderr();
  const std::string base = "http://" + *addr;

  auto all = StartNode("sse_clients.js",
                       {"--url", base + "/events", "--channels", "sse_a,sse_b", "--expect", "4"});
  auto only_a = StartNode("sse_clients.js", {"--url", base + "/events/sse_a", "--channels",
                                             "sse_a,sse_b", "--expect", "2"});
  auto curl =
      Process::Start({.args = {"-sN", base + "/events?channel=sse_b"}, .binary = "/usr/bin/curl"});
  ASSERT_TRUE(all && only_a && curl);
  ASSERT_TRUE(WaitFor(*all, "open")) << all->Stderr();
  ASSERT_TRUE(WaitFor(*only_a, "open")) << only_a->Stderr();
  ASSERT_TRUE(Eventually([&] {
    return ScrapeMetric(*p, "pgcdc_sse_clients_active{channel=\"*\"}") == 1 &&
           ScrapeMetric(*p, "pgcdc_sse_clients_active{channel=\"sse_a\"}") == 1 &&
           ScrapeMetric(*p, "pgcdc_sse_clients_active{channel=\"sse_b\"}") == 1;
  })) << p->Stderr();

  NotifyMany("sse_a", 2);
  NotifyMany("sse_b", 2);

  ASSERT_TRUE(WaitFor(*all, "done")) << all->Stderr();
  auto done = *LastWith(*all, "done");
  ASSERT_EQ(done["events"].as_array().size(), 4u);
  for (const auto& ev : done["events"].as_array()) {
    const auto& o = ev.as_object();
    const std::string data(o.at("data").as_string());
    const std::string type(o.at("event").as_string());
    EXPECT_FALSE(CheckEnvelope(data, type, "NOTIFY", "listen_notify").empty()) << data;
    auto env = boost::json::parse(data).as_object();
    EXPECT_EQ(o.at("id").as_string(), env["id"].as_string());  // id: = event id
    EXPECT_EQ(env["channel"].as_string(), type);               // event: = channel
  }
  ASSERT_TRUE(WaitFor(*only_a, "done"));
  auto a = *LastWith(*only_a, "done");
  ASSERT_EQ(a["events"].as_array().size(), 2u);
  for (const auto& ev : a["events"].as_array()) EXPECT_EQ(ev.as_object().at("event"), "sse_a");

  // curl sees the raw frames of its filter only.
  ASSERT_TRUE(Eventually([&] {
    size_t data_lines = 0;
    for (const auto& l : curl->StdoutLines()) data_lines += l.rfind("data: ", 0) == 0;
    return data_lines == 2;
  })) << curl->Stderr();
  for (const auto& l : curl->StdoutLines()) EXPECT_NE(l, "event: sse_a");
  EXPECT_NE(std::find(curl->StdoutLines().begin(), curl->StdoutLines().end(), "event: sse_b"),
            curl->StdoutLines().end());

  // Shutdown with clients still connected is prompt and clean.
  const auto t0 = Clock::now();
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(10s), 0) << p->Stderr();
  EXPECT_LT(Clock::now() - t0, 4s);
  EXPECT_EQ(curl->Wait(5s), 0);  // the stream ended cleanly (last chunk)
}

TEST(SseScenario, LastEventIdResumesFromReplayBuffer) {
  auto p = StartSse({"-c", "sse_r"}, /*sse_own=*/true);
  ASSERT_TRUE(p);
  auto addr = p->HttpAddr("sse");
  ASSERT_TRUE(addr) << p->Stderr();
  const std::string url = "http://" + *addr + "/events";

  auto first = StartNode("sse_clients.js", {"--url", url, "--channels", "sse_r", "--expect", "5"});
  ASSERT_TRUE(first && WaitFor(*first, "open"));
  NotifyMany("sse_r", 5);
  ASSERT_TRUE(WaitFor(*first, "done"));
  auto events = (*LastWith(*first, "done"))["events"].as_array();
  ASSERT_EQ(events.size(), 5u);

  // Reconnect after the 2nd event: 3rd..5th are replayed, nothing else.
  const std::string after(events[1].as_object().at("id").as_string());
  auto resumed = StartNode("sse_clients.js", {"--url", url, "--channels", "sse_r", "--expect", "3",
                                              "--last-event-id", after});
  ASSERT_TRUE(resumed && WaitFor(*resumed, "done")) << resumed->Stderr();
  auto got = (*LastWith(*resumed, "done"))["events"].as_array();
  ASSERT_EQ(got.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(got[i].as_object().at("id"), events[i + 2].as_object().at("id"));
  }
  EXPECT_EQ(ScrapeMetric(*p, "pgcdc_sse_replayed_total"), 3);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(10s), 0);
}

TEST(SseScenario, StalledClientIsDisconnectedAndTwoHundredOthersGetEverything) {
  constexpr int kEvents = 400;
  constexpr int kChunk = 25;
  auto p = StartSse({"-c", "sse_fan", "--sse-client-queue", "64", "--bus-buffer", "100000"});
  ASSERT_TRUE(p);
  auto addr = p->HttpAddr();
  ASSERT_TRUE(addr);
  StalledClient stalled(*addr, "GET /events HTTP/1.1\r\nHost: localhost\r\n\r\n");
  ASSERT_TRUE(stalled.ok());
  auto clients =
      StartNode("sse_clients.js", {"--url", "http://" + *addr + "/events", "--clients", "199",
                                   "--channels", "sse_fan", "--expect", std::to_string(kEvents),
                                   "--keep", "0", "--timeout-ms", "90000", "--progress-ms", "50"});
  ASSERT_TRUE(clients && WaitFor(*clients, "open", 30s)) << clients->Stderr();
  ASSERT_TRUE(Eventually(
      [&] { return ScrapeMetric(*p, "pgcdc_sse_clients_active{channel=\"*\"}") == 200; }));

  // Paced in chunks the healthy clients read before the next one comes, so
  // only the stalled client falls --sse-client-queue events behind.
  for (int sent = 0; sent < kEvents; sent += kChunk) {
    NotifyMany("sse_fan", kChunk, 3000);
    ASSERT_TRUE(Eventually(
        [&] {
          if (LastWith(*clients, "done")) return true;
          auto last = LastWith(*clients, "progress");
          if (!last) return false;
          for (const auto& c : (*last)["progress"].as_array()) {
            if (c.as_int64() < sent + kChunk) return false;
          }
          return true;
        },
        30s))
        << sent;
  }
  ASSERT_TRUE(WaitFor(*clients, "done", 60s)) << clients->Stderr();
  auto done = *LastWith(*clients, "done");
  for (const auto& c : done["counts"].as_array()) EXPECT_EQ(c.as_int64(), kEvents);
  EXPECT_EQ(done["errors"].as_int64(), 0);
  EXPECT_TRUE(Eventually([&] {
    return ScrapeMetric(*p, "pgcdc_sse_slow_client_disconnects_total") == 1;
  })) << p->Stderr();
  EXPECT_TRUE(p->WaitForStderr("slow consumer"));
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(10s), 0) << p->Stderr();
}

TEST(SseScenario, BadFilterClientGoneAndMissingServerAreClearErrors) {
  auto p = StartSse({"-c", "sse_bad"});
  ASSERT_TRUE(p);
  auto addr = p->HttpAddr();
  ASSERT_TRUE(addr);
  auto bad = HttpGet(*addr, "/events?channel=a,,b");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("bad channel filter"), std::string::npos) << bad->body;
  auto empty = HttpGet(*addr, "/events/");
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->status, 400);

  // A client that goes away mid-stream is forgotten; the others keep going.
  {
    StalledClient gone(*addr, "GET /events HTTP/1.1\r\nHost: localhost\r\n\r\n");
    ASSERT_TRUE(gone.ok());
    ASSERT_TRUE(Eventually(
        [&] { return ScrapeMetric(*p, "pgcdc_sse_clients_active{channel=\"*\"}") == 1; }));
  }
  ASSERT_TRUE(
      Eventually([&] { return ScrapeMetric(*p, "pgcdc_sse_clients_active{channel=\"*\"}") == 0; }));
  auto c = StartNode("sse_clients.js", {"--url", "http://" + *addr + "/events", "--channels",
                                        "sse_bad", "--expect", "3"});
  ASSERT_TRUE(c && WaitFor(*c, "open"));
  NotifyMany("sse_bad", 3);
  ASSERT_TRUE(WaitFor(*c, "done"));
  EXPECT_EQ((*LastWith(*c, "done"))["counts"].as_array()[0].as_int64(), 3);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(10s), 0);

  // No HTTP server at all: a configuration error, before anything starts.
  auto none = Process::Start(
      {.args = {"listen", "--db", SharedCluster().Url(), "-a", "sse", "--http-addr", ""}});
  ASSERT_TRUE(none);
  EXPECT_EQ(none->Wait(), 2);
  EXPECT_NE(none->Stderr().find("--sse-addr"), std::string::npos) << none->Stderr();
}

}  // namespace
}  // namespace pgcdc::testing
