#include "dlq/envelope.h"

#include <gtest/gtest.h>

#include <string>

#include "core/test_util.h"
#include "core/time.h"

namespace pgcdc::dlq {
namespace {

Event Sample() {
  return testing::MakeEvent({
      .channel = "pgcdc:orders",
      .operation = "UPDATE",
      // Key order, number spellings, escapes and non-ASCII text must survive.
      .payload =
          R"({"z":1,"a":[1.50,2e3,-0,{"deep":[[[]]]}],"s":"a\"b\\c\u0000\n é <&>","n":null})",
      .source = "wal",
      .id = testing::SampleEventId(),
      .created_at_ns = 1750000000123456789,
  });
}

TEST(EnvelopeTest, RoundTripIsByteIdentical) {
  const Event original = Sample();
  auto back = EventFromEnvelope(original.Json());
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->Json(), original.Json());
  EXPECT_EQ(back->id, original.id);
  EXPECT_EQ(back->source, "wal");
  EXPECT_EQ(back->created_at_ns, original.created_at_ns);
  EXPECT_FALSE(back->transaction);
  EXPECT_EQ(back->lsn, 0u);
}

TEST(EnvelopeTest, RoundTripWithTransaction) {
  Event original = Sample();
  original.transaction =
      TransactionInfo{.xid = 4294967295u, .commit_time_ns = 1750000000000000000, .seq = 7};
  auto back = EventFromEnvelope(original.Json());
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->Json(), original.Json());
  ASSERT_TRUE(back->transaction);
  EXPECT_EQ(back->transaction->xid, 4294967295u);
  EXPECT_EQ(back->transaction->seq, 7);
}

TEST(EnvelopeTest, ScalarAndStringPayloads) {
  for (const char* payload : {"null", "\"text\"", "42", "true", "[]", "{}"}) {
    Event e = Sample();
    e.payload = payload;
    auto back = EventFromEnvelope(e.Json());
    ASSERT_TRUE(back) << payload << ": " << back.error().message();
    EXPECT_EQ(back->Json(), e.Json()) << payload;
  }
}

TEST(EnvelopeTest, JsonbStyleTextIsCompactedAndNormalised) {
  // What PostgreSQL's jsonb output looks like: reordered keys, spaces, offset.
  const std::string stored =
      R"({"id": "0195B3C2-7A10-7C3E-9F11-2B3C4D5E6F70", "source": "listen_notify", )"
      R"("channel": "pgcdc:orders", "payload": {"a": [1, 2], "b": {"c": "x y"}}, )"
      R"("operation": "INSERT", "created_at": "2025-06-15T17:06:40.5+02:00", "extra": 1})";
  auto back = EventFromEnvelope(stored);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->Json(),
            R"({"id":"0195b3c2-7a10-7c3e-9f11-2b3c4d5e6f70","channel":"pgcdc:orders",)"
            R"("operation":"INSERT","payload":{"a":[1,2],"b":{"c":"x y"}},)"
            R"("source":"listen_notify","created_at":"2025-06-15T15:06:40.5Z"})");
}

TEST(EnvelopeTest, DeeplyNestedPayload) {
  Event e = Sample();
  e.payload = std::string(200, '[') + std::string(200, ']');
  auto back = EventFromEnvelope(e.Json());
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->Json(), e.Json());
}

TEST(EnvelopeTest, BadEnvelopesNameTheProblem) {
  const std::string good = Sample().Json();
  struct Case {
    std::string text;
    std::string want;
  };
  auto without = [&](const std::string& key) {
    std::string s = good;
    const size_t at = s.find("\"" + key + "\":");
    s.replace(at, 1, "\"x");  // rename the key
    return s;
  };
  const Case cases[] = {
      {"{", "not valid JSON"},
      {"[1,2]", "not a JSON object"},
      {"{}", "missing \"id\""},
      {without("channel"), "missing \"channel\""},
      {without("operation"), "missing \"operation\""},
      {without("payload"), "missing \"payload\""},
      {without("source"), "missing \"source\""},
      {without("created_at"), "missing \"created_at\""},
      {R"({"id":"nope","channel":"c","operation":"o","payload":1,"source":"s",)"
       R"("created_at":"2025-06-15T12:00:00Z"})",
       "is not a UUID"},
      {R"({"id":"0195b3c2-7a10-7c3e-9f11-2b3c4d5e6f70","channel":5,"operation":"o",)"
       R"("payload":1,"source":"s","created_at":"2025-06-15T12:00:00Z"})",
       "\"channel\" is not a string"},
      {R"({"id":"0195b3c2-7a10-7c3e-9f11-2b3c4d5e6f70","channel":"c","operation":"o",)"
       R"("payload":1,"source":"s","created_at":"yesterday"})",
       "not an RFC 3339 time"},
      {R"({"id":"0195b3c2-7a10-7c3e-9f11-2b3c4d5e6f70","channel":"c","operation":"o",)"
       R"("payload":1,"source":"s","created_at":"2025-06-15T12:00:00Z","transaction":)"
       R"({"xid":-1,"commit_time":"2025-06-15T12:00:00Z"}})",
       "transaction.xid"},
  };
  for (const auto& c : cases) {
    auto r = EventFromEnvelope(c.text);
    ASSERT_FALSE(r) << c.text;
    EXPECT_NE(r.error().message().find(c.want), std::string::npos)
        << c.text << " -> " << r.error().message();
    EXPECT_EQ(r.error().code(), ErrorCode::kParse);
  }
}

