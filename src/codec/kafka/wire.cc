#include "codec/kafka/wire.h"
