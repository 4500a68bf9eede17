#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <set>

#include "cli/cli.h"
#include "config/core_params.h"
#include "config/upstream_keys.h"
#include "core/log.h"
#include "pipeline/backpressure.h"
#include "registry/builtin.h"
#include "tracing/tracer.h"
#include "transform/transform.h"
#include "wasm/settings.h"

namespace pgcdc::cli {

int& CommandExitCode() {
  static int code = kExitOk;
  return code;
}

const Registry& Builtins() {
  static const Registry registry = [] {
    Registry r;
    std::vector<ConnectorInfo> all = BuiltinConnectors();
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
      if (!keys.insert(p.key).second) continue;
      out.push_back(p);
      // A connector's required parameters are required only when it is
      // selected (CheckRequired), not by the loader for every command.
      out.back().required = false;
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
  std::vector<ParamSpec> out = ParamsFor(registry, names);
  // The transform module's own keys (the YAML chains under transforms.global
  // and transforms.adapter) belong to no single transform.
  for (const auto& p : transform::Params()) {
    if (std::none_of(out.begin(), out.end(), [&](const ParamSpec& q) { return q.key == p.key; })) {
      out.push_back(p);
    }
  }
  return out;
}

void AddSpecFlags(CLI::App& cmd, const std::vector<ParamSpec>& specs, FlagStore& store) {
  for (const auto& spec : specs) {
    if (spec.key == "log_level" || spec.key == "log_format") continue;  // root flags
    if (spec.type == ParamType::kTree) continue;                        // YAML only
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

namespace {

// What every configuration is checked against: every connector's keys and
// the command's own, upstream spellings, and the section hints.
void AddSchema(config::Sources& sources, const std::vector<ParamSpec>& specs) {
  sources.schema = AllParams(Builtins());
  // A command's own settings (e.g. snapshot.workers) are known keys too.
  std::set<std::string> known;
  for (const auto& p : sources.schema) known.insert(p.key);
  for (const auto& p : specs) {
    if (!known.count(p.key)) sources.schema.push_back(p);
  }
  sources.upstream_keys = config::UpstreamKeys();
  // "wal: {...}" -> the wal detector's settings live under detector:.
  for (auto kind : {ConnectorKind::kDetector, ConnectorKind::kAdapter}) {
    for (const auto* c : Builtins().List(kind)) {
      std::map<std::string, int> sections;  // the section most of its keys use
      for (const auto& p : c->params) {
        if (p.key.find('.') != std::string::npos) ++sections[p.key.substr(0, p.key.find('.'))];
      }
      auto best = std::max_element(sections.begin(), sections.end(),
                                   [](auto& a, auto& b) { return a.second < b.second; });
      if (best != sections.end() && best->first != c->name) {
        sources.section_hints.emplace(c->name, best->first);
      }
    }
  }
}

}  // namespace

config::Sources TextSources(std::string text, std::string label) {
  config::Sources sources;
  sources.yaml_path = std::move(label);
  sources.yaml_text = std::move(text);
  sources.getenv = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  AddSchema(sources, {});
  return sources;
}

config::LoadResult LoadConfig(const GlobalFlags& global, const std::vector<ParamSpec>& specs,
                              const FlagStore& flags, bool use_env) {
  config::Sources sources;
  sources.yaml_path = ConfigFilePath(global);
  sources.yaml_required = !global.config_path.empty();
  for (const auto& [key, values] : flags) {
    if (!values.empty()) sources.flags[key] = values;
  }
  // --detector given more than once: several detectors (cli/detectors.cc).
  if (auto it = sources.flags.find("detector.type");
      it != sources.flags.end() && it->second.size() > 1) {
    std::string joined;
    for (const auto& v : it->second) joined += (joined.empty() ? "" : ",") + v;
    it->second = {joined};
  }
  if (!global.log_level.empty()) sources.flags["log_level"] = {global.log_level};
  if (!global.log_format.empty()) sources.flags["log_format"] = {global.log_format};
  if (!use_env) {
    sources.getenv = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  }
  AddSchema(sources, specs);
  return config::Load(specs, sources);
}

void NormalizePipelineConfig(config::Config& cfg) {
  using config::Origin;
  // The reference tool registers "webhook-gateway"; our names use '_'.
  if (std::string type = cfg.GetString("detector.type"); type.find('-') != std::string::npos) {
    std::replace(type.begin(), type.end(), '-', '_');
    cfg.Set("detector.type", type, cfg.origin("detector.type"),
            cfg.OriginDetail("detector.type") + " ('-' read as '_')");
  }
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
  // Adapter plugins replace the default stdout adapter (-a still adds more).
  if ((cfg.Has("plugins.adapter") || cfg.Has("plugins.adapters")) &&
      cfg.origin("adapters") == Origin::kDefault) {
    cfg.Set("adapters", std::vector<std::string>{}, Origin::kDefault,
            "none by default with --plugin-adapter");
  }
  // Views (views: or --view-query) bring their adapter along (SPEC §5.22).
  if (cfg.Has("views") || cfg.Has("view.cli_queries")) {
    std::vector<std::string> adapters = cfg.GetList("adapters");
    if (std::find(adapters.begin(), adapters.end(), "view") == adapters.end()) {
      adapters.push_back("view");
      cfg.Set("adapters", adapters, cfg.origin("adapters"),
              cfg.OriginDetail("adapters") + " (+view: views are defined)");
    }
  }
  if (cfg.GetBool("detector.tx_markers")) {
    cfg.Set("detector.tx_metadata", true, Origin::kDefault, "implied by --tx-markers");
  }
  // A persistent slot must never skip events: block instead of dropping.
  if (cfg.GetBool("detector.persistent_slot") && cfg.origin("bus.mode") == Origin::kDefault) {
    cfg.Set("bus.mode", std::string("reliable"), Origin::kDefault, "implied by --persistent-slot");
  }
  if (cfg.Has("mysql.state_file") && cfg.origin("bus.mode") == Origin::kDefault) {
    cfg.Set("bus.mode", std::string("reliable"), Origin::kDefault, "implied by --mysql-state-file");
  }
  // The log consumers commit what the adapters finished: a dropped event
  // would count as delivered.
  if (const std::string type = cfg.GetString("detector.type");
      (type == "kafka_consumer" || type == "nats_consumer" || type == "mongodb") &&
      cfg.origin("bus.mode") == Origin::kDefault) {
    cfg.Set("bus.mode", std::string("reliable"), Origin::kDefault, "implied by --detector " + type);
  }
  // Several detectors: the bus is reliable when any child needs it.
  if (IsMultiDetector(cfg) && cfg.origin("bus.mode") == Origin::kDefault) {
    std::vector<std::string> ignored;  // reported by validation
    for (const auto& c : PlanDetectors(Builtins(), cfg, ignored)) {
      if (c.values.GetString("bus.mode") == "reliable") {
        cfg.Set("bus.mode", std::string("reliable"), Origin::kDefault,
                c.values.OriginDetail("bus.mode") + " (detector " + c.name + ")");
        break;
      }
    }
  }
}

namespace {

std::string Known(const Registry& registry, ConnectorKind kind) {
  std::string known;
  for (const auto* c : registry.List(kind)) known += (known.empty() ? "" : ", ") + c->name;
  return known;
}

// "unknown … \"kafka\"" or, for a connector a slim build left out, "… is not in
// this build". Folder names drop the connector name's underscores at most
// (listennotify for listen_notify).
std::string UnknownConnector(const Registry& registry, ConnectorKind kind,
                             const std::string& name) {
  const std::string kind_name(ConnectorKindName(kind));
  std::string squashed = name;
  std::erase(squashed, '_');
  for (const std::string& entry : OmittedConnectorFolders()) {
    const std::string folder = entry.substr(entry.find('/') + 1);
    if (!entry.starts_with(kind_name + "/") || (folder != name && folder != squashed)) continue;
    std::string option = folder;
    std::ranges::transform(option, option.begin(),
                           [](char c) { return static_cast<char>(std::toupper(c)); });
    return kind_name + " \"" + name + "\" is not in this build (it was built with PGCDC_WITH_" +
           option + "=OFF; available: " + Known(registry, kind) + ")";
  }
  return "unknown or not implemented " + kind_name + " \"" + name +
         "\" (available: " + Known(registry, kind) + ")";
}

// The selected connector's required parameters that are not set (a default
// does not count); false when one is missing, so that the connector's own
// validation, which reads them, is skipped.
bool CheckRequired(const ConnectorInfo& c, const config::Config& cfg,
                   std::vector<std::string>& errors) {
  bool ok = true;
  for (const auto& p : c.params) {
    if (!p.required || (cfg.Has(p.key) && cfg.origin(p.key) != config::Origin::kDefault)) continue;
    ok = false;
    errors.push_back(p.key + ": required for " + std::string(ConnectorKindName(c.kind)) + " " +
                     c.name + " (set " + FlagName(p) + ", " + EnvName(p) + " or " + p.key +
                     " in the config file)");
  }
  return ok;
}

// The adapter a wrapping adapter (chain) names: known, not itself a
// wrapper, its own settings valid.
void ValidateInnerAdapter(const Registry& registry, const ConnectorInfo& outer,
                          const config::Config& cfg, const config::CoreSettings& core,
                          std::vector<std::string>& errors) {
  const std::string name = cfg.GetString(outer.inner_adapter_key);
  if (name.empty()) return;  // the outer adapter's own validation requires it
  const ConnectorInfo* inner = registry.Find(ConnectorKind::kAdapter, name);
  if (inner == nullptr || inner->wrap_adapter) {
    errors.push_back(outer.inner_adapter_key + ": \"" + name + "\" is not an adapter " +
                     outer.name +
                     " can wrap (available: " + Known(registry, ConnectorKind::kAdapter) + ")");
    return;
  }
  if (CheckRequired(*inner, cfg, errors) && inner->validate) inner->validate(cfg, core, errors);
}

// Checks the `adapters` list (known, not repeated, per-adapter rules);
// returns the enabled adapter names.
std::set<std::string> ValidateAdapters(const Registry& registry, const config::Config& cfg,
                                       const config::CoreSettings& core,
                                       std::vector<std::string>& errors) {
  std::set<std::string> seen;
  // Wasm adapter plugins (--plugin-adapter) are adapters too, named by their
  // entries; they must not take a built-in adapter's name.
  const wasm::Settings plugins = wasm::Bind(cfg);
  auto plugin_adapters = wasm::AdapterEntries(plugins);
  if (!plugin_adapters) {
    errors.push_back(plugin_adapters.error().message());
  } else {
    for (const auto& e : *plugin_adapters) {
      if (registry.Find(ConnectorKind::kAdapter, e.name) != nullptr) {
        errors.push_back("adapter plugin name \"" + e.name + "\" is a built-in adapter's name");
      }
      seen.insert(e.name);
    }
  }
  if (core.adapters.empty() && seen.empty()) {
    errors.push_back("adapters: at least one adapter is required");
  }
  // Plugin files are loaded when the pipeline starts: check they are there.
  if (plugin_adapters) {
    for (const auto& e : *plugin_adapters) {
      if (!std::filesystem::exists(e.path)) {
        errors.push_back("adapter plugin " + e.name + ": no file " + e.path);
      }
    }
  }
  for (const auto& [path, what] : {std::pair{plugins.dlq_path, "plugins.dlq.path"},
                                   {plugins.checkpoint_path, "plugins.checkpoint.path"}}) {
    if (!path.empty() && !std::filesystem::exists(path)) {
      errors.push_back(std::string(what) + ": no file " + path);
    }
  }
  if (!plugins.checkpoint_path.empty() &&
      (core.detector_type != "wal" || !cfg.GetBool("detector.persistent_slot"))) {
    errors.push_back(
        "plugins.checkpoint.path (--checkpoint-plugin): needs --detector wal with "
        "--persistent-slot");
  }
  if (auto cp = wasm::CheckpointEntry(plugins); !cp) errors.push_back(cp.error().message());
  if (core.dlq.type == "plugin") {
    auto entry = wasm::DlqEntry(plugins);
    if (!entry) {
      errors.push_back(entry.error().message());
    } else if (!*entry) {
      errors.push_back("dlq.type plugin needs plugins.dlq.path (--dlq-plugin-path)");
    }
  }
  for (const auto& a : core.adapters) {
    if (!seen.insert(a).second) {
      errors.push_back("adapters: \"" + a + "\" listed twice");
      continue;
    }
    const ConnectorInfo* c = registry.Find(ConnectorKind::kAdapter, a);
    if (c == nullptr) {
      errors.push_back("adapters: " + UnknownConnector(registry, ConnectorKind::kAdapter, a));
    } else {
      if (CheckRequired(*c, cfg, errors) && c->validate) c->validate(cfg, core, errors);
      if (c->wrap_adapter) ValidateInnerAdapter(registry, *c, cfg, core, errors);
    }
  }
  return seen;
}

}  // namespace

void ValidateDetector(const Registry& registry, const config::Config& cfg,
                      const config::CoreSettings& core, std::vector<std::string>& errors) {
  if (IsMultiDetector(cfg)) {
    ValidateMultiDetector(registry, cfg, core, errors);
    return;
  }
  const ConnectorInfo* d = registry.Find(ConnectorKind::kDetector, core.detector_type);
  if (d == nullptr) {
    errors.push_back("detector.type: " +
                     UnknownConnector(registry, ConnectorKind::kDetector, core.detector_type));
  } else {
    if (CheckRequired(*d, cfg, errors) && d->validate) d->validate(cfg, core, errors);
  }
  // --all-tables is a wal setting (it implies --detector wal unless another
  // detector was chosen explicitly); no other detector can honour it.
  if (cfg.GetBool("detector.all_tables") && core.detector_type != "wal") {
    errors.push_back("detector.all_tables: --all-tables cannot be used with detector " +
                     core.detector_type);
  }
  if (core.backpressure.enabled) {
    if (core.detector_type != "wal" || !cfg.GetBool("detector.persistent_slot")) {
      errors.push_back("backpressure.enabled: needs --detector wal with --persistent-slot");
    }
    if (core.backpressure.critical_threshold <= core.backpressure.warn_threshold) {
      errors.push_back(
          "backpressure.critical_threshold: must be greater than backpressure.warn_threshold");
    }
  }
}

namespace {
// --schema-store: only the wal detector sees table definitions.
void ValidateSchemaStore(const config::Config& cfg, const config::CoreSettings& core,
                         std::vector<std::string>& errors) {
  if (!core.schema.enabled) return;
  if (IsMultiDetector(cfg) || core.detector_type != "wal") {
    errors.push_back("schema.enabled: --schema-store needs --detector wal (detector " +
                     core.detector_type + " registers no table schemas)");
  }
  if (core.schema.store == "pg" && core.schema.db_url.empty() && core.database_url.empty()) {
    errors.push_back("schema.db_url: --schema-store-type pg needs --schema-db or --db");
  }
}
}  // namespace

void ValidatePipelineConfig(const Registry& registry, const config::Config& cfg, PipelineKind kind,
                            std::vector<std::string>& errors) {
  const config::CoreSettings core = config::BindCore(cfg);
  if (kind == PipelineKind::kListen) {
    ValidateDetector(registry, cfg, core, errors);
    ValidateSchemaStore(cfg, core, errors);
  }
  const std::set<std::string> seen = ValidateAdapters(registry, cfg, core, errors);
  if (core.dlq.window_size > 0 && core.dlq.window_threshold > core.dlq.window_size) {
    errors.push_back("dlq.window_threshold: must not exceed dlq.window_size");
  }
  for (const auto& [adapter, prio] : core.backpressure.adapter_priorities) {
    if (!seen.count(adapter)) {
      errors.push_back("backpressure.adapter_priorities: \"" + adapter +
                       "\" is not an enabled adapter");
    }
    if (prio.size() != 1 || !pipeline::ParsePriority(prio[0])) {
      errors.push_back("backpressure.adapter_priorities: " + adapter +
                       " must be one of critical, normal, best-effort");
    }
  }
  for (const auto& [adapter, channels] : core.routes) {
    if (!seen.count(adapter)) {
      errors.push_back("routes: route for \"" + adapter + "\" but that adapter is not enabled");
    }
  }
  for (auto& e : tracing::Validate(cfg)) errors.push_back(std::move(e));
}

config::LoadResult LoadValidated(const GlobalFlags& global, const std::vector<ParamSpec>& specs,
                                 const FlagStore& flags, PipelineKind kind) {
  auto loaded = LoadConfig(global, specs, flags);
  if (kind == PipelineKind::kListen) NormalizePipelineConfig(loaded.config);
  ValidatePipelineConfig(Builtins(), loaded.config, kind, loaded.errors);
  return loaded;
}

std::optional<PreparedPipeline> PreparePipeline(const GlobalFlags& global,
                                                const std::vector<ParamSpec>& specs,
                                                const FlagStore& flags, PipelineKind kind,
                                                const ExtraValidation& extra) {
  auto loaded = LoadValidated(global, specs, flags, kind);
  if (extra) extra(loaded.config, loaded.errors);
  ApplyLogging(loaded.config);
  auto chains = transform::Build(loaded.config, ConfigFilePath(global), nullptr, &loaded.errors);
  if (!loaded.errors.empty() || !chains) {
    if (loaded.errors.empty()) loaded.errors.push_back(chains.error().message());
    CommandExitCode() = ReportConfigErrors(loaded.errors);
    return std::nullopt;
  }
  ReportWarnings(loaded.warnings);
  return PreparedPipeline{std::move(loaded.config), std::move(*chains)};
}

int ReportConfigErrors(const std::vector<std::string>& errors) {
  std::string out = "pgcdc: config validation: " + std::to_string(errors.size()) +
                    (errors.size() == 1 ? " error" : " errors") + "\n";
  for (const auto& e : errors) out += "  - " + e + "\n";
  std::cerr << out << std::flush;
  return kExitUsage;
}

void ReportWarnings(const std::vector<std::string>& warnings) {
  for (const auto& w : warnings) log::Warn(w);
}

TracingSession::TracingSession(const config::Config& cfg) {
  auto settings = tracing::SettingsFrom(cfg, [](const std::string& name) {
    const char* v = std::getenv(name.c_str());
    return v != nullptr ? std::optional<std::string>(v) : std::nullopt;
  });
  if (!settings) {
    CommandExitCode() = ReportConfigErrors({settings.error().message()});
    ok_ = false;
    return;
  }
  if (auto st = tracing::Start(*settings); !st) {
    CommandExitCode() = ReportConfigErrors({st.error().message()});
    ok_ = false;
  }
}

TracingSession::~TracingSession() { tracing::Shutdown(); }

void ApplyLogging(const config::Config& cfg) {
  const config::CoreSettings core = config::BindCore(cfg);
  log::Level level = log::Level::kInfo;
  log::Format format = log::Format::kText;
  log::ParseLevel(core.log_level, &level);
  log::ParseFormat(core.log_format, &format);
  log::Configure(level, format);
}

}  // namespace pgcdc::cli
