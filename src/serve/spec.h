// `pgcdc serve`'s configuration: the serve file (API listener, state file,
// pipelines) and the pipeline entries, kept as JSON objects so that the same
// entry can come from the YAML file, a REST body or the state file.
//
// A pipeline entry is a `listen` configuration plus a name: every key that
// works in a `listen` YAML file works in an entry, and unknown keys are
// errors there too (config::Load does the checking). SPEC §8.5's shape is
// accepted as well and translated: `detector: {type, config}` and
// `adapters: [{type, config}]` merge their `config` maps into the entry's
// top level, a `transforms:` list is the global chain.
#pragma once

#include <boost/json/value.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace pgcdc::serve {

struct PipelineSpec {
  std::string name;
  // The entry as given (name included), returned by the API as "config".
  boost::json::object raw;
};

// Names are what URLs, metrics labels and file names can carry:
// [A-Za-z0-9_.-], 1 to 64 characters, not starting with '.'.
bool ValidPipelineName(std::string_view name);

// A pipeline entry from a JSON (or converted YAML) value: an object with a
// valid `name`. `where` prefixes the error ("pipelines[2]").
Result<PipelineSpec> ParseSpec(const boost::json::value& value, std::string_view where);

// The entry as a `listen` YAML document (JSON is YAML): name and the serve-only
// keys removed, SPEC's detector/adapters/transforms shape translated.
// Problems with the shape (a `config` that is not a map, a key set twice)
// go to errors; notes (an adapter `name` that differs from its type) to warnings.
std::string ListenDocument(const PipelineSpec& spec, std::vector<std::string>& errors,
                           std::vector<std::string>& warnings);

// Whether the entry asks to be started with the server (`enabled`, default true).
bool EnabledAtBoot(const PipelineSpec& spec);

// YAML text -> JSON: maps, sequences, and plain scalars typed as YAML 1.2's
// core schema reads them (null, true/false, integers, floats; anything else
// and every quoted scalar is a string). kParse with line:column on failure.
Result<boost::json::value> YamlToJson(const std::string& text, std::string_view label);

struct ServeFile {
  std::string addr = "127.0.0.1:8080";
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string api_token;
  std::string api_token_file;
  std::string state_file = "pgcdc-serve-state.json";
  std::string log_level;
  std::string log_format;
  std::vector<PipelineSpec> pipelines;
  // The `otel:` map (process-wide tracing for every pipeline) as JSON, or
  // empty; its keys are the otel.* keys of `listen` (docs/tracing.md).
  std::string otel_json;
  // Which scalar keys the file set (flags only override the ones it did not
  // set when they were left at their defaults).
  std::vector<std::string> set_keys;
};

// Parses the serve file. Unknown top-level keys, duplicate or invalid
// pipeline names are errors (with a "did you mean" for near misses).
Result<ServeFile> ParseServeFile(const std::string& text, std::string_view label);

}  // namespace pgcdc::serve
