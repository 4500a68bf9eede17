#include "core/time.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <limits>

#include "core/time_internal.h"

namespace pgcdc {
namespace {

constexpr int64_t kSec = 1'000'000'000;

std::string Parts(int64_t secs, uint32_t nanos) {
  std::string s;
  time_internal::AppendRfc3339Parts(secs, nanos, s);
  return s;
}

// Expected values checked with `date -u -d @<seconds>`.
TEST(TimeTest, KnownValues) {
  EXPECT_EQ(FormatRfc3339Nano(1750000000123456000), "2025-06-15T15:06:40.123456Z");
  EXPECT_EQ(FormatRfc3339Nano(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339Nano(1750000000 * kSec), "2025-06-15T15:06:40Z");
  EXPECT_EQ(FormatRfc3339Nano(951782400 * kSec), "2000-02-29T00:00:00Z");
  EXPECT_EQ(FormatRfc3339Nano(1709164800 * kSec), "2024-02-29T00:00:00Z");
  EXPECT_EQ(FormatRfc3339Nano(68256000 * kSec), "1972-03-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339Nano(946684799 * kSec + 999999999), "1999-12-31T23:59:59.999999999Z");
}

TEST(TimeTest, FractionTrimming) {
  const int64_t base = 1750000000 * kSec;
  EXPECT_EQ(FormatRfc3339Nano(base + 500'000'000), "2025-06-15T15:06:40.5Z");
  EXPECT_EQ(FormatRfc3339Nano(base + 120'000'000), "2025-06-15T15:06:40.12Z");
  EXPECT_EQ(FormatRfc3339Nano(base + 1), "2025-06-15T15:06:40.000000001Z");
  EXPECT_EQ(FormatRfc3339Nano(base + 10), "2025-06-15T15:06:40.00000001Z");
  EXPECT_EQ(FormatRfc3339Nano(base + 100'000), "2025-06-15T15:06:40.0001Z");
  EXPECT_EQ(FormatRfc3339Nano(base + 123'456'789), "2025-06-15T15:06:40.123456789Z");
}

TEST(TimeTest, NegativeTimes) {
  EXPECT_EQ(FormatRfc3339Nano(-1), "1969-12-31T23:59:59.999999999Z");
  EXPECT_EQ(FormatRfc3339Nano(-kSec), "1969-12-31T23:59:59Z");
  EXPECT_EQ(FormatRfc3339Nano(-kSec / 2), "1969-12-31T23:59:59.5Z");
  EXPECT_EQ(FormatRfc3339Nano(-86400 * kSec), "1969-12-31T00:00:00Z");
  EXPECT_EQ(FormatRfc3339Nano(-86400 * kSec - 1), "1969-12-30T23:59:59.999999999Z");
}

TEST(TimeTest, Int64Extremes) {
  EXPECT_EQ(FormatRfc3339Nano(std::numeric_limits<int64_t>::min()),
            "1677-09-21T00:12:43.145224192Z");
  EXPECT_EQ(FormatRfc3339Nano(std::numeric_limits<int64_t>::max()),
            "2262-04-11T23:47:16.854775807Z");
}

TEST(TimeTest, FarDatesViaSeconds) {
  EXPECT_EQ(Parts(-62135596800, 0), "0001-01-01T00:00:00Z");
  EXPECT_EQ(Parts(-62135596801, 0), "0000-12-31T23:59:59Z");
  EXPECT_EQ(Parts(-62167219200, 0), "0000-01-01T00:00:00Z");
  EXPECT_EQ(Parts(-62198755200, 0), "-0001-01-01T00:00:00Z");  // Go style for year -1
  EXPECT_EQ(Parts(253402300799, 999'000'000), "9999-12-31T23:59:59.999Z");
  EXPECT_EQ(Parts(253402300800, 0), "10000-01-01T00:00:00Z");
}

TEST(TimeTest, EveryDayRoundTripsThroughChrono) {
  // Cross-check the civil-date conversion against <chrono> for ~800 years.
  using namespace std::chrono;
  for (int64_t d = -150'000; d <= 150'000; d += 7) {
    const year_month_day ymd{sys_days{days{d}}};
    char expected[32];
    std::snprintf(expected, sizeof(expected), "%04d-%02u-%02uT00:00:00Z",
                  static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                  static_cast<unsigned>(ymd.day()));
    ASSERT_EQ(Parts(d * 86400, 0), expected) << d;
  }
}

TEST(TimeTest, DaysFromCivilInvertsCivilFromDays) {
  // Every day of ~3000 years, both sides of 0000-03-01 and of the epoch.
  for (int64_t d = -800'000; d <= 300'000; ++d) {
    const CivilDate date = CivilFromDays(d);
    ASSERT_EQ(DaysFromCivil(date.year, date.month, date.day), d)
        << date.year << "-" << date.month << "-" << date.day;
  }
  EXPECT_EQ(DaysFromCivil(1970, 1, 1), 0);
  EXPECT_EQ(DaysFromCivil(2000, 3, 1), 11017);
  EXPECT_EQ(DaysFromCivil(1969, 12, 31), -1);
}

TEST(TimeTest, AppendAppends) {
  std::string s = "t=";
  AppendRfc3339Nano(0, s);
  EXPECT_EQ(s, "t=1970-01-01T00:00:00Z");
}

TEST(TimeTest, NowIsReasonable) {
  const int64_t a = NowUnixNanos();
  const int64_t sys = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const int64_t b = NowUnixNanos();
  EXPECT_GT(a, 1'700'000'000 * kSec);
  EXPECT_LE(a, sys);
  EXPECT_LE(sys, b);
}

}  // namespace
}  // namespace pgcdc
