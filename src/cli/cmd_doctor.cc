// `pgcdc doctor`: takes the same flags and config file as `pgcdc listen`,
// validates the configuration, then asks the detector and every adapter that
// declares a check (ConnectorInfo::check) to verify its prerequisites against
// the real server: binlog settings of MySQL, wal_level and privileges of
// PostgreSQL, SQLite's change table, ... Each finding is printed with a fix
// hint; nothing is changed and no event is read.
//
// Exit codes: 0 every check passed (warnings allowed), 1 a check failed,
// 2 the configuration itself is invalid.
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>

#include "cli/cli.h"
#include "cli/output.h"
#include "core/json.h"

namespace pgcdc::cli {

namespace {

struct Finding {
  std::string connector;
  CheckResult result;
};

// One connector's findings (or "valid, nothing to check"), labelled `label`.
void CheckConnector(const ConnectorInfo& info, const std::string& label,
                    const config::Config& values, const config::CoreSettings& core,
                    std::vector<Finding>& out) {
  if (!info.check) {
    out.push_back({label,
                   {.level = CheckResult::Level::kOk,
                    .name = "configuration",
                    .detail = "valid (this connector has no server checks)"}});
    return;
  }
  for (auto& r : info.check(values, core)) out.push_back({label, std::move(r)});
}

std::vector<Finding> RunChecks(const Registry& reg, const config::Config& values) {
  const config::CoreSettings core = config::BindCore(values);
  std::vector<Finding> out;
  if (IsMultiDetector(values)) {
    // Each child with its own settings, labelled "<type>:<name>".
    std::vector<std::string> ignored;  // validation reported them
    for (const auto& c : PlanDetectors(reg, values, ignored)) {
      const ConnectorInfo* info = reg.Find(ConnectorKind::kDetector, c.core.detector_type);
      if (info != nullptr) CheckConnector(*info, info->name + ":" + c.name, c.values, c.core, out);
    }
  } else if (const ConnectorInfo* info = reg.Find(ConnectorKind::kDetector, core.detector_type)) {
    CheckConnector(*info, info->name, values, core, out);
  }
  for (const auto& a : core.adapters) {
    const ConnectorInfo* info = reg.Find(ConnectorKind::kAdapter, a);
    if (info != nullptr) CheckConnector(*info, a, values, core, out);
  }
  return out;
}

void PrintText(const std::vector<Finding>& findings) {
  std::vector<std::vector<std::string>> rows{{"STATUS", "CONNECTOR", "CHECK", "FOUND"}};
  for (const auto& f : findings) {
    rows.push_back(
        {std::string(CheckLevelName(f.result.level)), f.connector, f.result.name, f.result.detail});
  }
  std::cout << RenderTable(rows);
  bool header = false;
  for (const auto& f : findings) {
    if (f.result.hint.empty() || f.result.level == CheckResult::Level::kOk) continue;
    if (!header) std::cout << "\nHow to fix:\n";
    header = true;
    std::cout << "  " << f.connector << " " << f.result.name << ": " << f.result.hint << "\n";
  }
  std::cout << std::flush;
}

void PrintJsonFindings(const std::vector<Finding>& findings, bool ok) {
  PrintJson([&](json::Writer& w) {
    w.BeginObject();
    w.BoolField("ok", ok);
    w.Key("checks");
    w.BeginArray();
    for (const auto& f : findings) {
      w.BeginObject();
      w.StringField("connector", f.connector);
      w.StringField("check", f.result.name);
      w.StringField("status", CheckLevelName(f.result.level));
      w.StringField("found", f.result.detail);
      if (!f.result.hint.empty()) w.StringField("hint", f.result.hint);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  });
}

}  // namespace

void AddDoctorCommand(CLI::App& root, GlobalFlags& global) {
  auto* cmd = root.add_subcommand(
      "doctor", "Check the configured detector's and sinks' server prerequisites (no events read)");
  cmd->fallthrough();
  auto flags = std::make_shared<FlagStore>();
  auto specs = std::make_shared<std::vector<ParamSpec>>(AllParams(Builtins()));
  auto output = std::make_shared<std::string>("text");
  AddSpecFlags(*cmd, *specs, *flags);
  cmd->add_option("-o,--output", *output, "text | json")->check(CLI::IsMember({"text", "json"}));
  cmd->footer(
      "Takes the same flags and config file as `pgcdc listen`.\n"
      "Exit codes: 0 all checks passed (warnings allowed), 1 a check failed, 2 invalid "
      "configuration.\n"
      "Example: pgcdc doctor --detector mysql --mysql-addr 127.0.0.1:3306 --mysql-user repl "
      "--mysql-server-id 4242");
  cmd->callback([&global, flags, specs, output] {
    auto loaded = LoadValidated(global, *specs, *flags, PipelineKind::kListen);
    if (!loaded.errors.empty()) {
      CommandExitCode() = ReportConfigErrors(loaded.errors);
      return;
    }
    ApplyLogging(loaded.config);
    const auto findings = RunChecks(Builtins(), loaded.config);
    bool ok = true;
    for (const auto& f : findings) ok = ok && f.result.level != CheckResult::Level::kFail;
    if (*output == "json") {
      PrintJsonFindings(findings, ok);
    } else {
      PrintText(findings);
    }
    CommandExitCode() = ok ? kExitOk : kExitFailure;
  });
}

}  // namespace pgcdc::cli
