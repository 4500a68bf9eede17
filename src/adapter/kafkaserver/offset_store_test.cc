#include "adapter/kafkaserver/offset_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "adapter/kafkaserver/test_temp_dir.h"

namespace pgcdc::adapter::kafkaserver {
namespace {

namespace fs = std::filesystem;

// A fresh directory per test.
struct TempDir : testing::TempDir {
  TempDir() : testing::TempDir("pgcdc-kafkaoffsets") {}
};

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

OffsetCommit C(std::string topic, int32_t partition, int64_t offset, std::string metadata = "",
               int32_t epoch = -1) {
  return OffsetCommit{std::move(topic), partition, offset, epoch, std::move(metadata)};
}

// A backend that fails on demand (and records what it was asked to do).
class FlakyBackend final : public OffsetBackend {
 public:
  bool fail = false;
  std::vector<OffsetKey> last_changed;
  std::vector<OffsetKey> last_removed;
  std::string_view name() const override { return "flaky"; }
  Result<OffsetMap> Load() override { return OffsetMap{}; }
  Status Persist(const OffsetMap&, const std::vector<OffsetKey>& changed,
                 const std::vector<OffsetKey>& removed) override {
    if (fail) return Fail(ErrorCode::kConnection, "backend down");
    last_changed = changed;
    last_removed = removed;
    return Ok();
  }
};

TEST(OffsetStore, OffsetZeroIsARealCommitAndNoneIsNullopt) {
  auto store = OffsetStore::InMemory();
  EXPECT_EQ(store->backend_name(), "memory");
  EXPECT_FALSE(store->Fetch("g", "t", 0).has_value());
  ASSERT_TRUE(store->Commit("g", {C("t", 0, 0, "meta", 5)}, 1234));
  auto c = store->Fetch("g", "t", 0);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->offset, 0);
  EXPECT_EQ(c->metadata, "meta");
  EXPECT_EQ(c->leader_epoch, 5);
  EXPECT_EQ(c->commit_timestamp_ms, 1234);
  EXPECT_FALSE(store->Fetch("g", "t", 1).has_value());
  EXPECT_FALSE(store->Fetch("other", "t", 0).has_value());
  ASSERT_TRUE(store->Commit("g", {C("t", 0, 42)}, 1300));
  EXPECT_EQ(store->Fetch("g", "t", 0)->offset, 42);
  EXPECT_EQ(store->Fetch("g", "t", 0)->metadata, "");
}

TEST(OffsetStore, GroupsFetchGroupAndDelete) {
  auto store = OffsetStore::InMemory();
  ASSERT_TRUE(store->Commit("b", {C("t", 1, 10), C("t", 0, 5), C("a.topic", 3, 7)}, 0));
  ASSERT_TRUE(store->Commit("a", {C("t", 0, 1)}, 0));
  ASSERT_TRUE(store->Commit("b:x", {C("t", 0, 2)}, 0));
  EXPECT_EQ(store->Groups(), (std::vector<std::string>{"a", "b", "b:x"}));
  auto b = store->FetchGroup("b");
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[0].first.topic, "a.topic");
  EXPECT_EQ(b[1].first.partition, 0);
  EXPECT_EQ(b[1].second.offset, 5);
  EXPECT_EQ(b[2].first.partition, 1);
  EXPECT_TRUE(store->FetchGroup("nope").empty());
  ASSERT_TRUE(store->DeleteGroup("b"));
  EXPECT_EQ(store->Groups(), (std::vector<std::string>{"a", "b:x"}));
  EXPECT_TRUE(store->DeleteGroup("never-there"));
  EXPECT_EQ(store->Snapshot().size(), 2u);
}

