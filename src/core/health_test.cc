#include "core/health.h"

#include <gtest/gtest.h>

namespace pgcdc {
namespace {

TEST(HealthTest, OverallFollowsWorstComponent) {
  Health h;
  EXPECT_EQ(h.Overall(), HealthStatus::kUp);  // nothing registered
  h.Register("detector");
  h.Register("stdout");
  EXPECT_EQ(h.Overall(), HealthStatus::kDown);  // components start down
  h.Up("detector");
  h.Up("stdout");
  EXPECT_EQ(h.Overall(), HealthStatus::kUp);
  h.Set("stdout", HealthStatus::kDegraded, "slow");
  EXPECT_EQ(h.Overall(), HealthStatus::kDegraded);
  h.Down("detector", "connection refused");
  EXPECT_EQ(h.Overall(), HealthStatus::kDown);
}

TEST(HealthTest, GetReportsOneComponent) {
  Health h;
  EXPECT_FALSE(h.Get("detector").has_value());
  h.Register("detector");
  ASSERT_TRUE(h.Get("detector").has_value());
  EXPECT_EQ(h.Get("detector")->status, HealthStatus::kDown);
  h.Down("detector", "connection refused");
  EXPECT_EQ(h.Get("detector")->last_error, "connection refused");
  h.Up("detector");
  EXPECT_EQ(h.Get("detector")->status, HealthStatus::kUp);
  EXPECT_EQ(h.Get("detector")->last_error, "");
}

TEST(HealthTest, JsonShape) {
  Health h;
  h.Register("bus");
  h.Register("detector");
  h.Down("detector", "boom \"x\"");
  const std::string j = h.ToJson();
  EXPECT_TRUE(j.starts_with(
      "{\"status\":\"down\",\"components\":{\"bus\":{\"status\":\"down\",\"last_seen\":"
      "\"0001-01-01T00:00:00Z\"},\"detector\":{\"status\":\"down\",\"last_error\":\"boom "
      "\\\"x\\\"\",\"last_seen\":\"20"))
      << j;
  h.Up("detector");
  EXPECT_EQ(h.ToJson().find("last_error"), std::string::npos) << "cleared when up";
}

}  // namespace
}  // namespace pgcdc
