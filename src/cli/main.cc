// pgcdc entry point: builds the command tree and maps outcomes to exit codes
// (0 ok, 1 runtime failure, 2 usage/configuration error).
#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>

#include "cli/cli.h"
#include "core/log.h"

int main(int argc, char** argv) {
  using namespace pgcdc::cli;
  CLI::App app{"pgcdc - change data capture from PostgreSQL to anything", "pgcdc"};
  app.require_subcommand(1);
  app.failure_message(CLI::FailureMessage::simple);
  GlobalFlags global;
  app.add_option("--config", global.config_path,
                 "YAML config file (default ./pgcdc.yaml when present)");
  app.add_option("--log-level", global.log_level, "debug|info|warn|error (default info)");
  app.add_option("--log-format", global.log_format, "text|json (default text)");

  AddListenCommand(app, global);
  AddInitCommand(app);
  AddPlaygroundCommand(app, global);
  AddSnapshotCommand(app, global);
  AddDlqCommands(app, global);
  AddCatalogCommands(app);
  AddConfigCommands(app, global);
  AddSlotCommands(app, global);
  AddVersionCommand(app);

  // Log settings from flags/env apply before configuration loading so early
  // messages respect them.
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
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
