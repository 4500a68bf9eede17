// Plugins on V8's WebAssembly engine (libnode108). The only file that
// includes V8's headers (plugin.h explains the contract).
#include <libplatform/libplatform.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>
#include <v8.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <optional>
#include <span>
#include <thread>

#include "core/log.h"
#include "core/metrics.h"
#include "core/time.h"
#include "wasm/engine.h"
#include "wasm/kernel.h"
#include "wasm/kernel_wasm.h"
#include "wasm/plugin.h"

namespace pgcdc::wasm {
namespace {

constexpr const char* kEnv = "extism:host/env";
constexpr const char* kUser = "extism:host/user";
constexpr const char* kPgcdc = "pgcdc";
constexpr const char* kWasi = "wasi_snapshot_preview1";
constexpr int32_t kWasiEnosys = 52;
constexpr int32_t kWasiEbadf = 8;
constexpr int32_t kWasiEfault = 21;

// Runs `fn` with every signal blocked, so the threads it starts (V8's
// workers, the watchdog) never take the process's SIGTERM/SIGHUP, which the
// CLI waits for on a thread of its own.
template <class Fn>
void WithSignalsBlocked(Fn fn) {
  sigset_t all;
  sigset_t old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  fn();
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

// V8 and its platform, started once per process (V8 cannot be restarted).
void StartEngine(uint32_t max_memory_pages) {
  static std::once_flag once;
  std::call_once(once, [max_memory_pages] {
    WithSignalsBlocked([max_memory_pages] {
      const std::string flags = "--wasm-max-mem-pages=" + std::to_string(max_memory_pages);
      v8::V8::SetFlagsFromString(flags.c_str(), flags.size());
      static std::unique_ptr<v8::Platform> platform = v8::platform::NewDefaultPlatform(2);
      v8::V8::InitializePlatform(platform.get());
      v8::V8::Initialize();
    });
  });
}

v8::Local<v8::String> Str(v8::Isolate* iso, std::string_view s) {
  return v8::String::NewFromUtf8(iso, s.data(), v8::NewStringType::kNormal,
                                 static_cast<int>(s.size()))
      .ToLocalChecked();
}

std::string Text(v8::Isolate* iso, v8::Local<v8::Value> value) {
  v8::String::Utf8Value utf8(iso, value);
  return *utf8 == nullptr ? std::string("(no message)") : std::string(*utf8, utf8.length());
}

// What a caught exception says ("RuntimeError: unreachable", "LinkError: ...").
std::string ExceptionText(v8::Isolate* iso, const v8::TryCatch& tc) {
  if (tc.HasTerminated()) return "execution terminated";
  if (!tc.HasCaught()) return "unknown error";
  return Text(iso, tc.Exception());
}

v8::Local<v8::Value> Get(v8::Local<v8::Context> ctx, v8::Local<v8::Object> obj,
                         std::string_view key) {
  return obj->Get(ctx, Str(ctx->GetIsolate(), key)).FromMaybe(v8::Local<v8::Value>());
}

struct PluginMetrics {
  metrics::Counter* calls;
  metrics::Counter* errors;
  metrics::Histogram* duration;
};

PluginMetrics MetricsFor(const PluginOptions& o) {
  auto& reg = metrics::Default();
  return {
      &reg.AddCounter("pgcdc_plugin_calls_total", "Wasm plugin calls.", {"plugin", "type"})
           .With({o.name, o.type}),
      &reg.AddCounter("pgcdc_plugin_errors_total",
                      "Wasm plugin calls that failed (trap, timeout, error).", {"plugin", "type"})
           .With({o.name, o.type}),
      &reg.AddHistogram("pgcdc_plugin_duration_seconds", "Wasm plugin call duration.",
                        {0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1}, {"plugin", "type"})
           .With({o.name, o.type}),
  };
}

// Stops a call that runs past its deadline with TerminateExecution (the one
// V8 call that is safe from another thread).
class Watchdog {
 public:
  explicit Watchdog(v8::Isolate* isolate) : isolate_(isolate), thread_([this] { Run(); }) {}
  ~Watchdog() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  // Wakes the thread only when it sleeps without a deadline: otherwise it
  // wakes at the previous deadline and sleeps on until the new one, so a
  // busy plugin costs no wake-up per call.
  void Arm(std::chrono::milliseconds timeout) {
    bool wake = false;
    {
      std::lock_guard lock(mu_);
      deadline_ = std::chrono::steady_clock::now() + timeout;
      fired_ = false;
      wake = idle_;
    }
    if (wake) cv_.notify_one();
  }
  // True when the watchdog fired for this call; it cannot fire after this.
  bool Disarm() {
    std::lock_guard lock(mu_);
    deadline_.reset();
    return fired_;
  }

 private:
  void Run() {
    std::unique_lock lock(mu_);
    while (!stop_) {
      if (!deadline_) {
        idle_ = true;
        cv_.wait(lock);
        idle_ = false;
      } else if (cv_.wait_until(lock, *deadline_) == std::cv_status::timeout && deadline_ &&
                 std::chrono::steady_clock::now() >= *deadline_) {
        isolate_->TerminateExecution();
        fired_ = true;
        deadline_.reset();
      }
    }
  }

  v8::Isolate* isolate_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<std::chrono::steady_clock::time_point> deadline_;
  bool fired_ = false;
  bool idle_ = false;
  bool stop_ = false;
  std::thread thread_;
};

class V8Plugin;
using Info = v8::FunctionCallbackInfo<v8::Value>;

struct HostFunction {
  const char* module;
  const char* name;
  v8::FunctionCallback callback;
};

class V8Plugin final : public Plugin {
 public:
  explicit V8Plugin(PluginOptions options)
      : options_(std::move(options)),
        config_(options_.config.begin(), options_.config.end()),
        metrics_(MetricsFor(options_)) {
    v8::Isolate::CreateParams params;
    allocator_.reset(v8::ArrayBuffer::Allocator::NewDefaultAllocator());
    params.array_buffer_allocator = allocator_.get();
    WithSignalsBlocked([&] {
      isolate_ = v8::Isolate::New(params);
      watchdog_ = std::make_unique<Watchdog>(isolate_);
    });
  }

  ~V8Plugin() override {
    watchdog_.reset();
    {
      v8::Locker locker(isolate_);
      v8::Isolate::Scope scope(isolate_);
      functions_.clear();
      memory_.Reset();
      kernel_exports_.Reset();
      kernel_memory_.Reset();
      kernel_buffer_.Reset();
      kernel_alloc_.Reset();
      kernel_reserve_.Reset();
      context_.Reset();
    }
    isolate_->Dispose();
  }

  [[nodiscard]] Status Instantiate(std::string_view wasm);
  // WASI reactors (clang -mexec-model=reactor) run their constructors in
  // `_initialize`; not counted as a call.
  [[nodiscard]] Status Initialize() {
    if (!HasFunction("_initialize")) return {};
    std::lock_guard lock(mu_);
    auto r = CallLocked("_initialize", {});
    if (!r) return Fail(r.error());
    return {};
  }
  Result<std::string> Call(std::string_view function, std::string_view input) override;
  bool HasFunction(std::string_view function) const override {
    return functions_.contains(function);
  }
  const PluginOptions& options() const override { return options_; }

  // Host function helpers (called from the callbacks below).
  static V8Plugin& Self(const Info& info) {
    return *static_cast<V8Plugin*>(info.Data().As<v8::External>()->Value());
  }
  // The kernel's memory (refreshed when a memory.grow replaced its buffer).
  std::span<uint8_t> KernelMemory(v8::Isolate* iso);
  // A new kernel block holding `data` (through the kernel's alloc); 0 = full.
  uint64_t KernelAlloc(v8::Isolate* iso, std::string_view data);
  uint64_t ConfigGet(std::string_view key) {
    auto it = config_.find(key);
    return it == config_.end() ? 0 : KernelAlloc(isolate_, it->second);
  }
  uint64_t VarGet(std::string_view key) {
    auto it = vars_.find(key);
    return it == vars_.end() ? 0 : KernelAlloc(isolate_, it->second);
  }
  bool VarSet(std::string_view key, std::optional<std::string_view> value);
  // Throws a trap-like error into the plugin; the call then fails with it.
  void Trap(const Info& info, const std::string& message) {
    host_error_ = message;
    info.GetIsolate()->ThrowException(v8::Exception::Error(Str(info.GetIsolate(), message)));
  }
  std::span<uint8_t> Memory(v8::Isolate* iso);
  // The status of the plugin's last Extism http_request (0: none yet).
  int http_status() const { return http_status_; }
  void set_http_status(int status) { http_status_ = status; }
  void WriteLog(int fd, std::string_view bytes);
  void LogFromPlugin(std::string_view level, std::string_view message) const;
  void MetricInc(std::string_view name, double value);

 private:
  Result<std::string> CallLocked(std::string_view function, std::string_view input);
  Status InstantiateKernel(v8::Local<v8::Context> ctx, v8::TryCatch& tc);
  Status BeginKernelCall(std::string_view input);
  template <class Where>
  Result<std::string> KernelResult(const Where& where);
  v8::Local<v8::Object> BuildImports(v8::Local<v8::Context> ctx,
                                     v8::Local<v8::WasmModuleObject> module);
  void AddWasiStubs(v8::Local<v8::Context> ctx, v8::Local<v8::WasmModuleObject> module,
                    v8::Local<v8::Object> wasi);
  void CollectExports(v8::Local<v8::Context> ctx, v8::Local<v8::Object> exports);
  void FlushLogs();

  PluginOptions options_;
  std::map<std::string, std::string, std::less<>> config_;  // Extism config
  std::map<std::string, std::string, std::less<>> vars_;    // Extism variables
  size_t vars_bytes_ = 0;
  PluginMetrics metrics_;
  std::unique_ptr<v8::ArrayBuffer::Allocator> allocator_;
  v8::Isolate* isolate_ = nullptr;
  std::unique_ptr<Watchdog> watchdog_;
  v8::Global<v8::Context> context_;
  v8::Global<v8::Object> memory_;  // the exported WebAssembly.Memory, if any
  v8::Global<v8::Object> kernel_exports_;
  v8::Global<v8::Object> kernel_memory_;
  v8::Global<v8::ArrayBuffer> kernel_buffer_;
  std::shared_ptr<v8::BackingStore> kernel_store_;
  v8::Global<v8::Function> kernel_alloc_;
  v8::Global<v8::Function> kernel_reserve_;
  std::map<std::string, v8::Global<v8::Function>, std::less<>> functions_;
  std::mutex mu_;
  std::string host_error_;
  int http_status_ = 0;
  std::string log_lines_[3];  // partial fd_write lines per fd (1, 2)
  std::map<std::string, metrics::Counter*, std::less<>> custom_;
};

// ---- argument and result conversions ---------------------------------------

uint64_t U64(const Info& info, int i) {
  v8::Local<v8::Value> v = info[i];
  if (v->IsBigInt()) return v.As<v8::BigInt>()->Uint64Value();
  return v->Uint32Value(info.GetIsolate()->GetCurrentContext()).FromMaybe(0);
}

uint32_t U32(const Info& info, int i) {
  return info[i]->Uint32Value(info.GetIsolate()->GetCurrentContext()).FromMaybe(0);
}

void ReturnU64(const Info& info, uint64_t v) {
  info.GetReturnValue().Set(v8::BigInt::NewFromUnsigned(info.GetIsolate(), v));
}

// The bytes of kernel block argument `i`, or a trap.
std::optional<std::string_view> BlockArg(const Info& info, int i) {
  V8Plugin& self = V8Plugin::Self(info);
  auto block = kernel::Block(self.KernelMemory(info.GetIsolate()), U64(info, i));
  if (!block) self.Trap(info, "invalid kernel memory offset " + std::to_string(U64(info, i)));
  return block;
}

// ---- extism:host/env (the memory functions are kernel.wat's) ---------------

void HostConfigGet(const Info& info) {
  if (auto key = BlockArg(info, 0)) ReturnU64(info, V8Plugin::Self(info).ConfigGet(*key));
}
void HostVarGet(const Info& info) {
  if (auto key = BlockArg(info, 0)) ReturnU64(info, V8Plugin::Self(info).VarGet(*key));
}
void HostVarSet(const Info& info) {
  auto key = BlockArg(info, 0);
  if (!key) return;
  std::optional<std::string_view> value;
  if (U64(info, 1) != 0) {
    value = BlockArg(info, 1);
    if (!value) return;
  }
  if (!V8Plugin::Self(info).VarSet(*key, value)) {
    V8Plugin::Self(info).Trap(info, "var_set: the plugin's variables exceed 1 MiB");
  }
}
template <const char* kLevel>
void HostLog(const Info& info) {
  if (auto msg = BlockArg(info, 0)) V8Plugin::Self(info).LogFromPlugin(kLevel, *msg);
}
constexpr char kDebug[] = "debug";
constexpr char kInfo[] = "info";
constexpr char kWarn[] = "warn";
constexpr char kError[] = "error";
void HostGetLogLevel(const Info& info) {
  info.GetReturnValue().Set(log::Enabled(log::Level::kDebug) ? 1 : 2);  // debug : info
}
// http_request(request, body) -> response body: Extism's request JSON
// ({"url","method","headers"}), the body block (0: none; ignored for GET). The answer's status
// is kept for http_status_code(); an empty body gives 0. A request that gets
// no answer (not allowed, connection error, timeout) traps, as in Extism.
void HostHttpRequest(const Info& info) {
  auto request_json = BlockArg(info, 0);
  if (!request_json) return;
  V8Plugin& self = V8Plugin::Self(info);
  auto request = ParseHttpRequest(*request_json);
  if (!request) return self.Trap(info, "http_request: " + request.error().message());
  // As in Extism's hosts, a GET sends no body.
  if (U64(info, 1) != 0 && request->method != "GET") {
    auto body = BlockArg(info, 1);
    if (!body) return;
    request->body = std::string(*body);
  }
  if (!self.options().http) return self.Trap(info, "http_request is not available");
  HttpReply reply = self.options().http(*request);
  if (reply.status == 0) return self.Trap(info, "http_request: " + reply.body);
  self.set_http_status(reply.status);
  if (reply.body.empty()) return ReturnU64(info, 0);
  const uint64_t offset = self.KernelAlloc(info.GetIsolate(), reply.body);
  if (offset == 0) return self.Trap(info, "http_request: the response does not fit memory");
  ReturnU64(info, offset);
}
void HostHttpStatus(const Info& info) {
  info.GetReturnValue().Set(V8Plugin::Self(info).http_status());
}
void HostHttpHeaders(const Info& info) { ReturnU64(info, 0); }

// ---- pgcdc host functions (SPEC §10.1) --------------------------------------

void HostPgcdcLog(const Info& info) {
  auto level = BlockArg(info, 0);
  if (!level) return;
  if (auto msg = BlockArg(info, 1)) V8Plugin::Self(info).LogFromPlugin(*level, *msg);
}
void HostPgcdcMetricInc(const Info& info) {
  auto name = BlockArg(info, 0);
  if (!name) return;
  double value = info[1]->NumberValue(info.GetIsolate()->GetCurrentContext()).FromMaybe(0);
  V8Plugin::Self(info).MetricInc(*name, value);
}
// The request JSON in, the response JSON (a new kernel block) out; the
// request runs on this thread while the call's time limit keeps running.
void HostPgcdcHttp(const Info& info) {
  auto request = BlockArg(info, 0);
  if (!request) return;
  V8Plugin& self = V8Plugin::Self(info);
  if (!self.options().http) return self.Trap(info, "pgcdc_http_request is not available");
  const std::string response = HttpJsonCall(self.options().http, *request);
  const uint64_t offset = self.KernelAlloc(info.GetIsolate(), response);
  if (offset == 0) return self.Trap(info, "pgcdc_http_request: the response does not fit memory");
  ReturnU64(info, offset);
}

// ---- WASI preview 1 ---------------------------------------------------------

uint32_t ReadU32(std::span<uint8_t> mem, uint64_t at) {
  uint32_t v = 0;
  std::memcpy(&v, mem.data() + at, 4);
  return v;
}

bool Fits(std::span<uint8_t> mem, uint64_t at, uint64_t n) {
  return at <= mem.size() && mem.size() - at >= n;
}

void WasiFdWrite(const Info& info) {
  V8Plugin& self = V8Plugin::Self(info);
  const uint32_t fd = U32(info, 0), iovs = U32(info, 1), count = U32(info, 2), out = U32(info, 3);
  std::span<uint8_t> mem = self.Memory(info.GetIsolate());
  if (fd != 1 && fd != 2) return info.GetReturnValue().Set(kWasiEbadf);
  if (!Fits(mem, iovs, uint64_t{count} * 8) || !Fits(mem, out, 4)) {
    return info.GetReturnValue().Set(kWasiEfault);
  }
  uint32_t written = 0;
  for (uint32_t i = 0; i < count; ++i) {
    const uint32_t base = ReadU32(mem, iovs + (i * 8)), len = ReadU32(mem, iovs + (i * 8) + 4);
    if (!Fits(mem, base, len)) return info.GetReturnValue().Set(kWasiEfault);
    self.WriteLog(static_cast<int>(fd),
                  std::string_view(reinterpret_cast<const char*>(mem.data()) + base, len));
    written += len;
  }
  std::memcpy(mem.data() + out, &written, 4);
  info.GetReturnValue().Set(0);
}

void WasiClockTimeGet(const Info& info) {
  const uint32_t id = U32(info, 0), out = U32(info, 2);
  std::span<uint8_t> mem = V8Plugin::Self(info).Memory(info.GetIsolate());
  if (!Fits(mem, out, 8)) return info.GetReturnValue().Set(kWasiEfault);
  timespec ts{};
  clock_gettime(id == 0 ? CLOCK_REALTIME : CLOCK_MONOTONIC, &ts);
  const uint64_t ns = (static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL) + ts.tv_nsec;
  std::memcpy(mem.data() + out, &ns, 8);
  info.GetReturnValue().Set(0);
}

void WasiRandomGet(const Info& info) {
  const uint32_t buf = U32(info, 0), len = U32(info, 1);
  std::span<uint8_t> mem = V8Plugin::Self(info).Memory(info.GetIsolate());
  if (!Fits(mem, buf, len)) return info.GetReturnValue().Set(kWasiEfault);
  for (uint32_t done = 0; done < len;) {
    const ssize_t n = getrandom(mem.data() + buf + done, len - done, 0);
    if (n <= 0) return info.GetReturnValue().Set(kWasiEnosys);
    done += static_cast<uint32_t>(n);
  }
  info.GetReturnValue().Set(0);
}

void WasiProcExit(const Info& info) {
  V8Plugin::Self(info).Trap(info, "plugin called proc_exit(" + std::to_string(U32(info, 0)) + ")");
}

// environ_sizes_get / args_sizes_get: no variables, no arguments.
void WasiZeroSizes(const Info& info) {
  const uint32_t a = U32(info, 0), b = U32(info, 1);
  std::span<uint8_t> mem = V8Plugin::Self(info).Memory(info.GetIsolate());
  if (!Fits(mem, a, 4) || !Fits(mem, b, 4)) return info.GetReturnValue().Set(kWasiEfault);
  std::memset(mem.data() + a, 0, 4);
  std::memset(mem.data() + b, 0, 4);
  info.GetReturnValue().Set(0);
}

void WasiOk(const Info& info) { info.GetReturnValue().Set(0); }
void WasiEnosys(const Info& info) { info.GetReturnValue().Set(kWasiEnosys); }

// fd_fdstat_get: stdout and stderr are character devices; nothing else exists.
void WasiFdstatGet(const Info& info) {
  const uint32_t fd = U32(info, 0), out = U32(info, 1);
  std::span<uint8_t> mem = V8Plugin::Self(info).Memory(info.GetIsolate());
  if (fd != 1 && fd != 2) return info.GetReturnValue().Set(kWasiEbadf);
  if (!Fits(mem, out, 24)) return info.GetReturnValue().Set(kWasiEfault);
  std::memset(mem.data() + out, 0, 24);
  mem[out] = 2;  // filetype character_device
  info.GetReturnValue().Set(0);
}

constexpr HostFunction kHostFunctions[] = {
    {kEnv, "config_get", HostConfigGet},
    {kEnv, "var_get", HostVarGet},
    {kEnv, "var_set", HostVarSet},
    {kEnv, "log_trace", HostLog<kDebug>},
    {kEnv, "log_debug", HostLog<kDebug>},
    {kEnv, "log_info", HostLog<kInfo>},
    {kEnv, "log_warn", HostLog<kWarn>},
    {kEnv, "log_error", HostLog<kError>},
    {kEnv, "get_log_level", HostGetLogLevel},
    {kEnv, "http_request", HostHttpRequest},
    {kEnv, "http_status_code", HostHttpStatus},
    {kEnv, "http_headers", HostHttpHeaders},
    {kUser, "pgcdc_log", HostPgcdcLog},
    {kUser, "pgcdc_metric_inc", HostPgcdcMetricInc},
    {kUser, "pgcdc_http_request", HostPgcdcHttp},
    {kPgcdc, "pgcdc_log", HostPgcdcLog},
    {kPgcdc, "pgcdc_metric_inc", HostPgcdcMetricInc},
    {kPgcdc, "pgcdc_http_request", HostPgcdcHttp},
    {kWasi, "fd_write", WasiFdWrite},
    {kWasi, "clock_time_get", WasiClockTimeGet},
    {kWasi, "random_get", WasiRandomGet},
    {kWasi, "proc_exit", WasiProcExit},
    {kWasi, "environ_sizes_get", WasiZeroSizes},
    {kWasi, "args_sizes_get", WasiZeroSizes},
    {kWasi, "environ_get", WasiOk},
    {kWasi, "args_get", WasiOk},
    {kWasi, "fd_fdstat_get", WasiFdstatGet},
};

// ---- V8Plugin ---------------------------------------------------------------

std::span<uint8_t> V8Plugin::Memory(v8::Isolate* iso) {
  if (memory_.IsEmpty()) return {};
  v8::Local<v8::Context> ctx = iso->GetCurrentContext();
  v8::Local<v8::Value> buffer = Get(ctx, memory_.Get(iso), "buffer");
  if (buffer.IsEmpty() || !buffer->IsArrayBuffer()) return {};
  std::shared_ptr<v8::BackingStore> store = buffer.As<v8::ArrayBuffer>()->GetBackingStore();
  return {static_cast<uint8_t*>(store->Data()), store->ByteLength()};
}

void V8Plugin::LogFromPlugin(std::string_view level, std::string_view message) const {
  log::Level lv = log::Level::kInfo;
  const bool known = log::ParseLevel(level, &lv);
  if (known) {
    log::Write(lv, message, {{"source", "plugin"}, {"plugin", options_.name}});
  } else {
    log::Write(log::Level::kInfo, message,
               {{"source", "plugin"}, {"plugin", options_.name}, {"level", level}});
  }
}

void V8Plugin::WriteLog(int fd, std::string_view bytes) {
  std::string& pending = log_lines_[fd];
  pending.append(bytes);
  size_t start = 0;
  for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
    LogFromPlugin(fd == 1 ? "info" : "warn", std::string_view(pending).substr(start, nl - start));
  }
  pending.erase(0, start);
}

void V8Plugin::FlushLogs() {
  for (int fd : {1, 2}) {
    if (!log_lines_[fd].empty()) WriteLog(fd, "\n");
  }
}

void V8Plugin::MetricInc(std::string_view name, double value) {
  if (!std::isfinite(value) || value < 0) {
    log::Warn("plugin metric increment ignored: not a finite non-negative number",
              {{"plugin", options_.name}, {"metric", name}});
    return;
  }
  auto it = custom_.find(name);
  if (it == custom_.end()) {
    // Prometheus names: [a-zA-Z0-9_] only; counters end in _total here.
    std::string metric = "pgcdc_plugin_custom_";
    for (char c : name) metric += std::isalnum(static_cast<unsigned char>(c)) != 0 ? c : '_';
    if (!metric.ends_with("_total")) metric += "_total";
    auto& family = metrics::Default().AddCounter(
        std::move(metric), "Counter registered by a Wasm plugin.", {"plugin"});
    it = custom_.emplace(std::string(name), &family.With({options_.name})).first;
  }
  it->second->Inc(static_cast<uint64_t>(std::llround(value)));
}

v8::Local<v8::Object> V8Plugin::BuildImports(v8::Local<v8::Context> ctx,
                                             v8::Local<v8::WasmModuleObject> module) {
  v8::Isolate* iso = ctx->GetIsolate();
  v8::Local<v8::Object> imports = v8::Object::New(iso);
  v8::Local<v8::External> self = v8::External::New(iso, this);
  for (const char* ns : {kEnv, kUser, kPgcdc, kWasi}) {
    v8::Local<v8::Object> obj = v8::Object::New(iso);
    if (std::string_view(ns) == kEnv) {
      // kernel.wat's functions: the plugin calls them Wasm to Wasm.
      v8::Local<v8::Object> kernel = kernel_exports_.Get(iso);
      v8::Local<v8::Array> names = kernel->GetOwnPropertyNames(ctx).ToLocalChecked();
      for (uint32_t i = 0; i < names->Length(); ++i) {
        v8::Local<v8::Value> key = names->Get(ctx, i).ToLocalChecked();
        const std::string name = Text(iso, key);
        if (name == "memory" || name == "reserve") continue;
        obj->Set(ctx, key, kernel->Get(ctx, key).ToLocalChecked()).Check();
      }
    }
    for (const HostFunction& f : kHostFunctions) {
      if (std::string_view(f.module) != ns) continue;
      v8::Local<v8::Function> fn = v8::Function::New(ctx, f.callback, self).ToLocalChecked();
      obj->Set(ctx, Str(iso, f.name), fn).Check();
    }
    if (std::string_view(ns) == kWasi) AddWasiStubs(ctx, module, obj);
    imports->Set(ctx, Str(iso, ns), obj).Check();
  }
  return imports;
}

// Every other WASI import the module names answers ENOSYS, so modules built
// with a full wasi-libc link even when they never use those calls.
void V8Plugin::AddWasiStubs(v8::Local<v8::Context> ctx, v8::Local<v8::WasmModuleObject> module,
                            v8::Local<v8::Object> wasi) {
  v8::Isolate* iso = ctx->GetIsolate();
  v8::Local<v8::Value> wa = Get(ctx, ctx->Global(), "WebAssembly");
  v8::Local<v8::Value> mod_ctor = Get(ctx, wa.As<v8::Object>(), "Module");
  v8::Local<v8::Value> list_fn = Get(ctx, mod_ctor.As<v8::Object>(), "imports");
  v8::Local<v8::Value> args[] = {module};
  v8::Local<v8::Value> list;
  if (!list_fn->IsFunction() ||
      !list_fn.As<v8::Function>()->Call(ctx, mod_ctor, 1, args).ToLocal(&list) ||
      !list->IsArray()) {
    return;
  }
  v8::Local<v8::Array> entries = list.As<v8::Array>();
  for (uint32_t i = 0; i < entries->Length(); ++i) {
    v8::Local<v8::Value> e = entries->Get(ctx, i).ToLocalChecked();
    if (!e->IsObject()) continue;
    v8::Local<v8::Object> entry = e.As<v8::Object>();
    if (Text(iso, Get(ctx, entry, "module")) != kWasi ||
        Text(iso, Get(ctx, entry, "kind")) != "function") {
      continue;
    }
    v8::Local<v8::Value> name = Get(ctx, entry, "name");
    if (!wasi->HasOwnProperty(ctx, name.As<v8::Name>()).FromMaybe(true)) {
      wasi->Set(ctx, name, v8::Function::New(ctx, WasiEnosys).ToLocalChecked()).Check();
    }
  }
}

void V8Plugin::CollectExports(v8::Local<v8::Context> ctx, v8::Local<v8::Object> exports) {
  v8::Isolate* iso = ctx->GetIsolate();
  v8::Local<v8::Array> names = exports->GetOwnPropertyNames(ctx).ToLocalChecked();
  for (uint32_t i = 0; i < names->Length(); ++i) {
    v8::Local<v8::Value> key = names->Get(ctx, i).ToLocalChecked();
    v8::Local<v8::Value> value = exports->Get(ctx, key).ToLocalChecked();
    const std::string name = Text(iso, key);
    if (value->IsFunction()) {
      functions_[name].Reset(iso, value.As<v8::Function>());
    } else if (name == "memory" && value->IsObject()) {
      memory_.Reset(iso, value.As<v8::Object>());
    }
  }
}

Status V8Plugin::Instantiate(std::string_view wasm) {
  v8::Locker locker(isolate_);
  v8::Isolate::Scope isolate_scope(isolate_);
  v8::HandleScope handles(isolate_);
  v8::Local<v8::Context> ctx = v8::Context::New(isolate_);
  context_.Reset(isolate_, ctx);
  v8::Context::Scope context_scope(ctx);
  v8::TryCatch tc(isolate_);
  if (auto st = InstantiateKernel(ctx, tc); !st) return st;
  v8::Local<v8::WasmModuleObject> module;
  const v8::MemorySpan<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(wasm.data()),
                                            wasm.size());
  if (!v8::WasmModuleObject::Compile(isolate_, bytes).ToLocal(&module)) {
    return Fail(ErrorCode::kInvalidArgument, "invalid Wasm module: " + ExceptionText(isolate_, tc));
  }
  v8::Local<v8::Value> wa = Get(ctx, ctx->Global(), "WebAssembly");
  v8::Local<v8::Value> ctor = Get(ctx, wa.As<v8::Object>(), "Instance");
  v8::Local<v8::Value> args[] = {module, BuildImports(ctx, module)};
  v8::Local<v8::Object> instance;
  if (!ctor.As<v8::Function>()->NewInstance(ctx, 2, args).ToLocal(&instance)) {
    return Fail(ErrorCode::kInvalidArgument,
                "cannot instantiate the Wasm module: " + ExceptionText(isolate_, tc));
  }
  v8::Local<v8::Value> exports = Get(ctx, instance, "exports");
  if (exports.IsEmpty() || !exports->IsObject()) {
    return Fail(ErrorCode::kInvalidArgument, "the Wasm instance has no exports");
  }
  CollectExports(ctx, exports.As<v8::Object>());
  return {};
}

Result<std::string> V8Plugin::Call(std::string_view function, std::string_view input) {
  std::lock_guard lock(mu_);
  const auto start = std::chrono::steady_clock::now();
  Result<std::string> out = CallLocked(function, input);
  metrics_.calls->Inc();
  metrics_.duration->Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  if (!out) metrics_.errors->Inc();
  return out;
}

Result<std::string> V8Plugin::CallLocked(std::string_view function, std::string_view input) {
  auto it = functions_.find(function);
  // Only built on errors: the successful call allocates nothing but its output.
  auto where = [&] { return "plugin " + options_.name + ": " + std::string(function); };
  if (it == functions_.end()) return Fail(ErrorCode::kNotFound, where() + ": no such export");
  v8::Locker locker(isolate_);
  v8::Isolate::Scope isolate_scope(isolate_);
  v8::HandleScope handles(isolate_);
  v8::Local<v8::Context> ctx = context_.Get(isolate_);
  v8::Context::Scope context_scope(ctx);
  v8::TryCatch tc(isolate_);
  if (auto st = BeginKernelCall(input); !st)
    return Fail(ErrorCode::kUnknown, where() + ": " + st.error().message());
  host_error_.clear();
  watchdog_->Arm(options_.call_timeout);
  v8::MaybeLocal<v8::Value> result =
      it->second.Get(isolate_)->Call(ctx, v8::Undefined(isolate_), 0, nullptr);
  const bool timed_out = watchdog_->Disarm();
  if (timed_out) isolate_->CancelTerminateExecution();
  FlushLogs();
  v8::Local<v8::Value> rc;
  if (!result.ToLocal(&rc)) {
    if (timed_out) {
      return Fail(ErrorCode::kTimeout, where() + ": stopped after the call time limit (" +
                                           std::to_string(options_.call_timeout.count()) + " ms)");
    }
    return Fail(ErrorCode::kUnknown,
                where() + ": " + (host_error_.empty() ? ExceptionText(isolate_, tc) : host_error_));
  }
  auto output = KernelResult(where);
  if (!output) return output;
  const int32_t code = rc->Int32Value(ctx).FromMaybe(0);
  if (code != 0) return Fail(ErrorCode::kUnknown, where() + ": returned " + std::to_string(code));
  return output;
}

Status V8Plugin::InstantiateKernel(v8::Local<v8::Context> ctx, v8::TryCatch& tc) {
  const v8::MemorySpan<const uint8_t> bytes(kKernelWasm, kKernelWasmSize);
  v8::Local<v8::WasmModuleObject> module;
  v8::Local<v8::Object> instance;
  v8::Local<v8::Value> ctor =
      Get(ctx, Get(ctx, ctx->Global(), "WebAssembly").As<v8::Object>(), "Instance");
  const std::string failed = "cannot start the Extism kernel: ";
  if (!v8::WasmModuleObject::Compile(isolate_, bytes).ToLocal(&module)) {
    return Fail(ErrorCode::kUnknown, failed + ExceptionText(isolate_, tc));
  }
  v8::Local<v8::Value> args[] = {module};
  if (!ctor.As<v8::Function>()->NewInstance(ctx, 1, args).ToLocal(&instance)) {
    return Fail(ErrorCode::kUnknown, failed + ExceptionText(isolate_, tc));
  }
  v8::Local<v8::Object> exports = Get(ctx, instance, "exports").As<v8::Object>();
  kernel_exports_.Reset(isolate_, exports);
  kernel_memory_.Reset(isolate_, Get(ctx, exports, "memory").As<v8::Object>());
  kernel_alloc_.Reset(isolate_, Get(ctx, exports, "alloc").As<v8::Function>());
  kernel_reserve_.Reset(isolate_, Get(ctx, exports, "reserve").As<v8::Function>());
  return {};
}

std::span<uint8_t> V8Plugin::KernelMemory(v8::Isolate* iso) {
  if (kernel_buffer_.IsEmpty() || kernel_buffer_.Get(iso)->ByteLength() == 0) {
    // First use, or a memory.grow detached the old buffer.
    v8::Local<v8::Context> ctx = iso->GetCurrentContext();
    v8::Local<v8::ArrayBuffer> buffer =
        Get(ctx, kernel_memory_.Get(iso), "buffer").As<v8::ArrayBuffer>();
    kernel_buffer_.Reset(iso, buffer);
    kernel_store_ = buffer->GetBackingStore();
  }
  return {static_cast<uint8_t*>(kernel_store_->Data()), kernel_store_->ByteLength()};
}

uint64_t V8Plugin::KernelAlloc(v8::Isolate* iso, std::string_view data) {
  v8::Local<v8::Context> ctx = iso->GetCurrentContext();
  v8::Local<v8::Value> args[] = {v8::BigInt::NewFromUnsigned(iso, data.size())};
  v8::Local<v8::Value> r;
  if (!kernel_alloc_.Get(iso)->Call(ctx, ctx->Global(), 1, args).ToLocal(&r) || !r->IsBigInt()) {
    return 0;
  }
  const uint64_t offset = r.As<v8::BigInt>()->Uint64Value();
  std::span<uint8_t> memory = KernelMemory(iso);
  if (offset == 0 || offset > memory.size() || memory.size() - offset < data.size()) return 0;
  if (!data.empty()) std::memcpy(memory.data() + offset, data.data(), data.size());
  return offset;
}

bool V8Plugin::VarSet(std::string_view key, std::optional<std::string_view> value) {
  constexpr size_t kMaxVarBytes = 1U << 20;
  auto it = vars_.find(key);
  if (it != vars_.end()) {
    vars_bytes_ -= it->first.size() + it->second.size();
    vars_.erase(it);
  }
  if (!value) return true;  // offset 0 removes the variable
  if (vars_bytes_ + key.size() + value->size() > kMaxVarBytes) return false;
  vars_bytes_ += key.size() + value->size();
  vars_.emplace(std::string(key), std::string(*value));
  return true;
}

Status V8Plugin::BeginKernelCall(std::string_view input) {
  const uint64_t needed = kernel::BytesNeeded(input.size());
  if (KernelMemory(isolate_).size() < needed) {
    v8::Local<v8::Context> ctx = isolate_->GetCurrentContext();
    v8::Local<v8::Value> args[] = {v8::BigInt::NewFromUnsigned(isolate_, needed)};
    v8::Local<v8::Value> ok;
    if (!kernel_reserve_.Get(isolate_)->Call(ctx, ctx->Global(), 1, args).ToLocal(&ok) ||
        ok->Int32Value(ctx).FromMaybe(0) == 0) {
      return Fail(ErrorCode::kInvalidArgument, "input of " + std::to_string(input.size()) +
                                                   " bytes does not fit the kernel memory limit");
    }
  }
  kernel::BeginCall(KernelMemory(isolate_), input);
  return {};
}

template <class Where>
Result<std::string> V8Plugin::KernelResult(const Where& where) {
  std::span<uint8_t> memory = KernelMemory(isolate_);
  if (auto error = kernel::Error(memory)) return Fail(ErrorCode::kUnknown, where() + ": " + *error);
  auto output = kernel::Output(memory);
  if (!output) return Fail(ErrorCode::kUnknown, where() + ": output_set outside the kernel memory");
  return std::string(*output);
}

// V8 compiles Wasm to machine code: it needs pages it can write, then
// execute. Under systemd's MemoryDenyWriteExecute=yes (or prctl PR_SET_MDWE)
// it would abort the process, so refuse with an error first.
Status CheckExecutableMemory() {
  const long page = sysconf(_SC_PAGESIZE);
  void* p = mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return Fail(ErrorCode::kIo, "cannot map memory for the Wasm engine");
  const bool ok = mprotect(p, page, PROT_READ | PROT_EXEC) == 0;
  munmap(p, page);
  if (ok) return {};
  return Fail(ErrorCode::kConfig,
              "Wasm plugins need executable memory for V8's compiler, which this process may not "
              "create (systemd MemoryDenyWriteExecute=yes?); see docs/plugins.md");
}

Result<std::unique_ptr<Plugin>> FromBytes(std::string_view wasm, PluginOptions options) {
  if (auto st = CheckExecutableMemory(); !st) return Fail(st.error());
  StartEngine(options.max_memory_pages);
  auto plugin = std::make_unique<V8Plugin>(std::move(options));
  if (auto st = plugin->Instantiate(wasm); !st) return Fail(st.error());
  if (auto st = plugin->Initialize(); !st) return Fail(st.error());
  return std::unique_ptr<Plugin>(std::move(plugin));
}

}  // namespace
}  // namespace pgcdc::wasm

// The module's one entry point (engine.h).
extern "C" [[gnu::visibility("default")]] const pgcdc::wasm::Engine pgcdc_wasm_engine{
    pgcdc::wasm::kEngineVersion, &pgcdc::wasm::FromBytes};
