#include "detector/webhook_gateway/idempotency.h"

namespace pgcdc::detector::webhook_gateway {

IdempotencyCache::Hit IdempotencyCache::Begin(const std::string& key, const std::string& event_id,
                                              Waiter waiter, TimePoint now) {
  MutexLock lock(mu_);
  Expire(now);
  auto [it, inserted] = entries_.try_emplace(key);
  Entry& e = it->second;
  if (inserted) {
    e.event_id = event_id;
    return {State::kNew, event_id};
  }
  if (e.done) return {State::kDone, e.event_id};
  e.waiters.push_back(std::move(waiter));
  return {State::kPending, e.event_id};
}

std::vector<IdempotencyCache::Waiter> IdempotencyCache::Finish(const std::string& key,
                                                               bool delivered, TimePoint now) {
  MutexLock lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.done) return {};
  std::vector<Waiter> waiters = std::move(it->second.waiters);
  if (delivered && window_.count() > 0) {
    it->second.done = true;
    it->second.done_at = now;
    it->second.waiters.clear();
    done_order_.emplace_back(now, key);
  } else {
    entries_.erase(it);
  }
  Expire(now);
  return waiters;
}

size_t IdempotencyCache::size() const {
  MutexLock lock(mu_);
  return entries_.size();
}

void IdempotencyCache::Expire(TimePoint now) {
  while (!done_order_.empty() &&
         (now - done_order_.front().first >= window_ || done_order_.size() > max_keys_)) {
    auto it = entries_.find(done_order_.front().second);
    // Only the entry this record describes (not a newer one with the key).
    if (it != entries_.end() && it->second.done &&
        it->second.done_at == done_order_.front().first) {
      entries_.erase(it);
    }
    done_order_.pop_front();
  }
}

}  // namespace pgcdc::detector::webhook_gateway
