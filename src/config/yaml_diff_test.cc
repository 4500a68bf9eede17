#include "config/yaml_diff.h"

#include <gtest/gtest.h>

namespace pgcdc::config {
namespace {

TEST(YamlDiff, FlattensNestedMapsAndSequences) {
  auto flat = FlattenYaml(R"(
adapters: [stdout, webhook]
webhook: {url: "http://a", headers: {X-A: "1"}}
detectors:
  - {type: wal, name: pg}
  - {type: mysql}
routes: {}
dlq: ~
)");
  ASSERT_TRUE(flat) << flat.error().message();
  const FlatYaml want = {{"adapters", "stdout,webhook"},
                         {"webhook.url", "http://a"},
                         {"webhook.headers.X-A", "1"},
                         {"detectors[0].type", "wal"},
                         {"detectors[0].name", "pg"},
                         {"detectors[1].type", "mysql"},
                         {"routes", "{}"},
                         {"dlq", "null"}};
  EXPECT_EQ(*flat, want);
}

TEST(YamlDiff, ReportsAddedRemovedAndChangedInPathOrder) {
  const FlatYaml before = {{"a", "1"}, {"b.x", "2"}, {"c", "same"}};
  const FlatYaml after = {{"b.x", "3"}, {"c", "same"}, {"d", "new"}};
  const std::vector<std::string> want = {"- a: 1", "  b.x: 2 -> 3", "+ d: new"};
  EXPECT_EQ(DiffYaml(before, after), want);
  EXPECT_TRUE(DiffYaml(before, before).empty());
}

TEST(YamlDiff, BadDocumentsAreErrorsWithAPosition) {
  auto bad = FlattenYaml("a: [1, 2\nb: 3\n");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("line "), std::string::npos) << bad.error().message();
  auto list = FlattenYaml("- a\n- b\n");
  ASSERT_FALSE(list);
  EXPECT_NE(list.error().message().find("not a YAML mapping"), std::string::npos);
  auto empty = FlattenYaml("");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
  EXPECT_FALSE(FlattenYamlFile("/nonexistent/pgcdc.yaml"));
}

}  // namespace
}  // namespace pgcdc::config
