// libFuzzer target for the pgoutput / streaming replication codec.
//
// Input: one selector byte, then the data.
//   selector bits 0-1: protocol version 1..4
//   selector bit 2:    start inside a stream block (protocol >= 2 only)
//   selector bits 3-4: mode
//     0: the rest is one pgoutput message (DecodeMessage);
//     1: the rest is one CopyData body (DecodeReplicationMessage, then
//        DecodeMessage on an XLogData payload);
//     2: the rest is a sequence of [u8 length][message] pgoutput messages
//        decoded with one DecodeContext (exercises stream-block state);
//     3: the rest is a Standby Status Update and, as text, an LSN.
// Invariants checked (abort on violation):
//  * errors are kParse/kProtocol with a "pgoutput: " / "replication: " prefix,
//    and leave the DecodeContext unchanged;
//  * every borrowed view (column values, message prefix/content, XLogData
//    payload) lies inside the input;
//  * xid fields are present exactly when decoding inside a stream block;
//    Stream Start/Stop open/close the block, nothing else touches it;
//  * re-encoding a decoded message yields exactly as many bytes as the input
//    and decodes to an equal message (no field read at the wrong offset, no
//    byte silently skipped);
//  * Standby Status Update and LSN text round-trip.
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

#include "codec/pgoutput/pgoutput.h"

namespace {

namespace pg = pgcdc::pgoutput;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "pgoutput_fuzz: invariant violated: %s\n", what);
    std::abort();
  }
}

struct Input {
  const uint8_t* begin;
  const uint8_t* end;
  bool Contains(std::string_view v) const {
    if (v.empty()) return true;
    const auto* p = reinterpret_cast<const uint8_t*>(v.data());
    return p >= begin && p + v.size() <= end;
  }
};

// --- Canonical re-encoder (test-only; the library has no pgoutput encoder) --

class Out {
 public:
  void U8(uint8_t v) { s_.push_back(static_cast<char>(v)); }
  void U16(uint16_t v) {
    U8(static_cast<uint8_t>(v >> 8));
    U8(static_cast<uint8_t>(v));
  }
  void U32(uint32_t v) {
    U16(static_cast<uint16_t>(v >> 16));
    U16(static_cast<uint16_t>(v));
  }
  void U64(uint64_t v) {
    U32(static_cast<uint32_t>(v >> 32));
    U32(static_cast<uint32_t>(v));
  }
  // Inverse of PgTimestampToUnixNanos, mapping saturated values back to
  // values that saturate again.
  void Time(int64_t ns) {
    int64_t us;
    if (ns == std::numeric_limits<int64_t>::max()) {
      us = std::numeric_limits<int64_t>::max();
    } else if (ns == std::numeric_limits<int64_t>::min()) {
      us = std::numeric_limits<int64_t>::min();
    } else {
      us = pg::UnixNanosToPgTimestamp(ns);
    }
    U64(static_cast<uint64_t>(us));
  }
  void Str(std::string_view v) {
    s_.append(v);
    s_.push_back('\0');
  }
  void Raw(std::string_view v) { s_.append(v); }
  void Xid(const std::optional<uint32_t>& xid) {
    if (xid) U32(*xid);
  }
  void Tuple(const pg::TupleData& t) {
    U16(static_cast<uint16_t>(t.columns.size()));
    for (const pg::ColumnValue& c : t.columns) {
      U8(static_cast<uint8_t>(c.kind));
      if (c.kind == pg::ColumnKind::kText || c.kind == pg::ColumnKind::kBinary) {
        U32(static_cast<uint32_t>(c.data.size()));
        Raw(c.data);
      }
    }
  }
  const std::string& str() const { return s_; }

 private:
  std::string s_;
};

