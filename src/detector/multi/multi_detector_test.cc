#include "detector/multi/multi_detector.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <thread>
#include <utility>

#include "core/ack_poll.h"
#include "core/health.h"
#include "core/mutex.h"
#include "core/uuid.h"
#include "pipeline/ack_tracker.h"

namespace pgcdc::detector::multi {
namespace {

using namespace std::chrono_literals;

// A settable delivered-through, standing in for the pipeline's AckTracker.
class FakeAcks final : public pipeline::DeliveryWatermark {
 public:
  uint64_t DeliveredThrough() const override { return through.load(); }
  size_t size() const override { return 1; }
  std::atomic<uint64_t> through = 0;
};

TEST(ChildWatermarkTest, TranslatesBusSeqIntoChildSeq) {
  FakeAcks acks;
  ChildWatermark a(&acks);
  ChildWatermark b(&acks);
  // Bus order: a1 a2 b1 a3 b2 b3 (child seqs 10.., 100..).
  a.Map(1, 10);
  a.Map(2, 11);
  b.Map(3, 100);
  a.Map(4, 12);
  b.Map(5, 101);
  b.Map(6, 102);
  EXPECT_EQ(a.pending_runs(), 2u);  // 1-2 merged, 4 alone
  EXPECT_EQ(a.DeliveredThrough(), 0u);
  acks.through = 1;
  EXPECT_EQ(a.DeliveredThrough(), 10u);
  EXPECT_EQ(b.DeliveredThrough(), 0u);
  acks.through = 3;
  EXPECT_EQ(a.DeliveredThrough(), 11u);
  EXPECT_EQ(b.DeliveredThrough(), 100u);
  acks.through = 5;
  EXPECT_EQ(a.DeliveredThrough(), 12u);
  EXPECT_EQ(b.DeliveredThrough(), 101u);
  EXPECT_EQ(a.pending_runs(), 0u);
  acks.through = 6;
  EXPECT_EQ(b.DeliveredThrough(), 102u);
  EXPECT_EQ(a.DeliveredThrough(), 12u);  // stays at its last confirmed seq
}

TEST(ChildWatermarkTest, GapsInChildNumberingStartNewRuns) {
  FakeAcks acks;
  ChildWatermark w(&acks);
  w.Map(1, 1);
  w.Map(2, 5);  // the child skipped numbers (e.g. a resumed snapshot)
  w.Map(3, 6);
  EXPECT_EQ(w.pending_runs(), 2u);
  acks.through = 2;
  EXPECT_EQ(w.DeliveredThrough(), 5u);
  acks.through = 3;
  EXPECT_EQ(w.DeliveredThrough(), 6u);
}

TEST(ChildWatermarkTest, NoParentConfirmsNothing) {
  ChildWatermark w(nullptr);
  w.Map(1, 1);
  EXPECT_EQ(w.DeliveredThrough(), 0u);
  EXPECT_EQ(w.size(), 0u);
}

TEST(IdWindowTest, RemembersTheLastIds) {
  IdWindow w(2);
  const Uuid a = NewUuidV7();
  const Uuid b = NewUuidV7();
  const Uuid c = NewUuidV7();
  EXPECT_FALSE(w.Seen(a));
  EXPECT_TRUE(w.Seen(a));
  EXPECT_FALSE(w.Seen(b));
  EXPECT_FALSE(w.Seen(c));  // evicts a
  EXPECT_FALSE(w.Seen(a));
  EXPECT_TRUE(w.Seen(c));
  IdWindow off(0);
  EXPECT_FALSE(off.Seen(a));
  EXPECT_FALSE(off.Seen(a));
}

TEST(ModeTest, NamesRoundTrip) {
  for (Mode m : {Mode::kParallel, Mode::kSequential, Mode::kFailover}) {
    EXPECT_EQ(ParseMode(ModeName(m)), m);
  }
  EXPECT_FALSE(ParseMode("round-robin").has_value());
}

// A scripted child: optionally reports up, publishes `events` events with
// its own seq numbering from `first_seq`, waits until they are delivered in
// its own numbering, then finishes, fails or waits for stop.
class ScriptedDetector final : public Detector {
 public:
  struct Script {
    bool report_up = true;
    int events = 0;
    uint64_t first_seq = 1;
    std::optional<Uuid> same_id;  // every event carries this id
    enum class End { kFinish, kFail, kWaitForStop } end = End::kWaitForStop;
  };
  explicit ScriptedDetector(Script s) : script_(s) {}
  std::string_view Name() const override { return "scripted"; }
  std::atomic<bool> delivered = false;
  std::atomic<bool> ran = false;

