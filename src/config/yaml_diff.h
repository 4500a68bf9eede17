// `pgcdc config diff OLD NEW`: both YAML documents flattened into dotted
// paths, then compared path by path.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace pgcdc::config {

// path → value text. Mappings nest with ".", a sequence of scalars is one
// comma-joined value, other sequences index with "[i]"; an empty mapping or
// sequence is kept as "{}" / "[]" so that adding one shows.
using FlatYaml = std::map<std::string, std::string>;

Result<FlatYaml> FlattenYaml(std::string_view text);
Result<FlatYaml> FlattenYamlFile(const std::string& path);

// "+ path: value", "- path: value" and "  path: old -> new" lines in path
// order; empty when the documents agree.
std::vector<std::string> DiffYaml(const FlatYaml& before, const FlatYaml& after);

}  // namespace pgcdc::config
