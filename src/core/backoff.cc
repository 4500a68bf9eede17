#include "core/backoff.h"

#include <algorithm>

namespace pgcdc {

std::chrono::milliseconds BackoffCeiling(const RetryPolicy& policy, uint32_t attempt) {
  const int64_t base = std::max<int64_t>(policy.base.count(), 1);
  const int64_t cap = std::max<int64_t>(policy.cap.count(), base);
  int64_t ceiling = base;
  for (uint32_t i = 0; i < attempt && ceiling < cap; ++i) ceiling *= 2;
  return std::chrono::milliseconds(std::min(ceiling, cap));
}

Backoff::Backoff(RetryPolicy policy) : policy_(policy), rng_(std::random_device{}()) {}

Backoff::Backoff(RetryPolicy policy, uint64_t seed) : policy_(policy), rng_(seed) {}

std::chrono::milliseconds Backoff::Next() {
  const int64_t ceiling = BackoffCeiling(policy_, attempt_).count();
  if (attempt_ < UINT32_MAX) ++attempt_;
  std::uniform_int_distribution<int64_t> dist(0, std::max<int64_t>(ceiling - 1, 0));
  return std::chrono::milliseconds(std::max<int64_t>(dist(rng_), policy_.floor.count()));
}

}  // namespace pgcdc
