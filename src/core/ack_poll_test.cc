#include "core/ack_poll.h"

#include <gtest/gtest.h>

#include <thread>

#include "pipeline/ack_tracker.h"

namespace pgcdc {
namespace {

using namespace std::chrono_literals;

TEST(PollUntilTest, DoneAtOnceDoesNotSleep) {
  FakeClock clock;
  Sleeper s({}, &clock);
  EXPECT_EQ(PollUntil([] { return true; }, s), WaitResult::kDone);
  EXPECT_TRUE(clock.sleeps().empty());
}

TEST(PollUntilTest, PausesDoubleUpToTheMaximum) {
  FakeClock clock;
  Sleeper s({}, &clock);
  int looks = 0;
  auto r = PollUntil([&] { return ++looks == 7; }, s, {.first_pause = 1ms, .max_pause = 10ms});
  EXPECT_EQ(r, WaitResult::kDone);
  EXPECT_EQ(clock.sleeps(), (std::vector<Clock::Duration>{1ms, 2ms, 4ms, 8ms, 10ms, 10ms}));
}

TEST(PollUntilTest, DeadlineClipsTheLastPauseAndTimesOut) {
  FakeClock clock;
  Sleeper s({}, &clock);
  const auto start = clock.Now();
  auto r = PollUntil([] { return false; }, s,
                     {.first_pause = 4ms, .max_pause = 4ms, .deadline = start + 10ms});
  EXPECT_EQ(r, WaitResult::kTimedOut);
  EXPECT_EQ(clock.Now(), start + 10ms);
  EXPECT_EQ(clock.sleeps(), (std::vector<Clock::Duration>{4ms, 4ms, 2ms}));
}

TEST(PollUntilTest, SlowCallbackRunsEveryInterval) {
  FakeClock clock;
  Sleeper s({}, &clock);
  std::vector<Clock::Duration> slow;
  int looks = 0;
  auto r = PollUntil([&] { return ++looks > 35; }, s,
                     {.first_pause = 1s,
                      .max_pause = 1s,
                      .slow_every = 10s,
                      .on_slow = [&](Clock::Duration waited) { slow.push_back(waited); }});
  EXPECT_EQ(r, WaitResult::kDone);
  EXPECT_EQ(slow, (std::vector<Clock::Duration>{10s, 20s, 30s}));
}

TEST(WaitForAckTest, WaitsUntilEveryAdapterAcked) {
  FakeClock clock;
  Sleeper s({}, &clock);
  pipeline::AckTracker acks(2);
  int sleeps = 0;
  clock.set_on_sleep([&](Clock::Duration) {
    ++sleeps;
    if (sleeps == 2) acks.Ack(0, 10);  // one adapter is not enough
    if (sleeps == 4) acks.Ack(1, 12);
  });
  EXPECT_EQ(WaitForAck(acks, 10, s), WaitResult::kDone);
  EXPECT_EQ(sleeps, 4);
  EXPECT_GE(acks.DeliveredThrough(), 10u);
}

TEST(WaitForAckTest, StopEndsTheWait) {
  FakeClock clock;
  std::stop_source stop;
  pipeline::AckTracker acks(1);
  clock.set_on_sleep([&](Clock::Duration) {
    if (clock.sleeps().size() == 3) stop.request_stop();
  });
  EXPECT_EQ(WaitForAck(acks, 1, stop.get_token(), {}, &clock), WaitResult::kWoken);
  EXPECT_EQ(clock.sleeps().size(), 3u);
}

TEST(WaitForAckTest, AckedAtTheLastMomentCountsAsDone) {
  FakeClock clock;
  Sleeper s({}, &clock);
  pipeline::AckTracker acks(1);
  clock.set_on_sleep([&](Clock::Duration) {
    acks.Ack(0, 5);
    s.Interrupt();
  });
  EXPECT_EQ(WaitForAck(acks, 5, s), WaitResult::kDone);
}

TEST(WaitForAckTest, AlreadyDeliveredNeedsNoSleeper) {
  pipeline::AckTracker acks(1);
  acks.Ack(0, 3);
  std::stop_source stop;
  stop.request_stop();
  EXPECT_EQ(WaitForAck(acks, 3, stop.get_token()), WaitResult::kDone);
  EXPECT_EQ(WaitForAck(acks, 4, stop.get_token()), WaitResult::kWoken);
}

TEST(WaitForAckTest, RealClockSeesAnAckFromAnotherThread) {
  pipeline::AckTracker acks(1);
  Sleeper s;
  std::jthread adapter([&] {
    std::this_thread::sleep_for(5ms);
    acks.Ack(0, 100);
  });
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  EXPECT_EQ(WaitForAck(acks, 100, s, {.deadline = deadline}), WaitResult::kDone);
}

}  // namespace
}  // namespace pgcdc
