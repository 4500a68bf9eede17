// Clock: the seam for time in loops that wait (LevelDB's Env idea): steady
// "now" plus an interruptible sleep. Production code uses RealClock(); tests
// hand a FakeClock to the Sleeper/Supervisor under test, so backoff, health
// resets and deadlines are checked without sleeping.
#pragma once

#include <chrono>
#include <functional>
#include <vector>

#include "core/mutex.h"

namespace pgcdc {

class Sleeper;

class Clock {
 public:
  using Duration = std::chrono::steady_clock::duration;
  using TimePoint = std::chrono::steady_clock::time_point;

  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
  // Blocks for up to `d`, or less when `sleeper` is woken (stop requested or
  // Interrupt()) before or during the wait. True when the whole time passed
  // without a wake-up. Thread-safe.
  [[nodiscard]] virtual bool SleepFor(Duration d, const Sleeper& sleeper) = 0;
};

// std::chrono::steady_clock, sleeping in ppoll() on the sleeper's eventfd.
// Process-wide, stateless, thread-safe.
Clock& RealClock();

// A manual clock for tests. Now() moves only through Advance() and SleepFor():
// a sleep returns at once, records its duration and advances the time by it
// (unless the sleeper is already woken, or becomes woken in the on_sleep hook,
// in which case the time stays and the sleep returns false). Thread-safe; the
// hook runs without the internal lock, on the sleeping thread.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimePoint start = TimePoint{} + std::chrono::hours(1)) : now_(start) {}

  TimePoint Now() const override;
  [[nodiscard]] bool SleepFor(Duration d, const Sleeper& sleeper) override;

  void Advance(Duration d);
  // Every sleep requested so far, in order (also the interrupted ones).
  std::vector<Duration> sleeps() const;
  // Called at the start of every sleep with its duration (e.g. to request a
  // stop, Interrupt() or change what the code under test is waiting for).
  void set_on_sleep(std::function<void(Duration)> hook);

 private:
  mutable Mutex mu_;
  TimePoint now_ GUARDED_BY(mu_);
  std::vector<Duration> sleeps_ GUARDED_BY(mu_);
  std::function<void(Duration)> on_sleep_ GUARDED_BY(mu_);
};

}  // namespace pgcdc
