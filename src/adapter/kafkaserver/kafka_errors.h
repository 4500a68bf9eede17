// Kafka protocol error codes used by the broker's storage and group logic:
// the codec's enum (wire values, Kafka's names) under the broker's names. The
// pure broker logic takes only this small header from the codec, not the
// message codec itself.
#pragma once

#include <cstdint>
#include <string_view>

#include "codec/kafka/errors.h"

namespace pgcdc::adapter::kafkaserver {

using KafkaError = codec::kafka::ErrorCode;

inline int16_t ToWire(KafkaError e) { return codec::kafka::Code(e); }

// Upper-case Kafka name ("REBALANCE_IN_PROGRESS"), for logs and test output.
inline std::string_view KafkaErrorName(KafkaError e) { return codec::kafka::ErrorName(ToWire(e)); }

}  // namespace pgcdc::adapter::kafkaserver
