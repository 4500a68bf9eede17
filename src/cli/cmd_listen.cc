// `pgcdc listen`: the long-running pipeline; all of it is assembled by
// RunPipeline (cli/assembly.cc).
#include <CLI/CLI.hpp>
#include <memory>

#include "cli/cli.h"
#include "pipeline/signals.h"

namespace pgcdc::cli {

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
    auto prepared = PreparePipeline(global, *specs, *flags, PipelineKind::kListen);
    if (!prepared) return;  // reported; exit code set
    TracingSession tracing(prepared->values);
    if (!tracing.ok()) return;
    pipeline::BlockSignals();
    std::stop_source stop;
    RunOptions run;
    run.transforms = std::move(prepared->transforms);
    run.yaml_path = ConfigFilePath(global);
    run.reload = [&global, flags, specs]() -> Result<config::Config> {
      auto next = LoadValidated(global, *specs, *flags, PipelineKind::kListen);
      if (!next.errors.empty()) {
        std::string msg;
        for (const auto& e : next.errors) msg += (msg.empty() ? "" : "; ") + e;
        return Fail(ErrorCode::kConfig, msg);
      }
      return std::move(next.config);
    };
    CommandExitCode() = RunPipeline(Builtins(), prepared->values, std::move(run), stop);
  });
}

}  // namespace pgcdc::cli
