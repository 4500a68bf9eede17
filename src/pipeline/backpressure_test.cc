#include "pipeline/backpressure.h"

#include <gtest/gtest.h>

#include "core/health.h"

namespace pgcdc::pipeline {
namespace {

using std::chrono::milliseconds;

TEST(BackpressureTest, ZonesWithHysteresisThrottleAndShedding) {
  Health health;
  BackpressureController c(
      {.warn_bytes = 100, .critical_bytes = 300, .max_throttle = milliseconds(500)}, &health);
  EXPECT_EQ(c.Update(-5), Zone::kGreen);
  EXPECT_EQ(c.Throttle(), milliseconds(0));
  EXPECT_FALSE(c.ShouldShed(Priority::kBestEffort));
  EXPECT_EQ(c.Update(200), Zone::kYellow);
  EXPECT_EQ(c.Throttle(), milliseconds(250));
  EXPECT_TRUE(c.ShouldShed(Priority::kBestEffort));
  EXPECT_FALSE(c.ShouldShed(Priority::kNormal));
  EXPECT_EQ(health.Overall(), HealthStatus::kDegraded);
  EXPECT_EQ(c.Update(300), Zone::kRed);
  EXPECT_TRUE(c.Paused());
  EXPECT_EQ(c.Throttle(), milliseconds(500));
  EXPECT_TRUE(c.ShouldShed(Priority::kNormal));
  EXPECT_FALSE(c.ShouldShed(Priority::kCritical));
  EXPECT_EQ(c.Update(150), Zone::kRed) << "stays red until below warn";
  EXPECT_EQ(c.Update(99), Zone::kGreen);
  EXPECT_EQ(health.Overall(), HealthStatus::kUp);
}

TEST(BackpressureTest, ParsePriority) {
  EXPECT_EQ(*ParsePriority("critical"), Priority::kCritical);
  EXPECT_EQ(*ParsePriority("best-effort"), Priority::kBestEffort);
  EXPECT_FALSE(ParsePriority("vip"));
}

}  // namespace
}  // namespace pgcdc::pipeline
