// The pg backend of the schema store against a real, throwaway PostgreSQL
// cluster: the table from the migrations, versioning, rows as SPEC §9.4
// describes them, concurrent writers, reopening, and --skip-migrations.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "pg/cluster.h"
#include "pg/conn.h"
#include "pg/migrations.h"
#include "pg/test_cluster.h"
#include "schema/store.h"

namespace pgcdc::schema {
namespace {

pg::TempCluster& Cluster() { return pg::SharedTestCluster("pgcdc-schema"); }

// A fresh database per test.
std::string FreshDatabase(const std::string& name) {
  auto admin = pg::Conn::Open(Cluster().Url());
  EXPECT_TRUE(admin) << admin.error().message();
  (void)admin->Exec("DROP DATABASE IF EXISTS " + pg::QuoteIdentifier(name) + " WITH (FORCE)");
  EXPECT_TRUE(admin->Exec("CREATE DATABASE " + pg::QuoteIdentifier(name)));
  return Cluster().Url(name);
}

std::vector<pg::Row> Rows(const std::string& url, const std::string& sql) {
  auto c = pg::Conn::Open(url);
  EXPECT_TRUE(c) << c.error().message();
  if (!c) return {};
  auto r = c->Query(sql);
  EXPECT_TRUE(r) << r.error().message();
  return r ? *r : std::vector<pg::Row>{};
}

std::vector<Column> Columns(int n) {
  std::vector<Column> out;
  for (int i = 0; i < n; ++i) {
    out.push_back({.name = "c" + std::to_string(i), .type_oid = 23, .type_name = "int4"});
  }
  return out;
}

TEST(PgSchemaStoreTest, VersionsLiveInPgcdcSchemas) {
  const std::string url = FreshDatabase("schema_versions");
  auto store = Open({.type = "pg", .db_url = url});
  ASSERT_TRUE(store) << store.error().message();
  EXPECT_EQ((*store)->type(), "pg");
  auto v1 = (*store)->Register("public.t", Columns(1));
  ASSERT_TRUE(v1) << v1.error().message();
  EXPECT_EQ(v1->version, 1);
  EXPECT_TRUE(v1->created);
  EXPECT_EQ((*store)->Register("public.t", Columns(1))->version, 1);
  auto v2 = (*store)->Register("public.t", Columns(2));
  ASSERT_TRUE(v2) << v2.error().message();
  EXPECT_EQ(v2->version, 2);
  ASSERT_TRUE((*store)->Register("s.other", Columns(3)));

  auto rows = Rows(url,
                   "SELECT subject, version::text, columns::text, hash, "
                   "(created_at IS NOT NULL)::text FROM pgcdc_schemas ORDER BY subject, version");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0][0], "public.t");
  EXPECT_EQ(rows[0][1], "1");
  EXPECT_EQ(rows[0][2], R"([{"name": "c0", "type_oid": 23, "type_name": "int4"}])");
  EXPECT_EQ(rows[0][3], Hash(Columns(1)));
  EXPECT_EQ(rows[0][4], "true");
  EXPECT_EQ(rows[1][1], "2");
  EXPECT_EQ(rows[2][0], "s.other");
  // The index SPEC §9.4 names.
  EXPECT_EQ(Rows(url,
                 "SELECT indexdef FROM pg_indexes WHERE indexname = "
                 "'idx_pgcdc_schemas_subject'")
                .size(),
            1u);

  auto latest = (*store)->Latest("public.t");
  ASSERT_TRUE(latest) << latest.error().message();
  ASSERT_TRUE(latest->has_value());
  EXPECT_EQ((*latest)->version, 2);
  EXPECT_EQ((*latest)->columns, Columns(2));
  EXPECT_EQ((*latest)->hash, Hash(Columns(2)));
  EXPECT_GT((*latest)->created_at_ns, 0);
  auto first = (*store)->Get("public.t", 1);
  ASSERT_TRUE(first && first->has_value());
  EXPECT_EQ((*first)->columns, Columns(1));
  EXPECT_FALSE((*store)->Get("public.t", 3)->has_value());
  EXPECT_FALSE((*store)->Latest("public.none")->has_value());
  auto subjects = (*store)->Subjects();
  ASSERT_TRUE(subjects);
  ASSERT_EQ(subjects->size(), 2u);
  EXPECT_EQ((*subjects)[0].subject, "public.t");
  EXPECT_EQ((*subjects)[0].latest_version, 2);

  // A second process (a new store) continues from what the table holds.
  auto reopened = Open({.type = "pg", .db_url = url});
  ASSERT_TRUE(reopened) << reopened.error().message();
  auto same = (*reopened)->Register("public.t", Columns(2));
  ASSERT_TRUE(same);
  EXPECT_EQ(same->version, 2);
  EXPECT_FALSE(same->created);
  EXPECT_EQ((*reopened)->Register("public.t", Columns(4))->version, 3);
}

// Several writers racing on one subject: every shape gets exactly one
// version, numbered without gaps.
TEST(PgSchemaStoreTest, ConcurrentWritersDoNotCollide) {
  const std::string url = FreshDatabase("schema_race");
  constexpr int kWriters = 4;
  std::vector<std::shared_ptr<Store>> stores;
  for (int i = 0; i < kWriters; ++i) {
    auto s = Open({.type = "pg", .db_url = url});
    ASSERT_TRUE(s) << s.error().message();
    stores.push_back(*s);
  }
  std::vector<std::thread> threads;
  std::vector<int> failures(kWriters, 0);
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      for (int n = 1; n <= 10; ++n) {
        if (!stores[static_cast<size_t>(w)]->Register("public.race", Columns(w * 10 + n))) {
          ++failures[static_cast<size_t>(w)];
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int f : failures) EXPECT_EQ(f, 0);
  auto rows = Rows(url,
                   "SELECT count(*)::text, max(version)::text, count(DISTINCT version)::text "
                   "FROM pgcdc_schemas WHERE subject = 'public.race'");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0], rows[0][1]);
  EXPECT_EQ(rows[0][0], rows[0][2]);
  EXPECT_GE(std::stoi(rows[0][0].value_or("0")), 10);
}

TEST(PgSchemaStoreTest, UnreachableDatabaseIsAnError) {
  auto store = Open({.type = "pg", .db_url = "postgres://127.0.0.1:1/nowhere?connect_timeout=2"});
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code(), ErrorCode::kConnection) << store.error().message();
}

TEST(PgSchemaStoreTest, SkipMigrationsNeedsTheTable) {
  const std::string url = FreshDatabase("schema_skip");
  pg::SetMigrationsSkipped(true);
  auto refused = Open({.type = "pg", .db_url = url});
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message().find("pgcdc init --adapter state"), std::string::npos)
      << refused.error().message();
  // An admin runs the script; then the store opens without creating anything.
  auto admin = pg::Conn::Open(url);
  ASSERT_TRUE(admin);
  ASSERT_TRUE(admin->Exec(pg::MigrationsScript()));
  auto store = Open({.type = "pg", .db_url = url});
  pg::SetMigrationsSkipped(false);
  ASSERT_TRUE(store) << store.error().message();
  EXPECT_EQ((*store)->Register("public.t", Columns(1))->version, 1);
}

}  // namespace
}  // namespace pgcdc::schema
