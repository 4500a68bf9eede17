// Kafka request/response messages for the APIs pgcdc's built-in broker serves.
//
// For every API: a request struct and a response struct holding the UNION of
// the fields over the supported versions (fields absent in a version keep
// their defaults on decode and are not written on encode), plus
//   Result<XxxRequest> DecodeXxxRequest(std::string_view body, int16_t version)
//   void EncodeXxxResponse(const XxxResponse&, int16_t version, Writer&)
// Bodies exclude the request/response header. Field lists follow Kafka's
// message definitions (clients/src/main/resources/common/message/*.json).
//
// Flexible versions (KIP-482) use compact strings/arrays and a tagged-field
// section after every struct; decoders skip unknown tags (the only tagged
// request field we surface is Fetch's ClusterId). Encoders write empty
// tagged-field sections.
//
// Decoders: strict. Truncation, trailing bytes, a null where the version does
// not allow one, or an unsupported version return kParse errors named after
// the API ("Fetch v11: truncated int64 at offset 57"). Strings are copied out
// of the body, so results do not borrow the input.
//
// The caller (server) is responsible for:
//  * checking IsSupported(api_key, version) before decoding a body (Kafka
//    closes the connection for an unsupported version, except ApiVersions,
//    which answers UNSUPPORTED_VERSION with a v0 body: see
//    EncodeApiVersionsResponse);
//  * not answering Produce with acks == 0;
//  * wrapping the encoded body with FrameResponse().
//
// Pure functions, reentrant.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "codec/kafka/errors.h"
#include "codec/kafka/wire.h"
#include "core/error.h"

