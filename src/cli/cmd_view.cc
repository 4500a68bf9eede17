// `pgcdc view test`: runs streaming SQL views over recorded events offline
// (src/adapter/view/offline.h) — no database, no pipeline. The views come
// from --query (one view, named by --name), --view-query name:query and the
// configuration file's views: list, exactly as `listen` reads them.
//
// Exit codes: 0 every line was an event; 1 some lines were not (each is
// reported on stderr with its number and skipped); 2 bad flags or views.
#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <memory>

#include "adapter/view/offline.h"
#include "adapter/view/view_adapter.h"
#include "cli/cli.h"
#include "registry/define.h"
#include "registry/registry.h"

namespace pgcdc::cli {
namespace {

namespace view = adapter::view;

struct TestFlags {
  std::string query;
  std::string name = "test";
  std::string input;
};

int RunTest(const GlobalFlags& global, const std::vector<ParamSpec>& specs, const FlagStore& flags,
            const TestFlags& test) {
  auto loaded = LoadConfig(global, specs, flags);
  if (!loaded.errors.empty()) return ReportConfigErrors(loaded.errors);
  auto options = BindConfig<view::Options>(specs, loaded.config);
  if (!test.query.empty()) options.cli_queries.push_back(test.name + ":" + test.query);
  auto views = view::BuildViews(options);
  if (!views) return ReportConfigErrors({views.error().message()});
  if (views->empty()) {
    return ReportConfigErrors({"no view to run: give --query, --view-query or views: in --config"});
  }
  std::ifstream file;
  if (!test.input.empty() && test.input != "-") {
    file.open(test.input);
    if (!file) return ReportConfigErrors({"cannot read " + test.input});
  }
  std::istream& in = file.is_open() ? file : std::cin;
  auto report = view::RunOffline(*views, in, std::cout, std::cerr);
  std::cerr << "pgcdc view test: " << report.lines << " lines, " << report.bad_lines
            << " not events, " << report.results << " results\n";
  return report.bad_lines > 0 ? kExitFailure : kExitOk;
}

}  // namespace

void AddViewCommand(CLI::App& root, GlobalFlags& global) {
  auto* cmd = root.add_subcommand("view", "Tools for streaming SQL views");
  cmd->require_subcommand(1);
  auto* test = cmd->add_subcommand(
      "test",
      "Run views over recorded events (JSON lines from the stdout/file sinks) and print their "
      "VIEW_RESULT events, without a database");
  const ConnectorInfo* info = Builtins().Find(ConnectorKind::kAdapter, "view");
  auto specs = std::make_shared<std::vector<ParamSpec>>(info->params);
  auto flags = std::make_shared<FlagStore>();
  auto opts = std::make_shared<TestFlags>();
  AddSpecFlags(*test, *specs, *flags);
  test->add_option("-q,--query", opts->query,
                   "a view query (SPEC §7 syntax), run as the view named by --name");
  test->add_option("--name", opts->name, "the --query view's name")->capture_default_str();
  test->add_option("-i,--input", opts->input, "file of event lines (default: stdin)");
  test->footer(
      "Example: pgcdc view test -i events.jsonl -q \"SELECT payload.row.region AS region, "
      "COUNT(*) AS n FROM pgcdc_events GROUP BY payload.row.region TUMBLING WINDOW 1m\"\n"
      "Processing time is each event's created_at; windows still open at the end of the input "
      "are closed then (docs/views.md).");
  test->callback([&global, specs, flags, opts] {
    CommandExitCode() = RunTest(global, *specs, *flags, *opts);
  });
}

}  // namespace pgcdc::cli
