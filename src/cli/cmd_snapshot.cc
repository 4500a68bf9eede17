// `pgcdc snapshot`: one-shot, consistent export of one table as SNAPSHOT
// events through the normal pipeline (bus -> adapters), then exit.
//
// Configuration: the same layering as `listen` (flag > PGCDC_* env > YAML >
// default) and the same pipeline assembly (RunPipeline: adapters, DLQ,
// transforms, routes, HTTP), so every adapter works here as under `listen`;
// a pgcdc.yaml written for `listen` is accepted as is (detector settings are
// ignored). Own flags: --table (required), --where, --batch-size,
// --snapshot-name, and (also YAML snapshot.*) --snapshot-workers,
// --snapshot-chunk-pages, --snapshot-state. The bus always runs in reliable mode (nothing is
// dropped) and the command exits only after every adapter acknowledged every row. Serving adapters
// (sse, ws, kafkaserver) wait for a first client before the export starts; kafkaserver then holds
// the process until the consumer groups have committed every row.
//
// Exit codes: 0 all rows exported and delivered; 1 runtime failure (unknown
// table, bad WHERE, connection refused, adapter failure, interrupted);
// 2 usage or configuration error.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>
#include <memory>
#include <set>
#include <utility>

#include "adapter/adapter.h"
#include "bus/bus.h"
#include "cli/cli.h"
#include "cli/output.h"
#include "config/core_params.h"
#include "core/ack_poll.h"
#include "core/health.h"
#include "core/log.h"
#include "core/sleep.h"
#include "net/http_server.h"
#include "pipeline/http_endpoints.h"
#include "pipeline/pipeline.h"
#include "pipeline/signals.h"
#include "registry/define.h"
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

// Shown as the default of --snapshot-state; the real default depends on --table.
constexpr std::string_view kDefaultStateText = "./pgcdc-snapshot-<table>.json";

// Settings of the chunked, resumable export (flags, PGCDC_* env or YAML
// `snapshot:`).
struct ChunkSettings {
  int64_t workers = 1;
  int64_t chunk_pages = 1024;
  std::string state;
};

