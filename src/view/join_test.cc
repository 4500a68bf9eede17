#include <gtest/gtest.h>

#include <set>

#include "view/engine.h"
#include "view/parser.h"
#include "view/test_util.h"

namespace pgcdc::view {
namespace {

constexpr int64_t kSec = 1000000000;

// {"row": {"oid": <oid>, "i": <i>, "kind": "<kind>", "ts": "12:00:<sec>"}}
std::string Row(int oid, int i, const std::string& kind = "x", int sec = 0) {
  return R"({"row":{"oid":)" + std::to_string(oid) + R"(,"i":)" + std::to_string(i) +
         R"(,"kind":")" + kind + R"(","ts":"2025-06-15T12:00:)" + (sec < 10 ? "0" : "") +
         std::to_string(sec) + R"(Z"}})";
}

// Every pair emitted so far, as "<first column>-<second column>".
std::multiset<std::string> Pairs(Engine& e, int64_t now) {
  std::multiset<std::string> out;
  for (const auto& w : e.Advance(now)) {
    for (const auto& r : w.rows) out.insert(ToText(r[0]) + "-" + ToText(r[1]));
  }
  return out;
}

TEST(ViewJoin, ParsesSpecSyntaxAndNamesColumns) {
  auto q = Parse(
      "SELECT a.row.oid, b.row.i AS paid, a.payload.row.i * 10, a.channel FROM pgcdc_events a "
      "JOIN pgcdc_events b ON a.row.oid = b.row.oid WITHIN 5m "
      "WHERE a.channel = 'pgcdc:orders' AND b.channel = 'pgcdc:payments'");
  ASSERT_TRUE(q);
  ASSERT_TRUE(q->join);
  std::vector<std::string> names;
  for (const auto& c : q->columns) names.push_back(c.name);
  EXPECT_EQ(names, (std::vector<std::string>{"a_oid", "paid", "column_3", "a_channel"}));
  EXPECT_EQ(q->join->within_ns, 300 * kSec);
  EXPECT_EQ(q->join->left_keys.size(), 1u);
  EXPECT_TRUE(q->join->left_filter);
  EXPECT_TRUE(q->join->right_filter);
  EXPECT_FALSE(q->join->residual);
  // a.row.oid, a.payload.row.i (= a.row.i), a.channel; b.row.i
  EXPECT_EQ(q->join->left_slots.size(), 3u);
  EXPECT_EQ(q->join->right_slots.size(), 1u);
}

TEST(ViewJoin, ErrorsCarryPositions) {
  const std::string from = "SELECT a.x FROM pgcdc_events a JOIN pgcdc_events b ";
  EXPECT_EQ(ParseError(from + "ON a.k = b.k"),
            "an interval join needs a bound: ON … WITHIN <duration> at position 17");
  EXPECT_EQ(ParseError(from + "ON a.k = b.k WITHIN 0s"), "WITHIN must be > 0 at position 72");
  EXPECT_EQ(ParseError(from + "ON a.k = b.k WITHIN 1s TUMBLING WINDOW 1s"),
            "an interval join has no window clause at position 75");
  EXPECT_EQ(ParseError(from + "ON a.k > b.k WITHIN 1s"),
            "an interval join needs an equality between the sides in ON (ON a.key = b.key) at "
            "position 17");
  EXPECT_EQ(ParseError(from + "ON a.k = b.k WITHIN 1s WHERE channel = 'x'"),
            "column \"channel\" must be qualified with a. or b. in an interval join at position "
            "81");
  EXPECT_EQ(ParseError("SELECT COUNT(*) FROM pgcdc_events a JOIN pgcdc_events b ON a.k = b.k "
                       "WITHIN 1s"),
            "aggregate count is not allowed here at position 8");
  EXPECT_EQ(ParseError("SELECT a.x FROM pgcdc_events a LEFT JOIN pgcdc_events b ON a.k = b.k "
                       "WITHIN 1s"),
            "an interval join is an inner JOIN … ON at position 17");
  EXPECT_EQ(ParseError("SELECT a.x FROM pgcdc_events a JOIN orders b ON a.k = b.k WITHIN 1s"),
            "an interval join reads pgcdc_events on both sides at position 37");
  EXPECT_EQ(ParseError("SELECT COUNT(*) FROM pgcdc_events WITHIN 1s TUMBLING WINDOW 1s"),
            "WITHIN is only for interval joins at position 35");
}

