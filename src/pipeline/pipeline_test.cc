#include "pipeline/pipeline.h"

#include <gtest/gtest.h>

#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "core/health.h"
#include "core/test_util.h"
#include "transform/payload.h"

namespace pgcdc::pipeline {
namespace {

using namespace std::chrono_literals;
using pgcdc::testing::Eventually;

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
    if (finish_at_stop && ctx.finish_delivery) {
      finished = ctx.finish_delivery();
      through_at_stop = ctx.acks->DeliveredThrough();
    }
    return Ok();
  }
  bool finish_at_stop = false;  // at the stop, wait for delivery like the WAL detector
  std::atomic<bool> finished{false};
  std::atomic<uint64_t> through_at_stop{0};
  std::atomic<bool> published{false};
  const DeliveryWatermark* acks = nullptr;

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

// A pipeline under test: a FakeDetector, the adapters added before Start()
// (or Run()), and the pipeline's Run() on a thread from Start() to Stop(). The
// detector and adapter pointers stay valid while the harness lives.
class Harness {
 public:
  explicit Harness(size_t count, std::vector<std::string> channels, bool fail = false)
      : owned_detector_(std::make_unique<FakeDetector>(count, std::move(channels), fail)),
        det_(owned_detector_.get()) {}
  ~Harness() {
    // A test that did not stop the pipeline itself does not look at its result.
    if (runner_.joinable()) (void)Stop();
  }

  template <class A = RecordingAdapter, class... Args>
  A* Add(Args&&... args) {
    auto adapter = std::make_unique<A>(std::forward<Args>(args)...);
    A* raw = adapter.get();
    adapters_.push_back(std::move(adapter));
    return raw;
  }

  // Runs the pipeline on this thread (for runs that end by themselves).
  Status Run() {
    Build();
    return pipeline_->Run(stop_.get_token());
  }
  void Start() {
    Build();
    runner_ = std::thread([this] { result_ = pipeline_->Run(stop_.get_token()); });
  }
  // Requests a stop and waits for Run() to return; its status.
  Status Stop() {
    stop_.request_stop();
    runner_.join();
    return result_;
  }
  FakeDetector* det() const { return det_; }
  Pipeline& pipeline() { return *pipeline_; }
  // Destroys the pipeline (waits for its workers).
  void Destroy() { pipeline_.reset(); }

  Options opts;
  Health health;

 private:
  void Build() {
    pipeline_.emplace(opts, std::move(owned_detector_), std::move(adapters_), health);
  }

