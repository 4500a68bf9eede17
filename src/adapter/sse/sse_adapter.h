// sse adapter. NOT IMPLEMENTED YET: placeholder registration only.
#pragma once

#include "registry/registry.h"

namespace pgcdc::ssesink {

ConnectorInfo Connector();

}  // namespace pgcdc::ssesink
