// Schema store: canonical JSON, hashing and versioning on the memory backend.
#include "schema/store.h"

#include <gtest/gtest.h>

#include "core/test_util.h"

namespace pgcdc::schema {
namespace {

using pgcdc::testing::MetricValue;

std::vector<Column> Base() {
  return {{.name = "id", .type_oid = 23, .type_name = "int4"},
          {.name = "note", .type_oid = 25, .type_name = "text", .nullable = true}};
}

TEST(SchemaStoreTest, CanonicalJsonAndHash) {
  EXPECT_EQ(CanonicalJson(Base()),
            R"([{"name":"id","type_oid":23,"type_name":"int4"},)"
            R"({"name":"note","type_oid":25,"type_name":"text","nullable":true}])");
  // sha256 of the text above (python3 hashlib).
  EXPECT_EQ(Hash(Base()), "96a6ec69e1cd647b65d742219fac1a65e90d9629ce161609b0c9a89e3d814fd9");
  EXPECT_EQ(CanonicalJson({}), "[]");
  auto renamed = Base();
  renamed[1].name = "notes";
  EXPECT_NE(Hash(renamed), Hash(Base()));
}

TEST(SchemaStoreTest, ParseColumnsAcceptsJsonbText) {
  // JSONB output: keys reordered, spaces.
  auto parsed =
      ParseColumns(R"([{"name": "id", "type_oid": 23, "type_name": "int4"}, )"
                   R"({"name": "note", "nullable": true, "type_oid": 25, "type_name": "text"}])");
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(*parsed, Base());
  EXPECT_FALSE(ParseColumns("{}"));
  EXPECT_FALSE(ParseColumns(R"([{"name":"id"}])"));
  EXPECT_FALSE(ParseColumns("[1"));
}

TEST(SchemaStoreTest, SameColumnsSameVersionChangedColumnsNext) {
  ASSERT_TRUE(Open({.type = "memory"}));  // registers the metric families
  MemoryStore store;
  const double created_before = MetricValue("pgcdc_schema_store_registrations_total");
  auto v1 = store.Register("public.t", Base());
  ASSERT_TRUE(v1) << v1.error().message();
  EXPECT_EQ(v1->version, 1);
  EXPECT_TRUE(v1->created);
  auto again = store.Register("public.t", Base());
  ASSERT_TRUE(again);
  EXPECT_EQ(again->version, 1);
  EXPECT_FALSE(again->created);

  auto added = Base();
  added.push_back({.name = "extra", .type_oid = 1184, .type_name = "timestamptz"});
  auto v2 = store.Register("public.t", added);
  ASSERT_TRUE(v2);
  EXPECT_EQ(v2->version, 2);
  EXPECT_TRUE(v2->created);
  // Going back to the first shape is a change against the latest: version 3.
  auto v3 = store.Register("public.t", Base());
  ASSERT_TRUE(v3);
  EXPECT_EQ(v3->version, 3);
  // Subjects are independent.
  auto other = store.Register("shop.orders", added);
  ASSERT_TRUE(other);
  EXPECT_EQ(other->version, 1);
  EXPECT_EQ(MetricValue("pgcdc_schema_store_registrations_total") - created_before, 4);

  auto latest = store.Latest("public.t");
  ASSERT_TRUE(latest && latest->has_value());
  EXPECT_EQ((*latest)->version, 3);
  EXPECT_EQ((*latest)->columns, Base());
  EXPECT_EQ((*latest)->hash, Hash(Base()));
  auto second = store.Get("public.t", 2);
  ASSERT_TRUE(second && second->has_value());
  EXPECT_EQ((*second)->columns, added);
  EXPECT_FALSE(store.Get("public.t", 4)->has_value());
  EXPECT_FALSE(store.Get("public.t", 0)->has_value());
  EXPECT_FALSE(store.Latest("public.nope")->has_value());

  auto subjects = store.Subjects();
  ASSERT_TRUE(subjects);
  ASSERT_EQ(subjects->size(), 2u);
  EXPECT_EQ((*subjects)[0].subject, "public.t");
  EXPECT_EQ((*subjects)[0].latest_version, 3);
  EXPECT_EQ((*subjects)[1].subject, "shop.orders");
  EXPECT_EQ((*subjects)[1].latest_version, 1);
}

TEST(SchemaStoreTest, VersionJson) {
  Version v{.subject = "public.t",
            .version = 2,
            .columns = {Base()[0]},
            .hash = "ab",
            .created_at_ns = 1'700'000'000'000'000'000};
  EXPECT_EQ(VersionJson(v),
            R"({"subject":"public.t","version":2,"hash":"ab","created_at":")"
            R"(2023-11-14T22:13:20Z","columns":[{"name":"id","type_oid":23,"type_name":"int4"}]})");
}

TEST(SchemaStoreTest, OpenChecksTheType) {
  auto memory = Open({.type = "memory"});
  ASSERT_TRUE(memory) << memory.error().message();
  EXPECT_EQ((*memory)->type(), "memory");
  auto bogus = Open({.type = "bogus"});
  ASSERT_FALSE(bogus);
  EXPECT_EQ(bogus.error().code(), ErrorCode::kConfig);
  auto no_db = Open({.type = "pg"});
  ASSERT_FALSE(no_db);
  EXPECT_NE(no_db.error().message().find("--schema-db"), std::string::npos);
}

}  // namespace
}  // namespace pgcdc::schema
