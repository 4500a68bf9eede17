#include "core/supervisor.h"

#include <gtest/gtest.h>

#include "core/health.h"

namespace pgcdc {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

// A supervisor on a FakeClock with its own metrics registry and health.
struct Fixture {
  FakeClock clock;
  metrics::Registry registry;
  Health health;
  std::stop_source stop;
  metrics::Counter failures;

  SupervisorOptions Options(RetryPolicy retry = {}) {
    SupervisorOptions o;
    o.component = "test";
    o.registry = &registry;
    o.failures = &failures;
    o.retry = retry;
    o.health = &health;
    o.health_name = "detector";
    o.clock = &clock;
    o.seed = 7;
    return o;
  }
  double Reconnects() {
    return static_cast<double>(
        registry.AddCounter("pgcdc_detector_reconnects_total", "", {"detector"})
            .With({"test"})
            .Value());
  }
  double Connected() {
    return registry.AddGauge("pgcdc_detector_connected", "", {"detector"}).With({"test"}).Value();
  }
  // Runs a supervisor built from `options` over `serve` until it returns.
  Status Run(SupervisorOptions options, const Supervisor::ServeFn& serve) {
    Supervisor sup(std::move(options), stop.get_token());
    return sup.Run(serve);
  }
  double BackoffSeconds() {
    return registry.AddGauge("pgcdc_detector_backoff_seconds", "", {"detector"})
        .With({"test"})
        .Value();
  }
};

Status Boom() { return Fail(ErrorCode::kConnection, "boom"); }

constexpr RetryPolicy kPolicy{
    .base = milliseconds(100), .cap = milliseconds(1000), .floor = milliseconds(10)};

// kPolicy giving up after `max_attempts` failures in a row.
RetryPolicy GivingUpAfter(uint32_t max_attempts) {
  RetryPolicy p = kPolicy;
  p.max_attempts = max_attempts;
  return p;
}

TEST(SupervisorTest, RetriesWithCappedFullJitterUntilServeSucceeds) {
  Fixture f;
  int calls = 0;
  Status st = f.Run(f.Options(kPolicy), [&](Supervisor::Session& s) -> Status {
    EXPECT_EQ(s.failures(), static_cast<uint32_t>(calls));
    return ++calls <= 6 ? Boom() : Ok();
  });
  ASSERT_TRUE(st);
  EXPECT_EQ(calls, 7);
  const auto sleeps = f.clock.sleeps();
  ASSERT_EQ(sleeps.size(), 6u);
  for (uint32_t i = 0; i < sleeps.size(); ++i) {
    EXPECT_GE(sleeps[i], milliseconds(10)) << i;
    EXPECT_LT(sleeps[i], BackoffCeiling(kPolicy, i)) << i;
    EXPECT_LE(sleeps[i], milliseconds(1000)) << i;
  }
  EXPECT_EQ(f.failures.Value(), 6u);
}

TEST(SupervisorTest, JitterIsDeterministicForASeed) {
  auto run = [](uint64_t seed) {
    Fixture f;
    auto o = f.Options(kPolicy);
    o.seed = seed;
    int calls = 0;
    EXPECT_TRUE(f.Run(o, [&](Supervisor::Session&) { return ++calls < 10 ? Boom() : Ok(); }));
    return f.clock.sleeps();
  };
  EXPECT_EQ(run(1), run(1));
  EXPECT_NE(run(1), run(2));
}

TEST(SupervisorTest, HealthIsUpWhileConnectedAndDownWithTheError) {
  Fixture f;
  f.health.Register("detector");
  int calls = 0;
  f.clock.set_on_sleep([&](Clock::Duration) {
    EXPECT_EQ(f.health.Overall(), HealthStatus::kDown);
    EXPECT_NE(f.health.ToJson().find("\"last_error\":\"lost it\""), std::string::npos);
  });
  Status st = f.Run(f.Options(kPolicy), [&](Supervisor::Session& s) -> Status {
    EXPECT_EQ(f.health.Overall(), HealthStatus::kDown);
    s.Up();
    EXPECT_EQ(f.health.Overall(), HealthStatus::kUp);
    if (++calls < 3) return Fail(ErrorCode::kConnection, "lost it");
    return Ok();
  });
  ASSERT_TRUE(st);
  EXPECT_EQ(f.health.Overall(), HealthStatus::kUp);
}

TEST(SupervisorTest, CountsReconnectsConnectedAndBackoff) {
  Fixture f;
  Supervisor sup(f.Options(kPolicy), f.stop.get_token());
  int calls = 0;
  f.clock.set_on_sleep([&](Clock::Duration d) {
    EXPECT_EQ(f.Connected(), 0.0);
    EXPECT_DOUBLE_EQ(f.BackoffSeconds(), std::chrono::duration<double>(d).count());
  });
  Status st = sup.Run([&](Supervisor::Session& s) -> Status {
    ++calls;
    if (calls == 2) return Boom();  // never came up: not a reconnect
    s.Up();
    s.Up();  // idempotent
    EXPECT_EQ(f.Connected(), 1.0);
    EXPECT_EQ(f.BackoffSeconds(), 0.0);
    return calls < 4 ? Boom() : Ok();
  });
  ASSERT_TRUE(st);
  // Up in calls 1, 3 and 4: the first is the connection, the others reconnects.
  EXPECT_EQ(f.Reconnects(), 2.0);
  EXPECT_EQ(sup.reconnects(), 2u);
  EXPECT_EQ(f.Connected(), 0.0);
  EXPECT_EQ(f.failures.Value(), 3u);
}

TEST(SupervisorTest, HealthyResetStartsTheBackoffOverOnlyAfterTheHealthyPeriod) {
  Fixture f;
  RetryPolicy p = kPolicy;
  p.healthy_reset = 10s;
  std::vector<uint32_t> failures_seen;
  int calls = 0;
  Status st = f.Run(f.Options(p), [&](Supervisor::Session& s) -> Status {
    failures_seen.push_back(s.failures());
    ++calls;
    if (calls <= 2) return Boom();  // connect fails twice
    if (calls == 3) {
      s.Up();
      f.clock.Advance(5s);  // up, but not long enough
      return Boom();
    }
    if (calls == 4) {
      s.Up();
      f.clock.Advance(10s);  // healthy long enough
      return Boom();
    }
    return Ok();
  });
  ASSERT_TRUE(st);
  EXPECT_EQ(failures_seen, (std::vector<uint32_t>{0, 1, 2, 3, 1}));
}

TEST(SupervisorTest, ZeroHealthyResetResetsWheneverTheConnectionCameUp) {
  Fixture f;
  std::vector<uint32_t> failures_seen;
  int calls = 0;
  Status st = f.Run(f.Options(kPolicy), [&](Supervisor::Session& s) -> Status {
    failures_seen.push_back(s.failures());
    if (++calls == 3) s.Up();
    return calls < 5 ? Boom() : Ok();
  });
  ASSERT_TRUE(st);
  EXPECT_EQ(failures_seen, (std::vector<uint32_t>{0, 1, 2, 1, 2}));
}

TEST(SupervisorTest, StopDuringTheBackoffEndsTheLoopAtOnce) {
  Fixture f;
  int calls = 0;
  f.clock.set_on_sleep([&](Clock::Duration) { f.stop.request_stop(); });
  const auto t0 = f.clock.Now();
  Status st = f.Run(f.Options(kPolicy), [&](Supervisor::Session&) {
    ++calls;
    return Boom();
  });
  EXPECT_TRUE(st);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(f.clock.Now(), t0);  // the sleep did not run to its end
}

TEST(SupervisorTest, StopBeforeRunDoesNotServe) {
  Fixture f;
  f.stop.request_stop();
  bool served = false;
  EXPECT_TRUE(f.Run(f.Options(), [&](Supervisor::Session&) {
    served = true;
    return Ok();
  }));
  EXPECT_FALSE(served);
}

TEST(SupervisorTest, AFailureAfterAStopRequestIsNotRetriedOrCounted) {
  Fixture f;
  Status st = f.Run(f.Options(), [&](Supervisor::Session& s) -> Status {
    f.stop.request_stop();
    EXPECT_TRUE(s.stop_requested());
    return Boom();
  });
  EXPECT_TRUE(st);
  EXPECT_TRUE(f.clock.sleeps().empty());
  EXPECT_EQ(f.failures.Value(), 0u);
}

TEST(SupervisorTest, InterruptFromTheServeEndsTheLoop) {
  Fixture f;
  Supervisor sup(f.Options(), f.stop.get_token());
  int calls = 0;
  Status st = sup.Run([&](Supervisor::Session&) {
    ++calls;
    sup.Interrupt();
    return Boom();
  });
  EXPECT_TRUE(st);
  EXPECT_EQ(calls, 1);
}

TEST(SupervisorTest, CancelledMeansThePipelineIsStopping) {
  Fixture f;
  Status st = f.Run(f.Options(), [](Supervisor::Session&) {
    return Status(Fail(ErrorCode::kCancelled, "bus closed"));
  });
  EXPECT_TRUE(st);
  EXPECT_TRUE(f.clock.sleeps().empty());
}

TEST(SupervisorTest, FatalErrorEndsTheLoopWithTheError) {
  Fixture f;
  f.health.Register("detector");
  auto o = f.Options();
  o.is_fatal = [](const Error& e, bool) { return e.code() == ErrorCode::kConfig; };
  int calls = 0;
  Status st = f.Run(o, [&](Supervisor::Session&) -> Status {
    return ++calls < 3 ? Boom() : Fail(ErrorCode::kConfig, "bad setting");
  });
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), ErrorCode::kConfig);
  EXPECT_EQ(st.error().message(), "bad setting");
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(f.clock.sleeps().size(), 2u);
  EXPECT_EQ(f.failures.Value(), 2u);  // the fatal one is not a retried failure
  EXPECT_NE(f.health.ToJson().find("bad setting"), std::string::npos);
}

