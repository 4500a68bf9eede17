// User journey: `-a chain --chain-terminal file` gzips and AES-GCM-encrypts
// every payload before the file sink writes it (the envelope stays JSON, the
// payload a base64 string); `pgcdc chain decode` with the same key restores
// the rows, a wrong key is refused line by line (exit 1), and bad settings
// are usage errors (exit 2).
#include <gtest/gtest.h>

#include <set>

#include "harness.h"
#include "json_util.h"

namespace pgcdc::testing {
namespace {

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    if (end > start) out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

constexpr const char* kKey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

TEST(ChainScenario, EncryptedCompressedPayloadsDecodeBackToTheRows) {
  auto conn = Connect();
  FreshPublishedTable(conn, "ch_rows", "id int PRIMARY KEY, note text", "p_chrows");
  TempDir dir;
  const std::string out = dir.path + "/out.jsonl";
  auto p = StartWalListen(
      WalListenArgs("p_chrows", {"-a", "chain", "--chain-terminal", "file", "--file-path", out,
                                 "--chain-compress", "--chain-encrypt-key", kKey}));
  ASSERT_TRUE(p);
  ExecOrFail(conn,
             "INSERT INTO ch_rows SELECT g, repeat('secret ', 20) || g FROM "
             "generate_series(1, 40) g");
  ASSERT_TRUE(Eventually([&] { return ReadFileLines(out).size() >= 40; }, 30s)) << p->Stderr();
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();

  // On disk: envelopes whose payload is an opaque string.
  const auto lines = ReadFileLines(out);
  ASSERT_EQ(lines.size(), 40u);
  for (const auto& l : lines) {
    auto v = ParseJson(l);
    ASSERT_TRUE(v.at("payload").is_string()) << l;
    EXPECT_EQ(l.find("secret"), std::string::npos) << "payload readable on disk: " << l;
  }

  auto decoded = RunCommand({PgcdcBinary(), "chain", "decode", "--chain-compress",
                             "--chain-encrypt-key", kKey, "--input", out});
  ASSERT_EQ(decoded.exit_code, 0) << decoded.output;
  std::set<int64_t> ids;
  for (const auto& l : SplitLines(decoded.output)) {
    auto v = ParseJson(l);
    const auto& row = v.at("payload").at("row");
    const int64_t id = row.at("id").as_int64();
    ids.insert(id);
    EXPECT_EQ(std::string(row.at("note").as_string()), [&] {
      std::string s;
      for (int i = 0; i < 20; ++i) s += "secret ";
      return s + std::to_string(id);
    }());
  }
  EXPECT_EQ(ids.size(), 40u);

  // The wrong key: every line refused, exit 1.
  auto wrong = RunCommand({PgcdcBinary(), "chain", "decode", "--chain-compress",
                           "--chain-encrypt-key", std::string(64, 'a'), "--input", out});
  EXPECT_EQ(wrong.exit_code, 1) << wrong.output;
  EXPECT_NE(wrong.output.find("authentication failed"), std::string::npos) << wrong.output;
}

TEST(ChainScenario, BadSettingsAreUsageErrors) {
  auto [c1, e1] = RunAdapterToExit("chain", {"--chain-compress"});
  EXPECT_EQ(c1, 2) << e1;
  EXPECT_NE(e1.find("chain.terminal: required"), std::string::npos) << e1;
  auto [c2, e2] =
      RunAdapterToExit("chain", {"--chain-terminal", "stdout", "--chain-encrypt-key", "0011"});
  EXPECT_EQ(c2, 2) << e2;
  EXPECT_NE(e2.find("16, 24 or 32 bytes"), std::string::npos) << e2;
  auto [c3, e3] = RunAdapterToExit("chain", {"--chain-terminal", "webhook", "--chain-compress"});
  EXPECT_EQ(c3, 2) << e3;
  EXPECT_NE(e3.find("webhook"), std::string::npos) << e3;  // the terminal's own settings
  auto [c4, e4] = RunAdapterToExit("chain", {"--chain-terminal", "stdout"});
  EXPECT_EQ(c4, 2) << e4;
  EXPECT_NE(e4.find("no link configured"), std::string::npos) << e4;
}

}  // namespace
}  // namespace pgcdc::testing
