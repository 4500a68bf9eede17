#include "snapshot/progress.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>

namespace pgcdc::snapshot {
namespace {

using namespace std::chrono_literals;

TEST(ProgressFormatTest, CountsAndClocks) {
  EXPECT_EQ(FormatCount(0), "0");
  EXPECT_EQ(FormatCount(999), "999");
  EXPECT_EQ(FormatCount(1000), "1,000");
  EXPECT_EQ(FormatCount(1234567), "1,234,567");
  EXPECT_EQ(FormatClock(0), "0:00");
  EXPECT_EQ(FormatClock(7.4), "0:07");
  EXPECT_EQ(FormatClock(754), "12:34");
  EXPECT_EQ(FormatClock(3723), "1:02:03");
  EXPECT_EQ(FormatClock(-5), "0:00");
  EXPECT_EQ(FormatClock(1e12), "99:59:59");
}

TEST(ProgressFormatTest, PercentNeedsAUsableEstimate) {
  EXPECT_LT(ProgressPercent({.rows = 10, .estimated_rows = -1}), 0);
  EXPECT_LT(ProgressPercent({.rows = 10, .estimated_rows = 0}), 0);
  EXPECT_LT(ProgressPercent({.rows = 11, .estimated_rows = 10}), 0);  // estimate exceeded
  EXPECT_DOUBLE_EQ(ProgressPercent({.rows = 5, .estimated_rows = 10}), 50.0);
  EXPECT_DOUBLE_EQ(ProgressPercent({.rows = 10, .estimated_rows = 10}), 99.9);
  EXPECT_DOUBLE_EQ(ProgressPercent({.rows = 3, .estimated_rows = -1, .done = true}), 100.0);
}

TEST(ProgressFormatTest, Lines) {
  EXPECT_EQ(
      FormatProgressLine(
          "orders", {.rows = 50000, .estimated_rows = 100000, .elapsed_seconds = 2, .done = false}),
      "snapshot orders [############............]  50.0%  50,000 rows  25,000 rows/s  "
      "ETA 0:02");
  EXPECT_EQ(FormatProgressLine("s1.items", {.rows = 1500, .elapsed_seconds = 3}),
            "snapshot s1.items  1,500 rows  500 rows/s  elapsed 0:03");
  EXPECT_EQ(
      FormatProgressLine("t", {.rows = 7, .estimated_rows = 5, .elapsed_seconds = 1, .done = true}),
      "snapshot t [########################] 100.0%  7 rows  7 rows/s  done in 0:01");
  const std::string long_name(50, 'x');
  EXPECT_NE(FormatProgressLine(long_name, {}).find(std::string(29, 'x') + "..."),
            std::string::npos);
}

struct FakeClock {
  std::chrono::steady_clock::time_point t{};
  std::function<std::chrono::steady_clock::time_point()> Fn() {
    return [this] { return t; };
  }
};

TEST(ProgressReporterTest, TerminalRedrawsAtMostFiveTimesASecond) {
  FakeClock clock;
  char* buf = nullptr;
  size_t size = 0;
  std::FILE* out = open_memstream(&buf, &size);
  ASSERT_NE(out, nullptr);
  {
    ProgressReporter r({.table = "t", .tty = true, .out = out, .now = clock.Fn()});
    r.SetEstimate(1000);
    for (int i = 1; i <= 100; ++i) {
      clock.t += 10ms;  // 1 s in total
      r.Update(static_cast<uint64_t>(i) * 10);
    }
    // First update draws at once, then every 200 ms: 1 + 4 (at 210, 410, 610, 810 ms).
    EXPECT_EQ(r.lines_written(), 5u);
    r.Finish(1000, true);
    EXPECT_EQ(r.lines_written(), 6u);
  }
  std::fclose(out);
  const std::string text(buf, size);
  std::free(buf);
  EXPECT_EQ(text.front(), '\r');
  EXPECT_EQ(text.back(), '\n');
  EXPECT_NE(text.find("\x1b[K"), std::string::npos);
  EXPECT_NE(text.find("100.0%  1,000 rows  1,000 rows/s  done in 0:01"), std::string::npos);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1);
}

TEST(ProgressReporterTest, LogModeEveryNRowsButNotTooOften) {
  FakeClock clock;
  ProgressReporter r({.table = "t", .tty = false, .log_every_rows = 100, .now = clock.Fn()});
  r.Update(50);
  EXPECT_EQ(r.lines_written(), 0u);  // fewer than N rows
  r.Update(100);
  EXPECT_EQ(r.lines_written(), 1u);
  r.Update(300);  // N rows more, but within the minimum interval
  EXPECT_EQ(r.lines_written(), 1u);
  clock.t += 1s;
  r.Update(301);
  EXPECT_EQ(r.lines_written(), 2u);
  clock.t += 1s;
  r.Update(350);  // interval passed, but not N rows since the last line
  EXPECT_EQ(r.lines_written(), 2u);
  r.Finish(350, true);  // log mode: the caller logs the summary
  EXPECT_EQ(r.lines_written(), 2u);
}

TEST(ProgressReporterTest, InterruptedWithoutOutputStaysQuiet) {
  char* buf = nullptr;
  size_t size = 0;
  std::FILE* out = open_memstream(&buf, &size);
  {
    ProgressReporter r({.table = "t", .tty = true, .out = out});
    r.Finish(0, false);
    EXPECT_EQ(r.lines_written(), 0u);
  }
  std::fclose(out);
  EXPECT_EQ(size, 0u);
  std::free(buf);
}

}  // namespace
}  // namespace pgcdc::snapshot
