#include "detector/mysql/snapshot.h"

#include <gtest/gtest.h>

namespace pgcdc::detector::mysql {
namespace {

using Kind = SnapshotColumn::Kind;

TEST(MysqlSnapshot, KindsFollowTheDecodersRendering) {
  EXPECT_EQ(SnapshotKind("bigint", false, false), Kind::kNumber);
  EXPECT_EQ(SnapshotKind("double", false, false), Kind::kNumber);
  EXPECT_EQ(SnapshotKind("decimal", false, false), Kind::kDecimal);
  EXPECT_EQ(SnapshotKind("varchar", false, false), Kind::kString);
  EXPECT_EQ(SnapshotKind("varbinary", true, false), Kind::kBinary);
  EXPECT_EQ(SnapshotKind("longblob", true, false), Kind::kBinary);
  EXPECT_EQ(SnapshotKind("text", false, false), Kind::kString);
  EXPECT_EQ(SnapshotKind("longtext", false, true), Kind::kJson);  // MariaDB JSON
  EXPECT_EQ(SnapshotKind("json", false, false), Kind::kJson);
  EXPECT_EQ(SnapshotKind("bit", false, false), Kind::kBit);
  EXPECT_EQ(SnapshotKind("year", false, false), Kind::kYear);
  EXPECT_EQ(SnapshotKind("timestamp", false, false), Kind::kTimestamp);
  EXPECT_EQ(SnapshotKind("datetime", false, false), Kind::kString);
  EXPECT_EQ(SnapshotKind("point", true, false), Kind::kBinary);
}

TEST(MysqlSnapshot, SelectListQuotesAndConvertsOnTheServer) {
  std::vector<SnapshotColumn> cols = {{.name = "id", .kind = Kind::kNumber},
                                      {.name = "we`ird", .kind = Kind::kBit},
                                      {.name = "ts", .kind = Kind::kTimestamp}};
  EXPECT_EQ(SnapshotSelectList(cols), "`id`, `we``ird` + 0, CONCAT(REPLACE(`ts`, ' ', 'T'), 'Z')");
}

std::string Render(Kind kind, std::optional<std::string_view> text) {
  std::string out;
  AppendSnapshotValue({.name = "c", .kind = kind}, text, out);
  return out;
}

TEST(MysqlSnapshot, ValuesRenderAsJson) {
  EXPECT_EQ(Render(Kind::kNumber, "-128"), "-128");
  EXPECT_EQ(Render(Kind::kNumber, "-2.5e100"), "-2.5e100");
  EXPECT_EQ(Render(Kind::kNumber, std::nullopt), "null");
  EXPECT_EQ(Render(Kind::kDecimal, "-1.50"), "-1.50");
  EXPECT_EQ(Render(Kind::kDecimal, "-12345678901234567890.0123456789"),
            "\"-12345678901234567890.0123456789\"");
  EXPECT_EQ(Render(Kind::kBinary, std::string_view("\0\1\2", 3)), "\"AAEC\"");
  EXPECT_EQ(Render(Kind::kString, "a\"b\n"), "\"a\\\"b\\n\"");
  EXPECT_EQ(Render(Kind::kJson, "{\"a\": [1, 2]}"), "{\"a\":[1,2]}");
  EXPECT_EQ(Render(Kind::kJson, "not json"), "\"not json\"");
  // A number column whose text is not a JSON number stays a string.
  EXPECT_EQ(Render(Kind::kYear, "0000"), "\"0000\"");
}

TEST(MysqlSnapshot, RowEventCarriesPayloadAndKey) {
  std::vector<SnapshotColumn> cols = {{.name = "a", .kind = Kind::kNumber, .key = true},
                                      {.name = "b", .kind = Kind::kString, .key = true},
                                      {.name = "v", .kind = Kind::kString}};
  Event e = SnapshotRowEvent("db", "t", cols, {"1", "x", std::nullopt});
  EXPECT_EQ(e.channel, "pgcdc:db.t");
  EXPECT_EQ(e.operation, "SNAPSHOT");
  EXPECT_EQ(e.payload,
            R"({"old":null,"op":"SNAPSHOT","row":{"a":1,"b":"x","v":null},"schema":"db",)"
            R"("table":"t"})");
  EXPECT_EQ(e.key, R"({"a":1,"b":"x"})");
  Event one = SnapshotRowEvent("db", "t", {cols[1]}, {"k"});
  EXPECT_EQ(one.key, "k");
}

}  // namespace
}  // namespace pgcdc::detector::mysql
