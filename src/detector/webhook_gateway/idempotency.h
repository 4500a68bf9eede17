// Remembers the idempotency keys of recent deliveries so a provider's retry
// of a request already accepted is answered with the original event id
// instead of becoming a second event. Thread-safe.
//
// A key is "pending" from the first request until its event was delivered
// (or failed); a retry arriving meanwhile waits for the same outcome. A
// delivered key is kept for `window` (bounded by `max_keys`: the oldest are
// forgotten first); a failed one is forgotten at once so the retry emits.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/mutex.h"

namespace pgcdc::detector::webhook_gateway {

class IdempotencyCache {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  // Told the outcome of the first request: delivered or not, and its event id.
  using Waiter = std::function<void(bool delivered, const std::string& event_id)>;

  IdempotencyCache(std::chrono::nanoseconds window, size_t max_keys)
      : window_(window), max_keys_(max_keys) {}

  enum class State { kNew, kPending, kDone };
  struct Hit {
    State state = State::kNew;
    std::string event_id;  // the first request's (kPending, kDone)
  };
  // kNew: `key` is now pending with `event_id`. kPending: `waiter` will be
  // called when the first request finishes. kDone: answered already.
  Hit Begin(const std::string& key, const std::string& event_id, Waiter waiter, TimePoint now);
  // Ends a pending key; returns the waiters to call with `delivered`.
  std::vector<Waiter> Finish(const std::string& key, bool delivered, TimePoint now);

  size_t size() const;

 private:
  struct Entry {
    std::string event_id;
    bool done = false;
    TimePoint done_at;
    std::vector<Waiter> waiters;
  };
  void Expire(TimePoint now) REQUIRES(mu_);

  const std::chrono::nanoseconds window_;
  const size_t max_keys_;
  mutable Mutex mu_;
  std::unordered_map<std::string, Entry> entries_ GUARDED_BY(mu_);
  std::deque<std::pair<TimePoint, std::string>> done_order_ GUARDED_BY(mu_);
};

}  // namespace pgcdc::detector::webhook_gateway
