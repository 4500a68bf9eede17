#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <thread>

#include "adapter/adapter.h"
#include "bus/bus.h"
#include "cli/cli.h"
#include "core/health.h"
#include "core/log.h"
#include "detector/detector.h"
#include "net/http_server.h"
#include "pipeline/http_endpoints.h"
#include "pipeline/pipeline.h"
#include "pipeline/signals.h"

namespace pgcdc::cli {

namespace {

struct HttpListener {
  std::unique_ptr<net::HttpServer> server;
};

Result<std::unique_ptr<net::HttpServer>> StartHttp(const std::string& name, const std::string& addr,
                                                   Health& health, std::function<bool()> ready) {
  auto parsed = net::ParseListenAddress(addr);
  if (!parsed) return Fail(parsed.error().Wrap(name + " address \"" + addr + "\""));
  auto server = std::make_unique<net::HttpServer>(name);
  pipeline::MountCoreEndpoints(*server, health, std::move(ready));
  auto bound = server->Start(*parsed);
  if (!bound) return Fail(bound.error());
  log::Info("http server listening", {{"server", name}, {"addr", *bound}});
  return server;
}

}  // namespace

int RunPipeline(const Registry& registry, const config::Config& cfg, std::stop_source stop) {
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

  pipeline::Options opts;
  opts.bus.buffer_size = static_cast<size_t>(cfg.GetInt("bus.buffer_size"));
  opts.bus.mode = *bus::ParseMode(cfg.GetString("bus.mode"));  // validated by choices
  opts.shutdown_timeout = cfg.GetDuration("shutdown_timeout");
  opts.routes = cfg.GetRoutes("routes");

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
  // Heap-allocated and released on purpose: after a shutdown timeout a worker
  // may still be inside a sink, so the pipeline must outlive this function.
  auto* pipe = new pipeline::Pipeline(opts, std::move(*det), std::move(adapters), health);
  auto ready = [pipe] { return pipe->ready(); };

  std::vector<std::unique_ptr<net::HttpServer>> servers;
  for (const auto& [key, name] : {std::pair{"http_addr", "http"}, {"metrics_addr", "metrics"}}) {
    const std::string addr = cfg.GetString(key);
    if (addr.empty()) continue;
    auto server = StartHttp(name, addr, health, ready);
    if (!server) {
      log::Error("cannot start http server", {{"error", server.error().message()}});
      delete pipe;
      return kExitFailure;
    }
    servers.push_back(std::move(*server));
  }

  Status st = pipe->Run(stop.get_token());
  for (auto& s : servers) s->Stop();
  if (!st && st.error().code() == ErrorCode::kTimeout) {
    log::Error("shutdown incomplete", {{"error", st.error().message()}});
    std::cout.flush();
    std::_Exit(kExitFailure);
  }
  delete pipe;
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
    if (!loaded.errors.empty()) {
      CommandExitCode() = ReportConfigErrors(loaded.errors);
      return;
    }
    ReportWarnings(loaded.warnings);
    pipeline::BlockSignals();
    std::stop_source stop;
    pipeline::SignalWatcher watcher(stop);
    CommandExitCode() = RunPipeline(Builtins(), loaded.config, stop);
  });
}

}  // namespace pgcdc::cli
