// webhook adapter. NOT IMPLEMENTED YET: placeholder registration only.
#pragma once

#include "registry/registry.h"

namespace pgcdc::webhooksink {

ConnectorInfo Connector();

}  // namespace pgcdc::webhooksink