std::string Encode(const pg::Message& message) {
  Out o;
  std::visit(
      [&](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, pg::Begin>) {
          o.U8('B');
          o.U64(m.final_lsn);
          o.Time(m.commit_time_ns);
          o.U32(m.xid);
        } else if constexpr (std::is_same_v<T, pg::Commit>) {
          o.U8('C');
          o.U8(m.flags);
          o.U64(m.commit_lsn);
          o.U64(m.end_lsn);
          o.Time(m.commit_time_ns);
        } else if constexpr (std::is_same_v<T, pg::Origin>) {
          o.U8('O');
          o.U64(m.lsn);
          o.Str(m.name);
        } else if constexpr (std::is_same_v<T, pg::Relation>) {
          o.U8('R');
          o.Xid(m.xid);
          o.U32(m.relation_id);
          o.Str(m.namespace_name);
          o.Str(m.name);
          o.U8(static_cast<uint8_t>(m.replica_identity));
          o.U16(static_cast<uint16_t>(m.columns.size()));
          for (const pg::RelationColumn& c : m.columns) {
            o.U8(c.flags);
            o.Str(c.name);
            o.U32(c.type_oid);
            o.U32(static_cast<uint32_t>(c.type_modifier));
          }
        } else if constexpr (std::is_same_v<T, pg::Type>) {
          o.U8('Y');
          o.Xid(m.xid);
          o.U32(m.oid);
          o.Str(m.namespace_name);
          o.Str(m.name);
        } else if constexpr (std::is_same_v<T, pg::Insert>) {
          o.U8('I');
          o.Xid(m.xid);
          o.U32(m.relation_id);
          o.U8('N');
          o.Tuple(m.new_tuple);
        } else if constexpr (std::is_same_v<T, pg::Update>) {
          o.U8('U');
          o.Xid(m.xid);
          o.U32(m.relation_id);
          if (m.old_kind) {
            o.U8(static_cast<uint8_t>(*m.old_kind));
            o.Tuple(m.old_tuple);
          }
          o.U8('N');
          o.Tuple(m.new_tuple);
        } else if constexpr (std::is_same_v<T, pg::Delete>) {
          o.U8('D');
          o.Xid(m.xid);
          o.U32(m.relation_id);
          o.U8(static_cast<uint8_t>(m.old_kind));
          o.Tuple(m.old_tuple);
        } else if constexpr (std::is_same_v<T, pg::Truncate>) {
          o.U8('T');
          o.Xid(m.xid);
          o.U32(static_cast<uint32_t>(m.relation_ids.size()));
          o.U8(m.options);
          for (uint32_t id : m.relation_ids) o.U32(id);
        } else if constexpr (std::is_same_v<T, pg::LogicalMessage>) {
          o.U8('M');
          o.Xid(m.xid);
          o.U8(m.flags);
          o.U64(m.lsn);
          o.Str(m.prefix);
          o.U32(static_cast<uint32_t>(m.content.size()));
          o.Raw(m.content);
        } else if constexpr (std::is_same_v<T, pg::StreamStart>) {
          o.U8('S');
          o.U32(m.xid);
          o.U8(m.first_segment ? 1 : 0);
        } else if constexpr (std::is_same_v<T, pg::StreamStop>) {
          o.U8('E');
        } else if constexpr (std::is_same_v<T, pg::StreamCommit>) {
          o.U8('c');
          o.U32(m.xid);
          o.U8(m.flags);
          o.U64(m.commit_lsn);
          o.U64(m.end_lsn);
          o.Time(m.commit_time_ns);
        } else if constexpr (std::is_same_v<T, pg::StreamAbort>) {
          o.U8('A');
          o.U32(m.xid);
          o.U32(m.subxid);
          Check(m.abort_lsn.has_value() == m.abort_time_ns.has_value(),
                "abort LSN and time come together");
          if (m.abort_lsn) {
            o.U64(*m.abort_lsn);
            o.Time(*m.abort_time_ns);
          }
        } else if constexpr (std::is_same_v<T, pg::BeginPrepare>) {
          o.U8('b');
          o.U64(m.prepare_lsn);
          o.U64(m.end_lsn);
          o.Time(m.prepare_time_ns);
          o.U32(m.xid);
          o.Str(m.gid);
        } else if constexpr (std::is_same_v<T, pg::Prepare> ||
                             std::is_same_v<T, pg::StreamPrepare>) {
          o.U8(std::is_same_v<T, pg::Prepare> ? 'P' : 'p');
          o.U8(m.flags);
          o.U64(m.prepare_lsn);
          o.U64(m.end_lsn);
          o.Time(m.prepare_time_ns);
          o.U32(m.xid);
          o.Str(m.gid);
        } else if constexpr (std::is_same_v<T, pg::CommitPrepared>) {
          o.U8('K');
          o.U8(m.flags);
          o.U64(m.commit_lsn);
          o.U64(m.end_lsn);
          o.Time(m.commit_time_ns);
          o.U32(m.xid);
          o.Str(m.gid);
        } else if constexpr (std::is_same_v<T, pg::RollbackPrepared>) {
          o.U8('r');
          o.U8(m.flags);
          o.U64(m.prepare_end_lsn);
          o.U64(m.rollback_end_lsn);
          o.Time(m.prepare_time_ns);
          o.Time(m.rollback_time_ns);
          o.U32(m.xid);
          o.Str(m.gid);
        } else {
          static_assert(!sizeof(T), "unhandled message type");
        }
      },
      message);
  return o.str();
}

