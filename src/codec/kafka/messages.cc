#include "codec/kafka/messages.h"

#include <algorithm>
#include <array>
#include <limits>
#include <string>

namespace pgcdc::codec::kafka {

namespace {

constexpr int16_t kNever = std::numeric_limits<int16_t>::max();

// Ordered by api key.
constexpr std::array<ApiVersionRange, 16> kSupportedApis = {{
    {0, 0, 9, 9},        // Produce
    {1, 0, 13, 12},      // Fetch
    {2, 0, 7, 6},        // ListOffsets
    {3, 0, 12, 9},       // Metadata
    {8, 0, 8, 8},        // OffsetCommit
    {9, 0, 8, 6},        // OffsetFetch
    {10, 0, 4, 3},       // FindCoordinator
    {11, 0, 9, 6},       // JoinGroup
    {12, 0, 4, 4},       // Heartbeat
    {13, 0, 5, 4},       // LeaveGroup
    {14, 0, 5, 4},       // SyncGroup
    {15, 0, 5, 5},       // DescribeGroups
    {16, 0, 4, 3},       // ListGroups
    {17, 0, 1, kNever},  // SaslHandshake
    {18, 0, 3, 3},       // ApiVersions
    {36, 0, 2, 2},       // SaslAuthenticate
}};

std::string Str(std::string_view v) { return std::string(v); }
std::optional<std::string> OptStr(const std::optional<std::string_view>& v) {
  if (!v) return std::nullopt;
  return std::string(*v);
}
std::optional<std::string_view> View(const std::optional<std::string>& v) {
  if (!v) return std::nullopt;
  return std::string_view(*v);
}

std::string Context(ApiKey key, int16_t version) {
  return std::string(ApiName(static_cast<int16_t>(key))) + " v" + std::to_string(version);
}

// Shared decoder prologue/epilogue.
Status CheckVersion(ApiKey key, int16_t version) {
  if (!IsSupported(static_cast<int16_t>(key), version)) {
    return Fail(pgcdc::ErrorCode::kParse, Context(key, version) + ": unsupported version");
  }
  return Ok();
}

template <class T>
Result<T> Finish(Reader& r, T value, ApiKey key, int16_t version) {
  if (r.ok() && !r.AtEnd()) {
    r.Fail(std::to_string(r.remaining()) + " unexpected trailing bytes at offset " +
           std::to_string(r.position()));
  }
  if (!r.ok()) return Fail(pgcdc::ErrorCode::kParse, Context(key, version) + ": " + r.error());
  return value;
}

// A non-nullable array's count; null fails.
int32_t Count(Reader& r, bool flex, size_t min_element_size, const char* field) {
  const int32_t n = r.ArrayLen(flex, min_element_size);
  if (n < 0) {
    r.Fail(std::string("null array for non-nullable field ") + field);
    return 0;
  }
  return n;
}

std::vector<int32_t> Int32Array(Reader& r, bool flex, const char* field) {
  std::vector<int32_t> out;
  const int32_t n = Count(r, flex, 4, field);
  out.reserve(static_cast<size_t>(n));
  for (int32_t i = 0; i < n && r.ok(); ++i) out.push_back(r.Int32());
  return out;
}

std::vector<std::string> StringArray(Reader& r, bool flex, const char* field) {
  std::vector<std::string> out;
  const int32_t n = Count(r, flex, flex ? 1 : 2, field);
  for (int32_t i = 0; i < n && r.ok(); ++i) out.push_back(Str(r.Str(flex)));
  return out;
}

void WriteInt32Array(Writer& w, const std::vector<int32_t>& v, bool flex) {
  w.ArrayLen(static_cast<int32_t>(v.size()), flex);
  for (int32_t x : v) w.Int32(x);
}

void WriteStringArray(Writer& w, const std::vector<std::string>& v, bool flex) {
  w.ArrayLen(static_cast<int32_t>(v.size()), flex);
  for (const std::string& s : v) w.Str(s, flex);
}

// Some pre-flexible fields are non-nullable strings in old versions and
// nullable later; a null value written in an old version becomes "".
void WriteMaybeNullStr(Writer& w, const std::optional<std::string>& s, bool nullable, bool flex) {
  if (nullable) {
    w.NullableStr(View(s), flex);
  } else {
    w.Str(s ? std::string_view(*s) : std::string_view(), flex);
  }
}

bool Flex(ApiKey key, int16_t version) { return IsFlexible(static_cast<int16_t>(key), version); }

}  // namespace

// ---------------------------------------------------------------------------
// Tables and names.

std::string_view ApiName(int16_t api_key) {
  switch (api_key) {
    case 0:
      return "Produce";
    case 1:
      return "Fetch";
    case 2:
      return "ListOffsets";
    case 3:
      return "Metadata";
    case 8:
      return "OffsetCommit";
    case 9:
      return "OffsetFetch";
    case 10:
      return "FindCoordinator";
    case 11:
      return "JoinGroup";
    case 12:
      return "Heartbeat";
    case 13:
      return "LeaveGroup";
    case 14:
      return "SyncGroup";
    case 15:
      return "DescribeGroups";
    case 16:
      return "ListGroups";
    case 17:
      return "SaslHandshake";
    case 18:
      return "ApiVersions";
    case 36:
      return "SaslAuthenticate";
    default:
      return "Unknown";
  }
}

std::string_view ErrorName(int16_t code) {
  switch (static_cast<ErrorCode>(code)) {
    case ErrorCode::kUnknownServerError:
      return "UNKNOWN_SERVER_ERROR";
    case ErrorCode::kNone:
      return "NONE";
    case ErrorCode::kOffsetOutOfRange:
      return "OFFSET_OUT_OF_RANGE";
    case ErrorCode::kCorruptMessage:
      return "CORRUPT_MESSAGE";
    case ErrorCode::kUnknownTopicOrPartition:
      return "UNKNOWN_TOPIC_OR_PARTITION";
    case ErrorCode::kInvalidFetchSize:
      return "INVALID_FETCH_SIZE";
    case ErrorCode::kLeaderNotAvailable:
      return "LEADER_NOT_AVAILABLE";
    case ErrorCode::kNotLeaderOrFollower:
      return "NOT_LEADER_OR_FOLLOWER";
    case ErrorCode::kRequestTimedOut:
      return "REQUEST_TIMED_OUT";
    case ErrorCode::kMessageTooLarge:
      return "MESSAGE_TOO_LARGE";
    case ErrorCode::kCoordinatorLoadInProgress:
      return "COORDINATOR_LOAD_IN_PROGRESS";
    case ErrorCode::kCoordinatorNotAvailable:
      return "COORDINATOR_NOT_AVAILABLE";
    case ErrorCode::kNotCoordinator:
      return "NOT_COORDINATOR";
    case ErrorCode::kInvalidTopic:
      return "INVALID_TOPIC_EXCEPTION";
    case ErrorCode::kRecordListTooLarge:
      return "RECORD_LIST_TOO_LARGE";
    case ErrorCode::kInvalidRequiredAcks:
      return "INVALID_REQUIRED_ACKS";
    case ErrorCode::kIllegalGeneration:
      return "ILLEGAL_GENERATION";
    case ErrorCode::kInconsistentGroupProtocol:
      return "INCONSISTENT_GROUP_PROTOCOL";
    case ErrorCode::kInvalidGroupId:
      return "INVALID_GROUP_ID";
    case ErrorCode::kUnknownMemberId:
      return "UNKNOWN_MEMBER_ID";
    case ErrorCode::kInvalidSessionTimeout:
      return "INVALID_SESSION_TIMEOUT";
    case ErrorCode::kRebalanceInProgress:
      return "REBALANCE_IN_PROGRESS";
    case ErrorCode::kInvalidCommitOffsetSize:
      return "INVALID_COMMIT_OFFSET_SIZE";
    case ErrorCode::kTopicAuthorizationFailed:
      return "TOPIC_AUTHORIZATION_FAILED";
    case ErrorCode::kGroupAuthorizationFailed:
      return "GROUP_AUTHORIZATION_FAILED";
    case ErrorCode::kClusterAuthorizationFailed:
      return "CLUSTER_AUTHORIZATION_FAILED";
    case ErrorCode::kInvalidTimestamp:
      return "INVALID_TIMESTAMP";
    case ErrorCode::kUnsupportedSaslMechanism:
      return "UNSUPPORTED_SASL_MECHANISM";
    case ErrorCode::kIllegalSaslState:
      return "ILLEGAL_SASL_STATE";
    case ErrorCode::kUnsupportedVersion:
      return "UNSUPPORTED_VERSION";
    case ErrorCode::kInvalidPartitions:
      return "INVALID_PARTITIONS";
    case ErrorCode::kInvalidRequest:
      return "INVALID_REQUEST";
    case ErrorCode::kUnsupportedForMessageFormat:
      return "UNSUPPORTED_FOR_MESSAGE_FORMAT";
    case ErrorCode::kPolicyViolation:
      return "POLICY_VIOLATION";
    case ErrorCode::kTransactionalIdAuthorizationFailed:
      return "TRANSACTIONAL_ID_AUTHORIZATION_FAILED";
    case ErrorCode::kSaslAuthenticationFailed:
      return "SASL_AUTHENTICATION_FAILED";
    case ErrorCode::kNonEmptyGroup:
      return "NON_EMPTY_GROUP";
    case ErrorCode::kGroupIdNotFound:
      return "GROUP_ID_NOT_FOUND";
    case ErrorCode::kFetchSessionIdNotFound:
      return "FETCH_SESSION_ID_NOT_FOUND";
    case ErrorCode::kInvalidFetchSessionEpoch:
      return "INVALID_FETCH_SESSION_EPOCH";
    case ErrorCode::kFencedLeaderEpoch:
      return "FENCED_LEADER_EPOCH";
    case ErrorCode::kUnknownLeaderEpoch:
      return "UNKNOWN_LEADER_EPOCH";
    case ErrorCode::kUnsupportedCompressionType:
      return "UNSUPPORTED_COMPRESSION_TYPE";
    case ErrorCode::kOffsetNotAvailable:
      return "OFFSET_NOT_AVAILABLE";
    case ErrorCode::kMemberIdRequired:
      return "MEMBER_ID_REQUIRED";
    case ErrorCode::kGroupMaxSizeReached:
      return "GROUP_MAX_SIZE_REACHED";
    case ErrorCode::kFencedInstanceId:
      return "FENCED_INSTANCE_ID";
    case ErrorCode::kInvalidRecord:
      return "INVALID_RECORD";
    case ErrorCode::kUnknownTopicId:
      return "UNKNOWN_TOPIC_ID";
    case ErrorCode::kInconsistentTopicId:
      return "INCONSISTENT_TOPIC_ID";
  }
  return "UNKNOWN";
}

std::span<const ApiVersionRange> SupportedApis() { return kSupportedApis; }

const ApiVersionRange* FindApi(int16_t api_key) {
  for (const ApiVersionRange& a : kSupportedApis) {
    if (a.api_key == api_key) return &a;
  }
  return nullptr;
}

bool IsSupported(int16_t api_key, int16_t version) {
  const ApiVersionRange* a = FindApi(api_key);
  return a != nullptr && version >= a->min_version && version <= a->max_version;
}

bool IsFlexible(int16_t api_key, int16_t version) {
  const ApiVersionRange* a = FindApi(api_key);
  return a != nullptr && version >= a->first_flexible_version;
}

// ---------------------------------------------------------------------------
// Headers.

Result<RequestHeader> DecodeRequestHeader(std::string_view frame, size_t* body_offset) {
  Reader r(frame);
  RequestHeader h;
  h.api_key = r.Int16();
  h.api_version = r.Int16();
  h.correlation_id = r.Int32();
  // client_id is a classic nullable string even in header v2.
  h.client_id = OptStr(r.NullableString());
  h.flexible = IsFlexible(h.api_key, h.api_version);
  if (h.flexible) r.SkipTaggedFields();
  if (!r.ok()) return Fail(pgcdc::ErrorCode::kParse, "request header: " + r.error());
  if (h.api_version < 0) {
    return Fail(pgcdc::ErrorCode::kParse,
                "request header: negative api version " + std::to_string(h.api_version));
  }
  if (body_offset != nullptr) *body_offset = r.position();
  return h;
}

void EncodeRequestHeader(const RequestHeader& header, Writer& w) {
  w.Int16(header.api_key);
  w.Int16(header.api_version);
  w.Int32(header.correlation_id);
  w.NullableString(View(header.client_id));
  if (IsFlexible(header.api_key, header.api_version)) w.EmptyTaggedFields();
}

std::string FrameResponse(const RequestHeader& request, std::string_view body) {
  const bool header_v1 = request.api_key != static_cast<int16_t>(ApiKey::kApiVersions) &&
                         IsFlexible(request.api_key, request.api_version);
  const size_t header_size = header_v1 ? 5 : 4;
  Writer w;
  w.buffer().reserve(4 + header_size + body.size());
  w.Int32(static_cast<int32_t>(header_size + body.size()));
  w.Int32(request.correlation_id);
  if (header_v1) w.EmptyTaggedFields();
  w.Raw(body);
  return w.Take();
}

// ---------------------------------------------------------------------------
// ApiVersions

Result<ApiVersionsRequest> DecodeApiVersionsRequest(std::string_view body, int16_t version) {
  constexpr ApiKey kKey = ApiKey::kApiVersions;
  if (auto s = CheckVersion(kKey, version); !s) return std::unexpected(s.error());
  Reader r(body);
  ApiVersionsRequest out;
  if (version >= 3) {
    out.client_software_name = Str(r.CompactString());
    out.client_software_version = Str(r.CompactString());
    r.SkipTaggedFields();
  }
  return Finish(r, std::move(out), kKey, version);
}

void EncodeApiVersionsRequest(const ApiVersionsRequest& req, int16_t version, Writer& w) {
  if (version >= 3) {
    w.CompactString(req.client_software_name);
    w.CompactString(req.client_software_version);
    w.EmptyTaggedFields();
  }
}

void EncodeApiVersionsResponse(const ApiVersionsResponse& resp, int16_t version, Writer& w) {
  const bool f = Flex(ApiKey::kApiVersions, version);
  w.Int16(resp.error_code);
  w.ArrayLen(static_cast<int32_t>(resp.api_keys.size()), f);
  for (const ApiVersionRange& a : resp.api_keys) {
    w.Int16(a.api_key);
    w.Int16(a.min_version);
    w.Int16(a.max_version);
    w.Tags(f);
  }
  if (version >= 1) w.Int32(resp.throttle_time_ms);
  w.Tags(f);
}

Result<ApiVersionsResponse> DecodeApiVersionsResponse(std::string_view body, int16_t version) {
  constexpr ApiKey kKey = ApiKey::kApiVersions;
  if (auto s = CheckVersion(kKey, version); !s) return std::unexpected(s.error());
  const bool f = Flex(kKey, version);
  Reader r(body);
  ApiVersionsResponse out;
  out.error_code = r.Int16();
  const int32_t n = Count(r, f, 6, "api_keys");
  for (int32_t i = 0; i < n && r.ok(); ++i) {
    ApiVersionRange a{};
    a.api_key = r.Int16();
    a.min_version = r.Int16();
    a.max_version = r.Int16();
    a.first_flexible_version = kNever;
    r.Tags(f);
    out.api_keys.push_back(a);
  }
  if (version >= 1) out.throttle_time_ms = r.Int32();
  r.Tags(f);
  return Finish(r, std::move(out), kKey, version);
}

ApiVersionsResponse MakeApiVersionsResponse(ErrorCode error) {
  ApiVersionsResponse r;
  r.error_code = Code(error);
  r.api_keys.assign(kSupportedApis.begin(), kSupportedApis.end());
  return r;
}

// ---------------------------------------------------------------------------
// Metadata

Result<MetadataRequest> DecodeMetadataRequest(std::string_view body, int16_t version) {
  constexpr ApiKey kKey = ApiKey::kMetadata;
  if (auto s = CheckVersion(kKey, version); !s) return std::unexpected(s.error());
  const bool f = Flex(kKey, version);
  Reader r(body);
  MetadataRequest out;
  const int32_t n = r.ArrayLen(f, 1);
  if (n < 0) {
    if (version == 0) r.Fail("null topics array in version 0");
  } else if (n == 0 && version == 0) {
    // v0: an empty array means all topics.
  } else {
    out.topics.emplace();
    for (int32_t i = 0; i < n && r.ok(); ++i) {
      MetadataRequest::Topic t;
      if (version >= 10) {
        t.topic_id = r.ReadUuid();
        t.name = OptStr(r.NullableStr(f));
      } else {
        t.name = Str(r.Str(f));
      }
      r.Tags(f);
      out.topics->push_back(std::move(t));
    }
  }
  if (version >= 4) out.allow_auto_topic_creation = r.Bool();
  if (version >= 8 && version <= 10) out.include_cluster_authorized_operations = r.Bool();
  if (version >= 8) out.include_topic_authorized_operations = r.Bool();
  r.Tags(f);
  return Finish(r, std::move(out), kKey, version);
}

void EncodeMetadataRequest(const MetadataRequest& req, int16_t version, Writer& w) {
  const bool f = Flex(ApiKey::kMetadata, version);
  if (!req.topics) {
    w.ArrayLen(version == 0 ? 0 : -1, f);
  } else {
    w.ArrayLen(static_cast<int32_t>(req.topics->size()), f);
    for (const MetadataRequest::Topic& t : *req.topics) {
      if (version >= 10) {
        w.WriteUuid(t.topic_id);
        w.NullableStr(View(t.name), f);
      } else {
        w.Str(t.name ? std::string_view(*t.name) : std::string_view(), f);
      }
      w.Tags(f);
    }
  }
  if (version >= 4) w.Bool(req.allow_auto_topic_creation);
  if (version >= 8 && version <= 10) w.Bool(req.include_cluster_authorized_operations);
  if (version >= 8) w.Bool(req.include_topic_authorized_operations);
  w.Tags(f);
}

void EncodeMetadataResponse(const MetadataResponse& resp, int16_t version, Writer& w) {
  const bool f = Flex(ApiKey::kMetadata, version);
  if (version >= 3) w.Int32(resp.throttle_time_ms);
  w.ArrayLen(static_cast<int32_t>(resp.brokers.size()), f);
  for (const MetadataResponse::Broker& b : resp.brokers) {
    w.Int32(b.node_id);
    w.Str(b.host, f);
    w.Int32(b.port);
    if (version >= 1) w.NullableStr(View(b.rack), f);
    w.Tags(f);
  }
  if (version >= 2) w.NullableStr(View(resp.cluster_id), f);
  if (version >= 1) w.Int32(resp.controller_id);
  w.ArrayLen(static_cast<int32_t>(resp.topics.size()), f);
  for (const MetadataResponse::Topic& t : resp.topics) {
    w.Int16(t.error_code);
    WriteMaybeNullStr(w, t.name, version >= 12, f);
    if (version >= 10) w.WriteUuid(t.topic_id);
    if (version >= 1) w.Bool(t.is_internal);
    w.ArrayLen(static_cast<int32_t>(t.partitions.size()), f);
    for (const MetadataResponse::Partition& p : t.partitions) {
      w.Int16(p.error_code);
      w.Int32(p.partition_index);
      w.Int32(p.leader_id);
      if (version >= 7) w.Int32(p.leader_epoch);
      WriteInt32Array(w, p.replica_nodes, f);
      WriteInt32Array(w, p.isr_nodes, f);
      if (version >= 5) WriteInt32Array(w, p.offline_replicas, f);
      w.Tags(f);
    }
    if (version >= 8) w.Int32(t.topic_authorized_operations);
    w.Tags(f);
  }
  if (version >= 8 && version <= 10) w.Int32(resp.cluster_authorized_operations);
  w.Tags(f);
}

Result<MetadataResponse> DecodeMetadataResponse(std::string_view body, int16_t version) {
  constexpr ApiKey kKey = ApiKey::kMetadata;
  if (auto s = CheckVersion(kKey, version); !s) return std::unexpected(s.error());
  const bool f = Flex(kKey, version);
  Reader r(body);
  MetadataResponse out;
  if (version >= 3) out.throttle_time_ms = r.Int32();
  const int32_t nb = Count(r, f, 8, "brokers");
  for (int32_t i = 0; i < nb && r.ok(); ++i) {
    MetadataResponse::Broker b;
    b.node_id = r.Int32();
    b.host = Str(r.Str(f));
    b.port = r.Int32();
    if (version >= 1) b.rack = OptStr(r.NullableStr(f));
    r.Tags(f);
    out.brokers.push_back(std::move(b));
  }
  if (version >= 2) out.cluster_id = OptStr(r.NullableStr(f));
  if (version >= 1) out.controller_id = r.Int32();
  const int32_t nt = Count(r, f, 4, "topics");
  for (int32_t i = 0; i < nt && r.ok(); ++i) {
    MetadataResponse::Topic t;
    t.error_code = r.Int16();
    t.name = version >= 12 ? OptStr(r.NullableStr(f)) : std::optional<std::string>(Str(r.Str(f)));
    if (version >= 10) t.topic_id = r.ReadUuid();
    if (version >= 1) t.is_internal = r.Bool();
    const int32_t np = Count(r, f, 10, "partitions");
    for (int32_t k = 0; k < np && r.ok(); ++k) {
      MetadataResponse::Partition p;
      p.error_code = r.Int16();
      p.partition_index = r.Int32();
      p.leader_id = r.Int32();
      if (version >= 7) p.leader_epoch = r.Int32();
      p.replica_nodes = Int32Array(r, f, "replica_nodes");
      p.isr_nodes = Int32Array(r, f, "isr_nodes");
      if (version >= 5) p.offline_replicas = Int32Array(r, f, "offline_replicas");
      r.Tags(f);
      t.partitions.push_back(std::move(p));
    }
    if (version >= 8) t.topic_authorized_operations = r.Int32();
    r.Tags(f);
    out.topics.push_back(std::move(t));
  }
  if (version >= 8 && version <= 10) out.cluster_authorized_operations = r.Int32();
  r.Tags(f);
  return Finish(r, std::move(out), kKey, version);
}

// ---------------------------------------------------------------------------
// Produce

Result<ProduceRequest> DecodeProduceRequest(std::string_view body, int16_t version) {
  constexpr ApiKey kKey = ApiKey::kProduce;
  if (auto s = CheckVersion(kKey, version); !s) return std::unexpected(s.error());
  const bool f = Flex(kKey, version);
  Reader r(body);
  ProduceRequest out;
  if (version >= 3) out.transactional_id = OptStr(r.NullableStr(f));
  out.acks = r.Int16();
  out.timeout_ms = r.Int32();
  const int32_t nt = Count(r, f, f ? 3 : 6, "topic_data");
  for (int32_t i = 0; i < nt && r.ok(); ++i) {
    ProduceRequest::Topic t;
    t.name = Str(r.Str(f));
    const int32_t np = Count(r, f, f ? 6 : 8, "partition_data");
    for (int32_t k = 0; k < np && r.ok(); ++k) {
      ProduceRequest::Partition p;
      p.index = r.Int32();
      p.records = OptStr(r.NullableByteString(f));
      r.Tags(f);
      t.partitions.push_back(std::move(p));
    }
    r.Tags(f);
    out.topics.push_back(std::move(t));
  }
  r.Tags(f);
  return Finish(r, std::move(out), kKey, version);
}

void EncodeProduceRequest(const ProduceRequest& req, int16_t version, Writer& w) {
  const bool f = Flex(ApiKey::kProduce, version);
  if (version >= 3) w.NullableStr(View(req.transactional_id), f);
  w.Int16(req.acks);
  w.Int32(req.timeout_ms);
  w.ArrayLen(static_cast<int32_t>(req.topics.size()), f);
  for (const ProduceRequest::Topic& t : req.topics) {
    w.Str(t.name, f);
    w.ArrayLen(static_cast<int32_t>(t.partitions.size()), f);
    for (const ProduceRequest::Partition& p : t.partitions) {
      w.Int32(p.index);
      w.NullableByteString(View(p.records), f);
      w.Tags(f);
    }
    w.Tags(f);
  }
  w.Tags(f);
}

void EncodeProduceResponse(const ProduceResponse& resp, int16_t version, Writer& w) {
  const bool f = Flex(ApiKey::kProduce, version);
  w.ArrayLen(static_cast<int32_t>(resp.topics.size()), f);
  for (const ProduceResponse::Topic& t : resp.topics) {
    w.Str(t.name, f);
    w.ArrayLen(static_cast<int32_t>(t.partitions.size()), f);
    for (const ProduceResponse::Partition& p : t.partitions) {
      w.Int32(p.index);
      w.Int16(p.error_code);
      w.Int64(p.base_offset);
      if (version >= 2) w.Int64(p.log_append_time_ms);
      if (version >= 5) w.Int64(p.log_start_offset);
      if (version >= 8) {
        w.ArrayLen(static_cast<int32_t>(p.record_errors.size()), f);
        for (const ProduceResponse::RecordError& e : p.record_errors) {
          w.Int32(e.batch_index);
          w.NullableStr(View(e.batch_index_error_message), f);
          w.Tags(f);
        }
        w.NullableStr(View(p.error_message), f);
      }
      w.Tags(f);
    }
    w.Tags(f);
  }
  if (version >= 1) w.Int32(resp.throttle_time_ms);
  w.Tags(f);
}

Result<ProduceResponse> DecodeProduceResponse(std::string_view body, int16_t version) {
  constexpr ApiKey kKey = ApiKey::kProduce;
  if (auto s = CheckVersion(kKey, version); !s) return std::unexpected(s.error());
  const bool f = Flex(kKey, version);
  Reader r(body);
  ProduceResponse out;
  const int32_t nt = Count(r, f, 3, "responses");
  for (int32_t i = 0; i < nt && r.ok(); ++i) {
    ProduceResponse::Topic t;
    t.name = Str(r.Str(f));
    const int32_t np = Count(r, f, 14, "partition_responses");
    for (int32_t k = 0; k < np && r.ok(); ++k) {
      ProduceResponse::Partition p;
      p.index = r.Int32();
      p.error_code = r.Int16();
      p.base_offset = r.Int64();
      if (version >= 2) p.log_append_time_ms = r.Int64();
      if (version >= 5) p.log_start_offset = r.Int64();
      if (version >= 8) {
        const int32_t ne = Count(r, f, 5, "record_errors");
        for (int32_t e = 0; e < ne && r.ok(); ++e) {
          ProduceResponse::RecordError re;
          re.batch_index = r.Int32();
          re.batch_index_error_message = OptStr(r.NullableStr(f));
          r.Tags(f);
          p.record_errors.push_back(std::move(re));
        }
        p.error_message = OptStr(r.NullableStr(f));
      }
      r.Tags(f);
      t.partitions.push_back(std::move(p));
    }
    r.Tags(f);
    out.topics.push_back(std::move(t));
  }
  if (version >= 1) out.throttle_time_ms = r.Int32();
  r.Tags(f);
  return Finish(r, std::move(out), kKey, version);
}

// ---------------------------------------------------------------------------
// Fetch

Result<FetchRequest> DecodeFetchRequest(std::string_view body, int16_t version) {
  constexpr ApiKey kKey = ApiKey::kFetch;
  if (auto s = CheckVersion(kKey, version); !s) return std::unexpected(s.error());
  const bool f = Flex(kKey, version);
  Reader r(body);
  FetchRequest out;
  out.replica_id = r.Int32();
  out.max_wait_ms = r.Int32();
  out.min_bytes = r.Int32();
  if (version >= 3) out.max_bytes = r.Int32();
  if (version >= 4) out.isolation_level = r.Int8();
  if (version >= 7) {
    out.session_id = r.Int32();
    out.session_epoch = r.Int32();
  }
  const int32_t nt = Count(r, f, 2, "topics");
  for (int32_t i = 0; i < nt && r.ok(); ++i) {
    FetchRequest::Topic t;
    if (version >= 13) {
      t.topic_id = r.ReadUuid();
    } else {
      t.topic = Str(r.Str(f));
    }
    const int32_t np = Count(r, f, 16, "partitions");
    for (int32_t k = 0; k < np && r.ok(); ++k) {
      FetchRequest::Partition p;
      p.partition = r.Int32();
      if (version >= 9) p.current_leader_epoch = r.Int32();
      p.fetch_offset = r.Int64();
      if (version >= 12) p.last_fetched_epoch = r.Int32();
      if (version >= 5) p.log_start_offset = r.Int64();
      p.partition_max_bytes = r.Int32();
      r.Tags(f);
      t.partitions.push_back(p);
    }
    r.Tags(f);
    out.topics.push_back(std::move(t));
  }
  if (version >= 7) {
    const int32_t nf = Count(r, f, 2, "forgotten_topics_data");
    for (int32_t i = 0; i < nf && r.ok(); ++i) {
      FetchRequest::ForgottenTopic t;
      if (version >= 13) {
        t.topic_id = r.ReadUuid();
      } else {
        t.topic = Str(r.Str(f));
      }
      t.partitions = Int32Array(r, f, "partitions");
      r.Tags(f);
      out.forgotten_topics_data.push_back(std::move(t));
    }
  }
  if (version >= 11) out.rack_id = Str(r.Str(f));
  if (f) {
    // Request-level tagged fields: tag 0 = ClusterId (KIP-595), others skipped.
    const uint32_t count = r.UnsignedVarInt();
    if (count > r.remaining() / 2) r.Fail("tagged field count exceeds the remaining bytes");
    int64_t last = -1;
    for (uint32_t i = 0; i < count && r.ok(); ++i) {
      const uint32_t tag = r.UnsignedVarInt();
      const uint32_t size = r.UnsignedVarInt();
      if (!r.ok()) break;
      if (static_cast<int64_t>(tag) <= last) {
        r.Fail("tagged fields out of order");
        break;
      }
      last = tag;
      const std::string_view data = r.Raw(size);
      if (tag == 0 && r.ok()) {
        Reader sub(data);
        out.cluster_id = OptStr(sub.CompactNullableString());
        if (!sub.ok() || !sub.AtEnd()) r.Fail("malformed ClusterId tagged field");
      }
    }
  }
  return Finish(r, std::move(out), kKey, version);
}

void EncodeFetchRequest(const FetchRequest& req, int16_t version, Writer& w) {
  const bool f = Flex(ApiKey::kFetch, version);
  w.Int32(req.replica_id);
  w.Int32(req.max_wait_ms);
  w.Int32(req.min_bytes);
  if (version >= 3) w.Int32(req.max_bytes);
  if (version >= 4) w.Int8(req.isolation_level);
  if (version >= 7) {
    w.Int32(req.session_id);
    w.Int32(req.session_epoch);
  }
  w.ArrayLen(static_cast<int32_t>(req.topics.size()), f);
  for (const FetchRequest::Topic& t : req.topics) {
    if (version >= 13) {
      w.WriteUuid(t.topic_id);
    } else {
      w.Str(t.topic, f);
    }
    w.ArrayLen(static_cast<int32_t>(t.partitions.size()), f);
    for (const FetchRequest::Partition& p : t.partitions) {
      w.Int32(p.partition);
      if (version >= 9) w.Int32(p.current_leader_epoch);
      w.Int64(p.fetch_offset);
      if (version >= 12) w.Int32(p.last_fetched_epoch);
      if (version >= 5) w.Int64(p.log_start_offset);
      w.Int32(p.partition_max_bytes);
      w.Tags(f);
    }
    w.Tags(f);
  }
  if (version >= 7) {
    w.ArrayLen(static_cast<int32_t>(req.forgotten_topics_data.size()), f);
    for (const FetchRequest::ForgottenTopic& t : req.forgotten_topics_data) {
      if (version >= 13) {
        w.WriteUuid(t.topic_id);
      } else {
        w.Str(t.topic, f);
      }
      WriteInt32Array(w, t.partitions, f);
      w.Tags(f);
    }
  }
  if (version >= 11) w.Str(req.rack_id, f);
  if (f) {
    if (req.cluster_id) {
      Writer sub;
      sub.CompactNullableString(View(req.cluster_id));
      w.UnsignedVarInt(1);
      w.UnsignedVarInt(0);
      w.UnsignedVarInt(static_cast<uint32_t>(sub.size()));
      w.Raw(sub.buffer());
    } else {
      w.EmptyTaggedFields();
    }
  }
}

void EncodeFetchResponse(const FetchResponse& resp, int16_t version, Writer& w) {
  const bool f = Flex(ApiKey::kFetch, version);
  if (version >= 1) w.Int32(resp.throttle_time_ms);
  if (version >= 7) {
    w.Int16(resp.error_code);
    w.Int32(resp.session_id);
  }
  w.ArrayLen(static_cast<int32_t>(resp.responses.size()), f);
  for (const FetchResponse::Topic& t : resp.responses) {
    if (version >= 13) {
      w.WriteUuid(t.topic_id);
    } else {
      w.Str(t.topic, f);
    }
    w.ArrayLen(static_cast<int32_t>(t.partitions.size()), f);
    for (const FetchResponse::Partition& p : t.partitions) {
      w.Int32(p.partition_index);
      w.Int16(p.error_code);
      w.Int64(p.high_watermark);
      if (version >= 4) w.Int64(p.last_stable_offset);
      if (version >= 5) w.Int64(p.log_start_offset);
      if (version >= 4) {
        if (p.aborted_transactions_null) {
          w.ArrayLen(-1, f);
        } else {
          w.ArrayLen(static_cast<int32_t>(p.aborted_transactions.size()), f);
          for (const FetchResponse::AbortedTransaction& a : p.aborted_transactions) {
            w.Int64(a.producer_id);
            w.Int64(a.first_offset);
            w.Tags(f);
          }
        }
      }
      if (version >= 11) w.Int32(p.preferred_read_replica);
      size_t total = 0;
      for (std::string_view piece : p.records) total += piece.size();
      if (f) {
        w.UnsignedVarInt(static_cast<uint32_t>(total) + 1);
      } else {
        w.Int32(static_cast<int32_t>(total));
      }
      for (std::string_view piece : p.records) w.Raw(piece);
      w.Tags(f);
    }
    w.Tags(f);
  }
  w.Tags(f);
}

Result<FetchResponse> DecodeFetchResponse(std::string_view body, int16_t version) {
  constexpr ApiKey kKey = ApiKey::kFetch;
  if (auto s = CheckVersion(kKey, version); !s) return std::unexpected(s.error());
  const bool f = Flex(kKey, version);
  Reader r(body);
  FetchResponse out;
  if (version >= 1) out.throttle_time_ms = r.Int32();
  if (version >= 7) {
    out.error_code = r.Int16();
    out.session_id = r.Int32();
  }
  const int32_t nt = Count(r, f, 2, "responses");
  for (int32_t i = 0; i < nt && r.ok(); ++i) {
    FetchResponse::Topic t;
    if (version >= 13) {
      t.topic_id = r.ReadUuid();
    } else {
      t.topic = Str(r.Str(f));
    }
    const int32_t np = Count(r, f, 15, "partitions");
    for (int32_t k = 0; k < np && r.ok(); ++k) {
      FetchResponse::Partition p;
      p.partition_index = r.Int32();
      p.error_code = r.Int16();
      p.high_watermark = r.Int64();
      if (version >= 4) p.last_stable_offset = r.Int64();
      if (version >= 5) p.log_start_offset = r.Int64();
      if (version >= 4) {
        const int32_t na = r.ArrayLen(f, 16);
        p.aborted_transactions_null = na < 0;
        for (int32_t a = 0; a < na && r.ok(); ++a) {
          FetchResponse::AbortedTransaction at;
          at.producer_id = r.Int64();
          at.first_offset = r.Int64();
          r.Tags(f);
          p.aborted_transactions.push_back(at);
        }
      }
      if (version >= 11) p.preferred_read_replica = r.Int32();
      auto records = r.NullableByteString(f);
      if (records && !records->empty()) p.records.push_back(*records);
      r.Tags(f);
      t.partitions.push_back(std::move(p));
    }
    r.Tags(f);
    out.responses.push_back(std::move(t));
  }
  r.Tags(f);
  return Finish(r, std::move(out), kKey, version);
}

// ---------------------------------------------------------------------------
// ListOffsets

Result<ListOffsetsRequest> DecodeListOffsetsRequest(std::string_view body, int16_t version) {
  constexpr ApiKey kKey = ApiKey::kListOffsets;
  if (auto s = CheckVersion(kKey, version); !s) return std::unexpected(s.error());
  const bool f = Flex(kKey, version);
  Reader r(body);
  ListOffsetsRequest out;
  out.replica_id = r.Int32();
  if (version >= 2) out.isolation_level = r.Int8();
  const int32_t nt = Count(r, f, 2, "topics");
  for (int32_t i = 0; i < nt && r.ok(); ++i) {
    ListOffsetsRequest::Topic t;
    t.name = Str(r.Str(f));
    const int32_t np = Count(r, f, 12, "partitions");
    for (int32_t k = 0; k < np && r.ok(); ++k) {
      ListOffsetsRequest::Partition p;
      p.partition_index = r.Int32();
      if (version >= 4) p.current_leader_epoch = r.Int32();
      p.timestamp = r.Int64();
      if (version == 0) p.max_num_offsets = r.Int32();
      r.Tags(f);
      t.partitions.push_back(p);
    }
    r.Tags(f);
    out.topics.push_back(std::move(t));
  }
  r.Tags(f);
  return Finish(r, std::move(out), kKey, version);
}

void EncodeListOffsetsRequest(const ListOffsetsRequest& req, int16_t version, Writer& w) {
  const bool f = Flex(ApiKey::kListOffsets, version);
  w.Int32(req.replica_id);
  if (version >= 2) w.Int8(req.isolation_level);
  w.ArrayLen(static_cast<int32_t>(req.topics.size()), f);
  for (const ListOffsetsRequest::Topic& t : req.topics) {
    w.Str(t.name, f);
    w.ArrayLen(static_cast<int32_t>(t.partitions.size()), f);
    for (const ListOffsetsRequest::Partition& p : t.partitions) {
      w.Int32(p.partition_index);
      if (version >= 4) w.Int32(p.current_leader_epoch);
      w.Int64(p.timestamp);
      if (version == 0) w.Int32(p.max_num_offsets);
      w.Tags(f);
    }
    w.Tags(f);
  }
  w.Tags(f);
}

void EncodeListOffsetsResponse(const ListOffsetsResponse& resp, int16_t version, Writer& w) {
  const bool f = Flex(ApiKey::kListOffsets, version);
  if (version >= 2) w.Int32(resp.throttle_time_ms);
  w.ArrayLen(static_cast<int32_t>(resp.topics.size()), f);
  for (const ListOffsetsResponse::Topic& t : resp.topics) {
    w.Str(t.name, f);
    w.ArrayLen(static_cast<int32_t>(t.partitions.size()), f);
    for (const ListOffsetsResponse::Partition& p : t.partitions) {
      w.Int32(p.partition_index);
      w.Int16(p.error_code);
      if (version == 0) {
        w.ArrayLength(static_cast<int32_t>(p.old_style_offsets.size()));
        for (int64_t o : p.old_style_offsets) w.Int64(o);
      } else {
        w.Int64(p.timestamp);
        w.Int64(p.offset);
        if (version >= 4) w.Int32(p.leader_epoch);
      }
      w.Tags(f);
    }
    w.Tags(f);
  }
  w.Tags(f);
}

// ---------------------------------------------------------------------------
// OffsetCommit

Result<OffsetCommitRequest> DecodeOffsetCommitRequest(std::string_view body, int16_t version) {
  constexpr ApiKey kKey = ApiKey::kOffsetCommit;
  if (auto s = CheckVersion(kKey, version); !s) return std::unexpected(s.error());
  const bool f = Flex(kKey, version);
  Reader r(body);
  OffsetCommitRequest out;
  out.group_id = Str(r.Str(f));
  if (version >= 1) {
    out.generation_id = r.Int32();
    out.member_id = Str(r.Str(f));
  }
  if (version >= 7) out.group_instance_id = OptStr(r.NullableStr(f));
  if (version >= 2 && version <= 4) out.retention_time_ms = r.Int64();
  const int32_t nt = Count(r, f, 2, "topics");
  for (int32_t i = 0; i < nt && r.ok(); ++i) {
    OffsetCommitRequest::Topic t;
    t.name = Str(r.Str(f));
    const int32_t np = Count(r, f, 13, "partitions");
    for (int32_t k = 0; k < np && r.ok(); ++k) {
      OffsetCommitRequest::Partition p;
      p.partition_index = r.Int32();
      p.committed_offset = r.Int64();
      if (version >= 6) p.committed_leader_epoch = r.Int32();
      if (version == 1) p.commit_timestamp = r.Int64();
      p.committed_metadata = OptStr(r.NullableStr(f));
      r.Tags(f);
      t.partitions.push_back(std::move(p));
    }
    r.Tags(f);
    out.topics.push_back(std::move(t));
  }
  r.Tags(f);
  return Finish(r, std::move(out), kKey, version);
}

void EncodeOffsetCommitResponse(const OffsetCommitResponse& resp, int16_t version, Writer& w) {
  const bool f = Flex(ApiKey::kOffsetCommit, version);
  if (version >= 3) w.Int32(resp.throttle_time_ms);
  w.ArrayLen(static_cast<int32_t>(resp.topics.size()), f);
  for (const OffsetCommitResponse::Topic& t : resp.topics) {
    w.Str(t.name, f);
    w.ArrayLen(static_cast<int32_t>(t.partitions.size()), f);
    for (const OffsetCommitResponse::Partition& p : t.partitions) {
      w.Int32(p.partition_index);
      w.Int16(p.error_code);
      w.Tags(f);
    }
    w.Tags(f);
  }
  w.Tags(f);
}

// ---------------------------------------------------------------------------
// OffsetFetch

namespace {

std::optional<std::vector<OffsetFetchRequest::Topic>> OffsetFetchTopics(Reader& r, bool f,
                                                                        bool nullable) {
  const int32_t n = r.ArrayLen(f, 2);
  if (n < 0) {
    if (!nullable) r.Fail("null topics array before version 2");
    return std::nullopt;
  }
  std::vector<OffsetFetchRequest::Topic> topics;
  for (int32_t i = 0; i < n && r.ok(); ++i) {
    OffsetFetchRequest::Topic t;
    t.name = Str(r.Str(f));
    t.partition_indexes = Int32Array(r, f, "partition_indexes");
    r.Tags(f);
    topics.push_back(std::move(t));
  }
  return topics;
}

void WriteOffsetFetchTopics(Writer& w,
                            const std::optional<std::vector<OffsetFetchRequest::Topic>>& t,
                            bool f) {
  if (!t) {
    w.ArrayLen(-1, f);
    return;
  }
  w.ArrayLen(static_cast<int32_t>(t->size()), f);
  for (const OffsetFetchRequest::Topic& x : *t) {
    w.Str(x.name, f);
    WriteInt32Array(w, x.partition_indexes, f);
    w.Tags(f);
  }
}

void WriteOffsetFetchResponseTopics(Writer& w, const std::vector<OffsetFetchResponse::Topic>& ts,
                                    int16_t version, bool f) {
  w.ArrayLen(static_cast<int32_t>(ts.size()), f);
  for (const OffsetFetchResponse::Topic& t : ts) {
    w.Str(t.name, f);
    w.ArrayLen(static_cast<int32_t>(t.partitions.size()), f);
    for (const OffsetFetchResponse::Partition& p : t.partitions) {
      w.Int32(p.partition_index);
      w.Int64(p.committed_offset);
      if (version >= 5) w.Int32(p.committed_leader_epoch);
      w.NullableStr(View(p.metadata), f);
      w.Int16(p.error_code);
      w.Tags(f);
    }
    w.Tags(f);
  }
}

}  // namespace

Result<OffsetFetchRequest> DecodeOffsetFetchRequest(std::string_view body, int16_t version) {
  constexpr ApiKey kKey = ApiKey::kOffsetFetch;
  if (auto s = CheckVersion(kKey, version); !s) return std::unexpected(s.error());
  const bool f = Flex(kKey, version);
  Reader r(body);
  OffsetFetchRequest out;
  if (version <= 7) {
    OffsetFetchRequest::Group g;
    g.group_id = Str(r.Str(f));
    g.topics = OffsetFetchTopics(r, f, version >= 2);
    out.groups.push_back(std::move(g));
  } else {
    const int32_t ng = Count(r, f, 2, "groups");
    for (int32_t i = 0; i < ng && r.ok(); ++i) {
      OffsetFetchRequest::Group g;
      g.group_id = Str(r.Str(f));
      g.topics = OffsetFetchTopics(r, f, true);
      r.Tags(f);
      out.groups.push_back(std::move(g));
    }
  }
  if (version >= 7) out.require_stable = r.Bool();
  r.Tags(f);
  return Finish(r, std::move(out), kKey, version);
}

void EncodeOffsetFetchRequest(const OffsetFetchRequest& req, int16_t version, Writer& w) {
  const bool f = Flex(ApiKey::kOffsetFetch, version);
  if (version <= 7) {
    static const OffsetFetchRequest::Group kEmpty;
    const OffsetFetchRequest::Group& g = req.groups.empty() ? kEmpty : req.groups[0];
    w.Str(g.group_id, f);
    if (!g.topics && version < 2) {
      w.ArrayLen(0, f);
    } else {
      WriteOffsetFetchTopics(w, g.topics, f);
    }
  } else {
    w.ArrayLen(static_cast<int32_t>(req.groups.size()), f);
    for (const OffsetFetchRequest::Group& g : req.groups) {
      w.Str(g.group_id, f);
      WriteOffsetFetchTopics(w, g.topics, f);
      w.Tags(f);
    }
  }
  if (version >= 7) w.Bool(req.require_stable);
  w.Tags(f);
}

void EncodeOffsetFetchResponse(const OffsetFetchResponse& resp, int16_t version, Writer& w) {
  const bool f = Flex(ApiKey::kOffsetFetch, version);
  if (version >= 3) w.Int32(resp.throttle_time_ms);
  if (version <= 7) {
    static const OffsetFetchResponse::Group kEmpty;
    const OffsetFetchResponse::Group& g = resp.groups.empty() ? kEmpty : resp.groups[0];
    WriteOffsetFetchResponseTopics(w, g.topics, version, f);
    if (version >= 2) w.Int16(g.error_code);
  } else {
    w.ArrayLen(static_cast<int32_t>(resp.groups.size()), f);
    for (const OffsetFetchResponse::Group& g : resp.groups) {
      w.Str(g.group_id, f);
      WriteOffsetFetchResponseTopics(w, g.topics, version, f);
      w.Int16(g.error_code);
      w.Tags(f);
    }
  }
  w.Tags(f);
}

// ---------------------------------------------------------------------------
// FindCoordinator

Result<FindCoordinatorRequest> DecodeFindCoordinatorRequest(std::string_view body,
                                                            int16_t version) {
  constexpr ApiKey kKey = ApiKey::kFindCoordinator;
  if (auto s = CheckVersion(kKey, version); !s) return std::unexpected(s.error());
  const bool f = Flex(kKey, version);
  Reader r(body);
  FindCoordinatorRequest out;
  std::string key;
  if (version <= 3) key = Str(r.Str(f));
  if (version >= 1) out.key_type = r.Int8();
  if (version >= 4) {
    out.coordinator_keys = StringArray(r, f, "coordinator_keys");
  } else {
    out.coordinator_keys.push_back(std::move(key));
  }
  r.Tags(f);
  return Finish(r, std::move(out), kKey, version);
}

void EncodeFindCoordinatorResponse(const FindCoordinatorResponse& resp, int16_t version,
                                   Writer& w) {
  const bool f = Flex(ApiKey::kFindCoordinator, version);
  if (version >= 1) w.Int32(resp.throttle_time_ms);
  if (version <= 3) {
    static const FindCoordinatorResponse::Coordinator kNone = [] {
      FindCoordinatorResponse::Coordinator c;
      c.error_code = Code(ErrorCode::kCoordinatorNotAvailable);
      return c;
    }();
    const FindCoordinatorResponse::Coordinator& c =
        resp.coordinators.empty() ? kNone : resp.coordinators[0];
    w.Int16(c.error_code);
    if (version >= 1) w.NullableStr(View(c.error_message), f);
    w.Int32(c.node_id);
    w.Str(c.host, f);
    w.Int32(c.port);
  } else {
    w.ArrayLen(static_cast<int32_t>(resp.coordinators.size()), f);
    for (const FindCoordinatorResponse::Coordinator& c : resp.coordinators) {
      w.Str(c.key, f);
      w.Int32(c.node_id);
      w.Str(c.host, f);
      w.Int32(c.port);
      w.Int16(c.error_code);
      w.NullableStr(View(c.error_message), f);
      w.Tags(f);
    }
  }
  w.Tags(f);
}

// ---------------------------------------------------------------------------
// JoinGroup

Result<JoinGroupRequest> DecodeJoinGroupRequest(std::string_view body, int16_t version) {
  constexpr ApiKey kKey = ApiKey::kJoinGroup;
  if (auto s = CheckVersion(kKey, version); !s) return std::unexpected(s.error());
  const bool f = Flex(kKey, version);
  Reader r(body);
  JoinGroupRequest out;
  out.group_id = Str(r.Str(f));
  out.session_timeout_ms = r.Int32();
  out.rebalance_timeout_ms = version >= 1 ? r.Int32() : out.session_timeout_ms;
  out.member_id = Str(r.Str(f));
  if (version >= 5) out.group_instance_id = OptStr(r.NullableStr(f));
  out.protocol_type = Str(r.Str(f));
  const int32_t n = Count(r, f, f ? 2 : 6, "protocols");
  for (int32_t i = 0; i < n && r.ok(); ++i) {
    JoinGroupRequest::Protocol p;
    p.name = Str(r.Str(f));
    p.metadata = Str(r.ByteString(f));
    r.Tags(f);
    out.protocols.push_back(std::move(p));
  }
  if (version >= 8) out.reason = OptStr(r.NullableStr(f));
  r.Tags(f);
  return Finish(r, std::move(out), kKey, version);
}

void EncodeJoinGroupResponse(const JoinGroupResponse& resp, int16_t version, Writer& w) {
  const bool f = Flex(ApiKey::kJoinGroup, version);
  if (version >= 2) w.Int32(resp.throttle_time_ms);
  w.Int16(resp.error_code);
  w.Int32(resp.generation_id);
  if (version >= 7) w.NullableStr(View(resp.protocol_type), f);
  WriteMaybeNullStr(w, resp.protocol_name, version >= 7, f);
  w.Str(resp.leader, f);
  if (version >= 9) w.Bool(resp.skip_assignment);
  w.Str(resp.member_id, f);
  w.ArrayLen(static_cast<int32_t>(resp.members.size()), f);
  for (const JoinGroupResponse::Member& m : resp.members) {
    w.Str(m.member_id, f);
    if (version >= 5) w.NullableStr(View(m.group_instance_id), f);
    w.ByteString(m.metadata, f);
    w.Tags(f);
  }
  w.Tags(f);
}

// ---------------------------------------------------------------------------
// Heartbeat

Result<HeartbeatRequest> DecodeHeartbeatRequest(std::string_view body, int16_t version) {
  constexpr ApiKey kKey = ApiKey::kHeartbeat;
  if (auto s = CheckVersion(kKey, version); !s) return std::unexpected(s.error());
  const bool f = Flex(kKey, version);
  Reader r(body);
  HeartbeatRequest out;
  out.group_id = Str(r.Str(f));
  out.generation_id = r.Int32();
  out.member_id = Str(r.Str(f));
  if (version >= 3) out.group_instance_id = OptStr(r.NullableStr(f));
  r.Tags(f);
  return Finish(r, std::move(out), kKey, version);
}

void EncodeHeartbeatResponse(const HeartbeatResponse& resp, int16_t version, Writer& w) {
  const bool f = Flex(ApiKey::kHeartbeat, version);
  if (version >= 1) w.Int32(resp.throttle_time_ms);
  w.Int16(resp.error_code);
  w.Tags(f);
}

// ---------------------------------------------------------------------------
// LeaveGroup

Result<LeaveGroupRequest> DecodeLeaveGroupRequest(std::string_view body, int16_t version) {
  constexpr ApiKey kKey = ApiKey::kLeaveGroup;
  if (auto s = CheckVersion(kKey, version); !s) return std::unexpected(s.error());
  const bool f = Flex(kKey, version);
  Reader r(body);
  LeaveGroupRequest out;
  out.group_id = Str(r.Str(f));
  if (version <= 2) {
    LeaveGroupRequest::Member m;
    m.member_id = Str(r.Str(f));
    out.members.push_back(std::move(m));
  } else {
    const int32_t n = Count(r, f, 2, "members");
    for (int32_t i = 0; i < n && r.ok(); ++i) {
      LeaveGroupRequest::Member m;
      m.member_id = Str(r.Str(f));
      m.group_instance_id = OptStr(r.NullableStr(f));
      if (version >= 5) m.reason = OptStr(r.NullableStr(f));
      r.Tags(f);
      out.members.push_back(std::move(m));
    }
  }
  r.Tags(f);
  return Finish(r, std::move(out), kKey, version);
}

void EncodeLeaveGroupResponse(const LeaveGroupResponse& resp, int16_t version, Writer& w) {
  const bool f = Flex(ApiKey::kLeaveGroup, version);
  if (version >= 1) w.Int32(resp.throttle_time_ms);
  w.Int16(resp.error_code);
  if (version >= 3) {
    w.ArrayLen(static_cast<int32_t>(resp.members.size()), f);
    for (const LeaveGroupResponse::Member& m : resp.members) {
      w.Str(m.member_id, f);
      w.NullableStr(View(m.group_instance_id), f);
      w.Int16(m.error_code);
      w.Tags(f);
    }
  }
  w.Tags(f);
}

// ---------------------------------------------------------------------------
// SyncGroup

Result<SyncGroupRequest> DecodeSyncGroupRequest(std::string_view body, int16_t version) {
  constexpr ApiKey kKey = ApiKey::kSyncGroup;
  if (auto s = CheckVersion(kKey, version); !s) return std::unexpected(s.error());
  const bool f = Flex(kKey, version);
  Reader r(body);
  SyncGroupRequest out;
  out.group_id = Str(r.Str(f));
  out.generation_id = r.Int32();
  out.member_id = Str(r.Str(f));
  if (version >= 3) out.group_instance_id = OptStr(r.NullableStr(f));
  if (version >= 5) {
    out.protocol_type = OptStr(r.NullableStr(f));
    out.protocol_name = OptStr(r.NullableStr(f));
  }
  const int32_t n = Count(r, f, f ? 2 : 6, "assignments");
  for (int32_t i = 0; i < n && r.ok(); ++i) {
    SyncGroupRequest::Assignment a;
    a.member_id = Str(r.Str(f));
    a.assignment = Str(r.ByteString(f));
    r.Tags(f);
    out.assignments.push_back(std::move(a));
  }
  r.Tags(f);
  return Finish(r, std::move(out), kKey, version);
}

void EncodeSyncGroupResponse(const SyncGroupResponse& resp, int16_t version, Writer& w) {
  const bool f = Flex(ApiKey::kSyncGroup, version);
  if (version >= 1) w.Int32(resp.throttle_time_ms);
  w.Int16(resp.error_code);
  if (version >= 5) {
    w.NullableStr(View(resp.protocol_type), f);
    w.NullableStr(View(resp.protocol_name), f);
  }
  w.ByteString(resp.assignment, f);
  w.Tags(f);
}

// ---------------------------------------------------------------------------
// DescribeGroups

Result<DescribeGroupsRequest> DecodeDescribeGroupsRequest(std::string_view body, int16_t version) {
  constexpr ApiKey kKey = ApiKey::kDescribeGroups;
  if (auto s = CheckVersion(kKey, version); !s) return std::unexpected(s.error());
  const bool f = Flex(kKey, version);
  Reader r(body);
  DescribeGroupsRequest out;
  out.groups = StringArray(r, f, "groups");
  if (version >= 3) out.include_authorized_operations = r.Bool();
  r.Tags(f);
  return Finish(r, std::move(out), kKey, version);
}

void EncodeDescribeGroupsResponse(const DescribeGroupsResponse& resp, int16_t version, Writer& w) {
  const bool f = Flex(ApiKey::kDescribeGroups, version);
  if (version >= 1) w.Int32(resp.throttle_time_ms);
  w.ArrayLen(static_cast<int32_t>(resp.groups.size()), f);
  for (const DescribeGroupsResponse::Group& g : resp.groups) {
    w.Int16(g.error_code);
    w.Str(g.group_id, f);
    w.Str(g.group_state, f);
    w.Str(g.protocol_type, f);
    w.Str(g.protocol_data, f);
    w.ArrayLen(static_cast<int32_t>(g.members.size()), f);
    for (const DescribeGroupsResponse::Member& m : g.members) {
      w.Str(m.member_id, f);
      if (version >= 4) w.NullableStr(View(m.group_instance_id), f);
      w.Str(m.client_id, f);
      w.Str(m.client_host, f);
      w.ByteString(m.member_metadata, f);
      w.ByteString(m.member_assignment, f);
      w.Tags(f);
    }
    if (version >= 3) w.Int32(g.authorized_operations);
    w.Tags(f);
  }
  w.Tags(f);
}

// ---------------------------------------------------------------------------
// ListGroups

Result<ListGroupsRequest> DecodeListGroupsRequest(std::string_view body, int16_t version) {
  constexpr ApiKey kKey = ApiKey::kListGroups;
  if (auto s = CheckVersion(kKey, version); !s) return std::unexpected(s.error());
  const bool f = Flex(kKey, version);
  Reader r(body);
  ListGroupsRequest out;
  if (version >= 4) out.states_filter = StringArray(r, f, "states_filter");
  r.Tags(f);
  return Finish(r, std::move(out), kKey, version);
}

void EncodeListGroupsResponse(const ListGroupsResponse& resp, int16_t version, Writer& w) {
  const bool f = Flex(ApiKey::kListGroups, version);
  if (version >= 1) w.Int32(resp.throttle_time_ms);
  w.Int16(resp.error_code);
  w.ArrayLen(static_cast<int32_t>(resp.groups.size()), f);
  for (const ListGroupsResponse::Group& g : resp.groups) {
    w.Str(g.group_id, f);
    w.Str(g.protocol_type, f);
    if (version >= 4) w.Str(g.group_state, f);
    w.Tags(f);
  }
  w.Tags(f);
}

// ---------------------------------------------------------------------------
// SASL

Result<SaslHandshakeRequest> DecodeSaslHandshakeRequest(std::string_view body, int16_t version) {
  constexpr ApiKey kKey = ApiKey::kSaslHandshake;
  if (auto s = CheckVersion(kKey, version); !s) return std::unexpected(s.error());
  Reader r(body);
  SaslHandshakeRequest out;
  out.mechanism = Str(r.String());
  return Finish(r, std::move(out), kKey, version);
}

void EncodeSaslHandshakeResponse(const SaslHandshakeResponse& resp, int16_t version, Writer& w) {
  w.Int16(resp.error_code);
  WriteStringArray(w, resp.mechanisms, false);
}

Result<SaslAuthenticateRequest> DecodeSaslAuthenticateRequest(std::string_view body,
                                                              int16_t version) {
  constexpr ApiKey kKey = ApiKey::kSaslAuthenticate;
  if (auto s = CheckVersion(kKey, version); !s) return std::unexpected(s.error());
  const bool f = Flex(kKey, version);
  Reader r(body);
  SaslAuthenticateRequest out;
  out.auth_bytes = Str(r.ByteString(f));
  r.Tags(f);
  return Finish(r, std::move(out), kKey, version);
}

void EncodeSaslAuthenticateResponse(const SaslAuthenticateResponse& resp, int16_t version,
                                    Writer& w) {
  const bool f = Flex(ApiKey::kSaslAuthenticate, version);
  w.Int16(resp.error_code);
  w.NullableStr(View(resp.error_message), f);
  w.ByteString(resp.auth_bytes, f);
  if (version >= 1) w.Int64(resp.session_lifetime_ms);
  w.Tags(f);
}

Result<SaslPlainCredentials> ParseSaslPlain(std::string_view token) {
  const size_t a = token.find('\0');
  if (a == std::string_view::npos) {
    return Fail(pgcdc::ErrorCode::kParse, "SASL/PLAIN: missing NUL separator");
  }
  const size_t b = token.find('\0', a + 1);
  if (b == std::string_view::npos) {
    return Fail(pgcdc::ErrorCode::kParse, "SASL/PLAIN: missing second NUL separator");
  }
  if (token.find('\0', b + 1) != std::string_view::npos) {
    return Fail(pgcdc::ErrorCode::kParse, "SASL/PLAIN: too many NUL separators");
  }
  SaslPlainCredentials c;
  c.authzid = Str(token.substr(0, a));
  c.username = Str(token.substr(a + 1, b - a - 1));
  c.password = Str(token.substr(b + 1));
  if (c.username.empty()) return Fail(pgcdc::ErrorCode::kParse, "SASL/PLAIN: empty username");
  return c;
}

}  // namespace pgcdc::codec::kafka
