// `pgcdc serve`: many pipelines in one process behind a REST API
// (serve/manager.h, serve/api.h). Each pipeline entry is a `listen`
// configuration, checked and run through the same assembly as `listen`.
#include <CLI/CLI.hpp>
#include <fstream>
#include <sstream>
#include <stop_token>

#include "cli/cli.h"
#include "core/log.h"
#include "core/sleep.h"
#include "net/http_server.h"
#include "pipeline/signals.h"
#include "serve/api.h"
#include "serve/manager.h"
#include "serve/spec.h"

namespace pgcdc::cli {

namespace {

struct Checked {
  config::Config values;
  transform::ChainSet chains;
  std::vector<std::string> errors;
  std::vector<std::string> warnings;
};

// An entry through the same load, normalisation and validation as `listen`.
// Errors about a document made of one line of JSON: a line:column in it
// would point nowhere the user wrote, so "<label>:1:<col>:" becomes "<label>:".
void DropJsonPositions(std::vector<std::string>& errors, const std::string& label) {
  const std::string at = label + ":1:";
  for (auto& e : errors) {
    if (!e.starts_with(at)) continue;
    size_t end = at.size();
    while (end < e.size() && e[end] >= '0' && e[end] <= '9') ++end;
    if (end < e.size() && e[end] == ':') e = label + e.substr(end);
  }
}

Checked Check(const serve::PipelineSpec& spec) {
  Checked out;
  const std::string doc = serve::ListenDocument(spec, out.errors, out.warnings);
  const std::string label = "pipeline " + spec.name;
  auto loaded = config::Load(AllParams(Builtins()), TextSources(doc, label));
  // A pipeline serves HTTP only where its entry says so: the default
  // address belongs to the serve API.
  if (loaded.config.origin("http_addr") == config::Origin::kDefault) {
    loaded.config.Set("http_addr", std::string(), config::Origin::kDefault, "serve");
  }
  NormalizePipelineConfig(loaded.config);
  ValidatePipelineConfig(Builtins(), loaded.config, PipelineKind::kListen, loaded.errors);
  for (const auto& [key, value] : loaded.config.values()) {
    const auto origin = loaded.config.origin(key);
    if (key.starts_with("otel.") && origin != config::Origin::kDefault &&
        origin != config::Origin::kUnset) {
      loaded.errors.push_back(key +
                              ": tracing is process-wide under serve; set it in the serve "
                              "file's top-level otel: section or the OTEL_* variables "
                              "(docs/tracing.md)");
    }
  }
  auto chains = transform::Build(loaded.config, label, nullptr, &loaded.errors, &doc);
  DropJsonPositions(loaded.errors, label);
  // The caller names the pipeline.
  for (auto& e : loaded.errors) {
    if (e.starts_with(label + ": ")) e = e.substr(label.size() + 2);
  }
  out.errors.insert(out.errors.end(), loaded.errors.begin(), loaded.errors.end());
  out.warnings.insert(out.warnings.end(), loaded.warnings.begin(), loaded.warnings.end());
  if (chains) out.chains = std::move(*chains);
  out.values = std::move(loaded.config);
  return out;
}

class CliRuntime : public serve::Runtime {
 public:
  std::vector<std::string> Validate(const serve::PipelineSpec& spec,
                                    std::vector<std::string>& warnings) override {
    Checked c = Check(spec);
    warnings = std::move(c.warnings);
    return c.errors;
  }

  Status Run(const serve::PipelineSpec& spec, std::stop_token stop,
             const std::function<void(const serve::RunProbes*)>& probes) override {
    Checked c = Check(spec);
    if (!c.errors.empty()) {
      std::string msg;
      for (const auto& e : c.errors) msg += (msg.empty() ? "" : "; ") + e;
      return Fail(ErrorCode::kConfig, msg);
    }
    std::stop_source source;
    std::stop_callback forward(stop, [&source] { source.request_stop(); });
    RunOptions run;
    run.transforms = std::move(c.chains);
    run.watch_signals = false;
    run.exit_on_stuck_shutdown = false;
    run.main_http = c.values.origin("http_addr") == config::Origin::kDefault
                        ? RunOptions::MainHttp::kWhenUsed
                        : RunOptions::MainHttp::kAlways;
    run.on_running = [&probes](const RunOptions::Probes* p) {
      if (p == nullptr) return probes(nullptr);
      const serve::RunProbes view{p->ready, p->stats_json, p->health, p->health_json};
      probes(&view);
    };
    Status outcome;
    run.finish = [&outcome](const Status& st) {
      outcome = st;
      return st ? kExitOk : kExitFailure;
    };
    run.on_start_failure = [&outcome](const Status& st) { outcome = st; };
    const int code = RunPipeline(Builtins(), c.values, std::move(run), source);
    if (!outcome) return outcome;
    if (code != kExitOk)
      return Fail(ErrorCode::kUnknown, "pipeline ended with exit code " + std::to_string(code));
    return Ok();
  }
};

struct ServeFlags {
  std::string addr, tls_cert, tls_key, api_token, api_token_file, state_file;
};

Result<std::string> ReadTokenFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) return Fail(ErrorCode::kConfig, "cannot read api_token_file " + path);
  std::string token = text.str();
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  if (token.empty()) return Fail(ErrorCode::kConfig, "api_token_file " + path + " is empty");
  return token;
}

