#include "adapter/pgwire/protocol.h"

#include <gtest/gtest.h>

namespace pgcdc::adapter::pgwire {
namespace {

std::string Int32(int32_t v) {
  std::string s;
  for (int shift = 24; shift >= 0; shift -= 8) s.push_back(static_cast<char>((v >> shift) & 0xFF));
  return s;
}
std::string Int16(int16_t v) {
  return {static_cast<char>((v >> 8) & 0xFF), static_cast<char>(v & 0xFF)};
}
std::string CStr(std::string_view s) { return std::string(s) + '\0'; }

TEST(PgwireProtocol, StartupPacket) {
  auto p = ParseStartup(Int32(kProtocolV3) + CStr("user") + CStr("alice") + CStr("database") +
                        CStr("db") + std::string(1, '\0'));
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(p->code, kProtocolV3);
  EXPECT_EQ(p->Param("user"), "alice");
  EXPECT_EQ(p->Param("database"), "db");
  EXPECT_EQ(p->Param("missing"), "");

  auto ssl = ParseStartup(Int32(kSslRequest));
  ASSERT_TRUE(ssl);
  EXPECT_EQ(ssl->code, kSslRequest);

  auto cancel = ParseStartup(Int32(kCancelRequest) + Int32(42) + Int32(-7));
  ASSERT_TRUE(cancel);
  EXPECT_EQ(cancel->cancel_pid, 42);
  EXPECT_EQ(cancel->cancel_key, -7);
}

TEST(PgwireProtocol, MalformedStartupIsAnError) {
  EXPECT_FALSE(ParseStartup(""));
  EXPECT_FALSE(ParseStartup("\x00\x03"));
  // Missing the final NUL, an unterminated value, trailing bytes.
  EXPECT_FALSE(ParseStartup(Int32(kProtocolV3) + CStr("user") + CStr("a")));
  EXPECT_FALSE(ParseStartup(Int32(kProtocolV3) + CStr("user") + "a"));
  EXPECT_FALSE(ParseStartup(Int32(kProtocolV3) + std::string(1, '\0') + "x"));
  EXPECT_FALSE(ParseStartup(Int32(kCancelRequest) + Int32(1)));
}

TEST(PgwireProtocol, ExtendedQueryMessages) {
  auto parse = ParseParse(CStr("s1") + CStr("SELECT $1") + Int16(1) + Int32(kOidText));
  ASSERT_TRUE(parse);
  EXPECT_EQ(parse->name, "s1");
  EXPECT_EQ(parse->query, "SELECT $1");
  EXPECT_EQ(parse->param_types, std::vector<int32_t>{kOidText});

  auto bind = ParseBind(CStr("") + CStr("s1") + Int16(1) + Int16(1) + Int16(2) + Int32(3) + "abc" +
                        Int32(-1) + Int16(1) + Int16(1));
  ASSERT_TRUE(bind) << bind.error().message();
  EXPECT_EQ(bind->statement, "s1");
  ASSERT_EQ(bind->params.size(), 2u);
  EXPECT_EQ(bind->params[0], "abc");
  EXPECT_FALSE(bind->params[1].has_value());
  EXPECT_EQ(bind->ParamFormat(1), 1);  // one format applies to all
  EXPECT_EQ(bind->ResultFormat(5), 1);

  // A length past the end, a negative length other than -1, a bad format.
  EXPECT_FALSE(ParseBind(CStr("") + CStr("") + Int16(0) + Int16(1) + Int32(10) + "ab" + Int16(0)));
  EXPECT_FALSE(ParseBind(CStr("") + CStr("") + Int16(0) + Int16(1) + Int32(-5) + Int16(0)));
  EXPECT_FALSE(ParseBind(CStr("") + CStr("") + Int16(1) + Int16(7) + Int16(0) + Int16(0)));

  auto describe = ParseTarget("P" + CStr("portal"));
  ASSERT_TRUE(describe);
  EXPECT_EQ(describe->kind, 'P');
  EXPECT_FALSE(ParseTarget("X" + CStr("")));

  auto exec = ParseExecute(CStr("") + Int32(10));
  ASSERT_TRUE(exec);
  EXPECT_EQ(exec->max_rows, 10);
  EXPECT_FALSE(ParseExecute(CStr("") + Int32(-1)));

  auto sasl = ParseSaslInitial(CStr("SCRAM-SHA-256") + Int32(5) + "n,,ab");
  ASSERT_TRUE(sasl);
  EXPECT_EQ(sasl->mechanism, "SCRAM-SHA-256");
  EXPECT_EQ(sasl->data, "n,,ab");
  EXPECT_FALSE(ParseSaslInitial(CStr("SCRAM-SHA-256") + Int32(50) + "n,,ab"));
}

TEST(PgwireProtocol, BackendMessagesAreFramed) {
  std::string out;
  AppendReadyForQuery(out, 'I');
  EXPECT_EQ(out, std::string("Z") + Int32(5) + "I");

  out.clear();
  AppendDataRow(out, {std::string("ab"), std::nullopt});
  EXPECT_EQ(out,
            std::string("D") + Int32(4 + 2 + 4 + 2 + 4) + Int16(2) + Int32(2) + "ab" + Int32(-1));

  out.clear();
  AppendError(out,
              {.sqlstate = "42P01", .message = "relation \"x\" does not exist", .position = 15});
  EXPECT_EQ(out[0], 'E');
  EXPECT_NE(out.find(std::string("C42P01") + '\0'), std::string::npos);
  EXPECT_NE(out.find(std::string("P15") + '\0'), std::string::npos);
  EXPECT_EQ(out.back(), '\0');

  out.clear();
  AppendRowDescription(out, {{.name = "n", .type_oid = kOidInt4, .format = 1}});
  EXPECT_EQ(out, std::string("T") + Int32(4 + 2 + 2 + 4 + 2 + 4 + 2 + 4 + 2) + Int16(1) +
                     CStr("n") + Int32(0) + Int16(0) + Int32(kOidInt4) + Int16(4) + Int32(-1) +
                     Int16(1));
}

TEST(PgwireProtocol, CopyTextRowEscapes) {
  std::string out;
  AppendCopyTextRow(out, {std::string("a\tb\\c\nd"), std::nullopt, std::string("")});
  EXPECT_EQ(out, "a\\tb\\\\c\\nd\t\\N\t\n");
}

}  // namespace
}  // namespace pgcdc::adapter::pgwire

