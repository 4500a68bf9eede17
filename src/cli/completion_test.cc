#include "cli/completion.h"

#include <gtest/gtest.h>

namespace pgcdc::cli::completion {
namespace {

Command Sample() {
  Command root{.name = "tool", .description = "does things"};
  root.options.push_back({.longs = {"config"}, .takes_value = true, .description = "file"});
  Command run{.name = "run", .description = "Run it\nsecond line"};
  run.options.push_back({.longs = {"adapter"},
                         .shorts = {"a"},
                         .takes_value = true,
                         .description = "where: it's 'here'",
                         .choices = {"stdout", "file", "bad word"}});
  run.options.push_back({.longs = {"verbose"}, .description = "talk -more"});
  Command dlq{.name = "dlq", .description = "dead letters"};
  dlq.subcommands.push_back({.name = "list", .description = "list them"});
  root.subcommands = {run, dlq};
  return root;
}

TEST(Completion, BashStepsIntoEveryCommandPathAndOffersChoices) {
  const std::string s = Bash(Sample());
  EXPECT_NE(s.find("'tool run'|'tool dlq'|'tool dlq list') cmdpath="), std::string::npos) << s;
  // Choices that are not shell words are left out rather than quoted badly.
  EXPECT_NE(s.find("'tool run|--adapter'|'tool run|-a')\n      COMPREPLY=($(compgen -W "
                   "'stdout file' -- \"$cur\"))"),
            std::string::npos)
      << s;
  // A value without choices completes files (the -o default fallback).
  EXPECT_NE(s.find("'tool run|--config') return 0 ;;"), std::string::npos) << s;
  // Root flags are offered after a command too.
  EXPECT_NE(s.find("'tool run') opts='--adapter -a --verbose --config'"), std::string::npos) << s;
  EXPECT_NE(s.find("'tool') opts='--config run dlq'"), std::string::npos) << s;
  EXPECT_NE(s.find("complete -o default -F _tool tool"), std::string::npos);
}

TEST(Completion, ZshEscapesQuotesAndColonsAndUsesTheFirstLine) {
  const std::string s = Zsh(Sample());
  EXPECT_EQ(s.rfind("#compdef tool\n", 0), 0u);
  EXPECT_NE(s.find("'--adapter:where: it'\\''s '\\''here'\\'''"), std::string::npos) << s;
  EXPECT_NE(s.find("'run:Run it'"), std::string::npos) << s;
  EXPECT_EQ(s.find("second line"), std::string::npos);
}

TEST(Completion, FishConditionsOnTheCommandPath) {
  const std::string s = Fish(Sample());
  EXPECT_NE(s.find("complete -c tool -n '__tool_path \\'tool run\\'' -l adapter -s a -x -a "
                   "'stdout file' -d 'where: it\\'s \\'here\\''"),
            std::string::npos)
      << s;
  EXPECT_NE(s.find("complete -c tool -n '__tool_path \\'tool dlq\\'' -a list -d 'list them'"),
            std::string::npos)
      << s;
  EXPECT_NE(s.find("-l config -r -F"), std::string::npos) << s;
}

TEST(Completion, ManPageEscapesRoffAndListsEveryCommand) {
  const std::string s = ManPage(Sample(), "1.2");
  EXPECT_NE(s.find(".TH TOOL 1 \"\" \"tool 1.2\""), std::string::npos) << s;
  EXPECT_NE(s.find(".SS \"tool dlq list\""), std::string::npos) << s;
  EXPECT_NE(s.find("\\fB\\-\\-adapter\\fR, \\fB\\-a\\fR \\fIVALUE\\fR"), std::string::npos) << s;
  EXPECT_NE(s.find("talk \\-more"), std::string::npos) << s;
  // A description line starting with a dot must not become a roff request.
  Command root{.name = "t", .description = "x"};
  root.subcommands.push_back({.name = "s", .description = "a\n.bad"});
  EXPECT_NE(ManPage(root, "1").find("a\n\\&.bad"), std::string::npos);
  // Non-ASCII text becomes groff escapes; a broken sequence is U+FFFD.
  root.subcommands[0].description = "a \xE2\x86\x92 b \xE2\x86 c \xFF";
  EXPECT_NE(ManPage(root, "1").find("a \\[u2192] b \\[uFFFD]\\[uFFFD] c \\[uFFFD]"),
            std::string::npos)
      << ManPage(root, "1");
}

}  // namespace
}  // namespace pgcdc::cli::completion
