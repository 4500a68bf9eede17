// The connectors compiled into this binary, in src/connectors.cmake order.
// Defined by the generated builtin_connectors.cc (src/cli/CMakeLists.txt).
#pragma once

#include <string>
#include <vector>

#include "registry/registry.h"

namespace pgcdc {

std::vector<ConnectorInfo> BuiltinConnectors();
// "<kind>/<folder>" of each, for the consistency check.
std::vector<std::string> BuiltinConnectorFolders();
// "<kind>/<folder>" of the connectors src/connectors.cmake lists but this
// build left out (PGCDC_WITH_<FOLDER>=OFF), so a request for one can say so.
std::vector<std::string> OmittedConnectorFolders();

}  // namespace pgcdc
