#include "adapter/clickhouse/clickhouse_adapter.h"

#include <gtest/gtest.h>

#include "registry/test_util.h"

namespace pgcdc::adapter::clickhouse {
namespace {

TEST(ClickHouseConfigTest, DeclarationAppliesTheEffectiveDefaults) {
  auto [o, errors] =
      testing::BindForTest<Options>(Connector(), {{"clickhouse.dsn", "http://127.0.0.1:8123/db"},
                                                  {"clickhouse.settings", "max_insert_threads=4"},
                                                  {"clickhouse.settings", "insert_quorum=2"}});
  EXPECT_TRUE(errors.empty()) << errors[0];
  EXPECT_EQ(o.table, "pgcdc_events");
  EXPECT_FALSE(o.auto_create);
  EXPECT_FALSE(o.async_insert);
  EXPECT_EQ(o.batch_size, 10000u);
  EXPECT_EQ(o.flush_interval, std::chrono::seconds(1));
  EXPECT_EQ(o.backoff.base, std::chrono::seconds(5));
  EXPECT_EQ(o.backoff.cap, std::chrono::seconds(60));
  ASSERT_EQ(o.settings.size(), 2u);
  EXPECT_EQ(o.settings.at("insert_quorum"), std::vector<std::string>{"2"});
}

TEST(ClickHouseConfigTest, BadValuesAreNamed) {
  auto bad = testing::BindForTest<Options>(Connector(), {}).second;
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_NE(bad[0].find("clickhouse.dsn: required"), std::string::npos) << bad[0];
  bad = testing::BindForTest<Options>(Connector(), {{"clickhouse.dsn", "clickhouse://h:9000"}})
            .second;
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_NE(bad[0].find("HTTP interface only"), std::string::npos) << bad[0];
  bad = testing::BindForTest<Options>(Connector(), {{"clickhouse.dsn", "http://h"},
                                                    {"clickhouse.settings", "a-b=1"},
                                                    {"clickhouse.batch_size", "0"}})
            .second;
  EXPECT_TRUE(testing::HasError(bad, "clickhouse.batch_size")) << bad[0];
  EXPECT_TRUE(testing::HasError(bad, "not a setting name"));
  bad = testing::BindForTest<Options>(
            Connector(), {{"clickhouse.dsn", "http://h"}, {"clickhouse.settings", "foo"}})
            .second;
  EXPECT_TRUE(testing::HasError(bad, "invalid entry \"foo\" (expected name=value)")) << bad[0];
}

TEST(ClickHouseAdapterTest, UnreachableServerIsAClearStartUpError) {
  Options o;
  o.dsn = "http://user:topsecret@127.0.0.1:1/db";
  o.timeout = std::chrono::milliseconds(2000);
  ClickHouseAdapter adapter(o);
  auto st = adapter.Open();
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message().find("clickhouse: cannot reach ClickHouse at http://user:xxx@"),
            std::string::npos)
      << st.error().message();
  EXPECT_EQ(st.error().message().find("topsecret"), std::string::npos);
  EXPECT_FALSE(adapter.OldestHeldSeq());
}

}  // namespace
}  // namespace pgcdc::adapter::clickhouse