TEST(OffsetStore, RejectsInvalidCommitsWholesale) {
  auto store = OffsetStore::InMemory();
  auto bad_topic = store->Commit("g", {C("t", 0, 1), C("bad:topic", 0, 1)}, 0);
  ASSERT_FALSE(bad_topic);
  EXPECT_EQ(bad_topic.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(store->Fetch("g", "t", 0).has_value()) << "all or nothing";
  EXPECT_FALSE(store->Commit("g", {C("t", -1, 1)}, 0));
  EXPECT_FALSE(store->Commit("g", {C("t", 0, 1, std::string(4097, 'm'))}, 0));
  EXPECT_TRUE(store->Commit("g", {C("t", 0, 1, std::string(4096, 'm'))}, 0));
  EXPECT_TRUE(store->Commit("g", {}, 0));
}

TEST(OffsetStore, MinCommittedOverGroupsOfATopic) {
  auto store = OffsetStore::InMemory();
  EXPECT_FALSE(store->MinCommitted("t", 0).has_value());
  ASSERT_TRUE(store->Commit("fast", {C("t", 0, 100), C("t", 1, 50)}, 0));
  ASSERT_TRUE(store->Commit("slow", {C("t", 0, 30)}, 0));
  ASSERT_TRUE(store->Commit("elsewhere", {C("u", 0, 1)}, 0));
  EXPECT_EQ(store->MinCommitted("t", 0), 30);
  EXPECT_EQ(store->MinCommitted("t", 1), 0) << "slow has consumed nothing of partition 1";
  EXPECT_EQ(store->MinCommitted("u", 0), 1);
  EXPECT_FALSE(store->MinCommitted("v", 0).has_value());
  ASSERT_TRUE(store->DeleteGroup("slow"));
  EXPECT_EQ(store->MinCommitted("t", 0), 100);
  EXPECT_EQ(store->MinCommitted("t", 1), 50);
}

// A group that asked for its offsets on a topic holds it from offset 0 until
// it commits (a consumer that joined early is never overtaken by acks).
TEST(OffsetStore, NotedConsumersHoldFromTheStart) {
  auto store = OffsetStore::InMemory();
  EXPECT_EQ(store->ConsumerGroupCount(), 0u);
  store->NoteConsumer("early", "t");
  store->NoteConsumer("early", "u");
  EXPECT_EQ(store->ConsumerGroupCount(), 1u);
  EXPECT_EQ(store->MinCommitted("t", 0), 0);
  EXPECT_FALSE(store->MinCommitted("v", 0).has_value());
  ASSERT_TRUE(store->Commit("early", {C("t", 0, 7)}, 0));
  EXPECT_EQ(store->MinCommitted("t", 0), 7);
  EXPECT_EQ(store->MinCommitted("t", 1), 0);
  ASSERT_TRUE(store->DeleteGroup("early"));
  EXPECT_FALSE(store->MinCommitted("t", 0).has_value());
  EXPECT_EQ(store->ConsumerGroupCount(), 0u);
}

TEST(OffsetStore, BackendFailureLeavesMemoryUnchanged) {
  auto backend = std::make_unique<FlakyBackend>();
  FlakyBackend* flaky = backend.get();
  auto opened = OffsetStore::Open(std::move(backend));
  ASSERT_TRUE(opened);
  auto& store = *opened;
  ASSERT_TRUE(store->Commit("g", {C("t", 0, 5), C("t", 1, 6)}, 0));
  EXPECT_EQ(flaky->last_changed.size(), 2u);
  flaky->fail = true;
  auto st = store->Commit("g", {C("t", 0, 9), C("t", 2, 1), C("t", 0, 10)}, 0);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), ErrorCode::kConnection);
  EXPECT_NE(st.error().message().find("backend down"), std::string::npos);
  EXPECT_EQ(store->Fetch("g", "t", 0)->offset, 5) << "rolled back";
  EXPECT_FALSE(store->Fetch("g", "t", 2).has_value());
  EXPECT_FALSE(store->DeleteGroup("g"));
  EXPECT_EQ(store->FetchGroup("g").size(), 2u) << "delete rolled back";
  flaky->fail = false;
  ASSERT_TRUE(store->DeleteGroup("g"));
  EXPECT_EQ(flaky->last_removed.size(), 2u);
  EXPECT_TRUE(store->Groups().empty());
}

TEST(OffsetStoreFile, PersistsAcrossReopenAtomically) {
  TempDir dir;
  const std::string path = dir.path + "/__consumer_offsets.json";
  {
    auto store = OffsetStore::OpenFile(dir.path);
    ASSERT_TRUE(store) << store.error().message();
    EXPECT_EQ((*store)->backend_name(), "file");
    EXPECT_FALSE(fs::exists(path)) << "nothing written before the first commit";
    ASSERT_TRUE(
        (*store)->Commit("g1", {C("pgcdc.orders", 0, 0), C("pgcdc.orders", 3, 17, "m")}, 111));
    ASSERT_TRUE((*store)->Commit("g:2", {C("t", 1, 5, "", 2)}, 222));
    EXPECT_TRUE(fs::exists(path));
    EXPECT_FALSE(fs::exists(path + ".tmp"));
    const std::string text = ReadFile(path);
    EXPECT_NE(text.find("\"group\":\"g1\""), std::string::npos) << text;
    EXPECT_NE(text.find("\"topic\":\"pgcdc.orders\""), std::string::npos);
    ASSERT_TRUE((*store)->DeleteGroup("g1"));
    ASSERT_TRUE((*store)->Commit("g1", {C("pgcdc.orders", 0, 0)}, 333));
  }
  auto store = OffsetStore::OpenFile(dir.path);
  ASSERT_TRUE(store) << store.error().message();
  auto c = (*store)->Fetch("g1", "pgcdc.orders", 0);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->offset, 0);
  EXPECT_EQ(c->commit_timestamp_ms, 333);
  EXPECT_FALSE((*store)->Fetch("g1", "pgcdc.orders", 3).has_value()) << "deleted before";
  auto c2 = (*store)->Fetch("g:2", "t", 1);
  ASSERT_TRUE(c2.has_value());
  EXPECT_EQ(c2->offset, 5);
  EXPECT_EQ(c2->leader_epoch, 2);
}

