// Backoff: the attempt counter and "full jitter" delays of a RetryPolicy.
//
//   delay(attempt) = max(floor, uniform[0, min(cap, base * 2^attempt)))
//
// Callers reset the attempt counter after a successful (re)connection, so a
// long-running process that reconnects once starts from `base` again. Owned
// by one loop on one thread (not thread-safe). Tests pass a seed to get the
// same delays every run.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

#include "core/retry_policy.h"

namespace pgcdc {

// The retry settings used to be called BackoffPolicy; connector Options keep
// their `backoff` fields of this (now the same) type.
using BackoffPolicy = RetryPolicy;

// Upper bound of the jitter window for `attempt` (0-based), saturating at cap.
std::chrono::milliseconds BackoffCeiling(const RetryPolicy& policy, uint32_t attempt);

class Backoff {
 public:
  // Seeded from std::random_device.
  explicit Backoff(RetryPolicy policy);
  // Deterministic jitter (tests).
  Backoff(RetryPolicy policy, uint64_t seed);
  // Delay before the next attempt; increments the attempt counter.
  std::chrono::milliseconds Next();
  void Reset() { attempt_ = 0; }
  uint32_t attempt() const { return attempt_; }
  // The policy's max_attempts failed attempts happened since the last Reset().
  bool exhausted() const { return policy_.max_attempts != 0 && attempt_ >= policy_.max_attempts; }
  const RetryPolicy& policy() const { return policy_; }

 private:
  RetryPolicy policy_;
  uint32_t attempt_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace pgcdc