  std::unique_ptr<FakeDetector> owned_detector_;
  std::vector<adapter::AdapterPtr> adapters_;
  std::optional<Pipeline> pipeline_;
  std::stop_source stop_;
  std::thread runner_;
  Status result_;
  FakeDetector* const det_;
};

TEST(PipelineTest, ReliableModeDeliversEverythingAndRoutesFilter) {
  Harness h(1000, {"a", "b"});
  auto* all = h.Add("all");
  auto* only_a = h.Add("only_a");
  h.opts.bus = {.buffer_size = 16, .mode = bus::Mode::kReliable};
  h.opts.routes["only_a"] = {"a"};
  h.Start();
  ASSERT_TRUE(Eventually([&] { return h.det()->published.load() && all->seen().size() == 1000; }));
  EXPECT_TRUE(h.pipeline().ready());
  EXPECT_EQ(h.health.Overall(), HealthStatus::kUp);
  const Status result = h.Stop();
  ASSERT_TRUE(result) << result.error().message();
  EXPECT_FALSE(h.pipeline().ready());
  auto seen = all->seen();
  for (size_t i = 0; i < seen.size(); ++i) ASSERT_EQ(seen[i], i);
  auto chans = only_a->channels();
  EXPECT_EQ(chans.size(), 500u);
  for (auto& c : chans) ASSERT_EQ(c, "a");
  EXPECT_GT(all->flushes_.load(), 0);
}

TEST(PipelineTest, AcksReachTheLastEventOnlyAfterEveryAdapterFlushed) {
  Harness h(300, {"a", "b"});
  h.Add("fast_sink");
  auto* slow = h.Add("slow_sink", 5ms);
  h.opts.bus = {.buffer_size = 64, .mode = bus::Mode::kReliable};
  h.opts.routes["fast_sink"] = {"a"};  // route-skipped events count as handled
  h.Start();
  ASSERT_TRUE(Eventually([&] { return h.det()->published.load(); }));
  // Never ahead of what the slow adapter has actually received.
  for (int i = 0; i < 50; ++i) {
    const uint64_t through = h.det()->acks->DeliveredThrough();
    EXPECT_LE(through, slow->seen().size());
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_TRUE(Eventually([&] { return h.det()->acks->DeliveredThrough() == 300; }));
  ASSERT_TRUE(h.Stop());
}

// What a checkpointing detector confirms at an orderly stop: with
// finish_delivery, everything the adapters were handed (they finish and flush
// first), not just what they had acknowledged when the stop came.
TEST(PipelineTest, FinishDeliveryAtStopCoversEverythingPublished) {
  Harness h(2000, {"a"});
  h.det()->finish_at_stop = true;
  auto* slow = h.Add("slow_sink", 5ms);
  h.opts.bus = {.buffer_size = 64, .mode = bus::Mode::kReliable};
  h.Start();
  ASSERT_TRUE(Eventually([&] { return h.det()->published.load(); }));
  const uint64_t at_stop = h.det()->acks->DeliveredThrough();
  ASSERT_TRUE(h.Stop());
  EXPECT_LT(at_stop, 2000u);  // there was something left to finish
  EXPECT_TRUE(h.det()->finished.load());
  EXPECT_EQ(h.det()->through_at_stop.load(), 2000u);
  EXPECT_EQ(slow->seen().size(), 2000u);
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
  Harness h(100, {"a"});
  auto* holder = h.Add<HoldingAdapter>("holder");
  h.opts.bus = {.buffer_size = 64, .mode = bus::Mode::kReliable};
  h.opts.poll_interval = 5ms;
  h.Start();
  ASSERT_TRUE(Eventually([&] { return holder->seen().size() == 100; }));
  // Seq 1 is held: nothing may be confirmed, however often the worker flushes.
  const int flushes = holder->flushes_.load();
  ASSERT_TRUE(Eventually([&] { return holder->flushes_.load() > flushes + 3; }));
  EXPECT_EQ(h.det()->acks->DeliveredThrough(), 0u);
  holder->oldest = 41;  // consumers passed seq 40
  ASSERT_TRUE(Eventually([&] { return h.det()->acks->DeliveredThrough() == 40; }));
  holder->oldest = 0;  // nothing held any more
  ASSERT_TRUE(Eventually([&] { return h.det()->acks->DeliveredThrough() == 100; }));
  ASSERT_TRUE(h.Stop());
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
  Harness h(300, {"a", "b"});
  auto* all = h.Add("all");
  auto* none = h.Add("no_a");
  h.opts.bus = {.buffer_size = 64, .mode = bus::Mode::kReliable};
  h.opts.transforms.global = DropChain("b");
  h.opts.transforms.per_adapter["no_a"] = DropChain("a");
  h.Start();
  ASSERT_TRUE(Eventually([&] { return h.det()->published.load(); }));
  ASSERT_TRUE(Eventually([&] { return h.det()->acks->DeliveredThrough() == 300; }))
      << h.det()->acks->DeliveredThrough();
  ASSERT_TRUE(h.Stop());
  auto chans = all->channels();
  EXPECT_EQ(chans.size(), 150u);
  for (auto& c : chans) ASSERT_EQ(c, "a");
  EXPECT_TRUE(none->seen().empty());
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
  Harness h(200, {"a"});
  auto* slow = h.Add("slow", 2ms);
  h.opts.bus = {.buffer_size = 1000, .mode = bus::Mode::kReliable};
  h.opts.shutdown_timeout = 10s;
  h.Start();
  ASSERT_TRUE(Eventually([&] { return h.det()->published.load(); }));
  const Status result = h.Stop();
  ASSERT_TRUE(result) << result.error().message();
  EXPECT_EQ(slow->seen().size(), 200u);
}

TEST(PipelineTest, DetectorFailureStopsPipelineWithItsError) {
  Harness h(5, {"a"}, /*fail=*/true);
  h.Add("sink");
  auto result = h.Run();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().message(), "detector fake: boom");
}

TEST(PipelineTest, ClosedSinkEndsPipelineCleanly) {
  Harness h(100, {"a"});
  h.Add("closing", 0ms, /*close_after=*/10);
  h.opts.bus.mode = bus::Mode::kReliable;
  auto result = h.Run();  // no stop is requested: the sink closing must end Run
  EXPECT_TRUE(result) << result.error().message();
}

TEST(PipelineTest, StuckAdapterHitsShutdownTimeout) {
  Harness h(50, {"a"});
  h.Add("stuck", 300ms);
  h.opts.bus = {.buffer_size = 1000, .mode = bus::Mode::kReliable};
  h.opts.shutdown_timeout = 100ms;
  h.Start();
  ASSERT_TRUE(Eventually([&] { return h.det()->published.load(); }));
  const Status result = h.Stop();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), ErrorCode::kTimeout);
  h.Destroy();  // waits for the worker to come back from the slow sink
}

}  // namespace
}  // namespace pgcdc::pipeline
