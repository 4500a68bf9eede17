#include "dlq/store.h"

#include <gtest/gtest.h>

namespace pgcdc::dlq {
namespace {

TEST(TableNameTest, Forms) {
  auto plain = ParseTableName("pgcdc_dead_letters");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->Quoted(), "\"pgcdc_dead_letters\"");
  EXPECT_EQ(plain->Display(), "pgcdc_dead_letters");

  auto qualified = ParseTableName("ops.dead");
  ASSERT_TRUE(qualified);
  EXPECT_EQ(qualified->schema, "ops");
  EXPECT_EQ(qualified->Quoted(), "\"ops\".\"dead\"");

  auto quoted = ParseTableName(R"("My Schema"."a.b""c")");
  ASSERT_TRUE(quoted);
  EXPECT_EQ(quoted->schema, "My Schema");
  EXPECT_EQ(quoted->name, "a.b\"c");
  EXPECT_EQ(quoted->Quoted(), R"("My Schema"."a.b""c")");

  // An injection attempt stays one identifier.
  auto evil = ParseTableName(R"("x; DROP TABLE t; --")");
  ASSERT_TRUE(evil);
  EXPECT_EQ(evil->Quoted(), R"("x; DROP TABLE t; --")");
}

TEST(TableNameTest, Rejects) {
  for (const char* bad : {"", ".", "a.", ".a", "a.b.c", "\"open", "a\"b", "\"a\"b"}) {
    EXPECT_FALSE(ParseTableName(bad)) << bad;
  }
}

TEST(BuildWhereTest, Empty) {
  const WhereClause w = BuildWhere({});
  EXPECT_EQ(w.sql, "");
  EXPECT_TRUE(w.params.empty());
}

TEST(BuildWhereTest, AllFiltersBound) {
  Filter f;
  f.adapter = "web'hook";
  f.since_ns = 1750000000000000000;
  f.until_ns = 1750000000123456789;
  f.id = 42;
  f.after_id = 7;
  f.max_id = 99;
  f.pending_only = true;
  const WhereClause w = BuildWhere(f);
  EXPECT_EQ(w.sql,
            " WHERE adapter = $1 AND created_at >= $2::timestamptz AND created_at <= "
            "$3::timestamptz AND id = $4::bigint AND id > $5::bigint AND id <= $6::bigint AND "
            "replayed_at IS NULL");
  ASSERT_EQ(w.params.size(), 6u);
  EXPECT_EQ(w.params[0], "web'hook");
  EXPECT_EQ(w.params[1], "2025-06-15T15:06:40Z");
  EXPECT_EQ(w.params[2], "2025-06-15T15:06:40.123456789Z");
  EXPECT_EQ(w.params[3], "42");
  EXPECT_EQ(w.params[4], "7");
  EXPECT_EQ(w.params[5], "99");
}

TEST(BuildWhereTest, ReplayedOnly) {
  Filter f;
  f.replayed_only = true;
  EXPECT_EQ(BuildWhere(f).sql, " WHERE replayed_at IS NOT NULL");
  f.adapter = "stdout";
  EXPECT_EQ(BuildWhere(f).sql, " WHERE adapter = $1 AND replayed_at IS NOT NULL");
}

}  // namespace
}  // namespace pgcdc::dlq
