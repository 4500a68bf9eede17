// Typed connector declarations. A connector declares a plain config struct
// (usually its Options) and binds each parameter to a field of it:
//
//   ConnectorInfo Connector() {  // in namespace pgcdc::adapter::file
//     return DefineAdapter<Options>({
//         .name = "file",
//         .description = "...",
//         .params = {Param("file.path", &Options::path, "file to append to",
//                          {.required = true})},
//         .make = [](Options o, const Context&) -> Result<AdapterPtr> { ... },
//     });
//   }
//   PGCDC_REGISTER_CONNECTOR(adapter, file, pgcdc::adapter::file::Connector)
//
// The parameter's type and default come from the field (its default member
// initializer), so defaults are written once. Flags, env vars, YAML keys,
// `describe`, `config init` and docs derive from these declarations. The
// loader resolves values by key (config/config.h); the connector only ever
// sees its filled struct, never a key string.
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include "adapter/adapter.h"
#include "config/config.h"
#include "config/core_params.h"
#include "core/retry_policy.h"
#include "detector/detector.h"
#include "registry/registry.h"

namespace pgcdc {

// Everything a factory may use besides its own struct.
struct Context {
  const config::CoreSettings& core;
};

// The check of a detector that reads the core database_url (--db).
inline void RequireDatabaseUrl(const Context& ctx, std::string_view detector,
                               std::vector<std::string>& errors) {
  if (ctx.core.database_url.empty()) {
    errors.push_back("database_url: required for detector " + std::string(detector) +
                     " (--db, PGCDC_DATABASE_URL or database_url in the config file)");
  }
}

// Optional attributes of a parameter (designated initializers).
struct ParamOptions {
  std::string flag;        // long flag without dashes; empty = derived from the key
  std::string short_flag;  // one letter
  std::vector<std::string> choices;
  std::optional<int64_t> min;  // ints; durations in milliseconds
  std::optional<int64_t> max;
  bool required = false;
  std::vector<std::string> aliases;  // upstream YAML spellings (full dotted paths)
  bool split_commas = true;          // lists: split flag values at commas (ParamSpec)
  // Text shown as the default instead of the field's initial value (rare:
  // e.g. a default computed at run time). Empty = render the field.
  std::string default_text;
};

namespace param_detail {

template <class T>
struct IsDuration : std::false_type {};
template <class R, class P>
struct IsDuration<std::chrono::duration<R, P>> : std::true_type {};

template <class T>
struct IsOptional : std::false_type {};
template <class T>
struct IsOptional<std::optional<T>> : std::true_type {};

// Type mapping for a field type T (without optional<>).
template <class T>
constexpr ParamType TypeOf() {
  if constexpr (std::is_same_v<T, bool>) {
    return ParamType::kBool;
  } else if constexpr (std::is_integral_v<T>) {
    return ParamType::kInt;
  } else if constexpr (IsDuration<T>::value) {
    return ParamType::kDuration;
  } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
    return ParamType::kStringList;
  } else if constexpr (std::is_same_v<T, config::RouteMap>) {
    return ParamType::kRouteMap;
  } else {
    static_assert(std::is_same_v<T, std::string>, "unsupported parameter field type");
    return ParamType::kString;
  }
}

template <class T>
std::string Render(const T& v) {
  if constexpr (std::is_same_v<T, bool>) {
    return v ? "true" : "false";
  } else if constexpr (std::is_integral_v<T>) {
    return std::to_string(v);
  } else if constexpr (IsDuration<T>::value) {
    return config::FormatDuration(std::chrono::duration_cast<std::chrono::nanoseconds>(v));
  } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
    std::string out;
    for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
    return out;
  } else if constexpr (std::is_same_v<T, config::RouteMap>) {
    return config::ValueToText(config::Value(v));
  } else {
    return v;
  }
}

