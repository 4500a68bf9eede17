// Wasm transforms (SPEC §6.5, §10.1, docs/plugins.md): `--plugin-transform`
// and the YAML list `plugins.transforms`. Each plugin's `transform` export
// gets the event envelope JSON; empty output drops the event, otherwise the
// output is an event whose `payload` (and `channel`, `operation` when given)
// replace the original's. id, source, created_at, LSN and transaction stay.
// A plugin error (trap, time limit, error_set) is a transform error: the
// pipeline counts it and sends the event to the DLQ.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "registry/param_spec.h"
#include "transform/transform.h"

namespace pgcdc::config {
class Config;
}

namespace pgcdc::wasm {
class Plugin;
}

namespace pgcdc::transform {

// The `plugins.*` keys this build implements (the `wasm` transform's params).
const std::vector<ParamSpec>& PluginParams();

// A transform calling `plugin`'s `transform` export.
TransformPtr MakeWasmTransform(std::shared_ptr<wasm::Plugin> plugin);

// Loads every configured transform plugin. Global ones are appended to
// `global`, adapter-scoped ones to `per_adapter[adapter]`; problems (a
// missing file, bad config JSON, an unknown adapter) go to `errors`.
void AddPluginTransforms(const config::Config& cfg, const std::vector<std::string>& adapters,
                         std::vector<TransformPtr>& global,
                         std::map<std::string, std::vector<TransformPtr>>& per_adapter,
                         std::vector<std::string>& errors);

}  // namespace pgcdc::transform
