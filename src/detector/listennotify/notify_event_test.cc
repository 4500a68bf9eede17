#include "detector/listennotify/notify_event.h"

#include <gtest/gtest.h>

#include <string>

#include "core/json.h"

namespace pgcdc::detector::listennotify {
namespace {

using namespace std::string_literals;

constexpr int64_t kNow = 1750000000123456000;
const std::string kFffd = "\xEF\xBF\xBD";

struct Expect {
  std::string input;
  std::string operation;
  std::string payload;
};

void Check(const Expect& c) {
  const Event e = MakeNotifyEvent("pgcdc:orders", c.input, kNow);
  EXPECT_EQ(e.operation, c.operation) << "input: " << c.input;
  EXPECT_EQ(e.payload, c.payload) << "input: " << c.input;
}

TEST(NotifyEventTest, TriggerPayloadUsesOpAndIsCompacted) {
  // What json_build_object(...)::text produces.
  const Event e = MakeNotifyEvent(
      "pgcdc:orders",
      R"({"op" : "INSERT", "table" : "orders", "row" : {"id":1,"status":"new","amount":12.5}, )"
      R"("old" : null})",
      kNow);
  EXPECT_EQ(e.operation, "INSERT");
  EXPECT_EQ(e.payload,
            R"({"op":"INSERT","table":"orders","row":{"id":1,"status":"new","amount":12.5},)"
            R"("old":null})");
  EXPECT_EQ(e.channel, "pgcdc:orders");
  EXPECT_EQ(e.source, "listen_notify");
  EXPECT_EQ(e.created_at_ns, kNow);
  EXPECT_FALSE(e.transaction.has_value());
  EXPECT_EQ(e.lsn, 0u);
}

TEST(NotifyEventTest, OperationRules) {
  const Expect cases[] = {
      {R"({"op":"DELETE","row":{"id":1}})", "DELETE", R"({"op":"DELETE","row":{"id":1}})"},
      {R"({"op":"insert"})", "insert", R"({"op":"insert"})"},  // taken verbatim
      {R"({"op":"custom thing"})", "custom thing", R"({"op":"custom thing"})"},
      {R"({"o\u0070":"UP\u0044ATE"})", "UPDATE", R"({"o\u0070":"UP\u0044ATE"})"},
      {R"({ "table" : "t", "op" : "UPDATE" })", "UPDATE", R"({"table":"t","op":"UPDATE"})"},
      {R"({"op":"A","op":"B"})", "A", R"({"op":"A","op":"B"})"},  // first member wins
      {R"({"op":""})", "NOTIFY", R"({"op":""})"},
      {R"({"op":1})", "NOTIFY", R"({"op":1})"},
      {R"({"op":null})", "NOTIFY", R"({"op":null})"},
      {R"({"op":{"x":"INSERT"}})", "NOTIFY", R"({"op":{"x":"INSERT"}})"},
      {R"({"row":{"op":"INSERT"}})", "NOTIFY", R"({"row":{"op":"INSERT"}})"},
      {R"({"OP":"INSERT"})", "NOTIFY", R"({"OP":"INSERT"})"},
      {R"({})", "NOTIFY", R"({})"},
      {R"([{"op":"INSERT"}])", "NOTIFY", R"([{"op":"INSERT"}])"},
  };
  for (const auto& c : cases) Check(c);
}

TEST(NotifyEventTest, NonObjectJsonIsKeptAsJson) {
  const Expect cases[] = {
      {" [1, 2, 3] ", "NOTIFY", "[1,2,3]"},
      {"42", "NOTIFY", "42"},
      {" -1.5e3\n", "NOTIFY", "-1.5e3"},
      {"123456789012345678901234567890", "NOTIFY", "123456789012345678901234567890"},
      {R"("op")", "NOTIFY", R"("op")"},
      {R"("hello \"world\"")", "NOTIFY", R"("hello \"world\"")"},
      {"true", "NOTIFY", "true"},
      {"null", "NOTIFY", "null"},
  };
  for (const auto& c : cases) Check(c);
}

TEST(NotifyEventTest, NonJsonBecomesAString) {
  const Expect cases[] = {
      {"", "NOTIFY", R"("")"},
      {"   ", "NOTIFY", R"("   ")"},
      {"hello world", "NOTIFY", R"("hello world")"},
      {"42 43", "NOTIFY", R"("42 43")"},
      {"NaN", "NOTIFY", R"("NaN")"},
      {"01", "NOTIFY", R"("01")"},
      {"orders:17:INSERT", "NOTIFY", R"("orders:17:INSERT")"},
      {R"({"op":"INSERT",})", "NOTIFY", R"("{\"op\":\"INSERT\",}")"},
      {R"({'op':'INSERT'})", "NOTIFY", R"("{'op':'INSERT'}")"},
      {"line1\nline2\ttab\\", "NOTIFY", R"("line1\nline2\ttab\\")"},
      {"\x01\x1f\x7f", "NOTIFY", "\"\\u0001\\u001f\x7f\""},
      {"nul\0byte"s, "NOTIFY", R"("nul\u0000byte")"},
      {"<b>&amp;</b>", "NOTIFY", R"("<b>&amp;</b>")"},
      // Raw control characters inside a JSON string make it invalid JSON.
      {"{\"a\":\"x\ny\"}", "NOTIFY", R"("{\"a\":\"x\ny\"}")"},
  };
  for (const auto& c : cases) Check(c);
}

TEST(NotifyEventTest, InvalidUtf8IsReplaced) {
  Check({"caf\xc3\xa9 \xff!", "NOTIFY", "\"caf\xc3\xa9 " + kFffd + "!\""});
  Check({"\xed\xa0\x80", "NOTIFY", "\"" + kFffd + kFffd + kFffd + "\""});
  Check(
      {"{\"op\":\"INS\xff"
       "ERT\",\"v\":\"\xc0\"}",
       "INS" + kFffd + "ERT", "{\"op\":\"INS" + kFffd + "ERT\",\"v\":\"" + kFffd + "\"}"});
  Check({"\"\xe2\x82\"", "NOTIFY", "\"" + kFffd + "\""});
}

TEST(NotifyEventTest, UnicodeIsPassedThrough) {
  Check({"{\"op\":\"\u00c9V\u00c9NEMENT\",\"emoji\":\"\U0001F600\",\"esc\":\"\\ud83d\\ude00\"}",
         "\u00c9V\u00c9NEMENT",
         "{\"op\":\"\u00c9V\u00c9NEMENT\",\"emoji\":\"\U0001F600\",\"esc\":\"\\ud83d\\ude00\"}"});
  Check({R"({"op":"\ud83d\ude00"})", "\U0001F600", R"({"op":"\ud83d\ude00"})"});
}

TEST(NotifyEventTest, TooDeepJsonIsCarriedAsString) {
  const std::string deep = std::string(600, '[') + std::string(600, ']');
  const Event e = MakeNotifyEvent("c", deep, kNow);
  EXPECT_EQ(e.operation, "NOTIFY");
  EXPECT_EQ(e.payload, "\"" + deep + "\"");
  const std::string ok = std::string(500, '[') + std::string(500, ']');
  EXPECT_EQ(MakeNotifyEvent("c", ok, kNow).payload, ok);
}

TEST(NotifyEventTest, IdsAreFreshUuidV7) {
  const Event a = MakeNotifyEvent("c", "1", kNow);
  const Event b = MakeNotifyEvent("c", "1", kNow);
  EXPECT_EQ(a.id.bytes[6] >> 4, 7);
  EXPECT_EQ(a.id.bytes[8] >> 6, 2);
  EXPECT_LT(a.id, b.id);
}

TEST(NotifyEventTest, EnvelopeJson) {
  const Event e = MakeNotifyEvent("pgcdc:orders", R"({"op": "DELETE", "row": {"id": 1}})", kNow);
  EXPECT_EQ(e.Json(), R"({"id":")" + e.id.ToString() +
                          R"(","channel":"pgcdc:orders","operation":"DELETE",)"
                          R"("payload":{"op":"DELETE","row":{"id":1}},"source":"listen_notify",)"
                          R"("created_at":"2025-06-15T15:06:40.123456Z"})");
}

TEST(NotifyEventTest, ChannelIsEscapedInEnvelope) {
  const Event e = MakeNotifyEvent("we\"ird\nchan\xff", "x", kNow);
  EXPECT_EQ(e.channel, "we\"ird\nchan\xff");  // kept exactly as notified
  EXPECT_NE(e.Json().find("\"channel\":\"we\\\"ird\\nchan" + kFffd + "\""), std::string::npos);
  std::string compacted;
  ASSERT_TRUE(json::Compact(e.Json(), compacted).has_value());
  EXPECT_EQ(compacted, e.Json());
}

TEST(NotifyEventTest, MaximumNotifyPayload) {
  // PostgreSQL caps NOTIFY payloads just under 8000 bytes.
  std::string big = R"({"op":"INSERT","blob":")" + std::string(7900, 'x') + R"("})";
  const Event e = MakeNotifyEvent("c", big, kNow);
  EXPECT_EQ(e.operation, "INSERT");
  EXPECT_EQ(e.payload, big);
}

}  // namespace
}  // namespace pgcdc::detector::listennotify
