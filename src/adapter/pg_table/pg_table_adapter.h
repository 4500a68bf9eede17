// pg_table adapter. NOT IMPLEMENTED YET: placeholder registration only.
#pragma once

#include "registry/registry.h"

namespace pgcdc::pgtablesink {

ConnectorInfo Connector();

}  // namespace pgcdc::pgtablesink
