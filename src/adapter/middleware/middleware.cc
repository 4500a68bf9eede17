#include "adapter/middleware/middleware.h"
