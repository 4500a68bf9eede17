// User journey: change which channels an adapter receives without a restart.
// Routes live in the YAML config; editing it and sending SIGHUP swaps them
// atomically while events flow: nothing is lost or duplicated, and the new
// routes are in effect as soon as `config reloaded` is logged.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <fstream>
#include <set>

#include "harness.h"
#include "json_util.h"

namespace pgcdc::testing {
namespace {

// payload "<channel-letter>:<n>" -> (letter, n)
std::pair<std::string, int> Parse(const std::string& line) {
  auto v = ParseJson(line);
  const std::string payload = std::string(v.at("payload").as_string());
  const auto colon = payload.find(':');
  return {payload.substr(0, colon), std::stoi(payload.substr(colon + 1))};
}

TEST(ReloadScenario, SighupSwapsRoutesWithoutLossOrDuplicates) {
  TempDir dir;
  const std::string yaml = dir.Write("pgcdc.yaml", "routes:\n  stdout: [\"rl:a\"]\n");
  const std::string file = dir.path + "/all.jsonl";
  auto p = Process::Start({.args = {"--config", yaml, "listen", "--db", SharedCluster().Url(), "-c",
                                    "rl:a", "-c", "rl:b", "-a", "stdout", "-a", "file",
                                    "--file-path", file, "--http-addr", "127.0.0.1:0"}});
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->WaitForStderr("listening detector=listen_notify")) << p->Stderr();

  // A writer alternates channels a and b with increasing numbers.
  std::atomic<bool> stop{false};
  std::atomic<int> sent{0};
  std::thread writer([&] {
    auto conn = Connect();
    for (int n = 1; !stop.load(); ++n) {
      const std::string ch = n % 2 ? "a" : "b";
      // Counted before it is sent: an event above the count read after the
      // reload was logged is sent after the reload (counted after, the
      // event could be routed by the old routes before the count moved).
      sent = n;
      auto r = conn.Query("SELECT pg_notify($1, $2)", {"rl:" + ch, ch + ":" + std::to_string(n)});
      ASSERT_TRUE(r) << r.error().message();
    }
  });
  ASSERT_TRUE(Eventually([&] { return sent.load() > 300; }));
  dir.Write("pgcdc.yaml", "routes:\n  stdout: [\"rl:b\"]\n");
  p->Signal(SIGHUP);
  ASSERT_TRUE(p->WaitForStderr("config reloaded")) << p->Stderr();
  const int sent_at_reload = sent.load();
  EXPECT_EQ(ScrapeMetric(*p, "pgcdc_config_reloads_total"), 1);
  ASSERT_TRUE(Eventually([&] { return sent.load() > sent_at_reload + 300; }));
  stop = true;
  writer.join();
  const int total = sent.load();

  // Everything reaches the unrouted file adapter exactly once.
  ASSERT_TRUE(Eventually([&] { return static_cast<int>(ReadFileLines(file).size()) >= total; }))
      << ReadFileLines(file).size() << " of " << total;
  p->Signal(SIGTERM);
  ASSERT_EQ(p->Wait(), 0) << p->Stderr();
  std::set<int> in_file;
  for (const auto& line : ReadFileLines(file)) {
    EXPECT_TRUE(in_file.insert(Parse(line).second).second) << "duplicate in file: " << line;
  }
  EXPECT_EQ(static_cast<int>(in_file.size()), total);

  // stdout: a prefix of "a" events, then only "b" events; no duplicates;
  // every "b" event sent after the reload was logged is there.
  std::set<int> seen;
  bool switched = false;
  for (const auto& line : p->StdoutLines()) {
    auto [ch, n] = Parse(line);
    EXPECT_TRUE(seen.insert(n).second) << "duplicate on stdout: " << line;
    if (ch == "b") switched = true;
    if (switched) EXPECT_EQ(ch, "b") << "an a-event after the switch: " << line;
  }
  EXPECT_TRUE(switched);
  for (int n = sent_at_reload + 1; n <= total; ++n) {
    if (n % 2 == 0) EXPECT_TRUE(seen.count(n)) << "b-event " << n << " missing on stdout";
  }
}

TEST(ReloadScenario, InvalidConfigOnSighupKeepsRunningConfiguration) {
  TempDir dir;
  const std::string yaml = dir.Write("pgcdc.yaml", "routes:\n  stdout: [\"rv:a\"]\n");
  auto p = Process::Start({.args = {"--config", yaml, "listen", "--db", SharedCluster().Url(), "-c",
                                    "rv:a", "-c", "rv:b", "--http-addr", "127.0.0.1:0"}});
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->WaitForStderr("listening detector=listen_notify")) << p->Stderr();
  // A route for an adapter that is not enabled is a validation error.
  dir.Write("pgcdc.yaml", "routes:\n  webhookx: [\"rv:b\"]\n  stdout: [\"rv:b\"]\n");
  p->Signal(SIGHUP);
  ASSERT_TRUE(p->WaitForStderr("config reload failed")) << p->Stderr();
  EXPECT_EQ(ScrapeMetric(*p, "pgcdc_config_reload_errors_total"), 1);
  EXPECT_EQ(ScrapeMetric(*p, "pgcdc_config_reloads_total"), 0);
  auto conn = Connect();
  ASSERT_TRUE(conn.Query("SELECT pg_notify('rv:b', 'b:1'), pg_notify('rv:a', 'a:2')", {}));
  ASSERT_TRUE(p->WaitForLines(1));
  p->Signal(SIGTERM);
  ASSERT_EQ(p->Wait(), 0) << p->Stderr();
  auto lines = p->StdoutLines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(Parse(lines[0]).first, "a");
}

}  // namespace
}  // namespace pgcdc::testing
