// exec adapter. NOT IMPLEMENTED YET: placeholder registration only.
#pragma once

#include "registry/registry.h"

namespace pgcdc::execsink {

ConnectorInfo Connector();

}  // namespace pgcdc::execsink
