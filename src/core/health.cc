#include "core/health.h"

#include "core/enum_names.h"
#include "core/json.h"
#include "core/time.h"

namespace pgcdc {

constexpr EnumNames<HealthStatus, HealthStatus::kUp> kHealthStatusNames({"down", "degraded", "up"},
                                                                        "down");

std::string_view HealthStatusName(HealthStatus s) { return kHealthStatusNames(s); }

void Health::Register(const std::string& component) {
  MutexLock lock(mu_);
  components_.try_emplace(component);
}

void Health::Set(const std::string& component, HealthStatus status, std::string last_error) {
  MutexLock lock(mu_);
  auto& c = components_[component];
  c.status = status;
  if (!last_error.empty() || status == HealthStatus::kUp) c.last_error = std::move(last_error);
  c.last_seen_ns = NowUnixNanos();
}

std::optional<Health::State> Health::Get(const std::string& component) const {
  MutexLock lock(mu_);
  auto it = components_.find(component);
  if (it == components_.end()) return std::nullopt;
  return State{it->second.status, it->second.last_error};
}

HealthStatus Health::Overall() const {
  MutexLock lock(mu_);
  HealthStatus overall = HealthStatus::kUp;
  for (const auto& [name, c] : components_) {
    if (c.status == HealthStatus::kDown) return HealthStatus::kDown;
    if (c.status == HealthStatus::kDegraded) overall = HealthStatus::kDegraded;
  }
  return overall;
}

std::string Health::ToJson() const {
  const HealthStatus overall = Overall();
  MutexLock lock(mu_);
  std::string out;
  json::Writer w(out);
  w.BeginObject();
  w.StringField("status", HealthStatusName(overall));
  w.Key("components");
  w.BeginObject();
  for (const auto& [name, c] : components_) {
    w.Key(name);
    w.BeginObject();
    w.StringField("status", HealthStatusName(c.status));
    if (!c.last_error.empty()) {
      w.StringField("last_error", c.last_error);
    }
    w.StringField("last_seen",
                  c.last_seen_ns == 0 ? "0001-01-01T00:00:00Z" : FormatRfc3339Nano(c.last_seen_ns));
    w.EndObject();
  }
  w.EndObject();
  w.EndObject();
  return out;
}

}  // namespace pgcdc
