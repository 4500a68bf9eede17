// Builds without libnode (cmake/LibNode.cmake): plugins cannot be loaded.
#include "wasm/plugin.h"

namespace pgcdc::wasm {

Plugin::~Plugin() = default;

bool Available() { return false; }

Result<std::unique_ptr<Plugin>> Plugin::FromBytes(std::string_view, PluginOptions) {
  return Fail(ErrorCode::kConfig,
              "this build has no Wasm plugin support (built without libnode; see docs/plugins.md)");
}

Result<std::unique_ptr<Plugin>> Plugin::Load(const std::string& path, PluginOptions options) {
  return FromBytes(path, std::move(options));
}

}  // namespace pgcdc::wasm
