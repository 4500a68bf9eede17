#include <gtest/gtest.h>

#include <cmath>

#include "view/clauses.h"
#include "view/engine.h"
#include "view/expr.h"
#include "view/parser.h"
#include "view/test_util.h"

namespace pgcdc::view {
namespace {

constexpr int64_t kSec = 1000000000;

std::string At(int sec) {
  return "2025-06-15T12:00:" + std::string(sec < 10 ? "0" : "") + std::to_string(sec) + "Z";
}

std::string Ev(const std::string& region, const std::string& amount, int sec) {
  return R"({"op":"INSERT","table":"orders","row":{"region":)" + region + R"(,"amount":)" + amount +
         R"(,"ts":")" + At(sec) + R"("}})";
}

TEST(ViewClauses, StripsAndKeepsPositions) {
  const std::string text =
      "SELECT COUNT(*) FROM pgcdc_events TUMBLING WINDOW 1m GROUP BY x EVENT TIME BY "
      "payload.row.ts ALLOWED LATENESS 5s";
  auto c = StripClauses(text);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->window.kind, WindowKind::kTumbling);
  EXPECT_EQ(c->window.size_ns, 60 * kSec);
  EXPECT_EQ(c->lateness_ns, 5 * kSec);
  EXPECT_EQ(c->event_time, (std::vector<std::string>{"row", "ts"}));
  EXPECT_EQ(c->sql.size(), text.size());
  EXPECT_NE(c->sql.find("pgcdc_events                    GROUP BY x"), std::string::npos);
}

TEST(ViewClauses, QuotedTextIsNotAClause) {
  auto c = StripClauses(
      "SELECT COUNT(*) FROM pgcdc_events WHERE a = 'TUMBLING WINDOW 1s' "
      "SLIDING WINDOW 10s SLIDE 5s");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->window.kind, WindowKind::kSliding);
  EXPECT_EQ(c->window.slide_ns, 5 * kSec);
  EXPECT_NE(c->sql.find("'TUMBLING WINDOW 1s'"), std::string::npos);
}

TEST(ViewClauses, Errors) {
  EXPECT_EQ(ParseError("SELECT COUNT(*) FROM pgcdc_events"),
            "missing window clause (TUMBLING WINDOW <dur>, SLIDING WINDOW <dur> SLIDE <dur> or "
            "SESSION WINDOW <dur>) at position 34");
  EXPECT_EQ(ParseError("SELECT 1 FROM pgcdc_events TUMBLING WINDOW 0s"),
            "TUMBLING WINDOW must be > 0 at position 44");
  EXPECT_EQ(ParseError("SELECT 1 FROM pgcdc_events SLIDING WINDOW 5s SLIDE 10s"),
            "SLIDE must not exceed the window size at position 52");
  EXPECT_EQ(ParseError("SELECT 1 FROM pgcdc_events SESSION WINDOW 1x"),
            "SESSION WINDOW: invalid duration \"1x\" at position 43");
  EXPECT_EQ(ParseError("SELECT 1 FROM pgcdc_events TUMBLING WINDOW 1s SESSION WINDOW 1s"),
            "more than one window clause at position 47");
}

TEST(ViewParser, SyntaxAndSemanticErrorsCarryPositions) {
  EXPECT_EQ(ParseError("SELECT COUNT(* FROM pgcdc_events TUMBLING WINDOW 1s"),
            "syntax error: syntax error at or near \"FROM\" at position 16");
  EXPECT_EQ(ParseError("SELECT foo(x) FROM pgcdc_events TUMBLING WINDOW 1s"),
            "unknown function foo at position 8");
  EXPECT_EQ(ParseError("SELECT x, COUNT(*) FROM pgcdc_events TUMBLING WINDOW 1s"),
            "column \"x\" must appear in GROUP BY or be used in an aggregate at position 8");
  EXPECT_EQ(ParseError("SELECT COUNT(*) FROM orders TUMBLING WINDOW 1s"),
            "a view reads FROM pgcdc_events only at position 22");
  EXPECT_EQ(ParseError("SELECT COUNT(*) FROM pgcdc_events WHERE SUM(x) > 1 TUMBLING WINDOW 1s"),
            "aggregate sum is not allowed here at position 41");
  EXPECT_EQ(ParseError("SELECT COUNT(*) FROM pgcdc_events ORDER BY 1 TUMBLING WINDOW 1s"),
            "ORDER BY is not supported in a view at position 44");
  EXPECT_EQ(ParseError("SELECT a.x FROM pgcdc_events a JOIN pgcdc_events b ON a.k = b.k "
                       "TUMBLING WINDOW 1s"),
            "an interval join has no window clause at position 65");
  EXPECT_EQ(ParseError("SELECT x::int FROM pgcdc_events GROUP BY x TUMBLING WINDOW 1s"),
            "unsupported expression (TypeCast) at position 9");
}

