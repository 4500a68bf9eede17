#include "adapter/view/offline.h"

#include <gtest/gtest.h>

#include <sstream>

namespace pgcdc::adapter::view {
namespace {

std::vector<ViewDef> Views(const std::string& spec, Emit emit = Emit::kRow) {
  auto views = BuildViews({.cli_queries = {spec}, .emit = emit});
  EXPECT_TRUE(views) << views.error().message();
  return views ? std::move(*views) : std::vector<ViewDef>{};
}

std::string Event(const std::string& created_at, const std::string& region, int amount) {
  return R"({"id":"x","channel":"pgcdc:orders","operation":"INSERT","source":"wal",)"
         R"("created_at":")" +
         created_at + R"(","payload":{"row":{"region":")" + region + R"(","amount":)" +
         std::to_string(amount) + "}}}\n";
}

TEST(ViewOffline, WindowsCloseAsCaptureTimePassesAndAtTheEnd) {
  auto views = Views(
      "by_region:SELECT payload.row.region AS region, COUNT(*) AS n, SUM(payload.row.amount) "
      "AS total FROM pgcdc_events GROUP BY payload.row.region TUMBLING WINDOW 1m");
  std::istringstream in(Event("2026-01-01T00:00:10Z", "eu", 5) +
                        Event("2026-01-01T00:00:20Z", "us", 7) +
                        Event("2026-01-01T00:00:50Z", "eu", 1) +
                        // the next minute: the first window closes
                        Event("2026-01-01T00:01:05Z", "eu", 2));
  std::ostringstream out, err;
  auto report = RunOffline(views, in, out, err);
  EXPECT_EQ(report.lines, 4u);
  EXPECT_EQ(report.bad_lines, 0u);
  EXPECT_EQ(report.results, 3u);  // eu and us of minute 0, eu of minute 1 (at the end)
  std::istringstream lines(out.str());
  std::string first, second, third;
  std::getline(lines, first);
  std::getline(lines, second);
  std::getline(lines, third);
  EXPECT_NE(first.find(R"("channel":"pgcdc:_view:by_region","operation":"VIEW_RESULT")"),
            std::string::npos)
      << first;
  EXPECT_NE(out.str().find(R"("region":"eu","n":2,"total":6)"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find(R"("region":"us","n":1,"total":7)"), std::string::npos) << out.str();
  EXPECT_NE(third.find(R"("region":"eu","n":1,"total":2)"), std::string::npos) << third;
  EXPECT_NE(third.find("2026-01-01T00:01:00"), std::string::npos) << third;
  EXPECT_NE(err.str().find("view by_region: 4 events aggregated"), std::string::npos) << err.str();
}

TEST(ViewOffline, BadLinesAreReportedWithTheirNumberAndSkipped) {
  auto views = Views("n:SELECT COUNT(*) AS n FROM pgcdc_events TUMBLING WINDOW 1m");
  std::istringstream in("not json\n\n" + Event("2026-01-01T00:00:10Z", "eu", 1) +
                        "[1,2]\n{\"payload\":{}}\n");
  std::ostringstream out, err;
  auto report = RunOffline(views, in, out, err);
  EXPECT_EQ(report.lines, 4u);
  EXPECT_EQ(report.bad_lines, 3u);
  EXPECT_EQ(report.results, 1u);
  EXPECT_NE(err.str().find("line 1: not a JSON event object"), std::string::npos) << err.str();
  EXPECT_NE(err.str().find("line 4: not a JSON event object"), std::string::npos) << err.str();
  EXPECT_NE(err.str().find("line 5: event without a channel"), std::string::npos) << err.str();
  EXPECT_NE(out.str().find(R"("n":1)"), std::string::npos) << out.str();
}

TEST(ViewOffline, SameInputSameBytesAndBatchEmit) {
  auto views = Views("n:SELECT COUNT(*) AS n FROM pgcdc_events TUMBLING WINDOW 1m", Emit::kBatch);
  const std::string input = Event("2026-01-01T00:00:10Z", "eu", 1) +
                            Event("2026-01-01T00:00:11Z", "us", 1) +
                            // a view's own result is not aggregated again
                            R"({"channel":"pgcdc:_view:n","payload":{"n":9}})" + "\n";
  std::string outputs[2];
  for (auto& output : outputs) {
    std::istringstream in(input);
    std::ostringstream out, err;
    auto report = RunOffline(views, in, out, err);
    EXPECT_EQ(report.results, 1u);
    output = out.str();
  }
  EXPECT_EQ(outputs[0], outputs[1]);
  EXPECT_NE(outputs[0].find(R"("rows":[{"n":2}])"), std::string::npos) << outputs[0];
}

TEST(ViewOffline, LateEventsArePrintedOnTheLateChannelWithEmitLate) {
  auto views = BuildViews({.cli_queries = {"w:SELECT COUNT(*) AS n FROM pgcdc_events "
                                           "EVENT TIME BY row.ts TUMBLING WINDOW 10s"},
                           .emit_late = true});
  ASSERT_TRUE(views);
  std::istringstream in(
      R"({"id":"a","channel":"pgcdc:t","operation":"INSERT","payload":{"row":{"ts":"2026-01-01T00:00:25Z"}}})"
      "\n"
      R"({"id":"b","channel":"pgcdc:t","operation":"INSERT","payload":{"row":{"ts":"2026-01-01T00:00:05Z"}}})"
      "\n");
  std::ostringstream out, err;
  auto report = RunOffline(*views, in, out, err);
  EXPECT_EQ(report.results, 2u);
  EXPECT_NE(out.str().find(R"({"channel":"pgcdc:_view:w:late","operation":"VIEW_LATE",)"
                           R"("payload":{"id":"b","channel":"pgcdc:t","operation":"INSERT",)"
                           R"("payload":{"row":{"ts":"2026-01-01T00:00:05Z"}}}})"),
            std::string::npos)
      << out.str();
  EXPECT_NE(err.str().find("1 late"), std::string::npos) << err.str();
}

// SPEC §7.5 interval join, offline: orders and payments of the same order id
// within 1 minute of capture time; one VIEW_RESULT per pair, without
// _window, even with emit: batch.
TEST(ViewOffline, IntervalJoinPrintsOnePairPerLine) {
  auto views = Views(
      "paid:SELECT a.row.id AS order_id, a.row.amount AS ordered, b.row.amount AS paid "
      "FROM pgcdc_events a JOIN pgcdc_events b ON a.row.id = b.row.order_id WITHIN 1m "
      "WHERE a.channel = 'pgcdc:orders' AND b.channel = 'pgcdc:payments'",
      Emit::kBatch);
  auto ev = [](const std::string& at, const std::string& channel, const std::string& row) {
    return R"({"id":"x","channel":")" + channel + R"(","operation":"INSERT","created_at":")" + at +
           R"(","payload":{"row":)" + row + "}}\n";
  };
  std::istringstream in(
      ev("2026-01-01T00:00:10Z", "pgcdc:orders", R"({"id":1,"amount":30})") +
      ev("2026-01-01T00:00:20Z", "pgcdc:orders", R"({"id":2,"amount":40})") +
      ev("2026-01-01T00:00:50Z", "pgcdc:payments", R"({"order_id":1,"amount":30})") +
      // 1 min 15 s after order 2: too late to pair
      ev("2026-01-01T00:01:35Z", "pgcdc:payments", R"({"order_id":2,"amount":40})"));
  std::ostringstream out, err;
  auto report = RunOffline(views, in, out, err);
  EXPECT_EQ(report.results, 1u);
  EXPECT_EQ(out.str(), R"({"channel":"pgcdc:_view:paid","operation":"VIEW_RESULT","payload":)"
                       R"({"order_id":1,"ordered":30,"paid":30}})"
                       "\n");
  EXPECT_NE(err.str().find("view paid: 4 events aggregated, 0 late"), std::string::npos)
      << err.str();
}

}  // namespace
}  // namespace pgcdc::adapter::view
