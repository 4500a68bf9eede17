// Test-only JSON helpers (Boost.JSON, header-only; compiled in json_util.cc).
#pragma once

#include <boost/json.hpp>
#include <string>
#include <vector>

namespace pgcdc::testing {

// Parses one line; fails the current test on error.
boost::json::value ParseJson(const std::string& text);
// Top-level keys of an object line in document order.
std::vector<std::string> ObjectKeys(const std::string& text);

// Checks the fixed event envelope of one stdout line (key order, UUIDv7 id,
// RFC 3339 UTC created_at, channel, operation, source) and returns the
// payload's raw JSON text exactly as written.
std::string CheckEnvelope(const std::string& line, const std::string& channel,
                          const std::string& operation, const std::string& source);

}  // namespace pgcdc::testing
