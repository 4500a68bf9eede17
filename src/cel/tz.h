// Time zone offsets for CEL's timestamp accessors (getHours("Europe/Paris")).
// Fixed offsets ("+05:30", "-08:00", "UTC") are computed directly; IANA names
// are read once from the system tz database (/usr/share/zoneinfo, TZif) and
// cached for the life of the process (thread-safe).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace pgcdc::cel {

// Offset from UTC in seconds of `zone` at `unix_seconds`; false with `error`
// set for an unknown zone.
bool TimeZoneOffset(std::string_view zone, int64_t unix_seconds, int64_t& offset,
                    std::string& error);

}  // namespace pgcdc::cel
