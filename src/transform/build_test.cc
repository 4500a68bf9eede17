#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "config/config.h"
#include "transform/builtins.h"
#include "transform/test_util.h"

namespace pgcdc::transform {
namespace {

using fixtures::TestEvent;
using namespace std::chrono_literals;

class BuildTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = std::filesystem::temp_directory_path() /
            ("pgcdc_transform_" + std::to_string(getpid()) + ".yaml");
    cfg_.Set("adapters", std::vector<std::string>{"stdout", "webhook"}, config::Origin::kFlag);
  }
  void TearDown() override { std::filesystem::remove(path_); }
  std::string Write(const std::string& yaml) {
    std::ofstream(path_) << yaml;
    return path_.string();
  }
  std::filesystem::path path_;
  config::Config cfg_;
};

TEST_F(BuildTest, EveryTypeFromYaml) {
  const auto file = Write(R"(
adapters: [stdout, webhook]
transforms:
  global:
    - {type: drop_columns, columns: [secret]}
  adapter:
    webhook:
      - {type: mask, fields: [{field: email, mode: hash}], salt: s}
      - {type: rename_fields, mapping: {user_id: userId}}
      - {type: filter, filter: {operations: [INSERT]}}
      - {type: filter, filter: {field: status, in: [new, paid]}}
      - {type: cel_filter, expression: 'operation == "INSERT"'}
      - {type: dedup, dedup: {key_path: row.id, window: 1m, max_keys: 10}}
      - {type: debezium, debezium: {connector_name: c, database: d}}
      - {type: cloudevents, cloudevents: {source: /x, type_prefix: p}}
)");
  auto set = Build(cfg_, file, nullptr);
  ASSERT_TRUE(set) << set.error().message();
  EXPECT_EQ(set->Describe(),
            "global=[drop_columns] webhook=[mask,rename_fields,filter,filter,cel_filter,dedup,"
            "debezium,cloudevents]");
  EXPECT_EQ(set->ForAdapter("stdout"), nullptr);

  Event e = TestEvent("INSERT", R"({"op":"INSERT","row":{"id":1,"secret":"x","status":"new"}})");
  ASSERT_EQ(*set->global->Apply(e), Verdict::kKeep);
  ASSERT_EQ(*set->ForAdapter("webhook")->Apply(e), Verdict::kKeep);
  EXPECT_TRUE(e.payload.starts_with(R"({"data":{"after":{"id":1,"status":"new"},)")) << e.payload;
}

TEST_F(BuildTest, ErrorsAreCollectedWithPositions) {
  const auto file = Write(R"(transforms:
  global:
    - {type: drop_columnz, columns: [a]}
    - {type: mask, fields: [{field: e, mode: zero}]}
    - {type: cel_filter, expression: 'row.x == 1 && rows.y'}
  adapter:
    webhok:
      - {type: dedup, dedup: {window: 0s}}
      - {type: filter, filter: {field: a}, extra: 1}
  bogus: 1
)");
  std::vector<std::string> errors;
  auto set = Build(cfg_, file, nullptr, &errors);
  ASSERT_FALSE(set);
  EXPECT_EQ(set.error().code(), ErrorCode::kConfig);
  ASSERT_EQ(errors.size(), 8u) << set.error().message();
  auto has = [&](const std::string& needle) {
    for (const auto& e : errors) {
      if (e.find(needle) != std::string::npos) return true;
    }
    return false;
  };
  const std::vector<std::string> expected = {
      "transforms.global[0]: unknown transform type \"drop_columnz\"",
      file + ":3:",
      "unknown mask mode \"zero\"",
      "undeclared reference to 'rows'",
      "^",
      "adapter \"webhok\" is not enabled",
      "dedup window must be greater than 0",
      "unknown key \"extra\"",
      "needs exactly one of in or equals",
      "transforms.bogus: unknown config key",
  };
  for (const auto& needle : expected) EXPECT_TRUE(has(needle)) << needle;
}

