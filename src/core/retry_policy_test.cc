#include "core/retry_policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/backoff.h"

namespace pgcdc {
namespace {

using std::chrono::milliseconds;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(RetryPolicyTest, DefaultsAreValid) {
  EXPECT_THAT(RetryPolicy{}.Validate("detector."), IsEmpty());
  EXPECT_TRUE(RetryPolicy{}.unlimited());
}

TEST(RetryPolicyTest, ReportsEveryProblemWithThePrefix) {
  RetryPolicy p{.base = milliseconds(0), .cap = milliseconds(-1), .floor = milliseconds(-5)};
  p.healthy_reset = milliseconds(-1);
  EXPECT_THAT(p.Validate("webhook."), ElementsAre("webhook.backoff_base: must be > 0",
                                                  "webhook.backoff_cap: must be >= backoff_base",
                                                  "webhook.backoff_floor: must be >= 0",
                                                  "webhook.healthy_reset: must be >= 0"));
}

TEST(RetryPolicyTest, CapBelowBase) {
  RetryPolicy p{.base = milliseconds(2000), .cap = milliseconds(1000)};
  EXPECT_THAT(p.Validate(), ElementsAre("backoff_cap: must be >= backoff_base"));
}

TEST(RetryPolicyTest, FloorAboveCap) {
  RetryPolicy p{.base = milliseconds(10), .cap = milliseconds(20), .floor = milliseconds(50)};
  EXPECT_THAT(p.Validate(), ElementsAre("backoff_floor: must be <= backoff_cap"));
}

TEST(RetryPolicyTest, BackoffPolicyIsTheSameType) {
  // Connector Options still spell it BackoffPolicy, positionally or by name.
  BackoffPolicy positional{milliseconds(1000), milliseconds(30000), milliseconds(100)};
  RetryPolicy named{.base = milliseconds(1000), .cap = milliseconds(30000)};
  EXPECT_EQ(positional, named);
}

TEST(BackoffSeedTest, SameSeedSameDelays) {
  RetryPolicy p{.base = milliseconds(100), .cap = milliseconds(10000), .floor = milliseconds(0)};
  Backoff a(p, 42), b(p, 42), c(p, 43);
  bool differs = false;
  for (int i = 0; i < 20; ++i) {
    const auto da = a.Next();
    EXPECT_EQ(da, b.Next());
    differs |= da != c.Next();
  }
  EXPECT_TRUE(differs);
}

TEST(BackoffSeedTest, ExhaustedAfterMaxAttempts) {
  Backoff b(RetryPolicy{.max_attempts = 2}, 1);
  EXPECT_FALSE(b.exhausted());
  b.Next();
  EXPECT_FALSE(b.exhausted());
  b.Next();
  EXPECT_TRUE(b.exhausted());
  b.Reset();
  EXPECT_FALSE(b.exhausted());
  Backoff unlimited(RetryPolicy{}, 1);
  for (int i = 0; i < 100; ++i) unlimited.Next();
  EXPECT_FALSE(unlimited.exhausted());
  EXPECT_EQ(unlimited.attempt(), 100u);
}

}  // namespace
}  // namespace pgcdc
