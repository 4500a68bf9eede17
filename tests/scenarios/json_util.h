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

}  // namespace pgcdc::testing
