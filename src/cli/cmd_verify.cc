// `pgcdc verify --table T --against SINK`: compares the table's rows with the
// latest state a sink holds and reports missing, extra and differing rows
// (src/verify, docs/verify.md). The database comes from --db (or
// PGCDC_DATABASE_URL / database_url in the YAML file), like every command.
//
// The report goes to stdout (-o text|json); logs go to stderr.
// Exit codes: 0 the sink matches the table (and, with --check-order, every
// key's events are in order); 1 it does not; 2 usage or configuration error
// (bad flags, no such table, a table without a primary key, a sink that is
// not there or cannot be read); 3 runtime failure (connection lost, Kafka
// timeout).
#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/cli.h"
#include "cli/output.h"
#include "config/config.h"
#include "verify/report.h"
#include "verify/verify.h"

namespace pgcdc::cli {

namespace {

constexpr int kExitMismatch = 1;
constexpr int kExitRuntime = 3;

struct VerifyFlags {
  FlagStore store;  // --db
  verify::VerifyOptions options;
  std::string output = "text";
  std::string kafka_timeout = "30s";
  std::vector<std::string> kafka_properties;
};

// --db, and the log settings (root flags) so that they apply here too.
std::vector<ParamSpec> DatabaseSpec() {
  std::vector<ParamSpec> specs;
  for (const auto& p : AllParams(Builtins())) {
    if (p.key == "database_url" || p.key == "log_level" || p.key == "log_format") {
      specs.push_back(p);
    }
  }
  return specs;
}

void AddFlags(CLI::App& cmd, VerifyFlags& f) {
  AddSpecFlags(cmd, DatabaseSpec(), f.store);
  auto& o = f.options;
  cmd.add_option("--table", o.table, "source table: table or schema.table")->required();
  cmd.add_option("--against", o.against,
                 "the sink: file:PATH | pg_table:[DSN/]TABLE | kafka:BROKERS/TOPIC")
      ->required();
  cmd.add_flag("--check-order", o.check_order,
               "also check that each key's events come in WAL order (duplicates are counted)");
  cmd.add_option("-o,--output", f.output, "text | json")->check(CLI::IsMember({"text", "json"}));
  cmd.add_option("--examples", o.max_examples, "keys listed per category (default 10)")
      ->check(CLI::NonNegativeNumber);
  cmd.add_option("--chunk-size", o.chunk_rows, "table rows hashed per chunk (default 20000)")
      ->check(CLI::Range(size_t{1}, size_t{1000000}));
  cmd.add_option("--ignore-columns", o.ignore_columns,
                 "columns left out of the comparison (e.g. ones a transform drops)")
      ->delimiter(',')
      ->type_name("COL,...");
  cmd.add_option("--channel", o.channels,
                 "the table's channels in the sink (default pgcdc:<table> and "
                 "pgcdc:<schema>.<table>)")
      ->delimiter(',')
      ->type_name("CH,...");
  cmd.add_option("--kafka-timeout", f.kafka_timeout,
                 "kafka: give up after this long without progress (default 30s)")
      ->type_name("DURATION");
  cmd.add_option("--kafka-property", f.kafka_properties,
                 "kafka: a librdkafka consumer property name=value (SASL, TLS; repeatable)")
      ->type_name("NAME=VALUE");
}

// Fills the options from configuration and flags; reports errors (exit 2).
bool Prepare(const GlobalFlags& global, VerifyFlags& f) {
  auto loaded = LoadConfig(global, DatabaseSpec(), f.store);
  ApplyLogging(loaded.config);
  f.options.database_url = loaded.config.GetString("database_url");
  if (f.options.database_url.empty()) {
    loaded.errors.push_back("database_url: required (--db, PGCDC_DATABASE_URL or database_url)");
  }
  if (auto d = config::ParseDuration(f.kafka_timeout); !d || d->count() <= 0) {
    loaded.errors.push_back("--kafka-timeout: expected a positive duration such as 30s");
  } else {
    f.options.kafka_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(*d);
  }
  for (const auto& p : f.kafka_properties) {
    const size_t eq = p.find('=');
    if (eq == std::string::npos || eq == 0) {
      loaded.errors.push_back("--kafka-property: expected name=value, got \"" + p + "\"");
      continue;
    }
    f.options.kafka_properties[p.substr(0, eq)] = p.substr(eq + 1);
  }
  if (!loaded.errors.empty()) {
    CommandExitCode() = ReportConfigErrors(loaded.errors);
    return false;
  }
  ReportWarnings(loaded.warnings);
  return true;
}

int Run(const VerifyFlags& f) {
  auto report = verify::RunVerify(f.options);
  if (!report) {
    std::cerr << "pgcdc verify: " << OneLine(report.error().message()) << "\n";
    return verify::IsUsageError(report.error()) ? kExitUsage : kExitRuntime;
  }
  std::cout << (f.output == "json" ? verify::RenderJson(*report) : verify::RenderText(*report))
            << std::flush;
  return report->Match() ? kExitOk : kExitMismatch;
}

}  // namespace

void AddVerifyCommand(CLI::App& root, GlobalFlags& global) {
  auto* cmd = root.add_subcommand(
      "verify",
      "Compare a table with what a sink holds (file, pg_table, kafka); exit 0 only when they "
      "match. See docs/verify.md.");
  auto flags = std::make_shared<VerifyFlags>();
  AddFlags(*cmd, *flags);
  cmd->footer(
      "\nExit codes: 0 match, 1 mismatch (missing, extra or differing rows; with --check-order "
      "also events out of order), 2 usage or configuration error, 3 runtime failure.");
  cmd->callback([&global, flags] {
    if (!Prepare(global, *flags)) return;
    CommandExitCode() = Run(*flags);
  });
}

}  // namespace pgcdc::cli
