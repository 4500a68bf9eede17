#include "adapter/graphql/raw_json.h"

#include <gtest/gtest.h>

#include <utility>
#include <vector>

namespace pgcdc::adapter::graphql {
namespace {

using Members = std::vector<std::pair<std::string, std::string>>;

std::optional<Members> MembersOf(std::string_view obj) {
  Members m;
  if (!ForEachMember(obj, [&](const std::string& k, std::string_view v) {
        m.emplace_back(k, std::string(v));
      })) {
    return std::nullopt;
  }
  return m;
}

TEST(GraphqlRawJsonTest, MembersKeepTheirExactBytes) {
  auto m = MembersOf(R"({"a":12.50,"b\"q":"x,}]","c":{"d":[1,{"e":null}]},"f":[],"g":true})");
  ASSERT_TRUE(m);
  EXPECT_EQ(*m, (Members{{"a", "12.50"},
                         {"b\"q", R"("x,}]")"},
                         {"c", R"({"d":[1,{"e":null}]})"},
                         {"f", "[]"},
                         {"g", "true"}}));
  auto spaced = MembersOf(" { \"a\" : 1 , \"b\" : [ 1 , 2 ] } ");
  ASSERT_TRUE(spaced);
  EXPECT_EQ(*spaced, (Members{{"a", "1"}, {"b", "[ 1 , 2 ]"}}));
  EXPECT_TRUE(MembersOf("{}")->empty());
}

TEST(GraphqlRawJsonTest, ElementsAndSkipping) {
  std::vector<std::string> items;
  EXPECT_TRUE(ForEachElement(R"([1,"a",[2],{"k":3},null])",
                             [&](std::string_view v) { items.emplace_back(v); }));
  EXPECT_EQ(items, (std::vector<std::string>{"1", "\"a\"", "[2]", R"({"k":3})", "null"}));
  EXPECT_EQ(SkipJsonValue(R"({"a":[1,2]},5)", 0), 11u);
  EXPECT_EQ(SkipJsonValue("  -1.5e3 ", 0), 8u);
}

TEST(GraphqlRawJsonTest, MalformedInputIsRefusedWithoutOverrun) {
  for (const char* bad : {"{", R"({"a")", R"({"a":})", R"({"a":1,})", R"({"a" 1})", R"({a:1})",
                          "[1,", "[1 2]", R"({"a":"x)", "[", "{\"a\":[}"}) {
    EXPECT_FALSE(MembersOf(bad) && ForEachElement(bad, [](std::string_view) {})) << bad;
  }
  std::string deep(100000, '[');
  EXPECT_FALSE(ForEachElement(deep, [](std::string_view) {}));
  EXPECT_EQ(SkipJsonValue(deep, 0), std::string_view::npos);
}

}  // namespace
}  // namespace pgcdc::adapter::graphql
