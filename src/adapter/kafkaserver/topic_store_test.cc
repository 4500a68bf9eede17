#include "adapter/kafkaserver/topic_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "adapter/kafkaserver/test_batches.h"
#include "adapter/kafkaserver/test_temp_dir.h"

namespace pgcdc::adapter::kafkaserver {
namespace {

namespace fs = std::filesystem;

// A fresh directory per test.
struct TempDir : testing::TempDir {
  TempDir() : testing::TempDir("pgcdc-kafkatopics") {}
};

void Append(PartitionLog& log, const std::string& value) {
  std::string b = testing::MakeBatch({value});
  const int64_t ts = testing::MaxTimestampOf(b);
  ASSERT_TRUE(log.Append(std::move(b), 1, ts));
}

TEST(TopicNames, KafkaRules) {
  EXPECT_TRUE(IsValidTopicName("pgcdc.orders"));
  EXPECT_TRUE(IsValidTopicName("a-b_c.D9"));
  EXPECT_TRUE(IsValidTopicName(std::string(249, 'x')));
  EXPECT_FALSE(IsValidTopicName(std::string(250, 'x')));
  for (const char* bad : {"", ".", "..", "pgcdc:orders", "a/b", "a b", "caf\xc3\xa9"}) {
    EXPECT_FALSE(IsValidTopicName(bad)) << bad;
  }
}

TEST(TopicNames, IdsAreStableDistinctAndNeverReserved) {
  const Uuid a = TopicIdFor("pgcdc.orders");
  EXPECT_EQ(a, TopicIdFor("pgcdc.orders"));
  EXPECT_NE(a, TopicIdFor("pgcdc.order"));
  EXPECT_EQ(a.bytes[6] >> 4, 8) << "version 8";
  EXPECT_EQ(a.bytes[8] & 0xC0, 0x80) << "RFC variant";
  std::set<Uuid> ids;
  for (int i = 0; i < 1000; ++i) ids.insert(TopicIdFor("t" + std::to_string(i)));
  EXPECT_EQ(ids.size(), 1000u);
  EXPECT_NE(TopicIdFor(""), Uuid{});
}

TEST(TopicStore, CreatesOnDemandWithFixedPartitionCount) {
  TopicStoreOptions o;
  o.default_partitions = 3;
  auto store = TopicStore::Open(o);
  ASSERT_TRUE(store) << store.error().message();
  EXPECT_EQ((*store)->Find("orders"), nullptr);
  auto t = (*store)->GetOrCreate("orders");
  ASSERT_TRUE(t) << t.error().message();
  EXPECT_EQ((*t)->name(), "orders");
  EXPECT_EQ((*t)->partition_count(), 3);
  EXPECT_NE((*t)->partition(2), nullptr);
  EXPECT_EQ((*t)->partition(3), nullptr);
  EXPECT_EQ((*t)->partition(-1), nullptr);
  auto again = (*store)->GetOrCreate("orders", 10);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->get(), t->get());
  EXPECT_EQ((*again)->partition_count(), 3) << "count fixed at creation";
  auto explicit_count = (*store)->GetOrCreate("users", 5);
  ASSERT_TRUE(explicit_count);
  EXPECT_EQ((*explicit_count)->partition_count(), 5);
  EXPECT_EQ((*store)->Find("users").get(), explicit_count->get());
  EXPECT_EQ((*store)->FindById(TopicIdFor("users")).get(), explicit_count->get());
  EXPECT_EQ((*store)->FindById(TopicIdFor("nope")), nullptr);
  auto all = (*store)->All();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0]->name(), "orders");
  EXPECT_EQ(all[1]->name(), "users");
}

