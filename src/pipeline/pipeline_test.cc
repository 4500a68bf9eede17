#include "pipeline/pipeline.h"

#include <gtest/gtest.h>

#include <mutex>
#include <thread>

#include "core/health.h"
#include "transform/payload.h"

namespace pgcdc::pipeline {
namespace {

using namespace std::chrono_literals;

// Emits `count` events round-robin over `channels`, then either waits for stop
// or (fail=true) returns an error.
class FakeDetector : public detector::Detector {
 public:
  FakeDetector(size_t count, std::vector<std::string> channels, bool fail = false)
      : count_(count), channels_(std::move(channels)), fail_(fail) {}
  std::string_view Name() const override { return "fake"; }
  Status Run(detector::RunContext& ctx) override {
    acks = ctx.acks;
    if (ctx.health != nullptr) ctx.health->Up(ctx.health_name);
    for (size_t i = 0; i < count_; i += 10) {
      EventBatch b;
      for (size_t j = i; j < std::min(count_, i + 10); ++j) {
        Event e;
        e.channel = channels_[j % channels_.size()];
        e.lsn = j;
        e.seq = j + 1;
        b.events.push_back(std::move(e));
      }
      if (!ctx.publish(std::move(b))) return Ok();
    }
    published = true;
    if (fail_) return Fail(ErrorCode::kConnection, "boom");
    while (!ctx.stop.stop_requested()) std::this_thread::sleep_for(1ms);
    return Ok();
  }
  std::atomic<bool> published{false};
  const AckTracker* acks = nullptr;

 private:
  size_t count_;
  std::vector<std::string> channels_;
  bool fail_;
};

class RecordingAdapter : public adapter::Adapter {
 public:
  explicit RecordingAdapter(std::string name, std::chrono::milliseconds delay = 0ms,
                            size_t close_after = SIZE_MAX)
      : name_(std::move(name)), delay_(delay), close_after_(close_after) {}
  std::string_view Name() const override { return name_; }
  Status Deliver(std::span<const Event* const> events) override {
    std::lock_guard lock(mu_);
    for (auto* e : events) {
      if (seen_.size() >= close_after_) return Fail(ErrorCode::kClosed, "gone");
      seen_.push_back(e->lsn);
      channels_.push_back(e->channel);
    }
    if (delay_ > 0ms) std::this_thread::sleep_for(delay_);
    return Ok();
  }
  Status Flush() override {
    ++flushes_;
    return Ok();
  }
  std::vector<uint64_t> seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }
  std::vector<std::string> channels() {
    std::lock_guard lock(mu_);
    return channels_;
  }
  std::atomic<int> flushes_{0};

 private:
  std::string name_;
  std::chrono::milliseconds delay_;
  size_t close_after_;
  std::mutex mu_;
  std::vector<uint64_t> seen_;
  std::vector<std::string> channels_;
};

template <class Pred>
bool WaitFor(Pred pred, std::chrono::milliseconds deadline = 5000ms) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(2ms);
  }
  return pred();
}

TEST(PipelineTest, ReliableModeDeliversEverythingAndRoutesFilter) {
  auto det = std::make_unique<FakeDetector>(1000, std::vector<std::string>{"a", "b"});
  auto* det_raw = det.get();
  auto all = std::make_unique<RecordingAdapter>("all");
  auto only_a = std::make_unique<RecordingAdapter>("only_a");
  auto* all_raw = all.get();
  auto* a_raw = only_a.get();
  std::vector<adapter::AdapterPtr> adapters;
  adapters.push_back(std::move(all));
  adapters.push_back(std::move(only_a));
  Options opts;
  opts.bus = {.buffer_size = 16, .mode = bus::Mode::kReliable};
  opts.routes["only_a"] = {"a"};
  Health health;
  Pipeline p(opts, std::move(det), std::move(adapters), health);
  std::stop_source stop;
  Status result;
  std::thread runner([&] { result = p.Run(stop.get_token()); });
  ASSERT_TRUE(WaitFor([&] { return det_raw->published.load() && all_raw->seen().size() == 1000; }));
  EXPECT_TRUE(p.ready());
  EXPECT_EQ(health.Overall(), HealthStatus::kUp);
  stop.request_stop();
  runner.join();
  ASSERT_TRUE(result) << result.error().message();
  EXPECT_FALSE(p.ready());
  auto seen = all_raw->seen();
  for (size_t i = 0; i < seen.size(); ++i) ASSERT_EQ(seen[i], i);
  auto chans = a_raw->channels();
  EXPECT_EQ(chans.size(), 500u);
  for (auto& c : chans) ASSERT_EQ(c, "a");
  EXPECT_GT(all_raw->flushes_.load(), 0);
}

