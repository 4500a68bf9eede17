// `pgcdc snapshot`: one-shot, consistent export of one table as SNAPSHOT
// events through the normal pipeline (bus -> adapters), then exit.
//
// Configuration: the same layering as `listen` (flag > PGCDC_* env > YAML >
// default) for database_url, adapters and their settings, bus buffer,
// shutdown timeout, metrics listener and logging; a pgcdc.yaml written for
// `listen` is accepted as is (detector settings are ignored). Own flags:
// --table (required), --where, --batch-size, --snapshot-name.
// The bus always runs in reliable mode (nothing is dropped) and the command
// exits only after every adapter acknowledged every row.
//
// Exit codes: 0 all rows exported and delivered; 1 runtime failure (unknown
// table, bad WHERE, connection refused, adapter failure, interrupted);
// 2 usage or configuration error.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <set>

#include "adapter/adapter.h"
#include "bus/bus.h"
#include "cli/cli.h"
#include "cli/output.h"
#include "config/core_params.h"
#include "core/health.h"
#include "core/log.h"
#include "net/http_server.h"
#include "pipeline/http_endpoints.h"
#include "pipeline/pipeline.h"
#include "pipeline/signals.h"
#include "snapshot/progress.h"
#include "snapshot/snapshot_detector.h"
#include "snapshot/table_snapshot.h"

