// FieldExtractor against the document path it replaces: for every payload,
// the same accept/reject decision as json::ParseDom and, when it answers
// kOk, the same value for every field as ResolveField over the document.
#include "view/fields.h"

#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <functional>
#include <map>
#include <random>

#include "core/json_dom.h"
#include "view/engine.h"
#include "view/expr.h"
#include "view/test_util.h"

namespace pgcdc::view {
namespace {

using Paths = std::vector<std::vector<std::string>>;

const Paths kPaths = {{"row", "customer"}, {"row", "amount"}, {"a"},
                      {"row", "n", "x"},   {"payload"},       {"r\"k"}};

bool Same(const Value& a, const Value& b) {
  if (a.v.index() != b.v.index()) return false;
  if (const auto* d = std::get_if<double>(&a.v)) {
    return std::bit_cast<uint64_t>(*d) == std::bit_cast<uint64_t>(std::get<double>(b.v));
  }
  return a.v == b.v;
}

// Checks one payload; returns the extractor's outcome.
FieldExtractor::Outcome Check(FieldExtractor& x, const std::string& payload) {
  const auto outcome = x.Extract(payload);
  auto dom = json::ParseDom(payload);
  EXPECT_EQ(static_cast<bool>(dom), outcome != FieldExtractor::Outcome::kInvalid) << payload;
  if (outcome != FieldExtractor::Outcome::kOk || !dom) return outcome;
  const EvalContext ctx{.payload = &*dom};
  for (size_t i = 0; i < kPaths.size(); ++i) {
    const Value want = ResolveField(kPaths[i], -1, ctx);
    EXPECT_TRUE(Same(x.values()[i], want))
        << payload << " field " << i << ": " << ToText(x.values()[i]) << " vs " << ToText(want);
  }
  return outcome;
}

TEST(ViewFields, AgreesWithTheDocument) {
  FieldExtractor x(kPaths);
  using O = FieldExtractor::Outcome;
  const std::pair<std::string, O> cases[] = {
      {R"({"row":{"customer":"c1","amount":12}})", O::kOk},
      {R"( {"row":{"amount":1.50,"customer":null}} )", O::kOk},
      {R"({"a":true,"row":{"n":{"x":-0}},"payload":false})", O::kOk},
      {R"({"a":18446744073709551615,"row":{"amount":-9223372036854775808}})", O::kOk},
      {R"({"a":9223372036854775808,"row":{"amount":-9223372036854775809}})", O::kOk},
      {R"({"a":1e400})", O::kOk},  // infinity, as the document has it
      {R"({"a":1e308,"row":{"amount":2.2250738585072014e-308}})", O::kOk},
      {R"({"a":"\u00e9\ud83d\ude00\n\"","r\"k":"x"})", O::kOk},
      {R"({"r\u006fw":{"cust\u006fmer":"esc"}})", O::kOk},
      {R"({"row":[1,2],"a":{"row":{"customer":"inner"}}})", O::kNeedsDocument},
      {R"({"row":{"customer":{"id":1}}})", O::kNeedsDocument},
      {R"({"row":{"customer":[1]}})", O::kNeedsDocument},
      {R"({"row":{"customer":"a"},"row":{"amount":2}})", O::kNeedsDocument},
      {R"({"a":1,"a":2})", O::kNeedsDocument},
      {R"({"x":{"a":1},"y":{"a":2},"a":3})", O::kOk},
      {R"([{"row":{"customer":"c"}}])", O::kOk},
      {R"("row")", O::kOk},
      {R"(12)", O::kOk},
      {R"(null)", O::kOk},
      {R"({})", O::kOk},
      {"", O::kInvalid},
      {" ", O::kInvalid},
      {R"({"a":1} x)", O::kInvalid},
      {R"({"a":1}{})", O::kInvalid},
      {R"({"a":01})", O::kInvalid},
      {R"({"a":1,})", O::kInvalid},
      {R"({"a":NaN})", O::kInvalid},
      {R"({"a":1 /* c */})", O::kInvalid},
      {R"({"a":"\ud800"})", O::kInvalid},
      {"{\"a\":\"\xff\"}", O::kInvalid},
      {"{\"a\":\"\xc3\xa9\"}", O::kOk},
      {"{\"a\":\"tab\there\"}", O::kInvalid},
      {R"({"a":1)", O::kInvalid},
  };
  for (const auto& [payload, want] : cases) EXPECT_EQ(Check(x, payload), want) << payload;
  // Nesting: ParseDom's limit is 512 levels.
  for (const int depth : {511, 512, 513, 600}) {
    const std::string doc = std::string(depth, '[') + std::string(depth, ']');
    Check(x, doc);
  }
}

TEST(ViewFields, ValuesDoNotLeakBetweenEvents) {
  FieldExtractor x(kPaths);
  ASSERT_EQ(x.Extract(R"({"row":{"customer":"a long customer name, past SSO","amount":3}})"),
            FieldExtractor::Outcome::kOk);
  EXPECT_EQ(ToText(x.values()[0]), "a long customer name, past SSO");
  ASSERT_EQ(x.Extract(R"({"row":{"customer":"b"}})"), FieldExtractor::Outcome::kOk);
  EXPECT_EQ(ToText(x.values()[0]), "b");
  EXPECT_TRUE(x.values()[1].is_null());
}

// Random documents over the referenced keys (nested, repeated, of every
// type), some with a byte changed: same verdict and values as the document.
TEST(ViewFields, RandomDocuments) {
  FieldExtractor x(kPaths);
  std::mt19937 rng(7);
  const char* keys[] = {"row", "customer", "amount", "a", "n", "x", "payload", "other"};
  const char* scalars[] = {"1",
                           "-7",
                           "2.5",
                           "1e3",
                           "true",
                           "false",
                           "null",
                           "\"s\"",
                           "\"4.0\"",
                           "\"\\u0041\"",
                           "123456789012345678901",
                           "-0.0",
                           "\"\""};
  std::function<void(std::string&, int)> value = [&](std::string& out, int depth) {
    const unsigned pick = rng() % 10;
    if (depth < 4 && pick < 4) {
      out += '{';
      const unsigned n = rng() % 4;
      for (unsigned i = 0; i < n; ++i) {
        if (i > 0) out += ',';
        out += '"';
        out += keys[rng() % std::size(keys)];
        out += "\":";
        value(out, depth + 1);
      }
      out += '}';
    } else if (depth < 4 && pick == 4) {
      out += '[';
      const unsigned n = rng() % 3;
      for (unsigned i = 0; i < n; ++i) {
        if (i > 0) out += ',';
        value(out, depth + 1);
      }
      out += ']';
    } else {
      out += scalars[rng() % std::size(scalars)];
    }
  };
  int ok = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string doc = "{\"row\":";
    value(doc, 1);
    doc += ",\"a\":";
    value(doc, 1);
    doc += '}';
    if (rng() % 8 == 0) doc[rng() % doc.size()] = "{}[],:\"x1 \\"[rng() % 12];
    if (Check(x, doc) == FieldExtractor::Outcome::kOk) ++ok;
  }
  EXPECT_GT(ok, 5000);  // the fast path is the common one
}