TEST(ViewJoin, TwoChannelsInProcessingTimeEachPairOnce) {
  auto q = Parse(
      "SELECT a.row.i, b.row.i FROM pgcdc_events a JOIN pgcdc_events b "
      "ON a.row.oid = b.row.oid WITHIN 10s WHERE a.channel = 'o' AND b.channel = 'p'");
  Engine e(q, {});
  e.Process({.channel = "o", .payload = Row(1, 1)}, 0);
  e.Process({.channel = "p", .payload = Row(1, 2)}, 3 * kSec);   // pairs with 1
  e.Process({.channel = "p", .payload = Row(2, 3)}, 4 * kSec);   // other key
  e.Process({.channel = "o", .payload = Row(1, 4)}, 12 * kSec);  // pairs with 2 (9 s), not 1
  e.Process({.channel = "q", .payload = Row(1, 5)}, 12 * kSec);  // neither side
  EXPECT_EQ(Pairs(e, 12 * kSec), (std::multiset<std::string>{"1-2", "4-2"}));
  EXPECT_EQ(e.counters().events, 4u);
  EXPECT_EQ(e.groups(), 3u);  // 1 expired (12 s > 0 + 10 s)
  // Processing time passing alone empties the buffers.
  EXPECT_TRUE(Pairs(e, 30 * kSec).empty());
  EXPECT_EQ(e.groups(), 0u);
  // SPEC §7.6 row payload: columns only, no _window.
  e.Process({.channel = "o", .payload = Row(7, 8)}, 31 * kSec);
  e.Process({.channel = "p", .payload = Row(7, 9)}, 31 * kSec);
  auto w = e.Advance(31 * kSec);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(RowJson(*q, w[0], 0), R"({"a_i":8,"b_i":9})");
}

// SPEC's quirk 43: with both sides on one channel, every event went to the
// left side and nothing ever matched. Here each event feeds every side whose
// filter it passes.
TEST(ViewJoin, SelfJoinOnOneChannel) {
  auto q = Parse(
      "SELECT a.row.i, b.row.i FROM pgcdc_events a JOIN pgcdc_events b "
      "ON a.row.oid = b.row.oid AND a.row.kind = 'order' AND b.row.kind = 'payment' WITHIN 1m "
      "WHERE a.channel = 'pgcdc:events' AND b.channel = 'pgcdc:events'");
  Engine e(q, {});
  e.Process({.channel = "pgcdc:events", .payload = Row(1, 1, "order")}, 0);
  e.Process({.channel = "pgcdc:events", .payload = Row(1, 2, "payment")}, kSec);
  e.Process({.channel = "pgcdc:events", .payload = Row(2, 3, "payment")}, kSec);
  EXPECT_EQ(Pairs(e, kSec), (std::multiset<std::string>{"1-2"}));

  // A plain self-join pairs an event with itself too (SQL), unless excluded.
  auto self = Parse(
      "SELECT a.row.i, b.row.i FROM pgcdc_events a JOIN pgcdc_events b "
      "ON a.row.oid = b.row.oid WITHIN 1m WHERE a.row.i < b.row.i");
  Engine s(self, {});
  for (int i = 1; i <= 3; ++i) s.Process({.channel = "c", .payload = Row(5, i)}, i * kSec);
  EXPECT_EQ(Pairs(s, 3 * kSec), (std::multiset<std::string>{"1-2", "1-3", "2-3"}));
}