TEST(OffsetStoreFile, NonUtf8NamesAndMetadataRoundTrip) {
  TempDir dir;
  const std::string group(
      "gr\xff\xfe"
      "oup",
      7);
  const std::string metadata("\x00\x01\xc3(binary", 9);
  {
    auto store = OffsetStore::OpenFile(dir.path);
    ASSERT_TRUE(store);
    ASSERT_TRUE((*store)->Commit(group, {C("t", 0, 3, metadata)}, 0));
    ASSERT_TRUE((*store)->Commit("caf\xc3\xa9", {C("t", 0, 4, "\xe2\x82\xac")}, 0));
  }
  const std::string text = ReadFile(dir.path + "/__consumer_offsets.json");
  EXPECT_NE(text.find("\"group_hex\":\"6772fffe6f7570\""), std::string::npos) << text;
  auto store = OffsetStore::OpenFile(dir.path);
  ASSERT_TRUE(store) << store.error().message();
  auto c = (*store)->Fetch(group, "t", 0);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->metadata, metadata);
  auto utf8 = (*store)->Fetch("caf\xc3\xa9", "t", 0);
  ASSERT_TRUE(utf8.has_value());
  EXPECT_EQ(utf8->metadata, "\xe2\x82\xac");
}

TEST(OffsetStoreFile, CorruptFileIsAnErrorNotSilentLoss) {
  TempDir dir;
  const std::string path = dir.path + "/__consumer_offsets.json";
  for (const char* bad : {"not json", "[]", "{\"version\":2,\"offsets\":[]}", "{\"version\":1}",
                          "{\"version\":1,\"offsets\":[1]}",
                          "{\"version\":1,\"offsets\":[{\"group\":\"g\",\"partition\":0,"
                          "\"offset\":1}]}",
                          "{\"version\":1,\"offsets\":[{\"group\":\"g\",\"topic\":\"t\","
                          "\"partition\":-1,\"offset\":1}]}",
                          "{\"version\":1,\"offsets\":[{\"group_hex\":\"zz\",\"topic\":\"t\","
                          "\"partition\":0,\"offset\":1}]}",
                          "{\"version\":1,\"offsets\":[{\"group\":\"g\",\"topic\":\"t\","
                          "\"partition\":0,\"offset\":\"1\"}]}"}) {
    { std::ofstream(path) << bad; }
    auto store = OffsetStore::OpenFile(dir.path);
    ASSERT_FALSE(store) << bad;
    EXPECT_EQ(store.error().code(), ErrorCode::kParse) << bad;
    EXPECT_NE(store.error().message().find("__consumer_offsets.json"), std::string::npos);
  }
  { std::ofstream(path) << "{\"version\":1,\"offsets\":[]}"; }
  EXPECT_TRUE(OffsetStore::OpenFile(dir.path));
}

TEST(OffsetStoreFile, WriteFailureIsReported) {
  TempDir dir;
  auto store = OffsetStore::OpenFile(dir.path);
  ASSERT_TRUE(store);
  ASSERT_TRUE((*store)->Commit("g", {C("t", 0, 1)}, 0));
  // A directory where the temp file should go makes its creation fail.
  fs::create_directory(dir.path + "/__consumer_offsets.json.tmp");
  auto st = (*store)->Commit("g", {C("t", 0, 2)}, 0);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), ErrorCode::kIo);
  EXPECT_EQ((*store)->Fetch("g", "t", 0)->offset, 1);
  fs::remove(dir.path + "/__consumer_offsets.json.tmp");
  ASSERT_TRUE((*store)->Commit("g", {C("t", 0, 2)}, 0));
}

TEST(OffsetKeys, CheckpointKeyRoundTrip) {
  OffsetKey k{"my:group", "pgcdc.orders", 12};
  EXPECT_EQ(OffsetCheckpointKey(k), "kafka:my:group:pgcdc.orders:12");
  auto back = ParseOffsetCheckpointKey("kafka:my:group:pgcdc.orders:12");
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, k);
  auto empty_group = ParseOffsetCheckpointKey("kafka::t:0");
  ASSERT_TRUE(empty_group.has_value());
  EXPECT_EQ(empty_group->group, "");
  for (const char* bad : {"pgcdc_slot", "kafka:", "kafka:g:t:", "kafka:g:t:x", "kafka:t:0",
                          "kafka:g:t:99999999999", "kafka:g:bad topic:0", "kafka:g::0"}) {
    EXPECT_FALSE(ParseOffsetCheckpointKey(bad).has_value()) << bad;
  }
}

TEST(OffsetJson, EncodeDecodeRoundTrip) {
  OffsetMap m;
  m[{"g", "t", 0}] = CommittedOffset{0, -1, "", 5};
  m[{"g", "t", 1}] = CommittedOffset{INT64_MAX, 7, "x\"y\n", -1};
  auto back = DecodeOffsetsJson(EncodeOffsetsJson(m));
  ASSERT_TRUE(back) << back.error().message();
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ(back->at({"g", "t", 1}).offset, INT64_MAX);
  EXPECT_EQ(back->at({"g", "t", 1}).metadata, "x\"y\n");
  EXPECT_EQ(back->at({"g", "t", 0}).commit_timestamp_ms, 5);
  EXPECT_TRUE(DecodeOffsetsJson(EncodeOffsetsJson({}))->empty());
}

}  // namespace
}  // namespace pgcdc::adapter::kafkaserver
