#include "core/sleep.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>

namespace pgcdc {

Sleeper::Sleeper(std::stop_token stop, Clock* clock)
    : stop_(std::move(stop)),
      clock_(clock != nullptr ? clock : &RealClock()),
      fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  // Runs at once (on this thread) when the stop was already requested.
  callback_.emplace(stop_, [this] { Signal(); });
}

Sleeper::~Sleeper() {
  callback_.reset();  // waits for a callback running on another thread
  if (fd_ >= 0) ::close(fd_);
}

bool Sleeper::SleepUntil(Clock::TimePoint t) const {
  const Clock::Duration left = t - clock_->Now();
  if (left <= Clock::Duration::zero()) return !woken();
  return SleepFor(left);
}

void Sleeper::Interrupt() {
  interrupted_.store(true, std::memory_order_release);
  Signal();
}

void Sleeper::Reset() {
  interrupted_.store(false, std::memory_order_release);
  if (stop_.stop_requested() || fd_ < 0) return;  // the stop keeps the fd readable
  uint64_t v;
  [[maybe_unused]] auto n = ::read(fd_, &v, sizeof v);
}

void Sleeper::Signal() {
  if (fd_ < 0) return;
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(fd_, &one, sizeof one);
}

}  // namespace pgcdc
