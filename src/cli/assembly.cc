// The one pipeline assembly every command uses (`listen`, `snapshot`,
// `playground`, later `serve`): detector (from the registry, or one the
// command built), adapters from the registry, dead letter queue, HTTP servers
// (main + metrics), inspector and console, backpressure, SIGHUP reloads, then
// Pipeline::Run until stopped, then an orderly teardown.
#include <sys/resource.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>

#include "adapter/adapter.h"
#include "bus/bus.h"
#include "cli/cli.h"
#include "console/console.h"
#include "core/health.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/mutex.h"
#include "detector/detector.h"
#include "dlq/dlq.h"
#include "net/http_server.h"
#include "pg/migrations.h"
#include "pipeline/http_endpoints.h"
#include "pipeline/pipeline.h"
#include "pipeline/signals.h"
#include "schema/http.h"
#include "schema/store.h"
#include "wasm/settings.h"
#include "wasm/sinks.h"

namespace pgcdc::cli {

Result<adapter::AdapterPtr> MakeAdapter(const Registry& registry, const std::string& name,
                                        const config::Config& values,
                                        const config::CoreSettings& core) {
  const ConnectorInfo* info = registry.Find(ConnectorKind::kAdapter, name);
  if (info == nullptr) return Fail(ErrorCode::kConfig, "unknown adapter " + name);
  if (!info->wrap_adapter) return info->make_adapter(values, core);
  const std::string inner_name = values.GetString(info->inner_adapter_key);
  const ConnectorInfo* inner = registry.Find(ConnectorKind::kAdapter, inner_name);
  if (inner == nullptr || inner->wrap_adapter) {
    return Fail(ErrorCode::kConfig, info->inner_adapter_key + ": \"" + inner_name +
                                        "\" is not an adapter " + name + " can wrap");
  }
  auto made = inner->make_adapter(values, core);
  if (!made) return Fail(made.error().Wrap(inner_name));
  return info->wrap_adapter(values, core, std::move(*made));
}

namespace {

std::string RoutesText(const config::RouteMap& routes) {
  if (routes.empty()) return "(none)";
  std::string out;
  for (const auto& [adapter, channels] : routes) {
    if (!out.empty()) out += "; ";
    out += adapter + "=";
    for (size_t i = 0; i < channels.size(); ++i) out += (i ? "," : "") + channels[i];
  }
  return out;
}

// What RunPipeline builds before events flow; torn down in reverse.
struct Assembly {
  struct Listener {
    std::unique_ptr<net::HttpServer> server;
    std::string name;
    std::string addr;
  };
  // Declared first, destroyed last: the streams that adapters (sse, ws,
  // graphql) still hold own timers and sockets of the server's io_context,
  // which must outlive them (ASan: heap-use-after-free at graphql shutdown).
  std::vector<Listener> servers;
  detector::DetectorPtr detector;
  std::vector<adapter::AdapterPtr> adapters;
  std::unique_ptr<dlq::DeadLetterQueue> dead_letters;
  // dead_letters behind the nack window (--dlq-window-size), when on.
  std::unique_ptr<pipeline::WindowedDlq> windowed_dlq;
  // --schema-store: fed by the detector, read by /api/v1/schemas.
  std::shared_ptr<schema::Store> schema_store;
  pipeline::Options options;
  net::HttpServerOptions http_options;  // every listener's limits and credentials
};

// The HTTP listeners' options from --http-* (reads --http-auth-token-file).
Result<net::HttpServerOptions> HttpOptions(const config::HttpSettings& h) {
  net::HttpServerOptions o;
  o.max_connections = static_cast<size_t>(h.max_connections);
  o.max_header_bytes = static_cast<size_t>(h.max_header_bytes);
  o.max_body_bytes = static_cast<size_t>(h.max_body_bytes);
  o.read_timeout = h.read_timeout;
  o.idle_timeout = h.idle_timeout;
  o.stream_max_buffered_bytes = static_cast<size_t>(h.stream_max_buffered_bytes);
  o.loopback_host_check = h.loopback_host_check;
  o.tls_cert_file = h.tls_cert_file;
  o.tls_key_file = h.tls_key_file;
  o.auth.bearer_token = h.auth_token;
  if (!h.auth_token_file.empty()) {
    std::ifstream in(h.auth_token_file);
    std::stringstream text;
    text << in.rdbuf();
    if (!in)
      return Fail(ErrorCode::kConfig, "cannot read http.auth_token_file " + h.auth_token_file);
    o.auth.bearer_token = text.str();
    while (!o.auth.bearer_token.empty() &&
           (o.auth.bearer_token.back() == '\n' || o.auth.bearer_token.back() == '\r')) {
      o.auth.bearer_token.pop_back();
    }
    if (o.auth.bearer_token.empty()) {
      return Fail(ErrorCode::kConfig, "http.auth_token_file " + h.auth_token_file + " is empty");
    }
  }
  o.auth.basic_user = h.basic_user;
  o.auth.basic_password = h.basic_password;
  if (o.auth.basic_user.empty() != o.auth.basic_password.empty()) {
    return Fail(ErrorCode::kConfig, "http.basic_user and http.basic_password go together");
  }
  return o;
}

// Many idle clients must not exhaust descriptors before --http-max-connections
// does: raise the soft open-files limit to the hard one.
void RaiseOpenFileLimit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur >= lim.rlim_max) return;
  lim.rlim_cur = lim.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &lim) != 0) log::Debug("cannot raise the open-files limit");
}