TEST(PipelineTest, AcksReachTheLastEventOnlyAfterEveryAdapterFlushed) {
  auto det = std::make_unique<FakeDetector>(300, std::vector<std::string>{"a", "b"});
  auto* det_raw = det.get();
  auto fast = std::make_unique<RecordingAdapter>("fast_sink");
  auto slow = std::make_unique<RecordingAdapter>("slow_sink", 5ms);
  auto* slow_raw = slow.get();
  std::vector<adapter::AdapterPtr> adapters;
  adapters.push_back(std::move(fast));
  adapters.push_back(std::move(slow));
  Options opts;
  opts.bus = {.buffer_size = 64, .mode = bus::Mode::kReliable};
  opts.routes["fast_sink"] = {"a"};  // route-skipped events count as handled
  Health health;
  Pipeline p(opts, std::move(det), std::move(adapters), health);
  std::stop_source stop;
  Status result;
  std::thread runner([&] { result = p.Run(stop.get_token()); });
  ASSERT_TRUE(WaitFor([&] { return det_raw->published.load(); }));
  // Never ahead of what the slow adapter has actually received.
  for (int i = 0; i < 50; ++i) {
    const uint64_t through = det_raw->acks->DeliveredThrough();
    EXPECT_LE(through, slow_raw->seen().size());
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_TRUE(WaitFor([&] { return det_raw->acks->DeliveredThrough() == 300; }));
  stop.request_stop();
  runner.join();
  ASSERT_TRUE(result);
}

// Holds every event it received until released (like a broker waiting for
// consumers to commit).
class HoldingAdapter : public RecordingAdapter {
 public:
  using RecordingAdapter::RecordingAdapter;
  Status Deliver(std::span<const Event* const> events) override {
    for (auto* e : events) {
      uint64_t cur = oldest.load();
      if (cur == 0) oldest.compare_exchange_strong(cur, e->seq);
    }
    return RecordingAdapter::Deliver(events);
  }
  std::optional<uint64_t> OldestHeldSeq() const override {
    const uint64_t v = oldest.load();
    return v == 0 ? std::nullopt : std::optional<uint64_t>(v);
  }
  std::atomic<uint64_t> oldest{0};
};

TEST(PipelineTest, DeferredAcknowledgementHoldsTheSourceBack) {
  auto det = std::make_unique<FakeDetector>(100, std::vector<std::string>{"a"});
  auto* det_raw = det.get();
  auto holder = std::make_unique<HoldingAdapter>("holder");
  auto* holder_raw = holder.get();
  std::vector<adapter::AdapterPtr> adapters;
  adapters.push_back(std::move(holder));
  Options opts;
  opts.bus = {.buffer_size = 64, .mode = bus::Mode::kReliable};
  opts.poll_interval = 5ms;
  Health health;
  Pipeline p(opts, std::move(det), std::move(adapters), health);
  std::stop_source stop;
  Status result;
  std::thread runner([&] { result = p.Run(stop.get_token()); });
  ASSERT_TRUE(WaitFor([&] { return holder_raw->seen().size() == 100; }));
  // Seq 1 is held: nothing may be confirmed, however often the worker flushes.
  const int flushes = holder_raw->flushes_.load();
  ASSERT_TRUE(WaitFor([&] { return holder_raw->flushes_.load() > flushes + 3; }));
  EXPECT_EQ(det_raw->acks->DeliveredThrough(), 0u);
  holder_raw->oldest = 41;  // consumers passed seq 40
  ASSERT_TRUE(WaitFor([&] { return det_raw->acks->DeliveredThrough() == 40; }));
  holder_raw->oldest = 0;  // nothing held any more
  ASSERT_TRUE(WaitFor([&] { return det_raw->acks->DeliveredThrough() == 100; }));
  stop.request_stop();
  runner.join();
  ASSERT_TRUE(result);
}

// Drops events of one channel.
class DropChannel : public transform::Transform {
 public:
  explicit DropChannel(std::string channel) : channel_(std::move(channel)) {}
  std::string_view Type() const override { return "drop_channel"; }
  Result<transform::Verdict> ApplyTo(transform::PayloadContext& ctx) override {
    return ctx.event().channel == channel_ ? transform::Verdict::kDrop : transform::Verdict::kKeep;
  }

 private:
  std::string channel_;
};

transform::ChainPtr DropChain(const std::string& channel) {
  return std::make_shared<const transform::Chain>(
      std::vector<transform::TransformPtr>{std::make_shared<DropChannel>(channel)});
}

TEST(PipelineTest, GlobalDropsAreAcknowledgedAndAdapterChainsAreIsolated) {
  // 300 events alternate a/b; the global chain drops every "b" event, and the
  // last events of the stream are "b" ones, so the checkpoint must still reach
  // the very last seq. Adapter "no_a" additionally drops "a" on its own copy.
  auto det = std::make_unique<FakeDetector>(300, std::vector<std::string>{"a", "b"});
  auto* det_raw = det.get();
  auto all = std::make_unique<RecordingAdapter>("all");
  auto none = std::make_unique<RecordingAdapter>("no_a");
  auto* all_raw = all.get();
  auto* none_raw = none.get();
  std::vector<adapter::AdapterPtr> adapters;
  adapters.push_back(std::move(all));
  adapters.push_back(std::move(none));
  Options opts;
  opts.bus = {.buffer_size = 64, .mode = bus::Mode::kReliable};
  opts.transforms.global = DropChain("b");
  opts.transforms.per_adapter["no_a"] = DropChain("a");
  Health health;
  Pipeline p(opts, std::move(det), std::move(adapters), health);
  std::stop_source stop;
  Status result;
  std::thread runner([&] { result = p.Run(stop.get_token()); });
  ASSERT_TRUE(WaitFor([&] { return det_raw->published.load(); }));
  ASSERT_TRUE(WaitFor([&] { return det_raw->acks->DeliveredThrough() == 300; }))
      << det_raw->acks->DeliveredThrough();
  stop.request_stop();
  runner.join();
  ASSERT_TRUE(result);
  auto chans = all_raw->channels();
  EXPECT_EQ(chans.size(), 150u);
  for (auto& c : chans) ASSERT_EQ(c, "a");
  EXPECT_TRUE(none_raw->seen().empty());
}

TEST(AckTrackerTest, MinimumOverAdaptersAndMonotonic) {
  AckTracker t(3);
  EXPECT_EQ(t.DeliveredThrough(), 0u);
  t.Ack(0, 10);
  t.Ack(1, 5);
  t.Ack(2, 7);
  EXPECT_EQ(t.DeliveredThrough(), 5u);
  t.Ack(1, 3);  // never goes back
  EXPECT_EQ(t.DeliveredThrough(), 5u);
  t.Ack(1, 20);
  EXPECT_EQ(t.DeliveredThrough(), 7u);
  EXPECT_EQ(AckTracker(0).DeliveredThrough(), 0u);
}

TEST(PipelineTest, ShutdownDrainsQueuedEvents) {
  // A slow adapter still receives everything already published when stop
  // is requested, within the shutdown timeout.
  auto det = std::make_unique<FakeDetector>(200, std::vector<std::string>{"a"});
  auto* det_raw = det.get();
  auto slow = std::make_unique<RecordingAdapter>("slow", 2ms);
  auto* slow_raw = slow.get();
  std::vector<adapter::AdapterPtr> adapters;
  adapters.push_back(std::move(slow));
  Options opts;
  opts.bus = {.buffer_size = 1000, .mode = bus::Mode::kReliable};
  opts.shutdown_timeout = 10s;
  Health health;
  Pipeline p(opts, std::move(det), std::move(adapters), health);
  std::stop_source stop;
  Status result;
  std::thread runner([&] { result = p.Run(stop.get_token()); });
  ASSERT_TRUE(WaitFor([&] { return det_raw->published.load(); }));
  stop.request_stop();
  runner.join();
  ASSERT_TRUE(result) << result.error().message();
  EXPECT_EQ(slow_raw->seen().size(), 200u);
}

TEST(PipelineTest, DetectorFailureStopsPipelineWithItsError) {
  auto det = std::make_unique<FakeDetector>(5, std::vector<std::string>{"a"}, /*fail=*/true);
  std::vector<adapter::AdapterPtr> adapters;
  adapters.push_back(std::make_unique<RecordingAdapter>("sink"));
  Health health;
  Pipeline p(Options{}, std::move(det), std::move(adapters), health);
  std::stop_source stop;
  auto result = p.Run(stop.get_token());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().message(), "detector fake: boom");
}

