// Metrics registry with Prometheus text exposition (format 0.0.4).
//
// Families are created once (usually at start-up) and live as long as the
// registry. Children (one per label-value tuple) are created on first use and
// have stable addresses, so hot paths look a child up once and keep the
// reference. Counter/Gauge/Histogram updates are lock-free atomics; creating
// children and exposing take a mutex.
#pragma once

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/scope.h"

namespace pgcdc::metrics {

class Counter {
 public:
  void Inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void Set(double v);
  void Add(double v);
  double Value() const;

 private:
  std::atomic<double> value_{0.0};
};

class Histogram {
 public:
  explicit Histogram(const std::vector<double>& bounds);
  void Observe(double v);
  // Snapshot for exposition: cumulative counts per bound, then +Inf.
  std::vector<uint64_t> CumulativeCounts() const;
  double Sum() const;
  uint64_t Count() const;
  const std::vector<double>& Bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1
  std::atomic<double> sum_{0.0};
  std::atomic<uint64_t> count_{0};
};

enum class Type { kCounter, kGauge, kHistogram };

class FamilyBase;

// A metric family with a fixed set of label names.
template <class M>
class Family {
 public:
  // Returns the child for these label values (count must match the label
  // names); creates it on first use.
  M& With(std::initializer_list<std::string_view> label_values);
  // For families without labels.
  M& Get() { return With({}); }

  FamilyBase* base() { return base_; }
  explicit Family(FamilyBase* base) : base_(base) {}

 private:
  FamilyBase* base_;
};

class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Registering the same name twice returns the existing family when the type
  // and labels agree (so independent components can share a family).
  Family<Counter>& AddCounter(std::string name, std::string help,
                              std::vector<std::string> labels = {});
  Family<Gauge>& AddGauge(std::string name, std::string help, std::vector<std::string> labels = {});
  Family<Histogram>& AddHistogram(std::string name, std::string help, std::vector<double> bounds,
                                  std::vector<std::string> labels = {});

  // Prometheus text exposition of every family, sorted by name.
  std::string Expose() const;

  // When enabled, Expose() also reports the standard process_* metrics
  // (CPU, memory, file descriptors, start time) read from /proc at scrape
  // time. Off by default; Default() turns it on.
  void EnableProcessMetrics(bool enable = true);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// The process-wide registry that the binary exposes on /metrics.
Registry& Default();

// Default latency buckets (seconds): .005 … 10.
std::vector<double> DefaultBuckets();

// Shorthands for the usual registrations in Default(): an unlabelled series,
// or one adapter's series of a family labelled {"adapter"}.
Counter& DefaultCounter(std::string name, std::string help);
Gauge& DefaultGauge(std::string name, std::string help);
Histogram& DefaultHistogram(std::string name, std::string help, std::vector<double> bounds);
Counter& AdapterCounter(std::string name, std::string help, std::string_view adapter);
Gauge& AdapterGauge(std::string name, std::string help, std::string_view adapter);
Histogram& AdapterHistogram(std::string name, std::string help, std::vector<double> bounds,
                            std::string_view adapter);

namespace detail {
template <class Series>
inline constexpr char kLazyTag = 0;
// The instance of the series struct identified by `tag` for `pipeline`, made
// with `make` (in the caller's scope) on first use.
void* ScopedSeries(const void* tag, std::string_view pipeline, void* (*make)());
}  // namespace detail

// The one instance of a component's struct of series (reference members
// initialised with DefaultCounter() and the like), built on first use so that
// only the components a process runs appear on /metrics. Inside a pipeline
// scope of `pgcdc serve` (core/scope.h) there is one instance per pipeline,
// whose series carry its `pipeline` label.
template <class Series>
Series& Lazy() {
  const scope::ScopePtr& s = scope::Current();
  if (!s) {
    static Series series;
    return series;
  }
  thread_local uint64_t cached_scope = 0;
  thread_local Series* cached = nullptr;
  if (cached_scope != s->id) {
    cached = static_cast<Series*>(detail::ScopedSeries(&detail::kLazyTag<Series>, s->pipeline,
                                                       []() -> void* { return new Series(); }));
    cached_scope = s->id;
  }
  return *cached;
}

}  // namespace pgcdc::metrics
