// Pure parts of table_snapshot.h (names, snapshot ids). The parts that need a
// server are covered by table_snapshot_pg_test.cc.
#include "snapshot/table_snapshot.h"

#include <gtest/gtest.h>

namespace pgcdc::snapshot {
namespace {

// Parses `text` and expects its schema, name and (when given) quoted form.
void ExpectTableName(const std::string& text, const std::string& schema, const std::string& name,
                     const std::string& quoted = "") {
  auto t = ParseTableName(text);
  ASSERT_TRUE(t) << text << ": " << t.error().message();
  EXPECT_EQ(t->schema, schema) << text;
  EXPECT_EQ(t->name, name) << text;
  if (!quoted.empty()) {
    EXPECT_EQ(t->Quoted(), quoted) << text;
  }
}

TEST(TableNameTest, PlainAndQualified) {
  ExpectTableName("orders", "", "orders", "\"orders\"");
  // Each part quoted on its own — never "public.orders" as one identifier.
  ExpectTableName("public.orders", "public", "orders", "\"public\".\"orders\"");
  // Verbatim, no case folding.
  ExpectTableName("Sales.Order Items", "Sales", "Order Items", "\"Sales\".\"Order Items\"");
}

TEST(TableNameTest, QuotedPartsMayHoldDotsAndQuotes) {
  ExpectTableName("\"my.schema\".\"we\"\"ird\"", "my.schema", "we\"ird",
                  "\"my.schema\".\"we\"\"ird\"");
  ExpectTableName("\"a.b\"", "", "a.b");
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
