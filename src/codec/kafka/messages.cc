#include "codec/kafka/messages.h"

#include <algorithm>
#include <array>
#include <concepts>
#include <limits>
#include <string>
#include <type_traits>

namespace pgcdc::codec::kafka {

namespace {

constexpr int16_t kNever = std::numeric_limits<int16_t>::max();

// Ordered by api key.
constexpr std::array<ApiVersionRange, 19> kSupportedApis = {{
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
    {22, 0, 4, 2},       // InitProducerId
    {24, 0, 3, 3},       // AddPartitionsToTxn
    {26, 0, 3, 3},       // EndTxn
    {36, 0, 2, 2},       // SaslAuthenticate
}};

std::string Copy(std::string_view v) { return std::string(v); }
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

bool Flex(ApiKey key, int16_t version) { return IsFlexible(static_cast<int16_t>(key), version); }

// ---------------------------------------------------------------------------
// One field list per message serves both directions. A message's Walk()
// visits its fields in wire order through an Io, which is either
//  * a Decoder: reads each field into a mutable message, strictly (the
//    Reader's failure is sticky; a non-nullable null array fails; array
//    counts are checked against the bytes left times a minimum element size);
//  * an Encoder: writes each field of a const message.
// Both carry the version (v) and whether it is flexible (f). Struct array
// elements end with a tagged-field section; Walk() writes the message's own.

class Decoder {
 public:
  static constexpr bool kDecoding = true;

  Decoder(Reader& reader, int16_t version, bool flexible) : r(reader), v(version), f(flexible) {}

  void Int8(int8_t& x) { x = r.Int8(); }
  void Bool(bool& x) { x = r.Bool(); }
  void Int16(int16_t& x) { x = r.Int16(); }
  void Int32(int32_t& x) { x = r.Int32(); }
  void Int64(int64_t& x) { x = r.Int64(); }
  void Id(Uuid& x) { x = r.ReadUuid(); }
  void Str(std::string& s) { s = Copy(r.Str(f)); }
  void NullableStr(std::optional<std::string>& s) { s = OptStr(r.NullableStr(f)); }
  // A string that is nullable only when `nullable` (the version allows it).
  void MaybeNullStr(std::optional<std::string>& s, bool nullable) {
    if (nullable) {
      NullableStr(s);
    } else {
      s = Copy(r.Str(f));
    }
  }
  void Bytes(std::string& s) { s = Copy(r.ByteString(f)); }
  void NullableBytes(std::optional<std::string>& s) { s = OptStr(r.NullableByteString(f)); }

  void Int32s(std::vector<int32_t>& out, const char* field) {
    Primitives(out, 4, field, &Reader::Int32);
  }
  void Int64s(std::vector<int64_t>& out, const char* field) {
    Primitives(out, 8, field, &Reader::Int64);
  }
  void Strs(std::vector<std::string>& out, const char* field) {
    const int32_t n = Count(f ? 1 : 2, field);
    for (int32_t i = 0; i < n && r.ok(); ++i) out.push_back(Copy(r.Str(f)));
  }

  // A non-nullable array of structs; `each` walks one element.
  template <class T, class Fn>
  void Array(std::vector<T>& out, size_t min_element_size, const char* field, Fn&& each) {
    Elements(out, Count(min_element_size, field), each);
  }
  // A nullable array (nullopt <-> null). Where the version has no null
  // (`nullable` false) a null fails, and an empty array means nullopt when
  // `empty_is_null`.
  template <class T, class Fn>
  void NullableArray(std::optional<std::vector<T>>& out, size_t min_element_size, const char* field,
                     bool nullable, bool empty_is_null, Fn&& each) {
    out.reset();
    const int32_t n = r.ArrayLen(f, min_element_size);
    if (n < 0) {
      if (!nullable) {
        r.Fail(std::string("null ") + field + " array in version " + std::to_string(v));
      }
      return;
    }
    if (n == 0 && empty_is_null) return;
    Elements(out.emplace(), n, each);
  }
  // Old versions carry one element at top level where newer ones carry an
  // array: it is decoded as the only element.
  template <class T, class Fn>
  void One(std::vector<T>& out, const T& /*absent*/, Fn&& each) {
    T x{};
    each(x);
    out.push_back(std::move(x));
  }

  // Message-level tagged fields of which tag `tag` (a compact nullable
  // string named `name`) is surfaced; others are skipped.
  void TagsWithString(uint32_t tag, const char* name, std::optional<std::string>& value) {
    if (!f) return;
    r.TaggedFields([&](uint32_t t, std::string_view data) {
      if (t != tag) return;
      Reader sub(data);
      value = OptStr(sub.CompactNullableString());
      if (!sub.ok() || !sub.AtEnd()) r.Fail(std::string("malformed ") + name + " tagged field");
    });
  }
  // A records field: one view into the body (none when null or empty).
  void Records(std::vector<std::string_view>& out) {
    auto records = r.NullableByteString(f);
    if (records && !records->empty()) out.push_back(*records);
  }

  void Tags() { r.Tags(f); }

  Reader& r;
  const int16_t v;
  const bool f;