// Writes `value` into `field`; a value of another alternative (or unset)
// resets the field to its zero value, as an empty setting means.
template <class T>
void Assign(T& field, const config::Value& value) {
  if constexpr (std::is_same_v<T, bool>) {
    const bool* b = std::get_if<bool>(&value);
    field = b != nullptr && *b;
  } else if constexpr (std::is_integral_v<T>) {
    const int64_t* i = std::get_if<int64_t>(&value);
    field = i != nullptr ? static_cast<T>(*i) : T{};
  } else if constexpr (IsDuration<T>::value) {
    const auto* d = std::get_if<std::chrono::nanoseconds>(&value);
    field = d != nullptr ? std::chrono::duration_cast<T>(*d) : T{};
  } else {
    const T* v = std::get_if<T>(&value);
    field = v != nullptr ? *v : T{};
  }
}

}  // namespace param_detail

// Declares parameter `key` bound to the field `proj` selects in Cfg: a
// callable Cfg& -> T& for nested fields
// (ParamAt<Options>("x.base", [](auto& o) -> auto& { return o.retry.base; }, ...)).
template <class Cfg, class Proj>
ParamSpec ParamAt(std::string key, Proj proj, std::string description, ParamOptions opts = {}) {
  using Field = std::remove_cvref_t<std::invoke_result_t<Proj, Cfg&>>;
  ParamSpec spec;
  spec.key = std::move(key);
  spec.description = std::move(description);
  spec.flag = std::move(opts.flag);
  spec.short_flag = std::move(opts.short_flag);
  spec.choices = std::move(opts.choices);
  spec.min = opts.min;
  spec.max = opts.max;
  spec.required = opts.required;
  spec.aliases = std::move(opts.aliases);
  spec.split_commas = opts.split_commas;
  spec.bind_type = &typeid(Cfg);
  Cfg defaults{};
  if constexpr (param_detail::IsOptional<Field>::value) {
    using Inner = typename Field::value_type;
    spec.type = param_detail::TypeOf<Inner>();
    const Field& d = std::invoke(proj, defaults);
    if (d) spec.default_value = param_detail::Render(*d);
    spec.bind = [proj](void* target, const config::Value& value) {
      Field& field = std::invoke(proj, *static_cast<Cfg*>(target));
      if (std::holds_alternative<std::monostate>(value)) {
        field.reset();
      } else {
        param_detail::Assign(field.emplace(), value);
      }
    };
  } else {
    spec.type = param_detail::TypeOf<Field>();
    spec.default_value = param_detail::Render(std::invoke(proj, defaults));
    spec.bind = [proj](void* target, const config::Value& value) {
      param_detail::Assign(std::invoke(proj, *static_cast<Cfg*>(target)), value);
    };
  }
  if (!opts.default_text.empty()) spec.default_value = std::move(opts.default_text);
  // A bool's "false" and an int's "0" are real defaults; an empty string or
  // list means "no default" (shown as "-").
  return spec;
}

// The common case: a data member (Param("file.path", &Options::path, ...)).
template <class Cfg, class T>
ParamSpec Param(std::string key, T Cfg::*member, std::string description, ParamOptions opts = {}) {
  return ParamAt<Cfg>(std::move(key), member, std::move(description), std::move(opts));
}

// The projection to `field` of the struct that `outer` selects (a member
// pointer or a callable Cfg& -> Inner&): Nested(&Options::builder,
// &BuilderOptions::tx_metadata) selects o.builder.tx_metadata.
template <class Outer, class Inner, class T>
auto Nested(Outer outer, T Inner::*field) {
  return [ outer, field ](auto& c) -> auto& { return std::invoke(outer, c).*field; };
}

// A field of a nested struct (Param("detector.tx_metadata", &Options::builder,
// &BuilderOptions::tx_metadata, ...) binds o.builder.tx_metadata).
template <class Cfg, class Inner, class T>
ParamSpec Param(std::string key, Inner Cfg::*outer, T Inner::*field, std::string description,
                ParamOptions opts = {}) {
  return ParamAt<Cfg>(std::move(key), Nested(outer, field), std::move(description),
                      std::move(opts));
}

