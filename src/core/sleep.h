// Sleeper: the one interruptible sleep. SleepFor(d) waits up to `d` and
// returns false early when its stop token is requested or when Interrupt()
// is called from any thread. Both are sticky: once woken, every later sleep
// returns false at once (until Reset()). fd() is an eventfd that becomes
// readable at the same moment, so a thread blocked in poll() on a socket wakes
// too (put it next to the socket).
//
// Owns the eventfd and the stop callback (deregistered before the fd is
// closed, so a callback racing with destruction never writes a closed fd).
// Time goes through a Clock (RealClock() unless a test passes a FakeClock).
// Lifecycle: create it where the loop starts, share it by reference with the
// code that sleeps or polls; it must outlive them. Threads: SleepFor(), fd()
// and woken() from any number of threads, Interrupt() from any thread.
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <stop_token>

#include "core/clock.h"

namespace pgcdc {

class Sleeper {
 public:
  explicit Sleeper(std::stop_token stop = {}, Clock* clock = nullptr);
  ~Sleeper();
  Sleeper(const Sleeper&) = delete;
  Sleeper& operator=(const Sleeper&) = delete;

  // Sleeps up to `d` through the clock; false when woken (before or during).
  [[nodiscard]] bool SleepFor(Clock::Duration d) const { return clock_->SleepFor(d, *this); }
  // Sleeps until `t` (returns at once when it is past); false when woken.
  [[nodiscard]] bool SleepUntil(Clock::TimePoint t) const;
  // Wakes every current and future sleep. Any thread; idempotent.
  void Interrupt();
  // Clears a previous Interrupt() (not a stop request). Only while no thread
  // sleeps on this object; a caller racing with Interrupt() must re-check its
  // own flag afterwards and call Interrupt() again if needed.
  void Reset();
  // Stop requested or interrupted.
  bool woken() const {
    return interrupted_.load(std::memory_order_acquire) || stop_.stop_requested();
  }
  // Readable once woken (eventfd; never read by this class except Reset()).
  int fd() const { return fd_; }
  Clock& clock() const { return *clock_; }
  const std::stop_token& stop_token() const { return stop_; }

 private:
  void Signal();

  std::stop_token stop_;
  Clock* clock_;
  int fd_;
  std::atomic<bool> interrupted_{false};
  std::optional<std::stop_callback<std::function<void()>>> callback_;
};

}  // namespace pgcdc
