// Wall-clock helpers. Times are int64 nanoseconds since the Unix epoch (UTC).
#pragma once

#include <cstdint>
#include <string>

namespace pgcdc {

int64_t NowUnixNanos();

// A proleptic Gregorian calendar date.
struct CivilDate {
  int64_t year;
  unsigned month;  // 1..12
  unsigned day;    // 1..31
};

// The date `days` days after 1970-01-01 (before it when negative).
CivilDate CivilFromDays(int64_t days);
// Days since 1970-01-01 of a date (month 1..12, day 1..31; not checked).
int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day);

// RFC 3339 in UTC with nanoseconds, trailing fractional zeros trimmed (and the
// dot dropped when the fraction is zero): "2025-06-15T12:00:00.123456Z".
void AppendRfc3339Nano(int64_t unix_nanos, std::string& out);
std::string FormatRfc3339Nano(int64_t unix_nanos);

}  // namespace pgcdc
