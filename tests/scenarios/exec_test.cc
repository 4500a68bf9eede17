// User journey: pipe change events into a script. pgcdc runs the command
// with `sh -c`, writes one JSON line per event to its stdin and restarts it
// (with backoff) whenever it exits; events the old child never read are
// given to the next one, so a script that handles a few lines and exits
// still sees every event. Our stdout keeps carrying only events.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>

#include "harness.h"
#include "json_util.h"

namespace pgcdc::testing {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> ReadLines(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

std::unique_ptr<Process> StartExec(const std::string& channel, const std::string& command,
                                   std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"listen",
                                   "--db",
                                   SharedCluster().Url(),
                                   "-c",
                                   channel,
                                   "-a",
                                   "exec",
                                   "--exec-command",
                                   command,
                                   "--exec-backoff-base",
                                   "20ms",
                                   "--exec-backoff-cap",
                                   "200ms",
                                   "--bus-mode",
                                   "reliable",
                                   "--http-addr",
                                   "127.0.0.1:0"};
  for (auto& a : extra) args.push_back(a);
  auto p = Process::Start({.args = args});
  EXPECT_TRUE(p);
  if (p) {
    EXPECT_TRUE(p->WaitForStderr("listening detector=listen_notify")) << p->Stderr();
  }
  return p;
}

// Checks that `lines` are the envelopes of payloads {"n":1} … {"n":count}, in order.
void ExpectNumbered(const std::vector<std::string>& lines, const std::string& channel, int count) {
  ASSERT_EQ(lines.size(), static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) {
    EXPECT_EQ(CheckEnvelope(lines[i], channel, "NOTIFY", "listen_notify"),
              "{\"n\":" + std::to_string(i + 1) + "}");
  }
}

TEST(ExecScenario, ScriptExitingAfterThreeLinesSeesEveryEventAcrossRestarts) {
  TempDir dir;
  const std::string out = dir.path + "/out.jsonl";
  // Handles three lines (reading line by line) and exits.
  auto p = StartExec("pgcdc:exec3",
                     "n=0; while [ $n -lt 3 ] && IFS= read -r line; do printf '%s\\n' \"$line\" "
                     ">> '" +
                         out + "'; n=$((n+1)); done");
  ASSERT_TRUE(p);
  auto conn = Connect();
  // One burst: most events are still in the pipe when a child exits.
  ExecOrFail(conn,
             "SELECT pg_notify('pgcdc:exec3', json_build_object('n', g)::text) FROM "
             "generate_series(1, 30) g");
  ASSERT_TRUE(Eventually([&] { return ReadLines(out).size() >= 30; }, 30s)) << p->Stderr();
  ExpectNumbered(ReadLines(out), "pgcdc:exec3", 30);
  EXPECT_GE(ScrapeMetric(*p, "pgcdc_exec_restarts_total").value_or(0), 9.0);
  EXPECT_GE(ScrapeMetric(*p, "pgcdc_exec_resent_events_total").value_or(0), 1.0);
  EXPECT_TRUE(p->StdoutLines().empty());
  EXPECT_NE(p->Stderr().find("exec child stopped; restarting"), std::string::npos);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
}

TEST(ExecScenario, HeadDashNThreeWithPacedEvents) {
  TempDir dir;
  const std::string out = dir.path + "/out.jsonl";
  // head reads whatever the pipe holds; one event at a time nothing is lost.
  // (stdbuf: head's output to a file is otherwise only written at exit.)
  auto p = StartExec("pgcdc:exechead", "stdbuf -oL head -n 3 >> '" + out + "'");
  ASSERT_TRUE(p);
  auto conn = Connect();
  for (int i = 1; i <= 9; ++i) {
    ExecOrFail(conn, "SELECT pg_notify('pgcdc:exechead', '{\"n\":" + std::to_string(i) + "}')");
    ASSERT_TRUE(Eventually([&] { return ReadLines(out).size() >= static_cast<size_t>(i); }))
        << i << "\n"
        << p->Stderr();
  }
  ExpectNumbered(ReadLines(out), "pgcdc:exechead", 9);
  EXPECT_GE(ScrapeMetric(*p, "pgcdc_exec_restarts_total").value_or(0), 2.0);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
}

TEST(ExecScenario, FailingCommandBacksOffThenDeliversEverything) {
  TempDir dir;
  const std::string out = dir.path + "/out.jsonl";
  const std::string ready = dir.path + "/ready";
  auto p = StartExec("pgcdc:execfail", "test -f '" + ready +
                                           "' || { echo 'sink not ready' >&2; exit 3; }; exec cat "
                                           ">> '" +
                                           out + "'");
  ASSERT_TRUE(p);
  auto conn = Connect();
  ExecOrFail(conn,
             "SELECT pg_notify('pgcdc:execfail', json_build_object('n', g)::text) FROM "
             "generate_series(1, 5) g");
  // The child keeps failing: restarts with backoff, clear logs, nothing written, no exit.
  ASSERT_TRUE(Eventually([&] { return ScrapeMetric(*p, "pgcdc_exec_restarts_total") >= 4; }))
      << p->Stderr();
  EXPECT_TRUE(p->WaitForStderr("sink not ready", 5s, 3));
  EXPECT_NE(p->Stderr().find("status=\"exit code 3\""), std::string::npos) << p->Stderr();
  EXPECT_FALSE(fs::exists(out));
  EXPECT_FALSE(p->Wait(0ms).has_value()) << "pgcdc must keep running";
  // Once the command can work, the held-back events arrive, in order.
  std::ofstream(ready).put('\n');
  ASSERT_TRUE(Eventually([&] { return ReadLines(out).size() >= 5; })) << p->Stderr();
  ExpectNumbered(ReadLines(out), "pgcdc:execfail", 5);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
}

TEST(ExecScenario, ChildStdoutNeverReachesOurStdout) {
  // `cat` echoes every event: with the stdout adapter alongside, our stdout
  // must hold each event exactly once (the echo goes to stderr).
  auto p = StartExec("pgcdc:execcat", "cat", {"-a", "stdout"});
  ASSERT_TRUE(p);
  auto conn = Connect();
  ExecOrFail(conn,
             "SELECT pg_notify('pgcdc:execcat', json_build_object('n', g)::text) FROM "
             "generate_series(1, 3) g");
  ASSERT_TRUE(p->WaitForLines(3)) << p->Stderr();
  const auto lines = p->StdoutLines();
  ASSERT_TRUE(p->WaitForStderr(lines[2]));
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
  ExpectNumbered(p->StdoutLines(), "pgcdc:execcat", 3);
}

TEST(ExecScenario, StartupErrors) {
  auto none = Process::Start({.args = {"listen", "--db", SharedCluster().Url(), "-c", "x", "-a",
                                       "exec", "--http-addr", ""}});
  ASSERT_TRUE(none);
  EXPECT_EQ(none->Wait(), 2);
  EXPECT_NE(none->Stderr().find("exec.command: required"), std::string::npos) << none->Stderr();

  TempDir dir;  // a PATH without sh
  auto no_sh = Process::Start({.args = {"listen", "--db", SharedCluster().Url(), "-c", "x", "-a",
                                        "exec", "--exec-command", "cat", "--http-addr", ""},
                               .env = {{"PATH", dir.path}}});
  ASSERT_TRUE(no_sh);
  EXPECT_EQ(no_sh->Wait(), 1);
  EXPECT_NE(no_sh->Stderr().find("no executable sh found on PATH"), std::string::npos)
      << no_sh->Stderr();
}

TEST(ExecScenario, ShutdownWithAChildThatNeverReadsDoesNotHang) {
  // The pipe fills up and Deliver blocks; SIGTERM must still end pgcdc
  // within the shutdown timeout (the sink is interrupted; nothing is acked).
  auto p = StartExec("pgcdc:execstuck", "exec sleep 600", {"--shutdown-timeout", "1s"});
  ASSERT_TRUE(p);
  auto conn = Connect();
  ExecOrFail(conn,
             "SELECT pg_notify('pgcdc:execstuck', json_build_object('n', g, 'pad', "
             "repeat('x', 1000))::text) FROM generate_series(1, 200) g");
  ASSERT_TRUE(Eventually([&] {
    return ScrapeMetric(*p, "pgcdc_events_received_total").value_or(0) >= 200;
  })) << p->Stderr();
  const auto start = Clock::now();
  p->Signal(SIGTERM);
  auto code = p->Wait(10s);
  ASSERT_TRUE(code.has_value()) << "pgcdc hung at shutdown\n" << p->Stderr();
  EXPECT_NE(*code, 0);
  EXPECT_LT(Clock::now() - start, 5s);
  EXPECT_NE(p->Stderr().find("killed by signal SIGKILL"), std::string::npos) << p->Stderr();
}

}  // namespace
}  // namespace pgcdc::testing
