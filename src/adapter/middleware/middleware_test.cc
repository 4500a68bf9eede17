#include "adapter/middleware/middleware.h"

#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <thread>

#include "adapter/middleware/flow.h"
#include "core/metrics.h"
#include "dlq/dlq.h"

namespace pgcdc::middleware {
namespace {

using std::chrono::milliseconds;

TEST(CircuitBreaker, OpensAfterConsecutiveFailuresAndProbesOnce) {
  CircuitBreaker b(3, milliseconds(100));
  auto t = Clock::time_point{} + std::chrono::hours(1);
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(b.Acquire(t).allowed);
    b.OnFailure(false, t);
  }
  ASSERT_TRUE(b.Acquire(t).allowed);
  b.OnSuccess(false);  // success resets the count
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(b.Acquire(t).allowed);
    b.OnFailure(false, t);
  }
  EXPECT_EQ(b.state(), CircuitBreaker::State::kOpen);
  auto p = b.Acquire(t + milliseconds(40));
  EXPECT_FALSE(p.allowed);
  EXPECT_EQ(p.wait, milliseconds(60));
  auto probe = b.Acquire(t + milliseconds(100));
  EXPECT_TRUE(probe.allowed);
  EXPECT_TRUE(probe.probe);
  EXPECT_EQ(b.state(), CircuitBreaker::State::kHalfOpen);
  // Only one probe at a time.
  EXPECT_FALSE(b.Acquire(t + milliseconds(101)).allowed);
  b.OnFailure(true, t + milliseconds(110));
  EXPECT_EQ(b.state(), CircuitBreaker::State::kOpen);
  EXPECT_FALSE(b.Acquire(t + milliseconds(150)).allowed);
  auto probe2 = b.Acquire(t + milliseconds(210));
  ASSERT_TRUE(probe2.probe);
  b.OnSuccess(true);
  EXPECT_EQ(b.state(), CircuitBreaker::State::kClosed);
}

TEST(CircuitBreaker, DisabledAlwaysAllows) {
  CircuitBreaker b(0, milliseconds(1));
  for (int i = 0; i < 100; ++i) b.OnFailure(false, Clock::now());
  EXPECT_TRUE(b.Acquire(Clock::now()).allowed);
  EXPECT_EQ(b.state(), CircuitBreaker::State::kClosed);
}

TEST(TokenBucket, BurstThenRate) {
  TokenBucket tb(10, 2);  // 10/s, burst 2
  auto t = Clock::time_point{} + std::chrono::hours(1);
  EXPECT_EQ(tb.Take(t), Clock::duration::zero());
  EXPECT_EQ(tb.Take(t), Clock::duration::zero());
  auto w = tb.Take(t);  // third: must wait ~100 ms
  EXPECT_NEAR(std::chrono::duration<double>(w).count(), 0.1, 1e-6);
  auto w2 = tb.Take(t);  // reservations queue up
  EXPECT_NEAR(std::chrono::duration<double>(w2).count(), 0.2, 1e-6);
  // After a second the bucket is full again (capped at the burst).
  EXPECT_EQ(tb.Take(t + std::chrono::seconds(2)), Clock::duration::zero());
}

TEST(Validate, BurstDefaultsToTheRate) {
  Options o;
  EXPECT_EQ(RateBurst(o), 1);
  o.rate_limit = 50;
  EXPECT_EQ(RateBurst(o), 50);
  EXPECT_TRUE(Validate(o, "x.").empty());
  o.rate_burst = 3;
  EXPECT_EQ(RateBurst(o), 3);
}

TEST(Validate, ZeroBurstWithRateIsAnError) {
  Options o;
  o.rate_limit = 100;
  o.rate_burst = 0;
  auto errors = Validate(o, "webhook.");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("webhook.rate_limit_burst"), std::string::npos);
  o.rate_burst = 1;
  EXPECT_TRUE(Validate(o, "webhook.").empty());
  o.max_attempts = 0;
  o.concurrency = 0;
  EXPECT_EQ(Validate(o, "x.").size(), 2u);
  EXPECT_TRUE(ValidateFlow(o, "x.").empty()) << "only breaker and rate limit settings";
  o.rate_burst = 0;
  o.breaker_failures = -1;
  EXPECT_EQ(ValidateFlow(o, "kafka.").size(), 2u);
}

