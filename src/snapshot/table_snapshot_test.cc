// Pure parts of table_snapshot.h (names, snapshot ids). The parts that need a
// server are covered by table_snapshot_pg_test.cc.
#include "snapshot/table_snapshot.h"

#include <gtest/gtest.h>

namespace pgcdc::snapshot {
namespace {

TEST(TableNameTest, PlainAndQualified) {
  auto t = ParseTableName("orders");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->schema, "");
  EXPECT_EQ(t->name, "orders");
  EXPECT_EQ(t->Quoted(), "\"orders\"");

  t = ParseTableName("public.orders");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->schema, "public");
  EXPECT_EQ(t->name, "orders");
  // Each part quoted on its own — never "public.orders" as one identifier.
  EXPECT_EQ(t->Quoted(), "\"public\".\"orders\"");

  t = ParseTableName("Sales.Order Items");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->Quoted(), "\"Sales\".\"Order Items\"");  // verbatim, no case folding
}

TEST(TableNameTest, QuotedPartsMayHoldDotsAndQuotes) {
  auto t = ParseTableName("\"my.schema\".\"we\"\"ird\"");
  ASSERT_TRUE(t) << t.error().message();
  EXPECT_EQ(t->schema, "my.schema");
  EXPECT_EQ(t->name, "we\"ird");
  EXPECT_EQ(t->Quoted(), "\"my.schema\".\"we\"\"ird\"");
  t = ParseTableName("\"a.b\"");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->schema, "");
  EXPECT_EQ(t->name, "a.b");
}

TEST(TableNameTest, Rejects) {
  for (const char* bad :
       {"", ".", "a.", ".b", "a.b.c", "\"open", "a\"b", "\"a\"b", "a..b", "\"\""}) {
    auto t = ParseTableName(bad);
    EXPECT_FALSE(t) << bad;
    if (!t) {
      EXPECT_EQ(t.error().code(), ErrorCode::kInvalidArgument) << bad;
    }
  }
}

TEST(SnapshotNameTest, Validation) {
  for (const char* good : {"00000003-0000001B-1", "0/16B3748:ab"}) {
    EXPECT_TRUE(IsValidSnapshotName(good)) << good;
  }
  for (const char* bad : {"", "00000003-0000001B-1'; DROP TABLE x; --", "snap shot", "xyz"}) {
    EXPECT_FALSE(IsValidSnapshotName(bad)) << bad;
  }
}

TEST(SnapshotNameTest, BeginRejectsBadNameBeforeTouchingTheConnection) {
  pg::Conn not_connected;
  auto st = BeginSnapshotTransaction(not_connected, "1'; SELECT 1; --");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(st.error().message().find("invalid snapshot name"), std::string::npos);
}

}  // namespace
}  // namespace pgcdc::snapshot
