// Kafka protocol error codes (wire values and Kafka's names), shared by the
// message codec and the broker's storage and group logic.
#pragma once

#include <cstdint>
#include <string_view>

namespace pgcdc::codec::kafka {

// Kafka protocol error codes (org.apache.kafka.common.protocol.Errors).
// NOTE: inside namespace pgcdc::codec::kafka this name hides pgcdc::ErrorCode
// (Status/Result codes); code in this namespace spells that one
// pgcdc::ErrorCode.
enum class ErrorCode : int16_t {
  kUnknownServerError = -1,
  kNone = 0,
  kOffsetOutOfRange = 1,
  kCorruptMessage = 2,
  kUnknownTopicOrPartition = 3,
  kInvalidFetchSize = 4,
  kLeaderNotAvailable = 5,
  kNotLeaderOrFollower = 6,
  kRequestTimedOut = 7,
  kMessageTooLarge = 10,
  kOffsetMetadataTooLarge = 12,
  kCoordinatorLoadInProgress = 14,
  kCoordinatorNotAvailable = 15,
  kNotCoordinator = 16,
  kInvalidTopic = 17,
  kRecordListTooLarge = 18,
  kInvalidRequiredAcks = 21,
  kIllegalGeneration = 22,
  kInconsistentGroupProtocol = 23,
  kInvalidGroupId = 24,
  kUnknownMemberId = 25,
  kInvalidSessionTimeout = 26,
  kRebalanceInProgress = 27,
  kInvalidCommitOffsetSize = 28,
  kTopicAuthorizationFailed = 29,
  kGroupAuthorizationFailed = 30,
  kClusterAuthorizationFailed = 31,
  kInvalidTimestamp = 32,
  kUnsupportedSaslMechanism = 33,
  kIllegalSaslState = 34,
  kUnsupportedVersion = 35,
  kInvalidPartitions = 37,
  kInvalidRequest = 42,
  kUnsupportedForMessageFormat = 43,
  kPolicyViolation = 44,
  kTransactionalIdAuthorizationFailed = 53,
  kKafkaStorageError = 56,
  kSaslAuthenticationFailed = 58,
  kNonEmptyGroup = 68,
  kGroupIdNotFound = 69,
  kFetchSessionIdNotFound = 70,
  kInvalidFetchSessionEpoch = 71,
  kFencedLeaderEpoch = 74,
  kUnknownLeaderEpoch = 75,
  kUnsupportedCompressionType = 76,
  kOffsetNotAvailable = 78,
  kMemberIdRequired = 79,
  kGroupMaxSizeReached = 81,
  kFencedInstanceId = 82,
  kInvalidRecord = 87,
  kUnknownTopicId = 100,
  kInconsistentTopicId = 103,
};
// Convenience aliases with the names used in KAFKA.md.
inline constexpr ErrorCode kNotLeader = ErrorCode::kNotLeaderOrFollower;

// "NONE", "OFFSET_OUT_OF_RANGE", ... (Kafka's names); "UNKNOWN" otherwise.
std::string_view ErrorName(int16_t code);
inline int16_t Code(ErrorCode e) { return static_cast<int16_t>(e); }

}  // namespace pgcdc::codec::kafka