 private:
  // A non-nullable array's count; null fails.
  int32_t Count(size_t min_element_size, const char* field) {
    const int32_t n = r.ArrayLen(f, min_element_size);
    if (n < 0) {
      r.Fail(std::string("null array for non-nullable field ") + field);
      return 0;
    }
    return n;
  }
  template <class T, class Fn>
  void Elements(std::vector<T>& out, int32_t n, Fn& each) {
    for (int32_t i = 0; i < n && r.ok(); ++i) {
      T x{};
      each(x);
      r.Tags(f);
      out.push_back(std::move(x));
    }
  }
  template <class T>
  void Primitives(std::vector<T>& out, size_t size, const char* field, T (Reader::*read)()) {
    const int32_t n = Count(size, field);
    out.reserve(static_cast<size_t>(n));
    for (int32_t i = 0; i < n && r.ok(); ++i) out.push_back((r.*read)());
  }
};

class Encoder {
 public:
  static constexpr bool kDecoding = false;

  Encoder(Writer& writer, int16_t version, bool flexible) : w(writer), v(version), f(flexible) {}

  void Int8(int8_t x) { w.Int8(x); }
  void Bool(bool x) { w.Bool(x); }
  void Int16(int16_t x) { w.Int16(x); }
  void Int32(int32_t x) { w.Int32(x); }
  void Int64(int64_t x) { w.Int64(x); }
  void Id(const Uuid& x) { w.WriteUuid(x); }
  void Str(const std::string& s) { w.Str(s, f); }
  void NullableStr(const std::optional<std::string>& s) { w.NullableStr(View(s), f); }
  // Where the version does not allow a null, a null is written as "".
  void MaybeNullStr(const std::optional<std::string>& s, bool nullable) {
    if (nullable) {
      NullableStr(s);
    } else {
      w.Str(s ? std::string_view(*s) : std::string_view(), f);
    }
  }
  void Bytes(const std::string& s) { w.ByteString(s, f); }
  void NullableBytes(const std::optional<std::string>& s) { w.NullableByteString(View(s), f); }

  void Int32s(const std::vector<int32_t>& in, const char* /*field*/) {
    w.ArrayLen(static_cast<int32_t>(in.size()), f);
    for (int32_t x : in) w.Int32(x);
  }
  void Int64s(const std::vector<int64_t>& in, const char* /*field*/) {
    w.ArrayLen(static_cast<int32_t>(in.size()), f);
    for (int64_t x : in) w.Int64(x);
  }
  void Strs(const std::vector<std::string>& in, const char* /*field*/) {
    w.ArrayLen(static_cast<int32_t>(in.size()), f);
    for (const std::string& s : in) w.Str(s, f);
  }

  template <class T, class Fn>
  void Array(const std::vector<T>& in, size_t /*min_element_size*/, const char* /*field*/,
             Fn&& each) {
    w.ArrayLen(static_cast<int32_t>(in.size()), f);
    for (const T& x : in) {
      each(x);
      w.Tags(f);
    }
  }
  // nullopt is written as a null array, or as an empty one where the version
  // has no null.
  template <class T, class Fn>
  void NullableArray(const std::optional<std::vector<T>>& in, size_t min_element_size,
                     const char* field, bool nullable, bool /*empty_is_null*/, Fn&& each) {
    if (in) {
      Array(*in, min_element_size, field, each);
    } else {
      w.ArrayLen(nullable ? -1 : 0, f);
    }
  }
  // The first element in the old single-element layout (`absent` when none).
  template <class T, class Fn>
  void One(const std::vector<T>& in, const T& absent, Fn&& each) {
    each(in.empty() ? absent : in[0]);
  }

  void TagsWithString(uint32_t tag, const char* /*name*/, const std::optional<std::string>& value) {
    if (!f) return;
    if (!value) {
      w.EmptyTaggedFields();
      return;
    }
    Writer sub;
    sub.CompactNullableString(View(value));
    w.UnsignedVarInt(1);
    w.UnsignedVarInt(tag);
    w.UnsignedVarInt(static_cast<uint32_t>(sub.size()));
    w.Raw(sub.buffer());
  }
  // The pieces written back to back as one records field.
  void Records(const std::vector<std::string_view>& pieces) {
    size_t total = 0;
    for (std::string_view piece : pieces) total += piece.size();
    if (f) {
      w.UnsignedVarInt(static_cast<uint32_t>(total) + 1);
    } else {
      w.Int32(static_cast<int32_t>(total));
    }
    for (std::string_view piece : pieces) w.Raw(piece);
  }

  void Tags() { w.Tags(f); }

