#include "core/time.h"

#include <time.h>

#include <cstdlib>

#include "core/time_internal.h"

namespace pgcdc {

namespace {

constexpr int64_t kNanosPerSecond = 1'000'000'000;
constexpr int64_t kSecondsPerDay = 86'400;

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

// The calendar algorithms (H. Hinnant's) work on 400-year eras (146097 days)
// counted from 0000-03-01 so that the leap day is the last day of each
// computational year (which starts in March).
constexpr int64_t kDaysPerEra = 146'097;
constexpr int64_t kEpochShift = 719'468;  // days from 0000-03-01 to 1970-01-01

char* PutTwo(char* p, unsigned v) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
  return p + 2;
}

char* PutYear(char* p, int64_t year) {
  uint64_t y;
  if (year < 0) {
    *p++ = '-';
    y = static_cast<uint64_t>(-(year + 1)) + 1;
  } else {
    y = static_cast<uint64_t>(year);
  }
  char digits[24];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + y % 10);
    y /= 10;
  } while (y != 0);
  while (n < 4) digits[n++] = '0';
  while (n > 0) *p++ = digits[--n];
  return p;
}

}  // namespace

CivilDate CivilFromDays(int64_t days) {
  const int64_t z = days + kEpochShift;
  const int64_t era = FloorDiv(z, kDaysPerEra);
  const int64_t day_of_era = z - era * kDaysPerEra;  // [0, 146096]
  const int64_t year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) /
      365;  // [0, 399]
  const int64_t day_of_year =
      day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);  // [0, 365]
  const int64_t shifted_month = (5 * day_of_year + 2) / 153;                   // [0, 11], 0 = March
  const unsigned day = static_cast<unsigned>(day_of_year - (153 * shifted_month + 2) / 5 + 1);
  const unsigned month =
      static_cast<unsigned>(shifted_month < 10 ? shifted_month + 3 : shifted_month - 9);
  const int64_t year = year_of_era + era * 400 + (month <= 2 ? 1 : 0);
  return {year, month, day};
}

int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day) {
  const int64_t march_year = year - (month <= 2 ? 1 : 0);
  const int64_t era = FloorDiv(march_year, 400);
  const int64_t year_of_era = march_year - era * 400;                   // [0, 399]
  const int64_t shifted_month = month > 2 ? month - 3 : month + 9;      // [0, 11], 0 = March
  const int64_t day_of_year = (153 * shifted_month + 2) / 5 + day - 1;  // [0, 365]
  const int64_t day_of_era =
      year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;  // [0, 146096]
  return era * kDaysPerEra + day_of_era - kEpochShift;
}

namespace time_internal {

void AppendRfc3339Parts(int64_t unix_seconds, uint32_t nanos, std::string& out) {
  const int64_t days = FloorDiv(unix_seconds, kSecondsPerDay);
  const int64_t secs_of_day = unix_seconds - days * kSecondsPerDay;  // [0, 86399]
  const CivilDate date = CivilFromDays(days);

  char buf[64];
  char* p = PutYear(buf, date.year);
  *p++ = '-';
  p = PutTwo(p, date.month);
  *p++ = '-';
  p = PutTwo(p, date.day);
  *p++ = 'T';
  p = PutTwo(p, static_cast<unsigned>(secs_of_day / 3600));
  *p++ = ':';
  p = PutTwo(p, static_cast<unsigned>(secs_of_day / 60 % 60));
  *p++ = ':';
  p = PutTwo(p, static_cast<unsigned>(secs_of_day % 60));
  nanos %= static_cast<uint32_t>(kNanosPerSecond);
  if (nanos != 0) {
    char frac[9];
    for (int i = 8; i >= 0; --i) {
      frac[i] = static_cast<char>('0' + nanos % 10);
      nanos /= 10;
    }
    int len = 9;
    while (frac[len - 1] == '0') --len;  // at least one digit is non-zero
    *p++ = '.';
    for (int i = 0; i < len; ++i) *p++ = frac[i];
  }
  *p++ = 'Z';
  out.append(buf, static_cast<size_t>(p - buf));
}

}  // namespace time_internal

int64_t NowUnixNanos() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * kNanosPerSecond + ts.tv_nsec;
}

void AppendRfc3339Nano(int64_t unix_nanos, std::string& out) {
  int64_t secs = unix_nanos / kNanosPerSecond;
  int64_t nanos = unix_nanos % kNanosPerSecond;
  if (nanos < 0) {  // floor toward negative infinity; cannot overflow
    nanos += kNanosPerSecond;
    --secs;
  }
  time_internal::AppendRfc3339Parts(secs, static_cast<uint32_t>(nanos), out);
}

std::string FormatRfc3339Nano(int64_t unix_nanos) {
  std::string s;
  s.reserve(32);
  AppendRfc3339Nano(unix_nanos, s);
  return s;
}

}  // namespace pgcdc
