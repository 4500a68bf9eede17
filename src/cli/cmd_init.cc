#include <CLI/CLI.hpp>
#include <iostream>
#include <regex>

#include "cli/cli.h"
#include "cli/init_sql.h"

namespace pgcdc::cli {

void AddInitCommand(CLI::App& root) {
  auto* cmd = root.add_subcommand("init", "Print the SQL that sets up a table for capture");
  auto opts = std::make_shared<InitOptions>();
  cmd->add_option("--table", opts->table, "table to capture (letters, digits, _)");
  cmd->add_option("--channel", opts->channel, "NOTIFY channel (default pgcdc:<table>)");
  cmd->add_option("--detector", opts->detector, "listen_notify (trigger) or wal (publication)")
      ->default_str("listen_notify");
  cmd->add_option("--publication", opts->publication,
                  "publication name for --detector wal (default pgcdc_<table>)");
  cmd->add_flag("--all-tables", opts->all_tables, "wal: publication FOR ALL TABLES");
  cmd->add_option("--adapter", opts->adapter,
                  "print a table instead of the capture setup: outbox (the outbox detector's "
                  "table) or signal (the wal detector's incremental-snapshot signal table, "
                  "default pgcdc_signals) or pg_table (the pg_table sink's events table, default "
                  "pgcdc_events); --table may be schema.table");
  cmd->callback([opts] {
    auto sql = GenerateInitSql(*opts);
    if (!sql) {
      std::cerr << "pgcdc init: " << sql.error().message() << "\n";
      CommandExitCode() = kExitUsage;
      return;
    }
    std::cout << *sql << std::flush;
  });
}

}  // namespace pgcdc::cli