  Status Run(RunContext& ctx) override {
    ran = true;
    if (script_.report_up && ctx.health != nullptr) ctx.health->Up(ctx.health_name);
    EventBatch batch;
    for (int i = 0; i < script_.events; ++i) {
      Event e;
      e.id = script_.same_id ? *script_.same_id : NewUuidV7();
      e.channel = "pgcdc:t";
      e.seq = script_.first_seq + static_cast<uint64_t>(i);
      batch.events.push_back(std::move(e));
    }
    const uint64_t last = script_.first_seq + static_cast<uint64_t>(script_.events) - 1;
    if (script_.events > 0) {
      if (!ctx.publish(std::move(batch))) return Ok();
      if (ctx.acks != nullptr &&
          WaitForAck(*ctx.acks, last, ctx.stop, {.max_pause = 1ms}) == WaitResult::kDone) {
        delivered = true;
      }
    }
    switch (script_.end) {
      case Script::End::kFinish:
        return Ok();
      case Script::End::kFail:
        return Fail(ErrorCode::kConnection, "scripted failure");
      case Script::End::kWaitForStop:
        while (!ctx.stop.stop_requested()) std::this_thread::sleep_for(1ms);
        return Ok();
    }
    return Ok();
  }

 private:
  Script script_;
};

// The pipeline side: a bus that acknowledges every event at once and records
// what it saw.
struct FakeBus {
  Mutex mu;
  std::vector<Event> events GUARDED_BY(mu);
  FakeAcks acks;
  bool Publish(EventBatch&& batch) {
    MutexLock lock(mu);
    for (Event& e : batch.events) {
      if (e.seq != 0) {
        EXPECT_GT(e.seq, acks.through.load());  // strictly increasing on the bus
        acks.through = e.seq;
      }
      events.push_back(std::move(e));
    }
    return true;
  }
  size_t size() {
    MutexLock lock(mu);
    return events.size();
  }
};

struct Harness {
  FakeBus bus;
  Health health;
  std::stop_source stop;
  RunContext ctx;
  Harness() {
    ctx.stop = stop.get_token();
    ctx.publish = [this](EventBatch&& b) { return bus.Publish(std::move(b)); };
    ctx.health = &health;
    ctx.acks = &bus.acks;
  }
};

using Script = ScriptedDetector::Script;
using End = Script::End;

// A composite of two scripted children "a" and "b" over a Harness.
struct Pair {
  Pair(const Script& sa, const Script& sb, Options options) {
    auto da = std::make_unique<ScriptedDetector>(sa);
    auto db = std::make_unique<ScriptedDetector>(sb);
    a = da.get();
    b = db.get();
    std::vector<Child> children;
    children.push_back({"a", std::move(da)});
    children.push_back({"b", std::move(db)});
    m = std::make_unique<MultiDetector>(std::move(children), options);
  }
  Status Run() { return m->Run(h.ctx); }
  Harness h;
  ScriptedDetector* a = nullptr;
  ScriptedDetector* b = nullptr;
  std::unique_ptr<MultiDetector> m;
};

TEST(MultiDetectorTest, ParallelRenumbersAndEachChildSeesItsOwnAcks) {
  Pair t({.events = 50, .first_seq = 1, .end = End::kFinish},
         {.events = 70, .first_seq = 1000, .end = End::kFinish}, {.mode = Mode::kParallel});
  ASSERT_TRUE(t.Run().has_value());
  EXPECT_EQ(t.h.bus.size(), 120u);
  EXPECT_TRUE(t.a->delivered);
  EXPECT_TRUE(t.b->delivered);
  EXPECT_EQ(t.h.health.Get("detector:a")->status, HealthStatus::kUp);
}

TEST(MultiDetectorTest, ParallelFirstErrorStopsTheOthers) {
  Pair t({.end = End::kWaitForStop}, {.events = 1, .end = End::kFail}, {.mode = Mode::kParallel});
  Status st = t.Run();
  ASSERT_FALSE(st.has_value());
  EXPECT_NE(st.error().message().find("detector b: scripted failure"), std::string::npos);
  EXPECT_EQ(t.h.health.Get("detector:b")->status, HealthStatus::kDown);
}

TEST(MultiDetectorTest, ParallelDedupDropsRepeatedIdsButStillAcknowledges) {
  const Uuid id = NewUuidV7();
  Pair t({.events = 1, .same_id = id, .end = End::kFinish},
         {.events = 1, .same_id = id, .end = End::kFinish},
         {.mode = Mode::kParallel, .dedup_window = 16});
  ASSERT_TRUE(t.Run().has_value());
  MutexLock lock(t.h.bus.mu);
  ASSERT_EQ(t.h.bus.events.size(), 2u);
  EXPECT_NE(t.h.bus.events[0].filtered, t.h.bus.events[1].filtered);  // exactly one dropped
  EXPECT_TRUE(t.a->delivered);  // the dropped one's position is acknowledged too
  EXPECT_TRUE(t.b->delivered);
}

TEST(MultiDetectorTest, SequentialRunsChildrenInOrder) {
  Pair t({.events = 3, .end = End::kFinish}, {.events = 2, .end = End::kFinish},
         {.mode = Mode::kSequential});
  ASSERT_TRUE(t.Run().has_value());
  EXPECT_EQ(t.h.bus.size(), 5u);
  EXPECT_TRUE(t.b->delivered);
}

TEST(MultiDetectorTest, SequentialStopsAtTheFirstError) {
  Pair t({.end = End::kFail}, {.events = 2, .end = End::kFinish}, {.mode = Mode::kSequential});
  EXPECT_FALSE(t.Run().has_value());
  EXPECT_FALSE(t.b->ran);
}

TEST(MultiDetectorTest, FailoverMovesOnFromAChildThatNeverComesUp) {
  Pair t({.report_up = false, .end = End::kWaitForStop}, {.events = 4, .end = End::kWaitForStop},
         {.mode = Mode::kFailover, .failover_timeout = 50ms, .poll_interval = 5ms});
  std::thread stopper([&] {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!t.b->delivered && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(1ms);
    }
    t.h.stop.request_stop();
  });
  Status st = t.Run();
  stopper.join();
  EXPECT_TRUE(st.has_value());
  EXPECT_TRUE(t.b->delivered);
  EXPECT_EQ(t.h.bus.size(), 4u);
  EXPECT_EQ(t.h.health.Get("detector:a")->status, HealthStatus::kDegraded);
  EXPECT_NE(t.h.health.Get("detector:a")->last_error.find("never connected"), std::string::npos);
}

TEST(MultiDetectorTest, FailoverExhausted) {
  Pair t({.end = End::kFail}, {.end = End::kFail}, {.mode = Mode::kFailover});
  Status st = t.Run();
  ASSERT_FALSE(st.has_value());
  EXPECT_NE(st.error().message().find("all failover detectors exhausted"), std::string::npos);
  EXPECT_TRUE(t.b->ran);
}

}  // namespace
}  // namespace pgcdc::detector::multi
