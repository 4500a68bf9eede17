// Decoder/encoder for the streaming replication CopyData messages and the
// pgoutput logical replication protocol. See pgoutput.h for the contracts.
//
// Implementation notes: a small sticky-error Reader walks the input. Each read
// names the field it reads; the first failed read records that name and every
// later read becomes a no-op returning zero, so a decoder reads all its fields
// and checks once (Finish) instead of after every field. Loops whose trip count
// comes from the wire (tuple columns, relation columns, truncated relations)
// validate the count against the remaining bytes first and check after each
// element, so they never spin or allocate beyond what the input can hold.
#include "codec/pgoutput/pgoutput.h"

#include <array>
#include <cstdio>
#include <cstring>
#include <limits>
#include <utility>

#include "core/json.h"

namespace pgcdc::pgoutput {
namespace {

constexpr int64_t kNanosPerMicro = 1000;
constexpr int64_t kEpochOffsetNanos = kPostgresEpochUnixSeconds * 1'000'000'000;
constexpr int64_t kEpochOffsetMicros = kPostgresEpochUnixSeconds * 1'000'000;

// Error-message labels ("<layer>: <message type>").
constexpr std::string_view kXLogData = "replication: XLogData";
constexpr std::string_view kKeepalive = "replication: Primary Keepalive";
constexpr std::string_view kStatusUpdate = "replication: Standby Status Update";
constexpr std::string_view kBegin = "pgoutput: Begin";
constexpr std::string_view kCommit = "pgoutput: Commit";
constexpr std::string_view kOrigin = "pgoutput: Origin";
constexpr std::string_view kRelation = "pgoutput: Relation";
constexpr std::string_view kType = "pgoutput: Type";
constexpr std::string_view kInsert = "pgoutput: Insert";
constexpr std::string_view kUpdate = "pgoutput: Update";
constexpr std::string_view kDelete = "pgoutput: Delete";
constexpr std::string_view kTruncate = "pgoutput: Truncate";
constexpr std::string_view kLogicalMessage = "pgoutput: Logical Message";
constexpr std::string_view kStreamStart = "pgoutput: Stream Start";
constexpr std::string_view kStreamStop = "pgoutput: Stream Stop";
constexpr std::string_view kStreamCommit = "pgoutput: Stream Commit";
constexpr std::string_view kStreamAbort = "pgoutput: Stream Abort";
constexpr std::string_view kBeginPrepare = "pgoutput: Begin Prepare";
constexpr std::string_view kPrepare = "pgoutput: Prepare";
constexpr std::string_view kCommitPrepared = "pgoutput: Commit Prepared";
constexpr std::string_view kRollbackPrepared = "pgoutput: Rollback Prepared";
constexpr std::string_view kStreamPrepare = "pgoutput: Stream Prepare";

std::unexpected<Error> MakeError(ErrorCode code, std::string_view label, std::string_view what) {
  std::string m;
  m.reserve(label.size() + 2 + what.size());
  m.append(label).append(": ").append(what);
  return Fail(code, std::move(m));
}

std::unexpected<Error> ParseError(std::string_view label, std::string_view what) {
  return MakeError(ErrorCode::kParse, label, what);
}

// "'I' (0x49)" for printable bytes, "0x01" otherwise.
std::string DescribeByte(uint8_t b) {
  char buf[16];
  if (b >= 0x20 && b < 0x7f) {
    std::snprintf(buf, sizeof buf, "'%c' (0x%02X)", static_cast<char>(b), b);
  } else {
    std::snprintf(buf, sizeof buf, "0x%02X", b);
  }
  return buf;
}

// Bounds-checked big-endian reader with a sticky failure (see file comment).
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> data)
      : p_(data.data()), end_(data.data() + data.size()) {}

  size_t remaining() const { return static_cast<size_t>(end_ - p_); }
  bool ok() const { return failed_field_ == nullptr; }

