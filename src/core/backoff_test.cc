#include "core/backoff.h"

#include <gtest/gtest.h>

namespace pgcdc {
namespace {

using std::chrono::milliseconds;

TEST(BackoffTest, CeilingDoublesUntilCap) {
  BackoffPolicy p{milliseconds(100), milliseconds(1000), milliseconds(10)};
  EXPECT_EQ(BackoffCeiling(p, 0), milliseconds(100));
  EXPECT_EQ(BackoffCeiling(p, 1), milliseconds(200));
  EXPECT_EQ(BackoffCeiling(p, 3), milliseconds(800));
  EXPECT_EQ(BackoffCeiling(p, 4), milliseconds(1000));
  EXPECT_EQ(BackoffCeiling(p, 1000), milliseconds(1000));
}

TEST(BackoffTest, DelaysStayWithinFloorAndCeiling) {
  BackoffPolicy p{milliseconds(100), milliseconds(1000), milliseconds(50)};
  Backoff b(p);
  for (uint32_t i = 0; i < 200; ++i) {
    const uint32_t attempt = b.attempt();
    const auto d = b.Next();
    EXPECT_GE(d, milliseconds(50));
    EXPECT_LE(d, std::max(BackoffCeiling(p, attempt), milliseconds(50)));
  }
}

TEST(BackoffTest, ResetStartsOver) {
  Backoff b({milliseconds(100), milliseconds(100000), milliseconds(0)});
  for (int i = 0; i < 10; ++i) b.Next();
  EXPECT_EQ(b.attempt(), 10u);
  b.Reset();
  EXPECT_EQ(b.attempt(), 0u);
  EXPECT_LT(b.Next(), milliseconds(100));
}

}  // namespace
}  // namespace pgcdc