TEST(FlowControl, CountsRateWaitsAndBreakerTransitions) {
  Options o;
  o.rate_limit = 10;
  o.rate_burst = 2;
  o.breaker_failures = 2;
  o.breaker_reset = milliseconds(100);
  FlowControl flow("flow_test", o);
  EXPECT_TRUE(flow.rate_limited());
  EXPECT_TRUE(flow.breaker_enabled());
  const auto t0 = Clock::now();
  EXPECT_EQ(flow.TakeTokens(2, t0), Clock::duration::zero()) << "the burst";
  EXPECT_EQ(flow.TakeTokens(1, t0), milliseconds(100)) << "one token every 100 ms";
  auto& waits = metrics::AdapterCounter("pgcdc_rate_limit_waits_total", "", "flow_test");
  EXPECT_EQ(waits.Value(), 1u);

  auto& state = metrics::AdapterGauge("pgcdc_circuit_breaker_state", "", "flow_test");
  flow.OnFailure(false, t0);
  EXPECT_EQ(flow.state(), CircuitBreaker::State::kClosed);
  flow.OnFailure(false, t0);
  EXPECT_EQ(flow.state(), CircuitBreaker::State::kOpen);
  EXPECT_EQ(state.Value(), 1.0);
  EXPECT_FALSE(flow.Acquire(t0 + milliseconds(50)).allowed);
  const auto probe = flow.Acquire(t0 + milliseconds(100));
  EXPECT_TRUE(probe.allowed && probe.probe);
  EXPECT_EQ(state.Value(), 2.0);
  flow.OnSuccess(true);
  EXPECT_EQ(state.Value(), 0.0);
  auto& opened =
      metrics::Default()
          .AddCounter("pgcdc_circuit_breaker_transitions_total", "", {"adapter", "state"})
          .With({"flow_test", "open"});
  EXPECT_EQ(opened.Value(), 1u);

  FlowControl off("flow_test_off", Options{});
  EXPECT_FALSE(off.rate_limited());
  EXPECT_FALSE(off.breaker_enabled());
  EXPECT_EQ(off.TakeTokens(1000, t0), Clock::duration::zero());
}

// A DLQ that remembers what it got.
class MemoryDlq : public dlq::DeadLetterQueue {
 public:
  std::string_view Kind() const override { return "memory"; }
  Status Record(const Event& e, std::string_view adapter, std::string_view error) override {
    std::lock_guard lock(mu);
    if (fail) return Fail(ErrorCode::kConnection, "dlq down");
    records.push_back({e.payload, std::string(error)});
    return Ok();
  }
  std::mutex mu;
  bool fail = false;
  std::vector<std::pair<std::string, std::string>> records;
};

// A scripted peer: decides per attempt from the payload and attempt number.
class FakeDeliverer : public Deliverer {
 public:
  using Script = std::function<SendResult(const std::string& payload, int attempt)>;
  explicit FakeDeliverer(Script s) : script_(std::move(s)) {}
  std::string_view Name() const override { return "fake"; }
  SendResult Send(size_t lane, std::span<const Event* const> events,
                  Clock::time_point deadline) override {
    std::lock_guard lock(mu_);
    const std::string& key = events.front()->payload;
    const int attempt = ++attempts_[key];
    auto r = script_(key, attempt);
    if (r) {
      for (const Event* e : events) delivered_.push_back(e->channel + "/" + e->payload);
      batches_.push_back(events.size());
    }
    return r;
  }
  std::vector<std::string> delivered() {
    std::lock_guard lock(mu_);
    return delivered_;
  }
  int attempts(const std::string& key) {
    std::lock_guard lock(mu_);
    return attempts_[key];
  }
  std::vector<size_t> batches() {
    std::lock_guard lock(mu_);
    return batches_;
  }
  // Pipelining: windows of units seen by SendPipelined.
  size_t depth = 1;
  size_t PipelineDepth() const override { return depth; }
  void SendPipelined(size_t lane, std::span<const std::span<const Event* const>> units,
                     Clock::time_point deadline, std::vector<SendResult>& results) override {
    {
      std::lock_guard lock(mu_);
      windows_.push_back(units.size());
    }
    Deliverer::SendPipelined(lane, units, deadline, results);
  }
  std::vector<size_t> windows() {
    std::lock_guard lock(mu_);
    return windows_;
  }

