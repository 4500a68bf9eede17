#include "detector/consume/consume.h"

#include <gtest/gtest.h>

namespace pgcdc::detector::consume {
namespace {

TEST(ConsumePayload, JsonIsCompactedAndKeepsKeyOrder) {
  EXPECT_EQ(PayloadOf(R"( { "b" : 1, "a" : [ 1, 2 ] } )", RawForm::kBase64Object),
            R"({"b":1,"a":[1,2]})");
  EXPECT_EQ(PayloadOf("42", RawForm::kString), "42");
}

TEST(ConsumePayload, NonJsonTakesTheSourcesRawForm) {
  EXPECT_EQ(PayloadOf("hello", RawForm::kBase64Object), R"({"raw":"aGVsbG8="})");
  EXPECT_EQ(PayloadOf("", RawForm::kBase64Object), R"({"raw":""})");
  EXPECT_EQ(PayloadOf("say \"hi\"", RawForm::kString), R"("say \"hi\"")");
  EXPECT_EQ(PayloadOf(std::string("\xff\x01", 2), RawForm::kString), R"({"raw":"/wE="})");
}

TEST(ConsumePayload, MetadataWrapsTheValue) {
  MessageInfo info{.coordinates = {{"topic", "\"t\""}, {"partition", "0"}, {"offset", "7"}},
                   .key = "k1",
                   .has_key = true,
                   .headers = {{"a", "1"}, {"b", std::string("\xff", 1)}, {"a", "2"}}};
  EXPECT_EQ(MetadataPayload(info, R"({"x":1})"),
            R"({"topic":"t","partition":0,"offset":7,"key":"k1",)"
            R"("headers":{"a":"2","b":{"raw":"/w=="}},"value":{"x":1}})");
  MessageInfo bare{.coordinates = {{"seq", "3"}}};
  EXPECT_EQ(MetadataPayload(bare, "null"), R"({"seq":3,"key":null,"headers":{},"value":null})");
}

TEST(ConsumeUnwrap, EnvelopeBecomesTheSameEvent) {
  Event e = MakeEvent("pgcdc:orders", "INSERT", R"({"op":"INSERT","row":{"id":1.5E0}})",
                      "wal_replication");
  e.transaction = TransactionInfo{.xid = 7, .commit_time_ns = 1'700'000'000'000'000'000, .seq = 2};
  auto back = Unwrap(e.Json());
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->Json(), e.Json());
  EXPECT_EQ(back->source, "wal_replication");
}

TEST(ConsumeUnwrap, OtherMessagesAreErrors) {
  for (std::string_view bad : {"", "not json", "[1]", R"({"id":"x"})",
                               R"({"channel":"c","operation":"o","payload":1,"source":"s"})"}) {
    auto r = Unwrap(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message().find("not a pgcdc event envelope"), std::string::npos);
  }
}

TEST(ConsumeDeliveryQueue, ReleasesInOrderUpToTheWatermark) {
  DeliveryQueue<int> q;
  q.Push(1, 10);
  q.Push(1, 11);  // no event of its own: goes with seq 1
  q.Push(2, 20);
  q.Push(3, 30);
  std::vector<int> out;
  EXPECT_EQ(q.Release(0, [&](int v) { out.push_back(v); }), 0U);
  EXPECT_EQ(q.Release(2, [&](int v) { out.push_back(v); }), 3U);
  EXPECT_EQ(out, (std::vector<int>{10, 11, 20}));
  EXPECT_EQ(q.LastSeq([](int v) { return v == 30; }), 3U);
  EXPECT_EQ(q.Drop([](int v) { return v == 30; }), 1U);
  EXPECT_TRUE(q.empty());
}

}  // namespace
}  // namespace pgcdc::detector::consume
