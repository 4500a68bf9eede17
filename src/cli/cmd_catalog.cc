// `pgcdc list` and `pgcdc describe`: the registry as tables or JSON.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>

#include "cli/cli.h"
#include "cli/output.h"
#include "config/core_params.h"
#include "core/json.h"

namespace pgcdc::cli {

namespace {

void WriteParamsJson(json::Writer& w, const std::vector<ParamSpec>& params) {
  w.BeginArray();
  for (const auto& p : params) {
    w.BeginObject();
    w.StringField("key", p.key);
    w.StringField("flag", FlagName(p));
    w.StringField("env", EnvName(p));
    w.StringField("type", ParamTypeName(p.type));
    w.Key("default");
    if (p.default_value.empty()) {
      w.Null();
    } else {
      w.String(p.default_value);
    }
    w.BoolField("required", p.required);
    if (!p.choices.empty()) {
      w.Key("choices");
      w.BeginArray();
      for (const auto& c : p.choices) w.String(c);
      w.EndArray();
    }
    w.StringField("description", p.description);
    w.EndObject();
  }
  w.EndArray();
}

std::vector<std::vector<std::string>> ParamRows(const std::vector<ParamSpec>& params) {
  std::vector<std::vector<std::string>> rows = {
      {"FLAG", "TYPE", "DEFAULT", "REQUIRED", "ENV / YAML", "DESCRIPTION"}};
  for (const auto& p : params) {
    std::string flag = FlagName(p);
    if (!p.short_flag.empty()) flag = "-" + p.short_flag + ", " + flag;
    std::string type(ParamTypeName(p.type));
    if (!p.choices.empty()) {
      type.clear();
      for (const auto& c : p.choices) type += (type.empty() ? "" : "|") + c;
    }
    rows.push_back({flag, type, p.default_value.empty() ? "-" : p.default_value,
                    p.required ? "yes" : "no", EnvName(p) + " / " + p.key, p.description});
  }
  return rows;
}

}  // namespace

void AddCatalogCommands(CLI::App& root) {
  // ---- list ----
  auto* list = root.add_subcommand("list", "List detectors, adapters and transforms");
  auto kind = std::make_shared<std::string>();
  auto format = std::make_shared<std::string>("table");
  list->add_option("kind", *kind, "adapters | detectors | transforms (default: all)")
      ->check(CLI::IsMember({"adapters", "detectors", "transforms"}));
  list->add_option("-o,--output", *format, "table | json")->check(CLI::IsMember({"table", "json"}));
  list->callback([kind, format] {
    const Registry& reg = Builtins();
    std::vector<ConnectorKind> kinds;
    if (kind->empty() || *kind == "detectors") kinds.push_back(ConnectorKind::kDetector);
    if (kind->empty() || *kind == "adapters") kinds.push_back(ConnectorKind::kAdapter);
    if (kind->empty() || *kind == "transforms") kinds.push_back(ConnectorKind::kTransform);
    if (*format == "json") {
      std::string out;
      json::Writer w(out);
      w.BeginArray();
      for (auto k : kinds) {
        for (const auto* c : reg.List(k)) {
          w.BeginObject();
          w.StringField("kind", ConnectorKindName(k));
          w.StringField("name", c->name);
          w.StringField("description", c->description);
          w.EndObject();
        }
      }
      w.EndArray();
      std::cout << out << "\n";
      return;
    }
    std::vector<std::vector<std::string>> rows = {{"KIND", "NAME", "DESCRIPTION"}};
    for (auto k : kinds) {
      auto items = reg.List(k);
      if (items.empty()) {
        rows.push_back(
            {std::string(ConnectorKindName(k)), "(none yet)", "not implemented in this version"});
      }
      for (const auto* c : items) {
        rows.push_back({std::string(ConnectorKindName(k)), c->name, c->description});
      }
    }
    std::cout << RenderTable(rows);
  });

  // ---- describe ----
  auto* describe = root.add_subcommand(
      "describe", "Show a connector's parameters (or 'pipeline' for core ones)");
  auto name = std::make_shared<std::string>();
  auto dformat = std::make_shared<std::string>("table");
  describe->add_option("name", *name, "connector name, e.g. listen_notify, stdout, pipeline")
      ->required();
  describe->add_option("-o,--output", *dformat, "table | json")
      ->check(CLI::IsMember({"table", "json"}));
  describe->callback([name, dformat] {
    const Registry& reg = Builtins();
    std::string kind_name = "pipeline";
    std::string description = "Core pipeline settings shared by every detector and adapter.";
    std::vector<ParamSpec> params;
    if (*name == "pipeline") {
      params = config::CoreParams();
    } else if (const ConnectorInfo* c = reg.FindAny(*name)) {
      kind_name = ConnectorKindName(c->kind);
      description = c->description;
      params = c->params;
    } else {
      std::cerr << "pgcdc describe: unknown connector \"" << *name
                << "\" (see `pgcdc list`; `pgcdc describe pipeline` shows core settings)\n";
      CommandExitCode() = kExitUsage;
      return;
    }
    if (*dformat == "json") {
      std::string out;
      json::Writer w(out);
      w.BeginObject();
      w.StringField("name", *name);
      w.StringField("kind", kind_name);
      w.StringField("description", description);
      w.Key("params");
      WriteParamsJson(w, params);
      w.EndObject();
      std::cout << out << "\n";
      return;
    }
    std::cout << *name << " (" << kind_name << ")\n  " << description << "\n\n";
    if (params.empty()) {
      std::cout << "No parameters.\n";
    } else {
      std::cout << RenderTable(ParamRows(params));
    }
  });
}

}  // namespace pgcdc::cli
