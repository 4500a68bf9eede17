// Wall-clock helpers. Times are int64 nanoseconds since the Unix epoch (UTC).
#pragma once

#include <cstdint>
#include <string>

namespace pgcdc {

int64_t NowUnixNanos();

// RFC 3339 in UTC with nanoseconds, trailing fractional zeros trimmed (and the
// dot dropped when the fraction is zero): "2025-06-15T12:00:00.123456Z".
void AppendRfc3339Nano(int64_t unix_nanos, std::string& out);
std::string FormatRfc3339Nano(int64_t unix_nanos);

}  // namespace pgcdc
