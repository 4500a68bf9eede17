// StopWaker: an eventfd that becomes readable when a stop is requested, so a
// thread blocked in poll() on a socket wakes up promptly. The stop callback is
// deregistered before the fd is closed, so it never writes to a closed fd.
#pragma once

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <stop_token>

namespace pgcdc {

class StopWaker {
 public:
  explicit StopWaker(std::stop_token token)
      : token_(token), fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
    callback_.emplace(token, [this] {
      uint64_t one = 1;
      [[maybe_unused]] auto n = ::write(fd_, &one, sizeof one);
    });
  }
  ~StopWaker() {
    callback_.reset();  // waits for a callback running on another thread
    ::close(fd_);
  }
  StopWaker(const StopWaker&) = delete;
  StopWaker& operator=(const StopWaker&) = delete;

  int fd() const { return fd_; }

  // Sleeps up to `d`; returns false (early) when a stop was requested.
  bool SleepFor(std::chrono::milliseconds d) const {
    if (token_.stop_requested()) return false;
    pollfd p{fd_, POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(d.count()));
    return !token_.stop_requested();
  }

 private:
  std::stop_token token_;
  int fd_;
  std::optional<std::stop_callback<std::function<void()>>> callback_;
};

}  // namespace pgcdc
