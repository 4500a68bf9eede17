#include "codec/kafka/messages.h"