TEST(ViewParser, PlanNamesAndSharesAggregates) {
  auto q = Parse(
      "SELECT payload.row.region, COUNT(*), SUM(payload.row.amount), COUNT(DISTINCT row.amount), "
      "SUM(row.amount * 2) AS doubled, COUNT(*) * 10 AS tens FROM pgcdc_events "
      "GROUP BY row.region HAVING COUNT(*) > 1 TUMBLING WINDOW 1m");
  ASSERT_TRUE(q);
  std::vector<std::string> names;
  for (const auto& c : q->columns) names.push_back(c.name);
  EXPECT_EQ(names, (std::vector<std::string>{"region", "count", "sum_payload_row_amount",
                                             "count_distinct_row_amount", "doubled", "tens"}));
  EXPECT_EQ(q->aggregates.size(), 4u);  // COUNT(*) shared by three uses
  EXPECT_EQ(q->columns[0].expr.kind, ExprKind::kGroupRef);
}

TEST(ViewParser, NegativeAndZeroIntegerConstants) {
  // libpg_query's JSON drops negative integers; they are re-read from the text.
  auto q = Parse(
      "SELECT COUNT(*) AS n FROM pgcdc_events WHERE x > -3 AND y = 0 AND z < - 12 "
      "TUMBLING WINDOW 1s");
  ASSERT_TRUE(q);
  const Expr& w = *q->where;
  EXPECT_EQ(std::get<int64_t>(w.args[0].args[1].constant.v), -3);
  EXPECT_EQ(std::get<int64_t>(w.args[1].args[1].constant.v), 0);
  EXPECT_EQ(std::get<int64_t>(w.args[2].args[1].constant.v), -12);
}

Value EvalWhere(const std::string& predicate, const std::string& payload) {
  auto q =
      ParseQuery("SELECT COUNT(*) FROM pgcdc_events WHERE " + predicate + " TUMBLING WINDOW 1s");
  EXPECT_TRUE(q) << predicate << ": " << (q ? "" : q.error().message());
  if (!q) return {};
  Engine e(std::make_shared<const Query>(*q), {});
  // Evaluate through the engine: one event, counted iff the predicate is TRUE.
  e.Process({.channel = "c", .operation = "INSERT", .source = "s", .payload = payload}, 0);
  return Value{e.counters().events == 1};
}

TEST(ViewExpr, ThreeValuedLogic) {
  const std::string p = R"({"a":1,"b":null,"s":"abc","n":"12.5"})";
  // NULL comparisons are UNKNOWN, never TRUE (SPEC's quirk made != and < true).
  for (const char* pred : {"b = 1", "b <> 1", "b < 1", "b != 1", "NOT (b = 1)", "missing > 0",
                           "b IN (1, 2)", "a NOT IN (2, NULL)", "b LIKE '%'", "b + 1 > 0"}) {
    EXPECT_FALSE(std::get<bool>(EvalWhere(pred, p).v)) << pred;
  }
  for (const char* pred :
       {"a = 1", "b IS NULL", "missing IS NULL", "a IS NOT NULL", "b = 1 OR a = 1",
        "NOT (b = 1 AND a = 2)", "a IN (1, NULL)", "s LIKE 'a%c'", "s NOT LIKE 'x%'",
        "s LIKE 'a_c'", "n > 12", "a * 10 + 2 = 12", "COALESCE(b, 7) = 7", "a BETWEEN 0 AND 2",
        "channel = 'c'", "operation = 'INSERT'", "-a = -1", "7 / 2 = 3", "payload.s = 'abc'"}) {
    EXPECT_TRUE(std::get<bool>(EvalWhere(pred, p).v)) << pred;
  }
}