namespace pgcdc::cli {

namespace {

struct SnapshotFlags {
  std::string table;
  std::string where;
  std::string snapshot_name;
  int64_t batch_size = 1000;
};

// The subset of the pipeline parameters that mean something for a one-shot
// export: connection, adapters and their settings, bus buffer, shutdown
// timeout, routes, metrics listener. Detector settings, the bus mode (always
// reliable) and the always-on HTTP server of `listen` are left out.
std::vector<ParamSpec> SnapshotFlagSpecs(const Registry& registry,
                                         const std::vector<ParamSpec>& all) {
  std::set<std::string> keys = {"database_url",     "adapters", "bus.buffer_size",
                                "shutdown_timeout", "routes",   "metrics_addr"};
  for (const auto* a : registry.List(ConnectorKind::kAdapter)) {
    for (const auto& p : a->params) keys.insert(p.key);
  }
  std::vector<ParamSpec> out;
  for (const auto& p : all) {
    if (keys.count(p.key)) out.push_back(p);
  }
  return out;
}

void ValidateSnapshotConfig(const Registry& registry, const config::Config& cfg,
                            const SnapshotFlags& flags, std::vector<std::string>& errors) {
  if (!cfg.Has("database_url")) {
    errors.push_back("database_url: required (--db, PGCDC_DATABASE_URL or database_url in YAML)");
  }
  if (auto t = snapshot::ParseTableName(flags.table); !t) {
    errors.push_back("--table: " + t.error().message());
  }
  if (!flags.snapshot_name.empty() && !snapshot::IsValidSnapshotName(flags.snapshot_name)) {
    errors.push_back("--snapshot-name: \"" + flags.snapshot_name +
                     "\" is not an exported snapshot id (e.g. 00000003-0000001B-1)");
  }
  const std::set<std::string> seen = ValidateAdapters(registry, cfg, errors);
  for (const auto& [adapter, channels] : cfg.GetRoutes("routes")) {
    if (!seen.count(adapter)) {
      errors.push_back("routes: route for \"" + adapter + "\" but that adapter is not enabled");
    }
  }
}

// Prints one line: multi-line libpq messages ("...refused\n\tIs the server
// running...") are joined with spaces.
int Report(const std::string& message) {
  std::cerr << "pgcdc snapshot: " << OneLine(message) << "\n" << std::flush;
  return kExitFailure;
}

int RunSnapshot(const config::Config& cfg, const SnapshotFlags& flags) {
  const bool tty = ::isatty(STDERR_FILENO) == 1;
  auto progress = std::make_shared<snapshot::ProgressReporter>(snapshot::ProgressReporter::Options{
      .table = flags.table, .tty = tty, .log_every_rows = static_cast<uint64_t>(flags.batch_size)});

  snapshot::SnapshotDetectorOptions dopts;
  dopts.database_url = cfg.GetString("database_url");
  dopts.snapshot.table = flags.table;
  dopts.snapshot.where = flags.where;
  dopts.snapshot.batch_size = static_cast<size_t>(flags.batch_size);
  dopts.snapshot_name = flags.snapshot_name;
  dopts.on_start = [progress](int64_t estimate) {
    progress->SetEstimate(estimate);
    progress->Start();
  };
  dopts.on_progress = [progress](uint64_t rows) { progress->Update(rows); };
  dopts.on_finish = [progress](uint64_t rows, bool completed) {
    progress->Finish(rows, completed);
  };
  auto det = std::make_unique<snapshot::SnapshotDetector>(std::move(dopts));
  snapshot::SnapshotDetector* detector = det.get();
  // User errors (connection refused, unknown table, bad WHERE) surface here,
  // before any adapter opens or any event exists.
  if (auto st = detector->Prepare(); !st) return Report(st.error().message());

  std::vector<adapter::AdapterPtr> adapters;
  for (const auto& name : cfg.GetList("adapters")) {
    auto a = Builtins().Find(ConnectorKind::kAdapter, name)->make_adapter(cfg);
    if (!a) return Report("adapter " + name + ": " + a.error().message());
    adapters.push_back(std::move(*a));
  }

  pipeline::Options opts;
  opts.bus.buffer_size = static_cast<size_t>(cfg.GetInt("bus.buffer_size"));
  opts.bus.mode = bus::Mode::kReliable;  // an export must not drop rows
  opts.shutdown_timeout = cfg.GetDuration("shutdown_timeout");
  opts.routes = cfg.GetRoutes("routes");

  pipeline::BlockSignals();
  std::stop_source stop;
  pipeline::SignalWatcher watcher(stop);

  Health health;
  // Released on purpose after a shutdown timeout (a worker may still be
  // inside a sink), as in `listen`.
  auto* pipe = new pipeline::Pipeline(opts, std::move(det), std::move(adapters), health);
  std::unique_ptr<net::HttpServer> metrics_server;
  if (const std::string addr = cfg.GetString("metrics_addr"); !addr.empty()) {
    auto parsed = net::ParseListenAddress(addr);
    if (!parsed) {
      delete pipe;
      return Report("metrics address \"" + addr + "\": " + parsed.error().message());
    }
    metrics_server = std::make_unique<net::HttpServer>("metrics");
    pipeline::MountCoreEndpoints(*metrics_server, health, [pipe] { return pipe->ready(); });
    auto bound = metrics_server->Start(*parsed);
    if (!bound) {
      delete pipe;
      return Report("metrics server: " + bound.error().message());
    }
    log::Info("http server listening", {{"server", "metrics"}, {"addr", *bound}});
  }

  Status st = pipe->Run(stop.get_token());
  if (metrics_server) metrics_server->Stop();
  if (!st && st.error().code() == ErrorCode::kTimeout) {
    Report(st.error().message());
    std::cout.flush();
    std::_Exit(kExitFailure);
  }
  const bool completed = detector->completed();
  const bool delivered = detector->delivered();
  const uint64_t rows = detector->rows();
  delete pipe;  // also destroys the detector
  if (!st) return Report(st.error().message());
  if (!completed) {
    return Report("export incomplete: stopped after " + std::to_string(rows) +
                  " rows (interrupted, or a sink closed)");
  }
  if (!delivered) {
    return Report("exported " + std::to_string(rows) +
                  " rows, but not every adapter received all of them (a sink closed early)");
  }
  return kExitOk;
}

}  // namespace

void AddSnapshotCommand(CLI::App& root, GlobalFlags& global) {
  auto* cmd = root.add_subcommand(
      "snapshot", "Export a table once, consistently, as SNAPSHOT events through the adapters");
  cmd->fallthrough();
  auto flags = std::make_shared<FlagStore>();
  auto own = std::make_shared<SnapshotFlags>();
  // Every pipeline parameter is loaded (so a listen pgcdc.yaml is accepted),
  // but only the relevant ones become flags.
  auto specs = std::make_shared<std::vector<ParamSpec>>(AllParams(Builtins()));
  AddSpecFlags(*cmd, SnapshotFlagSpecs(Builtins(), *specs), *flags);
  cmd->add_option("--table", own->table,
                  "table to export: name or schema.name (parts may be \"quoted\")")
      ->required()
      ->type_name("TABLE");
  cmd->add_option("--where", own->where,
                  "only rows matching this SQL condition (trusted input: raw SQL)")
      ->type_name("SQL");
  cmd->add_option("--batch-size", own->batch_size,
                  "events per batch handed to the bus; also the progress log interval (rows)")
      ->check(CLI::Range(int64_t{1}, int64_t{1'000'000}))
      ->default_str("1000")
      ->type_name("INT");
  cmd->add_option("--snapshot-name", own->snapshot_name,
                  "read as of an exported snapshot (pg_export_snapshot() of an open "
                  "transaction) instead of a fresh one")
      ->type_name("ID");
  cmd->footer(
      "Rows are read with COPY inside one REPEATABLE READ, READ ONLY transaction and emitted\n"
      "as SNAPSHOT events (channel pgcdc:<table>, source snapshot, typed values). The command\n"
      "exits 0 once every adapter has delivered every row. Progress goes to stderr.\n"
      "Example: pgcdc snapshot --db postgres://localhost/app --table public.orders \\\n"
      "           --where \"created_at > now() - interval '1 day'\"");
  cmd->callback([&global, flags, own, specs] {
    auto loaded = LoadConfig(global, *specs, *flags);
    ApplyLogging(loaded.config);
    ValidateSnapshotConfig(Builtins(), loaded.config, *own, loaded.errors);
    if (!loaded.errors.empty()) {
      CommandExitCode() = ReportConfigErrors(loaded.errors);
      return;
    }
    ReportWarnings(loaded.warnings);
    if (loaded.config.GetString("bus.mode") == "fast" &&
        loaded.config.origin("bus.mode") != config::Origin::kDefault) {
      log::Info("snapshot always uses the reliable bus mode; bus.mode=fast ignored");
    }
    CommandExitCode() = RunSnapshot(loaded.config, *own);
  });
}

}  // namespace pgcdc::cli