TEST_F(BuildTest, CliShortcutsOrderAndErrors) {
  cfg_.Set("transforms.drop_columns", std::vector<std::string>{"secret"}, config::Origin::kFlag);
  cfg_.Set("transforms.filter_operations", std::vector<std::string>{"INSERT"},
           config::Origin::kFlag);
  cfg_.Set("transforms.filter_cel", std::string("row.id > 0"), config::Origin::kFlag);
  cfg_.Set("transforms.dedup.window", std::chrono::nanoseconds(1min), config::Origin::kFlag);
  cfg_.Set("transforms.dedup.max_keys", int64_t{5}, config::Origin::kFlag);
  cfg_.Set("transforms.debezium.enabled", true, config::Origin::kFlag);
  cfg_.Set("transforms.cloudevents.enabled", true, config::Origin::kFlag);
  const auto file = Write("transforms:\n  global: [{type: rename_fields, mapping: {a: b}}]\n");
  auto set = Build(cfg_, file, nullptr);
  ASSERT_TRUE(set) << set.error().message();
  EXPECT_EQ(set->Describe(),
            "global=[drop_columns,filter,cel_filter,dedup,rename_fields,debezium,cloudevents]");

  cfg_.Set("transforms.filter_cel", std::string("1 +"), config::Origin::kFlag);
  std::vector<std::string> errors;
  EXPECT_FALSE(Build(cfg_, "", nullptr, &errors));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_TRUE(errors[0].starts_with("transforms.filter_cel (--filter-cel): ERROR: <input>:1:"))
      << errors[0];
}

TEST_F(BuildTest, DedupStateSurvivesRebuildWhenUnchanged) {
  cfg_.Set("transforms.dedup.window", std::chrono::nanoseconds(1h), config::Origin::kFlag);
  cfg_.Set("transforms.dedup.key", std::string("row.id"), config::Origin::kFlag);
  const auto file = Write(
      "transforms:\n  adapter:\n    webhook: [{type: dedup, dedup: {key_path: row.id, window: "
      "1h}}]\n");
  auto first = Build(cfg_, file, nullptr);
  ASSERT_TRUE(first) << first.error().message();
  Event e = TestEvent("INSERT", R"({"op":"INSERT","row":{"id":1}})");
  Event copy = e;
  ASSERT_EQ(*first->global->Apply(copy), Verdict::kKeep);
  copy = e;
  ASSERT_EQ(*first->ForAdapter("webhook")->Apply(copy), Verdict::kKeep);

  auto second = Build(cfg_, file, &*first);
  ASSERT_TRUE(second);
  copy = e;
  EXPECT_EQ(*second->global->Apply(copy), Verdict::kDrop);
  copy = e;
  EXPECT_EQ(*second->ForAdapter("webhook")->Apply(copy), Verdict::kDrop);

  cfg_.Set("transforms.dedup.window", std::chrono::nanoseconds(2h), config::Origin::kFlag);
  auto third = Build(cfg_, file, &*second);  // settings changed: fresh cache
  ASSERT_TRUE(third);
  copy = e;
  EXPECT_EQ(*third->global->Apply(copy), Verdict::kKeep);
}

TEST_F(BuildTest, NoYamlNoShortcutsGivesEmptyChains) {
  auto set = Build(cfg_, "", nullptr);
  ASSERT_TRUE(set);
  ASSERT_NE(set->global, nullptr);
  EXPECT_TRUE(set->global->empty());
  EXPECT_TRUE(set->per_adapter.empty());
  EXPECT_FALSE(Build(cfg_, "/nonexistent/pgcdc.yaml", nullptr));
}

TEST(ParamsTest, KeysAndFlags) {
  std::set<std::string> flags;
  for (const auto& p : Params()) {
    EXPECT_TRUE(p.key.starts_with("transforms.")) << p.key;
    flags.insert(FlagName(p));
  }
  for (const char* f :
       {"--drop-columns", "--filter-operations", "--filter-cel", "--dedup-key", "--dedup-window",
        "--dedup-max-keys", "--debezium-envelope", "--debezium-connector-name",
        "--debezium-database", "--cloudevents-envelope", "--cloudevents-source",
        "--cloudevents-type-prefix"}) {
    EXPECT_TRUE(flags.count(f)) << f;
  }
  // Every YAML type, plus `wasm` (plugins.transforms / --plugin-transform, no YAML type).
  EXPECT_EQ(Connectors().size(), TypeNames().size() + 1);
}

}  // namespace
}  // namespace pgcdc::transform
