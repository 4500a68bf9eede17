#include "bus/queue.h"

#include <gtest/gtest.h>

#include <thread>

namespace pgcdc::bus {
namespace {

BatchSlice MakeSlice(size_t n) {
  auto b = std::make_shared<EventBatch>();
  b->events.resize(n);
  for (size_t i = 0; i < n; ++i) b->events[i].channel = "c" + std::to_string(i);
  return BatchSlice::Whole(std::move(b));
}

TEST(BatchQueueTest, PartialPushAdmitsWhatFits) {
  BatchQueue q(5);
  EXPECT_EQ(q.TryPushPartial(MakeSlice(3)), 3u);
  EXPECT_EQ(q.TryPushPartial(MakeSlice(4)), 2u);
  EXPECT_EQ(q.TryPushPartial(MakeSlice(1)), 0u);
  std::vector<BatchSlice> out;
  ASSERT_TRUE(q.PopAll(out, std::chrono::milliseconds(0)));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].size(), 2u);
  EXPECT_EQ(out[1].events()[1].channel, "c1");  // the front of the batch was kept
  EXPECT_EQ(q.size_events(), 0u);
}

TEST(BatchQueueTest, OversizedBatchAdmittedWhenEmpty) {
  BatchQueue q(2);
  bool waited = true;
  EXPECT_TRUE(q.Push(MakeSlice(10), &waited));
  EXPECT_FALSE(waited);
}

TEST(BatchQueueTest, PushBlocksUntilConsumerMakesRoom) {
  BatchQueue q(4);
  ASSERT_TRUE(q.Push(MakeSlice(4)));
  bool waited = false;
  std::thread producer([&] { EXPECT_TRUE(q.Push(MakeSlice(2), &waited)); });
  std::vector<BatchSlice> out;
  // Wait (with a deadline) for the producer to block, then drain.
  ASSERT_TRUE(q.PopAll(out, std::chrono::milliseconds(1000)));
  producer.join();
  out.clear();
  ASSERT_TRUE(q.PopAll(out, std::chrono::milliseconds(1000)));
  size_t total = 0;
  for (auto& s : out) total += s.size();
  EXPECT_EQ(total, 2u);
}

TEST(BatchQueueTest, CloseDrainsThenEnds) {
  BatchQueue q(8);
  ASSERT_TRUE(q.Push(MakeSlice(3)));
  q.Close();
  EXPECT_FALSE(q.Push(MakeSlice(1)));
  EXPECT_EQ(q.TryPushPartial(MakeSlice(1)), 0u);
  std::vector<BatchSlice> out;
  EXPECT_TRUE(q.PopAll(out, std::chrono::milliseconds(0)));
  EXPECT_EQ(out.size(), 1u);
  out.clear();
  EXPECT_FALSE(q.PopAll(out, std::chrono::milliseconds(0)));
}

TEST(BatchQueueTest, CloseWakesBlockedProducer) {
  BatchQueue q(1);
  ASSERT_TRUE(q.Push(MakeSlice(1)));
  std::thread producer([&] { EXPECT_FALSE(q.Push(MakeSlice(1))); });
  q.Close();
  producer.join();
}

}  // namespace
}  // namespace pgcdc::bus
