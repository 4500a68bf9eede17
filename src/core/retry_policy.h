// RetryPolicy: the one retry/backoff setting every connector embeds in its
// config struct (reconnect loops, restart loops, delivery retries).
//
//   delay(attempt) = max(floor, uniform[0, min(cap, base * 2^attempt)))
//
// ("full jitter" with a floor, see backoff.h). `max_attempts` bounds the
// failed attempts in a row (0 = unlimited); `healthy_reset` is how long a
// connection must stay up before its failure starts the backoff (and that
// count) over from `base` (0 = as soon as it is up). A plain value type: copy
// it freely.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pgcdc {

struct RetryPolicy {
  std::chrono::milliseconds base{5000};
  std::chrono::milliseconds cap{60000};
  std::chrono::milliseconds floor{100};
  uint32_t max_attempts = 0;  // attempts in a row, the first included; 0 = unlimited
  std::chrono::milliseconds healthy_reset{0};

  bool unlimited() const { return max_attempts == 0; }
  // Lowers the floor to the base when a configured base is below it (an
  // adapter's retries then start as short as asked).
  void ClampFloorToBase() { floor = std::min(floor, base); }
  bool operator==(const RetryPolicy&) const = default;

  // One message per problem, each starting with `prefix` (e.g. "webhook."):
  // "webhook.backoff_cap: must be >= backoff_base". Empty when valid.
  [[nodiscard]] std::vector<std::string> Validate(std::string_view prefix = {}) const;
};

}  // namespace pgcdc
