#include "verify/json_tree.h"

#include <gtest/gtest.h>

namespace pgcdc::verify {
namespace {

TEST(JsonTree, KeepsNumberSpellingAndUnescapesStrings) {
  JsonTree t;
  ASSERT_TRUE(
      t.Parse(R"( {"a": 1.50, "b": [1e+100, -0, 12345678901234567890], "c": "x\"\u00e9\n"} )"));
  const NodeId a = t.Find(t.root(), "a");
  ASSERT_NE(a, kNone);
  EXPECT_EQ(t.kind(a), NodeKind::kNumber);
  EXPECT_EQ(t.text(a), "1.50");
  const NodeId b = t.Find(t.root(), "b");
  ASSERT_EQ(t.node(b).count, 3u);
  std::vector<std::string> texts;
  for (NodeId c = t.node(b).first; c != kNone; c = t.node(c).next) texts.emplace_back(t.text(c));
  EXPECT_EQ(texts, (std::vector<std::string>{"1e+100", "-0", "12345678901234567890"}));
  EXPECT_EQ(t.FindString(t.root(), "c"), "x\"\u00e9\n");
  EXPECT_EQ(t.FindString(t.root(), "a"), "") << "not a string";
  EXPECT_EQ(t.Find(t.root(), "missing"), kNone);
  EXPECT_EQ(t.Find(a, "x"), kNone) << "not an object";
}

TEST(JsonTree, ScalarsNestingAndKeys) {
  JsonTree t;
  ASSERT_TRUE(t.Parse(R"({"n":null,"t":true,"f":false,"o":{"k":{"deep":[[]]}},"":1})"));
  EXPECT_EQ(t.kind(t.Find(t.root(), "n")), NodeKind::kNull);
  EXPECT_TRUE(t.node(t.Find(t.root(), "t")).boolean);
  EXPECT_FALSE(t.node(t.Find(t.root(), "f")).boolean);
  const NodeId deep = t.Find(t.Find(t.Find(t.root(), "o"), "k"), "deep");
  ASSERT_NE(deep, kNone);
  EXPECT_EQ(t.kind(t.node(deep).first), NodeKind::kArray);
  EXPECT_EQ(t.text(t.Find(t.root(), "")), "1");
  EXPECT_EQ(t.node(t.root()).count, 5u);
}

TEST(JsonTree, ReusedAcrossDocumentsAndRejectsBadInput) {
  JsonTree t;
  ASSERT_TRUE(t.Parse(R"({"a":"first"})"));
  for (const char* bad : {"", "{", R"({"a":1,})", "[1] [2]", "{\"a\":\"\xff\"}", "nul"}) {
    auto st = t.Parse(bad);
    EXPECT_FALSE(st) << bad;
    if (!st) {
      EXPECT_EQ(st.error().code(), ErrorCode::kParse);
    }
    EXPECT_TRUE(t.empty());
  }
  ASSERT_TRUE(t.Parse(R"({"b":"second"})"));
  EXPECT_EQ(t.FindString(t.root(), "b"), "second");
  EXPECT_EQ(t.Find(t.root(), "a"), kNone);
  std::string deep(600, '[');
  deep += std::string(600, ']');
  EXPECT_FALSE(t.Parse(deep)) << "nesting is capped";
}

}  // namespace
}  // namespace pgcdc::verify