// The names of the pipeline's adapters (built-in and plugin ones).
std::vector<std::string> AdapterNames(const std::vector<adapter::AdapterPtr>& adapters) {
  std::vector<std::string> names;
  for (const auto& a : adapters) names.emplace_back(a->Name());
  return names;
}

// --schema-store: opens the store (a pg one connects and migrates now, so an
// unreachable --schema-db fails the start) and hands it to the detector.
Status AttachSchemaStore(const config::CoreSettings& core, Assembly& out) {
  if (!core.schema.enabled) return Ok();
  schema::Options so;
  so.type = core.schema.store;
  so.db_url = core.schema.db_url.empty() ? core.database_url : core.schema.db_url;
  auto store = schema::Open(so);
  if (!store) {
    return Fail(store.error().code(), "cannot open the schema store (" + core.schema.store +
                                          "): " + store.error().message());
  }
  if (auto st = out.detector->UseSchemaStore(*store); !st) return st;
  out.schema_store = std::move(*store);
  return Ok();
}

Status MakeConnectors(const Registry& registry, const config::Config& values,
                      const config::CoreSettings& core, RunOptions& run, Assembly& out) {
  // Process-wide (every pipeline of `serve` shares pgcdc's tables); before
  // anything opens them.
  if (core.skip_migrations) pg::SetMigrationsSkipped(true);
  if (run.detector) {
    out.detector = std::move(run.detector);
  } else if (IsMultiDetector(values)) {
    auto det = MakeMultiDetector(registry, values, core);
    if (!det) return Fail(det.error().code(), "cannot create detectors: " + det.error().message());
    out.detector = std::move(*det);
  } else {
    const ConnectorInfo* info = registry.Find(ConnectorKind::kDetector, core.detector_type);
    if (info == nullptr) return Fail(ErrorCode::kConfig, "unknown detector " + core.detector_type);
    auto det = info->make_detector(values, core);
    if (!det) return Fail(det.error().code(), "cannot create detector: " + det.error().message());
    out.detector = std::move(*det);
  }
  if (auto st = AttachSchemaStore(core, out); !st) return st;
  // A Wasm checkpoint store (--checkpoint-plugin) replaces pgcdc_checkpoints.
  const wasm::Settings plugins = wasm::Bind(values);
  if (!plugins.checkpoint_path.empty()) {
    auto store = wasm::PluginCheckpointStore::Open(plugins);
    if (!store) {
      return Fail(store.error().code(),
                  "cannot load the checkpoint plugin: " + store.error().message());
    }
    if (auto st = out.detector->UseCheckpointBackend(std::move(*store)); !st) return st;
  }
  for (const auto& name : core.adapters) {
    auto a = MakeAdapter(registry, name, values, core);
    if (!a) {
      return Fail(a.error().code(), "cannot create adapter " + name + ": " + a.error().message());
    }
    out.adapters.push_back(std::move(*a));
  }
  // Wasm adapter plugins (--plugin-adapter, plugins.adapters).
  auto plugin_adapters = wasm::MakePluginAdapters(plugins);
  if (!plugin_adapters) {
    return Fail(plugin_adapters.error().code(),
                "cannot create adapter plugins: " + plugin_adapters.error().message());
  }
  for (auto& a : *plugin_adapters) out.adapters.push_back(std::move(a));
  if (core.dlq.type == "plugin") {
    auto dead_letters = wasm::MakePluginDlq(plugins);
    if (!dead_letters) {
      return Fail(dead_letters.error().code(),
                  "cannot create dead letter queue: " + dead_letters.error().message());
    }
    out.dead_letters = std::move(*dead_letters);
    return Ok();
  }
  dlq::Options dlq_options;
  dlq_options.type = core.dlq.type;
  dlq_options.table = core.dlq.table;
  dlq_options.db_url = core.dlq.db.empty() ? core.database_url : core.dlq.db;
  auto dead_letters = dlq::Make(dlq_options);
  if (!dead_letters) {
    return Fail(dead_letters.error().code(),
                "cannot create dead letter queue: " + dead_letters.error().message());
  }
  out.dead_letters = std::move(*dead_letters);
  return Ok();
}

