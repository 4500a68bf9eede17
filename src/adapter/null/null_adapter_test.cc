#include "adapter/null/null_adapter.h"

#include <gtest/gtest.h>

#include "registry/test_util.h"

namespace pgcdc::adapter::null {
namespace {

TEST(NullAdapter, AcknowledgesAndCountsEverything) {
  const ConnectorInfo info = Connector();
  auto cfg = testing::LoadConnectorConfig(info, {{"null.log_every", {"2"}}});
  ASSERT_TRUE(testing::Validate(info, cfg).empty());
  auto a = info.make_adapter(cfg.values, cfg.core);
  ASSERT_TRUE(a);
  Event e;
  const Event* batch[] = {&e, &e, &e};
  ASSERT_TRUE((*a)->Deliver(batch));
  ASSERT_TRUE((*a)->Deliver(batch));
  EXPECT_EQ(static_cast<NullAdapter&>(**a).delivered(), 6u);
}

TEST(NullAdapter, RejectsNegativeLogInterval) {
  auto cfg = testing::LoadConnectorConfig(Connector(), {{"null.log_every", {"-1"}}});
  ASSERT_EQ(cfg.errors.size(), 1u);
  EXPECT_NE(cfg.errors[0].find("null.log_every: must be >= 0"), std::string::npos);
}

}  // namespace
}  // namespace pgcdc::adapter::null