// The serve file (--config) with the flags on top.
Result<serve::ServeFile> LoadServeFile(const GlobalFlags& global, const ServeFlags& flags) {
  serve::ServeFile file;
  if (!global.config_path.empty()) {
    std::ifstream in(global.config_path);
    std::stringstream text;
    text << in.rdbuf();
    if (!in) return Fail(ErrorCode::kConfig, "cannot read config file " + global.config_path);
    auto parsed = serve::ParseServeFile(text.str(), global.config_path);
    if (!parsed) return Fail(parsed.error());
    file = std::move(*parsed);
  }
  for (auto [flag, field] : {std::pair{&flags.addr, &file.addr},
                             {&flags.tls_cert, &file.tls_cert_file},
                             {&flags.tls_key, &file.tls_key_file},
                             {&flags.api_token, &file.api_token},
                             {&flags.api_token_file, &file.api_token_file},
                             {&flags.state_file, &file.state_file}}) {
    if (!flag->empty()) *field = *flag;
  }
  if (!global.log_level.empty()) file.log_level = global.log_level;
  if (!global.log_format.empty()) file.log_format = global.log_format;
  if (!file.api_token_file.empty()) {
    auto token = ReadTokenFile(file.api_token_file);
    if (!token) return Fail(token.error());
    file.api_token = *token;
  }
  if (file.tls_cert_file.empty() != file.tls_key_file.empty()) {
    return Fail(ErrorCode::kConfig, "tls_cert_file and tls_key_file go together");
  }
  return file;
}

// One validation error per line of `message`.
int ReportErrorLines(const std::string& message) {
  std::vector<std::string> errors;
  std::stringstream lines(message);
  for (std::string line; std::getline(lines, line);) errors.push_back(line);
  return ReportConfigErrors(errors);
}

int Serve(const GlobalFlags& global, const ServeFlags& flags) {
  auto file = LoadServeFile(global, flags);
  if (!file) return ReportErrorLines(file.error().message());
  config::Config logging;
  logging.Set("log_level", file->log_level.empty() ? std::string("info") : file->log_level,
              config::Origin::kDefault);
  logging.Set("log_format", file->log_format.empty() ? std::string("auto") : file->log_format,
              config::Origin::kDefault);
  ApplyLogging(logging);
  auto listen = net::ParseListenAddress(file->addr);
  if (!listen) return ReportConfigErrors({"addr: " + listen.error().message()});
  pipeline::BlockSignals();
  // Tracing for every pipeline: the file's otel: section, then the OTEL_*
  // variables. Its keys are checked like listen's (unknown ones refused).
  config::Config otel;
  if (!file->otel_json.empty()) {
    const std::string label = global.config_path + " (otel)";
    auto loaded = config::Load(AllParams(Builtins()),
                               TextSources("{\"otel\": " + file->otel_json + "}", label));
    DropJsonPositions(loaded.errors, label);
    if (!loaded.errors.empty()) return ReportConfigErrors(loaded.errors);
    otel = std::move(loaded.config);
  }
  TracingSession tracing{otel};
  if (!tracing.ok()) return CommandExitCode();

  CliRuntime runtime;
  serve::Manager manager(runtime, file->state_file);
  if (auto st = manager.Load(file->pipelines); !st) return ReportErrorLines(st.error().message());
  net::HttpServerOptions options;
  options.auth.bearer_token = file->api_token;
  options.tls_cert_file = file->tls_cert_file;
  options.tls_key_file = file->tls_key_file;
  net::HttpServer server("serve", options);
  serve::Api api(manager);
  api.Mount(server);
  auto bound = server.Start(*listen);
  if (!bound) {
    log::Error("cannot start the serve API",
               {{"addr", file->addr}, {"error", bound.error().message()}});
    return kExitFailure;
  }
  if (file->api_token.empty() && !listen->host.empty() && listen->host != "127.0.0.1" &&
      listen->host != "::1" && listen->host != "localhost") {
    log::Warn("the serve API listens beyond this machine without a token (set api_token_file)",
              {{"addr", *bound}});
  }
  log::Info("http server listening", {{"server", "serve"},
                                      {"addr", *bound},
                                      {"tls", file->tls_cert_file.empty() ? "false" : "true"},
                                      {"auth", file->api_token.empty() ? "none" : "bearer"},
                                      {"state_file", file->state_file}});
  manager.StartWanted();

  std::stop_source stop;
  {
    pipeline::SignalWatcher watcher(
        stop, [] { log::Warn("SIGHUP ignored by serve: change pipelines through the API"); });
    Sleeper sleeper(stop.get_token());
    while (sleeper.SleepFor(std::chrono::hours(1))) {
    }
  }
  log::Info("serve stopping");
  server.Stop();
  manager.StopAll();
  log::Info("shutdown complete");
  return kExitOk;
}

}  // namespace

void AddServeCommand(CLI::App& root, GlobalFlags& global) {
  auto* cmd = root.add_subcommand("serve", "Run many pipelines behind a REST API");
  cmd->fallthrough();
  auto flags = std::make_shared<ServeFlags>();
  cmd->add_option("--addr", flags->addr, "API listen address (default 127.0.0.1:8080)");
  cmd->add_option("--tls-cert", flags->tls_cert, "TLS certificate (PEM) for the API");
  cmd->add_option("--tls-key", flags->tls_key, "TLS key (PEM) for the API");
  cmd->add_option("--api-token", flags->api_token, "bearer token the API requires");
  cmd->add_option("--api-token-file", flags->api_token_file, "file holding the bearer token");
  cmd->add_option("--state-file", flags->state_file,
                  "where API-created pipelines and wanted states are kept "
                  "(default pgcdc-serve-state.json)");
  cmd->footer(
      "--config names the serve file: addr, tls_cert_file, tls_key_file, api_token_file,\n"
      "state_file, log_level, log_format and pipelines (each a `listen` configuration\n"
      "with a name). See docs/serve.md.\n"
      "Example: pgcdc serve --config pipelines.yaml --api-token-file /etc/pgcdc/token");
  cmd->callback([&global, flags] { CommandExitCode() = Serve(global, *flags); });
}

}  // namespace pgcdc::cli
