#include "config/config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>

namespace pgcdc::config {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

std::vector<ParamSpec> Specs() {
  return {
      {.key = "database_url", .type = ParamType::kString, .flag = "db"},
      {.key = "channels", .type = ParamType::kStringList, .flag = "channel", .short_flag = "c"},
      {.key = "bus.buffer_size", .type = ParamType::kInt, .default_value = "1024", .min = 1},
      {.key = "bus.mode",
       .type = ParamType::kString,
       .default_value = "fast",
       .choices = {"fast", "reliable"}},
      {.key = "shutdown_timeout", .type = ParamType::kDuration, .default_value = "5s", .min = 1},
      {.key = "routes", .type = ParamType::kRouteMap, .flag = "route"},
      {.key = "verbose", .type = ParamType::kBool, .default_value = "false"},
  };
}

struct Fixture {
  std::string path = ::testing::TempDir() + "/pgcdc_config_test.yaml";
  std::map<std::string, std::string> env;
  Sources sources;
  Fixture() {
    sources.getenv = [this](const std::string& k) -> std::optional<std::string> {
      auto it = env.find(k);
      if (it == env.end()) return std::nullopt;
      return it->second;
    };
  }
  void WriteYaml(const std::string& text) {
    std::ofstream(path) << text;
    sources.yaml_path = path;
  }
  // Writes `text` as the config file and loads `specs` from the sources.
  LoadResult LoadYaml(const std::string& text, const std::vector<ParamSpec>& specs = Specs()) {
    WriteYaml(text);
    return Load(specs, sources);
  }
};

TEST(DurationTest, ParsesGoSyntax) {
  EXPECT_EQ(*ParseDuration("500ms"), milliseconds(500));
  EXPECT_EQ(*ParseDuration("5s"), seconds(5));
  EXPECT_EQ(*ParseDuration("1m30s"), seconds(90));
  EXPECT_EQ(*ParseDuration("1.5s"), milliseconds(1500));
  EXPECT_EQ(*ParseDuration("2h"), std::chrono::hours(2));
  EXPECT_EQ(*ParseDuration("0"), nanoseconds(0));
  EXPECT_EQ(*ParseDuration("10us"), std::chrono::microseconds(10));
  for (const char* bad : {"5", "-1s", "5 parsecs", "", "1..5s"}) {
    EXPECT_FALSE(ParseDuration(bad)) << bad;
  }
}

TEST(DurationTest, FormatsShortest) {
  EXPECT_EQ(FormatDuration(seconds(5)), "5s");
  EXPECT_EQ(FormatDuration(seconds(90)), "1m30s");
  EXPECT_EQ(FormatDuration(milliseconds(250)), "250ms");
  EXPECT_EQ(FormatDuration(std::chrono::hours(1)), "1h");
  EXPECT_EQ(FormatDuration(milliseconds(1500)), "1.5s");
}

TEST(ConfigTest, DefaultsApply) {
  Fixture f;
  auto r = Load(Specs(), f.sources);
  ASSERT_TRUE(r.errors.empty()) << r.errors[0];
  EXPECT_EQ(r.config.GetInt("bus.buffer_size"), 1024);
  EXPECT_EQ(r.config.GetString("bus.mode"), "fast");
  EXPECT_EQ(r.config.GetDuration("shutdown_timeout"), seconds(5));
  EXPECT_EQ(r.config.origin("bus.buffer_size"), Origin::kDefault);
  EXPECT_FALSE(r.config.Has("database_url"));
}

TEST(ConfigTest, PrecedenceFlagOverEnvOverYaml) {
  Fixture f;
  f.WriteYaml("bus:\n  buffer_size: 10\n  mode: reliable\ndatabase_url: postgres://yaml\n");
  f.env["PGCDC_BUS_BUFFER_SIZE"] = "20";
  f.env["PGCDC_DATABASE_URL"] = "postgres://env";
  f.sources.flags["database_url"] = {"postgres://flag"};
  auto r = Load(Specs(), f.sources);
  ASSERT_TRUE(r.errors.empty()) << r.errors[0];
  EXPECT_EQ(r.config.GetString("database_url"), "postgres://flag");
  EXPECT_EQ(r.config.origin("database_url"), Origin::kFlag);
  EXPECT_EQ(r.config.GetInt("bus.buffer_size"), 20);
  EXPECT_EQ(r.config.OriginDetail("bus.buffer_size"), "env PGCDC_BUS_BUFFER_SIZE");
  EXPECT_EQ(r.config.GetString("bus.mode"), "reliable");
  EXPECT_EQ(r.config.origin("bus.mode"), Origin::kYaml);
}

TEST(ConfigTest, ListsFromFlagsEnvAndYaml) {
  Fixture f;
  auto r = f.LoadYaml("channels: [a, b]\n");
  EXPECT_EQ(r.config.GetList("channels"), (std::vector<std::string>{"a", "b"}));
  f.env["PGCDC_CHANNELS"] = "x, y";
  r = Load(Specs(), f.sources);
  EXPECT_EQ(r.config.GetList("channels"), (std::vector<std::string>{"x", "y"}));
  f.sources.flags["channels"] = {"p", "q,r"};
  r = Load(Specs(), f.sources);
  EXPECT_EQ(r.config.GetList("channels"), (std::vector<std::string>{"p", "q", "r"}));
}

TEST(ConfigTest, RoutesMergeCliWinsPerAdapter) {
  Fixture f;
  f.WriteYaml("routes:\n  stdout: [pgcdc:a]\n  webhook: [pgcdc:b, pgcdc:c]\n");
  f.sources.flags["routes"] = {"stdout=pgcdc:x,pgcdc:y"};
  auto r = Load(Specs(), f.sources);
  ASSERT_TRUE(r.errors.empty()) << r.errors[0];
  auto routes = r.config.GetRoutes("routes");
  EXPECT_EQ(routes["stdout"], (std::vector<std::string>{"pgcdc:x", "pgcdc:y"}));
  EXPECT_EQ(routes["webhook"], (std::vector<std::string>{"pgcdc:b", "pgcdc:c"}));
}

TEST(ConfigTest, AllErrorsReportedTogether) {
  Fixture f;
  f.WriteYaml("bus:\n  buffer_size: lots\n  mode: turbo\nbogus_key: 1\nshutdown_timeout: 5\n");
  f.sources.flags["routes"] = {"nonsense"};
  auto r = Load(Specs(), f.sources);
  ASSERT_EQ(r.errors.size(), 5u);
  std::string all;
  for (auto& e : r.errors) all += e + "\n";
  EXPECT_NE(all.find("unknown key `bogus_key`"), std::string::npos) << all;
  EXPECT_NE(all.find("bus.buffer_size: invalid integer \"lots\""), std::string::npos) << all;
  EXPECT_NE(all.find("bus.mode: invalid value \"turbo\""), std::string::npos) << all;
  EXPECT_NE(all.find("shutdown_timeout"), std::string::npos) << all;
  EXPECT_NE(all.find("invalid route \"nonsense\""), std::string::npos) << all;
  EXPECT_NE(all.find(".yaml:2:"), std::string::npos) << "positions are reported: " << all;
}

TEST(ConfigTest, MinMaxAndRequired) {
  Fixture f;
  auto specs = Specs();
  specs[0].required = true;
  f.sources.flags["bus.buffer_size"] = {"0"};
  auto r = Load(specs, f.sources);
  ASSERT_EQ(r.errors.size(), 2u);
  EXPECT_NE(r.errors[0].find("database_url: required"), std::string::npos);
  EXPECT_NE(r.errors[1].find("bus.buffer_size: must be >= 1 (got 0 from flag --bus-buffer-size)"),
            std::string::npos)
      << r.errors[1];
}

TEST(ConfigTest, MissingExplicitFileIsAnErrorMissingDefaultIsNot) {
  Fixture f;
  f.sources.yaml_path = "/nonexistent/pgcdc.yaml";
  EXPECT_TRUE(Load(Specs(), f.sources).errors.empty());
  f.sources.yaml_required = true;
  EXPECT_EQ(Load(Specs(), f.sources).errors.size(), 1u);
}

// Regression: a typo under a section used to be ignored silently (the
// section was "reserved"); every unknown key at any depth is an error naming
// the file position and the nearest valid sibling.
TEST(ConfigTest, UnknownKeysAtAnyDepthAreErrorsWithSuggestions) {
  Fixture f;
  auto r = f.LoadYaml("bus:\n  bufer_size: 10\nbsu: {mode: fast}\nrouts: {}\n");
  ASSERT_EQ(r.errors.size(), 3u) << r.errors[0];
  EXPECT_NE(r.errors[0].find(".yaml:2:3: unknown key `bus.bufer_size` (did you mean "
                             "`buffer_size`?)"),
            std::string::npos)
      << r.errors[0];
  EXPECT_NE(r.errors[1].find("unknown key `bsu` (did you mean `bus`?)"), std::string::npos)
      << r.errors[1];
  EXPECT_NE(r.errors[2].find("unknown key `routs` (did you mean `routes`?)"), std::string::npos)
      << r.errors[2];
}

// Keys of the reference tool that this build does not declare load with a
// warning; a typo in such a section is still an error.
TEST(ConfigTest, UpstreamKeysWarnTyposInThemFail) {
  Fixture f;
  f.WriteYaml("nats:\n  url: nats://x\n  subjct: a\nviews:\n  - {name: v}\n");
  f.sources.upstream_keys = {"nats.url", "nats.subject", "views.*"};
  auto r = Load(Specs(), f.sources);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].find("unknown key `nats.subjct` (did you mean `subject`?)"),
            std::string::npos)
      << r.errors[0];
  ASSERT_EQ(r.warnings.size(), 2u);
  EXPECT_NE(r.warnings[0].find("nats.url\" is not supported by this build"), std::string::npos)
      << r.warnings[0];
  EXPECT_NE(r.warnings[1].find("views"), std::string::npos) << r.warnings[1];
}

