#include "codec/kafka/errors.h"

#include <utility>

namespace pgcdc::codec::kafka {

namespace {

// Kafka's names of the error codes pgcdc knows (ErrorCode), as its clients
// print them.
constexpr std::pair<ErrorCode, std::string_view> kErrorNames[] = {
    {ErrorCode::kUnknownServerError, "UNKNOWN_SERVER_ERROR"},
    {ErrorCode::kNone, "NONE"},
    {ErrorCode::kOffsetOutOfRange, "OFFSET_OUT_OF_RANGE"},
    {ErrorCode::kCorruptMessage, "CORRUPT_MESSAGE"},
    {ErrorCode::kUnknownTopicOrPartition, "UNKNOWN_TOPIC_OR_PARTITION"},
    {ErrorCode::kInvalidFetchSize, "INVALID_FETCH_SIZE"},
    {ErrorCode::kLeaderNotAvailable, "LEADER_NOT_AVAILABLE"},
    {ErrorCode::kNotLeaderOrFollower, "NOT_LEADER_OR_FOLLOWER"},
    {ErrorCode::kRequestTimedOut, "REQUEST_TIMED_OUT"},
    {ErrorCode::kMessageTooLarge, "MESSAGE_TOO_LARGE"},
    {ErrorCode::kOffsetMetadataTooLarge, "OFFSET_METADATA_TOO_LARGE"},
    {ErrorCode::kCoordinatorLoadInProgress, "COORDINATOR_LOAD_IN_PROGRESS"},
    {ErrorCode::kCoordinatorNotAvailable, "COORDINATOR_NOT_AVAILABLE"},
    {ErrorCode::kNotCoordinator, "NOT_COORDINATOR"},
    {ErrorCode::kInvalidTopic, "INVALID_TOPIC_EXCEPTION"},
    {ErrorCode::kRecordListTooLarge, "RECORD_LIST_TOO_LARGE"},
    {ErrorCode::kInvalidRequiredAcks, "INVALID_REQUIRED_ACKS"},
    {ErrorCode::kIllegalGeneration, "ILLEGAL_GENERATION"},
    {ErrorCode::kInconsistentGroupProtocol, "INCONSISTENT_GROUP_PROTOCOL"},
    {ErrorCode::kInvalidGroupId, "INVALID_GROUP_ID"},
    {ErrorCode::kUnknownMemberId, "UNKNOWN_MEMBER_ID"},
    {ErrorCode::kInvalidSessionTimeout, "INVALID_SESSION_TIMEOUT"},
    {ErrorCode::kRebalanceInProgress, "REBALANCE_IN_PROGRESS"},
    {ErrorCode::kInvalidCommitOffsetSize, "INVALID_COMMIT_OFFSET_SIZE"},
    {ErrorCode::kTopicAuthorizationFailed, "TOPIC_AUTHORIZATION_FAILED"},
    {ErrorCode::kGroupAuthorizationFailed, "GROUP_AUTHORIZATION_FAILED"},
    {ErrorCode::kClusterAuthorizationFailed, "CLUSTER_AUTHORIZATION_FAILED"},
    {ErrorCode::kInvalidTimestamp, "INVALID_TIMESTAMP"},
    {ErrorCode::kUnsupportedSaslMechanism, "UNSUPPORTED_SASL_MECHANISM"},
    {ErrorCode::kIllegalSaslState, "ILLEGAL_SASL_STATE"},
    {ErrorCode::kUnsupportedVersion, "UNSUPPORTED_VERSION"},
    {ErrorCode::kInvalidPartitions, "INVALID_PARTITIONS"},
    {ErrorCode::kInvalidRequest, "INVALID_REQUEST"},
    {ErrorCode::kUnsupportedForMessageFormat, "UNSUPPORTED_FOR_MESSAGE_FORMAT"},
    {ErrorCode::kPolicyViolation, "POLICY_VIOLATION"},
    {ErrorCode::kTransactionalIdAuthorizationFailed, "TRANSACTIONAL_ID_AUTHORIZATION_FAILED"},
    {ErrorCode::kKafkaStorageError, "KAFKA_STORAGE_ERROR"},
    {ErrorCode::kSaslAuthenticationFailed, "SASL_AUTHENTICATION_FAILED"},
    {ErrorCode::kNonEmptyGroup, "NON_EMPTY_GROUP"},
    {ErrorCode::kGroupIdNotFound, "GROUP_ID_NOT_FOUND"},
    {ErrorCode::kFetchSessionIdNotFound, "FETCH_SESSION_ID_NOT_FOUND"},
    {ErrorCode::kInvalidFetchSessionEpoch, "INVALID_FETCH_SESSION_EPOCH"},
    {ErrorCode::kFencedLeaderEpoch, "FENCED_LEADER_EPOCH"},
    {ErrorCode::kUnknownLeaderEpoch, "UNKNOWN_LEADER_EPOCH"},
    {ErrorCode::kUnsupportedCompressionType, "UNSUPPORTED_COMPRESSION_TYPE"},
    {ErrorCode::kOffsetNotAvailable, "OFFSET_NOT_AVAILABLE"},
    {ErrorCode::kMemberIdRequired, "MEMBER_ID_REQUIRED"},
    {ErrorCode::kGroupMaxSizeReached, "GROUP_MAX_SIZE_REACHED"},
    {ErrorCode::kFencedInstanceId, "FENCED_INSTANCE_ID"},
    {ErrorCode::kInvalidRecord, "INVALID_RECORD"},
    {ErrorCode::kUnknownTopicId, "UNKNOWN_TOPIC_ID"},
    {ErrorCode::kInconsistentTopicId, "INCONSISTENT_TOPIC_ID"},
};

}  // namespace

std::string_view ErrorName(int16_t code) {
  for (const auto& [c, name] : kErrorNames) {
    if (static_cast<int16_t>(c) == code) return name;
  }
  return "UNKNOWN";
}

}  // namespace pgcdc::codec::kafka