TEST(ViewExpr, LikeMatcher) {
  EXPECT_TRUE(Like("abc", "abc"));
  EXPECT_TRUE(Like("abc", "%"));
  EXPECT_TRUE(Like("", "%"));
  EXPECT_TRUE(Like("a%c", "a\\%c"));
  EXPECT_FALSE(Like("abc", "a\\%c"));
  EXPECT_TRUE(Like("xaaab", "%a%b"));
  EXPECT_FALSE(Like("ab", "a"));
}

TEST(ViewEngine, TumblingEventTimeAggregates) {
  auto q = Parse(
      "SELECT row.region AS region, COUNT(*) AS n, SUM(row.amount) AS total, AVG(row.amount) AS "
      "avg, MIN(row.amount) AS lo, MAX(row.amount) AS hi, STDDEV(row.amount) AS sd, "
      "COUNT(DISTINCT row.amount) AS d FROM pgcdc_events GROUP BY row.region "
      "EVENT TIME BY payload.row.ts TUMBLING WINDOW 10s");
  Engine e(q, {});
  e.Process({.payload = Ev("\"eu\"", "10", 1)}, 0);
  e.Process({.payload = Ev("\"eu\"", "20", 2)}, 0);
  e.Process({.payload = Ev("\"eu\"", "\"abc\"", 3)}, 0);  // not numeric: counted, skipped
  e.Process({.payload = Ev("\"us\"", "null", 4)}, 0);
  EXPECT_TRUE(e.Advance(0).empty());  // watermark 12:00:04
  e.Process({.payload = Ev("\"eu\"", "1", 15)}, 0);
  auto out = e.Advance(0);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(RowJson(*q, out[0], 0).empty(), false);
  ASSERT_EQ(out[0].rows.size(), 2u);
  auto& eu = std::get<std::string>(out[0].rows[0][0].v) == "eu" ? out[0].rows[0] : out[0].rows[1];
  auto& us = &eu == &out[0].rows[0] ? out[0].rows[1] : out[0].rows[0];
  EXPECT_EQ(std::get<int64_t>(eu[1].v), 3);
  EXPECT_EQ(std::get<int64_t>(eu[2].v), 30);
  EXPECT_DOUBLE_EQ(std::get<double>(eu[3].v), 15);
  EXPECT_EQ(ToText(eu[4]), "10");
  EXPECT_EQ(ToText(eu[5]), "abc");  // MIN/MAX compare any values (text after numbers)
  EXPECT_DOUBLE_EQ(std::get<double>(eu[6].v), 5);
  EXPECT_EQ(std::get<int64_t>(eu[7].v), 3);
  EXPECT_EQ(std::get<int64_t>(us[1].v), 1);
  EXPECT_TRUE(us[2].is_null());             // SUM over no values is NULL, as in SQL
  EXPECT_EQ(e.counters().type_errors, 3u);  // "abc" in SUM, AVG and STDDEV
}

TEST(ViewEngine, LateEventsAreCountedAndLatenessKeepsWindowsOpen) {
  auto q = Parse(
      "SELECT COUNT(*) AS n FROM pgcdc_events EVENT TIME BY row.ts "
      "ALLOWED LATENESS 5s TUMBLING WINDOW 10s");
  Engine e(q, {});
  e.Process({.payload = Ev("1", "1", 1)}, 0);
  e.Process({.payload = Ev("1", "1", 12)}, 0);  // watermark 12:00:07: [0,10) still open
  e.Process({.payload = Ev("1", "1", 9)}, 0);   // within lateness
  EXPECT_TRUE(e.Advance(0).empty());
  e.Process({.payload = Ev("1", "1", 16)}, 0);  // watermark 11 closes [0,10)
  auto out = e.Advance(0);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(std::get<int64_t>(out[0].rows[0][0].v), 2);
  e.Process({.payload = Ev("1", "1", 3)}, 0);  // too late
  EXPECT_EQ(e.counters().late, 1u);
  auto rest = e.FlushAll();
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(std::get<int64_t>(rest[0].rows[0][0].v), 2);
}