 private:
  std::vector<size_t> windows_;
  Script script_;
  std::mutex mu_;
  std::map<std::string, int> attempts_;
  std::vector<std::string> delivered_;
  std::vector<size_t> batches_;
};

std::vector<Event> MakeEvents(int n, int channels = 1) {
  std::vector<Event> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(
        MakeEvent("ch" + std::to_string(i % channels), "INSERT", std::to_string(i), "test"));
  }
  return out;
}

std::vector<const Event*> Ptrs(const std::vector<Event>& events) {
  std::vector<const Event*> p;
  for (const auto& e : events) p.push_back(&e);
  return p;
}

Options Fast() {
  Options o;
  o.backoff_base = milliseconds(1);
  o.backoff_cap = milliseconds(4);
  o.attempt_timeout = milliseconds(1000);
  return o;
}

struct Harness {
  Harness(Options o, FakeDeliverer::Script script, size_t depth = 1) {
    auto d = std::make_unique<FakeDeliverer>(std::move(script));
    d->depth = depth;
    fake = d.get();
    adapter =
        std::make_unique<ReliableAdapter>("test_" + std::to_string(++counter), o, std::move(d));
    adapter::Services s;
    s.dlq = &dlq;
    EXPECT_TRUE(adapter->Attach(s));
    EXPECT_TRUE(adapter->Open());
  }
  ~Harness() { adapter->Close(); }
  static inline int counter = 0;
  MemoryDlq dlq;
  FakeDeliverer* fake;
  std::unique_ptr<ReliableAdapter> adapter;
};

TEST(ReliableAdapter, RetriesUntilSuccess) {
  Harness h(Fast(), [](const std::string& p, int attempt) -> SendResult {
    if (p == "1" && attempt < 3) return std::unexpected(SendError::Retryable("503"));
    return {};
  });
  auto events = MakeEvents(3);
  ASSERT_TRUE(h.adapter->Deliver(Ptrs(events)));
  EXPECT_EQ(h.fake->delivered(), (std::vector<std::string>{"ch0/0", "ch0/1", "ch0/2"}));
  EXPECT_EQ(h.fake->attempts("1"), 3);
  EXPECT_TRUE(h.dlq.records.empty());
}

TEST(ReliableAdapter, PipelinedWindowsRetryAndDeadLetterPerUnit) {
  Harness h(
      Fast(),
      [](const std::string& p, int attempt) -> SendResult {
        if (p == "1" && attempt < 3) return std::unexpected(SendError::Retryable("503"));
        if (p == "5") return std::unexpected(SendError::Permanent("HTTP 400"));
        return {};
      },
      4);
  auto events = MakeEvents(10);
  ASSERT_TRUE(h.adapter->Deliver(Ptrs(events)));
  // Event 1 failed in its window and was retried before the rest of the
  // window's results were handled; it arrives after 2 and 3 (sent with it).
  EXPECT_EQ(h.fake->delivered(),
            (std::vector<std::string>{"ch0/0", "ch0/2", "ch0/3", "ch0/1", "ch0/4", "ch0/6", "ch0/7",
                                      "ch0/8", "ch0/9"}));
  EXPECT_EQ(h.fake->attempts("1"), 3);
  EXPECT_EQ(h.fake->windows(), (std::vector<size_t>{4, 4, 2}));
  ASSERT_EQ(h.dlq.records.size(), 1u);
  EXPECT_EQ(h.dlq.records[0].first, "5");
}

