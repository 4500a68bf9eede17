// ws adapter. NOT IMPLEMENTED YET: placeholder registration only.
#pragma once

#include "registry/registry.h"

namespace pgcdc::wssink {

ConnectorInfo Connector();

}  // namespace pgcdc::wssink
