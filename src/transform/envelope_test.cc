// Debezium and CloudEvents envelopes against golden files in testdata/.
// Regenerate after an intended change with PGCDC_UPDATE_GOLDEN=1 and review the diff.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "core/json_dom.h"
#include "transform/builtins.h"
#include "transform/test_util.h"

namespace pgcdc::transform {
namespace {

using fixtures::TestEvent;

struct Case {
  std::string name;
  Event event;
};

std::vector<Case> Cases() {
  const std::pair<const char*, const char*> ops[] = {
      {"INSERT", R"({"old":null,"op":"INSERT","row":{"id":"1","status":"new"},"table":"orders"})"},
      {"UPDATE",
       R"({"old":{"id":"1","status":"new"},"op":"UPDATE","row":{"id":"1","status":"shipped"},"schema":"shop","table":"orders"})"},
      {"DELETE", R"({"old":null,"op":"DELETE","row":{"id":"1","status":null},"table":"orders"})"},
      {"TRUNCATE", R"({"old":null,"op":"TRUNCATE","row":null,"table":"orders"})"},
      {"SNAPSHOT",
       R"({"old":null,"op":"SNAPSHOT","row":{"id":1,"status":"new","amount":12.50},"table":"orders"})"},
  };
  std::vector<Case> out;
  for (const auto& [op, payload] : ops) {
    Event e = TestEvent(op, payload);
    out.push_back({op, e});
    e.lsn = 0x16B374D848;
    e.transaction =
        TransactionInfo{.xid = 12345, .commit_time_ns = fixtures::kCommitTime, .seq = 3};
    out.push_back({std::string(op) + "+tx", e});
  }
  out.push_back(
      {"trigger-DELETE",
       TestEvent("DELETE", R"({"op":"DELETE","table":"orders","row":{"id":1},"old":null})",
                 "pgcdc:orders", "listen_notify")});
  out.push_back({"freeform-INSERT",
                 TestEvent("INSERT", R"({"order":7,"total":"9.90"})", "orders", "outbox")});
  out.push_back({"string-NOTIFY", TestEvent("NOTIFY", R"("hello")", "jobs", "listen_notify")});
  out.push_back(
      {"BEGIN-marker", TestEvent("BEGIN", R"({"commit_time":"2025-06-15T11:59:59.5Z","xid":12345})",
                                 "pgcdc:_txn")});
  return out;
}

std::string Render(Transform& t) {
  std::string out;
  for (auto c : Cases()) {
    auto v = t.Apply(c.event);
    EXPECT_TRUE(v && *v == Verdict::kKeep) << c.name;
    // Every envelope is valid, compact JSON.
    auto dom = json::ParseDom(c.event.payload);
    EXPECT_TRUE(dom) << c.name << ": " << c.event.payload;
    out += c.name + ": " + c.event.payload + "\n";
  }
  return out;
}

void CheckGolden(const std::string& file, const std::string& actual) {
  const std::string path = std::string(PGCDC_TRANSFORM_TESTDATA) + "/" + file;
  if (std::getenv("PGCDC_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(path) << actual;
    GTEST_SKIP() << "rewrote " << path;
  }
  std::ifstream in(path);
  ASSERT_TRUE(in) << "missing golden file " << path;
  std::stringstream expected;
  expected << in.rdbuf();
  EXPECT_EQ(actual, expected.str()) << "golden mismatch: " << path;
}

TEST(EnvelopeGoldenTest, Debezium) {
  auto t = MakeDebezium({.connector_name = "inventory", .database = "shopdb"});
  CheckGolden("debezium.golden", Render(*t));
}

TEST(EnvelopeGoldenTest, CloudEvents) {
  auto t = MakeCloudEvents({});
  CheckGolden("cloudevents.golden", Render(*t));
}

TEST(EnvelopeGoldenTest, CloudEventsCustomSourceAndPrefix) {
  auto t = MakeCloudEvents({.source = "/db/prod", .type_prefix = "com.example"});
  Event e = TestEvent("INSERT", R"({"a":1})");
  ASSERT_TRUE(t->Apply(e));
  EXPECT_EQ(e.payload,
            R"({"data":{"a":1},"datacontenttype":"application/json","id":")" + e.id.ToString() +
                R"(","source":"/db/prod","specversion":"1.0","subject":"pgcdc:orders",)"
                R"("time":"2025-06-15T12:00:00.123456789Z","type":"com.example.INSERT"})");
}

TEST(EnvelopeGoldenTest, DebeziumThenCloudEventsNests) {
  Chain c({MakeDebezium({}), MakeCloudEvents({})});
  Event e = TestEvent("INSERT", R"({"old":null,"op":"INSERT","row":{"id":"1"},"table":"t"})");
  ASSERT_EQ(*c.Apply(e), Verdict::kKeep);
  EXPECT_TRUE(e.payload.starts_with(R"({"data":{"after":{"id":"1"},"before":null,"op":"c",)"))
      << e.payload;
}

}  // namespace
}  // namespace pgcdc::transform