std::vector<ParamSpec> ChunkParams() {
  using C = ChunkSettings;
  return {
      Param("snapshot.workers", &C::workers,
            "connections reading page ranges of the table in parallel, all on one snapshot",
            {.flag = "snapshot-workers", .min = 1, .max = 64}),
      Param("snapshot.chunk_pages", &C::chunk_pages,
            "table pages (8 KiB each) per chunk: the unit of parallel reading and of resuming",
            {.flag = "snapshot-chunk-pages", .min = 1, .max = 1'000'000'000}),
      Param("snapshot.state", &C::state,
            "state file recording the delivered chunks, so a rerun after a crash resumes; "
            "none = no state file",
            {.flag = "snapshot-state", .default_text = std::string(kDefaultStateText)}),
  };
}

// The pipeline parameters that mean something for a one-shot export: core
// settings except the detector's, the bus mode (always reliable) and
// backpressure, plus every adapter's and every transform's.
std::vector<ParamSpec> SnapshotFlagSpecs(const Registry& registry,
                                         const std::vector<ParamSpec>& all) {
  std::set<std::string> keys;
  for (const auto& p : config::CoreParams()) {
    if (p.key != "detector.type" && p.key != "bus.mode" && !p.key.starts_with("backpressure.")) {
      keys.insert(p.key);
    }
  }
  for (auto kind : {ConnectorKind::kAdapter, ConnectorKind::kTransform}) {
    for (const auto* c : registry.List(kind)) {
      for (const auto& p : c->params) keys.insert(p.key);
    }
  }
  std::vector<ParamSpec> out;
  for (const auto& p : all) {
    if (keys.count(p.key)) out.push_back(p);
  }
  return out;
}

void ValidateSnapshotFlags(const config::Config& cfg, const SnapshotFlags& flags,
                           std::vector<std::string>& errors) {
  if (config::BindCore(cfg).database_url.empty()) {
    errors.push_back("database_url: required (--db, PGCDC_DATABASE_URL or database_url in YAML)");
  }
  if (auto t = snapshot::ParseTableName(flags.table); !t) {
    errors.push_back("--table: " + t.error().message());
  }
  if (!flags.snapshot_name.empty() && !snapshot::IsValidSnapshotName(flags.snapshot_name)) {
    errors.push_back("--snapshot-name: \"" + flags.snapshot_name +
                     "\" is not an exported snapshot id (e.g. 00000003-0000001B-1)");
  }
}

// Prints one line: multi-line libpq messages ("...refused\n\tIs the server
// running...") are joined with spaces.
int Report(const std::string& message) {
  std::cerr << "pgcdc snapshot: " << OneLine(message) << "\n" << std::flush;
  return kExitFailure;
}

// Serving adapters (sse, ws, kafkaserver) only deliver to attached clients:
// the export waits until each has one, so no row goes to nobody.
bool AwaitSubscribers(const std::vector<adapter::Adapter*>& adapters, std::stop_token stop) {
  auto waiting = [&] {
    std::string names;
    for (const auto* a : adapters) {
      if (auto n = a->Subscribers(); n && *n == 0) {
        names += (names.empty() ? "" : ", ") + std::string(a->Name());
      }
    }
    return names;
  };
  const std::string first = waiting();
  if (first.empty()) return true;
  log::Info("snapshot: waiting for a client to connect before exporting", {{"adapters", first}});
  Sleeper sleeper(std::move(stop));
  return PollUntil([&] { return waiting().empty(); }, sleeper,
                   {.first_pause = std::chrono::milliseconds(1),
                    .max_pause = std::chrono::milliseconds(20)}) == WaitResult::kDone;
}

int RunSnapshot(PreparedPipeline prepared, const SnapshotFlags& flags) {
  const config::CoreSettings core = config::BindCore(prepared.values);
  const bool tty = ::isatty(STDERR_FILENO) == 1;
  auto progress = std::make_shared<snapshot::ProgressReporter>(snapshot::ProgressReporter::Options{
      .table = flags.table, .tty = tty, .log_every_rows = static_cast<uint64_t>(flags.batch_size)});

  // Filled by on_adapters before the detector thread starts.
  auto adapters = std::make_shared<std::vector<adapter::Adapter*>>();
  snapshot::SnapshotDetectorOptions dopts;
  dopts.database_url = core.database_url;
  dopts.snapshot.table = flags.table;
  dopts.snapshot.where = flags.where;
  dopts.snapshot.batch_size = static_cast<size_t>(flags.batch_size);
  dopts.snapshot_name = flags.snapshot_name;
  dopts.workers = static_cast<size_t>(prepared.values.GetInt("snapshot.workers"));
  dopts.chunk_pages = static_cast<uint64_t>(prepared.values.GetInt("snapshot.chunk_pages"));
  dopts.state_path = prepared.values.GetString("snapshot.state");
  if (dopts.state_path.empty() || dopts.state_path == kDefaultStateText) {
    dopts.state_path = snapshot::DefaultStatePath(flags.table);
  }
  if (dopts.state_path == "none") {
    dopts.state_path.clear();
  } else {
    std::error_code ec;  // absolute, so logs and errors name the file unambiguously
    if (auto abs = std::filesystem::absolute(dopts.state_path, ec); !ec) dopts.state_path = abs;
  }
  dopts.await_start = [adapters](std::stop_token stop) {
    return AwaitSubscribers(*adapters, std::move(stop));
  };
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
  // A corrupt state file is a usage error (kConfig, exit 2).
  if (auto st = detector->Prepare(); !st) {
    const int code = Report(st.error().message());
    return st.error().code() == ErrorCode::kConfig ? kExitUsage : code;
  }

  pipeline::BlockSignals();
  std::stop_source stop;
  RunOptions run;
  run.detector = std::move(det);
  run.transforms = std::move(prepared.transforms);
  run.bus_mode = bus::Mode::kReliable;  // an export must not drop rows
  run.main_http = RunOptions::MainHttp::kWhenUsed;
  run.on_adapters = [adapters](const std::vector<adapter::Adapter*>& all) { *adapters = all; };
  run.finish = [detector](const Status& st) {
    if (!st) return Report(st.error().message());
    if (!detector->completed()) {
      return Report("export incomplete: stopped after " + std::to_string(detector->rows()) +
                    " rows (interrupted, or a sink closed)");
    }
    if (!detector->delivered()) {
      return Report("exported " + std::to_string(detector->rows()) +
                    " rows, but not every adapter received all of them (a sink closed early)");
    }
    return kExitOk;
  };
  return RunPipeline(Builtins(), prepared.values, std::move(run), stop);
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
  auto flag_specs = SnapshotFlagSpecs(Builtins(), *specs);
  for (auto& p : ChunkParams()) {
    specs->push_back(p);
    flag_specs.push_back(std::move(p));
  }
  AddSpecFlags(*cmd, flag_specs, *flags);
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
      "Rows are read with COPY, page range by page range, on one REPEATABLE READ snapshot and\n"
      "emitted as SNAPSHOT events (channel pgcdc:<table>, source snapshot, typed values). The\n"
      "command exits 0 once every adapter has delivered every row. Progress goes to stderr.\n"
      "After a crash, rerunning the same command skips the chunks recorded as delivered in\n"
      "the state file (see docs/snapshot.md).\n"
      "Example: pgcdc snapshot --db postgres://localhost/app --table public.orders \\\n"
      "           --where \"created_at > now() - interval '1 day'\"");
  cmd->callback([&global, flags, own, specs] {
    auto prepared =
        PreparePipeline(global, *specs, *flags, PipelineKind::kSnapshot,
                        [own](const config::Config& cfg, std::vector<std::string>& errors) {
                          ValidateSnapshotFlags(cfg, *own, errors);
                        });
    if (!prepared) return;
    TracingSession tracing(prepared->values);
    if (!tracing.ok()) return;
    if (prepared->values.GetString("bus.mode") == "fast" &&
        prepared->values.origin("bus.mode") != config::Origin::kDefault) {
      log::Info("snapshot always uses the reliable bus mode; bus.mode=fast ignored");
    }
    CommandExitCode() = RunSnapshot(std::move(*prepared), *own);
  });
}

}  // namespace pgcdc::cli