pipeline::Options PipelineOptions(const config::CoreSettings& core, const RunOptions& run,
                                  const std::vector<adapter::AdapterPtr>& adapters,
                                  Health& health) {
  pipeline::Options opts;
  opts.bus.buffer_size = static_cast<size_t>(core.bus_buffer_size);
  opts.bus.mode = run.bus_mode ? *run.bus_mode : *bus::ParseMode(core.bus_mode);  // by choices
  opts.shutdown_timeout = core.shutdown_timeout;
  opts.routes = core.routes;
  opts.transforms = run.transforms;
  if (core.backpressure.enabled) {
    pipeline::BackpressureOptions bo;
    bo.warn_bytes = core.backpressure.warn_threshold;
    bo.critical_bytes = core.backpressure.critical_threshold;
    bo.max_throttle = core.backpressure.max_throttle;
    opts.backpressure = std::make_shared<pipeline::BackpressureController>(bo, &health);
    for (const auto& [adapter, prio] : core.backpressure.adapter_priorities) {
      opts.priorities[adapter] = *pipeline::ParsePriority(prio.at(0));  // validated
    }
  }
  if (core.dlq.window_size > 0) {
    opts.nack_windows = std::make_shared<pipeline::NackWindows>(
        pipeline::NackWindowOptions{.size = static_cast<uint64_t>(core.dlq.window_size),
                                    .threshold = static_cast<uint64_t>(core.dlq.window_threshold)},
        AdapterNames(adapters), &health);
  }
  // Always present so /inspect can say it is disabled; records nothing at 0.
  opts.inspector =
      std::make_shared<pipeline::Inspector>(static_cast<size_t>(core.inspector_buffer_size));
  return opts;
}