TEST(TopicStore, RejectsInvalidNamesAndCounts) {
  TopicStoreOptions o;
  o.max_partitions = 16;
  auto store = TopicStore::Open(o);
  ASSERT_TRUE(store);
  auto bad = (*store)->GetOrCreate("pgcdc:orders");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
  auto too_many = (*store)->GetOrCreate("t", 17);
  ASSERT_FALSE(too_many);
  EXPECT_EQ(too_many.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ((*store)->size(), 0u);
  TopicStoreOptions zero;
  zero.default_partitions = 0;
  EXPECT_FALSE(TopicStore::Open(zero));
}

// FindOrAutoCreate("orders") on a new memory-only store; an error fails the
// test (null then, as for "no such topic").
std::shared_ptr<Topic> FindOrAutoCreateOrders(TopicStore& store) {
  auto topic = store.FindOrAutoCreate("orders");
  EXPECT_TRUE(topic) << topic.error().message();
  return topic ? *topic : nullptr;
}

TEST(TopicStore, AutoCreateCanBeTurnedOff) {
  auto store = TopicStore::Open({.auto_create = false});
  ASSERT_TRUE(store);
  EXPECT_EQ(FindOrAutoCreateOrders(**store), nullptr);
  ASSERT_TRUE((*store)->GetOrCreate("orders"));
  EXPECT_NE(FindOrAutoCreateOrders(**store), nullptr);

  auto autostore = TopicStore::Open({.auto_create = true});
  ASSERT_TRUE(autostore);
  auto created = FindOrAutoCreateOrders(**autostore);
  ASSERT_NE(created, nullptr);
  EXPECT_EQ(created->partition_count(), 8);
}

TEST(TopicStore, DataDirIsRecoveredAndLocked) {
  TempDir dir;
  TopicStoreOptions o;
  o.data_dir = dir.path;
  o.default_partitions = 2;
  {
    auto store = TopicStore::Open(o);
    ASSERT_TRUE(store) << store.error().message();
    auto t = (*store)->GetOrCreate("pgcdc.orders", 3);
    ASSERT_TRUE(t);
    Append(*(*t)->partition(0), "a");
    Append(*(*t)->partition(2), "b");
    Append(*(*t)->partition(2), "c");
    ASSERT_TRUE((*store)->GetOrCreate("my-topic-1"));
    EXPECT_TRUE(fs::is_directory(dir.path + "/pgcdc.orders-2"));
    EXPECT_TRUE(fs::is_directory(dir.path + "/my-topic-1-1"));

    auto second = TopicStore::Open(o);
    ASSERT_FALSE(second) << "the data dir is locked";
    EXPECT_NE(second.error().message().find("in use"), std::string::npos);
  }
  fs::create_directories(dir.path + "/not a topic-0");
  { std::ofstream(dir.path + "/__consumer_offsets.json") << "{}"; }
  o.default_partitions = 7;  // does not change recovered topics
  auto store = TopicStore::Open(o);
  ASSERT_TRUE(store) << store.error().message();
  EXPECT_EQ((*store)->size(), 2u);
  auto t = (*store)->Find("pgcdc.orders");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->partition_count(), 3);
  EXPECT_EQ(t->partition(0)->HighWatermark(), 1);
  EXPECT_EQ(t->partition(1)->HighWatermark(), 0);
  EXPECT_EQ(t->partition(2)->HighWatermark(), 2);
  auto t2 = (*store)->Find("my-topic-1");
  ASSERT_NE(t2, nullptr);
  EXPECT_EQ(t2->partition_count(), 2);
}

TEST(TopicStore, PartitionOptionsComeFromTheTemplate) {
  TopicStoreOptions o;
  o.log.buffer_records = 2;
  o.default_partitions = 1;
  auto store = TopicStore::Open(o);
  ASSERT_TRUE(store);
  auto t = (*store)->GetOrCreate("t");
  ASSERT_TRUE(t);
  PartitionLog* p = (*t)->partition(0);
  for (int i = 0; i < 5; ++i) Append(*p, "v");
  EXPECT_EQ(p->LogStartOffset(), 3);
}

}  // namespace
}  // namespace pgcdc::adapter::kafkaserver
