// `pgcdc init`: the SQL that sets up capture. The PostgreSQL detectors'
// setup is generated here (init_sql.h); a connector that declares its own
// setup (ConnectorInfo::setup, e.g. sqlite) is asked for it, with its own
// flags (--sqlite-db) and an --apply that runs it against the source.
#include <CLI/CLI.hpp>
#include <iostream>
#include <set>

#include "cli/cli.h"
#include "cli/init_sql.h"

namespace pgcdc::cli {

namespace {

// The parameters of every detector with a setup of its own (their flags
// become init's flags), de-duplicated by key.
std::vector<ParamSpec> SetupParams(const Registry& reg) {
  std::vector<ParamSpec> out;
  std::set<std::string> seen;
  for (const auto* c : reg.List(ConnectorKind::kDetector)) {
    if (!c->setup) continue;
    for (const auto& p : c->params) {
      if (seen.insert(p.key).second) out.push_back(p);
    }
  }
  return out;
}

void RunConnectorSetup(const GlobalFlags& global, const ConnectorInfo& info, const FlagStore& flags,
                       const SetupRequest& request) {
  auto loaded = LoadConfig(global, AllParams(Builtins()), flags);
  if (!loaded.errors.empty()) {
    CommandExitCode() = ReportConfigErrors(loaded.errors);
    return;
  }
  auto script = info.setup(loaded.config, request);
  if (!script) {
    std::cerr << "pgcdc init: " << script.error().message() << "\n";
    CommandExitCode() =
        script.error().code() == ErrorCode::kInvalidArgument ? kExitUsage : kExitFailure;
    return;
  }
  if (request.apply) {
    std::cerr << "pgcdc init: change capture for " << request.table << " is set up (" << info.name
              << ")\n";
  } else {
    std::cout << *script << std::flush;
  }
}

}  // namespace

void AddInitCommand(CLI::App& root, GlobalFlags& global) {
  auto* cmd = root.add_subcommand("init", "Print the SQL that sets up a table for capture");
  auto opts = std::make_shared<InitOptions>();
  auto apply = std::make_shared<bool>(false);
  auto flags = std::make_shared<FlagStore>();
  cmd->add_option("--table", opts->table, "table to capture (letters, digits, _)");
  cmd->add_option("--channel", opts->channel, "NOTIFY channel (default pgcdc:<table>)");
  cmd->add_option("--detector", opts->detector,
                  "listen_notify (trigger), wal (publication) or sqlite (change table and "
                  "triggers in --sqlite-db)")
      ->default_str("listen_notify");
  cmd->add_option("--publication", opts->publication,
                  "publication name for --detector wal (default pgcdc_<table>)");
  cmd->add_flag("--all-tables", opts->all_tables, "wal: publication FOR ALL TABLES");
  cmd->add_option("--adapter", opts->adapter,
                  "print a table instead of the capture setup: outbox (the outbox detector's "
                  "table) or signal (the wal detector's incremental-snapshot signal table, "
                  "default pgcdc_signals) or pg_table (the pg_table sink's events table, default "
                  "pgcdc_events) or embedding (the embedding sink's pgvector table, default "
                  "pgcdc_embeddings) or state (pgcdc's own checkpoint and snapshot-progress "
                  "tables, for --skip-migrations); --table may be schema.table");
  cmd->add_option("--dimension", opts->dimension,
                  "--adapter embedding: vector dimension of the embedding column")
      ->default_str("1536");
  cmd->add_flag("--apply", *apply,
                "sqlite: run the setup against the database file instead of printing it");
  AddSpecFlags(*cmd, SetupParams(Builtins()), *flags);
  cmd->callback([opts, apply, flags, &global] {
    const ConnectorInfo* info = Builtins().Find(ConnectorKind::kDetector, opts->detector);
    if (opts->adapter.empty() && info != nullptr && info->setup) {
      RunConnectorSetup(global, *info, *flags, {.table = opts->table, .apply = *apply});
      return;
    }
    if (*apply) {
      std::cerr << "pgcdc init: --apply works with --detector sqlite; pipe the SQL into psql "
                   "for PostgreSQL\n";
      CommandExitCode() = kExitUsage;
      return;
    }
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
