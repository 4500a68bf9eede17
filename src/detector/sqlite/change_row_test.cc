#include "detector/sqlite/change_row.h"

#include <gtest/gtest.h>

#include "core/time.h"
#include "core/uuid.h"

namespace pgcdc::detector::sqlite {
namespace {

ChangeRow Row(std::optional<std::string> row_data, std::optional<std::string> old_data) {
  return ChangeRow{.rowid = 7,
                   .table_name = "users",
                   .operation = "UPDATE",
                   .row_data = std::move(row_data),
                   .old_data = std::move(old_data),
                   .created_at = "2026-12-06T10:11:12.345Z"};
}

TEST(ChangeRow, EventShape) {
  ChangeEvent ce = MakeChangeEvent(Row(R"({"id":1, "name":"b"})", R"({"id":1,"name":"a"})"), 5, 0);
  ASSERT_EQ(ce.invalid_reason, "");
  EXPECT_EQ(ce.event.channel, "pgcdc:users");
  EXPECT_EQ(ce.event.operation, "UPDATE");
  EXPECT_EQ(ce.event.source, "sqlite");
  EXPECT_EQ(ce.event.payload, R"({"new":{"id":1,"name":"b"},"old":{"id":1,"name":"a"}})");
  EXPECT_EQ(FormatRfc3339Nano(ce.event.created_at_ns), "2026-12-06T10:11:12.345Z");
  EXPECT_EQ(ce.event.id, MakePositionUuid(7, 0, 5));
}

TEST(ChangeRow, OnlyNonNullImagesArePresent) {
  EXPECT_EQ(MakeChangeEvent(Row(R"({"id":1})", std::nullopt), 1, 0).event.payload,
            R"({"new":{"id":1}})");
  EXPECT_EQ(MakeChangeEvent(Row(std::nullopt, R"({"id":1})"), 1, 0).event.payload,
            R"({"old":{"id":1}})");
  EXPECT_EQ(MakeChangeEvent(Row(std::nullopt, std::nullopt), 1, 0).event.payload, "{}");
}

TEST(ChangeRow, SameRowidSameId) {
  EXPECT_EQ(MakeChangeEvent(Row("{}", std::nullopt), 9, 1).event.id,
            MakeChangeEvent(Row("{}", std::nullopt), 9, 2).event.id);
  EXPECT_NE(MakeChangeEvent(Row("{}", std::nullopt), 9, 1).event.id,
            MakeChangeEvent(Row("{}", std::nullopt), 10, 1).event.id);
}

TEST(ChangeRow, InvalidRowsDescribeThemselves) {
  ChangeEvent bad = MakeChangeEvent(Row("{not json", std::nullopt), 1, 0);
  EXPECT_NE(bad.invalid_reason.find("row_data is not valid JSON"), std::string::npos);
  EXPECT_EQ(bad.event.channel, "pgcdc:_sqlite_invalid");
  EXPECT_NE(bad.event.payload.find(R"("row_data":"{not json")"), std::string::npos);
  EXPECT_NE(bad.event.payload.find(R"("rowid":7)"), std::string::npos);

  ChangeRow no_table = Row("{}", std::nullopt);
  no_table.table_name.reset();
  EXPECT_EQ(MakeChangeEvent(no_table, 1, 0).invalid_reason, "table_name is NULL or empty");
  ChangeRow no_op = Row("{}", std::nullopt);
  no_op.operation = "";
  EXPECT_EQ(MakeChangeEvent(no_op, 1, 0).invalid_reason, "operation is NULL or empty");
  EXPECT_NE(MakeChangeEvent(Row("{}", "[1,"), 1, 0).invalid_reason.find("old_data"),
            std::string::npos);
}

TEST(ChangeRow, BlobMarkersBecomeBase64) {
  auto out = NormalizeRowJson(R"({"a":{"__pgcdc_blob":"00FF10"},"b":"x","c":{"__pgcdc_blob":""}})");
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_EQ(*out, R"({"a":"AP8Q","b":"x","c":""})");
  // A string that merely contains the marker text stays as it is.
  auto text = NormalizeRowJson(R"({"a":"{\"__pgcdc_blob\":\"00\"}"})");
  ASSERT_TRUE(text);
  EXPECT_EQ(*text, R"({"a":"{\"__pgcdc_blob\":\"00\"}"})");
  EXPECT_FALSE(NormalizeRowJson(R"({"a":{"__pgcdc_blob":"0G"}})"));
  EXPECT_FALSE(NormalizeRowJson(R"({"a":{"__pgcdc_blob":"000"}})"));
}

TEST(ChangeRow, ParsesSqliteTimes) {
  EXPECT_EQ(ParseSqliteTime("1970-01-01 00:00:01"), 1'000'000'000);
  EXPECT_EQ(ParseSqliteTime("1970-01-01T00:00:00.5Z"), 500'000'000);
  EXPECT_EQ(ParseSqliteTime("2000-02-29 12:00:00"), 951825600LL * 1'000'000'000);
  EXPECT_FALSE(ParseSqliteTime("yesterday"));
  EXPECT_FALSE(ParseSqliteTime("2000-13-01 00:00:00"));
  EXPECT_FALSE(ParseSqliteTime("2000-01-01 00:00:00+02:00"));
  // Unparsable created_at: the poll time.
  ChangeRow r = Row("{}", std::nullopt);
  r.created_at = "soon";
  EXPECT_EQ(MakeChangeEvent(r, 1, 42).event.created_at_ns, 42);
}

}  // namespace
}  // namespace pgcdc::detector::sqlite
