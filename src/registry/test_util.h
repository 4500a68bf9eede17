// Test helper: loads a connector's parameters (plus the core ones) from
// flag-style values, as the CLI would, without environment or file.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "config/config.h"
#include "config/core_params.h"
#include "registry/define.h"
#include "registry/registry.h"

namespace pgcdc::testing {

struct LoadedConfig {
  config::Config values;
  config::CoreSettings core;
  std::vector<std::string> errors;  // loader errors (bad values, min/max)
};

inline LoadedConfig LoadConnectorConfig(const ConnectorInfo& info,
                                        std::map<std::string, std::vector<std::string>> flags) {
  config::Sources s;
  s.flags = std::move(flags);
  s.getenv = [](const std::string&) { return std::nullopt; };
  std::vector<ParamSpec> specs = config::CoreParams();
  specs.insert(specs.end(), info.params.begin(), info.params.end());
  auto r = config::Load(specs, s);
  LoadedConfig out{r.config, config::BindCore(r.config), r.errors};
  return out;
}

// True when one of `errors` contains `part`.
inline bool HasError(const std::vector<std::string>& errors, const std::string& part) {
  for (const auto& e : errors) {
    if (e.find(part) != std::string::npos) return true;
  }
  return false;
}

// Runs the connector's validation; returns its messages.
inline std::vector<std::string> Validate(const ConnectorInfo& info, const LoadedConfig& cfg) {
  std::vector<std::string> errors = cfg.errors;
  if (info.validate) info.validate(cfg.values, cfg.core, errors);
  return errors;
}

// Loads `flags` (key, value pairs; a key may repeat) for the connector with
// the given core settings, validates, and binds the connector's struct T:
// {struct, loader + validation errors}.
template <class T>
std::pair<T, std::vector<std::string>> BindForTest(
    const ConnectorInfo& info, const std::vector<std::pair<std::string, std::string>>& flags,
    const config::CoreSettings& core = {}) {
  config::Sources s;
  for (const auto& [k, v] : flags) s.flags[k].push_back(v);
  s.getenv = [](const std::string&) { return std::nullopt; };
  auto r = config::Load(info.params, s);
  std::vector<std::string> errors = r.errors;
  if (info.validate) info.validate(r.config, core, errors);
  return {BindConfig<T>(info.params, r.config), errors};
}

}  // namespace pgcdc::testing