TEST(ViewJoin, EventTimeLatenessAndExpiry) {
  auto q = Parse(
      "SELECT a.row.i, b.row.i FROM pgcdc_events a JOIN pgcdc_events b ON a.row.oid = b.row.oid "
      "WITHIN 5s WHERE a.channel = 'o' AND b.channel = 'p' EVENT TIME BY row.ts "
      "ALLOWED LATENESS 3s");
  Engine e(q, {});
  e.Process({.channel = "o", .payload = Row(1, 1, "x", 10)}, 0);
  e.Process({.channel = "p", .payload = Row(1, 2, "x", 20)}, 0);  // 10 s apart: no pair
  e.Process({.channel = "p", .payload = Row(1, 3, "x", 18)}, 0);  // out of order, within 3 s
  e.Process({.channel = "o", .payload = Row(1, 4, "x", 14)}, 0);  // 14 < 20 − 3: late
  EXPECT_EQ(e.counters().late, 1u);
  e.Process({.channel = "o", .payload = Row(1, 5, "x", 17)}, 0);  // pairs 20 and 18
  EXPECT_EQ(Pairs(e, 0), (std::multiset<std::string>{"5-2", "5-3"}));
  EXPECT_EQ(e.groups(), 3u);  // 10 left when the watermark reached 17 > 10 + 5
  // Watermark 30 − 3 = 27 is past 20 + 5, 18 + 5 and 17 + 5: only 30 stays.
  e.Process({.channel = "p", .payload = Row(9, 6, "x", 30)}, 0);
  EXPECT_TRUE(Pairs(e, 0).empty());
  EXPECT_EQ(e.groups(), 1u);
}

// Restarts (docs/views.md): the replay brings back events whose pairs were
// delivered. With source-position ids (WAL) a replayed event up to the
// newest delivered one is buffered again but its pairs are not emitted;
// later events pair as in the first run. Other ids do not repeat on a
// replay, so they suppress nothing.
TEST(ViewJoin, PairsDeliveredBeforeARestartAreNotEmittedAgain) {
  auto q = Parse(
      "SELECT a.row.i, b.row.i FROM pgcdc_events a JOIN pgcdc_events b ON a.row.oid = b.row.oid "
      "WITHIN 5s WHERE a.channel = 'o' AND b.channel = 'p' EVENT TIME BY row.ts "
      "ALLOWED LATENESS 30s");
  struct In {
    const char* channel;
    int oid, i, sec;
  };
  const std::vector<In> events = {{"x", 0, 0, 5},  {"o", 1, 1, 10}, {"p", 1, 2, 11},
                                  {"o", 2, 3, 12}, {"p", 2, 4, 13}, {"p", 1, 5, 14},
                                  {"o", 2, 6, 15}};
  std::vector<Uuid> ids;
  for (size_t i = 0; i < events.size(); ++i) ids.push_back(MakePositionUuid(100 + i, 1, 7));
  auto feed = [&](Engine& e, size_t from, size_t to, const std::vector<Uuid>& uuids) {
    for (size_t i = from; i < to; ++i) {
      const In& in = events[i];
      e.Process({.channel = in.channel,
                 .payload = Row(in.oid, in.i, "x", in.sec),
                 .seq = i + 1,
                 .uuid = &uuids[i]},
                0);
    }
  };
  Engine first(q, {});
  feed(first, 0, 5, ids);
  auto w = first.Advance(0);
  ASSERT_EQ(w.size(), 1u);
  ASSERT_EQ(w[0].rows.size(), 2u);                                      // 1-2, 3-4
  EXPECT_EQ(w[0].min_seq, 2u);                                          // o@10 holds the pairs
  EXPECT_EQ(w[0].restore_ns, *ParseTimestamp("2025-06-15T11:59:35Z"));  // 5 s − 30 s
  EXPECT_EQ(w[0].delivery.joined, std::vector<Uuid>{ids[4]});
  first.Delivered(w[0].delivery);
  feed(first, 5, 6, ids);  // 1-5: emitted, not delivered when the process dies
  EXPECT_EQ(Pairs(first, 0), (std::multiset<std::string>{"1-5"}));
  const RestartState st = first.Checkpoint(INT64_MAX);
  EXPECT_EQ(st.joined, std::vector<Uuid>{ids[4]});
  EXPECT_EQ(st.watermark_ns, ParseTimestamp("2025-06-15T11:59:35Z"));

  // The replay from the start: 1-2 and 3-4 are not emitted again, 1-5 is.
  Engine second(q, {});
  second.Restore(st);
  feed(second, 0, events.size(), ids);
  EXPECT_EQ(Pairs(second, 0), (std::multiset<std::string>{"1-5", "6-4"}));
  EXPECT_EQ(second.counters().late, 0u);

  // Fresh (UUIDv7) ids, or another origin's, suppress nothing.
  std::vector<Uuid> fresh, other;
  for (size_t i = 0; i < events.size(); ++i) {
    fresh.push_back(MakeUuidV7(1000 + i, 0, i));
    other.push_back(MakePositionUuid(100 + i, 1, 8));
  }
  for (const auto* uuids : {&fresh, &other}) {
    Engine again(q, {});
    again.Restore(st);
    feed(again, 0, events.size(), *uuids);
    EXPECT_EQ(Pairs(again, 0), (std::multiset<std::string>{"1-2", "3-4", "1-5", "6-4"}));
  }
}

