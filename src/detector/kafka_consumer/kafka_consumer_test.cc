#include "detector/kafka_consumer/kafka_consumer.h"

#include <gtest/gtest.h>

#include <map>

#include "detector/kafka_consumer/offset_book.h"
#include "registry/test_util.h"

namespace pgcdc::detector::kafka_consumer {
ConnectorInfo Connector();

namespace {

using testing::HasError;

TEST(KafkaConsumerBook, CommitsTheOffsetAfterTheHighestDeliveredRecord) {
  OffsetBook book;
  book.Consumed(1, {"t", 0, 10});
  book.Consumed(2, {"t", 1, 5});
  book.Consumed(3, {"t", 0, 11});
  book.Consumed(3, {"t", 0, 12});  // dead-lettered: goes with seq 3
  book.Consumed(4, {"t", 1, 6});
  EXPECT_EQ(book.Delivered(0), 0U);
  EXPECT_TRUE(book.TakeCommits().empty());
  EXPECT_EQ(book.Delivered(3), 4U);
  auto commits = book.TakeCommits();
  ASSERT_EQ(commits.size(), 2U);
  EXPECT_EQ(commits[0].partition, 0);
  EXPECT_EQ(commits[0].offset, 13);
  EXPECT_EQ(commits[1].partition, 1);
  EXPECT_EQ(commits[1].offset, 6);
  EXPECT_TRUE(book.TakeCommits().empty());  // nothing new
  EXPECT_EQ(book.pending(), 1U);
}

TEST(KafkaConsumerBook, RevokedPartitionsAreForgotten) {
  OffsetBook book;
  book.Consumed(1, {"t", 0, 1});
  book.Consumed(2, {"t", 1, 1});
  book.Consumed(3, {"t", 0, 2});
  EXPECT_EQ(book.LastSeqOf({{"t", 0}}), 3U);
  EXPECT_EQ(book.LastSeqOf({{"u", 0}}), 0U);
  book.Delivered(1);
  EXPECT_EQ(book.Forget({{"t", 0}}), 1U);   // seq 3 was still pending
  EXPECT_TRUE(book.TakeCommits().empty());  // t/0's delivered offset went too
  book.Delivered(3);
  auto commits = book.TakeCommits();
  ASSERT_EQ(commits.size(), 1U);
  EXPECT_EQ(commits[0].partition, 1);
}

Record Rec(std::string_view value) {
  return Record{.topic = "pgcdc.orders",
                .partition = 2,
                .offset = 42,
                .timestamp_ms = 1'700'000'000'123,
                .key = "k",
                .value = value,
                .headers = {{"h", "v"}}};
}

TEST(KafkaConsumerEvent, RecordBecomesAKafkaConsumeEvent) {
  Options o;
  Converted c = RecordEvent(Rec(R"({ "a": 1 })"), o);
  EXPECT_TRUE(c.unusable.empty());
  EXPECT_EQ(c.event.channel, "pgcdc:pgcdc.orders");
  EXPECT_EQ(c.event.operation, "KAFKA_CONSUME");
  EXPECT_EQ(c.event.source, "kafka_consumer");
  EXPECT_EQ(c.event.payload, R"({"a":1})");
  EXPECT_EQ(c.event.key, "k");
  EXPECT_EQ(c.event.created_at_ns, 1'700'000'000'123'000'000);
  // The id is the record's: the same record read again gets the same id.
  EXPECT_EQ(RecordEvent(Rec("x"), o).event.id, c.event.id);
  Record other = Rec("x");
  other.offset = 43;
  EXPECT_NE(RecordEvent(other, o).event.id, c.event.id);
  EXPECT_EQ(RecordEvent(Rec("not json"), o).event.payload, R"({"raw":"bm90IGpzb24="})");
}

TEST(KafkaConsumerEvent, MetadataAndUnwrap) {
  Options o;
  o.metadata = true;
  EXPECT_EQ(RecordEvent(Rec("1"), o).event.payload,
            R"({"topic":"pgcdc.orders","partition":2,"offset":42,"timestamp":1700000000123,)"
            R"("key":"k","headers":{"h":"v"},"value":1})");
  o.metadata = false;
  o.unwrap = true;
  Event inner = MakeEvent("pgcdc:t", "UPDATE", R"({"x":true})", "wal_replication");
  Converted c = RecordEvent(Rec(inner.Json()), o);
  EXPECT_TRUE(c.unusable.empty()) << c.unusable;
  EXPECT_EQ(c.event.Json(), inner.Json());
  EXPECT_EQ(c.event.key, "k");
  Converted bad = RecordEvent(Rec(R"({"a":1})"), o);
  EXPECT_NE(bad.unusable.find("not a pgcdc event envelope"), std::string::npos);
  EXPECT_EQ(bad.event.operation, "KAFKA_CONSUME");  // what the DLQ records
}

TEST(KafkaConsumerConfig, PropertiesTurnAutoCommitOff) {
  Options o;
  o.topics = {"a"};
  o.group = "g";
  o.offset = "latest";
  o.properties = {"fetch.min.bytes=10"};
  std::map<std::string, std::string> p;
  for (const auto& [k, v] : ConsumerProperties(o)) p[k] = v;
  EXPECT_EQ(p["enable.auto.commit"], "false");
  EXPECT_EQ(p["enable.auto.offset.store"], "false");
  EXPECT_EQ(p["group.id"], "g");
  EXPECT_EQ(p["auto.offset.reset"], "latest");
  EXPECT_EQ(p["bootstrap.servers"], "localhost:9092");
  EXPECT_EQ(p["fetch.min.bytes"], "10");
}

TEST(KafkaConsumerConfig, BadSettingsAreClearErrors) {
  const ConnectorInfo info = Connector();
  config::CoreSettings core;
  core.bus_mode = "reliable";  // what --detector kafka_consumer implies
  auto errors = [&](const std::vector<std::pair<std::string, std::string>>& flags) {
    return testing::BindForTest<Options>(info, flags, core).second;
  };
  EXPECT_TRUE(HasError(errors({}), "kafka_consumer.topics: required"));
  EXPECT_TRUE(errors({{"kafka_consumer.topics", "a,b"}}).empty());
  // A fast bus would drop events whose position is then finished.
  EXPECT_TRUE(
      HasError(testing::BindForTest<Options>(info, {{"kafka_consumer.topics", "a,b"}}).second,
               "use --bus-mode reliable"));
  EXPECT_TRUE(HasError(errors({{"kafka_consumer.topics", "a b"}}), "not a valid Kafka topic"));
  EXPECT_TRUE(
      HasError(errors({{"kafka_consumer.topics", "a"}, {"kafka.brokers", ""}}), "kafka.brokers"));
  EXPECT_TRUE(
      HasError(errors({{"kafka_consumer.topics", "a"}, {"kafka_consumer.offset", "middle"}}),
               "kafka_consumer.offset"));
  EXPECT_TRUE(
      HasError(errors({{"kafka_consumer.topics", "a"}, {"kafka_consumer.properties", "no.such=1"}}),
               "librdkafka property no.such=1"));
  auto [o, e] = testing::BindForTest<Options>(info, {{"kafka_consumer.topics", "a,b"}});
  EXPECT_EQ(o.topics, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(o.group, "pgcdc");
  EXPECT_EQ(o.offset, "earliest");
}

}  // namespace
}  // namespace pgcdc::detector::kafka_consumer