  uint8_t U8(const char* field) {
    if (!Need(1, field)) return 0;
    return *p_++;
  }
  uint16_t U16(const char* field) {
    if (!Need(2, field)) return 0;
    const uint16_t v = static_cast<uint16_t>((uint16_t{p_[0]} << 8) | p_[1]);
    p_ += 2;
    return v;
  }
  uint32_t U32(const char* field) {
    if (!Need(4, field)) return 0;
    const uint32_t v = LoadU32(p_);
    p_ += 4;
    return v;
  }
  uint64_t U64(const char* field) {
    if (!Need(8, field)) return 0;
    const uint64_t v = (uint64_t{LoadU32(p_)} << 32) | LoadU32(p_ + 4);
    p_ += 8;
    return v;
  }
  int32_t I32(const char* field) { return static_cast<int32_t>(U32(field)); }
  int64_t I64(const char* field) { return static_cast<int64_t>(U64(field)); }
  int64_t Timestamp(const char* field) { return PgTimestampToUnixNanos(I64(field)); }

  // A NUL-terminated string; the view excludes the NUL.
  std::string_view CString(const char* field) {
    if (!ok()) return {};
    const size_t n = remaining();
    const void* nul = n == 0 ? nullptr : std::memchr(p_, 0, n);
    if (nul == nullptr) {
      failed_field_ = field;
      unterminated_ = true;
      return {};
    }
    const size_t len = static_cast<size_t>(static_cast<const uint8_t*>(nul) - p_);
    std::string_view s(reinterpret_cast<const char*>(p_), len);
    p_ += len + 1;
    return s;
  }

