#include "pipeline/nack_window.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <vector>

#include "core/health.h"

namespace pgcdc::pipeline {
namespace {

using namespace std::chrono_literals;

TEST(NackWindowTest, ThresholdDefaultsToHalfTheWindow) {
  EXPECT_EQ(NackWindow(100, 0).threshold(), 50u);
  EXPECT_EQ(NackWindow(1, 0).threshold(), 1u);
  EXPECT_EQ(NackWindow(100, 7).threshold(), 7u);
}

TEST(NackWindowTest, ABurstOfRejectionsExceedsIt) {
  NackWindow w(10, 3);
  const uint64_t first = w.Offer(20);
  EXPECT_EQ(first, 1u);
  EXPECT_FALSE(w.Exceeded(w.Nack(1)));
  EXPECT_FALSE(w.Exceeded(w.Nack(2)));
  EXPECT_TRUE(w.Exceeded(w.Nack(3)));
}

TEST(NackWindowTest, SparseRejectionsInOneBigBatchDoNot) {
  // One event in ten rejected, all handed over in one batch: counted by
  // position, the window never holds more than a tenth.
  NackWindow w(100, 50);
  w.Offer(10'000);
  uint64_t most = 0;
  for (uint64_t p = 10; p <= 10'000; p += 10) most = std::max(most, w.Nack(p));
  EXPECT_EQ(most, 10u);
}

TEST(NackWindowTest, OldNacksSlideOutOfTheWindow) {
  NackWindow w(5, 2);
  w.Offer(3);
  EXPECT_EQ(w.Nack(1), 1u);
  w.Offer(10);
  EXPECT_EQ(w.Nack(6), 1u);  // window 2..6: 1 is out
  EXPECT_EQ(w.Nack(7), 2u);
  EXPECT_EQ(w.Nack(12), 1u);  // window 8..12
  // Out of order (parallel lanes): the fullest window around it counts.
  EXPECT_EQ(w.Nack(10), 3u);  // 6..10 holds 6, 7 and 10
}

TEST(NackWindowTest, UnknownPositionsCountAsTheLatestAndClearForgets) {
  NackWindow w(4, 2);
  w.Offer(8);
  EXPECT_EQ(w.Nack(0), 1u);   // position 8
  EXPECT_EQ(w.Nack(99), 2u);  // not offered yet: 8 too
  w.Clear();
  EXPECT_EQ(w.Nack(8), 1u);
}

// A DLQ that keeps what it records.
class RecordingDlq final : public dlq::DeadLetterQueue {
 public:
  std::string_view Kind() const override { return "test"; }
  Status Record(const Event& event, std::string_view, std::string_view) override {
    MutexLock lock(mu_);
    ids_.push_back(event.id.ToString());
    return Ok();
  }
  size_t size() const {
    MutexLock lock(mu_);
    return ids_.size();
  }

 private:
  mutable Mutex mu_;
  std::vector<std::string> ids_ GUARDED_BY(mu_);
};

struct Batch {
  explicit Batch(size_t n) : events(n) {
    for (auto& e : events) pointers.push_back(&e);
  }
  std::vector<Event> events;
  std::vector<const Event*> pointers;
};

TEST(NackWindowsTest, ExceedingTheWindowPausesTheAdapterUntilResumed) {
  Health health;
  RecordingDlq inner;
  NackWindows windows({.size = 10, .threshold = 3}, {"webhook", "file"}, &health);
  WindowedDlq dlq(inner, windows);
  Batch batch(10);
  windows.BeginDeliver("webhook", batch.pointers);
  ASSERT_TRUE(dlq.Record(batch.events[0], "webhook", "400"));
  ASSERT_TRUE(dlq.Record(batch.events[1], "webhook", "400"));
  EXPECT_FALSE(windows.Paused("webhook"));
  ASSERT_TRUE(dlq.Record(batch.events[2], "webhook", "400"));  // the third: recorded, then paused
  EXPECT_EQ(inner.size(), 3u);
  EXPECT_TRUE(windows.Paused("webhook"));
  EXPECT_FALSE(windows.Paused("file"));  // per adapter
  EXPECT_EQ(health.Overall(), HealthStatus::kDown);
  EXPECT_NE(health.ToJson().find("\"nack_window/webhook\":{\"status\":\"down\""), std::string::npos)
      << health.ToJson();
  EXPECT_EQ(metrics::AdapterCounter("pgcdc_nack_window_exceeded_total", "", "webhook").Value(), 1u);
  EXPECT_EQ(metrics::AdapterGauge("pgcdc_adapter_paused", "", "webhook").Value(), 1.0);

  // The next record, and the next delivery, wait.
  auto record = std::async(std::launch::async, [&] {
    return static_cast<bool>(dlq.Record(batch.events[3], "webhook", "400"));
  });
  auto deliver = std::async(std::launch::async, [&] { return windows.WaitWhilePaused("webhook"); });
  EXPECT_EQ(record.wait_for(0s), std::future_status::timeout);
  EXPECT_EQ(deliver.wait_for(0s), std::future_status::timeout);
  windows.ResumeAll();
  ASSERT_EQ(record.wait_for(10s), std::future_status::ready);
  ASSERT_EQ(deliver.wait_for(10s), std::future_status::ready);
  EXPECT_TRUE(record.get());
  EXPECT_TRUE(deliver.get());
  EXPECT_EQ(inner.size(), 4u);
  windows.EndDeliver("webhook");
  EXPECT_FALSE(windows.Paused("webhook"));
  EXPECT_EQ(health.Overall(), HealthStatus::kUp);
  EXPECT_NE(health.ToJson().find("\"nack_window/webhook\":{\"status\":\"up\""), std::string::npos);
  EXPECT_EQ(metrics::AdapterGauge("pgcdc_adapter_paused", "", "webhook").Value(), 0.0);
}

TEST(NackWindowsTest, RejectionsFarApartInOneDeliveryDoNotPause) {
  RecordingDlq inner;
  NackWindows windows({.size = 5, .threshold = 2}, {"webhook"}, nullptr);
  WindowedDlq dlq(inner, windows);
  Batch batch(10);
  windows.BeginDeliver("webhook", batch.pointers);
  ASSERT_TRUE(dlq.Record(batch.events[0], "webhook", "400"));
  ASSERT_TRUE(dlq.Record(batch.events[9], "webhook", "400"));  // 9 positions apart
  EXPECT_FALSE(windows.Paused("webhook"));
  ASSERT_TRUE(dlq.Record(batch.events[8], "webhook", "400"));  // reported late, next to it
  EXPECT_TRUE(windows.Paused("webhook"));
  windows.EndDeliver("webhook");
}

TEST(NackWindowsTest, ReleaseEndsTheWaitAndTheRecordFails) {
  RecordingDlq inner;
  NackWindows windows({.size = 2, .threshold = 1}, {"webhook"}, nullptr);
  WindowedDlq dlq(inner, windows);
  Event e;
  ASSERT_TRUE(dlq.Record(e, "webhook", "400"));
  ASSERT_TRUE(windows.Paused("webhook"));
  auto record = std::async(std::launch::async, [&] { return dlq.Record(e, "webhook", "400"); });
  windows.Release();
  ASSERT_EQ(record.wait_for(10s), std::future_status::ready);
  Status st = record.get();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), ErrorCode::kCancelled);
  EXPECT_EQ(inner.size(), 1u);  // never recorded, never acknowledged
  EXPECT_FALSE(windows.WaitWhilePaused("webhook"));
  // Adapters without a window (none configured for them) are never held.
  EXPECT_TRUE(dlq.Record(e, "other", "400"));
}

}  // namespace
}  // namespace pgcdc::pipeline
