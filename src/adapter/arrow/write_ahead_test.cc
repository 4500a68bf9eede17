#include "adapter/arrow/write_ahead.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace pgcdc::adapter::arrow {
namespace {

TEST(ArrowWriteAhead, WhoeverFinishesLastGoesOn) {
  WriteAhead a;
  // The write finishes after the encoding: its completion goes on.
  a.Started(10);
  EXPECT_FALSE(a.Encoded());
  auto d = a.WriteDone(true);
  EXPECT_TRUE(d.go_on);
  EXPECT_EQ(d.rows, 10u);
  // The write finishes during the encoding: the encoder goes on.
  a.Started(5);
  d = a.WriteDone(true);
  EXPECT_FALSE(d.go_on);
  EXPECT_EQ(d.rows, 5u);
  EXPECT_TRUE(a.Encoded());
  // A failed write counts no rows and ends the stream.
  a.Started(7);
  EXPECT_EQ(a.WriteDone(false).rows, 0u);
  EXPECT_TRUE(a.failed());
  EXPECT_TRUE(a.Encoded());
}

// Exactly one side goes on for every write, however the two race.
TEST(ArrowWriteAhead, ExactlyOneSideGoesOnUnderRaces) {
  for (int i = 0; i < 2000; ++i) {
    WriteAhead a;
    a.Started(1);
    std::atomic<int> go_on{0};
    std::thread completion([&] { go_on += a.WriteDone(true).go_on ? 1 : 0; });
    go_on += a.Encoded() ? 1 : 0;
    completion.join();
    ASSERT_EQ(go_on.load(), 1) << i;
  }
}

}  // namespace
}  // namespace pgcdc::adapter::arrow
