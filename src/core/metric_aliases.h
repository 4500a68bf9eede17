// The reference tool's metric names that pgcdc exports as aliases of its own
// families (core/metric_aliases.cc).
#pragma once

#include <string_view>
#include <utility>
#include <vector>

#include "core/metrics.h"

namespace pgcdc::metrics {

// (reference name, pgcdc's family) pairs.
const std::vector<std::pair<std::string_view, std::string_view>>& ReferenceAliases();

// Registers every pair as an alias in `registry` (Default() does this).
void AddReferenceAliases(Registry& registry);

}  // namespace pgcdc::metrics
