#include "adapter/exec/exec_adapter.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/test_util.h"

namespace pgcdc::adapter::exec {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using pgcdc::testing::Eventually;

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<Event> MakeEvents(int n, size_t pad = 0) {
  std::vector<Event> events;
  for (int i = 0; i < n; ++i) {
    events.push_back(testing::MakeEvent(
        {.channel = "c",
         .operation = "INSERT",
         .payload = "{\"i\":" + std::to_string(i) + ",\"pad\":\"" + std::string(pad, 'x') + "\"}",
         .source = "test"}));
  }
  return events;
}

std::vector<const Event*> Ptrs(const std::vector<Event>& events) {
  std::vector<const Event*> out;
  for (const auto& e : events) out.push_back(&e);
  return out;
}

std::string Expected(const std::vector<Event>& events) {
  std::string out;
  for (const auto& e : events) out += e.Json() + "\n";
  return out;
}

Options Fast(std::string command) {
  Options o;
  o.command = std::move(command);
  o.backoff = {.base = 10ms, .cap = 50ms, .floor = 1ms};
  o.stop_timeout = 2s;
  return o;
}

class ExecAdapterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Like the pipeline: SIGPIPE ignored, so writes to a gone child return EPIPE.
    ::signal(SIGPIPE, SIG_IGN);
    dir_ = fs::path(::testing::TempDir()) / ("pgcdc_exec_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  // Delivers `n` events, waits until the child read them and closes the
  // adapter (EOF); `out`, where the child writes what it read, must then
  // hold exactly their lines.
  static void DeliverAndExpectOutput(ExecAdapter& a, int n, const std::string& out) {
    auto events = MakeEvents(n);
    ASSERT_TRUE(a.Deliver(Ptrs(events)));
    ASSERT_TRUE(a.Flush());
    a.Close();
    EXPECT_EQ(Slurp(out), Expected(events));
  }
  fs::path dir_;
};

TEST_F(ExecAdapterTest, WritesJsonLinesAndFlushWaitsUntilTheChildReadThem) {
  const std::string out = Path("out");
  ExecAdapter a(Fast("cat > '" + out + "'"));
  ASSERT_TRUE(a.Open());
  DeliverAndExpectOutput(a, 500, out);
  EXPECT_EQ(a.restarts(), 0u);
  EXPECT_EQ(a.child_pid(), -1);
}

TEST_F(ExecAdapterTest, ChildExitingAfterThreeLinesGetsTheRestRestartedInOrder) {
  const std::string out = Path("out");
  // Reads line by line (no read-ahead) and exits after three lines.
  ExecAdapter a(Fast("n=0; while [ $n -lt 3 ] && IFS= read -r l; do printf '%s\\n' \"$l\" >> '" +
                     out + "'; n=$((n+1)); done"));
  ASSERT_TRUE(a.Open());
  DeliverAndExpectOutput(a, 20, out);
  EXPECT_GE(a.restarts(), 6u);
}

TEST_F(ExecAdapterTest, FailingCommandBacksOffUntilItWorks) {
  const std::string out = Path("out");
  const std::string ready = Path("ready");
  ExecAdapter a(Fast("test -f '" + ready + "' || exit 3; exec cat >> '" + out + "'"));
  ASSERT_TRUE(a.Open());
  auto events = MakeEvents(5);
  Status delivered = Fail(ErrorCode::kUnknown, "not run");
  std::thread worker([&] {
    delivered = a.Deliver(Ptrs(events));
    if (delivered) delivered = a.Flush();
  });
  ASSERT_TRUE(Eventually([&] { return a.restarts() >= 3; }));
  std::ofstream(ready).put('\n');
  worker.join();
  ASSERT_TRUE(delivered) << delivered.error().message();
  a.Close();
  EXPECT_EQ(Slurp(out), Expected(events));
}

TEST_F(ExecAdapterTest, InterruptUnblocksAFullPipeAndAWaitingFlush) {
  {
    // The child never reads: 2 MB do not fit in the pipe, Deliver blocks.
    ExecAdapter a(Fast("exec sleep 60"));
    ASSERT_TRUE(a.Open());
    auto events = MakeEvents(2000, 1000);
    Status st = Ok();
    std::thread worker([&] { st = a.Deliver(Ptrs(events)); });
    std::this_thread::sleep_for(100ms);
    const auto start = std::chrono::steady_clock::now();
    a.Interrupt();
    worker.join();
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code(), ErrorCode::kCancelled);
    a.Close();  // interrupted: kills at once instead of waiting stop_timeout
    EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  }
  {
    ExecAdapter a(Fast("exec sleep 60"));
    ASSERT_TRUE(a.Open());
    auto events = MakeEvents(3);
    ASSERT_TRUE(a.Deliver(Ptrs(events)));  // fits in the pipe
    Status st = Ok();
    std::thread worker([&] { st = a.Flush(); });
    std::this_thread::sleep_for(50ms);
    a.Interrupt();
    worker.join();
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code(), ErrorCode::kCancelled);
    a.Close();
  }
}

