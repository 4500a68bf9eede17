// User journey: watch what flows through pgcdc in a browser. The web console
// at / shows live events (with a channel filter and pause/resume) and
// per-adapter counters and health; /inspect serves the same taps as JSON.
// Driven in headless Debian Chromium through playwright-core.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <cstdlib>

#include "harness.h"
#include "json_util.h"

namespace pgcdc::testing {
namespace {

std::string ToolsDir() {
  const char* src = std::getenv("PGCDC_SOURCE_DIR");
  return std::string(src ? src : ".") + "/tests/tools";
}

std::unique_ptr<Process> StartListen(const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"listen", "--db",  SharedCluster().Url(), "-c",         "con:a",
                                   "-c",     "con:b", "--http-addr",         "127.0.0.1:0"};
  for (auto& a : extra) args.push_back(a);
  auto p = Process::Start({.args = args});
  EXPECT_TRUE(p);
  if (p) EXPECT_TRUE(p->WaitForStderr("listening detector=listen_notify")) << p->Stderr();
  return p;
}

TEST(ConsoleScenario, LiveStreamFilterPauseAndCountersInChromium) {
  auto p = StartListen({});
  ASSERT_TRUE(p);
  auto addr = p->HttpAddr();
  ASSERT_TRUE(addr);

  std::atomic<bool> stop{false};
  std::thread writer([&] {
    auto conn = Connect();
    for (int n = 1; !stop.load(); ++n) {
      const std::string ch = n % 2 ? "con:a" : "con:b";
      // Every 10th event has a long line (the layout must not grow with it).
      const std::string pad = n % 10 == 0 ? std::string(3000, 'x') : std::string();
      auto r = conn.Query("SELECT pg_notify($1, $2)",
                          {ch, "{\"n\":" + std::to_string(n) + ",\"pad\":\"" + pad + "\"}"});
      if (!r) break;
      // Pace the writer so the page sees a steady stream, not a flood; the
      // wait is on the browser's conditions, not on this interval.
      std::this_thread::sleep_for(20ms);
    }
  });
  TempDir dir;
  const std::string shot = dir.path + "/console.png";
  auto node = Process::Start({.args = {ToolsDir() + "/console_check.js", "http://" + *addr, shot},
                              .cwd = ToolsDir(),
                              .binary = "/usr/bin/node"});
  ASSERT_TRUE(node);
  auto code = node->Wait(90s);
  stop = true;
  writer.join();
  std::string out;
  for (const auto& l : node->StdoutLines()) out += l + "\n";
  ASSERT_EQ(code, 0) << out << node->Stderr();
  EXPECT_NE(out.find("OK"), std::string::npos) << out;

  // The same taps as JSON.
  auto inspect = HttpGet(*addr, "/inspect?point=pre-adapter&limit=3&adapter=stdout");
  ASSERT_TRUE(inspect);
  EXPECT_EQ(inspect->status, 200);
  auto v = ParseJson(inspect->body);
  EXPECT_EQ(v.at("point").as_string(), "pre-adapter");
  EXPECT_EQ(v.at("count").as_int64(), 3);
  const auto& events = v.at("events").as_array();
  ASSERT_EQ(events.size(), 3u);
  for (const auto& e : events) EXPECT_TRUE(e.as_object().contains("channel"));
  auto stats = HttpGet(*addr, "/api/stats");
  ASSERT_TRUE(stats);
  auto s = ParseJson(stats->body);
  EXPECT_EQ(s.at("adapters").as_array().at(0).at("name").as_string(), "stdout");
  EXPECT_GT(s.at("adapters").as_array().at(0).at("delivered").as_int64(), 0);

  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
}

TEST(ConsoleScenario, BadRequestsAndDisabledConsoleAnswerClearly) {
  auto p = StartListen({"--console=false", "--inspect-buffer", "0"});
  ASSERT_TRUE(p);
  auto addr = p->HttpAddr();
  ASSERT_TRUE(addr);
  auto root = HttpGet(*addr, "/");
  ASSERT_TRUE(root);
  EXPECT_EQ(root->status, 404);
  auto inspect = HttpGet(*addr, "/inspect");
  ASSERT_TRUE(inspect);
  EXPECT_EQ(inspect->status, 404);
  EXPECT_NE(inspect->body.find("--inspect-buffer"), std::string::npos);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();

  auto q = StartListen({});
  ASSERT_TRUE(q);
  auto addr2 = q->HttpAddr();
  ASSERT_TRUE(addr2);
  auto bad = HttpGet(*addr2, "/inspect?point=nowhere");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  auto bad_stream = HttpGet(*addr2, "/inspect/stream?point=nowhere");
  ASSERT_TRUE(bad_stream);
  EXPECT_EQ(bad_stream->status, 400);
  // SPEC's /debug/pprof for a C++ process: threads and memory.
  auto threads = HttpGet(*addr2, "/debug/threads");
  ASSERT_TRUE(threads);
  EXPECT_EQ(threads->status, 200);
  auto t = ParseJson(threads->body);
  EXPECT_GT(t.at("count").as_int64(), 2);
  EXPECT_EQ(t.at("threads").as_array().size(), static_cast<size_t>(t.at("count").as_int64()));
  auto memory = HttpGet(*addr2, "/debug/memory");
  ASSERT_TRUE(memory);
  EXPECT_EQ(memory->status, 200);
  auto m = ParseJson(memory->body);
  EXPECT_GT(m.at("rss_bytes").as_int64(), 1 << 20);
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  // The sanitizers replace malloc; their mallinfo2() reports zeros.
  EXPECT_GT(m.at("malloc").at("in_use_bytes").as_int64(), 0);
#endif
  auto page = HttpGet(*addr2, "/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("<title>pgcdc console</title>"), std::string::npos);
  q->Signal(SIGTERM);
  EXPECT_EQ(q->Wait(), 0) << q->Stderr();
}

}  // namespace
}  // namespace pgcdc::testing
