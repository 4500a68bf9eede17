// The streaming fast path (StreamEditImages via Chain::Apply) must give
// exactly what the document path gives: same verdict, same payload bytes,
// same error — for every payload, including the ones it hands back.
#include <gtest/gtest.h>

#include <random>

#include "transform/builtins.h"
#include "transform/payload.h"
#include "transform/test_util.h"

namespace pgcdc::transform {
namespace {

using fixtures::TestEvent;

void Rewrite(const void*, size_t rule, std::string_view value, std::string& out) {
  out.append("\"R").append(std::to_string(rule)).append(":").append(std::to_string(value.size()));
  out.push_back('"');
}

std::pair<StreamEditResult, std::string> Edit(std::string_view payload,
                                              std::vector<StreamEditRule> rules) {
  std::string out;
  auto r = StreamEditImages(payload, rules.data(), rules.size(), &Rewrite, nullptr, out);
  return {r, r == StreamEditResult::kChanged ? out : std::string()};
}

TEST(StreamEditImagesTest, DropsAndRewritesInBothImagesOnly) {
  auto [r, out] = Edit(
      R"({"old":{"id":1,"email":"a@x","n":null},"op":"UPDATE","row":{"id":1,"email":"b@x","n":null,"deep":{"email":1}},"table":"t","email":"top"})",
      {{"email", false}, {"n", false}, {"id", true}});
  ASSERT_EQ(r, StreamEditResult::kChanged);
  EXPECT_EQ(
      out,
      R"({"old":{"email":"R0:5","n":null},"op":"UPDATE","row":{"email":"R0:5","n":null,"deep":{"email":1}},"table":"t","email":"top"})");
  // Nothing to do: unchanged, not rewritten.
  EXPECT_EQ(Edit(R"({"op":"INSERT","row":{"a":1},"old":null})", {{"b", true}}).first,
            StreamEditResult::kUnchanged);
  // Dropping every member leaves an empty object.
  EXPECT_EQ(Edit(R"({"op":"INSERT","row":{"a":1,"b":2}})", {{"a", true}, {"b", true}}).second,
            R"({"op":"INSERT","row":{}})");
}

TEST(StreamEditImagesTest, FallsBackOnAnythingItDoesNotReproduceExactly) {
  const std::vector<StreamEditRule> rules = {{"a", true}};
  for (const char* p : {R"({"row":{"a":1}})",                         // no op: not structured
                        R"({"op":"X"})",                              // no row
                        R"({ "op":"X","row":{"a":1}})",               // whitespace
                        R"({"op":"X","row":{"a" :1}})",               // whitespace in an image
                        R"({"op":"X","row":{"\u0061":1}})",           // escaped key
                        R"({"op":"X","row":{"a":1,"a":2}})",          // duplicate rule key
                        R"({"op":"X","row":{"a":1},"row":{"a":2}})",  // duplicate image
                        R"({"specversion":"1.0","op":"X","row":{"a":1}})",  // CloudEvents
                        R"({"op":"X","row":{"a":1})",                       // truncated
                        R"({"op":"X","row":{"a":1}} )",                     // trailing data
                        R"({"op":"X","row":{"a":[1,2}})",                   // mismatched bracket
                        R"([1,2])", "null", "", "{}"}) {
    EXPECT_EQ(Edit(p, rules).first, StreamEditResult::kFallback) << p;
  }
}

// Random payloads: mostly well-formed compact structured ones, plus
// variations the fast path must hand back (spaces, escapes, duplicates,
// other shapes) and broken ones.
class PayloadGen {
 public:
  explicit PayloadGen(uint32_t seed) : rng_(seed) {}
  int Pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }

