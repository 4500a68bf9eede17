#include "adapter/graphql/graphql_adapter.h"

#include <gtest/gtest.h>

#include "registry/test_util.h"

namespace pgcdc::adapter::graphql {
namespace {

TEST(GraphqlConnectorTest, DefaultsFollowTheSpec) {
  auto [o, errors] = testing::BindForTest<Options>(Connector(), {}, {.http_addr = "127.0.0.1:0"});
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(o.path, "/graphql");
  EXPECT_FALSE(o.schema_aware);
  EXPECT_EQ(o.buffer_size, 256u);
  EXPECT_EQ(o.keepalive_interval, std::chrono::seconds(15));
  EXPECT_EQ(o.init_timeout, std::chrono::seconds(15));
  EXPECT_TRUE(o.token.empty());
}

TEST(GraphqlConnectorTest, ValidationNamesTheProblem) {
  auto no_server = testing::LoadConnectorConfig(Connector(), {{"http_addr", {""}}});
  EXPECT_TRUE(testing::HasError(testing::Validate(Connector(), no_server), "--http-addr"));
  auto bad_path = testing::LoadConnectorConfig(Connector(), {{"graphql.path", {"graphql/"}}});
  EXPECT_TRUE(testing::HasError(testing::Validate(Connector(), bad_path), "graphql.path"));
  auto zero = testing::LoadConnectorConfig(Connector(), {{"graphql.buffer_size", {"0"}}});
  EXPECT_FALSE(testing::Validate(Connector(), zero).empty());
}

}  // namespace
}  // namespace pgcdc::adapter::graphql
