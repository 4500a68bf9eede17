#include "codec/kafka/record_batch.h"
