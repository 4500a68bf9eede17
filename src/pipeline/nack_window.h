// Nack window (SPEC §4.5, reworked): a sink that rejects a burst of events
// must not quietly drain the stream into the dead letter queue.
//
// Every event the pipeline hands to an adapter is an outcome; one the DLQ
// records for that adapter (rejected by the peer, retries exhausted, or a
// failing per-adapter transform) is a nack. When the last `size` outcomes of
// an adapter hold `threshold` nacks, the adapter is paused: its next DLQ
// record and its next delivery block, nothing more of its events is
// acknowledged, so the source keeps them (with a persistent slot the slot
// stops advancing; in reliable bus mode the whole pipeline waits). Health
// component "nack_window/<adapter>" goes down, pgcdc_adapter_paused{adapter}
// is 1 and pgcdc_nack_window_exceeded_total{adapter} counts the trip.
//
// Resuming: fix the sink, then SIGHUP (ResumeAll(): windows cleared, blocked
// records and deliveries go on; the events that tripped it are dead-lettered
// as they would have been) or restart (unacknowledged events are delivered
// again). At shutdown Release() wakes every blocked thread; a blocked DLQ
// record then fails with kCancelled, so the event stays unacknowledged.
//
// Differences from the reference tool: delivery failures count (it counted
// only transform outcomes), transform drops by a filter do not, and a paused
// adapter holds its events instead of skipping and acknowledging them.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/event.h"
#include "core/metrics.h"
#include "core/mutex.h"
#include "dlq/dlq.h"

namespace pgcdc {
class Health;
}

namespace pgcdc::pipeline {

// The window of one adapter, by position: every event handed to the adapter
// takes the next position (Offer), a dead-lettered event is a nack at its
// position, and the window at a nack is the `size` positions ending there.
// Pure; not thread-safe.
class NackWindow {
 public:
  // threshold 0 means size/2 (at least 1).
  NackWindow(uint64_t size, uint64_t threshold);
  // The next `n` events; returns the position of the first (positions start at 1).
  uint64_t Offer(uint64_t n);
  // Records a nack at `position` (0, or one not offered yet: the last
  // offered) and returns how many nacks the fullest window of `size`
  // positions containing it holds (nacks of one delivery may come out of
  // order from parallel lanes).
  uint64_t Nack(uint64_t position);
  bool Exceeded(uint64_t nacks) const { return nacks >= threshold_; }
  // Forgets every nack (resume); positions carry on.
  void Clear() { nacks_.clear(); }
  uint64_t size() const { return size_; }
  uint64_t threshold() const { return threshold_; }
  uint64_t offered() const { return offered_; }

 private:
  uint64_t size_;
  uint64_t threshold_;
  uint64_t offered_ = 0;
  std::deque<uint64_t> nacks_;  // ascending positions, within 2 * size of the newest
};

struct NackWindowOptions {
  uint64_t size = 0;       // outcomes per window; 0 = off
  uint64_t threshold = 0;  // nacks that pause; 0 = size/2
};

// The windows of a pipeline's adapters and the pause they impose. The
// pipeline's worker threads call BeginDeliver/EndDeliver/WaitWhilePaused for
// their adapter; the DLQ decorator (WindowedDlq) calls AdmitRecord and
// RecordedNack from any thread; ResumeAll/Release from any thread.
class NackWindows {
 public:
  NackWindows(NackWindowOptions options, const std::vector<std::string>& adapters, Health* health);
  ~NackWindows();
  NackWindows(const NackWindows&) = delete;
  NackWindows& operator=(const NackWindows&) = delete;

  // `events` are about to be handed to `adapter` (they stay valid until
  // EndDeliver): they take the next positions of its window.
  void BeginDeliver(std::string_view adapter, std::span<const Event* const> events);
  void EndDeliver(std::string_view adapter);
  // Blocks while `adapter` is paused; false once Release() was called.
  bool WaitWhilePaused(std::string_view adapter);
  // Before `adapter` records `event` in the DLQ: blocks while it is paused;
  // kCancelled once released.
  Status AdmitRecord(std::string_view adapter);
  // After the DLQ recorded `event` for `adapter`: counts the nack, and
  // pauses the adapter when that exceeds the window.
  void RecordedNack(std::string_view adapter, const Event& event);
  bool Paused(std::string_view adapter) const;

  // SIGHUP: clears every paused adapter's window and lets it go on.
  void ResumeAll();
  // Shutdown: wakes every blocked thread for good.
  void Release();

 private:
  struct Gate;  // one adapter's window, pause state and metrics
  Gate* Find(std::string_view adapter) const;

  NackWindowOptions options_;
  Health* health_;
  // Built at construction and never changed: looked up without a lock.
  std::map<std::string, std::unique_ptr<Gate>, std::less<>> gates_;
  std::atomic<bool> released_{false};
};

// The dead letter queue adapters see when the nack window is on: every record
// passes through `windows` (AdmitRecord before, RecordedNack after) on its
// way to `inner`.
class WindowedDlq final : public dlq::DeadLetterQueue {
 public:
  WindowedDlq(dlq::DeadLetterQueue& inner, NackWindows& windows)
      : inner_(inner), windows_(windows) {}
  std::string_view Kind() const override { return inner_.Kind(); }
  Status Record(const Event& event, std::string_view adapter, std::string_view error) override;
  void Close() override { inner_.Close(); }

 private:
  dlq::DeadLetterQueue& inner_;
  NackWindows& windows_;
};

}  // namespace pgcdc::pipeline