// Config files that load with exactly one error.
struct OneErrorCase {
  std::string yaml;
  std::vector<std::string> upstream_keys;
  std::string expected;    // the error contains this (empty: not checked)
  std::string unexpected;  // ... and does not contain this (empty: not checked)
};

class OneErrorTest : public ::testing::TestWithParam<OneErrorCase> {};

TEST_P(OneErrorTest, IsReported) {
  const OneErrorCase& c = GetParam();
  Fixture f;
  f.sources.upstream_keys = c.upstream_keys;
  auto r = f.LoadYaml(c.yaml);
  ASSERT_EQ(r.errors.size(), 1u);
  const std::string& error = r.errors[0];
  if (!c.expected.empty()) {
    EXPECT_NE(error.find(c.expected), std::string::npos) << error;
  }
  if (!c.unexpected.empty()) {
    EXPECT_EQ(error.find(c.unexpected), std::string::npos) << error;
  }
}

INSTANTIATE_TEST_SUITE_P(ConfigTest, OneErrorTest,
                         ::testing::Values(
                             // Malformed YAML is one clear error.
                             OneErrorCase{.yaml = "bus: [unclosed\n", .expected = "invalid YAML"},
                             // No suggestion when nothing is close.
                             OneErrorCase{.yaml = "zzzzzzzz: 1\n", .unexpected = "did you mean"},
                             // An upstream wildcard never hides a declared section's typos.
                             OneErrorCase{.yaml = "bus:\n  mdoe: fast\n",
                                          .upstream_keys = {"bus.*"},
                                          .expected = "`bus.mdoe` (did you mean `mode`?)"}));