// --- Invariants -------------------------------------------------------------

std::optional<uint32_t> XidOf(const pg::Message& m, bool* has_field) {
  return std::visit(
      [&](const auto& v) -> std::optional<uint32_t> {
        using T = std::decay_t<decltype(v)>;
        if constexpr (requires(const T& t) {
                        { t.xid } -> std::same_as<const std::optional<uint32_t>&>;
                      }) {
          *has_field = true;
          return v.xid;
        } else {
          *has_field = false;
          return std::nullopt;
        }
      },
      m);
}

void CheckTuple(const pg::TupleData& t, const Input& in) {
  for (const pg::ColumnValue& c : t.columns) {
    Check(in.Contains(c.data), "column value lies inside the input");
    if (c.kind == pg::ColumnKind::kNull || c.kind == pg::ColumnKind::kUnchangedToast) {
      Check(c.data.empty(), "null/unchanged columns carry no data");
    }
  }
}

void CheckError(const pgcdc::Error& e, std::string_view prefix) {
  Check(e.code() == pgcdc::ErrorCode::kParse || e.code() == pgcdc::ErrorCode::kProtocol,
        "error code is kParse or kProtocol");
  Check(e.message().starts_with(prefix), "error message has the layer prefix");
}

void DecodeOne(std::span<const uint8_t> payload, pg::DecodeContext& ctx, const Input& in) {
  const pg::DecodeContext before = ctx;
  auto r = pg::DecodeMessage(payload, ctx);
  if (!r.has_value()) {
    CheckError(r.error(), "pgoutput: ");
    Check(ctx.in_stream == before.in_stream && ctx.stream_xid == before.stream_xid &&
              ctx.protocol_version == before.protocol_version,
          "context unchanged on error");
    return;
  }
  const pg::Message& m = *r;
  Check(!pg::MessageName(m).empty(), "message has a name");
  Check(ctx.protocol_version == before.protocol_version, "protocol version untouched");

  // Stream-block bookkeeping.
  if (const auto* s = std::get_if<pg::StreamStart>(&m)) {
    Check(before.protocol_version >= 2, "streaming needs protocol 2");
    Check(!before.in_stream && ctx.in_stream && ctx.stream_xid == s->xid, "Stream Start opens");
  } else if (std::holds_alternative<pg::StreamStop>(m)) {
    Check(before.in_stream && !ctx.in_stream, "Stream Stop closes");
  } else {
    Check(ctx.in_stream == before.in_stream && ctx.stream_xid == before.stream_xid,
          "other messages leave the stream state alone");
  }
  bool has_xid_field = false;
  const std::optional<uint32_t> xid = XidOf(m, &has_xid_field);
  if (has_xid_field) {
    Check(xid.has_value() == before.in_stream, "xid present exactly inside a stream block");
  }

  // Borrowed views stay inside the input; counts are bounded by it.
  const size_t size = payload.size();
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, pg::Insert>) {
          Check(v.new_tuple.columns.size() <= size, "column count bounded by input");
          CheckTuple(v.new_tuple, in);
        } else if constexpr (std::is_same_v<T, pg::Update>) {
          Check(v.old_kind.has_value() || v.old_tuple.columns.empty(), "no old tuple without kind");
          CheckTuple(v.old_tuple, in);
          CheckTuple(v.new_tuple, in);
        } else if constexpr (std::is_same_v<T, pg::Delete>) {
          CheckTuple(v.old_tuple, in);
        } else if constexpr (std::is_same_v<T, pg::LogicalMessage>) {
          Check(in.Contains(v.prefix) && in.Contains(v.content), "message views inside input");
          Check(v.transactional == ((v.flags & 1) != 0), "transactional mirrors flags");
        } else if constexpr (std::is_same_v<T, pg::Relation>) {
          Check(v.columns.size() * 10 <= size, "relation columns bounded by input");
        } else if constexpr (std::is_same_v<T, pg::Truncate>) {
          Check(v.relation_ids.size() * 4 <= size, "relation ids bounded by input");
        } else if constexpr (std::is_same_v<T, pg::StreamAbort>) {
          Check(!v.abort_lsn.has_value() || before.protocol_version >= 4,
                "abort LSN only with protocol 4");
        }
      },
      m);

  // Canonical re-encoding: same length, decodes to an equal message.
  const std::string again = Encode(m);
  Check(again.size() == payload.size(), "re-encoding has the input's length");
  pg::DecodeContext ctx2 = before;
  auto r2 = pg::DecodeMessage(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(again.data()), again.size()), ctx2);
  Check(r2.has_value(), "re-encoding decodes");
  // Views compare by content, so this checks every field.
  Check(*r2 == m, "re-encoding decodes to an equal message");
  Check(Encode(*r2) == again, "re-encoding is a fixed point");
  Check(ctx2.in_stream == ctx.in_stream && ctx2.stream_xid == ctx.stream_xid,
        "re-encoding moves the context the same way");
}

