// Shared pieces of the command-line front end. CLI11 stays out of this
// header; each command lives in its own cmd_*.cc file.
#pragma once

#include <functional>
#include <map>
#include <set>
#include <stop_token>
#include <string>
#include <vector>

#include "config/config.h"
#include "registry/registry.h"
#include "transform/transform.h"

namespace CLI {
class App;
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

// Applies implications between settings (--all-tables => wal detector,
// --persistent-slot => reliable bus, …) before validation.
void NormalizePipelineConfig(config::Config& cfg);

// Cross-field validation for a pipeline configuration (detector/adapters
// known, routes valid, per-connector checks). Appends to errors.
void ValidatePipelineConfig(const Registry& registry, const config::Config& cfg,
                            std::vector<std::string>& errors);

// Checks the `adapters` list (known, not repeated, per-adapter rules);
// returns the enabled adapter names.
std::set<std::string> ValidateAdapters(const Registry& registry, const config::Config& cfg,
                                       std::vector<std::string>& errors);

// Prints errors as one block to stderr; returns kExitUsage.
int ReportConfigErrors(const std::vector<std::string>& errors);
void ReportWarnings(const std::vector<std::string>& warnings);

// Applies log_level/log_format from the configuration.
void ApplyLogging(const config::Config& cfg);

// Re-reads and validates the configuration (SIGHUP).
using ReloadFunc = std::function<Result<config::Config>()>;

// Runs a listen pipeline from a validated configuration until `stop`
// (SIGINT/SIGTERM are watched here; SIGHUP calls `reload` when given).
// Returns the process exit code.
int RunPipeline(const Registry& registry, const config::Config& cfg, transform::ChainSet transforms,
                std::stop_source stop, ReloadFunc reload = {}, std::string yaml_path = {});

// Command registration.
void AddListenCommand(CLI::App& root, GlobalFlags& global);
void AddInitCommand(CLI::App& root);
void AddCatalogCommands(CLI::App& root);
void AddConfigCommands(CLI::App& root, GlobalFlags& global);
void AddVersionCommand(CLI::App& root);
void AddSlotCommands(CLI::App& root, GlobalFlags& global);
void AddPlaygroundCommand(CLI::App& root, GlobalFlags& global);
void AddSnapshotCommand(CLI::App& root, GlobalFlags& global);
void AddDlqCommands(CLI::App& root, GlobalFlags& global);

// Result of a command callback (CLI11 callbacks cannot return values).
int& CommandExitCode();

}  // namespace pgcdc::cli