namespace pgcdc::codec::kafka {

// ---------------------------------------------------------------------------
// API keys, error codes, version table.

enum class ApiKey : int16_t {
  kProduce = 0,
  kFetch = 1,
  kListOffsets = 2,
  kMetadata = 3,
  kOffsetCommit = 8,
  kOffsetFetch = 9,
  kFindCoordinator = 10,
  kJoinGroup = 11,
  kHeartbeat = 12,
  kLeaveGroup = 13,
  kSyncGroup = 14,
  kDescribeGroups = 15,
  kListGroups = 16,
  kSaslHandshake = 17,
  kApiVersions = 18,
  kInitProducerId = 22,
  kAddPartitionsToTxn = 24,
  kEndTxn = 26,
  kSaslAuthenticate = 36,
};

// "Produce", "Fetch", ...; "Unknown" for other keys.
std::string_view ApiName(int16_t api_key);

struct ApiVersionRange {
  int16_t api_key;
  int16_t min_version;
  int16_t max_version;
  int16_t first_flexible_version;  // INT16_MAX: never flexible
};

// The APIs this codec implements, ordered by key (what ApiVersions advertises).
std::span<const ApiVersionRange> SupportedApis();
// nullptr for an unknown key.
const ApiVersionRange* FindApi(int16_t api_key);
bool IsSupported(int16_t api_key, int16_t version);
// Whether (key, version) uses flexible encoding (request header v2, response
// header v1 except ApiVersions). Unknown keys: false.
bool IsFlexible(int16_t api_key, int16_t version);

// A topic's name and its per-partition entries: how most messages nest.
template <class Partition>
struct TopicPartitions {
  std::string name;
  std::vector<Partition> partitions;
};

// ---------------------------------------------------------------------------
// Headers and framing.

struct RequestHeader {
  int16_t api_key = 0;
  int16_t api_version = 0;
  int32_t correlation_id = 0;
  std::optional<std::string> client_id;
  // Header v2 (flexible request). Derived from (api_key, api_version) via
  // IsFlexible, also for versions above the supported max of a known key.
  bool flexible = false;
};

// Decodes the request header at the start of a frame body. Header v1 (classic
// client_id) or v2 (+ tagged fields) by IsFlexible(api_key, api_version); an
// unknown key is read as v1. *body_offset receives the offset of the request
// body within `frame`.
Result<RequestHeader> DecodeRequestHeader(std::string_view frame, size_t* body_offset);

// Encodes a request header (tests and clients): v2 when IsFlexible.
void EncodeRequestHeader(const RequestHeader& header, Writer& w);

// Length prefix + response header + body. Response header v1 (correlation id
// + empty tagged fields) when the request was flexible, else v0; ApiVersions
// always v0.
std::string FrameResponse(const RequestHeader& request, std::string_view body);

// ---------------------------------------------------------------------------
// ApiVersions (18), v0-3, flexible >= 3.

struct ApiVersionsRequest {
  std::string client_software_name;     // v3+
  std::string client_software_version;  // v3+
};
Result<ApiVersionsRequest> DecodeApiVersionsRequest(std::string_view body, int16_t version);
void EncodeApiVersionsRequest(const ApiVersionsRequest& r, int16_t version, Writer& w);

struct ApiVersionsResponse {
  int16_t error_code = 0;
  std::vector<ApiVersionRange> api_keys;  // first_flexible_version is not sent
  int32_t throttle_time_ms = 0;           // v1+
};
// To answer an unsupported ApiVersions version, encode with version 0 and
// error_code UNSUPPORTED_VERSION (Kafka does so: clients then retry with v0).
void EncodeApiVersionsResponse(const ApiVersionsResponse& r, int16_t version, Writer& w);
Result<ApiVersionsResponse> DecodeApiVersionsResponse(std::string_view body, int16_t version);
// A response listing SupportedApis().
ApiVersionsResponse MakeApiVersionsResponse(ErrorCode error = ErrorCode::kNone);

// ---------------------------------------------------------------------------
// Metadata (3), v0-12, flexible >= 9.

// Topics: nullopt = all topics (v1+ null array, v0 empty array); an EMPTY
// vector (v1+) = no topics, only brokers (librdkafka's first request).
struct MetadataRequest {
  struct Topic {
    Uuid topic_id = kZeroUuid;        // v10+
    std::optional<std::string> name;  // nullable v10+ (lookup by id)
  };
  // nullopt: all topics (v1+ null array; v0 empty array is also "all").
  std::optional<std::vector<Topic>> topics;
  bool allow_auto_topic_creation = true;               // v4+
  bool include_cluster_authorized_operations = false;  // v8-10
  bool include_topic_authorized_operations = false;    // v8+
};
Result<MetadataRequest> DecodeMetadataRequest(std::string_view body, int16_t version);
void EncodeMetadataRequest(const MetadataRequest& r, int16_t version, Writer& w);

// "Not provided" value of the authorized-operations fields.
inline constexpr int32_t kAuthorizedOperationsOmitted = INT32_MIN;

struct MetadataResponse {
  struct Broker {
    int32_t node_id = 0;
    std::string host;
    int32_t port = 0;
    std::optional<std::string> rack;  // v1+
  };
  struct Partition {
    int16_t error_code = 0;
    int32_t partition_index = 0;
    int32_t leader_id = 0;
    int32_t leader_epoch = -1;  // v7+
    std::vector<int32_t> replica_nodes;
    std::vector<int32_t> isr_nodes;
    std::vector<int32_t> offline_replicas;  // v5+
  };
  struct Topic {
    int16_t error_code = 0;
    std::optional<std::string> name;  // nullable v12+
    Uuid topic_id = kZeroUuid;        // v10+
    bool is_internal = false;         // v1+
    std::vector<Partition> partitions;
    int32_t topic_authorized_operations = kAuthorizedOperationsOmitted;  // v8+
  };
  int32_t throttle_time_ms = 0;  // v3+
  std::vector<Broker> brokers;
  std::optional<std::string> cluster_id;  // v2+
  int32_t controller_id = -1;             // v1+
  std::vector<Topic> topics;
  int32_t cluster_authorized_operations = kAuthorizedOperationsOmitted;  // v8-10
};
void EncodeMetadataResponse(const MetadataResponse& r, int16_t version, Writer& w);
Result<MetadataResponse> DecodeMetadataResponse(std::string_view body, int16_t version);

// ---------------------------------------------------------------------------
// Produce (0), v0-9, flexible >= 9. Records are RecordBatch bytes (see
// record_batch.h); v0-2 clients may send message format v0/v1 (magic 0/1),
// which the server rejects per partition.

struct ProduceRequest {
  struct Partition {
    int32_t index = 0;
    std::optional<std::string> records;
  };
  using Topic = TopicPartitions<Partition>;
  std::optional<std::string> transactional_id;  // v3+
  int16_t acks = -1;                            // 0: no response, 1: leader, -1: all
  int32_t timeout_ms = 0;
  std::vector<Topic> topics;
};
Result<ProduceRequest> DecodeProduceRequest(std::string_view body, int16_t version);
void EncodeProduceRequest(const ProduceRequest& r, int16_t version, Writer& w);

struct ProduceResponse {
  struct RecordError {
    int32_t batch_index = 0;
    std::optional<std::string> batch_index_error_message;
  };
  struct Partition {
    int32_t index = 0;
    int16_t error_code = 0;
    int64_t base_offset = -1;
    int64_t log_append_time_ms = -1;           // v2+
    int64_t log_start_offset = -1;             // v5+
    std::vector<RecordError> record_errors;    // v8+
    std::optional<std::string> error_message;  // v8+
  };
  using Topic = TopicPartitions<Partition>;
  std::vector<Topic> topics;
  int32_t throttle_time_ms = 0;  // v1+ (written after the topics)
};
void EncodeProduceResponse(const ProduceResponse& r, int16_t version, Writer& w);
Result<ProduceResponse> DecodeProduceResponse(std::string_view body, int16_t version);

// ---------------------------------------------------------------------------
// Fetch (1), v0-13, flexible >= 12. v13 names topics by topic_id only; the
// server maps ids to names (request structs carry both fields).

struct FetchRequest {
  struct Partition {
    int32_t partition = 0;
    int32_t current_leader_epoch = -1;  // v9+
    int64_t fetch_offset = 0;
    int32_t last_fetched_epoch = -1;  // v12+
    int64_t log_start_offset = -1;    // v5+
    int32_t partition_max_bytes = 0;
  };
  struct Topic {
    std::string topic;          // v0-12
    Uuid topic_id = kZeroUuid;  // v13+
    std::vector<Partition> partitions;
  };
  struct ForgottenTopic {
    std::string topic;          // v7-12
    Uuid topic_id = kZeroUuid;  // v13+
    std::vector<int32_t> partitions;
  };
  std::optional<std::string> cluster_id;  // v12+ tagged field 0
  int32_t replica_id = -1;
  int32_t max_wait_ms = 0;
  int32_t min_bytes = 0;
  int32_t max_bytes = 0x7fffffff;  // v3+
  int8_t isolation_level = 0;      // v4+ (0 read_uncommitted, 1 read_committed)
  int32_t session_id = 0;          // v7+
  int32_t session_epoch = -1;      // v7+
  std::vector<Topic> topics;
  std::vector<ForgottenTopic> forgotten_topics_data;  // v7+
  std::string rack_id;                                // v11+
};
Result<FetchRequest> DecodeFetchRequest(std::string_view body, int16_t version);
void EncodeFetchRequest(const FetchRequest& r, int16_t version, Writer& w);

struct FetchResponse {
  struct AbortedTransaction {
    int64_t producer_id = 0;
    int64_t first_offset = 0;
  };
  struct Partition {
    int32_t partition_index = 0;
    int16_t error_code = 0;
    int64_t high_watermark = 0;
    int64_t last_stable_offset = -1;  // v4+
    int64_t log_start_offset = -1;    // v5+
    // v4+; we never have aborted transactions: an empty array (nullopt: a
    // null array).
    std::optional<std::vector<AbortedTransaction>> aborted_transactions{std::in_place};
    int32_t preferred_read_replica = -1;  // v11+
    // Concatenated RecordBatch bytes, written back to back as one records
    // field. Views: the caller keeps the buffers alive during encoding.
    std::vector<std::string_view> records;
  };
  struct Topic {
    std::string topic;          // v0-12
    Uuid topic_id = kZeroUuid;  // v13+
    std::vector<Partition> partitions;
  };
  int32_t throttle_time_ms = 0;  // v1+
  int16_t error_code = 0;        // v7+
  int32_t session_id = 0;        // v7+
  std::vector<Topic> responses;
};
void EncodeFetchResponse(const FetchResponse& r, int16_t version, Writer& w);
// Decoded records are returned as one view per partition (into `body`).
Result<FetchResponse> DecodeFetchResponse(std::string_view body, int16_t version);

// ---------------------------------------------------------------------------
// ListOffsets (2), v0-7, flexible >= 6.

inline constexpr int64_t kLatestTimestamp = -1;
inline constexpr int64_t kEarliestTimestamp = -2;
inline constexpr int64_t kMaxTimestamp = -3;  // v7+

struct ListOffsetsRequest {
  struct Partition {
    int32_t partition_index = 0;
    int32_t current_leader_epoch = -1;  // v4+
    int64_t timestamp = kLatestTimestamp;
    int32_t max_num_offsets = 1;  // v0 only
  };
  using Topic = TopicPartitions<Partition>;
  int32_t replica_id = -1;
  int8_t isolation_level = 0;  // v2+
  std::vector<Topic> topics;
};
Result<ListOffsetsRequest> DecodeListOffsetsRequest(std::string_view body, int16_t version);
void EncodeListOffsetsRequest(const ListOffsetsRequest& r, int16_t version, Writer& w);

struct ListOffsetsResponse {
  struct Partition {
    int32_t partition_index = 0;
    int16_t error_code = 0;
    std::vector<int64_t> old_style_offsets;  // v0 only
    int64_t timestamp = -1;                  // v1+
    int64_t offset = -1;                     // v1+
    int32_t leader_epoch = -1;               // v4+
  };
  using Topic = TopicPartitions<Partition>;
  int32_t throttle_time_ms = 0;  // v2+
  std::vector<Topic> topics;
};
void EncodeListOffsetsResponse(const ListOffsetsResponse& r, int16_t version, Writer& w);

// ---------------------------------------------------------------------------
// OffsetCommit (8), v0-8, flexible >= 8.

struct OffsetCommitRequest {
  struct Partition {
    int32_t partition_index = 0;
    int64_t committed_offset = 0;
    int32_t committed_leader_epoch = -1;  // v6+
    int64_t commit_timestamp = -1;        // v1 only
    std::optional<std::string> committed_metadata;
  };
  using Topic = TopicPartitions<Partition>;
  std::string group_id;
  int32_t generation_id = -1;                    // v1+
  std::string member_id;                         // v1+
  std::optional<std::string> group_instance_id;  // v7+
  int64_t retention_time_ms = -1;                // v2-4
  std::vector<Topic> topics;
};
Result<OffsetCommitRequest> DecodeOffsetCommitRequest(std::string_view body, int16_t version);

struct OffsetCommitResponse {
  struct Partition {
    int32_t partition_index = 0;
    int16_t error_code = 0;
  };
  using Topic = TopicPartitions<Partition>;
  int32_t throttle_time_ms = 0;  // v3+
  std::vector<Topic> topics;
};
void EncodeOffsetCommitResponse(const OffsetCommitResponse& r, int16_t version, Writer& w);

// ---------------------------------------------------------------------------
// OffsetFetch (9), v0-8, flexible >= 6. v8 batches several groups; for v0-7
// the decoder presents the single group as groups[0] (member fields unset) so
// the server handles one shape, and the encoder writes groups[0] in the old
// top-level layout.

struct OffsetFetchRequest {
  struct Topic {
    std::string name;
    std::vector<int32_t> partition_indexes;
  };
  struct Group {
    std::string group_id;
    std::optional<std::vector<Topic>> topics;  // nullopt: all committed (v2+)
  };
  std::vector<Group> groups;
  bool require_stable = false;  // v7+
};
Result<OffsetFetchRequest> DecodeOffsetFetchRequest(std::string_view body, int16_t version);
void EncodeOffsetFetchRequest(const OffsetFetchRequest& r, int16_t version, Writer& w);

struct OffsetFetchResponse {
  struct Partition {
    int32_t partition_index = 0;
    int64_t committed_offset = -1;
    int32_t committed_leader_epoch = -1;  // v5+
    std::optional<std::string> metadata;
    int16_t error_code = 0;
  };
  using Topic = TopicPartitions<Partition>;
  struct Group {
    std::string group_id;  // v8+
    std::vector<Topic> topics;
    int16_t error_code = 0;  // group-level: v2+ (v0-1: not sent)
  };
  int32_t throttle_time_ms = 0;  // v3+
  // v0-7: exactly one group is written (groups[0]; none -> empty topics).
  std::vector<Group> groups;
};
void EncodeOffsetFetchResponse(const OffsetFetchResponse& r, int16_t version, Writer& w);

// ---------------------------------------------------------------------------
// FindCoordinator (10), v0-4, flexible >= 3. v4 batches keys; for v0-3 the
// decoder presents the single key as coordinator_keys[0], and the encoder
// writes coordinators[0] in the old top-level layout.

inline constexpr int8_t kCoordinatorKeyGroup = 0;
inline constexpr int8_t kCoordinatorKeyTransaction = 1;

struct FindCoordinatorRequest {
  int8_t key_type = kCoordinatorKeyGroup;  // v1+
  std::vector<std::string> coordinator_keys;
};
Result<FindCoordinatorRequest> DecodeFindCoordinatorRequest(std::string_view body, int16_t version);

// v0-3 write coordinators[0] (COORDINATOR_NOT_AVAILABLE if empty); v4 writes
// one entry per requested key.
struct FindCoordinatorResponse {
  struct Coordinator {
    std::string key;  // v4+
    int32_t node_id = -1;
    std::string host;
    int32_t port = -1;
    int16_t error_code = 0;
    std::optional<std::string> error_message;  // v1+
  };
  int32_t throttle_time_ms = 0;  // v1+
  std::vector<Coordinator> coordinators;
};
void EncodeFindCoordinatorResponse(const FindCoordinatorResponse& r, int16_t version, Writer& w);

// ---------------------------------------------------------------------------
// JoinGroup (11), v0-9, flexible >= 6.

struct JoinGroupRequest {
  struct Protocol {
    std::string name;
    std::string metadata;
  };
  std::string group_id;
  int32_t session_timeout_ms = 0;
  int32_t rebalance_timeout_ms = -1;  // v1+ (v0: equals session timeout)
  std::string member_id;
  std::optional<std::string> group_instance_id;  // v5+
  std::string protocol_type;
  std::vector<Protocol> protocols;
  std::optional<std::string> reason;  // v8+
};
Result<JoinGroupRequest> DecodeJoinGroupRequest(std::string_view body, int16_t version);

struct JoinGroupResponse {
  struct Member {
    std::string member_id;
    std::optional<std::string> group_instance_id;  // v5+
    std::string metadata;
  };
  int32_t throttle_time_ms = 0;  // v2+
  int16_t error_code = 0;
  int32_t generation_id = -1;
  std::optional<std::string> protocol_type;  // v7+
  std::optional<std::string> protocol_name;  // nullable v7+ (v0-6: null -> "")
  std::string leader;
  bool skip_assignment = false;  // v9+
  std::string member_id;
  std::vector<Member> members;
};
void EncodeJoinGroupResponse(const JoinGroupResponse& r, int16_t version, Writer& w);

// ---------------------------------------------------------------------------
// Heartbeat (12), v0-4, flexible >= 4.

struct HeartbeatRequest {
  std::string group_id;
  int32_t generation_id = -1;
  std::string member_id;
  std::optional<std::string> group_instance_id;  // v3+
};
Result<HeartbeatRequest> DecodeHeartbeatRequest(std::string_view body, int16_t version);

struct HeartbeatResponse {
  int32_t throttle_time_ms = 0;  // v1+
  int16_t error_code = 0;
};
void EncodeHeartbeatResponse(const HeartbeatResponse& r, int16_t version, Writer& w);

// ---------------------------------------------------------------------------
// LeaveGroup (13), v0-5, flexible >= 4. v0-2 carry one member_id; the decoder
// presents it as members[0].

struct LeaveGroupRequest {
  struct Member {
    std::string member_id;
    std::optional<std::string> group_instance_id;  // v3+
    std::optional<std::string> reason;             // v5+
  };
  std::string group_id;
  std::vector<Member> members;
};
Result<LeaveGroupRequest> DecodeLeaveGroupRequest(std::string_view body, int16_t version);

struct LeaveGroupResponse {
  struct Member {
    std::string member_id;
    std::optional<std::string> group_instance_id;
    int16_t error_code = 0;
  };
  int32_t throttle_time_ms = 0;  // v1+
  int16_t error_code = 0;
  std::vector<Member> members;  // v3+
};
void EncodeLeaveGroupResponse(const LeaveGroupResponse& r, int16_t version, Writer& w);

// ---------------------------------------------------------------------------
// SyncGroup (14), v0-5, flexible >= 4.

struct SyncGroupRequest {
  struct Assignment {
    std::string member_id;
    std::string assignment;
  };
  std::string group_id;
  int32_t generation_id = -1;
  std::string member_id;
  std::optional<std::string> group_instance_id;  // v3+
  std::optional<std::string> protocol_type;      // v5+
  std::optional<std::string> protocol_name;      // v5+
  std::vector<Assignment> assignments;           // leader only
};
Result<SyncGroupRequest> DecodeSyncGroupRequest(std::string_view body, int16_t version);

struct SyncGroupResponse {
  int32_t throttle_time_ms = 0;  // v1+
  int16_t error_code = 0;
  std::optional<std::string> protocol_type;  // v5+
  std::optional<std::string> protocol_name;  // v5+
  std::string assignment;
};
void EncodeSyncGroupResponse(const SyncGroupResponse& r, int16_t version, Writer& w);

// ---------------------------------------------------------------------------
// DescribeGroups (15), v0-5, flexible >= 5.

struct DescribeGroupsRequest {
  std::vector<std::string> groups;
  bool include_authorized_operations = false;  // v3+
};
Result<DescribeGroupsRequest> DecodeDescribeGroupsRequest(std::string_view body, int16_t version);

struct DescribeGroupsResponse {
  struct Member {
    std::string member_id;
    std::optional<std::string> group_instance_id;  // v4+
    std::string client_id;
    std::string client_host;
    std::string member_metadata;
    std::string member_assignment;
  };
  struct Group {
    int16_t error_code = 0;
    std::string group_id;
    std::string group_state;    // "Empty", "PreparingRebalance", "CompletingRebalance", ...
    std::string protocol_type;  // "consumer"
    std::string protocol_data;  // selected protocol (assignor) name
    std::vector<Member> members;
    int32_t authorized_operations = kAuthorizedOperationsOmitted;  // v3+
  };
  int32_t throttle_time_ms = 0;  // v1+
  std::vector<Group> groups;
};
void EncodeDescribeGroupsResponse(const DescribeGroupsResponse& r, int16_t version, Writer& w);

// ---------------------------------------------------------------------------
// ListGroups (16), v0-4, flexible >= 3.

struct ListGroupsRequest {
  std::vector<std::string> states_filter;  // v4+; empty: all
};
Result<ListGroupsRequest> DecodeListGroupsRequest(std::string_view body, int16_t version);

struct ListGroupsResponse {
  struct Group {
    std::string group_id;
    std::string protocol_type;
    std::string group_state;  // v4+
  };
  int32_t throttle_time_ms = 0;  // v1+
  int16_t error_code = 0;
  std::vector<Group> groups;
};
void EncodeListGroupsResponse(const ListGroupsResponse& r, int16_t version, Writer& w);

// ---------------------------------------------------------------------------
// SaslHandshake (17), v0-1, never flexible. After a v0 handshake the client
// sends raw SASL tokens framed by an int32 size only (no Kafka header); after
// v1 it sends SaslAuthenticate requests.

struct SaslHandshakeRequest {
  std::string mechanism;
};
Result<SaslHandshakeRequest> DecodeSaslHandshakeRequest(std::string_view body, int16_t version);

struct SaslHandshakeResponse {
  int16_t error_code = 0;
  std::vector<std::string> mechanisms;
};
void EncodeSaslHandshakeResponse(const SaslHandshakeResponse& r, int16_t version, Writer& w);

// ---------------------------------------------------------------------------
// SaslAuthenticate (36), v0-2, flexible >= 2.

struct SaslAuthenticateRequest {
  std::string auth_bytes;
};
Result<SaslAuthenticateRequest> DecodeSaslAuthenticateRequest(std::string_view body,
                                                              int16_t version);

struct SaslAuthenticateResponse {
  int16_t error_code = 0;
  std::optional<std::string> error_message;
  std::string auth_bytes;
  int64_t session_lifetime_ms = 0;  // v1+
};
void EncodeSaslAuthenticateResponse(const SaslAuthenticateResponse& r, int16_t version, Writer& w);

// ---------------------------------------------------------------------------
// InitProducerId (22), v0-4, flexible >= 2: a producer id and epoch for an
// idempotent producer (no transactional id) or a transactional one.

struct InitProducerIdRequest {
  std::optional<std::string> transactional_id;
  int32_t transaction_timeout_ms = 0;
  int64_t producer_id = -1;     // v3+: the current id, to bump its epoch
  int16_t producer_epoch = -1;  // v3+
};
Result<InitProducerIdRequest> DecodeInitProducerIdRequest(std::string_view body, int16_t version);
void EncodeInitProducerIdRequest(const InitProducerIdRequest& r, int16_t version, Writer& w);

struct InitProducerIdResponse {
  int32_t throttle_time_ms = 0;
  int16_t error_code = 0;
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
};
Result<InitProducerIdResponse> DecodeInitProducerIdResponse(std::string_view body, int16_t version);
void EncodeInitProducerIdResponse(const InitProducerIdResponse& r, int16_t version, Writer& w);

// ---------------------------------------------------------------------------
// AddPartitionsToTxn (24), v0-3, flexible >= 3: partitions a transactional
// producer is about to write to.

struct AddPartitionsToTxnRequest {
  struct Topic {
    std::string name;
    std::vector<int32_t> partitions;
  };
  std::string transactional_id;
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  std::vector<Topic> topics;
};
Result<AddPartitionsToTxnRequest> DecodeAddPartitionsToTxnRequest(std::string_view body,
                                                                  int16_t version);
void EncodeAddPartitionsToTxnRequest(const AddPartitionsToTxnRequest& r, int16_t version,
                                     Writer& w);

struct AddPartitionsToTxnResponse {
  struct Partition {
    int32_t partition_index = 0;
    int16_t error_code = 0;
  };
  struct Topic {
    std::string name;
    std::vector<Partition> results;
  };
  int32_t throttle_time_ms = 0;
  std::vector<Topic> results;
};
Result<AddPartitionsToTxnResponse> DecodeAddPartitionsToTxnResponse(std::string_view body,
                                                                    int16_t version);
void EncodeAddPartitionsToTxnResponse(const AddPartitionsToTxnResponse& r, int16_t version,
                                      Writer& w);

// ---------------------------------------------------------------------------
// EndTxn (26), v0-3, flexible >= 3: commit or abort the ongoing transaction.

struct EndTxnRequest {
  std::string transactional_id;
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  bool committed = false;
};
Result<EndTxnRequest> DecodeEndTxnRequest(std::string_view body, int16_t version);
void EncodeEndTxnRequest(const EndTxnRequest& r, int16_t version, Writer& w);

struct EndTxnResponse {
  int32_t throttle_time_ms = 0;
  int16_t error_code = 0;
};
Result<EndTxnResponse> DecodeEndTxnResponse(std::string_view body, int16_t version);
void EncodeEndTxnResponse(const EndTxnResponse& r, int16_t version, Writer& w);

// SASL/PLAIN token (RFC 4616): [authzid] NUL authcid NUL passwd.
struct SaslPlainCredentials {
  std::string authzid;
  std::string username;
  std::string password;
};
Result<SaslPlainCredentials> ParseSaslPlain(std::string_view token);

}  // namespace pgcdc::codec::kafka