TEST(SupervisorTest, FatalBeforeUpRetriesOnceTheConnectionWasUp) {
  Fixture f;
  auto o = f.Options();
  o.is_fatal = FatalBeforeUp(ErrorCode::kInvalidArgument);
  {
    Status st = f.Run(o, [](Supervisor::Session&) {
      return Status(Fail(ErrorCode::kInvalidArgument, "no table"));
    });
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().message(), "no table");
  }
  int calls = 0;
  Status st = f.Run(o, [&](Supervisor::Session& s) -> Status {
    ++calls;
    if (calls == 1) s.Up();
    if (calls < 3) return Fail(ErrorCode::kInvalidArgument, "table dropped");
    return Ok();
  });
  EXPECT_TRUE(st);
  EXPECT_EQ(calls, 3);
}

TEST(SupervisorTest, GivesUpAfterMaxAttemptsInARow) {
  Fixture f;
  int calls = 0;
  Status st = f.Run(f.Options(GivingUpAfter(3)), [&](Supervisor::Session&) {
    ++calls;
    return Boom();
  });
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), ErrorCode::kConnection);
  EXPECT_EQ(st.error().message(), "gave up after 3 attempts: boom");
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(f.clock.sleeps().size(), 2u);
}

TEST(SupervisorTest, MaxAttemptsCountsOnlyFailuresInARow) {
  Fixture f;
  int calls = 0;
  Status st = f.Run(f.Options(GivingUpAfter(3)), [&](Supervisor::Session& s) -> Status {
    ++calls;
    // Every other attempt connects, then fails: that failure is the first of
    // a new row, the next failed connect the second.
    if (calls % 2 == 0) s.Up();
    return calls < 8 ? Boom() : Ok();
  });
  EXPECT_TRUE(st);
  EXPECT_EQ(calls, 8);
}

TEST(SupervisorTest, ServeSleepsThroughTheSessionSleeper) {
  Fixture f;
  Status st = f.Run(f.Options(), [&](Supervisor::Session& s) -> Status {
    s.Up();
    for (int i = 0; i < 3; ++i) {
      if (!s.sleeper().SleepFor(500ms)) return Ok();
    }
    f.stop.request_stop();
    EXPECT_FALSE(s.sleeper().SleepFor(500ms));
    return Ok();
  });
  EXPECT_TRUE(st);
  EXPECT_EQ(f.clock.sleeps().size(), 4u);
}

TEST(SupervisorTest, WorksWithoutMetricsOrHealth) {
  FakeClock clock;
  SupervisorOptions o;
  o.component = "bare";
  o.registry = nullptr;
  o.clock = &clock;
  o.retry = kPolicy;
  Supervisor sup(o, {});
  int calls = 0;
  EXPECT_TRUE(sup.Run([&](Supervisor::Session& s) -> Status {
    s.Up();
    return ++calls < 3 ? Boom() : Ok();
  }));
  EXPECT_EQ(sup.reconnects(), 2u);
}

}  // namespace
}  // namespace pgcdc
