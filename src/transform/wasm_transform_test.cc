#include "transform/wasm_transform.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "config/config.h"
#include "transform/test_util.h"
#include "wasm/plugin.h"

namespace pgcdc::transform {
namespace {

using fixtures::TestEvent;

std::string PluginPath(std::string_view name) {
  return std::string(PGCDC_WASM_TESTDATA) + "/" + std::string(name) + ".wasm";
}

config::Config WithAdapters() {
  config::Config cfg;
  cfg.Set("adapters", std::vector<std::string>{"stdout", "webhook"}, config::Origin::kFlag);
  return cfg;
}

TEST(WasmTransformTest, FlagsBuildGlobalPluginTransformsInOrder) {
  config::Config cfg = WithAdapters();
  cfg.Set("plugins.transform",
          std::vector<std::string>{PluginPath("noop"), PluginPath("drop_event")},
          config::Origin::kFlag);
  cfg.Set("transforms.drop_columns", std::vector<std::string>{"secret"}, config::Origin::kFlag);
  auto set = Build(cfg, {}, nullptr);
  ASSERT_TRUE(set) << set.error().message();
  EXPECT_EQ(set->Describe(), "global=[drop_columns,wasm,wasm]");
  Event e = TestEvent("INSERT", R"({"op":"INSERT","row":{"id":1,"secret":"x"}})");
  auto r = set->global->Apply(e);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, Verdict::kDrop) << "drop_event's empty output drops the event";
}

TEST(WasmTransformTest, NoopKeepsTheEventExactly) {
  config::Config cfg = WithAdapters();
  cfg.Set("plugins.transform", std::vector<std::string>{PluginPath("noop")}, config::Origin::kFlag);
  auto set = Build(cfg, {}, nullptr);
  ASSERT_TRUE(set) << set.error().message();
  Event e = TestEvent("UPDATE", R"({"op":"UPDATE","row":{"id":1,"amount":12.50}})");
  const std::string& before = e.Json();
  Event copy = e;
  ASSERT_EQ(*set->global->Apply(copy), Verdict::kKeep);
  EXPECT_EQ(copy.Json(), before) << "numbers keep their text";
}

TEST(WasmTransformTest, YamlListWithConfigAndAdapterScope) {
  if (!std::filesystem::exists(PluginPath("drop_field"))) GTEST_SKIP() << "no wasm32-wasi clang";
  config::Config cfg = WithAdapters();
  cfg.Set("plugins.transforms",
          std::string("- {name: scrub, path: " + PluginPath("drop_field") +
                      ", config: {field: email}, scope: {adapter: webhook}}\n"
                      "- {path: " +
                      PluginPath("noop") + ", encoding: json}\n"),
          config::Origin::kYaml);
  auto set = Build(cfg, {}, nullptr);
  ASSERT_TRUE(set) << set.error().message();
  EXPECT_EQ(set->Describe(), "global=[wasm] webhook=[wasm]");
  Event e = TestEvent("INSERT", R"({"op":"INSERT","row":{"id":1,"email":"a@b.c"}})");
  ASSERT_EQ(*set->ForAdapter("webhook")->Apply(e), Verdict::kKeep);
  EXPECT_EQ(e.payload, R"({"op":"INSERT","row":{"id":1}})");
}

TEST(WasmTransformTest, AFailingPluginIsATransformErrorNotACrash) {
  config::Config cfg = WithAdapters();
  cfg.Set("plugins.transform", std::vector<std::string>{PluginPath("loop"), PluginPath("trap")},
          config::Origin::kFlag);
  cfg.Set("plugins.call_timeout", std::chrono::nanoseconds(std::chrono::milliseconds(50)),
          config::Origin::kFlag);
  auto set = Build(cfg, {}, nullptr);
  ASSERT_TRUE(set) << set.error().message();
  Event e = TestEvent("INSERT", R"({"op":"INSERT","row":{"id":1}})");
  auto r = set->global->Apply(e);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("time limit"), std::string::npos) << r.error().message();
  Chain trap_only({set->global->transforms()[1]});
  auto t = trap_only.Apply(e);
  ASSERT_FALSE(t);
  EXPECT_NE(t.error().message().find("unreachable"), std::string::npos) << t.error().message();
}

TEST(WasmTransformTest, ConfigurationErrorsAreReported) {
  struct Case {
    const char* key;
    std::string value;
    const char* error;
  };
  const std::vector<Case> cases = {
      {"plugins.transforms", "- {path: /nonexistent.wasm}", "cannot open"},
      {"plugins.transforms", "- {name: x}", "path: required"},
      {"plugins.transforms", "- {path: " + PluginPath("noop") + ", scope: {adapter: kafka}}",
       "not configured"},
      {"plugins.transforms", "- {path: " + PluginPath("noop") + ", colour: red}", "unknown key"},
      {"plugins.transforms", "{path: x}", "expected a list"},
  };
  for (const auto& c : cases) {
    config::Config cfg = WithAdapters();
    cfg.Set(c.key, c.value, config::Origin::kYaml);
    std::vector<std::string> errors;
    auto set = Build(cfg, {}, nullptr, &errors);
    ASSERT_FALSE(set) << c.value;
    EXPECT_NE(set.error().message().find(c.error), std::string::npos) << set.error().message();
  }
  config::Config cfg = WithAdapters();
  cfg.Set("plugins.transform", std::vector<std::string>{PluginPath("noop")}, config::Origin::kFlag);
  cfg.Set("plugins.transform_config", std::vector<std::string>{"[1]"}, config::Origin::kFlag);
  auto set = Build(cfg, {}, nullptr);
  ASSERT_FALSE(set);
  EXPECT_NE(set.error().message().find("JSON object"), std::string::npos);
}

}  // namespace
}  // namespace pgcdc::transform
