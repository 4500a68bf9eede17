#include "bus/queue.h"

#include <algorithm>

namespace pgcdc::bus {

BatchQueue::BatchQueue(size_t capacity_events) : capacity_(std::max<size_t>(capacity_events, 1)) {}

size_t BatchQueue::TryPushPartial(const BatchSlice& slice) {
  if (slice.size() == 0) return 0;
  size_t admitted = 0;
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    if (closed_ || events_ >= capacity_) return 0;
    admitted = std::min(slice.size(), capacity_ - events_);
    BatchSlice part = slice;
    part.end = part.begin + static_cast<uint32_t>(admitted);
    items_.push_back(std::move(part));
    events_ += admitted;
    // The consumer takes everything at once, so it only ever sleeps on an
    // empty queue: wake it only on the empty -> non-empty transition.
    wake = items_.size() == 1 && consumer_waiting_;
  }
  if (wake) not_empty_.notify_one();
  return admitted;
}

bool BatchQueue::Push(BatchSlice slice, bool* waited) {
  if (waited != nullptr) *waited = false;
  if (slice.size() == 0) return true;
  bool wake = false;
  {
    std::unique_lock lock(mu_);
    auto fits = [&] { return closed_ || events_ == 0 || events_ + slice.size() <= capacity_; };
    if (!fits()) {
      if (waited != nullptr) *waited = true;
      ++producers_waiting_;
      not_full_.wait(lock, fits);
      --producers_waiting_;
    }
    if (closed_) return false;
    events_ += slice.size();
    items_.push_back(std::move(slice));
    wake = items_.size() == 1 && consumer_waiting_;
  }
  if (wake) not_empty_.notify_one();
  return true;
}

bool BatchQueue::PopAll(std::vector<BatchSlice>& out, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  if (items_.empty() && !closed_) {
    consumer_waiting_ = true;
    not_empty_.wait_for(lock, timeout, [&] { return closed_ || !items_.empty(); });
    consumer_waiting_ = false;
  }
  if (items_.empty()) return !closed_;
  for (auto& s : items_) out.push_back(std::move(s));
  items_.clear();
  events_ = 0;
  const bool wake = producers_waiting_ > 0;
  lock.unlock();
  if (wake) not_full_.notify_all();
  return true;
}

void BatchQueue::Close() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  not_empty_.notify_all();
  not_full_.notify_all();
}

bool BatchQueue::closed() const {
  std::lock_guard lock(mu_);
  return closed_;
}

size_t BatchQueue::size_events() const {
  std::lock_guard lock(mu_);
  return events_;
}

}  // namespace pgcdc::bus
