// User journey: a newcomer runs the demo and sees live events, then Ctrl-C
// leaves nothing behind.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <set>

#include "harness.h"
#include "json_util.h"

namespace pgcdc::testing {
namespace {

TEST(PlaygroundScenario, StreamsDemoChangesAndCleansUp) {
  auto p = Process::Start({.args = {"playground", "--interval", "50ms"}});
  ASSERT_TRUE(p);
  std::set<std::string> ops;
  ASSERT_TRUE(Eventually(
      [&] {
        ops.clear();
        for (auto& l : p->StdoutLines()) {
          auto v = ParseJson(l).as_object();
          EXPECT_EQ(v["channel"].as_string(), "pgcdc:orders");
          ops.insert(std::string(v["operation"].as_string()));
        }
        return ops.size() == 3;
      },
      60s))
      << p->Stderr();
  EXPECT_EQ(ops, (std::set<std::string>{"INSERT", "UPDATE", "DELETE"}));
  const std::string err = p->Stderr();
  const std::string needle = "cluster ready dir=";
  auto pos = err.find(needle);
  ASSERT_NE(pos, std::string::npos) << err;
  const std::string dir =
      err.substr(pos + needle.size(), err.find(' ', pos + needle.size()) - pos - needle.size());
  ASSERT_TRUE(std::filesystem::exists(dir)) << dir;
  p->Signal(SIGINT);
  auto code = p->Wait(60s);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 0) << p->Stderr();
  EXPECT_FALSE(std::filesystem::exists(dir)) << "temp cluster left behind: " << dir;
  // No postgres process of that cluster is left running.
  auto ps = RunCommand({"pgrep", "-f", dir});
  EXPECT_NE(ps.exit_code, 0) << ps.output;
}

// The same demo read by the wal detector and written by another adapter (its
// settings from the environment, as from any config).
TEST(PlaygroundScenario, WalDetectorIntoAFileAdapter) {
  TempDir dir;
  const std::string out = dir.path + "/events.jsonl";
  auto p = Process::Start({.args = {"playground", "--interval", "50ms", "--playground-detector",
                                    "wal", "--playground-adapter", "file"},
                           .env = {{"PGCDC_FILE_PATH", out}}});
  ASSERT_TRUE(p);
  std::set<std::string> ops;
  ASSERT_TRUE(Eventually(
      [&] {
        ops.clear();
        for (const auto& l : ReadFileLines(out)) {
          auto v = ParseJson(l).as_object();
          EXPECT_EQ(v["channel"].as_string(), "pgcdc:orders");
          if (v["operation"].as_string() == "INSERT") {
            EXPECT_TRUE(v["payload"].as_object().at("row").as_object().contains("customer")) << l;
          }
          ops.insert(std::string(v["operation"].as_string()));
        }
        return ops.size() == 3;
      },
      60s))
      << p->Stderr();
  EXPECT_TRUE(p->StdoutLines().empty());  // the file adapter only
  p->Signal(SIGINT);
  auto code = p->Wait(60s);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 0) << p->Stderr();
}

// Bad choices are refused before any cluster starts.
TEST(PlaygroundScenario, UnknownAdapterOrDetectorIsAUsageError) {
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"playground", "--playground-adapter", "nosuchsink"},
                                             {"playground", "--playground-detector", "outbox"}}) {
    auto p = Process::Start({.args = args});
    ASSERT_TRUE(p);
    EXPECT_EQ(p->Wait(), 2) << p->Stderr();
    EXPECT_EQ(p->Stderr().find("starting a throwaway"), std::string::npos) << p->Stderr();
  }
}

TEST(PlaygroundScenario, BadIntervalIsUsageError) {
  auto p = Process::Start({.args = {"playground", "--interval", "often"}});
  ASSERT_TRUE(p);
  EXPECT_EQ(p->Wait(), 2);
  EXPECT_NE(p->Stderr().find("invalid --interval"), std::string::npos);
}

}  // namespace
}  // namespace pgcdc::testing