// Events the extractor hands back (a key that is an object, a repeated key)
// are read through the document: same groups as a document gives.
TEST(ViewFields, EngineReadsHandedBackEventsThroughTheDocument) {
  Engine e(Parse("SELECT row.k AS k, COUNT(*) AS n, SUM(row.v) AS s FROM pgcdc_events "
                 "GROUP BY row.k TUMBLING WINDOW 1m"),
           {});
  for (const char* p : {R"({"row":{"k":{"a":1},"v":1}})", R"({"row":{"k":"x","v":2}})",
                        R"({"row":{"k":"y","v":3,"k":"x"}})", R"({"row":{"k":"x"},"row":{"v":4}})",
                        R"({"row":{"k":[1, 2],"v":5}})", "not json"}) {
    e.Process({.payload = p}, 0);
  }
  EXPECT_EQ(e.counters().bad_payload, 1u);
  auto out = e.FlushAll();
  ASSERT_EQ(out.size(), 1u);
  std::map<std::string, std::pair<std::string, std::string>> rows;
  for (const auto& r : out[0].rows) rows[ToText(r[0])] = {ToText(r[1]), ToText(r[2])};
  const std::map<std::string, std::pair<std::string, std::string>> want = {
      {R"({"a":1})", {"1", "1"}},
      {"x", {"2", "5"}},      // 2, and 3 (the last "k" is "x")
      {"<nil>", {"1", "4"}},  // the second "row" replaced the first
      {"[1,2]", {"1", "5"}}};
  EXPECT_EQ(rows, want);
}

TEST(ViewFields, AssignFieldsNumbersPayloadPaths) {
  auto q = Parse(
      "SELECT row.customer, COUNT(*), SUM(payload.row.amount), MAX(row.amount) FROM pgcdc_events "
      "WHERE channel = 'x' AND row.customer IS NOT NULL GROUP BY row.customer "
      "TUMBLING WINDOW 1m EVENT TIME BY row.ts");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->fields, (Paths{{"row", "amount"}, {"row", "customer"}, {"row", "ts"}}));
  EXPECT_EQ(q->group_by[0].field, 1);
  EXPECT_EQ(q->aggregates[1].arg.field, 0);
  EXPECT_EQ(q->event_time_field, 2);
  EXPECT_EQ(q->where->args[0].args[0].field, -1);  // channel: the envelope's
  auto j = Parse(
      "SELECT a.row.id, b.row.id FROM pgcdc_events a JOIN pgcdc_events b "
      "ON a.row.k = b.row.k WITHIN 1s WHERE a.channel = 'o'");
  ASSERT_TRUE(j);
  EXPECT_EQ(j->join->left_slot_fields.size(), j->join->left_slots.size());
  EXPECT_EQ(j->join->right_slot_fields.size(), j->join->right_slots.size());
  for (int f : j->join->left_slot_fields) EXPECT_GE(f, 0);
}

}  // namespace
}  // namespace pgcdc::view