// A free-form YAML subtree its owner reads from the file itself (e.g.
// transforms.global): known to the strict key check, no flag, no env var.
inline ParamSpec TreeParam(std::string key, std::string description) {
  ParamSpec spec;
  spec.key = std::move(key);
  spec.type = ParamType::kTree;
  spec.description = std::move(description);
  return spec;
}

// A free-form YAML subtree its owner parses itself, handed over as YAML
// text in a string field (e.g. a map of objects): YAML only, no flag.
template <class Cfg>
ParamSpec TreeParamAt(std::string key, std::string Cfg::*field, std::string description) {
  ParamSpec spec = TreeParam(std::move(key), std::move(description));
  spec.bind_type = &typeid(Cfg);
  spec.bind = [field](void* target, const config::Value& value) {
    if (const auto* text = std::get_if<std::string>(&value))
      static_cast<Cfg*>(target)->*field = *text;
  };
  return spec;
}

// The pair <section>.backoff_base / <section>.backoff_cap every retrying
// connector has, bound to a policy with `base` and `cap` fields (defaults
// from the policy's initializers). `flag_prefix` "exec" gives
// --exec-backoff-base; empty derives flags from the keys.
template <class Cfg, class Proj>
std::vector<ParamSpec> BackoffParams(const std::string& section, const std::string& flag_prefix,
                                     Proj policy, const std::string& what) {
  auto flag = [&](const char* leaf) {
    return flag_prefix.empty() ? std::string() : flag_prefix + "-backoff-" + leaf;
  };
  return {
      ParamAt<Cfg>(section + ".backoff_base",
                   [policy](auto& c) -> auto& { return std::invoke(policy, c).base; },
                   "first " + what + " delay (full jitter, doubling per attempt up to the cap)",
                   {.flag = flag("base"), .min = 1}),
      ParamAt<Cfg>(section + ".backoff_cap",
                   [policy](auto& c) -> auto& { return std::invoke(policy, c).cap; },
                   "longest " + what + " delay", {.flag = flag("cap"), .min = 1}),
  };
}

// <section>.backoff_base / <section>.backoff_cap of a detector that
// reconnects through the Supervisor, bound to Cfg::backoff (flags derived
// from the keys).
template <class Cfg>
std::vector<ParamSpec> ReconnectParams(const std::string& section) {
  return {
      Param(section + ".backoff_base", &Cfg::backoff, &RetryPolicy::base,
            "reconnect backoff base (full jitter, doubles per attempt)", {.min = 1}),
      Param(section + ".backoff_cap", &Cfg::backoff, &RetryPolicy::cap, "reconnect backoff cap",
            {.min = 1}),
  };
}

// The check that goes with BackoffParams.
template <class Policy>
void ValidateBackoff(const std::string& section, const Policy& policy,
                     std::vector<std::string>& errors) {
  if (policy.cap < policy.base) {
    errors.push_back(section + ".backoff_cap: must be >= " + section + ".backoff_base");
  }
}

// The flags of a group of parameters that are named after their keys: each
// one without an explicit flag (and not a tree) whose key starts with
// `strip` gets --<add><rest of the key, '.' and '_' as '-'>. E.g. strip
// "backpressure.", add "bp-": backpressure.warn_threshold -> --bp-warn-threshold.
inline std::vector<ParamSpec> FlagsFromKeys(std::string_view strip, std::string_view add,
                                            std::vector<ParamSpec> group) {
  for (auto& p : group) {
    if (!p.flag.empty() || p.type == ParamType::kTree || !p.key.starts_with(strip)) continue;
    p.flag = std::string(add) + p.key.substr(strip.size());
    std::replace(p.flag.begin(), p.flag.end(), '.', '-');
    std::replace(p.flag.begin(), p.flag.end(), '_', '-');
  }
  return group;
}

