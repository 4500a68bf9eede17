#include "adapter/arrow/store.h"

#include <gtest/gtest.h>

namespace pgcdc::adapter::arrow {
namespace {

EntryPtr E(const std::string& channel, int i) {
  auto e = std::make_shared<Entry>();
  e->channel = channel;
  e->id = std::to_string(i);
  return e;
}

std::vector<std::string> Ids(const Slice& s) {
  std::vector<std::string> out;
  for (const auto& e : s.entries) out.push_back(e->id);
  return out;
}

TEST(ArrowStore, OffsetsAreAbsoluteAcrossWraps) {
  Store store(3);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(store.Append(E("a", i)), i < 3 ? 0u : 1u);
  store.Append(E("b", 100));
  const auto a = store.Channel("a");
  EXPECT_EQ(a.first, 2u);
  EXPECT_EQ(a.next, 5u);
  EXPECT_EQ(a.oldest->id, "2");
  auto slice = store.Read("a", 3, 100);
  ASSERT_TRUE(slice);
  EXPECT_EQ(slice->first, 3u);
  EXPECT_EQ(Ids(*slice), (std::vector<std::string>{"3", "4"}));
  // The next read continues exactly where the previous one ended, even after
  // the ring moved on.
  store.Append(E("a", 5));
  auto more = store.Read("a", 5, 100);
  ASSERT_TRUE(more);
  EXPECT_EQ(Ids(*more), (std::vector<std::string>{"5"}));
  EXPECT_EQ(store.total(), 4u);
  EXPECT_EQ(store.channel_count(), 2u);
  auto channels = store.Channels();
  ASSERT_EQ(channels.size(), 2u);
  EXPECT_EQ(channels[0].channel, "a");
  EXPECT_EQ(channels[1].channel, "b");
}

TEST(ArrowStore, EvictedAndFutureOffsetsAreRefusedNamingTheOldest) {
  Store store(2);
  for (int i = 0; i < 4; ++i) store.Append(E("a", i));
  auto gone = store.Read("a", 1, 10);
  ASSERT_FALSE(gone);
  EXPECT_NE(gone.error().message().find("the oldest available offset is 2"), std::string::npos)
      << gone.error().message();
  auto ahead = store.Read("a", 5, 10);
  ASSERT_FALSE(ahead);
  EXPECT_NE(ahead.error().message().find("past the newest"), std::string::npos);
  auto at_end = store.Read("a", 4, 10);
  ASSERT_TRUE(at_end);
  EXPECT_TRUE(at_end->entries.empty());
  auto oldest = store.Read("a", std::nullopt, 10);
  ASSERT_TRUE(oldest);
  EXPECT_EQ(oldest->first, 2u);
  EXPECT_EQ(Ids(*oldest), (std::vector<std::string>{"2", "3"}));
  auto limited = store.Read("a", 2, 1);
  ASSERT_TRUE(limited);
  EXPECT_EQ(Ids(*limited), (std::vector<std::string>{"2"}));
  // Unknown channel: empty at offset 0.
  EXPECT_TRUE(store.Read("nope", 0, 10));
  EXPECT_FALSE(store.Read("nope", 1, 10));
}

}  // namespace
}  // namespace pgcdc::adapter::arrow
