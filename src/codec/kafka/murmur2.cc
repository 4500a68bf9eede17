#include "codec/kafka/murmur2.h"
