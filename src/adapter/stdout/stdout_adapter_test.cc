#include "adapter/stdout/stdout_adapter.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include "core/test_util.h"

namespace pgcdc::adapter::stdout_sink {
namespace {

std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, n);
  return out;
}

Event MakeEvent(const std::string& channel) {
  return testing::MakeEvent(
      {.channel = channel, .operation = "NOTIFY", .payload = "{\"a\":1}", .source = "test"});
}

TEST(StdoutAdapterTest, WritesOneLinePerEventOnFlush) {
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  StdoutAdapter a(p[1]);
  Event e1 = MakeEvent("one"), e2 = MakeEvent("two");
  const Event* evs[] = {&e1, &e2};
  ASSERT_TRUE(a.Deliver(evs));
  ASSERT_TRUE(a.Flush());
  ::close(p[1]);
  EXPECT_EQ(ReadAll(p[0]), e1.Json() + "\n" + e2.Json() + "\n");
  ::close(p[0]);
}

TEST(StdoutAdapterTest, LargeBurstFlushesWithoutWaitingForIdle) {
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  StdoutAdapter a(p[1], /*flush_bytes=*/64);
  Event e = MakeEvent("c");
  const Event* evs[] = {&e};
  ASSERT_TRUE(a.Deliver(evs));  // exceeds 64 bytes: written immediately
  ::close(p[1]);
  EXPECT_EQ(ReadAll(p[0]), e.Json() + "\n");
  ::close(p[0]);
}

TEST(StdoutAdapterTest, ClosedReaderIsReportedAsClosed) {
  ::signal(SIGPIPE, SIG_IGN);
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  ::close(p[0]);
  StdoutAdapter a(p[1]);
  Event e = MakeEvent("c");
  const Event* evs[] = {&e};
  ASSERT_TRUE(a.Deliver(evs));
  auto st = a.Flush();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), ErrorCode::kClosed);
  ::close(p[1]);
}

}  // namespace
}  // namespace pgcdc::adapter::stdout_sink
