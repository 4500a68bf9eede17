#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>

#include "adapter/adapter.h"
#include "bus/bus.h"
#include "cli/cli.h"
#include "console/console.h"
#include "core/health.h"
#include "core/log.h"
#include "core/metrics.h"
#include "detector/detector.h"
#include "dlq/dlq.h"
#include "net/http_server.h"
#include "pipeline/http_endpoints.h"
#include "pipeline/pipeline.h"
#include "pipeline/signals.h"

namespace pgcdc::cli {

namespace {

std::unique_ptr<net::HttpServer> MakeHttp(const std::string& name, Health& health,
                                          std::function<bool()> ready) {
  auto server = std::make_unique<net::HttpServer>(name);
  pipeline::MountCoreEndpoints(*server, health, std::move(ready));
  return server;
}

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

}  // namespace

int RunPipeline(const Registry& registry, const config::Config& cfg, transform::ChainSet transforms,
                std::stop_source stop, ReloadFunc reload, std::string yaml_path) {
  const ConnectorInfo* det_info =
      registry.Find(ConnectorKind::kDetector, cfg.GetString("detector.type"));
  auto det = det_info->make_detector(cfg);
  if (!det) {
    log::Error("cannot create detector", {{"error", det.error().message()}});
    return kExitFailure;
  }
  std::vector<adapter::AdapterPtr> adapters;
  for (const auto& name : cfg.GetList("adapters")) {
    auto a = registry.Find(ConnectorKind::kAdapter, name)->make_adapter(cfg);
    if (!a) {
      log::Error("cannot create adapter", {{"adapter", name}, {"error", a.error().message()}});
      return kExitFailure;
    }
    adapters.push_back(std::move(*a));
  }

  dlq::Options dlq_options;
  dlq_options.type = cfg.GetString("dlq.type");
  dlq_options.table = cfg.GetString("dlq.table");
  dlq_options.db_url = cfg.Has("dlq.db") ? cfg.GetString("dlq.db") : cfg.GetString("database_url");
  auto dead_letters = dlq::Make(dlq_options);
  if (!dead_letters) {
    log::Error("cannot create dead letter queue", {{"error", dead_letters.error().message()}});
    return kExitFailure;
  }

  pipeline::Options opts;
  opts.bus.buffer_size = static_cast<size_t>(cfg.GetInt("bus.buffer_size"));
  opts.bus.mode = *bus::ParseMode(cfg.GetString("bus.mode"));  // validated by choices
  opts.shutdown_timeout = cfg.GetDuration("shutdown_timeout");
  opts.routes = cfg.GetRoutes("routes");
  opts.transforms = transforms;

  Health health;
  if (cfg.GetBool("backpressure.enabled")) {
    pipeline::BackpressureOptions bo;
    bo.warn_bytes = cfg.GetInt("backpressure.warn_threshold");
    bo.critical_bytes = cfg.GetInt("backpressure.critical_threshold");
    bo.max_throttle = std::chrono::duration_cast<std::chrono::milliseconds>(
        cfg.GetDuration("backpressure.max_throttle"));
    opts.backpressure = std::make_shared<pipeline::BackpressureController>(bo, &health);
    for (const auto& [adapter, prio] : cfg.GetRoutes("backpressure.adapter_priorities")) {
      opts.priorities[adapter] = *pipeline::ParsePriority(prio.at(0));
    }
  }

  // HTTP servers exist before the adapters attach (sinks such as sse mount
  // routes on the main server) and start before events flow.
  std::atomic<pipeline::Pipeline*> pipe_ptr{nullptr};
  auto ready = [&pipe_ptr] {
    auto* p = pipe_ptr.load();
    return p != nullptr && p->ready();
  };
  struct Listener {
    std::unique_ptr<net::HttpServer> server;
    std::string name;
    std::string addr;
  };
  std::vector<Listener> servers;
  for (const auto& [key, name] : {std::pair{"http_addr", "http"}, {"metrics_addr", "metrics"}}) {
    const std::string addr = cfg.GetString(key);
    if (addr.empty()) continue;
    servers.push_back({MakeHttp(name, health, ready), name, addr});
  }
  const size_t inspect_buffer = static_cast<size_t>(cfg.GetInt("inspector.buffer_size"));
  // Always present so /inspect can say it is disabled; records nothing at 0.
  opts.inspector = std::make_shared<pipeline::Inspector>(inspect_buffer);
  adapter::Services services;
  services.dlq = dead_letters->get();
  opts.dlq = services.dlq;
  if (!servers.empty() && servers.front().name == "http")
    services.http = servers.front().server.get();
  if (services.http != nullptr) {
    if (opts.inspector) opts.inspector->Mount(*services.http);
    if (cfg.GetBool("console.enabled")) {
      console::Mount(*services.http, [&pipe_ptr] {
        auto* p = pipe_ptr.load();
        return p != nullptr ? p->StatsJson() : std::string(R"({"ready":false,"adapters":[]})");
      });
    }
  }
  for (auto& a : adapters) {
    if (auto st = a->Attach(services); !st) {
      log::Error("cannot attach adapter",
                 {{"adapter", a->Name()}, {"error", st.error().message()}});
      return kExitFailure;
    }
  }
  for (auto& l : servers) {
    auto parsed = net::ParseListenAddress(l.addr);
    Result<std::string> bound = parsed ? l.server->Start(*parsed) : Fail(parsed.error());
    if (!bound) {
      log::Error("cannot start http server",
                 {{"server", l.name}, {"addr", l.addr}, {"error", bound.error().message()}});
      return kExitFailure;
    }
    log::Info("http server listening", {{"server", l.name}, {"addr", *bound}});
  }

  // Heap-allocated and released on purpose: after a shutdown timeout a worker
  // may still be inside a sink, so the pipeline must outlive this function.
  auto* pipe = new pipeline::Pipeline(opts, std::move(*det), std::move(adapters), health);
  pipe_ptr = pipe;

  auto& reloads = metrics::Default()
                      .AddCounter("pgcdc_config_reloads_total", "Successful SIGHUP reloads.")
                      .Get();
  auto& reload_errors =
      metrics::Default()
          .AddCounter("pgcdc_config_reload_errors_total", "SIGHUP reloads that failed.")
          .Get();
  config::RouteMap current_routes = opts.routes;
  transform::ChainSet current_chains = transforms;
  if (!transforms.Describe().empty()) {
    log::Info("transforms", {{"chains", transforms.Describe()}});
  }
  std::mutex reload_mu;
  auto on_hup = [&] {
    std::lock_guard lock(reload_mu);
    if (!reload) {
      log::Warn("SIGHUP ignored: nothing to reload");
      return;
    }
    auto next = reload();
    Result<transform::ChainSet> chains =
        next ? transform::Build(*next, yaml_path, &current_chains) : Fail(next.error());
    if (!chains) {
      reload_errors.Inc();
      log::Error("config reload failed; keeping the running configuration",
                 {{"error", chains.error().message()}});
      return;
    }
    config::RouteMap routes = next->GetRoutes("routes");
    const std::string before = RoutesText(current_routes);
    const std::string after = RoutesText(routes);
    const std::string chains_before = current_chains.Describe();
    const std::string chains_after = chains->Describe();
    pipe->Reconfigure(routes, *chains);
    current_routes = routes;
    current_chains = *chains;
    reloads.Inc();
    log::Info(
        "config reloaded",
        {{"routes", before == after ? std::string("unchanged") : before + " -> " + after},
         {"transforms", chains_before == chains_after ? std::string("unchanged")
                                                      : chains_before + " -> " + chains_after}});
  };
  Status st;
  {
    pipeline::SignalWatcher watcher(stop, on_hup);
    st = pipe->Run(stop.get_token());
  }
  if (opts.inspector) opts.inspector->Close();
  for (auto& l : servers) l.server->Stop();
  if (!st && st.error().code() == ErrorCode::kTimeout) {
    log::Error("shutdown incomplete", {{"error", st.error().message()}});
    std::cout.flush();
    std::_Exit(kExitFailure);
  }
  delete pipe;
  (*dead_letters)->Close();
  if (!st) {
    log::Error("pipeline failed", {{"error", st.error().message()}});
    return kExitFailure;
  }
  log::Info("shutdown complete");
  return kExitOk;
}

void AddListenCommand(CLI::App& root, GlobalFlags& global) {
  auto* cmd = root.add_subcommand("listen", "Run a pipeline: detector -> bus -> adapters");
  cmd->fallthrough();
  auto flags = std::make_shared<FlagStore>();
  auto specs = std::make_shared<std::vector<ParamSpec>>(AllParams(Builtins()));
  AddSpecFlags(*cmd, *specs, *flags);
  cmd->footer(
      "Every flag can also be set as PGCDC_<KEY> in the environment or as <key> in the YAML\n"
      "config file (--config, default ./pgcdc.yaml). Precedence: flag > env > file > default.\n"
      "Example: pgcdc listen --db postgres://localhost/app -c pgcdc:orders");
  cmd->callback([&global, flags, specs] {
    auto loaded = LoadConfig(global, *specs, *flags);
    ApplyLogging(loaded.config);
    NormalizePipelineConfig(loaded.config);
    ValidatePipelineConfig(Builtins(), loaded.config, loaded.errors);
    const std::string yaml_path = ConfigFilePath(global);
    auto chains = transform::Build(loaded.config, yaml_path, nullptr, &loaded.errors);
    if (!loaded.errors.empty() || !chains) {
      if (loaded.errors.empty()) loaded.errors.push_back(chains.error().message());
      CommandExitCode() = ReportConfigErrors(loaded.errors);
      return;
    }
    ReportWarnings(loaded.warnings);
    pipeline::BlockSignals();
    std::stop_source stop;
    // SIGHUP: re-read flags/env/config file; routes (and, later, transforms)
    // are swapped atomically, everything else needs a restart.
    auto reload = [&global, flags, specs]() -> Result<config::Config> {
      auto next = LoadConfig(global, *specs, *flags);
      NormalizePipelineConfig(next.config);
      ValidatePipelineConfig(Builtins(), next.config, next.errors);
      if (!next.errors.empty()) {
        std::string msg;
        for (const auto& e : next.errors) msg += (msg.empty() ? "" : "; ") + e;
        return Fail(ErrorCode::kConfig, msg);
      }
      return std::move(next.config);
    };
    CommandExitCode() =
        RunPipeline(Builtins(), loaded.config, std::move(*chains), stop, reload, yaml_path);
  });
}

}  // namespace pgcdc::cli
