// libFuzzer target for the configuration loader: a YAML document (the
// --config file) resolved against the core parameters plus one parameter of
// each type (string, int with bounds, bool, duration, list, choice, tree),
// with the unknown-key walk, upstream keys and suggestions.
//
// Input: the YAML text (Sources::yaml_text).
// Invariants checked (abort on violation):
//  * Load() returns (no crash, no hang on deep or aliased documents);
//  * every error message is non-empty;
//  * a document that loads without errors loads again to the same values.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "config/config.h"
#include "config/core_params.h"
#include "config/upstream_keys.h"

namespace {

using pgcdc::ParamSpec;
using pgcdc::ParamType;
namespace config = pgcdc::config;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "config_yaml_fuzz: invariant violated: %s\n", what);
    std::abort();
  }
}

ParamSpec Spec(std::string key, ParamType type, std::string def = {}) {
  ParamSpec p;
  p.key = std::move(key);
  p.type = type;
  p.default_value = std::move(def);
  return p;
}

const std::vector<ParamSpec>& Specs() {
  static const std::vector<ParamSpec> specs = [] {
    std::vector<ParamSpec> s = config::CoreParams();
    s.push_back(Spec("fz.text", ParamType::kString, "x"));
    ParamSpec n = Spec("fz.count", ParamType::kInt, "3");
    n.min = 1;
    n.max = 100;
    s.push_back(n);
    s.push_back(Spec("fz.flag", ParamType::kBool, "false"));
    s.push_back(Spec("fz.wait", ParamType::kDuration, "5s"));
    s.push_back(Spec("fz.list", ParamType::kStringList));
    ParamSpec c = Spec("fz.mode", ParamType::kString, "a");
    c.choices = {"a", "b"};
    s.push_back(c);
    s.push_back(Spec("fz.tree", ParamType::kTree));
    return s;
  }();
  return specs;
}

config::LoadResult LoadOnce(std::string text) {
  config::Sources sources;
  sources.yaml_path = "fuzz.yaml";
  sources.yaml_text = std::move(text);
  sources.yaml_required = true;
  sources.getenv = [](const std::string&) { return std::optional<std::string>(); };
  sources.upstream_keys = config::UpstreamKeys();
  sources.section_hints = {{"wal", "detector"}};
  return config::Load(Specs(), sources);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto first = LoadOnce(text);
  for (const auto& e : first.errors) Check(!e.empty(), "error messages are not empty");
  if (!first.errors.empty()) return 0;
  auto second = LoadOnce(text);
  Check(second.errors.empty(), "a valid document stays valid");
  for (const auto& spec : Specs()) {
    if (spec.type == ParamType::kTree) continue;
    Check(first.config.Has(spec.key) == second.config.Has(spec.key), "same keys on reload");
  }
  return 0;
}
