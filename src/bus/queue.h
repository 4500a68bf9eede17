// BatchQueue: a bounded multi-producer/single-consumer queue of event batch
// slices, with capacity counted in events (not batches).
//
// Batches are shared immutably (BatchPtr); a slice names a sub-range so the
// fast bus mode can admit the part of a batch that fits and drop the rest
// without copying events. Thread-safe (one mutex, two condition variables).
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <span>
#include <vector>

#include "core/event.h"
#include "core/mutex.h"

namespace pgcdc::bus {

struct BatchSlice {
  BatchPtr batch;
  uint32_t begin = 0;
  uint32_t end = 0;

  static BatchSlice Whole(BatchPtr b) {
    const auto n = static_cast<uint32_t>(b->events.size());
    return BatchSlice{std::move(b), 0, n};
  }
  size_t size() const { return end - begin; }
  std::span<const Event> events() const {
    return std::span<const Event>(batch->events).subspan(begin, end - begin);
  }
};

class BatchQueue {
 public:
  explicit BatchQueue(size_t capacity_events);

  // Admits as many events of `slice` as fit right now (from its front) and
  // returns how many were admitted; never blocks. 0 when closed or full.
  size_t TryPushPartial(const BatchSlice& slice);

  // Blocks until the whole slice fits (a slice larger than the capacity is
  // admitted once the queue is empty). Returns false if the queue was closed.
  // `*waited` is set when the call had to wait for space.
  bool Push(BatchSlice slice, bool* waited = nullptr);

  // Moves every queued slice into `out` (appending). Waits up to `timeout`
  // for at least one. Returns false once the queue is closed and empty.
  // Only one thread may consume.
  bool PopAll(std::vector<BatchSlice>& out, std::chrono::milliseconds timeout);

  // After Close(), pushes fail and PopAll drains what is left, then ends.
  void Close();
  bool closed() const;
  size_t size_events() const;
  size_t capacity() const { return capacity_; }

 private:
  const size_t capacity_;
  mutable Mutex mu_;
  CondVar not_empty_;
  CondVar not_full_;
  std::deque<BatchSlice> items_ GUARDED_BY(mu_);
  size_t events_ GUARDED_BY(mu_) = 0;
  bool closed_ GUARDED_BY(mu_) = false;
  bool consumer_waiting_ GUARDED_BY(mu_) = false;  // single consumer (see PopAll)
  int producers_waiting_ GUARDED_BY(mu_) = 0;
};

}  // namespace pgcdc::bus
