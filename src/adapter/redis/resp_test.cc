#include "adapter/redis/resp.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace pgcdc::adapter::redis {
namespace {

TEST(RespTest, EncodesCommandsAsBulkStringArrays) {
  std::string out;
  AppendCommand(out, {"SET", "k", "a\r\nb"});
  EXPECT_EQ(out, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\na\r\nb\r\n");
  out.clear();
  AppendCommand(out, {"PING"});
  AppendCommand(out, {"GET", ""});
  EXPECT_EQ(out, "*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$0\r\n\r\n");
}

TEST(RespTest, ParsesEveryReplyType) {
  ReplyParser p;
  std::vector<Reply> out;
  ASSERT_TRUE(
      p.Feed("+OK\r\n-ERR bad thing\r\n:42\r\n:-7\r\n$5\r\nhe\r\no\r\n$-1\r\n*-1\r\n"
             "*2\r\n$1\r\na\r\n*1\r\n:1\r\n$0\r\n\r\n",
             out));
  ASSERT_EQ(out.size(), 9u);
  EXPECT_EQ(out[0].type, Reply::Type::kSimple);
  EXPECT_EQ(out[0].text, "OK");
  EXPECT_TRUE(out[1].is_error());
  EXPECT_EQ(out[1].text, "ERR bad thing");
  EXPECT_EQ(out[2].integer, 42);
  EXPECT_EQ(out[3].integer, -7);
  EXPECT_EQ(out[4].type, Reply::Type::kBulk);
  EXPECT_EQ(out[4].text, "he\r\no");  // binary safe
  EXPECT_EQ(out[5].type, Reply::Type::kNull);
  EXPECT_EQ(out[6].type, Reply::Type::kNull);
  ASSERT_EQ(out[7].type, Reply::Type::kArray);
  ASSERT_EQ(out[7].elements.size(), 2u);
  EXPECT_EQ(out[7].elements[0].text, "a");
  EXPECT_EQ(out[7].elements[1].elements[0].integer, 1);
  EXPECT_EQ(out[8].text, "");
  EXPECT_EQ(p.buffered(), 0u);
}

TEST(RespTest, AnySplitOfTheBytesGivesTheSameReplies) {
  const std::string wire = "+OK\r\n$11\r\nhello world\r\n*2\r\n:1\r\n$3\r\nabc\r\n-WRONGTYPE x\r\n";
  ReplyParser whole;
  std::vector<Reply> expected;
  ASSERT_TRUE(whole.Feed(wire, expected));
  ASSERT_EQ(expected.size(), 4u);
  for (size_t a = 0; a <= wire.size(); ++a) {
    for (size_t b = a; b <= wire.size(); b += 3) {
      ReplyParser p;
      std::vector<Reply> got;
      ASSERT_TRUE(p.Feed(wire.substr(0, a), got));
      ASSERT_TRUE(p.Feed(wire.substr(a, b - a), got));
      ASSERT_TRUE(p.Feed(wire.substr(b), got));
      ASSERT_EQ(got, expected) << a << "/" << b;
    }
  }
}

TEST(RespTest, MalformedRepliesAreProtocolErrors) {
  for (const std::string& bad : std::vector<std::string>{
           "?x\r\n", ":12a\r\n", ":\r\n", "$-2\r\n", "$3\r\nabcd\r\n", "*-5\r\n", "*2000000\r\n",
           "$999999999999\r\n", "\r\n", std::string(70000, 'a')}) {
    ReplyParser p;
    std::vector<Reply> out;
    auto st = p.Feed(bad, out);
    ASSERT_FALSE(st) << bad.substr(0, 40);
    EXPECT_EQ(st.error().code(), ErrorCode::kProtocol);
    EXPECT_TRUE(st.error().message().starts_with("resp: ")) << st.error().message();
  }
  // Nesting beyond the limit.
  std::string deep;
  for (int i = 0; i < 40; ++i) deep += "*1\r\n";
  deep += ":1\r\n";
  ReplyParser p;
  std::vector<Reply> out;
  EXPECT_FALSE(p.Feed(deep, out));
}

TEST(RespTest, IncompleteInputWaitsForMore) {
  ReplyParser p;
  std::vector<Reply> out;
  ASSERT_TRUE(p.Feed("$10\r\nabc", out));
  EXPECT_TRUE(out.empty());
  ASSERT_TRUE(p.Feed("defghij\r", out));
  EXPECT_TRUE(out.empty());
  ASSERT_TRUE(p.Feed("\n+OK", out));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].text, "abcdefghij");
  ASSERT_TRUE(p.Feed("\r\n", out));
  ASSERT_EQ(out.size(), 2u);
}

}  // namespace
}  // namespace pgcdc::adapter::redis
