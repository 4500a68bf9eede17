// The YAML keys the reference tool accepts (SPEC §8.4), for strict
// validation of sections this build does not (fully) implement.
#pragma once

#include <string>
#include <vector>

namespace pgcdc::config {

// Dotted paths; "x.*" marks a free-form subtree.
const std::vector<std::string>& UpstreamKeys();

}  // namespace pgcdc::config
