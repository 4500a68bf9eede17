#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <set>

#include "cli/cli.h"
#include "config/core_params.h"
#include "core/log.h"
#include "pipeline/backpressure.h"
#include "transform/transform.h"

#if PGCDC_WITH_LISTEN_NOTIFY
#include "detector/listennotify/listen_notify.h"
#endif
#if PGCDC_WITH_WAL
#include "detector/wal/wal_detector.h"
#endif
#if PGCDC_WITH_OUTBOX
#include "detector/outbox/outbox_detector.h"
#endif
#if PGCDC_WITH_STDOUT
#include "adapter/stdout/stdout_adapter.h"
#endif
#if PGCDC_WITH_FILE
#include "adapter/file/file_adapter.h"
#endif
#if PGCDC_WITH_WEBHOOK
#include "adapter/webhook/webhook_adapter.h"
#endif
#if PGCDC_WITH_SSE
#include "adapter/sse/sse_adapter.h"
#endif
#if PGCDC_WITH_WS
#include "adapter/ws/ws_adapter.h"
#endif
#if PGCDC_WITH_EXEC
#include "adapter/exec/exec_adapter.h"
#endif
#if PGCDC_WITH_PG_TABLE
#include "adapter/pg_table/pg_table_adapter.h"
#endif
#if PGCDC_WITH_KAFKASERVER
#include "adapter/kafkaserver/kafkaserver_adapter.h"
#endif

