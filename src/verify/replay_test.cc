#include "verify/replay.h"

#include <gtest/gtest.h>

namespace pgcdc::verify {
namespace {

const RowShape& Shape() {
  static const RowShape shape({"id", "status", "doc"}, {"id"}, {});
  return shape;
}

uint64_t RowHash(std::string_view row_json, uint64_t mask = 0) {
  JsonTree t;
  EXPECT_TRUE(t.Parse(row_json));
  std::string out;
  AppendCanonicalRow(t, t.root(), Shape(), mask, out);
  return HashCanonical(out);
}

std::string Event(std::string_view op, std::string_view row, std::string_view id = "",
                  std::string_view channel = "pgcdc:orders", std::string_view extra = "") {
  std::string e = R"({"id":")" + std::string(id) + R"(","channel":")" + std::string(channel) +
                  R"(","operation":")" + std::string(op) + R"(","payload":{)" + std::string(extra) +
                  R"("old":null,"op":")" + std::string(op) + R"(","row":)" + std::string(row) +
                  R"(,"table":"orders"},"source":"wal_replication"})";
  return e;
}

// Keys the sink holds (not deleted).
size_t Live(Replay& r) {
  size_t n = 0;
  r.state().ForEach([&](std::string_view, const KeyState& s) { n += s.deleted ? 0 : 1; });
  return n;
}

const KeyState& At(Replay& r, std::string_view key) {
  static const KeyState kAbsent;
  const KeyState* s = r.state().Find(key);
  EXPECT_TRUE(s != nullptr && !s->deleted) << key;
  return s != nullptr ? *s : kAbsent;
}

struct Fixture : ::testing::Test {
  Replay Make(bool check_order = false) {
    return Replay(Shape(), TableMatch::For("", "orders"), ReplayOptions{check_order, 3});
  }
  void Add(Replay& r, const std::string& doc, Hints hints = {}) {
    r.Add(doc, hints, Location{.name = "t.jsonl", .position = ++line});
  }
  uint64_t line = 0;
};

TEST_F(Fixture, LastOperationPerKeyWins) {
  Replay r = Make();
  Add(r, Event("INSERT", R"({"id":1,"status":"new","doc":null})"));
  Add(r, Event("INSERT", R"({"id":2,"status":"new","doc":null})"));
  Add(r, Event("UPDATE", R"({"id":1,"status":"paid","doc":null})"));
  Add(r, Event("DELETE", R"({"id":2,"status":null,"doc":null})"));
  Add(r, Event("SNAPSHOT", R"({"id":3,"status":"old","doc":null})"));
  ASSERT_EQ(Live(r), 2u);
  EXPECT_EQ(At(r, "[1]").hash, RowHash(R"({"id":1,"status":"paid","doc":null})"));
  EXPECT_EQ(At(r, "[3]").hash, RowHash(R"({"doc":null,"status":"old","id":3})"));
  EXPECT_EQ(r.stats().row_events, 5u);
  Add(r,
      R"({"id":"x","channel":"pgcdc:orders","operation":"TRUNCATE","payload":{"op":"TRUNCATE","table":"orders"}})");
  EXPECT_EQ(Live(r), 0u);
  EXPECT_EQ(r.stats().truncates, 1u);
}

TEST_F(Fixture, OtherTablesMarkersAndBadRecordsAreCountedNotApplied) {
  Replay r = Make();
  Add(r, Event("INSERT", R"({"id":1,"status":"new","doc":null})", "", "pgcdc:customers"));
  Add(r, R"({"id":"x","channel":"pgcdc:_txn","operation":"BEGIN","payload":{"xid":1}})");
  Add(r, "{not json");
  Add(r, R"({"hello":"world"})");
  Add(r, "[1,2]");
  Add(r, Event("INSERT", R"({"status":"no key","doc":null})"));
  EXPECT_EQ(Live(r), 0u);
  EXPECT_EQ(r.stats().other_tables, 1u);
  EXPECT_EQ(r.stats().non_row_events, 1u);
  EXPECT_EQ(r.stats().unreadable, 3u);
  ASSERT_EQ(r.stats().unreadable_examples.size(), 3u) << "capped at max_examples";
  EXPECT_EQ(r.stats().unreadable_examples[0].where, "t.jsonl:3");
  EXPECT_EQ(r.stats().keyless, 1u);
}

TEST_F(Fixture, ReadsPayloadsDebeziumAndCloudEvents) {
  Replay r = Make();
  // A Kafka record value (the payload) with the channel in a header.
  Add(r, R"({"old":null,"op":"INSERT","row":{"id":1,"status":"a","doc":null},"table":"orders"})",
      Hints{.channel = "pgcdc:orders"});
  // Debezium as the event's payload and on its own.
  Add(r,
      R"({"id":"x","channel":"pgcdc:orders","operation":"INSERT","payload":{"after":{"id":2,"status":"b","doc":null},"before":null,"op":"c","source":{"schema":"public","table":"orders"}}})");
  Add(r,
      R"({"after":null,"before":{"id":2,"status":"b","doc":null},"op":"d","source":{"schema":"public","table":"orders"}})");
  Add(r,
      R"({"after":{"id":9,"status":"z","doc":null},"before":null,"op":"c","source":{"schema":"other","table":"orders"}})");
  // CloudEvents.
  Add(r,
      R"({"data":{"old":null,"op":"UPDATE","row":{"id":1,"status":"c","doc":null},"table":"orders"},"id":"x","source":"/pgcdc","specversion":"1.0","subject":"pgcdc:orders","type":"io.pgcdc.change.UPDATE"})");
  ASSERT_EQ(Live(r), 1u);
  EXPECT_EQ(At(r, "[1]").hash, RowHash(R"({"id":1,"status":"c","doc":null})"));
  EXPECT_EQ(r.stats().other_tables, 1u) << "schema other";
}

TEST_F(Fixture, KeyChangeRemovesTheOldKey) {
  Replay r = Make();
  Add(r, Event("INSERT", R"({"id":1,"status":"a","doc":null})"));
  Add(r,
      R"({"id":"x","channel":"pgcdc:orders","operation":"UPDATE","payload":{"old":{"id":1,"status":null,"doc":null},"op":"UPDATE","row":{"id":5,"status":"a","doc":null},"table":"orders"}})");
  ASSERT_EQ(Live(r), 1u);
  EXPECT_NE(r.state().Find("[5]"), nullptr);
}

TEST_F(Fixture, UnchangedToastColumnsAreMaskedUntilAFullImage) {
  Replay r = Make();
  Add(r, Event("INSERT", R"({"id":1,"status":"a","doc":"big"})"));
  Add(r, Event("UPDATE", R"({"id":1,"status":"b","doc":null})", "", "pgcdc:orders",
               R"("_unchanged_toast_columns":["doc"],)"));
  const KeyState& s = At(r, "[1]");
  EXPECT_EQ(s.toast_mask, Shape().MaskBit("doc"));
  EXPECT_EQ(s.hash, RowHash(R"({"id":1,"status":"b"})", 0));
  r.Finish();
  EXPECT_EQ(r.stats().toast_masked, 1u);
  Add(r, Event("UPDATE", R"({"id":1,"status":"c","doc":"big2"})"));
  EXPECT_EQ(At(r, "[1]").toast_mask, 0u);
}

TEST(WalPosition, DecodesWhatMakePositionUuidEncodes) {
  uint64_t pos = 0;
  uint32_t ord = 0;
  ASSERT_TRUE(DecodeWalPosition(MakePositionUuid(0x16B3748 >> 4, 3, 12345), pos, ord));
  EXPECT_EQ(pos, uint64_t{0x16B3748 >> 4});
  EXPECT_EQ(ord, 3u);
  ASSERT_TRUE(
      DecodeWalPosition(MakePositionUuid((uint64_t{1} << 60) - 1, 0xffffffffU, 0), pos, ord));
  EXPECT_EQ(pos, (uint64_t{1} << 60) - 1);
  EXPECT_EQ(ord, 0xffffffffU);
  EXPECT_FALSE(DecodeWalPosition(MakeUuidV7(1700000000000, 1, 2), pos, ord));
}

TEST_F(Fixture, OrderCheckSeparatesDuplicatesFromReordering) {
  Replay r = Make(/*check_order=*/true);
  auto id = [](uint64_t lsn, uint32_t ord) { return MakePositionUuid(lsn, ord, 7).ToString(); };
  Add(r, Event("INSERT", R"({"id":1,"status":"a","doc":null})", id(100, 1)));
  Add(r, Event("UPDATE", R"({"id":1,"status":"b","doc":null})", id(200, 1)));
  // Redelivery after a crash: the same ids again, in order.
  Add(r, Event("INSERT", R"({"id":1,"status":"a","doc":null})", id(100, 1)));
  Add(r, Event("UPDATE", R"({"id":1,"status":"b","doc":null})", id(200, 1)));
  EXPECT_EQ(r.stats().duplicates, 2u);
  EXPECT_EQ(r.stats().order_violations, 0u);
  // A change the sink got late: new id, older position.
  Add(r, Event("UPDATE", R"({"id":1,"status":"late","doc":null})", id(150, 2)));
  EXPECT_EQ(r.stats().order_violations, 1u);
  ASSERT_EQ(r.stats().order_examples.size(), 1u);
  EXPECT_NE(r.stats().order_examples[0].detail.find("{\"id\":1}"), std::string::npos)
      << r.stats().order_examples[0].detail;
  // A delete keeps the position: a stale insert after it is caught too.
  Add(r, Event("DELETE", R"({"id":1,"status":null,"doc":null})", id(300, 1)));
  Add(r, Event("INSERT", R"({"id":1,"status":"stale","doc":null})", id(250, 1)));
  EXPECT_EQ(r.stats().order_violations, 2u);
  Add(r, Event("INSERT", R"({"id":2,"status":"a","doc":null})",
               MakeUuidV7(1700000000000, 1, 2).ToString()));
  EXPECT_EQ(r.stats().unpositioned_events, 1u);
  EXPECT_EQ(r.stats().ordered_events, 7u);
}

}  // namespace
}  // namespace pgcdc::verify
