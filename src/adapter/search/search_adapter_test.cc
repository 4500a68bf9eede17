#include "adapter/search/search_adapter.h"

#include <gtest/gtest.h>

#include "registry/test_util.h"

namespace pgcdc::adapter::search {
namespace {

TEST(SearchConfigTest, DeclarationBindsAndValidates) {
  auto [o, errors] =
      testing::BindForTest<Options>(Connector(), {{"search.url", "http://127.0.0.1:8108/"},
                                                  {"search.index", "items"},
                                                  {"search.engine", "meilisearch"},
                                                  {"search.batch_interval", "250ms"}});
  EXPECT_TRUE(errors.empty()) << errors[0];
  EXPECT_EQ(o.engine, Engine::kMeilisearch);
  EXPECT_EQ(o.id_column, "id");
  EXPECT_EQ(o.batch_size, 100u);
  EXPECT_EQ(o.batch_interval, std::chrono::milliseconds(250));
  EXPECT_EQ(o.backoff.base, std::chrono::seconds(1));
  EXPECT_EQ(o.backoff.cap, std::chrono::seconds(30));
  EXPECT_FALSE(o.wait);
  auto bad = testing::BindForTest<Options>(Connector(), {}).second;
  ASSERT_EQ(bad.size(), 2u);
  EXPECT_NE(bad[0].find("search.url: required"), std::string::npos) << bad[0];
  EXPECT_NE(bad[1].find("search.index: required"), std::string::npos) << bad[1];
  bad =
      testing::BindForTest<Options>(Connector(), {{"search.url", "ftp://x"}, {"search.index", "i"}})
          .second;
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_NE(bad[0].find("search.url"), std::string::npos) << bad[0];
  bad = testing::BindForTest<Options>(
            Connector(),
            {{"search.url", "http://x"}, {"search.index", "i"}, {"search.engine", "elastic"}})
            .second;
  ASSERT_FALSE(bad.empty());
  EXPECT_NE(bad[0].find("search.engine"), std::string::npos) << bad[0];
}

TEST(SearchAdapterTest, UnreachableEngineIsAClearStartUpError) {
  Options o;
  o.url = "http://127.0.0.1:1";
  o.index = "items";
  o.timeout = std::chrono::milliseconds(2000);
  SearchAdapter adapter(o);
  auto st = adapter.Open();
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message().find("search: cannot reach typesense at http://127.0.0.1:1"),
            std::string::npos)
      << st.error().message();
  EXPECT_FALSE(adapter.OldestHeldSeq());
}

}  // namespace
}  // namespace pgcdc::adapter::search