namespace pgcdc::cli {

int& CommandExitCode() {
  static int code = kExitOk;
  return code;
}

const Registry& Builtins() {
  static const Registry registry = [] {
    Registry r;
    std::vector<ConnectorInfo> all;
#if PGCDC_WITH_LISTEN_NOTIFY
    all.push_back(listennotify::Connector());
#endif
#if PGCDC_WITH_WAL
    all.push_back(wal::Connector());
#endif
#if PGCDC_WITH_OUTBOX
    all.push_back(outbox::Connector());
#endif
#if PGCDC_WITH_STDOUT
    all.push_back(stdoutsink::Connector());
#endif
#if PGCDC_WITH_FILE
    all.push_back(filesink::Connector());
#endif
#if PGCDC_WITH_WEBHOOK
    all.push_back(webhooksink::Connector());
#endif
#if PGCDC_WITH_SSE
    all.push_back(ssesink::Connector());
#endif
#if PGCDC_WITH_WS
    all.push_back(wssink::Connector());
#endif
#if PGCDC_WITH_EXEC
    all.push_back(execsink::Connector());
#endif
#if PGCDC_WITH_PG_TABLE
    all.push_back(pgtablesink::Connector());
#endif
#if PGCDC_WITH_KAFKASERVER
    all.push_back(kafkaserver::Connector());
#endif
    for (auto& c : transform::Connectors()) all.push_back(std::move(c));
    for (auto& c : all) {
      if (auto st = r.Add(std::move(c)); !st) {
        std::cerr << "pgcdc: internal error: " << st.error().message() << "\n";
        std::exit(kExitFailure);
      }
    }
    return r;
  }();
  return registry;
}

std::vector<ParamSpec> ParamsFor(const Registry& registry, const std::vector<std::string>& names) {
  std::vector<ParamSpec> out = config::CoreParams();
  std::set<std::string> keys;
  for (const auto& p : out) keys.insert(p.key);
  auto add = [&](const ConnectorInfo* c) {
    if (c == nullptr) return;
    for (const auto& p : c->params) {
      if (keys.insert(p.key).second) out.push_back(p);
    }
  };
  for (const auto& n : names) add(registry.FindAny(n));
  return out;
}

std::vector<ParamSpec> AllParams(const Registry& registry) {
  std::vector<std::string> names;
  for (auto kind : {ConnectorKind::kDetector, ConnectorKind::kAdapter, ConnectorKind::kTransform}) {
    for (const auto* c : registry.List(kind)) names.push_back(c->name);
  }
  return ParamsFor(registry, names);
}

void AddSpecFlags(CLI::App& cmd, const std::vector<ParamSpec>& specs, FlagStore& store) {
  for (const auto& spec : specs) {
    if (spec.key == "log_level" || spec.key == "log_format") continue;  // root flags
    std::string names = FlagName(spec);
    if (!spec.short_flag.empty()) names = "-" + spec.short_flag + "," + names;
    std::string desc = spec.description;
    if (!spec.default_value.empty()) desc += " (default " + spec.default_value + ")";
    desc += " [env " + EnvName(spec) + ", yaml " + spec.key + "]";
    auto& target = store[spec.key];
    if (spec.type == ParamType::kBool) {
      cmd.add_flag(names + "{true}", target, desc);
    } else {
      auto* opt = cmd.add_option(names, target, desc);
      switch (spec.type) {
        case ParamType::kStringList:
        case ParamType::kRouteMap:
          opt->type_name(spec.type == ParamType::kRouteMap ? "ADAPTER=CH,..." : "VALUE,...");
          break;
        case ParamType::kInt:
          opt->type_name("INT");
          break;
        case ParamType::kDuration:
          opt->type_name("DURATION");
          break;
        default:
          opt->type_name("TEXT");
          break;
      }
      if (!spec.choices.empty()) {
        std::string choices;
        for (const auto& c : spec.choices) choices += (choices.empty() ? "" : "|") + c;
        opt->type_name(choices);
      }
    }
  }
}

std::string ConfigFilePath(const GlobalFlags& global) {
  if (!global.config_path.empty()) return global.config_path;
  if (std::filesystem::exists("pgcdc.yaml")) return "pgcdc.yaml";
  return {};
}

config::LoadResult LoadConfig(const GlobalFlags& global, const std::vector<ParamSpec>& specs,
                              const FlagStore& flags, bool use_env) {
  config::Sources sources;
  sources.yaml_path = ConfigFilePath(global);
  sources.yaml_required = !global.config_path.empty();
  for (const auto& [key, values] : flags) {
    if (!values.empty()) sources.flags[key] = values;
  }
  if (!global.log_level.empty()) sources.flags["log_level"] = {global.log_level};
  if (!global.log_format.empty()) sources.flags["log_format"] = {global.log_format};
  if (!use_env) {
    sources.getenv = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  }
  sources.reserved_sections = config::ReservedSections();
  return config::Load(specs, sources);
}

std::set<std::string> ValidateAdapters(const Registry& registry, const config::Config& cfg,
                                       std::vector<std::string>& errors) {
  const auto adapters = cfg.GetList("adapters");
  if (adapters.empty()) errors.push_back("adapters: at least one adapter is required");
  std::set<std::string> seen;
  for (const auto& a : adapters) {
    if (!seen.insert(a).second) {
      errors.push_back("adapters: \"" + a + "\" listed twice");
      continue;
    }
    const ConnectorInfo* c = registry.Find(ConnectorKind::kAdapter, a);
    if (c == nullptr) {
      std::string known;
      for (const auto* k : registry.List(ConnectorKind::kAdapter)) {
        known += (known.empty() ? "" : ", ") + k->name;
      }
      errors.push_back("adapters: unknown or not implemented adapter \"" + a +
                       "\" (available: " + known + ")");
    } else if (c->validate) {
      c->validate(cfg, errors);
    }
  }
  return seen;
}

void NormalizePipelineConfig(config::Config& cfg) {
  using config::Origin;
  // --all-tables implies the wal detector and the "all" publication.
  if (cfg.GetBool("detector.all_tables")) {
    if (cfg.origin("detector.type") == Origin::kDefault) {
      cfg.Set("detector.type", std::string("wal"), Origin::kDefault, "implied by --all-tables");
    }
    if (!cfg.Has("detector.publication")) {
      cfg.Set("detector.publication", std::string("all"), Origin::kDefault,
              "implied by --all-tables");
    }
  }
  if (cfg.GetBool("detector.tx_markers")) {
    cfg.Set("detector.tx_metadata", true, Origin::kDefault, "implied by --tx-markers");
  }
  // A persistent slot must never skip events: block instead of dropping.
  if (cfg.GetBool("detector.persistent_slot") && cfg.origin("bus.mode") == Origin::kDefault) {
    cfg.Set("bus.mode", std::string("reliable"), Origin::kDefault, "implied by --persistent-slot");
  }
}

void ValidatePipelineConfig(const Registry& registry, const config::Config& cfg,
                            std::vector<std::string>& errors) {
  const std::string det = cfg.GetString("detector.type");
  const ConnectorInfo* d = registry.Find(ConnectorKind::kDetector, det);
  if (d == nullptr) {
    std::string known;
    for (const auto* c : registry.List(ConnectorKind::kDetector)) {
      known += (known.empty() ? "" : ", ") + c->name;
    }
    errors.push_back("detector.type: unknown or not implemented detector \"" + det +
                     "\" (available: " + known + ")");
  } else if (d->validate) {
    d->validate(cfg, errors);
  }
  const std::set<std::string> seen = ValidateAdapters(registry, cfg, errors);
  if (cfg.GetBool("backpressure.enabled")) {
    if (det != "wal" || !cfg.GetBool("detector.persistent_slot")) {
      errors.push_back("backpressure.enabled: needs --detector wal with --persistent-slot");
    }
    if (cfg.GetInt("backpressure.critical_threshold") <=
        cfg.GetInt("backpressure.warn_threshold")) {
      errors.push_back(
          "backpressure.critical_threshold: must be greater than backpressure.warn_threshold");
    }
  }
  for (const auto& [adapter, prio] : cfg.GetRoutes("backpressure.adapter_priorities")) {
    if (!seen.count(adapter)) {
      errors.push_back("backpressure.adapter_priorities: \"" + adapter +
                       "\" is not an enabled adapter");
    }
    if (prio.size() != 1 || !pipeline::ParsePriority(prio[0])) {
      errors.push_back("backpressure.adapter_priorities: " + adapter +
                       " must be one of critical, normal, best-effort");
    }
  }
  for (const auto& [adapter, channels] : cfg.GetRoutes("routes")) {
    if (!seen.count(adapter)) {
      errors.push_back("routes: route for \"" + adapter + "\" but that adapter is not enabled");
    }
  }
}

int ReportConfigErrors(const std::vector<std::string>& errors) {
  std::string out = "pgcdc: invalid configuration (" + std::to_string(errors.size()) +
                    (errors.size() == 1 ? " error" : " errors") + "):\n";
  for (const auto& e : errors) out += "  - " + e + "\n";
  std::cerr << out << std::flush;
  return kExitUsage;
}

void ReportWarnings(const std::vector<std::string>& warnings) {
  for (const auto& w : warnings) log::Warn(w);
}

void ApplyLogging(const config::Config& cfg) {
  log::Level level = log::Level::kInfo;
  log::Format format = log::Format::kText;
  log::ParseLevel(cfg.GetString("log_level"), &level);
  log::ParseFormat(cfg.GetString("log_format"), &format);
  log::Configure(level, format);
}

}  // namespace pgcdc::cli