TEST(ViewEngine, SlidingWindowsOverlap) {
  auto q = Parse(
      "SELECT COUNT(*) AS n FROM pgcdc_events EVENT TIME BY row.ts "
      "SLIDING WINDOW 10s SLIDE 5s");
  Engine e(q, {});
  for (int s : {1, 6, 11}) e.Process({.payload = Ev("1", "1", s)}, 0);
  e.Process({.payload = Ev("1", "1", 30)}, 0);
  auto out = e.Advance(0);
  // [-5,5): 1; [0,10): 2; [5,15): 2; [10,20): 1; [15,25): 0 events → no window
  ASSERT_EQ(out.size(), 4u);
  std::vector<int64_t> counts;
  for (auto& w : out) counts.push_back(std::get<int64_t>(w.rows[0][0].v));
  EXPECT_EQ(counts, (std::vector<int64_t>{1, 2, 2, 1}));
}

TEST(ViewEngine, SessionsMergeAndCloseAfterGap) {
  auto q = Parse(
      "SELECT row.region AS k, COUNT(*) AS n FROM pgcdc_events GROUP BY row.region "
      "EVENT TIME BY row.ts SESSION WINDOW 5s");
  Engine e(q, {});
  e.Process({.payload = Ev("\"a\"", "1", 1)}, 0);
  e.Process({.payload = Ev("\"a\"", "1", 9)}, 0);  // a second session (gap 8s)
  e.Process({.payload = Ev("\"a\"", "1", 5)}, 0);  // bridges both
  e.Process({.payload = Ev("\"b\"", "1", 30)}, 0);
  auto out = e.Advance(0);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(std::get<int64_t>(out[0].rows[0][1].v), 3);
  EXPECT_EQ(out[0].start_ns, ParseTimestamp(At(1)));
  EXPECT_EQ(out[0].end_ns, ParseTimestamp(At(9)));
}

