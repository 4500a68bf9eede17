// The Wasm engine behind Plugin::FromBytes. V8 (plugin_v8.cc) is built as a
// module of its own, pgcdc-wasm-v8.so, that the process loads (dlopen) the
// first time a plugin is loaded: libnode is ~45 MiB and costs ~20 MiB of
// resident pages and ~20 ms of start-up to every process that links it,
// whether it uses plugins or not.
//
// The module resolves pgcdc's own functions (logging, metrics) from the
// executable, which exports them (cmake/module-exports.list), so there is one
// log and one metrics registry per process.
#pragma once

#include <memory>
#include <string_view>

#include "wasm/plugin.h"

namespace pgcdc::wasm {

// What the module exports, by the C name kEngineSymbol. Bump the version when
// the layout or PluginOptions/Plugin change: a module of another version is
// refused instead of misread.
struct Engine {
  int version;
  Result<std::unique_ptr<Plugin>> (*from_bytes)(std::string_view wasm, PluginOptions options);
};
inline constexpr int kEngineVersion = 2;  // 2: PluginOptions::http
inline constexpr const char* kEngineSymbol = "pgcdc_wasm_engine";

// The engine, loaded on first use; an error says why there is none (a build
// without libnode, the module or libnode missing or of another version).
[[nodiscard]] Result<const Engine*> LoadEngine();

}  // namespace pgcdc::wasm
