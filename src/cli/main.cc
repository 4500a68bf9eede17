// pgcdc entry point: builds the command tree and maps outcomes to exit codes
// (0 ok, 1 runtime failure, 2 usage/configuration error).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <iostream>

#include "cli/cli.h"
#include "config/config.h"
#include "core/log.h"

namespace {

// Long option names of `app` and of the subcommands the user chose.
void CollectFlags(const CLI::App& app, std::vector<std::string>& out) {
  for (const CLI::Option* opt : app.get_options()) {
    for (const auto& l : opt->get_lnames()) out.push_back("--" + l);
  }
  for (const CLI::App* sub : app.get_subcommands()) CollectFlags(*sub, out);
}

// "\n  unknown flag --sse-adr: did you mean --sse-addr?" per unexpected flag.
std::string UnknownFlagHints(const CLI::App& app, const std::string& message) {
  std::vector<std::string> flags;
  CollectFlags(app, flags);
  std::string hints;
  size_t pos = message.find(':');
  while (pos != std::string::npos && pos < message.size()) {
    const size_t start = message.find("--", pos);
    if (start == std::string::npos) break;
    size_t end = message.find_first_of(" =", start);
    if (end == std::string::npos) end = message.size();
    const std::string flag = message.substr(start, end - start);
    const std::string best = pgcdc::config::DidYouMean(flag, flags);
    if (!best.empty() && best != flag)
      hints += "\n  unknown flag " + flag + ": did you mean " + best + "?";
    pos = end;
  }
  return hints;
}

// --config, --log-level and --log-format are accepted after any command
// (`pgcdc dlq list --log-level debug`), not only before the first one.
void AllowRootFlagsEverywhere(CLI::App& app) {
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    sub->fallthrough();
    AllowRootFlagsEverywhere(*sub);
  }
}

int Main(int argc, char** argv) {
  using namespace pgcdc::cli;
  CLI::App app{"pgcdc - change data capture from PostgreSQL to anything", "pgcdc"};
  app.require_subcommand(1);
  app.failure_message(CLI::FailureMessage::simple);
  GlobalFlags global;
  app.add_option("--config", global.config_path,
                 "YAML config file (default ./pgcdc.yaml when present)");
  app.add_option("--log-level", global.log_level, "debug|info|warn|error (default info)");
  app.add_option("--log-format", global.log_format,
                 "text|json|color|auto (default auto: color when stderr is a terminal)");

  AddListenCommand(app, global);
  AddInitCommand(app, global);
  AddPlaygroundCommand(app, global);
  AddSnapshotCommand(app, global);
  AddDlqCommands(app, global);
  AddVerifyCommand(app, global);
  AddDoctorCommand(app, global);
  AddServeCommand(app, global);
  AddValidateCommand(app, global);
#ifdef PGCDC_HAVE_CHAIN
  AddChainCommand(app, global);
#endif
#ifdef PGCDC_HAVE_VIEW
  AddViewCommand(app, global);
#endif
  AddPluginCommand(app);
  AddQuickstartCommand(app);
  AddCatalogCommands(app);
  AddConfigCommands(app, global);
  AddSlotCommands(app, global);
  AddVersionCommand(app);
  AddCompletionCommands(app);
  AllowRootFlagsEverywhere(app);

  // Log settings from flags/env apply before configuration loading so early
  // messages respect them.
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ExtrasError& e) {
    std::cerr << "pgcdc: " << e.what() << UnknownFlagHints(app, e.what())
              << "\nRun 'pgcdc --help' (or 'pgcdc <command> --help') for usage.\n";
    return kExitUsage;
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::cerr << "pgcdc: " << e.what() << "\nRun 'pgcdc --help' (or 'pgcdc <command> --help') "
              << "for usage.\n";
    return kExitUsage;
  } catch (const std::exception& e) {
    std::cerr << "pgcdc: " << e.what() << "\n";
    return kExitFailure;
  }
  return CommandExitCode();
}
}  // namespace

int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (...) {
    // Commands report their own errors; this is only for a throw that got away.
    std::fputs("pgcdc: unexpected internal error\n", stderr);
    return 1;
  }
}