// Restarts (docs/views.md): a session of one key closes and is delivered
// while a session of another key is open. The replay starts at (or before)
// the open session's first event, so it brings back part of the delivered
// session: those events are skipped by the saved delivered-session end, and
// lateness is decided from the watermark before the held event, as in the
// first run. Nothing is emitted twice, nothing is lost.
TEST(ViewEngine, SessionsDeliveredBeforeARestartAreNotRebuilt) {
  auto q = Parse(
      "SELECT row.region AS k, COUNT(*) AS n, SUM(row.amount) AS s FROM pgcdc_events "
      "GROUP BY row.region EVENT TIME BY row.ts SESSION WINDOW 5s");
  struct In {
    const char* key;
    int sec;
  };
  const std::vector<In> events = {{"\"b\"", 0},  {"\"b\"", 2},  {"\"a\"", 3},
                                  {"\"b\"", 4},  {"\"a\"", 6},  {"\"a\"", 9},
                                  {"\"a\"", 11}, {"\"b\"", 20}, {"\"a\"", 30}};
  // "<key>[<first>..<last>]=<n>" of each result.
  auto feed = [&](Engine& e, size_t from, size_t to, std::vector<WindowResult>& out) {
    for (size_t i = from; i < to; ++i) {
      e.Process({.payload = Ev(events[i].key, "1", events[i].sec), .seq = i + 1}, 0);
      for (auto& w : e.Advance(0)) out.push_back(std::move(w));
    }
  };
  auto text = [](const std::vector<WindowResult>& out) {
    std::vector<std::string> rows;
    for (const auto& w : out) {
      rows.push_back(ToText(w.rows[0][0]) + "[" + std::to_string(w.start_ns / kSec % 60) + ".." +
                     std::to_string(w.end_ns / kSec % 60) + "]=" + ToText(w.rows[0][1]));
    }
    return rows;
  };
  const int64_t t0 = *ParseTimestamp(At(0));

  // First run: b@0,2,4 closes at a@9 (watermark 9 ≥ 4 + 5) and is delivered;
  // a@3.. is still open when the process dies.
  Engine first(q, {});
  std::vector<WindowResult> out;
  feed(first, 0, 6, out);
  ASSERT_EQ(text(out), (std::vector<std::string>{"b[0..4]=3"}));
  EXPECT_EQ(out[0].min_seq, 1u);
  EXPECT_EQ(out[0].restore_ns, kNoWatermark);  // nothing before b@0
  first.Delivered(out[0].delivery);
  const RestartState st = first.Checkpoint(INT64_MAX);
  // The watermark before a@3 (the oldest held event): b@2's.
  EXPECT_EQ(st.watermark_ns, std::optional<int64_t>(t0 + 2 * kSec));
  ASSERT_EQ(st.sessions.size(), 1u);
  EXPECT_EQ(st.sessions.begin()->second, t0 + 4 * kSec);

  // The restart: the replay starts before the held event (b@2) and goes on
  // with new events. b@2 and b@4 belong to the delivered session: skipped.
  Engine second(q, {});
  second.Restore(st);
  out.clear();
  feed(second, 1, events.size(), out);
  for (auto& w : second.FlushAll()) out.push_back(std::move(w));
  EXPECT_EQ(text(out), (std::vector<std::string>{"a[3..11]=4", "b[20..20]=1", "a[30..30]=1"}));
  EXPECT_EQ(second.counters().late, 2u);

  // Pruning: once the restored watermark passes a delivered session's end +
  // gap, its events are late on any replay and its entry goes.
  Engine third(q, {});
  third.Restore(st);
  out.clear();
  feed(third, 1, events.size(), out);  // a@30 open: restore point 20 (before a@30)
  for (const auto& w : out) third.Delivered(w.delivery);
  const RestartState later = third.Checkpoint(INT64_MAX);
  EXPECT_EQ(later.watermark_ns, std::optional<int64_t>(t0 + 20 * kSec));
  ASSERT_EQ(later.sessions.size(), 1u);  // a (11 + 5 <= 20) pruned; b (20 + 5 > 20) kept
  EXPECT_EQ(later.sessions.begin()->second, t0 + 20 * kSec);
  // A cap below (a result not yet delivered) lowers the restore point.
  EXPECT_EQ(third.Checkpoint(t0 + kSec).watermark_ns, std::optional<int64_t>(t0 + kSec));
  EXPECT_EQ(third.Checkpoint(kNoWatermark).watermark_ns, std::nullopt);
}

TEST(ViewEngine, ProcessingTimeTumblingAndMaxGroups) {
  auto q = Parse(
      "SELECT row.region AS k, COUNT(*) AS n FROM pgcdc_events GROUP BY row.region "
      "TUMBLING WINDOW 1s");
  Engine e(q, {.max_groups = 2});
  for (const char* r : {"\"a\"", "\"b\"", "\"c\"", "\"a\""})
    e.Process({.payload = Ev(r, "1", 0)}, 100);
  EXPECT_EQ(e.counters().groups_overflow, 1u);
  EXPECT_EQ(e.groups(), 2u);
  EXPECT_TRUE(e.Advance(kSec - 1).empty());
  auto out = e.Advance(kSec);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].rows.size(), 2u);
  EXPECT_EQ(e.groups(), 0u);
  EXPECT_EQ(BatchJson(*q, {.start_ns = 0,
                           .end_ns = kSec,
                           .rows = {{Value{std::string("a")}, Value{int64_t{2}}}}}),
            R"({"_window":{"start":"1970-01-01T00:00:00Z","end":"1970-01-01T00:00:01Z"},)"
            R"("rows":[{"k":"a","n":2}]})");
}

