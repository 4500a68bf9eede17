// Bus: the fan-out between one detector and N adapters (DESIGN "Runtime model").
//
// Detector thread(s) Publish() batches; each batch is offered to every
// subscriber queue, sharing the batch (no event copies). In reliable mode a
// dispatcher thread does the offering from an ingest queue; in fast mode the
// publisher does it inline (nothing can block there). Modes:
//   fast      a full subscriber loses the overflow (pgcdc_events_dropped_total{adapter})
//   reliable  the dispatcher waits for space (pgcdc_bus_backpressure_total{adapter}),
//             which transitively slows the detector; nothing is dropped.
// Routing is not done here: adapters filter in their wrapper so routes can be
// swapped at runtime.
//
// Lifecycle: Subscribe() all adapters, Start(), Publish()… then CloseIngest():
// the dispatcher forwards what is still queued, closes every subscriber queue
// and exits; Join() waits for it.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bus/queue.h"
#include "core/error.h"
#include "core/mutex.h"

namespace pgcdc::metrics {
class Counter;
}

namespace pgcdc::bus {

enum class Mode { kFast, kReliable };
Result<Mode> ParseMode(std::string_view name);
std::string_view ModeName(Mode mode);

struct Options {
  size_t buffer_size = 1024;  // events per queue (ingest and each subscriber)
  Mode mode = Mode::kFast;
};

class Bus {
 public:
  explicit Bus(Options options);
  ~Bus();
  Bus(const Bus&) = delete;
  Bus& operator=(const Bus&) = delete;

  // Registers a subscriber; only before Start(). The queue lives as long as
  // the Bus. The subscriber may Close() its queue to stop receiving (e.g. its
  // sink is gone); the dispatcher then skips it without blocking.
  BatchQueue& Subscribe(std::string name);

  void Start();

  // Hands a batch to the bus. Blocks while the ingest queue is full. Returns
  // false (and drops nothing silently: the caller still owns the decision)
  // once CloseIngest() was called.
  bool Publish(EventBatch batch);
  // Same, for a batch that is already shared (e.g. re-published or replayed).
  bool Publish(BatchPtr batch);

  void CloseIngest();
  void Join();

  const Options& options() const { return options_; }
  size_t ingest_depth() const { return ingest_.size_events(); }

 private:
  struct Subscriber {
    std::string name;
    std::unique_ptr<BatchQueue> queue;
    metrics::Counter* dropped = nullptr;
    metrics::Counter* backpressure = nullptr;
    uint64_t dropped_since_log = 0;
    int64_t last_drop_log_ns = 0;
  };
  void Dispatch();
  void Offer(Subscriber& sub, const BatchSlice& slice);

  Options options_;
  BatchQueue ingest_;
  std::vector<std::unique_ptr<Subscriber>> subscribers_;
  metrics::Counter* received_ = nullptr;
  std::thread dispatcher_;
  std::atomic<bool> started_{false};
  // Fast mode: publishers fan out themselves, one at a time (so every
  // subscriber sees batches in the same order).
  Mutex inline_mu_;
  bool ingest_closed_ GUARDED_BY(inline_mu_) = false;
};

}  // namespace pgcdc::bus