TEST(ViewJoin, StateIsCappedAndEvictionsCounted) {
  auto q = Parse(
      "SELECT a.row.i, b.row.i FROM pgcdc_events a JOIN pgcdc_events b ON a.row.oid = b.row.oid "
      "WITHIN 1h WHERE a.channel = 'o' AND b.channel = 'p'");
  Engine e(q, {.max_groups = 3});
  std::vector<std::string> rows;
  for (int i = 1; i <= 5; ++i) {
    rows.push_back(Row(i, i));
    e.Process({.channel = "o", .payload = rows.back(), .seq = static_cast<uint64_t>(10 + i)},
              i * kSec);
  }
  EXPECT_EQ(e.groups(), 3u);
  EXPECT_EQ(e.counters().join_evicted, 2u);
  EXPECT_EQ(e.OldestSeq(), 13u);  // buffered events a restart must replay
  // Orders 1 and 2 (the oldest) were evicted: their payments find nothing.
  e.Process({.channel = "p", .payload = Row(1, 11)}, 6 * kSec);
  e.Process({.channel = "p", .payload = Row(5, 15)}, 6 * kSec);
  EXPECT_EQ(Pairs(e, 6 * kSec), (std::multiset<std::string>{"5-15"}));
  EXPECT_LE(e.groups(), 3u);
}

TEST(ViewJoin, NullKeysNeverMatchAndNumericKeysCompareAsNumbers) {
  auto q = Parse(
      "SELECT a.row.i, b.row.i FROM pgcdc_events a JOIN pgcdc_events b ON a.row.k = b.row.k "
      "WITHIN 1m WHERE a.channel = 'o' AND b.channel = 'p'");
  Engine e(q, {});
  e.Process({.channel = "o", .payload = R"({"row":{"k":null,"i":1}})"}, 0);
  e.Process({.channel = "p", .payload = R"({"row":{"i":2}})"}, 0);
  e.Process({.channel = "o", .payload = R"({"row":{"k":"1.0","i":3}})"}, 0);
  e.Process({.channel = "p", .payload = R"({"row":{"k":1,"i":4}})"}, 0);
  EXPECT_EQ(Pairs(e, 0), (std::multiset<std::string>{"3-4"}));
}

}  // namespace
}  // namespace pgcdc::view
