// Connector registry: every detector, adapter and transform announces itself
// with a ConnectorInfo (name, parameters, factory). The binary builds one
// Registry from an explicit list (registry/builtin.cc); duplicate names are a
// start-up error. Read-only after construction, so any thread may use it.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "registry/param_spec.h"

namespace pgcdc {
namespace config {
class Config;
}
namespace detector {
class Detector;
}
namespace adapter {
class Adapter;
}

enum class ConnectorKind { kDetector, kAdapter, kTransform };
std::string_view ConnectorKindName(ConnectorKind kind);

struct ConnectorInfo {
  ConnectorKind kind = ConnectorKind::kAdapter;
  std::string name;
  std::string description;
  std::vector<ParamSpec> params;
  // Cross-field checks beyond what ParamSpec expresses; appends messages.
  std::function<void(const config::Config&, std::vector<std::string>&)> validate;
  std::function<Result<std::unique_ptr<detector::Detector>>(const config::Config&)> make_detector;
  std::function<Result<std::unique_ptr<adapter::Adapter>>(const config::Config&)> make_adapter;
};

class Registry {
 public:
  Status Add(ConnectorInfo info);
  const ConnectorInfo* Find(ConnectorKind kind, std::string_view name) const;
  // Searches every kind.
  const ConnectorInfo* FindAny(std::string_view name) const;
  std::vector<const ConnectorInfo*> List(ConnectorKind kind) const;

 private:
  std::vector<ConnectorInfo> connectors_;
};

}  // namespace pgcdc