void DecodeCopyData(std::span<const uint8_t> data, pg::DecodeContext& ctx, const Input& in) {
  auto r = pg::DecodeReplicationMessage(data);
  if (!r.has_value()) {
    CheckError(r.error(), "replication: ");
    return;
  }
  if (const auto* x = std::get_if<pg::XLogData>(&*r)) {
    Check(data.size() >= 25 && x->payload.data() == data.data() + 25 &&
              x->payload.size() == data.size() - 25,
          "XLogData payload is the rest of the frame");
    DecodeOne(x->payload, ctx, in);
    return;
  }
  const auto& k = std::get<pg::PrimaryKeepalive>(*r);
  Check(data.size() == 18, "keepalive is 18 bytes");
  Check(k.reply_requested == (data[17] != 0), "reply flag");
}

void StatusUpdateAndLsn(std::span<const uint8_t> data) {
  auto r = pg::DecodeStandbyStatusUpdate(data);
  if (r.has_value()) {
    Check(data.size() == pg::kStandbyStatusUpdateSize, "status update is 34 bytes");
    const std::string again = pg::EncodeStandbyStatusUpdate(r->written, r->flushed, r->applied,
                                                            r->client_time_ns, r->reply_requested);
    Check(again.size() == pg::kStandbyStatusUpdateSize, "encoded status update is 34 bytes");
    const bool saturated = r->client_time_ns == std::numeric_limits<int64_t>::max() ||
                           r->client_time_ns == std::numeric_limits<int64_t>::min();
    const std::string_view original(reinterpret_cast<const char*>(data.data()), 33);
    if (!saturated) {
      Check(std::string_view(again).substr(0, 33) == original, "status update round-trips");
    }
    Check(again[33] == (r->reply_requested ? 1 : 0), "reply byte");
  } else {
    CheckError(r.error(), "replication: ");
  }

  const std::string_view text(reinterpret_cast<const char*>(data.data()), data.size());
  if (auto lsn = pg::ParseLsn(text); lsn.has_value()) {
    const std::string formatted = pg::FormatLsn(*lsn);
    auto back = pg::ParseLsn(formatted);
    Check(back.has_value() && *back == *lsn, "LSN round-trips");
    Check(formatted.size() <= text.size(), "canonical LSN is not longer");
  } else {
    Check(lsn.error().code() == pgcdc::ErrorCode::kParse, "LSN errors are kParse");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t selector = data[0];
  const std::span<const uint8_t> rest(data + 1, size - 1);
  const Input in{data, data + size};

  pg::DecodeContext ctx;
  ctx.protocol_version = 1 + (selector & 3u);
  if ((selector & 4u) != 0 && ctx.protocol_version >= 2) {
    ctx.in_stream = true;
    ctx.stream_xid = 1;
  }
  switch ((selector >> 3) & 3u) {
    case 0:
      DecodeOne(rest, ctx, in);
      break;
    case 1:
      DecodeCopyData(rest, ctx, in);
      break;
    case 2: {
      size_t pos = 0;
      while (pos < rest.size()) {
        const size_t len = rest[pos++];
        const size_t n = len < rest.size() - pos ? len : rest.size() - pos;
        DecodeOne(rest.subspan(pos, n), ctx, in);
        pos += n;
      }
      break;
    }
    default:
      StatusUpdateAndLsn(rest);
      break;
  }
  return 0;
}
