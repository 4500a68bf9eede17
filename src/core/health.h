// Health: per-component status for /healthz (SPEC §9.1).
//
// Components register at construction (status "down") and report up /
// degraded / down with an optional last error. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "core/mutex.h"

namespace pgcdc {

enum class HealthStatus { kDown, kDegraded, kUp };
std::string_view HealthStatusName(HealthStatus s);

class Health {
 public:
  void Register(const std::string& component);
  void Set(const std::string& component, HealthStatus status, std::string last_error = {});
  void Up(const std::string& component) { Set(component, HealthStatus::kUp); }
  void Down(const std::string& component, std::string err = {}) {
    Set(component, HealthStatus::kDown, std::move(err));
  }

  struct State {
    HealthStatus status = HealthStatus::kDown;
    std::string last_error;
  };
  // One component's state; nullopt when it never registered or reported.
  std::optional<State> Get(const std::string& component) const;

  // Overall: down if any component is down, degraded if any is degraded.
  HealthStatus Overall() const;
  // {"status":"up","components":{"name":{"status":"up","last_error":"…","last_seen":"…"}}}
  std::string ToJson() const;

 private:
  struct Component {
    HealthStatus status = HealthStatus::kDown;
    std::string last_error;
    int64_t last_seen_ns = 0;  // 0 = never updated
  };
  mutable Mutex mu_;
  std::map<std::string, Component> components_ GUARDED_BY(mu_);
};

}  // namespace pgcdc
