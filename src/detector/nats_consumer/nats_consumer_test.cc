#include "detector/nats_consumer/nats_consumer.h"

#include <gtest/gtest.h>

#include "registry/test_util.h"

namespace pgcdc::detector::nats_consumer {
ConnectorInfo Connector();

namespace {

using testing::HasError;

TEST(NatsConsumerSubjects, WildcardsMatchLikeNats) {
  EXPECT_TRUE(SubjectMatches("pgcdc.orders", "pgcdc.orders"));
  EXPECT_FALSE(SubjectMatches("pgcdc.orders", "pgcdc.orders.x"));
  EXPECT_FALSE(SubjectMatches("pgcdc.orders.x", "pgcdc.orders"));
  EXPECT_TRUE(SubjectMatches("pgcdc.*", "pgcdc.orders"));
  EXPECT_FALSE(SubjectMatches("pgcdc.*", "pgcdc.a.b"));
  EXPECT_TRUE(SubjectMatches("pgcdc.>", "pgcdc.a.b"));
  EXPECT_FALSE(SubjectMatches("pgcdc.>", "pgcdc"));
  EXPECT_TRUE(SubjectMatches("*.b.>", "a.b.c"));
  EXPECT_FALSE(SubjectMatches("*.b.>", "a.c.d"));
}

Message Msg(std::string_view data) {
  return Message{.stream = "pgcdc",
                 .subject = "pgcdc.public.orders",
                 .seq = 9,
                 .timestamp_ns = 1'700'000'000'000'000'001,
                 .data = data,
                 .headers = {{"Nats-Msg-Id", "x"}}};
}

TEST(NatsConsumerEvent, MessageBecomesANatsConsumeEvent) {
  Options o;
  Converted c = MessageEvent(Msg(R"({"a": [1, 2]})"), o);
  EXPECT_TRUE(c.unusable.empty());
  EXPECT_EQ(c.event.channel, "pgcdc:pgcdc:public:orders");  // SPEC §1.4
  EXPECT_EQ(c.event.operation, "NATS_CONSUME");
  EXPECT_EQ(c.event.source, "nats_consumer");
  EXPECT_EQ(c.event.payload, R"({"a":[1,2]})");
  EXPECT_EQ(c.event.created_at_ns, 1'700'000'000'000'000'001);
  EXPECT_EQ(MessageEvent(Msg("x"), o).event.id, c.event.id);  // same stream seq, same id
  EXPECT_EQ(MessageEvent(Msg("plain text"), o).event.payload, R"("plain text")");
  o.metadata = true;
  EXPECT_EQ(MessageEvent(Msg("1"), o).event.payload,
            R"({"stream":"pgcdc","subject":"pgcdc.public.orders","seq":9,)"
            R"("timestamp":1700000000000000001,"key":null,"headers":{"Nats-Msg-Id":"x"},)"
            R"("value":1})");
}

TEST(NatsConsumerEvent, UnwrapRestoresTheEnvelope) {
  Options o;
  o.unwrap = true;
  Event inner = MakeEvent("pgcdc:orders", "DELETE", R"({"row":{"id":1}})", "wal_replication");
  Converted c = MessageEvent(Msg(inner.Json()), o);
  EXPECT_TRUE(c.unusable.empty()) << c.unusable;
  EXPECT_EQ(c.event.Json(), inner.Json());
  Converted bad = MessageEvent(Msg("nope"), o);
  EXPECT_NE(bad.unusable.find("not a pgcdc event envelope"), std::string::npos);
  EXPECT_EQ(bad.event.payload, R"("nope")");
}

TEST(NatsConsumerConfig, BadSettingsAreClearErrors) {
  const ConnectorInfo info = Connector();
  config::CoreSettings core;
  core.bus_mode = "reliable";  // what --detector nats_consumer implies
  auto errors = [&](const std::vector<std::pair<std::string, std::string>>& flags) {
    return testing::BindForTest<Options>(info, flags, core).second;
  };
  EXPECT_TRUE(HasError(errors({}), "nats.url: required for detector nats_consumer"));
  EXPECT_TRUE(errors({{"nats.url", "nats://127.0.0.1:4222"}}).empty());
  // A fast bus would drop events whose position is then finished.
  EXPECT_TRUE(
      HasError(testing::BindForTest<Options>(info, {{"nats.url", "nats://127.0.0.1:4222"}}).second,
               "use --bus-mode reliable"));
  EXPECT_TRUE(HasError(errors({{"nats.url", "http://x"}}), "invalid NATS URL"));
  EXPECT_TRUE(HasError(errors({{"nats.url", "nats://a"}, {"nats_consumer.durable", "a.b"}}),
                       "nats_consumer.durable"));
  EXPECT_TRUE(HasError(errors({{"nats.url", "nats://a"}, {"nats_consumer.subjects", "a..b"}}),
                       "is not a NATS subject"));
  auto [o, e] = testing::BindForTest<Options>(
      info, {{"nats.url", "nats://a"}, {"nats_consumer.subjects", "x.>,y.*"}});
  EXPECT_EQ(o.subjects, (std::vector<std::string>{"x.>", "y.*"}));
  EXPECT_EQ(o.stream, "pgcdc");
  EXPECT_EQ(o.durable, "pgcdc");
}

}  // namespace
}  // namespace pgcdc::detector::nats_consumer