TEST(ViewEngine, BadEventTimeAndPayloadAreCounted) {
  auto q = Parse("SELECT COUNT(*) AS n FROM pgcdc_events EVENT TIME BY row.ts TUMBLING WINDOW 1s");
  Engine e(q, {});
  e.Process({.payload = R"({"row":{"ts":"yesterday"}})"}, 0);
  e.Process({.payload = R"({"row":{}})"}, 0);
  e.Process({.payload = "not json"}, 0);
  EXPECT_EQ(e.counters().bad_event_time, 2u);
  EXPECT_EQ(e.counters().bad_payload, 1u);
  EXPECT_EQ(e.counters().events, 0u);
}

TEST(ViewTime, ParsesRfc3339AndPostgresText) {
  EXPECT_EQ(ParseTimestamp("1970-01-01T00:00:01Z"), kSec);
  EXPECT_EQ(ParseTimestamp("1970-01-01 00:00:01.5+00"), kSec + kSec / 2);
  EXPECT_EQ(ParseTimestamp("1970-01-01T01:00:01+01:00"), kSec);
  EXPECT_EQ(ParseTimestamp("1970-01-01 05:30:01+0530"), kSec);
  EXPECT_EQ(ParseTimestamp("1970-01-01 00:00:01"), kSec);
  EXPECT_FALSE(ParseTimestamp("1970-01-01"));
  EXPECT_FALSE(ParseTimestamp("1970-01-01T00:00:01Zjunk"));
}

}  // namespace
}  // namespace pgcdc::view

namespace pgcdc::view {
namespace {

TEST(ViewEngine, ApproxCountDistinctIsExactForSmallGroupsAndMergesSessions) {
  auto q = Parse(
      "SELECT row.region AS k, approx_count_distinct(row.amount), COUNT(DISTINCT row.amount) AS d "
      "FROM pgcdc_events GROUP BY row.region EVENT TIME BY row.ts SESSION WINDOW 5s");
  ASSERT_EQ(q->columns.at(1).name, "approx_count_distinct_row_amount");
  Engine e(q, {});
  e.Process({.payload = Ev("\"a\"", "1", 1)}, 0);
  e.Process({.payload = Ev("\"a\"", "2", 9)}, 0);
  e.Process({.payload = Ev("\"a\"", "1", 5)}, 0);  // bridges both sessions: merged
  e.Process({.payload = Ev("\"a\"", "null", 6)}, 0);
  e.Process({.payload = Ev("\"b\"", "1", 30)}, 0);
  auto out = e.Advance(0);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(std::get<int64_t>(out[0].rows[0][1].v), 2);
  EXPECT_EQ(std::get<int64_t>(out[0].rows[0][2].v), 2);
}

TEST(ViewEngine, ApproxCountDistinctOnManyValues) {
  auto q = Parse(
      "SELECT approx_count_distinct(row.amount) AS u FROM pgcdc_events "
      "EVENT TIME BY row.ts TUMBLING WINDOW 10s");
  Engine e(q, {});
  for (int i = 0; i < 50'000; ++i) {
    e.Process({.payload = Ev("\"a\"", std::to_string(i % 20'000), 1)}, 0);
  }
  auto out = e.FlushAll();
  ASSERT_EQ(out.size(), 1u);
  const auto u = std::get<int64_t>(out[0].rows[0][0].v);
  EXPECT_NEAR(static_cast<double>(u), 20'000, 20'000 * 0.05);
}

TEST(ViewParser, ApproxCountDistinctRejectsDistinctAndStar) {
  EXPECT_FALSE(
      ParseQuery("SELECT approx_count_distinct(DISTINCT row.x) FROM pgcdc_events "
                 "TUMBLING WINDOW 1s"));
  EXPECT_FALSE(ParseQuery("SELECT approx_count_distinct(*) FROM pgcdc_events TUMBLING WINDOW 1s"));
}

}  // namespace
}  // namespace pgcdc::view