  std::string_view Bytes(size_t n, const char* field) {
    if (!Need(n, field)) return {};
    std::string_view s(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return s;
  }

  std::span<const uint8_t> Rest() {
    std::span<const uint8_t> s(p_, remaining());
    p_ = end_;
    return s;
  }

  // "truncated (<field>)" or "unterminated string (<field>)" for the first
  // failed read.
  std::string Problem() const {
    std::string what = unterminated_ ? "unterminated string (" : "truncated (";
    what.append(failed_field_ != nullptr ? failed_field_ : "?").append(")");
    return what;
  }
  std::unexpected<Error> Failure(std::string_view label) const {
    return ParseError(label, Problem());
  }

  // Success if every read succeeded and the input is fully consumed.
  Status Finish(std::string_view label) const {
    if (!ok()) return Failure(label);
    if (p_ != end_) {
      return ParseError(label, std::to_string(remaining()) + " unexpected trailing byte" +
                                   (remaining() == 1 ? "" : "s"));
    }
    return Ok();
  }

 private:
  static uint32_t LoadU32(const uint8_t* p) {
    return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
  }

  bool Need(size_t n, const char* field) {
    if (failed_field_ != nullptr) return false;
    if (remaining() < n) {
      failed_field_ = field;
      return false;
    }
    return true;
  }

  const uint8_t* p_;
  const uint8_t* end_;
  const char* failed_field_ = nullptr;
  bool unterminated_ = false;
};

// --- Tuple data -------------------------------------------------------------

std::string ColumnPosition(size_t index, size_t count) {
  return "(column " + std::to_string(index + 1) + " of " + std::to_string(count) + ")";
}

// TupleData: Int16 column count, then per column a kind byte and, for 't' and
// 'b', an Int32 length plus that many bytes. `what` names the tuple in errors.
Status ReadTuple(Reader& r, std::string_view label, std::string_view what, TupleData& out) {
  const uint16_t ncols = r.U16("tuple column count");
  if (!r.ok()) return r.Failure(label);
  // Every column takes at least its kind byte: refuse counts the input cannot
  // possibly hold before allocating for them.
  if (ncols > r.remaining()) {
    return ParseError(label, "truncated " + std::string(what) + " (" + std::to_string(ncols) +
                                 " columns declared, " + std::to_string(r.remaining()) +
                                 " bytes left)");
  }
  out.columns.resize(ncols);
  for (size_t i = 0; i < ncols; ++i) {
    ColumnValue& col = out.columns[i];
    const uint8_t kind = r.U8("column kind");
    switch (kind) {
      case 'n':
        col.kind = ColumnKind::kNull;
        break;
      case 'u':
        col.kind = ColumnKind::kUnchangedToast;
        break;
      case 't':
      case 'b': {
        col.kind = kind == 't' ? ColumnKind::kText : ColumnKind::kBinary;
        const int32_t len = r.I32("column length");
        if (len < 0) {
          return ParseError(label, "negative column length " + std::to_string(len) + " in " +
                                       std::string(what) + " " + ColumnPosition(i, ncols));
        }
        col.data = r.Bytes(static_cast<size_t>(len), "column value");
        break;
      }
      default:
        if (!r.ok()) break;
        return ParseError(label, "unknown column kind " + DescribeByte(kind) + " in " +
                                     std::string(what) + " " + ColumnPosition(i, ncols));
    }
    if (!r.ok()) {
      return ParseError(label, "truncated " + std::string(what) + " " + ColumnPosition(i, ncols));
    }
  }
  return Ok();
}

// --- Individual pgoutput messages ------------------------------------------
// Each decoder gets a Reader positioned after the type byte.

std::optional<uint32_t> ReadStreamXid(Reader& r, const DecodeContext& ctx) {
  if (!ctx.in_stream) return std::nullopt;
  return r.U32("xid");
}

Result<Message> DecodeBegin(Reader& r) {
  Begin m;
  m.final_lsn = r.U64("final LSN");
  m.commit_time_ns = r.Timestamp("commit timestamp");
  m.xid = r.U32("xid");
  if (auto st = r.Finish(kBegin); !st) return Fail(std::move(st.error()));
  return m;
}

Result<Message> DecodeCommit(Reader& r) {
  Commit m;
  m.flags = r.U8("flags");
  m.commit_lsn = r.U64("commit LSN");
  m.end_lsn = r.U64("end LSN");
  m.commit_time_ns = r.Timestamp("commit timestamp");
  if (auto st = r.Finish(kCommit); !st) return Fail(std::move(st.error()));
  return m;
}

Result<Message> DecodeOrigin(Reader& r) {
  Origin m;
  m.lsn = r.U64("origin LSN");
  m.name = r.CString("origin name");
  if (auto st = r.Finish(kOrigin); !st) return Fail(std::move(st.error()));
  return m;
}

Result<Message> DecodeRelation(Reader& r, const DecodeContext& ctx) {
  Relation m;
  m.xid = ReadStreamXid(r, ctx);
  m.relation_id = r.U32("relation id");
  m.namespace_name = r.CString("namespace");
  m.name = r.CString("relation name");
  m.replica_identity = static_cast<char>(r.U8("replica identity"));
  const uint16_t ncols = r.U16("column count");
  if (!r.ok()) return r.Failure(kRelation);
  // Smallest column: flags(1) + "" (1) + type oid(4) + type modifier(4).
  constexpr size_t kMinColumnSize = 10;
  if (size_t{ncols} * kMinColumnSize > r.remaining()) {
    return ParseError(kRelation, "truncated column list (" + std::to_string(ncols) +
                                     " columns declared, " + std::to_string(r.remaining()) +
                                     " bytes left)");
  }
  m.columns.resize(ncols);
  for (size_t i = 0; i < ncols; ++i) {
    RelationColumn& c = m.columns[i];
    c.flags = r.U8("column flags");
    c.name = r.CString("column name");
    c.type_oid = r.U32("column type oid");
    c.type_modifier = r.I32("column type modifier");
    if (!r.ok()) return ParseError(kRelation, r.Problem() + " " + ColumnPosition(i, ncols));
  }
  if (auto st = r.Finish(kRelation); !st) return Fail(std::move(st.error()));
  return m;
}

Result<Message> DecodeType(Reader& r, const DecodeContext& ctx) {
  Type m;
  m.xid = ReadStreamXid(r, ctx);
  m.oid = r.U32("type oid");
  m.namespace_name = r.CString("namespace");
  m.name = r.CString("type name");
  if (auto st = r.Finish(kType); !st) return Fail(std::move(st.error()));
  return m;
}

Result<Message> DecodeInsert(Reader& r, const DecodeContext& ctx) {
  Insert m;
  m.xid = ReadStreamXid(r, ctx);
  m.relation_id = r.U32("relation id");
  const uint8_t marker = r.U8("tuple marker");
  if (!r.ok()) return r.Failure(kInsert);
  if (marker != 'N') {
    return ParseError(kInsert, "expected new tuple marker 'N', got " + DescribeByte(marker));
  }
  if (auto st = ReadTuple(r, kInsert, "tuple data", m.new_tuple); !st) {
    return Fail(std::move(st.error()));
  }
  if (auto st = r.Finish(kInsert); !st) return Fail(std::move(st.error()));
  return m;
}

Result<Message> DecodeUpdate(Reader& r, const DecodeContext& ctx) {
  Update m;
  m.xid = ReadStreamXid(r, ctx);
  m.relation_id = r.U32("relation id");
  uint8_t marker = r.U8("tuple marker");
  if (!r.ok()) return r.Failure(kUpdate);
  if (marker == 'K' || marker == 'O') {
    m.old_kind = static_cast<OldTupleKind>(marker);
    if (auto st = ReadTuple(r, kUpdate, "old tuple data", m.old_tuple); !st) {
      return Fail(std::move(st.error()));
    }
    marker = r.U8("new tuple marker");
    if (!r.ok()) return r.Failure(kUpdate);
    if (marker != 'N') {
      return ParseError(kUpdate, "expected new tuple marker 'N', got " + DescribeByte(marker));
    }
  } else if (marker != 'N') {
    return ParseError(kUpdate,
                      "expected tuple marker 'K', 'O' or 'N', got " + DescribeByte(marker));
  }
  if (auto st = ReadTuple(r, kUpdate, "new tuple data", m.new_tuple); !st) {
    return Fail(std::move(st.error()));
  }
  if (auto st = r.Finish(kUpdate); !st) return Fail(std::move(st.error()));
  return m;
}

Result<Message> DecodeDelete(Reader& r, const DecodeContext& ctx) {
  Delete m;
  m.xid = ReadStreamXid(r, ctx);
  m.relation_id = r.U32("relation id");
  const uint8_t marker = r.U8("tuple marker");
  if (!r.ok()) return r.Failure(kDelete);
  if (marker != 'K' && marker != 'O') {
    return ParseError(kDelete, "expected old tuple marker 'K' or 'O', got " + DescribeByte(marker));
  }
  m.old_kind = static_cast<OldTupleKind>(marker);
  if (auto st = ReadTuple(r, kDelete, "old tuple data", m.old_tuple); !st) {
    return Fail(std::move(st.error()));
  }
  if (auto st = r.Finish(kDelete); !st) return Fail(std::move(st.error()));
  return m;
}

Result<Message> DecodeTruncate(Reader& r, const DecodeContext& ctx) {
  Truncate m;
  m.xid = ReadStreamXid(r, ctx);
  const int32_t nrels = r.I32("relation count");
  m.options = r.U8("options");
  if (!r.ok()) return r.Failure(kTruncate);
  if (nrels < 0) {
    return ParseError(kTruncate, "negative relation count " + std::to_string(nrels));
  }
  if (uint64_t{static_cast<uint32_t>(nrels)} * 4 > r.remaining()) {
    return ParseError(kTruncate, "truncated relation list (" + std::to_string(nrels) +
                                     " relations declared, " + std::to_string(r.remaining()) +
                                     " bytes left)");
  }
  m.relation_ids.resize(static_cast<size_t>(nrels));
  for (uint32_t& id : m.relation_ids) id = r.U32("relation id");
  if (auto st = r.Finish(kTruncate); !st) return Fail(std::move(st.error()));
  return m;
}

Result<Message> DecodeLogicalMessage(Reader& r, const DecodeContext& ctx) {
  LogicalMessage m;
  m.xid = ReadStreamXid(r, ctx);
  m.flags = r.U8("flags");
  m.transactional = (m.flags & 1) != 0;
  m.lsn = r.U64("message LSN");
  m.prefix = r.CString("prefix");
  const int32_t len = r.I32("content length");
  if (!r.ok()) return r.Failure(kLogicalMessage);
  if (len < 0) {
    return ParseError(kLogicalMessage, "negative content length " + std::to_string(len));
  }
  m.content = r.Bytes(static_cast<size_t>(len), "content");
  if (auto st = r.Finish(kLogicalMessage); !st) return Fail(std::move(st.error()));
  return m;
}

Result<Message> DecodeStreamStart(Reader& r, DecodeContext& ctx) {
  StreamStart m;
  m.xid = r.U32("xid");
  m.first_segment = r.U8("first segment flag") != 0;
  if (auto st = r.Finish(kStreamStart); !st) return Fail(std::move(st.error()));
  if (ctx.in_stream) {
    return MakeError(ErrorCode::kProtocol, kStreamStart,
                     "already inside the stream block of xid " + std::to_string(ctx.stream_xid));
  }
  ctx.in_stream = true;
  ctx.stream_xid = m.xid;
  return m;
}

Result<Message> DecodeStreamStop(Reader& r, DecodeContext& ctx) {
  if (auto st = r.Finish(kStreamStop); !st) return Fail(std::move(st.error()));
  if (!ctx.in_stream) return MakeError(ErrorCode::kProtocol, kStreamStop, "not in a stream block");
  ctx.in_stream = false;
  ctx.stream_xid = 0;
  return StreamStop{};
}

Result<Message> DecodeStreamCommit(Reader& r) {
  StreamCommit m;
  m.xid = r.U32("xid");
  m.flags = r.U8("flags");
  m.commit_lsn = r.U64("commit LSN");
  m.end_lsn = r.U64("end LSN");
  m.commit_time_ns = r.Timestamp("commit timestamp");
  if (auto st = r.Finish(kStreamCommit); !st) return Fail(std::move(st.error()));
  return m;
}

Result<Message> DecodeStreamAbort(Reader& r, const DecodeContext& ctx) {
  StreamAbort m;
  m.xid = r.U32("xid");
  m.subxid = r.U32("subtransaction xid");
  // Protocol 4 adds the abort LSN and time, but only when the subscriber asked
  // for streaming = parallel; the CopyData length tells the two forms apart.
  if (ctx.protocol_version >= 4 && r.ok() && r.remaining() > 0) {
    m.abort_lsn = r.U64("abort LSN");
    m.abort_time_ns = r.Timestamp("abort timestamp");
  }
  if (auto st = r.Finish(kStreamAbort); !st) return Fail(std::move(st.error()));
  return m;
}

// Begin Prepare, Prepare and Stream Prepare share one layout; the latter two
// start with a flags byte.
template <class T>
Result<Message> DecodePrepareLike(Reader& r, std::string_view label) {
  T m;
  if constexpr (requires { m.flags; }) m.flags = r.U8("flags");
  m.prepare_lsn = r.U64("prepare LSN");
  m.end_lsn = r.U64("end LSN");
  m.prepare_time_ns = r.Timestamp("prepare timestamp");
  m.xid = r.U32("xid");
  m.gid = r.CString("gid");
  if (auto st = r.Finish(label); !st) return Fail(std::move(st.error()));
  return m;
}

Result<Message> DecodeCommitPrepared(Reader& r) {
  CommitPrepared m;
  m.flags = r.U8("flags");
  m.commit_lsn = r.U64("commit LSN");
  m.end_lsn = r.U64("end LSN");
  m.commit_time_ns = r.Timestamp("commit timestamp");
  m.xid = r.U32("xid");
  m.gid = r.CString("gid");
  if (auto st = r.Finish(kCommitPrepared); !st) return Fail(std::move(st.error()));
  return m;
}

Result<Message> DecodeRollbackPrepared(Reader& r) {
  RollbackPrepared m;
  m.flags = r.U8("flags");
  m.prepare_end_lsn = r.U64("prepare end LSN");
  m.rollback_end_lsn = r.U64("rollback end LSN");
  m.prepare_time_ns = r.Timestamp("prepare timestamp");
  m.rollback_time_ns = r.Timestamp("rollback timestamp");
  m.xid = r.U32("xid");
  m.gid = r.CString("gid");
  if (auto st = r.Finish(kRollbackPrepared); !st) return Fail(std::move(st.error()));
  return m;
}

std::unexpected<Error> NeedsVersion(std::string_view label, uint32_t min, uint32_t have) {
  return MakeError(ErrorCode::kProtocol, label,
                   "requires protocol version >= " + std::to_string(min) + " (negotiated " +
                       std::to_string(have) + ")");
}

}  // namespace

