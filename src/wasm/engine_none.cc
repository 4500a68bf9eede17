// Builds without libnode (cmake/LibNode.cmake): plugins cannot be loaded.
#include "wasm/engine.h"

namespace pgcdc::wasm {

Result<const Engine*> LoadEngine() {
  return Fail(ErrorCode::kConfig,
              "this build has no Wasm plugin support (built without libnode; see docs/plugins.md)");
}

}  // namespace pgcdc::wasm
