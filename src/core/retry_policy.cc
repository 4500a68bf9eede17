#include "core/retry_policy.h"

namespace pgcdc {

std::vector<std::string> RetryPolicy::Validate(std::string_view prefix) const {
  using std::chrono::milliseconds;
  std::vector<std::string> errors;
  const std::string p(prefix);
  if (base <= milliseconds::zero()) errors.push_back(p + "backoff_base: must be > 0");
  if (cap < base) errors.push_back(p + "backoff_cap: must be >= backoff_base");
  if (floor < milliseconds::zero()) errors.push_back(p + "backoff_floor: must be >= 0");
  if (floor > cap && cap >= base) errors.push_back(p + "backoff_floor: must be <= backoff_cap");
  if (healthy_reset < milliseconds::zero()) errors.push_back(p + "healthy_reset: must be >= 0");
  return errors;
}

}  // namespace pgcdc
