// Reconnect backoff: "full jitter" with a floor.
//
//   delay(attempt) = max(floor, uniform[0, min(cap, base * 2^attempt)))
//
// Callers reset the attempt counter after a successful (re)connection, so a
// long-running process that reconnects once starts from `base` again.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace pgcdc {

struct BackoffPolicy {
  std::chrono::milliseconds base{5000};
  std::chrono::milliseconds cap{60000};
  std::chrono::milliseconds floor{100};
};

// Upper bound of the jitter window for `attempt` (0-based), saturating at cap.
std::chrono::milliseconds BackoffCeiling(const BackoffPolicy& policy, uint32_t attempt);

class Backoff {
 public:
  explicit Backoff(BackoffPolicy policy);
  // Delay before the next attempt; increments the attempt counter.
  std::chrono::milliseconds Next();
  void Reset() { attempt_ = 0; }
  uint32_t attempt() const { return attempt_; }

 private:
  BackoffPolicy policy_;
  uint32_t attempt_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace pgcdc
