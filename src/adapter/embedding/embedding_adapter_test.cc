#include "adapter/embedding/embedding_adapter.h"

#include <gtest/gtest.h>

#include "registry/test_util.h"

namespace pgcdc::adapter::embedding {
namespace {

TEST(EmbeddingConfigTest, DeclarationBindsAndValidates) {
  auto [o, errors] =
      testing::BindForTest<Options>(Connector(), {{"embedding.api_url", "http://127.0.0.1:9/v1"},
                                                  {"embedding.columns", "title,body"},
                                                  {"embedding.db_url", "postgres://x/y"},
                                                  {"embedding.batch_size", "16"}});
  EXPECT_TRUE(errors.empty()) << errors[0];
  EXPECT_EQ(o.columns, (std::vector<std::string>{"title", "body"}));
  EXPECT_EQ(o.model, "text-embedding-3-small");
  EXPECT_EQ(o.table, "pgcdc_embeddings");
  EXPECT_EQ(o.id_column, "id");
  EXPECT_EQ(o.dimension, 1536u);
  EXPECT_EQ(o.batch_size, 16u);
  EXPECT_EQ(o.concurrency, 2u);
  EXPECT_EQ(o.max_retries, 0u);
  EXPECT_EQ(o.timeout, std::chrono::seconds(30));
  EXPECT_EQ(o.backoff.base, std::chrono::seconds(2));
  EXPECT_EQ(o.backoff.cap, std::chrono::seconds(60));
  EXPECT_FALSE(o.skip_unchanged);
  auto bad = testing::BindForTest<Options>(Connector(), {}).second;
  ASSERT_EQ(bad.size(), 3u);
  EXPECT_NE(bad[0].find("embedding.api_url: required"), std::string::npos) << bad[0];
  EXPECT_NE(bad[1].find("embedding.columns: required"), std::string::npos) << bad[1];
  EXPECT_NE(bad[2].find("embedding.db_url: required"), std::string::npos) << bad[2];
  bad = testing::BindForTest<Options>(Connector(), {{"embedding.api_url", "ftp://x"},
                                                    {"embedding.columns", "t"},
                                                    {"embedding.db_url", "postgres://x"},
                                                    {"embedding.table", "a.b.c"}})
            .second;
  ASSERT_EQ(bad.size(), 2u);
  EXPECT_NE(bad[0].find("embedding.api_url"), std::string::npos) << bad[0];
  EXPECT_NE(bad[1].find("embedding.table"), std::string::npos) << bad[1];
}

TEST(EmbeddingAdapterTest, UnreachableDatabaseIsAClearStartUpError) {
  Options o;
  o.api_url = "http://127.0.0.1:1/v1";
  o.columns = {"t"};
  o.db_url = "postgresql://nobody@127.0.0.1:1/x?connect_timeout=2";
  EmbeddingAdapter adapter(o);
  auto st = adapter.Open();
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message().find("embedding (database"), std::string::npos)
      << st.error().message();
}

}  // namespace
}  // namespace pgcdc::adapter::embedding