// Concatenates parameter lists (a connector's own plus shared groups).
inline std::vector<ParamSpec> Params(std::initializer_list<std::vector<ParamSpec>> groups) {
  std::vector<ParamSpec> out;
  for (const auto& g : groups) out.insert(out.end(), g.begin(), g.end());
  return out;
}

// An enum field set by name: `names` maps each choice to its value (the
// choices shown by describe and checked by the loader, in this order). `proj`
// selects the field in Cfg (a member pointer or a callable Cfg& -> E&).
template <class Cfg, class Proj, class E = std::remove_cvref_t<std::invoke_result_t<Proj, Cfg&>>>
ParamSpec ParamEnumAt(std::string key, Proj proj, std::vector<std::pair<std::string, E>> names,
                      std::string description, ParamOptions opts = {}) {
  static_assert(std::is_enum_v<E>);
  ParamSpec spec;
  spec.key = std::move(key);
  spec.type = ParamType::kString;
  spec.description = std::move(description);
  spec.flag = std::move(opts.flag);
  spec.short_flag = std::move(opts.short_flag);
  spec.required = opts.required;
  spec.aliases = std::move(opts.aliases);
  spec.split_commas = opts.split_commas;
  spec.bind_type = &typeid(Cfg);
  Cfg defaults{};
  for (const auto& [name, value] : names) {
    spec.choices.push_back(name);
    if (value == std::invoke(proj, defaults)) spec.default_value = name;
  }
  spec.bind = [proj, names = std::move(names)](void* target, const config::Value& value) {
    const auto* text = std::get_if<std::string>(&value);
    for (const auto& [name, e] : names) {
      if (text != nullptr && *text == name) std::invoke(proj, *static_cast<Cfg*>(target)) = e;
    }
  };
  return spec;
}

template <class Cfg, class E>
ParamSpec ParamEnum(std::string key, E Cfg::*member, std::vector<std::pair<std::string, E>> names,
                    std::string description, ParamOptions opts = {}) {
  return ParamEnumAt<Cfg>(std::move(key), member, std::move(names), std::move(description),
                          std::move(opts));
}

// Fills a Cfg from loaded values: every parameter bound to Cfg is written.
template <class Cfg>
Cfg BindConfig(const std::vector<ParamSpec>& params, const config::Config& values) {
  Cfg cfg{};
  for (const auto& p : params) {
    if (!p.bind || p.bind_type == nullptr || *p.bind_type != typeid(Cfg)) continue;
    auto it = values.values().find(p.key);
    if (it != values.values().end()) p.bind(&cfg, it->second);
  }
  return cfg;
}

using Errors = std::vector<std::string>;

// A connector's declaration: what it makes (Made: a DetectorPtr or an
// AdapterPtr) from its filled struct Cfg.
template <class Cfg, class Made>
struct ConnectorDef {
  std::string name;
  std::string description;
  std::vector<ParamSpec> params;
  // Cross-field checks beyond what ParamSpec expresses; appends messages.
  std::function<void(const Cfg&, const Context&, Errors&)> validate;
  std::function<Result<Made>(Cfg, const Context&)> make;
  // Optional: `pgcdc init --detector <name>` (ConnectorInfo::setup).
  std::function<Result<std::string>(const Cfg&, const SetupRequest&)> setup;
  // Optional: `pgcdc doctor` (ConnectorInfo::check).
  std::function<CheckList(const Cfg&, const Context&)> check;
  // Adapters that wrap another adapter (ConnectorInfo::wrap_adapter): the
  // key naming the inner adapter and the wrapping factory (instead of make).
  std::string inner_key;
  std::function<Result<Made>(Cfg, const Context&, Made inner)> wrap;
};

template <class Cfg>
using DetectorDef = ConnectorDef<Cfg, detector::DetectorPtr>;
template <class Cfg>
using AdapterDef = ConnectorDef<Cfg, adapter::AdapterPtr>;

