#include "core/ack_poll.h"

#include <algorithm>

namespace pgcdc {

WaitResult PollUntil(const std::function<bool()>& done, const Sleeper& sleeper,
                     const PollOptions& options) {
  Clock& clock = sleeper.clock();
  const Clock::TimePoint start = clock.Now();
  Clock::TimePoint next_slow = start + options.slow_every;
  Clock::Duration pause = std::max(options.first_pause, Clock::Duration(1));
  const Clock::Duration max_pause = std::max(options.max_pause, pause);
  for (;;) {
    if (done()) return WaitResult::kDone;
    if (sleeper.woken()) return WaitResult::kWoken;
    const Clock::TimePoint now = clock.Now();
    if (options.deadline && now >= *options.deadline) return WaitResult::kTimedOut;
    if (options.on_slow && options.slow_every > Clock::Duration::zero() && now >= next_slow) {
      options.on_slow(now - start);
      next_slow = now + options.slow_every;
    }
    Clock::Duration step = pause;
    if (options.deadline) step = std::min(step, *options.deadline - now);
    // The result does not matter: the loop looks at the condition, the
    // sleeper and the deadline again.
    (void)sleeper.SleepFor(step);
    pause = std::min(pause * 2, max_pause);
  }
}

}  // namespace pgcdc
