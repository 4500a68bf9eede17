#include "bus/bus.h"

#include <gtest/gtest.h>

#include <thread>

#include "core/metrics.h"

namespace pgcdc::bus {
namespace {

EventBatch MakeBatch(size_t n, size_t start = 0) {
  EventBatch b;
  b.events.resize(n);
  for (size_t i = 0; i < n; ++i) b.events[i].lsn = start + i;
  return b;
}

// Drains a queue until it closes; returns the LSNs seen in order.
std::vector<uint64_t> DrainAll(BatchQueue& q) {
  std::vector<uint64_t> seen;
  std::vector<BatchSlice> out;
  while (true) {
    out.clear();
    const bool open = q.PopAll(out, std::chrono::milliseconds(50));
    for (auto& s : out)
      for (auto& e : s.events()) seen.push_back(e.lsn);
    if (!open) break;
  }
  return seen;
}

TEST(BusTest, ParseMode) {
  EXPECT_EQ(*ParseMode("fast"), Mode::kFast);
  EXPECT_EQ(*ParseMode("reliable"), Mode::kReliable);
  auto bad = ParseMode("turbo");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(), "unknown bus mode: \"turbo\" (expected fast or reliable)");
}

TEST(BusTest, ReliableFanOutDeliversEverythingInOrderToEverySubscriber) {
  Bus bus({.buffer_size = 16, .mode = Mode::kReliable});
  auto& a = bus.Subscribe("reliable_a");
  auto& b = bus.Subscribe("reliable_b");
  bus.Start();
  std::vector<uint64_t> seen_a, seen_b;
  std::thread ta([&] { seen_a = DrainAll(a); });
  std::thread tb([&] { seen_b = DrainAll(b); });
  constexpr size_t kBatches = 500, kPer = 7;
  for (size_t i = 0; i < kBatches; ++i) ASSERT_TRUE(bus.Publish(MakeBatch(kPer, i * kPer)));
  bus.CloseIngest();
  bus.Join();
  ta.join();
  tb.join();
  ASSERT_EQ(seen_a.size(), kBatches * kPer);
  ASSERT_EQ(seen_b, seen_a);
  for (size_t i = 0; i < seen_a.size(); ++i) ASSERT_EQ(seen_a[i], i);
}

TEST(BusTest, FastModeDropsOnlyForTheFullSubscriberAndCountsIt) {
  Bus bus({.buffer_size = 4, .mode = Mode::kFast});
  auto& slow = bus.Subscribe("fast_slow");
  auto& quick = bus.Subscribe("fast_quick");
  bus.Start();
  std::vector<uint64_t> seen_quick;
  std::thread tq([&] { seen_quick = DrainAll(quick); });
  // `slow` never reads until the end, so it keeps at most 4 events.
  for (size_t i = 0; i < 4; ++i) {
    ASSERT_TRUE(bus.Publish(MakeBatch(1, i)));
  }
  ASSERT_TRUE(bus.Publish(MakeBatch(3, 100)));
  bus.CloseIngest();
  bus.Join();
  tq.join();
  auto seen_slow = DrainAll(slow);
  EXPECT_EQ(seen_slow.size(), 4u);
  auto dropped = metrics::Default()
                     .AddCounter("pgcdc_events_dropped_total", "", {"adapter"})
                     .With({"fast_slow"})
                     .Value();
  EXPECT_EQ(dropped, 3u);
  EXPECT_EQ(seen_slow.size() + dropped, 7u);
  auto quick_dropped = metrics::Default()
                           .AddCounter("pgcdc_events_dropped_total", "", {"adapter"})
                           .With({"fast_quick"})
                           .Value();
  EXPECT_EQ(seen_quick.size() + quick_dropped, 7u);
}

TEST(BusTest, ClosedSubscriberDoesNotBlockReliableBus) {
  Bus bus({.buffer_size = 2, .mode = Mode::kReliable});
  auto& gone = bus.Subscribe("gone");
  auto& live = bus.Subscribe("live");
  gone.Close();
  bus.Start();
  std::vector<uint64_t> seen;
  std::thread t([&] { seen = DrainAll(live); });
  for (size_t i = 0; i < 100; ++i) ASSERT_TRUE(bus.Publish(MakeBatch(1, i)));
  bus.CloseIngest();
  bus.Join();
  t.join();
  EXPECT_EQ(seen.size(), 100u);
}

TEST(BusTest, PublishAfterCloseFails) {
  Bus bus({});
  bus.Start();
  bus.CloseIngest();
  EXPECT_FALSE(bus.Publish(MakeBatch(1)));
}

}  // namespace
}  // namespace pgcdc::bus
