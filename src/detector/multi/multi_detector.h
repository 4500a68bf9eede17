// MultiDetector: several change sources feeding one pipeline (`detectors:` in
// YAML, or `--detector` given more than once). Modes:
//
//   parallel    every child runs at once; the first child error stops the
//               others and ends the run. Optional dedup window: an event whose
//               id was among the last N ids published is dropped (marked
//               filtered, so its position is still acknowledged).
//   sequential  children run one after another; the next starts when the
//               previous finished on its own (e.g. a snapshot); an error ends
//               the run.
//   failover    the first child runs; when it fails, or is not connected
//               (health up) for failover_timeout, it is stopped and the next
//               one starts; "all failover detectors exhausted" after the last.
//
// Checkpoints stay per child: the bus needs one increasing seq numbering, so
// the composite renumbers every tracked event as it publishes it (under one
// lock, so bus order is seq order) and gives each child a ChildWatermark that
// maps the pipeline's delivered-through back into the child's own numbering.
// Each child reports health as "detector:<name>"; metrics are labelled
// {child="<name>"}.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "core/mutex.h"
#include "detector/detector.h"
#include "pipeline/ack_tracker.h"

namespace pgcdc::detector::multi {

enum class Mode { kParallel, kSequential, kFailover };
std::string_view ModeName(Mode mode);
// "parallel" | "sequential" | "failover"; nullopt otherwise.
std::optional<Mode> ParseMode(std::string_view text);

// A child's view of delivery: Map() records, in publish order, that the
// child's seq `child` went to the bus as `bus`; DeliveredThrough() answers in
// the child's numbering. Runs of consecutive numbers are kept as one entry,
// so a batch costs one. Thread-safe.
class ChildWatermark final : public pipeline::DeliveryWatermark {
 public:
  explicit ChildWatermark(const pipeline::DeliveryWatermark* parent) : parent_(parent) {}
  void Map(uint64_t bus, uint64_t child);
  uint64_t DeliveredThrough() const override;
  size_t size() const override { return parent_ == nullptr ? 0 : parent_->size(); }
  // Entries still waiting for delivery (for tests and the memory bound).
  size_t pending_runs() const;

 private:
  struct Run {
    uint64_t bus_first = 0;
    uint64_t child_first = 0;
    uint64_t count = 0;
  };
  const pipeline::DeliveryWatermark* parent_;
  mutable Mutex mu_;
  mutable std::deque<Run> runs_ GUARDED_BY(mu_);
  mutable uint64_t through_ GUARDED_BY(mu_) = 0;
};

// The last `capacity` event ids; Seen() answers whether an id is among them
// and remembers it. Not thread-safe (the composite's publish lock guards it).
class IdWindow {
 public:
  explicit IdWindow(size_t capacity) : capacity_(capacity) {}
  bool Seen(const Uuid& id);

 private:
  size_t capacity_;
  struct Hash {
    size_t operator()(const Uuid& id) const;
  };
  std::deque<Uuid> order_;
  std::unordered_set<Uuid, Hash> ids_;  // the same ids, for lookup
};

struct Child {
  std::string name;  // unique, e.g. "wal#1" or the YAML entry's name
  DetectorPtr detector;
};

struct Options {
  Mode mode = Mode::kParallel;
  size_t dedup_window = 0;  // parallel: ids remembered; 0 = no dedup
  std::chrono::nanoseconds failover_timeout = std::chrono::seconds(30);
  std::chrono::nanoseconds poll_interval = std::chrono::milliseconds(100);
};

class MultiDetector final : public Detector {
 public:
  MultiDetector(std::vector<Child> children, Options options);
  ~MultiDetector() override;
  std::string_view Name() const override { return "multi"; }
  Status Run(RunContext& ctx) override;
  Status AttachHttp(net::HttpServer* http) override;

  struct State;

 private:
  std::vector<Child> children_;
  Options options_;
};

}  // namespace pgcdc::detector::multi
