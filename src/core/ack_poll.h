// Waiting for a condition another thread makes true, by polling it through
// the Clock seam: PollUntil() for any condition, WaitForAck() for "every
// adapter has finished with the events up to seq" (pipeline::AckTracker, or
// anything else with `uint64_t DeliveredThrough() const`).
//
// The pause between looks starts at first_pause and doubles up to max_pause,
// so a quick confirmation is seen within microseconds while a slow one costs
// a few wake-ups a second. The wait ends when the condition holds (kDone,
// checked first, so a condition met at the last moment wins), when the
// Sleeper is woken (stop token or Interrupt(): kWoken), or at the deadline
// (kTimedOut). Runs on the calling thread; the condition must be safe to call
// while other threads change what it reads.
#pragma once

#include <chrono>
#include <concepts>
#include <cstdint>
#include <functional>
#include <optional>
#include <stop_token>

#include "core/clock.h"
#include "core/sleep.h"

namespace pgcdc {

struct PollOptions {
  Clock::Duration first_pause = std::chrono::microseconds(50);
  Clock::Duration max_pause = std::chrono::milliseconds(20);
  std::optional<Clock::TimePoint> deadline;  // none: until done or woken
  // While still waiting, on_slow(waited) runs every slow_every (0: never),
  // e.g. to log a warning.
  Clock::Duration slow_every = Clock::Duration::zero();
  std::function<void(Clock::Duration waited)> on_slow;
};

enum class WaitResult { kDone, kWoken, kTimedOut };

[[nodiscard]] WaitResult PollUntil(const std::function<bool()>& done, const Sleeper& sleeper,
                                   const PollOptions& options = {});

template <class T>
concept AckSource = requires(const T& t) {
  { t.DeliveredThrough() } -> std::convertible_to<uint64_t>;
};

// Waits until tracker.DeliveredThrough() >= seq.
template <AckSource T>
[[nodiscard]] WaitResult WaitForAck(const T& tracker, uint64_t seq, const Sleeper& sleeper,
                                    const PollOptions& options = {}) {
  return PollUntil([&] { return tracker.DeliveredThrough() >= seq; }, sleeper, options);
}

// The same with a stop token instead of a Sleeper (one is made for the wait).
template <AckSource T>
[[nodiscard]] WaitResult WaitForAck(const T& tracker, uint64_t seq, std::stop_token stop,
                                    const PollOptions& options = {}, Clock* clock = nullptr) {
  if (tracker.DeliveredThrough() >= seq) return WaitResult::kDone;
  Sleeper sleeper(std::move(stop), clock);
  return WaitForAck(tracker, seq, sleeper, options);
}

}  // namespace pgcdc
