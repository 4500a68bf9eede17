// ParamSpec: the single description of a configuration parameter. It drives
// CLI flags, PGCDC_* environment variables, YAML keys, `pgcdc describe`,
// `pgcdc config init` and validation, so they can never disagree.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <typeinfo>
#include <vector>

#include "config/value.h"

namespace pgcdc {

enum class ParamType {
  kString,
  kInt,
  kBool,
  kDuration,    // Go syntax: 500ms, 5s, 1m30s, 2h
  kStringList,  // repeatable flag / comma list / YAML sequence
  kRouteMap,    // adapter=ch1,ch2 (flag) / {adapter: [ch1, ch2]} (YAML)
  kTree,        // free-form YAML subtree read by its owner (no flag, no env)
};

std::string_view ParamTypeName(ParamType type);

struct ParamSpec {
  std::string key;  // YAML path, dotted: "bus.buffer_size"
  ParamType type = ParamType::kString;
  std::string default_value;  // textual default; empty = none
  std::string description;
  bool required = false;
  std::string flag;                  // long flag without dashes; empty = derived from key
  std::string short_flag;            // one letter, optional
  std::vector<std::string> choices;  // allowed values (strings)
  std::optional<int64_t> min;        // ints; durations in milliseconds
  std::optional<int64_t> max;
  // Other YAML keys accepted for this one (upstream spellings SPEC lists);
  // full dotted paths. Using one gives a deprecation warning.
  std::vector<std::string> aliases;
  // Lists: a flag value or env var is split at commas. false = each flag
  // value (env var) is one item, for values that contain commas (SQL).
  bool split_commas = true;
  // Writes the resolved value into a connector's typed config struct. Set by
  // Param<Cfg>() (registry/define.h); `bind_type` is typeid(Cfg), checked
  // before the void* is used.
  std::function<void(void* target, const config::Value& value)> bind;
  const std::type_info* bind_type = nullptr;
};

// "--" + flag, derived from the key when not set: "bus.buffer_size" -> "bus-buffer-size".
std::string FlagName(const ParamSpec& spec);
// "PGCDC_" + key upper-cased with '.' and '-' -> '_': "PGCDC_BUS_BUFFER_SIZE".
std::string EnvName(const ParamSpec& spec);

}  // namespace pgcdc
