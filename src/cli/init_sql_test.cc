#include "cli/init_sql.h"

#include <gtest/gtest.h>

namespace pgcdc::cli {
namespace {

TEST(InitSqlTest, TriggerForTable) {
  auto sql = GenerateInitSql({.table = "orders"});
  ASSERT_TRUE(sql) << sql.error().message();
  EXPECT_NE(sql->find("CREATE OR REPLACE FUNCTION \"pgcdc_notify_orders\"()"), std::string::npos);
  EXPECT_NE(sql->find("pg_notify('pgcdc:orders', json_build_object("), std::string::npos);
  EXPECT_NE(sql->find("AFTER INSERT OR UPDATE OR DELETE ON \"orders\""), std::string::npos);
  EXPECT_NE(sql->find("CREATE TRIGGER \"pgcdc_orders_trigger\""), std::string::npos);
}

TEST(InitSqlTest, CustomChannel) {
  auto sql = GenerateInitSql({.table = "orders", .channel = "shop.orders-v2"});
  ASSERT_TRUE(sql);
  EXPECT_NE(sql->find("pg_notify('shop.orders-v2',"), std::string::npos);
}

TEST(InitSqlTest, RejectsBadNames) {
  EXPECT_FALSE(GenerateInitSql({.table = "orders; DROP TABLE x"}));
  EXPECT_FALSE(GenerateInitSql({.table = "1orders"}));
  EXPECT_FALSE(GenerateInitSql({.table = ""}));
  EXPECT_FALSE(GenerateInitSql({.table = "orders", .channel = "bad'channel"}));
  EXPECT_FALSE(GenerateInitSql({.table = std::string(64, 'a')}));
  auto e = GenerateInitSql({.table = "a b"});
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message().find("invalid table name \"a b\""), std::string::npos);
}

TEST(InitSqlTest, WalPublication) {
  auto sql = GenerateInitSql({.table = "orders", .detector = "wal"});
  ASSERT_TRUE(sql);
  EXPECT_NE(sql->find("CREATE PUBLICATION \"pgcdc_orders\" FOR TABLE \"orders\";"),
            std::string::npos);
  sql = GenerateInitSql({.detector = "wal", .all_tables = true});
  ASSERT_TRUE(sql);
  EXPECT_NE(sql->find("CREATE PUBLICATION \"all\" FOR ALL TABLES;"), std::string::npos);
  EXPECT_FALSE(GenerateInitSql({.all_tables = true}));  // needs wal
}

}  // namespace
}  // namespace pgcdc::cli
