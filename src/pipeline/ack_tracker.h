// AckTracker: how far every adapter has got (SPEC §4.3, cooperative
// checkpointing).
//
// Checkpointing detectors stamp events with a strictly increasing `seq`.
// Each adapter's worker reports the highest seq it has *finished* with
// (delivered and flushed, or intentionally skipped by its route) via Ack().
// Because each adapter sees events in publish order, that value is a
// watermark: everything at or below it is done for that adapter.
// DeliveredThrough() is the minimum over adapters — the point up to which the
// source may be told the data is safe. Lock-free; any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

namespace pgcdc::pipeline {

// What a detector is told about delivery (RunContext::acks): the highest seq
// of its own numbering up to which every adapter has finished. The pipeline
// hands out its AckTracker; a composite detector hands each child a view
// that translates the bus's numbering back into the child's.
class DeliveryWatermark {
 public:
  virtual ~DeliveryWatermark() = default;
  virtual uint64_t DeliveredThrough() const = 0;
  // Adapters whose deliveries are tracked; 0 = nothing can be confirmed.
  virtual size_t size() const = 0;
};

class AckTracker final : public DeliveryWatermark {
 public:
  explicit AckTracker(size_t adapters) : slots_(new std::atomic<uint64_t>[adapters]), n_(adapters) {
    for (size_t i = 0; i < n_; ++i) slots_[i].store(0, std::memory_order_relaxed);
  }

  // Raises adapter `index`'s watermark to `seq` (never lowers it).
  void Ack(size_t index, uint64_t seq) {
    auto& slot = slots_[index];
    uint64_t cur = slot.load(std::memory_order_relaxed);
    while (seq > cur && !slot.compare_exchange_weak(cur, seq, std::memory_order_release,
                                                    std::memory_order_relaxed)) {
    }
  }

  // Minimum watermark over all adapters (0 when none acked yet). With no
  // adapters nothing can be confirmed, so this returns 0.
  uint64_t DeliveredThrough() const override {
    if (n_ == 0) return 0;
    uint64_t min = UINT64_MAX;
    for (size_t i = 0; i < n_; ++i) {
      const uint64_t v = slots_[i].load(std::memory_order_acquire);
      if (v < min) min = v;
    }
    return min;
  }

  size_t size() const override { return n_; }

  // Minimum watermark over every adapter but `index` (UINT64_MAX when it is
  // the only one): what the others have finished, for an adapter that holds
  // events until the events it derived from them are delivered.
  uint64_t DeliveredThroughExcept(size_t index) const {
    uint64_t min = UINT64_MAX;
    for (size_t i = 0; i < n_; ++i) {
      if (i == index) continue;
      const uint64_t v = slots_[i].load(std::memory_order_acquire);
      if (v < min) min = v;
    }
    return min;
  }

 private:
  std::unique_ptr<std::atomic<uint64_t>[]> slots_;
  size_t n_;
};

}  // namespace pgcdc::pipeline
