#include "core/log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <utility>

#include "core/scope.h"
#include "core/trace_context.h"

namespace pgcdc::log {
namespace {

// Captures everything written to fd 2 while alive.
class StderrCapture {
 public:
  StderrCapture() {
    fflush(stderr);
    saved_ = dup(STDERR_FILENO);
    char tmpl[] = "/tmp/pgcdc_log_test_XXXXXX";
    fd_ = mkstemp(tmpl);
    path_ = tmpl;
    dup2(fd_, STDERR_FILENO);
  }
  ~StderrCapture() { Restore(); }
  std::string Take() {
    Restore();
    std::ifstream f(path_);
    std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    unlink(path_.c_str());
    return s;
  }

 private:
  void Restore() {
    if (saved_ >= 0) {
      dup2(saved_, STDERR_FILENO);
      close(saved_);
      close(fd_);
      saved_ = -1;
    }
  }
  int saved_ = -1;
  int fd_ = -1;
  std::string path_;
};

class LogTest : public ::testing::Test {
 protected:
  void TearDown() override { Configure(Level::kInfo, Format::kText); }
};

TEST_F(LogTest, ParseLevelAndFormat) {
  for (const auto& [text, want] :
       {std::pair{"debug", Level::kDebug}, std::pair{"warn", Level::kWarn},
        std::pair{"error", Level::kError}}) {
    Level l;
    EXPECT_TRUE(ParseLevel(text, &l)) << text;
    EXPECT_EQ(l, want) << text;
  }
  Level l;
  EXPECT_FALSE(ParseLevel("loud", &l));
  for (const auto& [text, want] :
       {std::pair{"json", Format::kJson}, std::pair{"text", Format::kText},
        std::pair{"color", Format::kColor}}) {
    Format f;
    EXPECT_TRUE(ParseFormat(text, &f)) << text;
    EXPECT_EQ(f, want) << text;
  }
  Format f;
  EXPECT_FALSE(ParseFormat("xml", &f));
  EXPECT_TRUE(ParseFormat("auto", &f));
}

TEST_F(LogTest, AutoIsColourOnlyOnAUsableTerminal) {
  EXPECT_EQ(AutoFormat(true, nullptr, "xterm-256color"), Format::kColor);
  EXPECT_EQ(AutoFormat(false, nullptr, "xterm-256color"), Format::kText);  // a pipe or file
  EXPECT_EQ(AutoFormat(true, "1", "xterm"), Format::kText);                // NO_COLOR set
  EXPECT_EQ(AutoFormat(true, "", "xterm"), Format::kColor);                // NO_COLOR empty
  EXPECT_EQ(AutoFormat(true, nullptr, "dumb"), Format::kText);
  EXPECT_EQ(AutoFormat(true, nullptr, nullptr), Format::kText);
}

TEST_F(LogTest, ColourLineWrapsLevelTimeAndKeys) {
  Configure(Level::kInfo, Format::kColor);
  StderrCapture cap;
  Warn("slow sink", {{"adapter", "webhook"}});
  const std::string out = cap.Take();
  EXPECT_EQ(out.rfind("\x1b[2m", 0), 0u) << out;
  EXPECT_NE(out.find("\x1b[33mWARN \x1b[0m slow sink \x1b[2madapter=\x1b[0mwebhook\n"),
            std::string::npos)
      << out;
}

TEST_F(LogTest, TextLine) {
  Configure(Level::kInfo, Format::kText);
  StderrCapture cap;
  Debug("hidden");
  Info("started", {{"slot", "pgcdc_slot"},
                   {"note", "two words"},
                   {"empty", ""},
                   {"q", "say \"hi\"\n"},
                   {"n", 3},
                   {"ratio", 0.5},
                   {"ok", true}});
  Warn("careful");
  const std::string out = cap.Take();
  // 2025-06-15T12:00:00.123Z INFO  started ...
  ASSERT_GE(out.size(), 26u) << out;
  EXPECT_EQ(out[4], '-');
  EXPECT_EQ(out[10], 'T');
  EXPECT_EQ(out[19], '.');
  EXPECT_EQ(out[23], 'Z');
  const size_t nl = out.find('\n');
  EXPECT_EQ(out.substr(25, nl - 25),
            "INFO  started slot=pgcdc_slot note=\"two words\" empty=\"\" "
            "q=\"say \\\"hi\\\"\\n\" n=3 ratio=0.5 ok=true");
  EXPECT_EQ(out.substr(nl + 1 + 25), "WARN  careful\n");
}

TEST_F(LogTest, JsonLine) {
  Configure(Level::kDebug, Format::kJson);
  StderrCapture cap;
  Debug("hello \"world\"", {{"key", "va\tlue"}, {"n", int64_t{-3}}, {"nan", std::nan("")}});
  const std::string out = cap.Take();
  ASSERT_TRUE(out.starts_with("{\"time\":\"")) << out;
  EXPECT_EQ(out.substr(33),
            "\",\"level\":\"debug\",\"msg\":\"hello \\\"world\\\"\",\"key\":\"va\\tlue\","
            "\"n\":-3,\"nan\":\"NaN\"}\n");
}

TEST_F(LogTest, LinesInAPipelineScopeNameThePipeline) {
  Configure(Level::kInfo, Format::kText);
  StderrCapture cap;
  {
    scope::Enter in(scope::Make("orders"));
    Info("connected", {{"slot", "s1"}});
    std::thread([] { Info("on a plain thread"); }).join();  // not bound: no name
    std::thread(scope::Bind([] { Info("bound"); })).join();
    Info("named by caller", {{"pipeline", "other"}});
  }
  Info("outside");
  const std::string out = cap.Take();
  EXPECT_NE(out.find("INFO  connected pipeline=orders slot=s1\n"), std::string::npos) << out;
  EXPECT_NE(out.find("INFO  on a plain thread\n"), std::string::npos) << out;
  EXPECT_NE(out.find("INFO  bound pipeline=orders\n"), std::string::npos) << out;
  EXPECT_NE(out.find("INFO  named by caller pipeline=other\n"), std::string::npos) << out;
  EXPECT_NE(out.find("INFO  outside\n"), std::string::npos) << out;
}

TEST_F(LogTest, RecordsNameTheCurrentSpan) {
  Configure(Level::kInfo, Format::kJson);
  StderrCapture cap;
  trace::TraceId id{};
  id[0] = 0xAB;
  {
    trace::ScopedSpan span(id, 0x1234, /*sampled=*/true);
    Warn("delivery failed", {{"adapter", "webhook"}});
  }
  Info("no span");
  const std::string out = cap.Take();
  EXPECT_NE(out.find("\"adapter\":\"webhook\",\"trace_id\":\"ab000000000000000000000000000000\","
                     "\"span_id\":\"0000000000001234\"}"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.find("trace_id", out.find("no span")), std::string::npos) << out;
}

TEST_F(LogTest, LevelOffSilences) {
  Configure(Level::kOff, Format::kText);
  EXPECT_FALSE(Enabled(Level::kError));
  StderrCapture cap;
  Error("nope");
  EXPECT_EQ(cap.Take(), "");
}

}  // namespace
}  // namespace pgcdc::log