TEST(ReliableAdapter, PipelinedRetryableFailuresExhaustToTheDlq) {
  Options o = Fast();
  o.max_attempts = 2;
  Harness h(
      o,
      [](const std::string& p, int) -> SendResult {
        if (p == "2") return std::unexpected(SendError::Retryable("503"));
        return {};
      },
      8);
  auto events = MakeEvents(4);
  ASSERT_TRUE(h.adapter->Deliver(Ptrs(events)));
  EXPECT_EQ(h.fake->attempts("2"), 2);
  ASSERT_EQ(h.dlq.records.size(), 1u);
  EXPECT_NE(h.dlq.records[0].second.find("gave up after 2 attempts"), std::string::npos)
      << h.dlq.records[0].second;
  EXPECT_EQ(h.fake->delivered().size(), 3u);
}

TEST(ReliableAdapter, PermanentFailureGoesToDlqAndFlowContinues) {
  Harness h(Fast(), [](const std::string& p, int) -> SendResult {
    if (p == "1") return std::unexpected(SendError::Permanent("HTTP 400"));
    return {};
  });
  auto events = MakeEvents(3);
  ASSERT_TRUE(h.adapter->Deliver(Ptrs(events)));
  EXPECT_EQ(h.fake->delivered(), (std::vector<std::string>{"ch0/0", "ch0/2"}));
  ASSERT_EQ(h.dlq.records.size(), 1u);
  EXPECT_EQ(h.dlq.records[0].first, "1");
  EXPECT_EQ(h.dlq.records[0].second, "rejected: HTTP 400");
  EXPECT_EQ(h.fake->attempts("1"), 1);
}

TEST(ReliableAdapter, ExhaustedRetriesGoToDlq) {
  Options o = Fast();
  o.max_attempts = 4;
  Harness h(o, [](const std::string& p, int) -> SendResult {
    if (p == "0") return std::unexpected(SendError::Retryable("connection refused"));
    return {};
  });
  auto events = MakeEvents(2);
  ASSERT_TRUE(h.adapter->Deliver(Ptrs(events)));
  EXPECT_EQ(h.fake->attempts("0"), 4);
  ASSERT_EQ(h.dlq.records.size(), 1u);
  EXPECT_EQ(h.dlq.records[0].second, "gave up after 4 attempts: connection refused");
  EXPECT_EQ(h.fake->delivered(), (std::vector<std::string>{"ch0/1"}));
}

TEST(ReliableAdapter, OpenBreakerHoldsEventsInsteadOfDeadLettering) {
  Options o = Fast();
  o.max_attempts = 3;
  o.breaker_failures = 2;
  o.breaker_reset = milliseconds(5);
  // The peer is down for the first 8 attempts of event 0: more than its
  // retry budget, but probes do not count, so it is delivered eventually.
  Harness h(o, [](const std::string& p, int attempt) -> SendResult {
    if (p == "0" && attempt <= 8) return std::unexpected(SendError::Retryable("503"));
    return {};
  });
  auto events = MakeEvents(2);
  ASSERT_TRUE(h.adapter->Deliver(Ptrs(events)));
  EXPECT_TRUE(h.dlq.records.empty());
  EXPECT_EQ(h.fake->delivered(), (std::vector<std::string>{"ch0/0", "ch0/1"}));
  EXPECT_EQ(h.fake->attempts("0"), 9);
}

TEST(ReliableAdapter, BatchesKeepOrder) {
  Options o = Fast();
  o.batch_size = 4;
  Harness h(o, [](const std::string&, int) -> SendResult { return {}; });
  auto events = MakeEvents(10);
  ASSERT_TRUE(h.adapter->Deliver(Ptrs(events)));
  EXPECT_EQ(h.fake->batches(), (std::vector<size_t>{4, 4, 2}));
  EXPECT_EQ(h.fake->delivered().size(), 10u);
  EXPECT_EQ(h.fake->delivered().back(), "ch0/9");
}

