#include "codec/kafka/frame.h"