  Writer& w;
  const int16_t v;
  const bool f;
};

// Walk(io, message) overloads: one per message type, M being T or const T.
template <class M, class T>
concept Is = std::same_as<std::remove_const_t<M>, T>;

template <class T>
Result<T> Decode(ApiKey key, std::string_view body, int16_t version) {
  if (!IsSupported(static_cast<int16_t>(key), version)) {
    return Fail(pgcdc::ErrorCode::kParse, Context(key, version) + ": unsupported version");
  }
  Reader r(body);
  Decoder io(r, version, Flex(key, version));
  T out;
  Walk(io, out);
  if (r.ok() && !r.AtEnd()) {
    r.Fail(std::to_string(r.remaining()) + " unexpected trailing bytes at offset " +
           std::to_string(r.position()));
  }
  if (!r.ok()) return Fail(pgcdc::ErrorCode::kParse, Context(key, version) + ": " + r.error());
  return out;
}

template <class T>
void Encode(ApiKey key, const T& message, int16_t version, Writer& w) {
  Encoder io(w, version, Flex(key, version));
  Walk(io, message);
}

// ---------------------------------------------------------------------------
// ApiVersions

template <class Io, Is<ApiVersionsRequest> M>
void Walk(Io& io, M& m) {
  if (io.v >= 3) {
    io.Str(m.client_software_name);
    io.Str(m.client_software_version);
  }
  io.Tags();
}

template <class Io, Is<ApiVersionsResponse> M>
void Walk(Io& io, M& m) {
  io.Int16(m.error_code);
  io.Array(m.api_keys, 6, "api_keys", [&](auto& a) {
    io.Int16(a.api_key);
    io.Int16(a.min_version);
    io.Int16(a.max_version);
    if constexpr (Io::kDecoding) a.first_flexible_version = kNever;  // not sent
  });
  if (io.v >= 1) io.Int32(m.throttle_time_ms);
  io.Tags();
}

// ---------------------------------------------------------------------------
// Metadata

template <class Io, Is<MetadataRequest> M>
void Walk(Io& io, M& m) {
  // v0 has no null array: an empty one means all topics.
  io.NullableArray(m.topics, 1, "topics", io.v >= 1, io.v == 0, [&](auto& t) {
    if (io.v >= 10) io.Id(t.topic_id);
    io.MaybeNullStr(t.name, io.v >= 10);
  });
  if (io.v >= 4) io.Bool(m.allow_auto_topic_creation);
  if (io.v >= 8 && io.v <= 10) io.Bool(m.include_cluster_authorized_operations);
  if (io.v >= 8) io.Bool(m.include_topic_authorized_operations);
  io.Tags();
}

template <class Io, Is<MetadataResponse> M>
void Walk(Io& io, M& m) {
  if (io.v >= 3) io.Int32(m.throttle_time_ms);
  io.Array(m.brokers, 8, "brokers", [&](auto& b) {
    io.Int32(b.node_id);
    io.Str(b.host);
    io.Int32(b.port);
    if (io.v >= 1) io.NullableStr(b.rack);
  });
  if (io.v >= 2) io.NullableStr(m.cluster_id);
  if (io.v >= 1) io.Int32(m.controller_id);
  io.Array(m.topics, 4, "topics", [&](auto& t) {
    io.Int16(t.error_code);
    io.MaybeNullStr(t.name, io.v >= 12);
    if (io.v >= 10) io.Id(t.topic_id);
    if (io.v >= 1) io.Bool(t.is_internal);
    io.Array(t.partitions, 10, "partitions", [&](auto& p) {
      io.Int16(p.error_code);
      io.Int32(p.partition_index);
      io.Int32(p.leader_id);
      if (io.v >= 7) io.Int32(p.leader_epoch);
      io.Int32s(p.replica_nodes, "replica_nodes");
      io.Int32s(p.isr_nodes, "isr_nodes");
      if (io.v >= 5) io.Int32s(p.offline_replicas, "offline_replicas");
    });
    if (io.v >= 8) io.Int32(t.topic_authorized_operations);
  });
  if (io.v >= 8 && io.v <= 10) io.Int32(m.cluster_authorized_operations);
  io.Tags();
}

// ---------------------------------------------------------------------------
// Produce

template <class Io, Is<ProduceRequest> M>
void Walk(Io& io, M& m) {
  if (io.v >= 3) io.NullableStr(m.transactional_id);
  io.Int16(m.acks);
  io.Int32(m.timeout_ms);
  io.Array(m.topics, io.f ? 3 : 6, "topic_data", [&](auto& t) {
    io.Str(t.name);
    io.Array(t.partitions, io.f ? 6 : 8, "partition_data", [&](auto& p) {
      io.Int32(p.index);
      io.NullableBytes(p.records);
    });
  });
  io.Tags();
}

template <class Io, Is<ProduceResponse> M>
void Walk(Io& io, M& m) {
  io.Array(m.topics, 3, "responses", [&](auto& t) {
    io.Str(t.name);
    io.Array(t.partitions, 14, "partition_responses", [&](auto& p) {
      io.Int32(p.index);
      io.Int16(p.error_code);
      io.Int64(p.base_offset);
      if (io.v >= 2) io.Int64(p.log_append_time_ms);
      if (io.v >= 5) io.Int64(p.log_start_offset);
      if (io.v >= 8) {
        io.Array(p.record_errors, 5, "record_errors", [&](auto& e) {
          io.Int32(e.batch_index);
          io.NullableStr(e.batch_index_error_message);
        });
        io.NullableStr(p.error_message);
      }
    });
  });
  if (io.v >= 1) io.Int32(m.throttle_time_ms);
  io.Tags();
}

// ---------------------------------------------------------------------------
// Fetch

// v13 names topics by id, earlier versions by name.
template <class Io, class T>
void FetchTopic(Io& io, T& t) {
  if (io.v >= 13) {
    io.Id(t.topic_id);
  } else {
    io.Str(t.topic);
  }
}

template <class Io, Is<FetchRequest> M>
void Walk(Io& io, M& m) {
  io.Int32(m.replica_id);
  io.Int32(m.max_wait_ms);
  io.Int32(m.min_bytes);
  if (io.v >= 3) io.Int32(m.max_bytes);
  if (io.v >= 4) io.Int8(m.isolation_level);
  if (io.v >= 7) {
    io.Int32(m.session_id);
    io.Int32(m.session_epoch);
  }
  io.Array(m.topics, 2, "topics", [&](auto& t) {
    FetchTopic(io, t);
    io.Array(t.partitions, 16, "partitions", [&](auto& p) {
      io.Int32(p.partition);
      if (io.v >= 9) io.Int32(p.current_leader_epoch);
      io.Int64(p.fetch_offset);
      if (io.v >= 12) io.Int32(p.last_fetched_epoch);
      if (io.v >= 5) io.Int64(p.log_start_offset);
      io.Int32(p.partition_max_bytes);
    });
  });
  if (io.v >= 7) {
    io.Array(m.forgotten_topics_data, 2, "forgotten_topics_data", [&](auto& t) {
      FetchTopic(io, t);
      io.Int32s(t.partitions, "partitions");
    });
  }
  if (io.v >= 11) io.Str(m.rack_id);
  io.TagsWithString(0, "ClusterId", m.cluster_id);  // KIP-595
}

template <class Io, Is<FetchResponse> M>
void Walk(Io& io, M& m) {
  if (io.v >= 1) io.Int32(m.throttle_time_ms);
  if (io.v >= 7) {
    io.Int16(m.error_code);
    io.Int32(m.session_id);
  }
  io.Array(m.responses, 2, "responses", [&](auto& t) {
    FetchTopic(io, t);
    io.Array(t.partitions, 15, "partitions", [&](auto& p) {
      io.Int32(p.partition_index);
      io.Int16(p.error_code);
      io.Int64(p.high_watermark);
      if (io.v >= 4) io.Int64(p.last_stable_offset);
      if (io.v >= 5) io.Int64(p.log_start_offset);
      if (io.v >= 4) {
        io.NullableArray(p.aborted_transactions, 16, "aborted_transactions", true, false,
                         [&](auto& a) {
                           io.Int64(a.producer_id);
                           io.Int64(a.first_offset);
                         });
      }
      if (io.v >= 11) io.Int32(p.preferred_read_replica);
      io.Records(p.records);
    });
  });
  io.Tags();
}

// ---------------------------------------------------------------------------
// ListOffsets

template <class Io, Is<ListOffsetsRequest> M>
void Walk(Io& io, M& m) {
  io.Int32(m.replica_id);
  if (io.v >= 2) io.Int8(m.isolation_level);
  io.Array(m.topics, 2, "topics", [&](auto& t) {
    io.Str(t.name);
    io.Array(t.partitions, 12, "partitions", [&](auto& p) {
      io.Int32(p.partition_index);
      if (io.v >= 4) io.Int32(p.current_leader_epoch);
      io.Int64(p.timestamp);
      if (io.v == 0) io.Int32(p.max_num_offsets);
    });
  });
  io.Tags();
}

template <class Io, Is<ListOffsetsResponse> M>
void Walk(Io& io, M& m) {
  if (io.v >= 2) io.Int32(m.throttle_time_ms);
  io.Array(m.topics, 2, "topics", [&](auto& t) {
    io.Str(t.name);
    io.Array(t.partitions, 6, "partitions", [&](auto& p) {
      io.Int32(p.partition_index);
      io.Int16(p.error_code);
      if (io.v == 0) {
        io.Int64s(p.old_style_offsets, "old_style_offsets");
      } else {
        io.Int64(p.timestamp);
        io.Int64(p.offset);
        if (io.v >= 4) io.Int32(p.leader_epoch);
      }
    });
  });
  io.Tags();
}

// ---------------------------------------------------------------------------
// OffsetCommit

template <class Io, Is<OffsetCommitRequest> M>
void Walk(Io& io, M& m) {
  io.Str(m.group_id);
  if (io.v >= 1) {
    io.Int32(m.generation_id);
    io.Str(m.member_id);
  }
  if (io.v >= 7) io.NullableStr(m.group_instance_id);
  if (io.v >= 2 && io.v <= 4) io.Int64(m.retention_time_ms);
  io.Array(m.topics, 2, "topics", [&](auto& t) {
    io.Str(t.name);
    io.Array(t.partitions, 13, "partitions", [&](auto& p) {
      io.Int32(p.partition_index);
      io.Int64(p.committed_offset);
      if (io.v >= 6) io.Int32(p.committed_leader_epoch);
      if (io.v == 1) io.Int64(p.commit_timestamp);
      io.NullableStr(p.committed_metadata);
    });
  });
  io.Tags();
}

template <class Io, Is<OffsetCommitResponse> M>
void Walk(Io& io, M& m) {
  if (io.v >= 3) io.Int32(m.throttle_time_ms);
  io.Array(m.topics, 2, "topics", [&](auto& t) {
    io.Str(t.name);
    io.Array(t.partitions, 6, "partitions", [&](auto& p) {
      io.Int32(p.partition_index);
      io.Int16(p.error_code);
    });
  });
  io.Tags();
}

// ---------------------------------------------------------------------------
// OffsetFetch: v0-7 carry one group at top level, v8 an array of groups.

template <class Io, Is<OffsetFetchRequest> M>
void Walk(Io& io, M& m) {
  // Topics: null (all committed offsets) from v2.
  auto group = [&](auto& g) {
    io.Str(g.group_id);
    io.NullableArray(g.topics, 2, "topics", io.v >= 2, false, [&](auto& t) {
      io.Str(t.name);
      io.Int32s(t.partition_indexes, "partition_indexes");
    });
  };
  if (io.v <= 7) {
    io.One(m.groups, OffsetFetchRequest::Group{}, group);
  } else {
    io.Array(m.groups, 2, "groups", group);
  }
  if (io.v >= 7) io.Bool(m.require_stable);
  io.Tags();
}

template <class Io, Is<OffsetFetchResponse> M>
void Walk(Io& io, M& m) {
  auto topics = [&](auto& g) {
    io.Array(g.topics, 2, "topics", [&](auto& t) {
      io.Str(t.name);
      io.Array(t.partitions, 15, "partitions", [&](auto& p) {
        io.Int32(p.partition_index);
        io.Int64(p.committed_offset);
        if (io.v >= 5) io.Int32(p.committed_leader_epoch);
        io.NullableStr(p.metadata);
        io.Int16(p.error_code);
      });
    });
  };
  if (io.v >= 3) io.Int32(m.throttle_time_ms);
  if (io.v <= 7) {
    io.One(m.groups, OffsetFetchResponse::Group{}, [&](auto& g) {
      topics(g);
      if (io.v >= 2) io.Int16(g.error_code);
    });
  } else {
    io.Array(m.groups, 5, "groups", [&](auto& g) {
      io.Str(g.group_id);
      topics(g);
      io.Int16(g.error_code);
    });
  }
  io.Tags();
}

// ---------------------------------------------------------------------------
// FindCoordinator: v0-3 carry one key / coordinator at top level, v4 arrays.

template <class Io, Is<FindCoordinatorRequest> M>
void Walk(Io& io, M& m) {
  if (io.v <= 3) io.One(m.coordinator_keys, std::string(), [&](auto& key) { io.Str(key); });
  if (io.v >= 1) io.Int8(m.key_type);
  if (io.v >= 4) io.Strs(m.coordinator_keys, "coordinator_keys");
  io.Tags();
}

template <class Io, Is<FindCoordinatorResponse> M>
void Walk(Io& io, M& m) {
  static const FindCoordinatorResponse::Coordinator kNone = [] {
    FindCoordinatorResponse::Coordinator c;
    c.error_code = Code(ErrorCode::kCoordinatorNotAvailable);
    return c;
  }();
  if (io.v >= 1) io.Int32(m.throttle_time_ms);
  if (io.v <= 3) {
    io.One(m.coordinators, kNone, [&](auto& c) {
      io.Int16(c.error_code);
      if (io.v >= 1) io.NullableStr(c.error_message);
      io.Int32(c.node_id);
      io.Str(c.host);
      io.Int32(c.port);
    });
  } else {
    io.Array(m.coordinators, 12, "coordinators", [&](auto& c) {
      io.Str(c.key);
      io.Int32(c.node_id);
      io.Str(c.host);
      io.Int32(c.port);
      io.Int16(c.error_code);
      io.NullableStr(c.error_message);
    });
  }
  io.Tags();
}

// ---------------------------------------------------------------------------
// Group membership

template <class Io, Is<JoinGroupRequest> M>
void Walk(Io& io, M& m) {
  io.Str(m.group_id);
  io.Int32(m.session_timeout_ms);
  if (io.v >= 1) {
    io.Int32(m.rebalance_timeout_ms);
  } else if constexpr (Io::kDecoding) {
    m.rebalance_timeout_ms = m.session_timeout_ms;  // v0: one timeout for both
  }
  io.Str(m.member_id);
  if (io.v >= 5) io.NullableStr(m.group_instance_id);
  io.Str(m.protocol_type);
  io.Array(m.protocols, io.f ? 2 : 6, "protocols", [&](auto& p) {
    io.Str(p.name);
    io.Bytes(p.metadata);
  });
  if (io.v >= 8) io.NullableStr(m.reason);
  io.Tags();
}

template <class Io, Is<JoinGroupResponse> M>
void Walk(Io& io, M& m) {
  if (io.v >= 2) io.Int32(m.throttle_time_ms);
  io.Int16(m.error_code);
  io.Int32(m.generation_id);
  if (io.v >= 7) io.NullableStr(m.protocol_type);
  io.MaybeNullStr(m.protocol_name, io.v >= 7);
  io.Str(m.leader);
  if (io.v >= 9) io.Bool(m.skip_assignment);
  io.Str(m.member_id);
  io.Array(m.members, io.f ? 3 : 6, "members", [&](auto& member) {
    io.Str(member.member_id);
    if (io.v >= 5) io.NullableStr(member.group_instance_id);
    io.Bytes(member.metadata);
  });
  io.Tags();
}

// The membership fields Heartbeat and SyncGroup requests start with.
template <class Io, class M>
void Member(Io& io, M& m) {
  io.Str(m.group_id);
  io.Int32(m.generation_id);
  io.Str(m.member_id);
  if (io.v >= 3) io.NullableStr(m.group_instance_id);
}

template <class Io, Is<HeartbeatRequest> M>
void Walk(Io& io, M& m) {
  Member(io, m);
  io.Tags();
}

template <class Io, Is<HeartbeatResponse> M>
void Walk(Io& io, M& m) {
  if (io.v >= 1) io.Int32(m.throttle_time_ms);
  io.Int16(m.error_code);
  io.Tags();
}

// v0-2 carry one member_id at top level, v3 an array of members.
template <class Io, Is<LeaveGroupRequest> M>
void Walk(Io& io, M& m) {
  io.Str(m.group_id);
  if (io.v <= 2) {
    io.One(m.members, LeaveGroupRequest::Member{}, [&](auto& member) { io.Str(member.member_id); });
  } else {
    io.Array(m.members, 2, "members", [&](auto& member) {
      io.Str(member.member_id);
      io.NullableStr(member.group_instance_id);
      if (io.v >= 5) io.NullableStr(member.reason);
    });
  }
  io.Tags();
}

template <class Io, Is<LeaveGroupResponse> M>
void Walk(Io& io, M& m) {
  if (io.v >= 1) io.Int32(m.throttle_time_ms);
  io.Int16(m.error_code);
  if (io.v >= 3) {
    io.Array(m.members, 4, "members", [&](auto& member) {
      io.Str(member.member_id);
      io.NullableStr(member.group_instance_id);
      io.Int16(member.error_code);
    });
  }
  io.Tags();
}

template <class Io, Is<SyncGroupRequest> M>
void Walk(Io& io, M& m) {
  Member(io, m);
  if (io.v >= 5) {
    io.NullableStr(m.protocol_type);
    io.NullableStr(m.protocol_name);
  }
  io.Array(m.assignments, io.f ? 2 : 6, "assignments", [&](auto& a) {
    io.Str(a.member_id);
    io.Bytes(a.assignment);
  });
  io.Tags();
}

template <class Io, Is<SyncGroupResponse> M>
void Walk(Io& io, M& m) {
  if (io.v >= 1) io.Int32(m.throttle_time_ms);
  io.Int16(m.error_code);
  if (io.v >= 5) {
    io.NullableStr(m.protocol_type);
    io.NullableStr(m.protocol_name);
  }
  io.Bytes(m.assignment);
  io.Tags();
}

// ---------------------------------------------------------------------------
// Group listing

template <class Io, Is<DescribeGroupsRequest> M>
void Walk(Io& io, M& m) {
  io.Strs(m.groups, "groups");
  if (io.v >= 3) io.Bool(m.include_authorized_operations);
  io.Tags();
}

template <class Io, Is<DescribeGroupsResponse> M>
void Walk(Io& io, M& m) {
  if (io.v >= 1) io.Int32(m.throttle_time_ms);
  io.Array(m.groups, 7, "groups", [&](auto& g) {
    io.Int16(g.error_code);
    io.Str(g.group_id);
    io.Str(g.group_state);
    io.Str(g.protocol_type);
    io.Str(g.protocol_data);
    io.Array(g.members, 10, "members", [&](auto& member) {
      io.Str(member.member_id);
      if (io.v >= 4) io.NullableStr(member.group_instance_id);
      io.Str(member.client_id);
      io.Str(member.client_host);
      io.Bytes(member.member_metadata);
      io.Bytes(member.member_assignment);
    });
    if (io.v >= 3) io.Int32(g.authorized_operations);
  });
  io.Tags();
}

template <class Io, Is<ListGroupsRequest> M>
void Walk(Io& io, M& m) {
  if (io.v >= 4) io.Strs(m.states_filter, "states_filter");
  io.Tags();
}

template <class Io, Is<ListGroupsResponse> M>
void Walk(Io& io, M& m) {
  if (io.v >= 1) io.Int32(m.throttle_time_ms);
  io.Int16(m.error_code);
  io.Array(m.groups, 2, "groups", [&](auto& g) {
    io.Str(g.group_id);
    io.Str(g.protocol_type);
    if (io.v >= 4) io.Str(g.group_state);
  });
  io.Tags();
}

// ---------------------------------------------------------------------------
// SASL (SaslHandshake is never flexible)

template <class Io, Is<SaslHandshakeRequest> M>
void Walk(Io& io, M& m) {
  io.Str(m.mechanism);
}

template <class Io, Is<SaslHandshakeResponse> M>
void Walk(Io& io, M& m) {
  io.Int16(m.error_code);
  io.Strs(m.mechanisms, "mechanisms");
}

template <class Io, Is<SaslAuthenticateRequest> M>
void Walk(Io& io, M& m) {
  io.Bytes(m.auth_bytes);
  io.Tags();
}

template <class Io, Is<SaslAuthenticateResponse> M>
void Walk(Io& io, M& m) {
  io.Int16(m.error_code);
  io.NullableStr(m.error_message);
  io.Bytes(m.auth_bytes);
  if (io.v >= 1) io.Int64(m.session_lifetime_ms);
  io.Tags();
}

// ---------------------------------------------------------------------------
// Producer ids and transactions.

template <class Io, Is<InitProducerIdRequest> M>
void Walk(Io& io, M& m) {
  io.NullableStr(m.transactional_id);
  io.Int32(m.transaction_timeout_ms);
  if (io.v >= 3) {
    io.Int64(m.producer_id);
    io.Int16(m.producer_epoch);
  }
  io.Tags();
}

template <class Io, Is<InitProducerIdResponse> M>
void Walk(Io& io, M& m) {
  io.Int32(m.throttle_time_ms);
  io.Int16(m.error_code);
  io.Int64(m.producer_id);
  io.Int16(m.producer_epoch);
  io.Tags();
}

template <class Io, Is<AddPartitionsToTxnRequest> M>
void Walk(Io& io, M& m) {
  io.Str(m.transactional_id);
  io.Int64(m.producer_id);
  io.Int16(m.producer_epoch);
  io.Array(m.topics, io.f ? 2 : 6, "topics", [&](auto& t) {
    io.Str(t.name);
    io.Int32s(t.partitions, "partitions");
  });
  io.Tags();
}

template <class Io, Is<AddPartitionsToTxnResponse> M>
void Walk(Io& io, M& m) {
  io.Int32(m.throttle_time_ms);
  io.Array(m.results, io.f ? 2 : 6, "results", [&](auto& t) {
    io.Str(t.name);
    io.Array(t.results, 6, "results", [&](auto& p) {
      io.Int32(p.partition_index);
      io.Int16(p.error_code);
    });
  });
  io.Tags();
}

template <class Io, Is<EndTxnRequest> M>
void Walk(Io& io, M& m) {
  io.Str(m.transactional_id);
  io.Int64(m.producer_id);
  io.Int16(m.producer_epoch);
  io.Bool(m.committed);
  io.Tags();
}

template <class Io, Is<EndTxnResponse> M>
void Walk(Io& io, M& m) {
  io.Int32(m.throttle_time_ms);
  io.Int16(m.error_code);
  io.Tags();
}

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
    case 22:
      return "InitProducerId";
    case 24:
      return "AddPartitionsToTxn";
    case 26:
      return "EndTxn";
    case 36:
      return "SaslAuthenticate";
    default:
      return "Unknown";
  }
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

ApiVersionsResponse MakeApiVersionsResponse(ErrorCode error) {
  ApiVersionsResponse r;
  r.error_code = Code(error);
  r.api_keys.assign(kSupportedApis.begin(), kSupportedApis.end());
  return r;
}

// ---------------------------------------------------------------------------
// Messages: each a Walk() above.

Result<ApiVersionsRequest> DecodeApiVersionsRequest(std::string_view body, int16_t version) {
  return Decode<ApiVersionsRequest>(ApiKey::kApiVersions, body, version);
}

void EncodeApiVersionsRequest(const ApiVersionsRequest& m, int16_t version, Writer& w) {
  Encode(ApiKey::kApiVersions, m, version, w);
}

Result<ApiVersionsResponse> DecodeApiVersionsResponse(std::string_view body, int16_t version) {
  return Decode<ApiVersionsResponse>(ApiKey::kApiVersions, body, version);
}

void EncodeApiVersionsResponse(const ApiVersionsResponse& m, int16_t version, Writer& w) {
  Encode(ApiKey::kApiVersions, m, version, w);
}

Result<MetadataRequest> DecodeMetadataRequest(std::string_view body, int16_t version) {
  return Decode<MetadataRequest>(ApiKey::kMetadata, body, version);
}

void EncodeMetadataRequest(const MetadataRequest& m, int16_t version, Writer& w) {
  Encode(ApiKey::kMetadata, m, version, w);
}

Result<MetadataResponse> DecodeMetadataResponse(std::string_view body, int16_t version) {
  return Decode<MetadataResponse>(ApiKey::kMetadata, body, version);
}

void EncodeMetadataResponse(const MetadataResponse& m, int16_t version, Writer& w) {
  Encode(ApiKey::kMetadata, m, version, w);
}

Result<ProduceRequest> DecodeProduceRequest(std::string_view body, int16_t version) {
  return Decode<ProduceRequest>(ApiKey::kProduce, body, version);
}

void EncodeProduceRequest(const ProduceRequest& m, int16_t version, Writer& w) {
  Encode(ApiKey::kProduce, m, version, w);
}

Result<ProduceResponse> DecodeProduceResponse(std::string_view body, int16_t version) {
  return Decode<ProduceResponse>(ApiKey::kProduce, body, version);
}

void EncodeProduceResponse(const ProduceResponse& m, int16_t version, Writer& w) {
  Encode(ApiKey::kProduce, m, version, w);
}

Result<FetchRequest> DecodeFetchRequest(std::string_view body, int16_t version) {
  return Decode<FetchRequest>(ApiKey::kFetch, body, version);
}

void EncodeFetchRequest(const FetchRequest& m, int16_t version, Writer& w) {
  Encode(ApiKey::kFetch, m, version, w);
}

Result<FetchResponse> DecodeFetchResponse(std::string_view body, int16_t version) {
  return Decode<FetchResponse>(ApiKey::kFetch, body, version);
}

void EncodeFetchResponse(const FetchResponse& m, int16_t version, Writer& w) {
  Encode(ApiKey::kFetch, m, version, w);
}

Result<ListOffsetsRequest> DecodeListOffsetsRequest(std::string_view body, int16_t version) {
  return Decode<ListOffsetsRequest>(ApiKey::kListOffsets, body, version);
}

void EncodeListOffsetsRequest(const ListOffsetsRequest& m, int16_t version, Writer& w) {
  Encode(ApiKey::kListOffsets, m, version, w);
}

void EncodeListOffsetsResponse(const ListOffsetsResponse& m, int16_t version, Writer& w) {
  Encode(ApiKey::kListOffsets, m, version, w);
}

Result<OffsetCommitRequest> DecodeOffsetCommitRequest(std::string_view body, int16_t version) {
  return Decode<OffsetCommitRequest>(ApiKey::kOffsetCommit, body, version);
}

void EncodeOffsetCommitResponse(const OffsetCommitResponse& m, int16_t version, Writer& w) {
  Encode(ApiKey::kOffsetCommit, m, version, w);
}

Result<OffsetFetchRequest> DecodeOffsetFetchRequest(std::string_view body, int16_t version) {
  return Decode<OffsetFetchRequest>(ApiKey::kOffsetFetch, body, version);
}

void EncodeOffsetFetchRequest(const OffsetFetchRequest& m, int16_t version, Writer& w) {
  Encode(ApiKey::kOffsetFetch, m, version, w);
}

void EncodeOffsetFetchResponse(const OffsetFetchResponse& m, int16_t version, Writer& w) {
  Encode(ApiKey::kOffsetFetch, m, version, w);
}

Result<FindCoordinatorRequest> DecodeFindCoordinatorRequest(std::string_view body,
                                                            int16_t version) {
  return Decode<FindCoordinatorRequest>(ApiKey::kFindCoordinator, body, version);
}

void EncodeFindCoordinatorResponse(const FindCoordinatorResponse& m, int16_t version, Writer& w) {
  Encode(ApiKey::kFindCoordinator, m, version, w);
}

Result<JoinGroupRequest> DecodeJoinGroupRequest(std::string_view body, int16_t version) {
  return Decode<JoinGroupRequest>(ApiKey::kJoinGroup, body, version);
}

void EncodeJoinGroupResponse(const JoinGroupResponse& m, int16_t version, Writer& w) {
  Encode(ApiKey::kJoinGroup, m, version, w);
}

Result<HeartbeatRequest> DecodeHeartbeatRequest(std::string_view body, int16_t version) {
  return Decode<HeartbeatRequest>(ApiKey::kHeartbeat, body, version);
}

void EncodeHeartbeatResponse(const HeartbeatResponse& m, int16_t version, Writer& w) {
  Encode(ApiKey::kHeartbeat, m, version, w);
}

Result<LeaveGroupRequest> DecodeLeaveGroupRequest(std::string_view body, int16_t version) {
  return Decode<LeaveGroupRequest>(ApiKey::kLeaveGroup, body, version);
}

void EncodeLeaveGroupResponse(const LeaveGroupResponse& m, int16_t version, Writer& w) {
  Encode(ApiKey::kLeaveGroup, m, version, w);
}

Result<SyncGroupRequest> DecodeSyncGroupRequest(std::string_view body, int16_t version) {
  return Decode<SyncGroupRequest>(ApiKey::kSyncGroup, body, version);
}

void EncodeSyncGroupResponse(const SyncGroupResponse& m, int16_t version, Writer& w) {
  Encode(ApiKey::kSyncGroup, m, version, w);
}

Result<DescribeGroupsRequest> DecodeDescribeGroupsRequest(std::string_view body, int16_t version) {
  return Decode<DescribeGroupsRequest>(ApiKey::kDescribeGroups, body, version);
}

void EncodeDescribeGroupsResponse(const DescribeGroupsResponse& m, int16_t version, Writer& w) {
  Encode(ApiKey::kDescribeGroups, m, version, w);
}

Result<ListGroupsRequest> DecodeListGroupsRequest(std::string_view body, int16_t version) {
  return Decode<ListGroupsRequest>(ApiKey::kListGroups, body, version);
}

void EncodeListGroupsResponse(const ListGroupsResponse& m, int16_t version, Writer& w) {
  Encode(ApiKey::kListGroups, m, version, w);
}

Result<SaslHandshakeRequest> DecodeSaslHandshakeRequest(std::string_view body, int16_t version) {
  return Decode<SaslHandshakeRequest>(ApiKey::kSaslHandshake, body, version);
}

void EncodeSaslHandshakeResponse(const SaslHandshakeResponse& m, int16_t version, Writer& w) {
  Encode(ApiKey::kSaslHandshake, m, version, w);
}

Result<SaslAuthenticateRequest> DecodeSaslAuthenticateRequest(std::string_view body,
                                                              int16_t version) {
  return Decode<SaslAuthenticateRequest>(ApiKey::kSaslAuthenticate, body, version);
}

void EncodeSaslAuthenticateResponse(const SaslAuthenticateResponse& m, int16_t version, Writer& w) {
  Encode(ApiKey::kSaslAuthenticate, m, version, w);
}

#define PGCDC_KAFKA_CODEC_PAIR(Name)                                                      \
  Result<Name##Request> Decode##Name##Request(std::string_view body, int16_t version) {   \
    return Decode<Name##Request>(ApiKey::k##Name, body, version);                         \
  }                                                                                       \
  void Encode##Name##Request(const Name##Request& m, int16_t version, Writer& w) {        \
    Encode(ApiKey::k##Name, m, version, w);                                               \
  }                                                                                       \
  Result<Name##Response> Decode##Name##Response(std::string_view body, int16_t version) { \
    return Decode<Name##Response>(ApiKey::k##Name, body, version);                        \
  }                                                                                       \
  void Encode##Name##Response(const Name##Response& m, int16_t version, Writer& w) {      \
    Encode(ApiKey::k##Name, m, version, w);                                               \
  }
PGCDC_KAFKA_CODEC_PAIR(InitProducerId)
PGCDC_KAFKA_CODEC_PAIR(AddPartitionsToTxn)
PGCDC_KAFKA_CODEC_PAIR(EndTxn)
#undef PGCDC_KAFKA_CODEC_PAIR

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
  c.authzid = Copy(token.substr(0, a));
  c.username = Copy(token.substr(a + 1, b - a - 1));
  c.password = Copy(token.substr(b + 1));
  if (c.username.empty()) return Fail(pgcdc::ErrorCode::kParse, "SASL/PLAIN: empty username");
  return c;
}

}  // namespace pgcdc::codec::kafka
