// Waiting until the adapters have finished with a batch a polling detector
// published (outbox, sqlite): such detectors finish rows in their source
// (delete or mark them) only after this returns true, so a crash before it
// re-delivers instead of losing them.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

#include "core/ack_poll.h"
#include "core/sleep.h"
#include "detector/detector.h"
#include "pipeline/ack_tracker.h"

namespace pgcdc::detector {

// At a stop, how long a detector that cannot drain the pipeline itself (no
// finish_delivery, or a composite's child stopped alone) waits for the sinks.
inline constexpr std::chrono::milliseconds kStopGrace{2500};

struct DeliveryWaitOptions {
  // After a stop request, how long the batch may still wait so it can be
  // finished rather than re-delivered after the restart (adapters keep
  // draining during shutdown).
  std::chrono::milliseconds stop_grace = kStopGrace;
  // Called every slow_every while still waiting (e.g. a warning).
  std::chrono::milliseconds slow_every{30000};
  std::function<void(uint64_t delivered_seq)> on_slow;
};

// Polls (finely: a stop is waiting) until `tracker` has delivered through
// `seq`, for up to `grace`. True when it has.
template <class Tracker>
bool AwaitAcks(const Tracker& tracker, uint64_t seq, Clock& clock,
               std::chrono::milliseconds grace) {
  Sleeper sleeper({}, &clock);
  const PollOptions wait{.first_pause = std::chrono::microseconds(50),
                         .max_pause = std::chrono::milliseconds(2),
                         .deadline = clock.Now() + grace};
  return WaitForAck(tracker, seq, sleeper, wait) == WaitResult::kDone;
}

// After a stop request: lets the adapters finish what the detector published,
// up to `seq`, so it can confirm that to its source before it returns. With
// finish_delivery (the pipeline's, or a composite's for its children) the bus
// stops taking events and every adapter delivers and flushes its queue,
// bounded by --shutdown-timeout; without it the acknowledgements are awaited
// for up to `grace` while the bus goes on. True when every adapter
// finished with events up to `seq` (at once when the run tracks none).
inline bool FinishAfterStop(const RunContext& ctx, uint64_t seq, Clock& clock,
                            std::chrono::milliseconds grace) {
  if (ctx.acks == nullptr || ctx.acks->size() == 0) return true;
  if (ctx.finish_delivery) {
    (void)ctx.finish_delivery();  // false (timeout) shows in the watermark below
    return ctx.acks->DeliveredThrough() >= seq;
  }
  return AwaitAcks(*ctx.acks, seq, clock, grace);
}

// True once every adapter finished with events up to `seq` (at once when
// the run tracks no deliveries); false when a stop request (plus the grace)
// came first.
inline bool WaitDelivered(const RunContext& ctx, const Sleeper& sleeper, uint64_t seq,
                          const DeliveryWaitOptions& options) {
  if (ctx.acks == nullptr || ctx.acks->size() == 0) return true;
  PollOptions wait{.first_pause = std::chrono::microseconds(50),
                   .max_pause = std::chrono::milliseconds(20),
                   .slow_every = options.slow_every,
                   .on_slow = [&](Clock::Duration) {
                     if (options.on_slow) options.on_slow(ctx.acks->DeliveredThrough());
                   }};
  if (WaitForAck(*ctx.acks, seq, sleeper, wait) == WaitResult::kDone) return true;
  return FinishAfterStop(ctx, seq, sleeper.clock(), options.stop_grace);
}

// The polling loop of outbox-like detectors: runs `poll` until the sleeper
// is woken or poll reports a stop; after a full batch (rows >= batch_size)
// it polls again at once, otherwise it waits `interval` first.
inline Status PollLoop(const Sleeper& sleeper, size_t batch_size, Clock::Duration interval,
                       const std::function<Status(size_t* rows, bool* stopped)>& poll) {
  while (!sleeper.woken()) {
    size_t rows = 0;
    bool stopped = false;
    if (auto st = poll(&rows, &stopped); !st) return st;
    if (stopped) return Ok();
    if (rows < batch_size && !sleeper.SleepFor(interval)) return Ok();
  }
  return Ok();
}

}  // namespace pgcdc::detector
