// Plugin's engine-independent part: reading the file, handing the bytes to
// the engine (engine.h) loaded on first use.
#include "wasm/plugin.h"

#include <fstream>
#include <iterator>

#include "wasm/engine.h"
#include "wasm/http_host.h"

namespace pgcdc::wasm {

Plugin::~Plugin() = default;

bool Available() { return LoadEngine().has_value(); }

namespace {
void SetHttp(PluginOptions& options) {
  if (!options.http) options.http = MakeHttpHost(options.http_allow, options.http_timeout);
}
}  // namespace

Result<std::unique_ptr<Plugin>> Plugin::FromBytes(std::string_view wasm, PluginOptions options) {
  SetHttp(options);
  auto engine = LoadEngine();
  if (!engine) return Fail(engine.error());
  return (*engine)->from_bytes(wasm, std::move(options));
}

Result<std::unique_ptr<Plugin>> Plugin::Load(const std::string& path, PluginOptions options) {
  SetHttp(options);
  auto engine = LoadEngine();
  if (!engine) return Fail(engine.error());
  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail(ErrorCode::kNotFound, "cannot open Wasm plugin " + path);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto plugin = (*engine)->from_bytes(bytes, std::move(options));
  if (!plugin) return Fail(plugin.error().code(), path + ": " + plugin.error().message());
  return plugin;
}

}  // namespace pgcdc::wasm
