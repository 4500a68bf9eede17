#include "verify/diff.h"

#include <gtest/gtest.h>

namespace pgcdc::verify {
namespace {

const RowShape& Shape() {
  static const RowShape shape({"id", "v", "doc"}, {"id"}, {});
  return shape;
}

// A table row given as JSON.
class JsonRow final : public SourceRow {
 public:
  explicit JsonRow(std::string_view json) { EXPECT_TRUE(tree_.Parse(json)); }
  void AppendCanonical(uint64_t mask, std::string& out) const override {
    AppendCanonicalRow(tree_, tree_.root(), Shape(), mask, out);
  }
  std::string Key() const {
    std::string k;
    EXPECT_TRUE(AppendCanonicalKey(tree_, tree_.root(), Shape(), k));
    return k;
  }
  uint64_t Hash(uint64_t mask = 0) const {
    std::string c;
    AppendCanonical(mask, c);
    return HashCanonical(c);
  }

 private:
  JsonTree tree_;
};

TEST(Differ, SortsRowsIntoMatchingMissingDifferingAndExtra) {
  Replay::State state;
  auto put = [&](std::string_view key, KeyState s) { *state.Upsert(key).first = s; };
  put("[1]", {.hash = JsonRow(R"({"id":1,"v":"a","doc":null})").Hash()});
  put("[2]", {.hash = JsonRow(R"({"id":2,"v":"OLD","doc":null})").Hash()});
  put("[9]", {.hash = 1});
  put("[8]", {.hash = 1});
  put("[4]", {.hash = JsonRow(R"({"id":4,"v":"x","doc":null})").Hash(), .deleted = true});
  // Masked: the sink lacks doc (unchanged TOAST); equal without it.
  put("[5]", {.hash = JsonRow(R"({"id":5,"v":"t"})").Hash(), .toast_mask = Shape().MaskBit("doc")});
  Differ d(state, 1);
  for (const char* row : {R"({"id":1,"v":"a","doc":null})", R"({"id":2,"v":"new","doc":null})",
                          R"({"id":3,"v":"c","doc":null})", R"({"id":4,"v":"x","doc":null})",
                          R"({"id":5,"v":"t","doc":"big"})"}) {
    JsonRow r(row);
    d.SourceRow(r.Key(), r.Hash(), r);
  }
  DiffResult res = d.Finish();
  EXPECT_FALSE(res.Match());
  EXPECT_EQ(res.source_rows, 5u);
  EXPECT_EQ(res.matching, 2u);
  EXPECT_EQ(res.differing.count, 1u);
  ASSERT_EQ(res.differing.examples.size(), 1u);
  EXPECT_EQ(res.differing.examples[0].source_row, R"({"doc":null,"id":2,"v":"new"})");
  EXPECT_EQ(res.missing.count, 2u) << "3, and 4 which the sink deleted";
  EXPECT_EQ(res.missing.examples.size(), 1u) << "max_examples";
  EXPECT_EQ(res.extra.count, 2u);
  ASSERT_EQ(res.extra.examples.size(), 1u);
  EXPECT_EQ(res.extra.examples[0].key, "[8]") << "the smallest key";
}

TEST(Differ, NamesTheColumnsThatDiffer) {
  EXPECT_EQ(DifferingColumns(R"({"a":1,"b":"x","c":null})", R"({"a":1,"b":"y","d":2})"),
            (std::vector<std::string>{"b", "c", "d"}));
  EXPECT_TRUE(DifferingColumns(R"({"a":[1,{"x":2}]})", R"({"a":[1,{"x":2}]})").empty());
  EXPECT_TRUE(DifferingColumns("not json", "{}").empty());
}

TEST(Differ, EmptyOnBothSidesMatches) {
  Replay::State state;
  Differ d(state, 10);
  EXPECT_TRUE(d.Finish().Match());
}

}  // namespace
}  // namespace pgcdc::verify