// --- Time and LSN -------------------------------------------------------------

int64_t PgTimestampToUnixNanos(int64_t pg_micros) {
  int64_t nanos;
  if (__builtin_mul_overflow(pg_micros, kNanosPerMicro, &nanos)) {
    return pg_micros < 0 ? std::numeric_limits<int64_t>::min()
                         : std::numeric_limits<int64_t>::max();
  }
  int64_t out;
  if (__builtin_add_overflow(nanos, kEpochOffsetNanos, &out)) {
    return std::numeric_limits<int64_t>::max();
  }
  return out;
}

int64_t UnixNanosToPgTimestamp(int64_t unix_nanos) {
  int64_t micros = unix_nanos / kNanosPerMicro;
  if (unix_nanos % kNanosPerMicro < 0) --micros;  // floor
  return micros - kEpochOffsetMicros;             // cannot overflow: |micros| <= 2^63/1000
}

std::string FormatLsn(uint64_t lsn) {
  char buf[24];
  const int n = std::snprintf(buf, sizeof buf, "%X/%X", static_cast<unsigned>(lsn >> 32),
                              static_cast<unsigned>(lsn & 0xFFFFFFFFu));
  return std::string(buf, static_cast<size_t>(n));
}

Result<uint64_t> ParseLsn(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return Fail(ErrorCode::kParse,
                "invalid LSN \"" + std::string(text.substr(0, 64)) + "\": " + std::string(why));
  };
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos) return bad("expected <hex>/<hex>");
  uint64_t halves[2];
  const std::string_view parts[2] = {text.substr(0, slash), text.substr(slash + 1)};
  for (int h = 0; h < 2; ++h) {
    const std::string_view part = parts[h];
    if (part.empty() || part.size() > 8) return bad("each half needs 1 to 8 hex digits");
    uint64_t v = 0;
    for (const char c : part) {
      const int d = json::HexValue(c);
      if (d < 0) return bad("non-hex character");
      v = (v << 4) | static_cast<uint64_t>(d);
    }
    halves[h] = v;
  }
  return (halves[0] << 32) | halves[1];
}

