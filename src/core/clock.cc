#include "core/clock.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>

#include "core/sleep.h"

namespace pgcdc {

namespace {

class SteadyClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::steady_clock::now(); }

  bool SleepFor(Duration d, const Sleeper& sleeper) override {
    if (sleeper.woken()) return false;
    if (d <= Duration::zero()) return true;
    // Beyond a year means "until woken" (and keeps Now() + d from overflowing).
    const TimePoint deadline = Now() + std::min<Duration>(d, std::chrono::hours(24 * 365));
    for (;;) {
      const Duration left = deadline - Now();
      if (left <= Duration::zero()) return !sleeper.woken();
      const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
      const timespec ts{static_cast<time_t>(ns / 1'000'000'000),
                        static_cast<long>(ns % 1'000'000'000)};
      pollfd p{sleeper.fd(), POLLIN, 0};
      const int rc = ::ppoll(&p, 1, &ts, nullptr);
      if (sleeper.woken()) return false;
      if (rc < 0 && errno != EINTR) return true;  // cannot wait (bad fd): do not spin
      // Timeout, EINTR, or a spurious readable fd: re-check the time left.
    }
  }
};

}  // namespace

Clock& RealClock() {
  static SteadyClock clock;
  return clock;
}

Clock::TimePoint FakeClock::Now() const {
  MutexLock lock(mu_);
  return now_;
}

bool FakeClock::SleepFor(Duration d, const Sleeper& sleeper) {
  std::function<void(Duration)> hook;
  {
    MutexLock lock(mu_);
    sleeps_.push_back(d);
    hook = on_sleep_;
  }
  if (sleeper.woken()) return false;
  if (hook) hook(d);
  if (sleeper.woken()) return false;
  MutexLock lock(mu_);
  if (d > Duration::zero()) now_ += d;
  return true;
}

void FakeClock::Advance(Duration d) {
  MutexLock lock(mu_);
  now_ += d;
}

std::vector<Clock::Duration> FakeClock::sleeps() const {
  MutexLock lock(mu_);
  return sleeps_;
}

void FakeClock::set_on_sleep(std::function<void(Duration)> hook) {
  MutexLock lock(mu_);
  on_sleep_ = std::move(hook);
}

}  // namespace pgcdc
