// Shared pieces of the command-line front end. CLI11 stays out of this
// header; each command lives in its own cmd_*.cc file.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stop_token>
#include <string>
#include <vector>

#include "bus/bus.h"
#include "config/config.h"
#include "config/core_params.h"
#include "core/health.h"
#include "detector/detector.h"
#include "registry/registry.h"
#include "transform/transform.h"

namespace CLI {
class App;
}
namespace pgcdc::adapter {
class Adapter;
}

namespace pgcdc::cli {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

// Root flags every command sees.
struct GlobalFlags {
  std::string config_path;  // --config; empty = ./pgcdc.yaml if present
  std::string log_level;    // --log-level (empty = not given)
  std::string log_format;   // --log-format
};

// Raw flag values by config key, filled by CLI11.
using FlagStore = std::map<std::string, std::vector<std::string>>;

const Registry& Builtins();

// Core parameters plus those of the given connectors, de-duplicated by key
// (first wins). With no names: every registered detector and adapter.
std::vector<ParamSpec> ParamsFor(const Registry& registry, const std::vector<std::string>& names);
std::vector<ParamSpec> AllParams(const Registry& registry);

// One CLI11 option per spec (except the root log flags), writing into store.
void AddSpecFlags(CLI::App& cmd, const std::vector<ParamSpec>& specs, FlagStore& store);

// The YAML file a command reads: --config, else ./pgcdc.yaml if present, else "".
std::string ConfigFilePath(const GlobalFlags& global);

// Loads the layered configuration for a command.
config::LoadResult LoadConfig(const GlobalFlags& global, const std::vector<ParamSpec>& specs,
                              const FlagStore& flags, bool use_env = true);

enum class PipelineKind {
  kListen,    // detector.type names the detector; everything is validated
  kSnapshot,  // the command brings its own detector; detector settings are ignored
};

// Applies implications between settings (--all-tables => wal detector,
// --persistent-slot => reliable bus, …) before validation.
void NormalizePipelineConfig(config::Config& cfg);

// Cross-field validation for a pipeline configuration (detector — for
// kListen — and adapters known, routes and priorities valid, per-connector
// checks). Appends to errors.
void ValidatePipelineConfig(const Registry& registry, const config::Config& cfg, PipelineKind kind,
                            std::vector<std::string>& errors);

// The detector named by detector.type (kListen): known, its required
// settings present, its own checks; a multi-detector's children each.
void ValidateDetector(const Registry& registry, const config::Config& cfg,
                      const config::CoreSettings& core, std::vector<std::string>& errors);

// Adapter `name` of the registry, built from `values`; an adapter that wraps
// another (chain) gets the inner one its inner_adapter_key names.
Result<std::unique_ptr<adapter::Adapter>> MakeAdapter(const Registry& registry,
                                                      const std::string& name,
                                                      const config::Config& values,
                                                      const config::CoreSettings& core);

// Several detectors in one pipeline (cli/detectors.cc): a `detectors:` list
// or a repeated / comma-separated --detector.
struct ChildDetectorConfig {
  std::string name;       // unique: the entry's name, its type, or type#n
  config::Config values;  // the top-level settings with the child's own on top
  config::CoreSettings core;
};
bool IsMultiDetector(const config::Config& cfg);
// The children with their configurations, normalised and validated (errors
// are prefixed with detectors[i] (name)).
std::vector<ChildDetectorConfig> PlanDetectors(const Registry& registry, const config::Config& cfg,
                                               std::vector<std::string>& errors);
void ValidateMultiDetector(const Registry& registry, const config::Config& cfg,
                           const config::CoreSettings& core, std::vector<std::string>& errors);
Result<detector::DetectorPtr> MakeMultiDetector(const Registry& registry, const config::Config& cfg,
                                                const config::CoreSettings& core);

// Load + normalise + validate (no output). Errors are in the result.
config::LoadResult LoadValidated(const GlobalFlags& global, const std::vector<ParamSpec>& specs,
                                 const FlagStore& flags, PipelineKind kind);

struct PreparedPipeline {
  config::Config values;
  transform::ChainSet transforms;
};
// LoadValidated, logging applied, transforms built; on any error prints the
// errors, sets CommandExitCode() to kExitUsage and returns nullopt. Warnings
// are logged.
// `extra` adds command-specific checks to the same error report.
using ExtraValidation = std::function<void(const config::Config&, std::vector<std::string>&)>;
std::optional<PreparedPipeline> PreparePipeline(const GlobalFlags& global,
                                                const std::vector<ParamSpec>& specs,
                                                const FlagStore& flags, PipelineKind kind,
                                                const ExtraValidation& extra = {});

// Prints errors as one block to stderr; returns kExitUsage.
int ReportConfigErrors(const std::vector<std::string>& errors);
void ReportWarnings(const std::vector<std::string>& warnings);

// Process-wide OpenTelemetry tracing (src/tracing) for the life of a
// command: started from the otel.* keys of `cfg` and the OTEL_* variables,
// flushed and stopped on destruction. ok() is false after a reported error.
class TracingSession {
 public:
  explicit TracingSession(const config::Config& cfg);
  ~TracingSession();
  TracingSession(const TracingSession&) = delete;
  TracingSession& operator=(const TracingSession&) = delete;
  bool ok() const { return ok_; }