  std::string Key() {
    // Long keys take the 16-byte scanning path; the non-ASCII one and the
    // escaped one make the fast path fall back.
    static const char* kKeys[] = {"id",
                                  "email",
                                  "name",
                                  "n",
                                  "note",
                                  "a",
                                  "b",
                                  "a_rather_long_column_name_2",
                                  "customer_email_address",
                                  "cl\xc3\xa9_longue_colonne",
                                  "e\\u006dail"};
    return kKeys[Pick(Pick(10) == 0 ? 11 : 9)];
  }
  // A string of `n` characters with an escape or a quote at a random place.
  std::string LongString() {
    std::string body(8 + Pick(60), 'x');
    const size_t at = static_cast<size_t>(Pick(static_cast<int>(body.size())));
    body.replace(at, 1, Pick(2) ? "\\\"" : "\\\\");
    return "\"" + body + "\"";
  }
  std::string Value(int depth = 0) {
    switch (Pick(depth > 2 ? 5 : 8)) {
      case 0:
        return "null";
      case 1:
        return std::to_string(Pick(100000) - 500) + (Pick(2) ? ".50" : "");
      case 2:
        return Pick(2) ? "true" : "false";
      case 3:
        return Pick(2) ? "\"plain\"" : LongString();
      case 4:
        return Pick(2) ? "\"caf\xc3\xa9 \\\"q\\\" \\n\"" : "\"\"";
      case 5:
        return "[" + Value(depth + 1) + "," + Value(depth + 1) + "]";
      case 6:
        return "{\"" + std::string(Pick(2) ? "email" : "x") + "\":" + Value(depth + 1) + "}";
      default:
        return "{}";
    }
  }
  std::string Image() {
    std::string s = "{";
    const int n = Pick(6);
    for (int i = 0; i < n; ++i) {
      if (i) s += Pick(40) == 0 ? ", " : ",";
      s += "\"" + Key() + "\":" + Value();
    }
    return s + "}";
  }
  std::string Payload() {
    std::vector<std::pair<std::string, std::string>> members;
    const int shape = Pick(12);
    if (shape == 0) return Image();  // free-form object
    if (shape == 1) return "[1,2]";
    if (shape == 2) {
      return R"({"specversion":"1.0","data":{"op":"INSERT","row":)" + Image() + "}}";
    }
    if (Pick(3)) members.push_back({"old", Pick(3) ? Image() : "null"});
    if (shape != 3) members.push_back({"op", "\"UPDATE\""});
    members.push_back({"row", Pick(10) ? Image() : "null"});
    members.push_back({"table", "\"orders\""});
    if (Pick(10) == 0) members.push_back({"columns", "[{\"name\":\"id\"}]"});
    if (Pick(15) == 0) members.push_back({"row", Image()});  // duplicate image key
    std::shuffle(members.begin(), members.end(), rng_);
    std::string s = "{";
    for (size_t i = 0; i < members.size(); ++i) {
      if (i) s += ",";
      s += "\"" + members[i].first + "\":" + members[i].second;
    }
    s += "}";
    if (Pick(25) == 0) s = " " + s;
    if (Pick(25) == 0) s.resize(Pick(static_cast<int>(s.size())));  // truncated
    return s;
  }
  std::vector<TransformPtr> Chain() {
    std::vector<TransformPtr> out;
    const int n = 1 + Pick(4);
    for (int i = 0; i < n; ++i) {
      switch (Pick(4)) {
        case 0:
          out.push_back(MakeDropColumns({Key(), Key()}));
          break;
        case 1: {
          static const MaskMode kModes[] = {MaskMode::kHash, MaskMode::kRedact, MaskMode::kPartial};
          out.push_back(MakeMask({{Key(), kModes[Pick(3)]}, {Key(), kModes[Pick(3)]}},
                                 Pick(2) ? "salt" : ""));
          break;
        }
        case 2:
          out.push_back(*MakeFilter({.operations = {Pick(2) ? "update" : "INSERT"}}));
          break;
        default:
          out.push_back(MakeMask({{Key(), MaskMode::kHash}}));
          break;
      }
    }
    return out;
  }

 private:
  std::mt19937 rng_;
};

TEST(StreamEditChainTest, SameResultAsTheDocumentPathOnRandomInput) {
  PayloadGen gen(20261124);
  size_t fast = 0, fallback_or_drop = 0;
  for (int c = 0; c < 300; ++c) {
    const Chain chain(gen.Chain());
    ASSERT_TRUE(chain.streaming());
    for (int p = 0; p < 40; ++p) {
      const std::string payload = gen.Payload();
      const std::string op = gen.Pick(2) ? "UPDATE" : "INSERT";
      Event a = TestEvent(op, payload);
      Event b = a;
      auto ra = chain.Apply(a);
      auto rb = chain.ApplyDocument(b);
      ASSERT_EQ(ra.has_value(), rb.has_value()) << payload;
      if (!ra) {
        EXPECT_EQ(ra.error().message(), rb.error().message()) << payload;
        ++fallback_or_drop;
        continue;
      }
      ASSERT_EQ(*ra, *rb) << payload;
      if (*ra == Verdict::kKeep) {
        ASSERT_EQ(a.payload, b.payload) << payload;
        EXPECT_EQ(a.Json(), b.Json());
        fast += a.payload != payload;
      } else {
        ++fallback_or_drop;
      }
    }
  }
  // The generator must exercise both sides.
  EXPECT_GT(fast, 1000u);
  EXPECT_GT(fallback_or_drop, 500u);
}

TEST(StreamEditChainTest, OnlyStreamableTransformsGetThePlan) {
  EXPECT_TRUE(Chain({MakeDropColumns({"a"}), MakeMask({{"b", MaskMode::kHash}})}).streaming());
  EXPECT_FALSE(Chain({MakeDropColumns({"a"}), MakeRenameFields({{"a", "b"}})}).streaming());
  EXPECT_FALSE(Chain({*MakeFilter({.field = "a", .equals = std::string("1")})}).streaming());
  EXPECT_FALSE(Chain({MakeDropColumns({"a"}), MakeDebezium({})}).streaming());
}

}  // namespace
}  // namespace pgcdc::transform
