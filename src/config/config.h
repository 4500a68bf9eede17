// Layered configuration: CLI flags > PGCDC_* environment > YAML file >
// defaults, resolved per parameter from its ParamSpec.
//
// Loading never throws and never stops at the first problem: every error is
// collected so the user sees them all at once (exit code 2). A loaded Config
// is immutable and safe to read from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "config/value.h"
#include "core/error.h"
#include "registry/param_spec.h"

namespace pgcdc::config {

enum class Origin { kUnset, kDefault, kYaml, kEnv, kFlag };
std::string_view OriginName(Origin origin);

// Parses Go-style durations ("300ms", "1.5s", "1h30m", "0"). Negative values
// are rejected.
Result<std::chrono::nanoseconds> ParseDuration(std::string_view text);
// Renders a duration in the shortest Go-like form ("5s", "1m30s", "250ms").
std::string FormatDuration(std::chrono::nanoseconds d);
Result<bool> ParseBool(std::string_view text);
// Parses one textual value (flag, env or default) for a spec. Lists split on
// commas; route maps take "adapter=ch1,ch2".
Result<Value> ParseText(const ParamSpec& spec, std::string_view text);

class Config {
 public:
  void Set(const std::string& key, Value value, Origin origin, std::string origin_detail = {});

  bool Has(std::string_view key) const;  // a non-empty value is set
  Origin origin(std::string_view key) const;
  // Where the value came from, for messages: "flag --bus-buffer", "env PGCDC_…", "pgcdc.yaml".
  std::string OriginDetail(std::string_view key) const;

  // Typed getters return the zero value when unset or of another type.
  std::string GetString(std::string_view key) const;
  int64_t GetInt(std::string_view key) const;
  bool GetBool(std::string_view key) const;
  std::chrono::nanoseconds GetDuration(std::string_view key) const;
  std::vector<std::string> GetList(std::string_view key) const;
  RouteMap GetRoutes(std::string_view key) const;

  const std::map<std::string, Value, std::less<>>& values() const { return values_; }

 private:
  struct Entry {
    Origin origin = Origin::kUnset;
    std::string detail;
  };
  const Value* Find(std::string_view key) const;
  std::map<std::string, Value, std::less<>> values_;
  std::map<std::string, Entry, std::less<>> origins_;
};

// Inputs for Load().
struct Sources {
  std::string yaml_path;       // file to read; empty = none
  bool yaml_required = false;  // an explicit --config must exist
  // The document itself instead of reading yaml_path (which then only names
  // it in messages): configurations that do not come from a file.
  std::optional<std::string> yaml_text;
  // Raw values of flags that were given on the command line, by key.
  std::map<std::string, std::vector<std::string>> flags;
  // Environment lookup (defaults to getenv).
  std::function<std::optional<std::string>(const std::string&)> getenv;
  // Every parameter of the build (all connectors), for unknown-key checks;
  // empty = the specs passed to Load().
  std::vector<ParamSpec> schema;
  // The reference tool's keys (config/upstream_keys.h): accepted with a
  // warning when nothing in this build declares them.
  std::vector<std::string> upstream_keys;
  // A connector name that is not its YAML section ("wal" -> "detector",
  // "ws" -> "websocket"): the hint for a top-level key of that name.
  std::map<std::string, std::string> section_hints;
};

struct LoadResult {
  Config config;
  std::vector<std::string> errors;
  std::vector<std::string> warnings;
};

// Resolves every spec in `specs` (keys must be unique) from the sources, then
// applies per-spec checks (required, choices, min/max).
LoadResult Load(const std::vector<ParamSpec>& specs, const Sources& sources);

// "a, b,,c" -> {"a", "b", "c"}: items trimmed, empty ones dropped (how list
// values are read from flags and the environment).
std::vector<std::string> SplitCommas(std::string_view s);

// The candidate closest to `name` by edit distance, if close enough to be a
// likely typo (at most max(2, len/3) edits); "" otherwise.
std::string DidYouMean(std::string_view name, const std::vector<std::string>& candidates);

// Renders a value back to text (for describe, config init, diffs).
std::string ValueToText(const Value& value);

}  // namespace pgcdc::config