 private:
  bool ok_ = true;
};

// Applies log_level/log_format from the configuration.
void ApplyLogging(const config::Config& cfg);

// Re-reads and validates the configuration (SIGHUP).
using ReloadFunc = std::function<Result<config::Config>()>;

// How a command customises the one pipeline assembly (cli/assembly.cc).
struct RunOptions {
  // A detector the command built itself (snapshot); null = the registry's
  // detector named by detector.type.
  std::unique_ptr<detector::Detector> detector;
  transform::ChainSet transforms;
  // Overrides bus.mode (snapshot: always reliable).
  std::optional<bus::Mode> bus_mode;
  // The main HTTP server (http_addr: health, metrics, inspector, console and
  // the routes of sse/ws): kAlways (listen), or kWhenUsed — only when an
  // adapter mounts routes on it (snapshot into sse/ws). metrics_addr is
  // always honoured.
  enum class MainHttp { kAlways, kWhenUsed };
  MainHttp main_http = MainHttp::kAlways;
  // SIGHUP: re-read the configuration (routes and transforms are swapped).
  ReloadFunc reload;
  std::string yaml_path;
  // Called once the adapters exist, before events flow (e.g. to wait for
  // subscribers). The pointers stay valid until RunPipeline returns.
  std::function<void(const std::vector<adapter::Adapter*>&)> on_adapters;
  // Maps the pipeline's result to the exit code, before teardown (the
  // detector is still alive). Default: 0 on Ok, 1 otherwise (logged).
  std::function<int(const Status&)> finish;
  // `serve` runs several pipelines in one process: it watches the signals
  // itself, and a pipeline whose sinks do not drain in time is abandoned
  // (logged, its memory leaked) instead of ending the process.
  bool watch_signals = true;
  bool exit_on_stuck_shutdown = true;
  // Views into the running pipeline: called with them once it exists and
  // with nullptr before it is torn down (they are invalid after that).
  struct Probes {
    std::function<bool()> ready;
    std::function<std::string()> stats_json;
    std::function<HealthStatus()> health;  // the pipeline's own /healthz
    std::function<std::string()> health_json;
  };
  std::function<void(const Probes*)> on_running;
  // Told why the pipeline could not be assembled (before any event flowed).
  std::function<void(const Status&)> on_start_failure;
};

// Runs a pipeline from a validated configuration until `stop` or the
// detector ends (SIGINT/SIGTERM are watched here; SIGHUP calls
// `run.reload`). Returns the process exit code. `listen`, `snapshot` and
// `playground` all start their pipelines here.
int RunPipeline(const Registry& registry, const config::Config& values, RunOptions run,
                const std::stop_source& stop);

// Command registration.
void AddListenCommand(CLI::App& root, GlobalFlags& global);
void AddInitCommand(CLI::App& root, GlobalFlags& global);
void AddCatalogCommands(CLI::App& root);
void AddConfigCommands(CLI::App& root, GlobalFlags& global);
void AddVersionCommand(CLI::App& root);
void AddCompletionCommands(CLI::App& root);  // completion bash|zsh|fish, man
void AddSlotCommands(CLI::App& root, GlobalFlags& global);
void AddPlaygroundCommand(CLI::App& root, GlobalFlags& global);
void AddSnapshotCommand(CLI::App& root, GlobalFlags& global);
void AddDlqCommands(CLI::App& root, GlobalFlags& global);
void AddVerifyCommand(CLI::App& root, GlobalFlags& global);
void AddDoctorCommand(CLI::App& root, GlobalFlags& global);
void AddChainCommand(CLI::App& root, GlobalFlags& global);  // when the chain adapter is built
void AddViewCommand(CLI::App& root, GlobalFlags& global);   // when the view adapter is built
void AddPluginCommand(CLI::App& root);
void AddQuickstartCommand(CLI::App& root);
void AddServeCommand(CLI::App& root, GlobalFlags& global);
void AddValidateCommand(CLI::App& root, GlobalFlags& global);  // cmd_doctor.cc

// Sources for a configuration given as text (a `serve` pipeline entry):
// the same schema, upstream keys and section hints as LoadConfig, no
// environment, no flags. `label` names the document in messages.
config::Sources TextSources(std::string text, std::string label);

// Result of a command callback (CLI11 callbacks cannot return values).
int& CommandExitCode();

}  // namespace pgcdc::cli