TEST(PipelineTest, ClosedSinkEndsPipelineCleanly) {
  auto det = std::make_unique<FakeDetector>(100, std::vector<std::string>{"a"});
  std::vector<adapter::AdapterPtr> adapters;
  adapters.push_back(std::make_unique<RecordingAdapter>("closing", 0ms, /*close_after=*/10));
  Options opts;
  opts.bus.mode = bus::Mode::kReliable;
  Health health;
  Pipeline p(opts, std::move(det), std::move(adapters), health);
  std::stop_source stop;  // never requested: the sink closing must end Run
  auto result = p.Run(stop.get_token());
  EXPECT_TRUE(result) << result.error().message();
}

TEST(PipelineTest, StuckAdapterHitsShutdownTimeout) {
  auto det = std::make_unique<FakeDetector>(50, std::vector<std::string>{"a"});
  auto* det_raw = det.get();
  std::vector<adapter::AdapterPtr> adapters;
  auto slow = std::make_unique<RecordingAdapter>("stuck", 300ms);
  adapters.push_back(std::move(slow));
  Options opts;
  opts.bus = {.buffer_size = 1000, .mode = bus::Mode::kReliable};
  opts.shutdown_timeout = 100ms;
  Health health;
  auto p = std::make_unique<Pipeline>(opts, std::move(det), std::move(adapters), health);
  std::stop_source stop;
  Status result;
  std::thread runner([&] { result = p->Run(stop.get_token()); });
  ASSERT_TRUE(WaitFor([&] { return det_raw->published.load(); }));
  stop.request_stop();
  runner.join();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), ErrorCode::kTimeout);
  p.reset();  // waits for the worker to come back from the slow sink
}

}  // namespace
}  // namespace pgcdc::pipeline