TEST(ConfigTest, AliasesAreReadWithAWarning) {
  Fixture f;
  std::vector<ParamSpec> specs = {
      {.key = "dlq.db", .type = ParamType::kString, .aliases = {"dlq.db_url"}}};
  auto r = f.LoadYaml("dlq:\n  db_url: postgres://dlq\n", specs);
  EXPECT_TRUE(r.errors.empty()) << r.errors[0];
  EXPECT_EQ(r.config.GetString("dlq.db"), "postgres://dlq");
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("pgcdc reads it as dlq.db"), std::string::npos);
}

TEST(ConfigTest, TreeKeysAreLeftToTheirOwner) {
  Fixture f;
  std::vector<ParamSpec> specs = {{.key = "transforms.global", .type = ParamType::kTree}};
  auto r = f.LoadYaml("transforms:\n  global:\n    - {type: anything, deep: {x: 1}}\n", specs);
  EXPECT_TRUE(r.errors.empty()) << r.errors[0];
  EXPECT_TRUE(r.warnings.empty());
}

// The schema may be wider than the specs being loaded (all connectors of the
// build): a key of an unselected connector is valid.
TEST(ConfigTest, SchemaCoversUnselectedConnectors) {
  Fixture f;
  f.WriteYaml("webhook: {url: http://x}\n");
  f.sources.schema = Specs();
  f.sources.schema.push_back({.key = "webhook.url", .type = ParamType::kString});
  auto r = Load(Specs(), f.sources);
  EXPECT_TRUE(r.errors.empty()) << r.errors[0];
}

TEST(ConfigTest, EnvNamesAndFlagNames) {
  ParamSpec s{.key = "bus.buffer_size"};
  EXPECT_EQ(EnvName(s), "PGCDC_BUS_BUFFER_SIZE");
  EXPECT_EQ(FlagName(s), "--bus-buffer-size");
  s.flag = "bus-buffer";
  EXPECT_EQ(FlagName(s), "--bus-buffer");
}

}  // namespace
}  // namespace pgcdc::config
