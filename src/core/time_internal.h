// Internals of core/time.cc that its tests reach: not part of the API.
#pragma once

#include <cstdint>
#include <string>

namespace pgcdc::time_internal {

// Formats `unix_seconds` + `nanos` (0..999'999'999) as RFC 3339 UTC, also for
// dates outside the int64 nanosecond range, such as 0001-01-01.
void AppendRfc3339Parts(int64_t unix_seconds, uint32_t nanos, std::string& out);

}  // namespace pgcdc::time_internal
