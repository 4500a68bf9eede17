#include "json_util.h"

#include <gtest/gtest.h>

#include <boost/json/src.hpp>

namespace pgcdc::testing {

boost::json::value ParseJson(const std::string& text) {
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  if (ec) ADD_FAILURE() << "invalid JSON (" << ec.message() << "): " << text;
  return v;
}

std::vector<std::string> ObjectKeys(const std::string& text) {
  std::vector<std::string> keys;
  auto v = ParseJson(text);
  if (!v.is_object()) return keys;
  for (const auto& kv : v.as_object()) keys.emplace_back(kv.key());
  return keys;
}

}  // namespace pgcdc::testing