TEST_F(ExecAdapterTest, ChildThatClosesStdinAndLingersIsStoppedAndReplaced) {
  const std::string out = Path("out");
  const std::string marker = Path("started");
  // First child: closes stdin and keeps running; later ones read normally.
  Options o = Fast("if [ ! -f '" + marker + "' ]; then touch '" + marker +
                   "'; exec 0<&-; exec sleep 60; fi; exec cat >> '" + out + "'");
  o.stop_timeout = 100ms;
  ExecAdapter a(o);
  ASSERT_TRUE(a.Open());
  ASSERT_TRUE(Eventually([&] { return fs::exists(marker); }));
  DeliverAndExpectOutput(a, 10, out);
  EXPECT_EQ(a.restarts(), 1u);
}

TEST_F(ExecAdapterTest, ChildGetsDefaultSignalsAndNoExtraDescriptors) {
  const std::string out = Path("status");
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGINT);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  const int extra = ::open("/dev/null", O_RDONLY);  // no O_CLOEXEC: must not leak anyway
  ExecAdapter a(Fast("grep -E '^(SigBlk|SigIgn)' /proc/self/status > '" + out +
                     "'; ls /proc/self/fd | wc -l >> '" + out + "'; cat > /dev/null"));
  ASSERT_TRUE(a.Open());
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ::close(extra);
  auto events = MakeEvents(1);
  ASSERT_TRUE(a.Deliver(Ptrs(events)));
  ASSERT_TRUE(a.Flush());
  a.Close();
  const std::string status = Slurp(out);
  EXPECT_NE(status.find("SigBlk:\t0000000000000000"), std::string::npos) << status;
  // Standard signals (1-31) all at their defaults; glibc's posix_spawn
  // leaves its two internal real-time signals (32, 33) ignored.
  const size_t ign = status.find("SigIgn:\t");
  ASSERT_NE(ign, std::string::npos) << status;
  EXPECT_EQ(std::stoull(status.substr(ign + 8, 16), nullptr, 16) & 0x7fffffffULL, 0u) << status;
  // ls sees 0, 1, 2 and its own directory descriptor.
  EXPECT_NE(status.find("\n4\n"), std::string::npos) << status;
}

// Runs `body` with fds 1 and 2 pointing at files; returns their contents.
std::pair<std::string, std::string> CaptureStdio(const std::string& dir,
                                                 const std::function<void()>& body) {
  const std::string o = dir + "/stdout", e = dir + "/stderr";
  const int of = ::open(o.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  const int ef = ::open(e.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  const int saved_out = ::dup(1), saved_err = ::dup(2);
  ::dup2(of, 1);
  ::dup2(ef, 2);
  body();
  ::dup2(saved_out, 1);
  ::dup2(saved_err, 2);
  ::close(saved_out);
  ::close(saved_err);
  ::close(of);
  ::close(ef);
  return {Slurp(o), Slurp(e)};
}

TEST_F(ExecAdapterTest, ChildStdoutGoesToStderrOrNowhereNeverToStdout) {
  auto events = MakeEvents(3);
  auto [out, err] = CaptureStdio(dir_.string(), [&] {
    ExecAdapter a(Fast("cat"));
    ASSERT_TRUE(a.Open());
    ASSERT_TRUE(a.Deliver(Ptrs(events)));
    ASSERT_TRUE(a.Flush());
    a.Close();
  });
  EXPECT_EQ(out, "");
  EXPECT_NE(err.find(Expected(events)), std::string::npos) << err;

  Options discard = Fast("cat; echo oops >&2");
  discard.child_stdout = ChildStdout::kDiscard;
  std::tie(out, err) = CaptureStdio(dir_.string(), [&] {
    ExecAdapter a(discard);
    ASSERT_TRUE(a.Open());
    ASSERT_TRUE(a.Deliver(Ptrs(events)));
    ASSERT_TRUE(a.Flush());
    a.Close();
  });
  EXPECT_EQ(out, "");
  EXPECT_EQ(err.find(events[0].Json()), std::string::npos) << err;
  EXPECT_NE(err.find("oops\n"), std::string::npos) << "child stderr is ours: " << err;
}

TEST_F(ExecAdapterTest, PreflightErrors) {
  ExecAdapter empty(Fast(""));
  auto st = empty.Open();
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message().find("command is empty"), std::string::npos);

  const std::string saved = std::getenv("PATH") != nullptr ? std::getenv("PATH") : "";
  ::setenv("PATH", dir_.c_str(), 1);
  ExecAdapter no_sh(Fast("cat"));
  st = no_sh.Open();
  ::setenv("PATH", saved.c_str(), 1);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message().find("no executable sh found on PATH"), std::string::npos);

  EXPECT_EQ(FindInPath("sh", "/nonexistent:/bin:/usr/bin").empty(), false);
  EXPECT_EQ(FindInPath("definitely-not-a-command", "/bin:/usr/bin"), "");
}

}  // namespace
}  // namespace pgcdc::adapter::exec
