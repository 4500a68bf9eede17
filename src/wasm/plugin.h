// Wasm plugins with Extism's ABI (SPEC §10.1, docs/plugins.md).
//
// A Plugin is one instance of one module, run by V8's WebAssembly engine
// (libnode, cmake/LibNode.cmake) in an isolate of its own. It offers the
// `extism:host/env` imports — the memory functions from pgcdc's kernel
// module (kernel.wat, linked Wasm to Wasm), config, variables and logging
// from the host — pgcdc's host functions `pgcdc_log` and
// `pgcdc_metric_inc` (namespaces `extism:host/user` and `pgcdc`) and the part
// of WASI preview 1 that plugins built with clang's wasm32-wasi need (fd_write
// to our log, clocks, random, proc_exit; everything else answers ENOSYS).
//
// Call() runs one export with an input and returns its output. A trap, a
// call that runs past `call_timeout` (stopped from a watchdog thread) or a
// memory.grow past `max_memory_pages` is an error returned to the caller,
// never a crash; the instance stays usable. Calls are serialised per plugin,
// so a Plugin may be shared between threads.
//
// Only plugin_v8.cc includes V8's headers. Builds without libnode use
// plugin_none.cc, whose Load() says so.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "wasm/http_host.h"

namespace pgcdc::wasm {

struct PluginOptions {
  std::string name;  // for logs and metrics, e.g. "wasm-transform-0"
  std::string type;  // metric label `type`: transform, adapter, dlq, checkpoint
  // Extism per-instance config (config_get). SPEC §10.1: values JSON-encoded.
  std::map<std::string, std::string> config;
  std::chrono::milliseconds call_timeout{1000};
  // The most 64 KiB pages a module's memory may grow to. V8 applies one limit
  // to every instance of the process: the first plugin loaded sets it.
  uint32_t max_memory_pages = 1024;  // 64 MiB
  // What the plugin's HTTP requests may reach (http_host.h): origins
  // ("http://127.0.0.1:8080", "https://api.example.com"); empty = nothing,
  // "*" = anything. Each request is also bounded by `http_timeout` (and by
  // the call's own time limit, which keeps running while it waits).
  std::vector<std::string> http_allow;
  std::chrono::milliseconds http_timeout{30000};
  // Set by Plugin::Load/FromBytes from the two fields above (http_host.h).
  // The engine calls it for pgcdc_http_request and Extism's http_request;
  // tests may set their own.
  std::function<HttpReply(const HttpRequest&)> http;
};

class Plugin {
 public:
  virtual ~Plugin();
  // Compiles and instantiates the module at `path`. Errors: missing or
  // invalid file, a missing import, a build without Wasm support.
  [[nodiscard]] static Result<std::unique_ptr<Plugin>> Load(const std::string& path,
                                                            PluginOptions options);
  [[nodiscard]] static Result<std::unique_ptr<Plugin>> FromBytes(std::string_view wasm,
                                                                 PluginOptions options);

  // Runs the export `function` (Extism signature () -> i32) with `input`.
  // Returns the output set with output_set (empty when none). A non-zero
  // return code, error_set, a trap or a timeout is an error.
  [[nodiscard]] virtual Result<std::string> Call(std::string_view function,
                                                 std::string_view input) = 0;
  virtual bool HasFunction(std::string_view function) const = 0;
  virtual const PluginOptions& options() const = 0;
};

// False when this build has no Wasm engine (built without libnode).
bool Available();

}  // namespace pgcdc::wasm