// HTTP servers exist before the adapters attach (sinks such as sse mount
// routes on the main server) and start before events flow.
Status AttachAndServe(const config::CoreSettings& core, const RunOptions& run, Health& health,
                      std::atomic<pipeline::Pipeline*>& pipe_ptr, Assembly& a) {
  auto ready = [&pipe_ptr] {
    auto* p = pipe_ptr.load();
    return p != nullptr && p->ready();
  };
  auto http_options = HttpOptions(core.http);
  if (!http_options) return Fail(http_options.error());
  a.http_options = std::move(*http_options);
  RaiseOpenFileLimit();
  for (const auto& [addr, name] :
       {std::pair{core.http_addr, "http"}, {core.metrics_addr, "metrics"}}) {
    if (addr.empty()) continue;
    net::HttpServerOptions options = a.http_options;
    if (std::string_view(name) == "metrics") {
      options.tls_cert_file = core.http.metrics_tls_cert_file;
      options.tls_key_file = core.http.metrics_tls_key_file;
    }
    auto server = std::make_unique<net::HttpServer>(name, options);
    pipeline::MountCoreEndpoints(*server, health, ready);
    a.servers.push_back({std::move(server), name, addr});
  }
  adapter::Services services;
  services.dlq = a.dead_letters.get();
  if (a.options.nack_windows) {
    a.windowed_dlq =
        std::make_unique<pipeline::WindowedDlq>(*a.dead_letters, *a.options.nack_windows);
    services.dlq = a.windowed_dlq.get();
  }
  services.health = &health;
  services.http_options = &a.http_options;
  services.skip_validation = core.skip_validation;
  services.publish = [&pipe_ptr](EventBatch&& batch) {
    auto* p = pipe_ptr.load();
    return p != nullptr && p->Inject(std::move(batch));
  };
  services.delivered_by_others = [&pipe_ptr](std::string_view adapter) -> uint64_t {
    auto* p = pipe_ptr.load();
    return p != nullptr ? p->DeliveredByOthers(adapter) : 0;
  };
  a.options.dlq = services.dlq;
  size_t own_routes = 0;
  if (!a.servers.empty() && a.servers.front().name == "http") {
    services.http = a.servers.front().server.get();
    a.options.inspector->Mount(*services.http);
    if (a.schema_store) schema::MountApi(*services.http, a.schema_store);
    if (core.console_enabled) {
      console::Mount(*services.http, [&pipe_ptr] {
        auto* p = pipe_ptr.load();
        return p != nullptr ? p->StatsJson() : std::string(R"({"ready":false,"adapters":[]})");
      });
    }
    own_routes = services.http->RouteCount();
  }
  for (auto& adapter : a.adapters) {
    if (auto st = adapter->Attach(services); !st) {
      return Fail(st.error().code(), "cannot attach adapter " + std::string(adapter->Name()) +
                                         ": " + st.error().message());
    }
  }
  if (auto st = a.detector->AttachHttp(services.http); !st) {
    return Fail(st.error().code(), "cannot attach detector: " + st.error().message());
  }
  if (services.http != nullptr && run.main_http == RunOptions::MainHttp::kWhenUsed &&
      services.http->RouteCount() == own_routes) {
    a.servers.erase(a.servers.begin());  // no adapter serves on it
  }
  for (auto& l : a.servers) {
    auto parsed = net::ParseListenAddress(l.addr);
    Result<std::string> bound = parsed ? l.server->Start(*parsed) : Fail(parsed.error());
    if (!bound) {
      return Fail(bound.error().code(), "cannot start " + l.name + " server on " + l.addr + ": " +
                                            bound.error().message());
    }
    log::Info("http server listening",
              {{"server", l.name},
               {"addr", *bound},
               {"tls", l.server->options().tls_cert_file.empty() ? "false" : "true"}});
  }
  return Ok();
}

// SIGHUP: re-read flags/env/config file; routes and transforms are swapped
// atomically, everything else needs a restart.
class Reloader {
 public:
  Reloader(pipeline::Pipeline* pipe, const RunOptions& run, config::RouteMap routes)
      : pipe_(pipe),
        reload_(run.reload),
        yaml_path_(run.yaml_path),
        routes_(std::move(routes)),
        chains_(run.transforms) {}

  void operator()() {
    MutexLock lock(mu_);
    if (!reload_) {
      log::Warn("SIGHUP ignored: nothing to reload");
      return;
    }
    auto next = reload_();
    Result<transform::ChainSet> chains =
        next ? transform::Build(*next, yaml_path_, &chains_) : Fail(next.error());
    if (!chains) {
      errors_.Inc();
      log::Error("config reload failed; keeping the running configuration",
                 {{"error", chains.error().message()}});
      return;
    }
    config::RouteMap routes = config::BindCore(*next).routes;
    const std::string before = RoutesText(routes_);
    const std::string after = RoutesText(routes);
    const std::string chains_before = chains_.Describe();
    const std::string chains_after = chains->Describe();
    pipe_->Reconfigure(routes, *chains);
    routes_ = routes;
    chains_ = *chains;
    reloads_.Inc();
    log::Info(
        "config reloaded",
        {{"routes", before == after ? std::string("unchanged") : before + " -> " + after},
         {"transforms", chains_before == chains_after ? std::string("unchanged")
                                                      : chains_before + " -> " + chains_after}});
  }

