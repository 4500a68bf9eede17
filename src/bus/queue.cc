#include "bus/queue.h"

#include <algorithm>

namespace pgcdc::bus {

BatchQueue::BatchQueue(size_t capacity_events) : capacity_(std::max<size_t>(capacity_events, 1)) {}

size_t BatchQueue::TryPushPartial(const BatchSlice& slice) {
  if (slice.size() == 0) return 0;
  size_t admitted = 0;
  bool wake = false;
  {
    MutexLock lock(mu_);
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
  if (wake) not_empty_.NotifyOne();
  return admitted;
}

bool BatchQueue::Push(BatchSlice slice, bool* waited) {
  if (waited != nullptr) *waited = false;
  if (slice.size() == 0) return true;
  bool wake = false;
  {
    MutexLock lock(mu_);
    auto fits = [&]() REQUIRES(mu_) {
      return closed_ || events_ == 0 || events_ + slice.size() <= capacity_;
    };
    if (!fits()) {
      if (waited != nullptr) *waited = true;
      ++producers_waiting_;
      while (!fits()) not_full_.Wait(mu_);
      --producers_waiting_;
    }
    if (closed_) return false;
    events_ += slice.size();
    items_.push_back(std::move(slice));
    wake = items_.size() == 1 && consumer_waiting_;
  }
  if (wake) not_empty_.NotifyOne();
  return true;
}

bool BatchQueue::PopAll(std::vector<BatchSlice>& out, std::chrono::milliseconds timeout) {
  MutexLock lock(mu_);
  if (items_.empty() && !closed_) {
    consumer_waiting_ = true;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!closed_ && items_.empty()) {
      if (!not_empty_.WaitUntil(mu_, deadline)) break;
    }
    consumer_waiting_ = false;
  }
  if (items_.empty()) return !closed_;
  for (auto& s : items_) out.push_back(std::move(s));
  items_.clear();
  events_ = 0;
  const bool wake = producers_waiting_ > 0;
  lock.Unlock();
  if (wake) not_full_.NotifyAll();
  return true;
}

void BatchQueue::Close() {
  {
    MutexLock lock(mu_);
    closed_ = true;
  }
  not_empty_.NotifyAll();
  not_full_.NotifyAll();
}

bool BatchQueue::closed() const {
  MutexLock lock(mu_);
  return closed_;
}

size_t BatchQueue::size_events() const {
  MutexLock lock(mu_);
  return events_;
}

}  // namespace pgcdc::bus
