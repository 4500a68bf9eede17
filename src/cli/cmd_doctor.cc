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
#include <chrono>
#include <iostream>
#include <memory>

#include "cli/cli.h"
#include "cli/output.h"
#include "core/json.h"
#include "pg/conn.h"

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

// ---- pgcdc validate -----------------------------------------------------------

// SPEC's `validate` rows: COMPONENT STATUS DURATION MESSAGE.
struct ValidateRow {
  std::string component;
  std::string status;  // OK, WARN, FAIL, SKIP
  std::chrono::milliseconds took{0};
  std::string message;
};

// The database row: a connection within 5 s (the URL's connect_timeout wins).
ValidateRow CheckDatabase(const std::string& url) {
  if (url.empty()) return {"database", "SKIP", {}, "no database_url"};
  const auto start = std::chrono::steady_clock::now();
  auto conn = pg::ConnectRaw(url, "connect", {{"connect_timeout", "5"}});
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  if (!conn) return {"database", "FAIL", took, conn.error().message()};
  pg::Conn::Adopt(*conn);  // closes it
  return {"database", "OK", took, "connected"};
}

std::vector<ValidateRow> ValidateRows(const config::LoadResult& loaded) {
  std::vector<ValidateRow> rows;
  const auto start = std::chrono::steady_clock::now();
  const bool config_ok = loaded.errors.empty();
  std::string message = config_ok ? "valid" : std::to_string(loaded.errors.size()) + " error(s)";
  for (const auto& e : loaded.errors) message += "; " + e;
  rows.push_back({"config", config_ok ? "OK" : "FAIL",
                  std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start),
                  message});
  const config::CoreSettings core = config::BindCore(loaded.config);
  rows.push_back(CheckDatabase(core.database_url));
  if (!config_ok) return rows;  // the checks below need a valid configuration
  const auto checks_start = std::chrono::steady_clock::now();
  const auto findings = RunChecks(Builtins(), loaded.config);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - checks_start);
  for (const auto& f : findings) {
    const bool adapter =
        f.connector != core.detector_type &&
        std::find(core.adapters.begin(), core.adapters.end(), f.connector) != core.adapters.end();
    std::string msg = f.result.name + ": " + f.result.detail;
    if (!f.result.hint.empty() && f.result.level != CheckResult::Level::kOk) {
      msg += " (fix: " + f.result.hint + ")";
    }
    const char* status = f.result.level == CheckResult::Level::kFail   ? "FAIL"
                         : f.result.level == CheckResult::Level::kWarn ? "WARN"
                                                                       : "OK";
    rows.push_back({(adapter ? "adapter/" : "detector/") + f.connector, status, took, msg});
  }
  return rows;
}

void PrintValidateRows(const std::vector<ValidateRow>& rows, bool json_output, bool ok) {
  if (json_output) {
    PrintJson([&](json::Writer& w) {
      w.BeginObject();
      w.BoolField("ok", ok);
      w.Key("checks");
      w.BeginArray();
      for (const auto& r : rows) {
        w.BeginObject();
        w.StringField("component", r.component);
        w.StringField("status", r.status);
        w.Key("duration_ms");
        w.Uint(static_cast<uint64_t>(r.took.count()));
        w.StringField("message", r.message);
        w.EndObject();
      }
      w.EndArray();
      w.EndObject();
    });
    return;
  }
  std::vector<std::vector<std::string>> table{{"COMPONENT", "STATUS", "DURATION", "MESSAGE"}};
  for (const auto& r : rows) {
    table.push_back(
        {r.component, r.status, std::to_string(r.took.count()) + "ms", OneLine(r.message)});
  }
  std::cout << RenderTable(table) << std::flush;
}

}  // namespace

void AddValidateCommand(CLI::App& root, GlobalFlags& global) {
  auto* cmd = root.add_subcommand(
      "validate", "Check the configuration and that the database answers, without starting");
  cmd->fallthrough();
  auto flags = std::make_shared<FlagStore>();
  auto specs = std::make_shared<std::vector<ParamSpec>>(AllParams(Builtins()));
  auto output = std::make_shared<std::string>("text");
  AddSpecFlags(*cmd, *specs, *flags);
  cmd->add_option("-o,--output", *output, "text | json")->check(CLI::IsMember({"text", "json"}));
  cmd->footer(
      "Takes the same flags and config file as `pgcdc listen`. Rows: config, database\n"
      "(a connection within 5 s), then the detector's and adapters' server checks (as\n"
      "`pgcdc doctor`). Exit codes: 0 valid, 1 validation failed.");
  cmd->callback([&global, flags, specs, output] {
    auto loaded = LoadValidated(global, *specs, *flags, PipelineKind::kListen);
    if (loaded.errors.empty()) ApplyLogging(loaded.config);
    const auto rows = ValidateRows(loaded);
    bool ok = true;
    for (const auto& r : rows) ok = ok && r.status != "FAIL";
    PrintValidateRows(rows, *output == "json", ok);
    if (!ok) std::cerr << "pgcdc: validation failed\n";
    CommandExitCode() = ok ? kExitOk : kExitFailure;
  });
}

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