TEST(EnvelopeTest, NullTransactionIsAbsent) {
  auto back = EventFromEnvelope(
      R"({"id":"0195b3c2-7a10-7c3e-9f11-2b3c4d5e6f70","channel":"c","operation":"o",)"
      R"("payload":1,"source":"s","created_at":"2025-06-15T12:00:00Z","transaction":null})");
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_FALSE(back->transaction);
}

TEST(EnvelopeTest, RawMember) {
  const std::string doc = R"( { "a" : [1, {"b": "}"}] , "p\u0061" : "x" , "a": 2 } )";
  EXPECT_EQ(RawMember(doc, "a"), "2");
  EXPECT_EQ(RawMember(doc, "pa"), "\"x\"");
  EXPECT_FALSE(RawMember(doc, "b"));
}

TEST(UuidParseTest, CanonicalForms) {
  const Uuid u = MakeUuidV7(0x0195b3c27a10, 0xc3e, 0x1f112b3c4d5e6f70);
  auto lower = ParseUuid(u.ToString());
  ASSERT_TRUE(lower);
  EXPECT_EQ(*lower, u);
  auto upper = ParseUuid("0195B3C2-7A10-7C3E-9F11-2B3C4D5E6F70");
  ASSERT_TRUE(upper);
  EXPECT_EQ(*upper, u);
  for (const char* bad :
       {"", "0195b3c2-7a10-7c3e-9f11-2b3c4d5e6f7", "0195b3c2-7a10-7c3e-9f11-2b3c4d5e6f7g",
        "0195b3c2x7a10-7c3e-9f11-2b3c4d5e6f70", "0195b3c27a107c3e9f112b3c4d5e6f70"}) {
    EXPECT_FALSE(ParseUuid(bad)) << bad;
  }
}

TEST(Rfc3339Test, ParsesAndRoundTrips) {
  struct Case {
    const char* text;
    int64_t want;
  };
  const Case cases[] = {
      {"1970-01-01T00:00:00Z", 0},
      {"2025-06-15T15:06:40.123456Z", 1750000000123456000},
      {"2025-06-15T15:06:40.123456789z", 1750000000123456789},
      {"2025-06-15t17:06:40.1+02:00", 1750000000100000000},
      {"2025-06-15 10:36:40-04:30", 1750000000000000000},
      {"2024-02-29T00:00:00Z", 1709164800000000000},
      {"1969-12-31T23:59:59.5Z", -500000000},
  };
  for (const auto& c : cases) {
    auto ns = ParseRfc3339(c.text);
    ASSERT_TRUE(ns) << c.text << ": " << ns.error().message();
    EXPECT_EQ(*ns, c.want) << c.text;
  }
  for (int64_t ns : {int64_t{0}, int64_t{1750000000123456789}, int64_t{-1}, NowUnixNanos()}) {
    auto back = ParseRfc3339(FormatRfc3339Nano(ns));
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, ns);
  }
}

TEST(Rfc3339Test, RejectsMalformed) {
  for (const char* bad : {"",
                          "yesterday",
                          "2025-06-15",
                          "2025-06-15T12:00:00",
                          "2025-06-15T12:00Z",
                          "2025-13-01T00:00:00Z",
                          "2025-02-29T00:00:00Z",
                          "2025-06-31T00:00:00Z",
                          "2025-06-15T24:00:00Z",
                          "2025-06-15T12:60:00Z",
                          "2025-06-15T12:00:60Z",
                          "2025-06-15T12:00:00.Z",
                          "2025-06-15T12:00:00.1234567890Z",
                          "2025-06-15T12:00:00+0200",
                          "2025-06-15T12:00:00+24:00",
                          "2025-06-15T12:00:00Zjunk",
                          "2025/06/15T12:00:00Z",
                          "1500-01-01T00:00:00Z",
                          "3000-01-01T00:00:00Z",
                          "+2025-06-15T12:00:00Z"}) {
    auto r = ParseRfc3339(bad);
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_NE(r.error().message().find("RFC 3339"), std::string::npos);
    }
  }
}

TEST(InternTest, SameTextSameStorage) {
  std::string a = "kafka_consumer";
  std::string b = "kafka_consumer";
  const std::string_view x = InternSource(a);
  a = "changed";
  EXPECT_EQ(x, "kafka_consumer");
  EXPECT_EQ(InternSource(b).data(), x.data());
}

}  // namespace
}  // namespace pgcdc::dlq