 private:
  pipeline::Pipeline* pipe_;
  ReloadFunc reload_;
  std::string yaml_path_;
  Mutex mu_;  // one reload at a time
  config::RouteMap routes_ GUARDED_BY(mu_);
  transform::ChainSet chains_ GUARDED_BY(mu_);
  metrics::Counter& reloads_ =
      metrics::DefaultCounter("pgcdc_config_reloads_total", "Successful SIGHUP reloads.");
  metrics::Counter& errors_ =
      metrics::DefaultCounter("pgcdc_config_reload_errors_total", "SIGHUP reloads that failed.");
};

}  // namespace

int RunPipeline(const Registry& registry, const config::Config& values, RunOptions run,
                const std::stop_source& stop) {
  const config::CoreSettings core = config::BindCore(values);
  Assembly a;
  if (auto st = MakeConnectors(registry, values, core, run, a); !st) {
    log::Error("cannot start pipeline", {{"error", st.error().message()}});
    if (run.on_start_failure) run.on_start_failure(st);
    return kExitFailure;
  }
  Health health;
  a.options = PipelineOptions(core, run, a.adapters, health);
  std::atomic<pipeline::Pipeline*> pipe_ptr{nullptr};
  if (auto st = AttachAndServe(core, run, health, pipe_ptr, a); !st) {
    log::Error("cannot start pipeline", {{"error", st.error().message()}});
    if (run.on_start_failure) run.on_start_failure(st);
    for (auto& l : a.servers) l.server->Stop();
    return kExitFailure;
  }
  if (run.on_adapters) {
    std::vector<adapter::Adapter*> raw;
    for (auto& ad : a.adapters) raw.push_back(ad.get());
    run.on_adapters(raw);
  }
  auto inspector = a.options.inspector;
  // Heap-allocated and released on purpose: after a shutdown timeout a worker
  // may still be inside a sink, so the pipeline must outlive this function.
  auto* pipe =
      new pipeline::Pipeline(a.options, std::move(a.detector), std::move(a.adapters), health);
  pipe_ptr = pipe;
  if (!run.transforms.Describe().empty()) {
    log::Info("transforms", {{"chains", run.transforms.Describe()}});
  }
  Reloader reloader(pipe, run, core.routes);
  if (run.on_running) {
    const RunOptions::Probes probes{
        [pipe] { return pipe->ready(); }, [pipe] { return pipe->StatsJson(); },
        [&health] { return health.Overall(); }, [&health] { return health.ToJson(); }};
    run.on_running(&probes);
  }
  Status st;
  {
    // SIGHUP also resumes adapters the nack window paused.
    std::optional<pipeline::SignalWatcher> watcher;
    if (run.watch_signals) {
      watcher.emplace(stop, [&reloader, windows = a.options.nack_windows] {
        if (windows) windows->ResumeAll();
        reloader();
      });
    }
    st = pipe->Run(stop.get_token());
  }
  if (run.on_running) run.on_running(nullptr);
  // A source that finds a configuration error only when it starts (a broker
  // or server that cannot be reached, a stream that does not exist) exits
  // like one found by validation. (Pipeline::Run wraps detector failures as
  // "detector <name>: ...".)
  const bool source_config = !st && st.error().code() == ErrorCode::kConfig &&
                             st.error().message().starts_with("detector ");
  const int failed = source_config ? kExitUsage : kExitFailure;
  const int code = run.finish ? run.finish(st) : (st ? kExitOk : failed);
  inspector->Close();
  for (auto& l : a.servers) l.server->Stop();
  if (!st && st.error().code() == ErrorCode::kTimeout) {
    log::Error("shutdown incomplete", {{"error", st.error().message()}});
    if (run.exit_on_stuck_shutdown) {
      std::cout.flush();
      std::_Exit(kExitFailure);
    }
    return kExitFailure;  // the pipeline is left behind: a worker may still use it
  }
  delete pipe;
  a.dead_letters->Close();
  if (!st) {
    if (!run.finish) log::Error("pipeline failed", {{"error", st.error().message()}});
    return code == kExitOk ? kExitFailure : code;
  }
  if (code == kExitOk) log::Info("shutdown complete");
  return code;
}

}  // namespace pgcdc::cli
