#include "pipeline/backpressure.h"

#include <algorithm>

#include "core/enum_names.h"
#include "core/health.h"
#include "core/log.h"
#include "core/metrics.h"

namespace pgcdc::pipeline {

Result<Priority> ParsePriority(std::string_view name) {
  if (name == "critical") return Priority::kCritical;
  if (name == "normal") return Priority::kNormal;
  if (name == "best-effort" || name == "best_effort") return Priority::kBestEffort;
  return Fail(ErrorCode::kConfig, "unknown adapter priority \"" + std::string(name) +
                                      "\" (expected critical, normal or best-effort)");
}

constexpr EnumNames<Zone, Zone::kRed> kZoneNames({"green", "yellow", "red"}, "green");

std::string_view ZoneName(Zone zone) { return kZoneNames(zone); }

BackpressureController::BackpressureController(BackpressureOptions options, Health* health)
    : options_(options), health_(health) {
  if (health_ != nullptr) {
    health_->Register("backpressure");
    health_->Up("backpressure");
  }
}

Zone BackpressureController::Update(int64_t lag_bytes) {
  lag_bytes = std::max<int64_t>(lag_bytes, 0);
  lag_.store(lag_bytes, std::memory_order_release);
  const Zone before = zone();
  Zone next;
  if (before == Zone::kRed) {
    next = lag_bytes < options_.warn_bytes ? Zone::kGreen : Zone::kRed;  // hysteresis
  } else if (lag_bytes >= options_.critical_bytes) {
    next = Zone::kRed;
  } else if (lag_bytes >= options_.warn_bytes) {
    next = Zone::kYellow;
  } else {
    next = Zone::kGreen;
  }
  zone_.store(static_cast<int>(next), std::memory_order_release);
  metrics::DefaultGauge("pgcdc_backpressure_state", "Backpressure zone: 0 green, 1 yellow, 2 red.")
      .Set(static_cast<double>(next));
  if (next != before) {
    log::Warn("backpressure zone changed",
              {{"from", ZoneName(before)}, {"to", ZoneName(next)}, {"lag_bytes", lag_bytes}});
    if (health_ != nullptr) {
      if (next == Zone::kGreen) {
        health_->Up("backpressure");
      } else {
        health_->Set("backpressure", HealthStatus::kDegraded,
                     "slot lag " + std::to_string(lag_bytes) + " bytes (" +
                         std::string(ZoneName(next)) + ")");
      }
    }
  }
  return next;
}

std::chrono::milliseconds BackpressureController::Throttle() const {
  switch (zone()) {
    case Zone::kGreen:
      return std::chrono::milliseconds(0);
    case Zone::kRed:
      return options_.max_throttle;
    case Zone::kYellow: {
      const double span =
          static_cast<double>(std::max<int64_t>(options_.critical_bytes - options_.warn_bytes, 1));
      const double frac = std::clamp(
          static_cast<double>(lag_.load(std::memory_order_acquire) - options_.warn_bytes) / span,
          0.0, 1.0);
      return std::chrono::milliseconds(
          static_cast<int64_t>(frac * static_cast<double>(options_.max_throttle.count())));
    }
  }
  return std::chrono::milliseconds(0);
}

bool BackpressureController::ShouldShed(Priority p) const {
  switch (zone()) {
    case Zone::kGreen:
      return false;
    case Zone::kYellow:
      return p == Priority::kBestEffort;
    case Zone::kRed:
      return p != Priority::kCritical;
  }
  return false;
}

}  // namespace pgcdc::pipeline
