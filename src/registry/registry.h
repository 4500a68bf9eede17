// Connector registry: every detector, adapter and transform announces itself
// with a ConnectorInfo (name, parameters, factory), normally written with the
// typed helpers of registry/define.h. The binary builds one Registry from the
// generated list of connectors in the build (src/connectors.cmake ->
// builtin_connectors.cc); duplicate names, and one key declared differently by
// two connectors, are start-up errors. Read-only after construction, so any
// thread may use it.
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
struct CoreSettings;
}  // namespace config
namespace detector {
class Detector;
}
namespace adapter {
class Adapter;
}

enum class ConnectorKind { kDetector, kAdapter, kTransform };
std::string_view ConnectorKindName(ConnectorKind kind);

// `pgcdc init --detector <name> --table T [--apply]`.
struct SetupRequest {
  std::string table;
  bool apply = false;  // run the script against the source too
};

// One finding of `pgcdc doctor`: a prerequisite of a connector checked
// against the real server (binlog_format, wal_level, a change table, ...).
struct CheckResult {
  enum class Level { kOk, kWarn, kFail };
  Level level = Level::kOk;
  std::string name;    // what was checked, e.g. "binlog_format"
  std::string detail;  // what was found, e.g. "ROW"
  std::string hint;    // how to fix it (warn/fail)
};
using CheckList = std::vector<CheckResult>;
std::string_view CheckLevelName(CheckResult::Level level);
// A finding: passed when `ok` (no hint), else at level `otherwise` with `hint`.
CheckResult Verdict(bool ok, CheckResult::Level otherwise, std::string name, std::string detail,
                    std::string hint);
// A failed finding (e.g. the server could not be reached), as the only one.
CheckList FailedCheck(std::string name, std::string detail, std::string hint = {});

struct ConnectorInfo {
  ConnectorKind kind = ConnectorKind::kAdapter;
  std::string name;
  std::string description;
  std::vector<ParamSpec> params;
  // Cross-field checks beyond what ParamSpec expresses; appends messages.
  // The Config holds the layered values; the typed helpers bind them into the
  // connector's struct before calling the connector's own code.
  std::function<void(const config::Config&, const config::CoreSettings&, std::vector<std::string>&)>
      validate;
  std::function<Result<std::unique_ptr<detector::Detector>>(const config::Config&,
                                                            const config::CoreSettings&)>
      make_detector;
  std::function<Result<std::unique_ptr<adapter::Adapter>>(const config::Config&,
                                                          const config::CoreSettings&)>
      make_adapter;
  // An adapter that wraps another adapter of the build (chain): the key that
  // names the inner one, and the factory that wraps the inner adapter the
  // assembly made (with the same configuration). When set, make_adapter is
  // not used.
  std::string inner_adapter_key;
  std::function<Result<std::unique_ptr<adapter::Adapter>>(
      const config::Config&, const config::CoreSettings&, std::unique_ptr<adapter::Adapter>)>
      wrap_adapter;
  // The setup the source needs for capturing `request.table` (e.g. SQLite's
  // change table and triggers), as a script; applied to the source as well
  // when request.apply. Null: nothing of its own (`pgcdc init` covers the
  // PostgreSQL detectors itself).
  std::function<Result<std::string>(const config::Config&, const SetupRequest&)> setup;
  // `pgcdc doctor`: the connector's prerequisites checked against its server.
  // Null: nothing to check beyond the configuration.
  std::function<CheckList(const config::Config&, const config::CoreSettings&)> check;
};

class Registry {
 public:
  // Fails on a duplicate name, or on a parameter key another connector
  // declares with a different type, default or flag (shared keys such as
  // detector.backoff_base must mean the same everywhere).
  [[nodiscard]] Status Add(ConnectorInfo info);
  const ConnectorInfo* Find(ConnectorKind kind, std::string_view name) const;
  // Searches every kind.
  const ConnectorInfo* FindAny(std::string_view name) const;
  std::vector<const ConnectorInfo*> List(ConnectorKind kind) const;

 private:
  std::vector<ConnectorInfo> connectors_;
};

}  // namespace pgcdc
