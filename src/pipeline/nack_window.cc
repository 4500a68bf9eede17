#include "pipeline/nack_window.h"

#include <algorithm>

#include "core/health.h"
#include "core/log.h"

namespace pgcdc::pipeline {

NackWindow::NackWindow(uint64_t size, uint64_t threshold)
    : size_(size), threshold_(threshold != 0 ? threshold : std::max<uint64_t>(1, size / 2)) {}

uint64_t NackWindow::Offer(uint64_t n) {
  const uint64_t first = offered_ + 1;
  offered_ += n;
  return first;
}

uint64_t NackWindow::Nack(uint64_t position) {
  if (position == 0 || position > offered_) position = offered_;
  nacks_.insert(std::upper_bound(nacks_.begin(), nacks_.end(), position), position);
  // Keep what a window around the newest nacks can still reach (lanes report
  // nacks of one delivery out of order).
  const uint64_t newest = nacks_.back();
  while (nacks_.front() + 2 * size_ <= newest) nacks_.pop_front();
  // The fullest window of `size` positions containing `position`: one that
  // ends at a nack in [position, position + size).
  uint64_t most = 0;
  for (auto end = std::lower_bound(nacks_.begin(), nacks_.end(), position);
       end != nacks_.end() && *end < position + size_; ++end) {
    const uint64_t lowest = *end >= size_ ? *end - size_ + 1 : 0;
    const auto from = std::lower_bound(nacks_.begin(), end, lowest);
    most = std::max(most, static_cast<uint64_t>(end - from + 1));
  }
  return most;
}

struct NackWindows::Gate {
  Gate(std::string adapter, const NackWindowOptions& o)
      : name(std::move(adapter)),
        health_name("nack_window/" + name),
        exceeded(metrics::AdapterCounter(
            "pgcdc_nack_window_exceeded_total",
            "Times an adapter dead-lettered too many of its recent events and was paused.", name)),
        paused_gauge(metrics::AdapterGauge(
            "pgcdc_adapter_paused", "1 while the nack window holds an adapter paused.", name)),
        window(o.size, o.threshold) {}

  // The position of `event` in the delivery in progress, 0 when it is not
  // part of it (a transform error, a record the adapter made later).
  uint64_t PositionOf(const Event& event) const REQUIRES(mu) {
    for (size_t i = 0; i < delivering.size(); ++i) {
      if (delivering[i] == &event) return delivering_first + i;
    }
    return 0;
  }

  const std::string name;
  const std::string health_name;
  metrics::Counter& exceeded;
  metrics::Gauge& paused_gauge;
  mutable Mutex mu;
  CondVar cv;  // paused turned false, or released
  NackWindow window GUARDED_BY(mu);
  std::span<const Event* const> delivering GUARDED_BY(mu);
  uint64_t delivering_first GUARDED_BY(mu) = 0;
  bool paused GUARDED_BY(mu) = false;
};

NackWindows::NackWindows(NackWindowOptions options, const std::vector<std::string>& adapters,
                         Health* health)
    : options_(options), health_(health) {
  for (const auto& a : adapters) gates_.try_emplace(a, std::make_unique<Gate>(a, options_));
}

NackWindows::~NackWindows() = default;

NackWindows::Gate* NackWindows::Find(std::string_view adapter) const {
  auto it = gates_.find(adapter);
  return it == gates_.end() ? nullptr : it->second.get();
}

void NackWindows::BeginDeliver(std::string_view adapter, std::span<const Event* const> events) {
  Gate* g = Find(adapter);
  if (g == nullptr) return;
  MutexLock lock(g->mu);
  g->delivering = events;
  g->delivering_first = g->window.Offer(events.size());
}

void NackWindows::EndDeliver(std::string_view adapter) {
  Gate* g = Find(adapter);
  if (g == nullptr) return;
  MutexLock lock(g->mu);
  g->delivering = {};
}

bool NackWindows::WaitWhilePaused(std::string_view adapter) {
  Gate* g = Find(adapter);
  if (g == nullptr) return true;  // no window: never held
  MutexLock lock(g->mu);
  while (g->paused && !released_.load()) g->cv.Wait(g->mu);
  return !released_.load();
}

Status NackWindows::AdmitRecord(std::string_view adapter) {
  if (!WaitWhilePaused(adapter)) {
    return Fail(ErrorCode::kCancelled, "adapter " + std::string(adapter) +
                                           " is paused by the nack window; event not "
                                           "acknowledged");
  }
  return Ok();
}

void NackWindows::RecordedNack(std::string_view adapter, const Event& event) {
  Gate* g = Find(adapter);
  if (g == nullptr) return;
  MutexLock lock(g->mu);
  const uint64_t nacks = g->window.Nack(g->PositionOf(event));
  if (g->paused || !g->window.Exceeded(nacks)) return;
  g->paused = true;
  g->exceeded.Inc();
  g->paused_gauge.Set(1);
  const std::string why = std::to_string(nacks) + " of the last " +
                          std::to_string(g->window.size()) +
                          " events were dead-lettered; adapter paused (fix the sink, then send "
                          "SIGHUP or restart)";
  if (health_ != nullptr) health_->Down(g->health_name, why);
  log::Error("nack window exceeded: adapter paused, its events are no longer acknowledged",
             {{"adapter", g->name},
              {"dead_lettered", nacks},
              {"window", g->window.size()},
              {"threshold", g->window.threshold()},
              {"resume", "fix the sink, then send SIGHUP (or restart pgcdc)"}});
}

bool NackWindows::Paused(std::string_view adapter) const {
  Gate* g = Find(adapter);
  if (g == nullptr) return false;
  MutexLock lock(g->mu);
  return g->paused;
}

void NackWindows::ResumeAll() {
  for (auto& [name, g] : gates_) {
    MutexLock lock(g->mu);
    if (!g->paused) continue;
    g->paused = false;
    g->window.Clear();
    g->paused_gauge.Set(0);
    if (health_ != nullptr) health_->Up(g->health_name);
    log::Info("nack window: adapter resumed", {{"adapter", name}});
    g->cv.NotifyAll();
  }
}

void NackWindows::Release() {
  released_ = true;
  for (auto& [name, g] : gates_) {
    // Under the lock: a waiter between its check and its wait is not missed.
    MutexLock lock(g->mu);
    g->cv.NotifyAll();
  }
}

Status WindowedDlq::Record(const Event& event, std::string_view adapter, std::string_view error) {
  if (auto st = windows_.AdmitRecord(adapter); !st) return st;
  if (auto st = inner_.Record(event, adapter, error); !st) return st;
  windows_.RecordedNack(adapter, event);
  return Ok();
}

}  // namespace pgcdc::pipeline
