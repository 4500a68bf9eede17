// The generated setup runs on a real (in-memory) SQLite and its triggers
// record what the detector expects.
#include "detector/sqlite/setup_sql.h"

#include <gtest/gtest.h>

#include "detector/sqlite/change_row.h"
#include "detector/sqlite/sqlite_db.h"

namespace pgcdc::detector::sqlite {
namespace {

Db Memory() {
  auto db = Db::Open(":memory:", {.create = true});
  EXPECT_TRUE(db) << db.error().message();
  return std::move(*db);
}

std::vector<std::vector<std::optional<std::string>>> Changes(Db& db) {
  auto stmt = db.Prepare(
      "SELECT table_name, operation, row_data, old_data FROM pgcdc_changes ORDER BY rowid");
  EXPECT_TRUE(stmt);
  std::vector<std::vector<std::optional<std::string>>> out;
  while (true) {
    auto row = stmt->Step();
    EXPECT_TRUE(row);
    if (!row || !*row) break;
    out.push_back({stmt->Text(0), stmt->Text(1), stmt->Text(2), stmt->Text(3)});
  }
  return out;
}

TEST(SetupSql, TriggersRecordTypedRows) {
  Db db = Memory();
  ASSERT_TRUE(db.Exec(
      R"(CREATE TABLE "odd ""name""" (id INTEGER PRIMARY KEY, "it's" TEXT, b BLOB, r REAL))"));
  auto script = SetupScript(":memory:", "odd \"name\"", {"id", "it's", "b", "r"});
  ASSERT_TRUE(script) << script.error().message();
  ASSERT_TRUE(db.Exec(*script)) << *script;
  ASSERT_TRUE(db.Exec(R"(INSERT INTO "odd ""name""" VALUES (1, 'a"b', x'00ff', 1.5);
                         UPDATE "odd ""name""" SET r = 9e999 WHERE id = 1;
                         DELETE FROM "odd ""name""";)"));
  auto rows = Changes(db);
  ASSERT_EQ(rows.size(), 3U);
  EXPECT_EQ(rows[0][0], "odd \"name\"");
  EXPECT_EQ(rows[0][1], "INSERT");
  EXPECT_EQ(rows[0][3], std::nullopt);
  auto inserted = NormalizeRowJson(*rows[0][2]);
  ASSERT_TRUE(inserted) << *rows[0][2];
  EXPECT_EQ(*inserted, R"({"id":1,"it's":"a\"b","b":"AP8=","r":1.5})");
  EXPECT_EQ(rows[1][1], "UPDATE");
  auto updated = NormalizeRowJson(*rows[1][2]);
  ASSERT_TRUE(updated) << *rows[1][2];
  EXPECT_EQ(*updated, R"({"id":1,"it's":"a\"b","b":"AP8=","r":"Infinity"})");
  EXPECT_TRUE(NormalizeRowJson(*rows[1][3]));
  EXPECT_EQ(rows[2][1], "DELETE");
  EXPECT_EQ(rows[2][2], std::nullopt);
  EXPECT_TRUE(NormalizeRowJson(*rows[2][3]));
}

TEST(SetupSql, WideTablesAreJoinedFromPieces) {
  Db db = Memory();
  std::vector<std::string> columns;
  std::string create = "CREATE TABLE wide (";
  std::string values;
  std::string expected = "{";
  for (int i = 0; i < 150; ++i) {
    columns.push_back("c" + std::to_string(i));
    create += (i ? ", " : "") + columns.back();
    values += (i ? ", " : "") + (i % 7 == 0 ? std::string("NULL") : std::to_string(i));
    expected += (i ? ",\"" : "\"") + columns.back() +
                "\":" + (i % 7 == 0 ? std::string("null") : std::to_string(i));
  }
  expected += "}";
  ASSERT_TRUE(db.Exec(create + ")"));
  auto script = SetupScript(":memory:", "wide", columns);
  ASSERT_TRUE(script);
  ASSERT_TRUE(db.Exec(*script)) << script->substr(0, 400);
  ASSERT_TRUE(db.Exec("INSERT INTO wide VALUES (" + values + ")"));
  auto rows = Changes(db);
  ASSERT_EQ(rows.size(), 1U);
  auto json = NormalizeRowJson(*rows[0][2]);
  ASSERT_TRUE(json) << *rows[0][2];
  EXPECT_EQ(*json, expected);
}

TEST(SetupSql, RerunReplacesTriggers) {
  Db db = Memory();
  ASSERT_TRUE(db.Exec("CREATE TABLE t (a)"));
  ASSERT_TRUE(db.Exec(*SetupScript(":memory:", "t", {"a"})));
  ASSERT_TRUE(db.Exec("ALTER TABLE t ADD COLUMN b"));
  ASSERT_TRUE(db.Exec(*SetupScript(":memory:", "t", {"a", "b"})));
  ASSERT_TRUE(db.Exec("INSERT INTO t VALUES (1, 2)"));
  auto rows = Changes(db);
  ASSERT_EQ(rows.size(), 1U);
  EXPECT_EQ(rows[0][2], R"({"a":1,"b":2})");
}

TEST(SetupSql, RefusesNonsense) {
  EXPECT_FALSE(TriggerSql("", {"a"}));
  EXPECT_FALSE(TriggerSql("t", {}));
  EXPECT_FALSE(TriggerSql("pgcdc_changes", {"a"}));
}

}  // namespace
}  // namespace pgcdc::detector::sqlite
