// Kafka protocol error codes used by the broker's storage and group logic.
//
// The numeric values are the wire values (Kafka's Errors enum); the server
// converts with static_cast<int16_t>. Kept here, not in the codec, so the
// pure broker logic does not depend on the wire codec.
#pragma once

#include <cstdint>
#include <string_view>

namespace pgcdc::kafkaserver {

enum class KafkaError : int16_t {
  kUnknownServerError = -1,
  kNone = 0,
  kOffsetOutOfRange = 1,
  kCorruptMessage = 2,
  kUnknownTopicOrPartition = 3,
  kMessageTooLarge = 10,
  kOffsetMetadataTooLarge = 12,
  kCoordinatorNotAvailable = 15,
  kNotCoordinator = 16,
  kInvalidTopic = 17,
  kIllegalGeneration = 22,
  kInconsistentGroupProtocol = 23,
  kInvalidGroupId = 24,
  kUnknownMemberId = 25,
  kInvalidSessionTimeout = 26,
  kRebalanceInProgress = 27,
  kKafkaStorageError = 56,
  kGroupIdNotFound = 69,
  kMemberIdRequired = 79,
  kGroupMaxSizeReached = 81,
  kFencedInstanceId = 82,
};

inline int16_t ToWire(KafkaError e) { return static_cast<int16_t>(e); }

// Upper-case Kafka name ("REBALANCE_IN_PROGRESS"), for logs and test output.
std::string_view KafkaErrorName(KafkaError e);

}  // namespace pgcdc::kafkaserver
