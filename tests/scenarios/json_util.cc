#include "json_util.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <regex>

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

std::string CheckEnvelope(const std::string& line, const std::string& channel,
                          const std::string& operation, const std::string& source) {
  // Event ids (docs/events.md): WAL and MySQL binlog ids are version 8 (from
  // the position), outbox ids are the row's own id (any version), others
  // version 7.
  static const std::regex kUuidV7(
      "^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  static const std::regex kUuidV8(
      "^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  static const std::regex kUuidAny(
      "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  const std::regex& id_format = source == "wal" || source == "mysql_binlog"
                                    ? kUuidV8
                                    : (source == "outbox" ? kUuidAny : kUuidV7);
  static const std::regex kRfc3339Nano(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$)");
  EXPECT_EQ(ObjectKeys(line), (std::vector<std::string>{"id", "channel", "operation", "payload",
                                                        "source", "created_at"}))
      << line;
  auto v = ParseJson(line).as_object();
  EXPECT_TRUE(std::regex_match(std::string(v["id"].as_string()), id_format)) << line;
  EXPECT_EQ(v["channel"].as_string(), channel) << line;
  EXPECT_EQ(v["operation"].as_string(), operation) << line;
  EXPECT_EQ(v["source"].as_string(), source) << line;
  EXPECT_TRUE(std::regex_match(std::string(v["created_at"].as_string()), kRfc3339Nano)) << line;
  auto start = line.find("\"payload\":") + 10;
  auto end = line.rfind(",\"source\":");
  return line.substr(start, end - start);
}

}  // namespace pgcdc::testing