// --- Streaming replication layer --------------------------------------------

Result<ReplicationMessage> DecodeReplicationMessage(std::span<const uint8_t> data) {
  if (data.empty()) return Fail(ErrorCode::kParse, "replication: empty CopyData message");
  Reader r(data.subspan(1));
  switch (data[0]) {
    case 'w': {
      XLogData m;
      m.wal_start = r.U64("WAL start");
      m.wal_end = r.U64("WAL end");
      m.server_time_ns = r.Timestamp("server time");
      if (!r.ok()) return r.Failure(kXLogData);
      m.payload = r.Rest();
      return m;
    }
    case 'k': {
      PrimaryKeepalive m;
      m.wal_end = r.U64("WAL end");
      m.server_time_ns = r.Timestamp("server time");
      m.reply_requested = r.U8("reply requested") != 0;
      if (auto st = r.Finish(kKeepalive); !st) return Fail(std::move(st.error()));
      return m;
    }
    default:
      return Fail(ErrorCode::kProtocol,
                  "replication: unknown message type " + DescribeByte(data[0]));
  }
}

std::string EncodeStandbyStatusUpdate(uint64_t written, uint64_t flushed, uint64_t applied,
                                      int64_t client_time_ns, bool reply_requested) {
  std::string out(kStandbyStatusUpdateSize, '\0');
  size_t pos = 0;
  out[pos++] = 'r';
  auto put64 = [&](uint64_t v) {
    for (int shift = 56; shift >= 0; shift -= 8) {
      out[pos++] = static_cast<char>((v >> shift) & 0xFF);
    }
  };
  put64(written);
  put64(flushed);
  put64(applied);
  put64(static_cast<uint64_t>(UnixNanosToPgTimestamp(client_time_ns)));
  out[pos++] = reply_requested ? 1 : 0;
  return out;
}

