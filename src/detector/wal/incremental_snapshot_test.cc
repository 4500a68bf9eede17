// Pure parts of incremental snapshots: signal parsing, signal-table matching,
// keyset chunk SQL, progress key and control payload encoding.
#include "detector/wal/incremental_snapshot.h"

#include <gtest/gtest.h>

#include "detector/wal/signal.h"
#include "snapshot/table_snapshot.h"

namespace pgcdc::detector::wal {
namespace {

TEST(SignalTest, ExecuteWithTableAndId) {
  auto s = ParseSignal("execute-snapshot", R"({"table": "app.orders", "snapshot_id": "s-1"})");
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->kind, SignalKind::kExecuteSnapshot);
  EXPECT_EQ(s->table, "app.orders");
  EXPECT_EQ(s->snapshot_id, "s-1");
}

TEST(SignalTest, StopWithoutId) {
  auto s = ParseSignal("stop-snapshot", R"({"table":"orders"})");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->kind, SignalKind::kStopSnapshot);
  EXPECT_EQ(s->table, "orders");
  EXPECT_EQ(s->snapshot_id, "");
}

TEST(SignalTest, UnknownSignalParsesAsUnknown) {
  auto s = ParseSignal("pause-snapshot", std::nullopt);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->kind, SignalKind::kUnknown);
  EXPECT_EQ(s->name, "pause-snapshot");
}

TEST(SignalTest, BadPayloads) {
  EXPECT_FALSE(ParseSignal("execute-snapshot", std::nullopt));
  EXPECT_FALSE(ParseSignal("execute-snapshot", "{}"));
  EXPECT_FALSE(ParseSignal("execute-snapshot", R"({"table": ""})"));
  EXPECT_FALSE(ParseSignal("execute-snapshot", R"({"table": 5})"));
  EXPECT_FALSE(ParseSignal("execute-snapshot", R"(["orders"])"));
  EXPECT_FALSE(ParseSignal("execute-snapshot", "not json"));
  EXPECT_FALSE(ParseSignal("stop-snapshot", R"({"table": "a.b.c"})"));
}

TEST(SignalTest, SignalTableMatchesSchemaAndName) {
  auto t = ParseSignalTable("pgcdc_signals");
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->Matches("public", "pgcdc_signals"));
  EXPECT_TRUE(t->Matches("", "pgcdc_signals"));
  EXPECT_FALSE(t->Matches("other", "pgcdc_signals"));
  EXPECT_FALSE(t->Matches("public", "pgcdc_signals2"));
  auto q = ParseSignalTable(R"(ops."Signals")");
  ASSERT_TRUE(q);
  EXPECT_TRUE(q->Matches("ops", "Signals"));
  EXPECT_FALSE(q->Matches("public", "Signals"));
  EXPECT_FALSE(ParseSignalTable("a.b.c"));
}

TEST(KeysetQueryTest, FirstAndNextChunk) {
  snapshot::TableName t{.schema = "app", .name = "or\"ders"};
  EXPECT_EQ(snapshot::BuildKeysetQuery(t, "", {"a", "B"}, false, 300),
            R"(SELECT * FROM "app"."or""ders" ORDER BY "a", "B" LIMIT 300)");
  EXPECT_EQ(
      snapshot::BuildKeysetQuery(t, "", {"a", "B"}, true, 300),
      R"(SELECT * FROM "app"."or""ders" WHERE ("a", "B") > ($1, $2) ORDER BY "a", "B" LIMIT 300)");
  snapshot::TableName plain{.name = "t"};
  EXPECT_EQ(snapshot::BuildKeysetQuery(plain, "x > 1", {"id"}, true, 10),
            "SELECT * FROM \"t\" WHERE (x > 1\n) AND (\"id\") > ($1) ORDER BY \"id\" LIMIT 10");
}

TEST(IncrementalPayloadTest, KeysAndPayloadsAreSortedJson) {
  EXPECT_EQ(EncodeKey({"1", "a\"b"}), R"(["1","a\"b"])");
  EXPECT_EQ(EncodeKey({}), "[]");
  EXPECT_EQ(StartedPayload(300, "id1", "app.t"),
            R"({"chunk_size":300,"snapshot_id":"id1","table":"app.t"})");
  EXPECT_EQ(CompletedPayload(12, 5000, "id1", "t"),
            R"({"duration_ms":12,"rows":5000,"snapshot_id":"id1","table":"t"})");
}

}  // namespace
}  // namespace pgcdc::detector::wal
