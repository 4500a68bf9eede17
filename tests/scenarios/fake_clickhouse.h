// The FAKE ClickHouse HTTP server (tests/scenarios/fakes/fake_clickhouse.js)
// as a child process, for the clickhouse journeys and the chaos suite. It is
// not ClickHouse: see the script's header for what it implements.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <utility>

#include "harness.h"
#include "json_util.h"

namespace pgcdc::testing {

// User pgcdc / ch-s3cret, database cdc.
class FakeClickHouse {
 public:
  FakeClickHouse() {
    const char* src = std::getenv("PGCDC_SOURCE_DIR");
    const std::string script =
        std::string(src != nullptr ? src : ".") + "/tests/scenarios/fakes/fake_clickhouse.js";
    process_ = Process::Start({.args = {"node", script, "--port", "0", "--user", "pgcdc",
                                        "--password", "ch-s3cret", "--database", "cdc"},
                               .binary = "/usr/bin/env"});
    if (process_ && process_->WaitForLines(1)) {
      auto v = ParseJson(process_->StdoutLines()[0]);
      port_ = static_cast<int>(v.as_object()["listening"].as_int64());
    }
  }
  bool ok() const { return port_ > 0; }
  std::string Addr() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string Dsn() const { return "http://pgcdc:ch-s3cret@" + Addr() + "/cdc"; }

  void Control(const std::string& target, const std::string& body = {}) {
    auto r = HttpSend(Addr(), "POST", target, {}, body);
    ASSERT_TRUE(r && r->status == 200) << target << (r ? r->body : "");
  }
  // {count, distinct} of table cdc.<table>; {-1, -1} before it exists.
  std::pair<int64_t, int64_t> Count(const std::string& table = "pgcdc_events") {
    auto r = HttpGet(Addr(), "/_fake/count?table=cdc." + table);
    if (!r || r->status != 200) return {-1, -1};
    auto o = ParseJson(r->body).as_object();
    return {o["count"].as_int64(), o["distinct"].as_int64()};
  }
  boost::json::array Rows(const std::string& table = "pgcdc_events") {
    auto r = HttpGet(Addr(), "/_fake/rows?table=cdc." + table, 30s);
    if (!r || r->status != 200) return {};
    return ParseJson(r->body).as_object()["rows"].as_array();
  }
  boost::json::object State() {
    auto r = HttpGet(Addr(), "/_fake/state", 30s);
    if (!r || r->status != 200) return {};
    return ParseJson(r->body).as_object();
  }

 private:
  std::unique_ptr<Process> process_;
  int port_ = 0;
};

}  // namespace pgcdc::testing