Result<StandbyStatusUpdate> DecodeStandbyStatusUpdate(std::span<const uint8_t> data) {
  if (data.empty()) return Fail(ErrorCode::kParse, "replication: empty CopyData message");
  if (data[0] != 'r') {
    return Fail(ErrorCode::kProtocol,
                "replication: expected Standby Status Update 'r', got " + DescribeByte(data[0]));
  }
  Reader r(data.subspan(1));
  StandbyStatusUpdate m;
  m.written = r.U64("written LSN");
  m.flushed = r.U64("flushed LSN");
  m.applied = r.U64("applied LSN");
  m.client_time_ns = r.Timestamp("client time");
  m.reply_requested = r.U8("reply requested") != 0;
  if (auto st = r.Finish(kStatusUpdate); !st) return Fail(std::move(st.error()));
  return m;
}

// --- pgoutput ---------------------------------------------------------------

Result<Message> DecodeMessage(std::span<const uint8_t> payload, DecodeContext& ctx) {
  if (ctx.protocol_version == 0) {
    return Fail(ErrorCode::kInvalidArgument, "pgoutput: protocol version 0 is invalid");
  }
  if (payload.empty()) return Fail(ErrorCode::kParse, "pgoutput: empty message");
  const uint8_t type = payload[0];
  Reader r(payload.subspan(1));
  const uint32_t v = ctx.protocol_version;
  switch (type) {
    case 'B':
      return DecodeBegin(r);
    case 'C':
      return DecodeCommit(r);
    case 'O':
      return DecodeOrigin(r);
    case 'R':
      return DecodeRelation(r, ctx);
    case 'Y':
      return DecodeType(r, ctx);
    case 'I':
      return DecodeInsert(r, ctx);
    case 'U':
      return DecodeUpdate(r, ctx);
    case 'D':
      return DecodeDelete(r, ctx);
    case 'T':
      return DecodeTruncate(r, ctx);
    case 'M':
      return DecodeLogicalMessage(r, ctx);
    case 'S':
      if (v < 2) return NeedsVersion(kStreamStart, 2, v);
      return DecodeStreamStart(r, ctx);
    case 'E':
      if (v < 2) return NeedsVersion(kStreamStop, 2, v);
      return DecodeStreamStop(r, ctx);
    case 'c':
      if (v < 2) return NeedsVersion(kStreamCommit, 2, v);
      return DecodeStreamCommit(r);
    case 'A':
      if (v < 2) return NeedsVersion(kStreamAbort, 2, v);
      return DecodeStreamAbort(r, ctx);
    case 'b':
      if (v < 3) return NeedsVersion(kBeginPrepare, 3, v);
      return DecodePrepareLike<BeginPrepare>(r, kBeginPrepare);
    case 'P':
      if (v < 3) return NeedsVersion(kPrepare, 3, v);
      return DecodePrepareLike<Prepare>(r, kPrepare);
    case 'K':
      if (v < 3) return NeedsVersion(kCommitPrepared, 3, v);
      return DecodeCommitPrepared(r);
    case 'r':
      if (v < 3) return NeedsVersion(kRollbackPrepared, 3, v);
      return DecodeRollbackPrepared(r);
    case 'p':
      if (v < 3) return NeedsVersion(kStreamPrepare, 3, v);
      return DecodePrepareLike<StreamPrepare>(r, kStreamPrepare);
    default:
      return Fail(ErrorCode::kProtocol, "pgoutput: unknown message type " + DescribeByte(type));
  }
}

std::string_view MessageName(const Message& message) {
  static constexpr std::array<std::string_view, std::variant_size_v<Message>> kNames = {
      "Begin",
      "Commit",
      "Origin",
      "Relation",
      "Type",
      "Insert",
      "Update",
      "Delete",
      "Truncate",
      "Logical Message",
      "Stream Start",
      "Stream Stop",
      "Stream Commit",
      "Stream Abort",
      "Begin Prepare",
      "Prepare",
      "Commit Prepared",
      "Rollback Prepared",
      "Stream Prepare"};
  return kNames[message.index()];
}

}  // namespace pgcdc::pgoutput
