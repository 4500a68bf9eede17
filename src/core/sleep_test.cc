#include "core/sleep.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <thread>

#include "core/clock.h"

namespace pgcdc {
namespace {

using namespace std::chrono_literals;

TEST(FakeClockTest, SleepAdvancesTimeAndIsRecorded) {
  FakeClock clock;
  Sleeper s({}, &clock);
  const auto t0 = clock.Now();
  EXPECT_TRUE(s.SleepFor(3s));
  EXPECT_TRUE(s.SleepFor(250ms));
  EXPECT_EQ(clock.Now() - t0, 3250ms);
  ASSERT_EQ(clock.sleeps().size(), 2u);
  EXPECT_EQ(clock.sleeps()[0], 3s);
  clock.Advance(1s);
  EXPECT_EQ(clock.Now() - t0, 4250ms);
}

TEST(FakeClockTest, SleepUntil) {
  FakeClock clock;
  Sleeper s({}, &clock);
  const auto target = clock.Now() + 5s;
  EXPECT_TRUE(s.SleepUntil(target));
  EXPECT_EQ(clock.Now(), target);
  EXPECT_TRUE(s.SleepUntil(target - 1s));  // already past: no sleep
  EXPECT_EQ(clock.sleeps().size(), 1u);
}

TEST(SleeperTest, InterruptIsStickyUntilReset) {
  FakeClock clock;
  Sleeper s({}, &clock);
  const auto t0 = clock.Now();
  s.Interrupt();
  EXPECT_TRUE(s.woken());
  EXPECT_FALSE(s.SleepFor(1s));
  EXPECT_FALSE(s.SleepFor(1s));
  EXPECT_EQ(clock.Now(), t0);  // no time passed
  s.Reset();
  EXPECT_FALSE(s.woken());
  EXPECT_TRUE(s.SleepFor(1s));
}

TEST(SleeperTest, StopTokenWakesAndResetDoesNotClearIt) {
  FakeClock clock;
  std::stop_source stop;
  Sleeper s(stop.get_token(), &clock);
  EXPECT_TRUE(s.SleepFor(1s));
  stop.request_stop();
  EXPECT_FALSE(s.SleepFor(1s));
  s.Reset();
  EXPECT_TRUE(s.woken());
}

TEST(SleeperTest, WokenDuringTheSleep) {
  FakeClock clock;
  Sleeper s({}, &clock);
  clock.set_on_sleep([&](Clock::Duration) { s.Interrupt(); });
  const auto t0 = clock.Now();
  EXPECT_FALSE(s.SleepFor(10s));
  EXPECT_EQ(clock.Now(), t0);
}

TEST(SleeperTest, AlreadyStoppedTokenWakesAtOnce) {
  std::stop_source stop;
  stop.request_stop();
  Sleeper s(stop.get_token());
  EXPECT_FALSE(s.SleepFor(10s));
  pollfd p{s.fd(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 0), 1);
}

TEST(RealSleeperTest, ShortSleepCompletes) {
  Sleeper s;
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(s.SleepFor(2ms));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 2ms);
  EXPECT_TRUE(s.SleepFor(0s));
}

TEST(RealSleeperTest, InterruptFromAnotherThreadWakesPromptly) {
  Sleeper s;
  const auto t0 = std::chrono::steady_clock::now();
  std::jthread waker([&] {
    std::this_thread::sleep_for(20ms);
    s.Interrupt();
  });
  EXPECT_FALSE(s.SleepFor(60s));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
}

TEST(RealSleeperTest, StopFromAnotherThreadWakesPollOnTheFd) {
  std::stop_source stop;
  Sleeper s(stop.get_token());
  std::jthread stopper([&] {
    std::this_thread::sleep_for(20ms);
    stop.request_stop();
  });
  pollfd p{s.fd(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 60'000), 1);
  EXPECT_TRUE(s.woken());
}

TEST(RealSleeperTest, ResetDrainsTheFd) {
  Sleeper s;
  s.Interrupt();
  s.Reset();
  pollfd p{s.fd(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 0), 0);
  EXPECT_TRUE(s.SleepFor(1ms));
}

}  // namespace
}  // namespace pgcdc
