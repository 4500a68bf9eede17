// Parameters of the pipeline itself (not of a connector): logging, adapters,
// detector selection, bus, HTTP, shutdown, routes.
#pragma once

#include <string>
#include <vector>

#include "registry/param_spec.h"

namespace pgcdc::config {

const std::vector<ParamSpec>& CoreParams();

// Top-level YAML sections of features that exist in the reference tool but
// are not implemented here yet (accepted with a warning).
const std::vector<std::string>& ReservedSections();

}  // namespace pgcdc::config