namespace pgcdc::adapter::pgwire {
namespace {

TEST(PgwireFraming, CutsFramesAcrossPartialReads) {
  std::string msg = "Q" + std::string("\0\0\0\x0d", 4) + "SELECT 1" + '\0';
  std::string buf;
  Frame f;
  for (size_t i = 0; i + 1 < msg.size(); ++i) {
    buf.push_back(msg[i]);
    EXPECT_EQ(TakeFrame(buf, false, 1024, f), FrameStatus::kNeedMore) << i;
  }
  buf.push_back(msg.back());
  buf += "X" + std::string("\0\0\0\x04", 4);
  ASSERT_EQ(TakeFrame(buf, false, 1024, f), FrameStatus::kFrame);
  EXPECT_EQ(f.type, 'Q');
  EXPECT_EQ(f.body, std::string("SELECT 1") + '\0');
  ASSERT_EQ(TakeFrame(buf, false, 1024, f), FrameStatus::kFrame);
  EXPECT_EQ(f.type, 'X');
  EXPECT_TRUE(f.body.empty());
  EXPECT_TRUE(buf.empty());
}

TEST(PgwireFraming, RejectsBadLengths) {
  Frame f;
  std::string tiny = "Q" + std::string("\0\0\0\x03", 4);
  EXPECT_EQ(TakeFrame(tiny, false, 1024, f), FrameStatus::kMalformed);
  std::string negative = "Q\xff\xff\xff\xff";
  EXPECT_EQ(TakeFrame(negative, false, 1024, f), FrameStatus::kMalformed);
  std::string big = "Q" + std::string("\0\x10\0\0", 4);
  EXPECT_EQ(TakeFrame(big, false, 1024, f), FrameStatus::kTooLarge);
  // An HTTP request where a start-up packet belongs: "GET " is a huge length.
  std::string http = "GET / HTTP/1.1\r\n\r\n";
  EXPECT_EQ(TakeFrame(http, true, 10000, f), FrameStatus::kTooLarge);
  std::string startup = std::string("\0\0\0\x08", 4) + Int32(kSslRequest);
  ASSERT_EQ(TakeFrame(startup, true, 10000, f), FrameStatus::kFrame);
  EXPECT_EQ(f.body, Int32(kSslRequest));
}

}  // namespace
}  // namespace pgcdc::adapter::pgwire
