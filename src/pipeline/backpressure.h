// BackpressureController: source-aware load management (SPEC §4.4).
//
// The wal detector feeds it the replication slot's lag. The controller maps
// the lag to a zone with hysteresis:
//   green   lag < warn
//   yellow  warn <= lag < critical: the detector throttles, sleeping
//           max_throttle * (lag - warn) / (critical - warn) before each read,
//           and best-effort adapters are shed
//   red     lag >= critical, and stays red until lag < warn: the detector pauses
//           reading WAL, and normal adapters are shed too
// A shed adapter skips its events and acknowledges them, so the slot can
// advance past them. This is a deliberate trade: those events are lost to
// that adapter, to protect the database from unbounded WAL retention.
// Critical adapters (and adapters without a priority) are never shed.
//
// Thread-safe: Update() on the detector thread, readers on any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"

namespace pgcdc {
class Health;
}

namespace pgcdc::pipeline {

enum class Zone { kGreen = 0, kYellow = 1, kRed = 2 };
enum class Priority { kCritical, kNormal, kBestEffort };

Result<Priority> ParsePriority(std::string_view name);
std::string_view ZoneName(Zone zone);

struct BackpressureOptions {
  int64_t warn_bytes = 500LL << 20;
  int64_t critical_bytes = 2LL << 30;
  std::chrono::milliseconds max_throttle{500};
};

class BackpressureController {
 public:
  explicit BackpressureController(BackpressureOptions options, Health* health = nullptr);

  // Feeds a new lag measurement (negative counts as 0); returns the new zone.
  Zone Update(int64_t lag_bytes);

  Zone zone() const { return static_cast<Zone>(zone_.load(std::memory_order_acquire)); }
  // Sleep the detector inserts before each read.
  std::chrono::milliseconds Throttle() const;
  bool Paused() const { return zone() == Zone::kRed; }
  // Whether an adapter of this priority currently skips its events.
  bool ShouldShed(Priority p) const;

 private:
  BackpressureOptions options_;
  Health* health_;
  std::atomic<int> zone_{0};
  std::atomic<int64_t> lag_{0};
};

}  // namespace pgcdc::pipeline