TEST(ReliableAdapter, BatchesAreCappedInBytes) {
  Options o = Fast();
  o.batch_size = 100;
  auto events = MakeEvents(10);
  // Room for three envelopes per unit, not four.
  o.batch_bytes = events[0].Json().size() * 3 + events[0].Json().size() / 2;
  Harness h(o, [](const std::string&, int) -> SendResult { return {}; });
  ASSERT_TRUE(h.adapter->Deliver(Ptrs(events)));
  EXPECT_EQ(h.fake->batches(), (std::vector<size_t>{3, 3, 3, 1}));
  EXPECT_EQ(h.fake->delivered().back(), "ch0/9");
}

TEST(ReliableAdapter, AnEventBiggerThanTheByteCapIsSentAlone) {
  Options o = Fast();
  o.batch_size = 100;
  o.batch_bytes = 1;
  Harness h(o, [](const std::string&, int) -> SendResult { return {}; });
  auto events = MakeEvents(3);
  ASSERT_TRUE(h.adapter->Deliver(Ptrs(events)));
  EXPECT_EQ(h.fake->batches(), (std::vector<size_t>{1, 1, 1}));
}

TEST(ReliableAdapter, ConcurrencyKeepsPerChannelOrder) {
  Options o = Fast();
  o.concurrency = 4;
  Harness h(o, [](const std::string& p, int attempt) -> SendResult {
    // Make some events slow to fail so lanes interleave.
    if (std::stoi(p) % 7 == 0 && attempt == 1) return std::unexpected(SendError::Retryable("x"));
    return {};
  });
  auto events = MakeEvents(200, 5);
  ASSERT_TRUE(h.adapter->Deliver(Ptrs(events)));
  auto got = h.fake->delivered();
  ASSERT_EQ(got.size(), 200u);
  std::map<std::string, int> last;
  for (const auto& g : got) {
    auto slash = g.find('/');
    const std::string ch = g.substr(0, slash);
    const int n = std::stoi(g.substr(slash + 1));
    auto it = last.find(ch);
    if (it != last.end()) {
      EXPECT_GT(n, it->second) << "out of order on " << ch;
    }
    last[ch] = n;
  }
}

TEST(ReliableAdapter, DlqFailureFailsTheDelivery) {
  Harness h(Fast(), [](const std::string&, int) -> SendResult {
    return std::unexpected(SendError::Permanent("400"));
  });
  h.dlq.fail = true;
  auto events = MakeEvents(1);
  auto st = h.adapter->Deliver(Ptrs(events));
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message().find("dead letter queue"), std::string::npos);
}

TEST(ReliableAdapter, InterruptEndsAWait) {
  Options o = Fast();
  o.max_attempts = 1000;
  o.backoff_base = milliseconds(1000);
  o.backoff_cap = milliseconds(1000);
  Harness h(o, [](const std::string&, int) -> SendResult {
    return std::unexpected(SendError::Retryable("down"));
  });
  auto events = MakeEvents(1);
  std::thread t([&] {
    std::this_thread::sleep_for(milliseconds(50));
    h.adapter->Interrupt();
  });
  auto st = h.adapter->Deliver(Ptrs(events));
  t.join();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), ErrorCode::kCancelled);
  EXPECT_TRUE(h.dlq.records.empty());
}

TEST(ReliableAdapter, RateLimitPacesEvents) {
  Options o = Fast();
  o.rate_limit = 200;  // 5 ms apart after the burst
  o.rate_burst = 1;
  Harness h(o, [](const std::string&, int) -> SendResult { return {}; });
  auto events = MakeEvents(11);
  const auto start = Clock::now();
  ASSERT_TRUE(h.adapter->Deliver(Ptrs(events)));
  EXPECT_GE(Clock::now() - start, milliseconds(45));
  EXPECT_EQ(h.fake->delivered().size(), 11u);
}

TEST(ReliableAdapter, OpenWithoutDlqIsAnError) {
  ReliableAdapter a("nodlq", Fast(), std::make_unique<FakeDeliverer>([](const std::string&, int) {
                      return SendResult{};
                    }));
  EXPECT_FALSE(a.Open());
}

}  // namespace
}  // namespace pgcdc::middleware