namespace param_detail {
// The registry entry for `def`; its factory goes into info.*`make_slot`.
template <class Cfg, class Made, class MakeSlot>
ConnectorInfo Define(ConnectorKind kind, ConnectorDef<Cfg, Made> def, MakeSlot make_slot) {
  ConnectorInfo info;
  info.kind = kind;
  info.name = std::move(def.name);
  info.description = std::move(def.description);
  info.params = std::move(def.params);
  if (def.validate) {
    info.validate = [params = info.params, fn = std::move(def.validate)](
                        const config::Config& values, const config::CoreSettings& core,
                        Errors& errors) {
      fn(BindConfig<Cfg>(params, values), Context{core}, errors);
    };
  }
  if (def.setup) {
    info.setup = [params = info.params, fn = std::move(def.setup)](const config::Config& values,
                                                                   const SetupRequest& request) {
      return fn(BindConfig<Cfg>(params, values), request);
    };
  }
  if (def.check) {
    info.check = [params = info.params, fn = std::move(def.check)](
                     const config::Config& values, const config::CoreSettings& core) {
      return fn(BindConfig<Cfg>(params, values), Context{core});
    };
  }
  if (def.make) {
    info.*make_slot = [params = info.params, fn = std::move(def.make)](
                          const config::Config& values, const config::CoreSettings& core) {
      return fn(BindConfig<Cfg>(params, values), Context{core});
    };
  }
  if constexpr (std::is_same_v<Made, adapter::AdapterPtr>) {
    if (def.wrap) {
      info.inner_adapter_key = std::move(def.inner_key);
      info.wrap_adapter = [params = info.params, fn = std::move(def.wrap)](
                              const config::Config& values, const config::CoreSettings& core,
                              adapter::AdapterPtr inner) {
        return fn(BindConfig<Cfg>(params, values), Context{core}, std::move(inner));
      };
    }
  }
  return info;
}
}  // namespace param_detail

template <class Cfg>
ConnectorInfo DefineDetector(DetectorDef<Cfg> def) {
  return param_detail::Define(ConnectorKind::kDetector, std::move(def),
                              &ConnectorInfo::make_detector);
}

template <class Cfg>
ConnectorInfo DefineAdapter(AdapterDef<Cfg> def) {
  return param_detail::Define(ConnectorKind::kAdapter, std::move(def),
                              &ConnectorInfo::make_adapter);
}

// The `make` of an adapter A built from its Cfg alone whose retries follow
// Cfg::backoff (BackoffParams): a configured base below the floor lowers the
// floor (RetryPolicy::ClampFloorToBase), then A(cfg).
template <class A, class Cfg>
Result<adapter::AdapterPtr> MakeRetryingAdapter(Cfg cfg, const Context& /*context*/) {
  cfg.backoff.ClampFloorToBase();
  return std::make_unique<A>(std::move(cfg));
}

// `pgcdc doctor` for an adapter whose Open() is a pre-flight without side
// effects (connect, look the target up): one finding named `what`.
template <class A, class Cfg>
CheckList OpenCheck(Cfg cfg, std::string what, std::string ok_detail) {
  A adapter(std::move(cfg));
  const Status st = adapter.Open();
  adapter.Close();
  if (!st) return FailedCheck(std::move(what), st.error().message());
  return {{.name = std::move(what), .detail = std::move(ok_detail)}};
}

}  // namespace pgcdc

// The registration entry the generated registry (src/connectors.cmake ->
// builtin_connectors.cc) calls for the connector in src/<kind>/<folder>/.
// Write it once, at global scope, in the connector's .cc:
//   PGCDC_REGISTER_CONNECTOR(adapter, sse, pgcdc::adapter::sse::Connector)
// Token pasting keeps folder names such as `stdout` (a macro) intact.
#define PGCDC_REGISTER_CONNECTOR(kind, folder, function) \
  ::pgcdc::ConnectorInfo pgcdc_connector_##kind##_##folder() { return function(); }
