// LoadEngine() for builds with libnode: dlopen pgcdc-wasm-v8.so once.
#include "core/dynlib.h"
#include "wasm/engine.h"

namespace pgcdc::wasm {

Result<const Engine*> LoadEngine() {
  static const Result<const Engine*> engine = []() -> Result<const Engine*> {
    const std::string what = "the Wasm engine (pgcdc-wasm-v8.so, V8 from libnode)";
    constexpr const char* kEnv = "PGCDC_WASM_ENGINE";
    auto handle = dynlib::Open(
        what, dynlib::Candidates("pgcdc-wasm-v8.so", kEnv, {PGCDC_WASM_ENGINE_BUILD_PATH}), kEnv);
    if (!handle) return Fail(ErrorCode::kConfig, handle.error().message());
    auto symbol = dynlib::Symbol(*handle, kEngineSymbol, what);
    if (!symbol) return Fail(ErrorCode::kConfig, symbol.error().message());
    const auto* loaded = static_cast<const Engine*>(*symbol);
    if (loaded->version != kEngineVersion) {
      return Fail(ErrorCode::kConfig, what + " is of version " + std::to_string(loaded->version) +
                                          ", this pgcdc needs " + std::to_string(kEngineVersion));
    }
    return loaded;
  }();
  return engine;
}

}  // namespace pgcdc::wasm
