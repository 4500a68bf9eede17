// pgoutput: a pure decoder for PostgreSQL logical replication traffic.
//
// This module owns the byte-level formats of
//  * the streaming replication messages carried in CopyData during
//    START_REPLICATION (XLogData 'w', Primary Keepalive 'k' from the server,
//    Standby Status Update 'r' from the client), and
//  * the pgoutput logical replication protocol carried in XLogData payloads,
//    protocol versions 1 to 4: plain transactions (v1), streamed in-progress
//    transactions (v2), two-phase commit (v3) and the parallel-streaming
//    Stream Abort extension (v4).
// It does no I/O, links no libpq and keeps no state besides the caller-owned
// DecodeContext. All integers on the wire are big-endian.
//
// Contracts:
//  * Every read is bounds-checked. Malformed input (truncated, trailing bytes,
//    negative lengths, unknown tuple kinds, ...) returns ErrorCode::kParse with
//    a message naming the message type and the problem, e.g.
//    "pgoutput: Insert: truncated tuple data (column 3 of 5)". An unknown
//    message type byte, or a message that is impossible in the current state
//    (Stream Start inside a stream block, streaming with protocol version 1,
//    two-phase messages below version 3) returns ErrorCode::kProtocol.
//    Decoding never asserts, never throws and never reads outside the input.
//  * Allocation is bounded by the input size: counts read from the wire
//    (columns, relations) are checked against the bytes actually present
//    before anything is reserved.
//  * Messages must be exact: bytes left over after the last field are an
//    error (the one sanctioned variation is the v4 Stream Abort, see below).
//  * Borrowing: per-change data is zero-copy. ColumnValue::data, XLogData::
//    payload and LogicalMessage::prefix/content point INTO the input buffer and
//    are valid only while that buffer lives and is unmodified. Metadata that
//    callers keep in caches (Relation, Type, Origin names, two-phase GIDs) is
//    copied into std::string so a cached Relation can never dangle.
//  * Timestamps are converted from PostgreSQL's int64 microseconds since
//    2000-01-01 UTC to int64 nanoseconds since the Unix epoch, saturating at
//    the int64 range (PostgreSQL's +/-infinity map to INT64_MAX/INT64_MIN).
//  * DecodeContext is updated only when a message decodes successfully.
//    DecodeMessage with protocol_version 0 is a kInvalidArgument error.
//  * Two-phase messages (Begin Prepare, Prepare, Commit Prepared, Rollback
//    Prepared, Stream Prepare) are fully decoded, not kUnimplemented: they are
//    small fixed layouts, and a consumer that did not ask for two_phase never
//    sees them.
//  * Flag bytes PostgreSQL documents as unused (Commit, Stream Commit, the
//    two-phase messages) and unknown Logical Message / Truncate flag bits are
//    passed through raw, not rejected, so newer servers do not break us.
//
// Not thread-safe per DecodeContext; the free functions are otherwise
// reentrant.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/error.h"

namespace pgcdc::pgoutput {

// ---------------------------------------------------------------------------
// Time and LSN helpers.

// Seconds between the Unix epoch and the PostgreSQL epoch (2000-01-01 UTC).
inline constexpr int64_t kPostgresEpochUnixSeconds = 946684800;

// PostgreSQL TimestampTz (microseconds since 2000-01-01) -> Unix nanoseconds,
// saturating on overflow.
int64_t PgTimestampToUnixNanos(int64_t pg_micros);
// Unix nanoseconds -> PostgreSQL TimestampTz (floor to microseconds).
int64_t UnixNanosToPgTimestamp(int64_t unix_nanos);

// "16/B374D848": the high and low 32-bit halves in uppercase hex (%X/%X).
std::string FormatLsn(uint64_t lsn);
// Parses "<hex>/<hex>" with 1-8 hex digits per half (either case), no spaces.
// Errors are kParse.
Result<uint64_t> ParseLsn(std::string_view text);

// ---------------------------------------------------------------------------
// Streaming replication protocol (the CopyData layer).

// 'w': a chunk of WAL, here one pgoutput message.
struct XLogData {
  uint64_t wal_start = 0;  // WAL position of the start of the payload
  uint64_t wal_end = 0;    // current end of WAL on the server
  int64_t server_time_ns = 0;
  std::span<const uint8_t> payload;  // borrows from the input

  // Payloads compare by identity (same bytes in the same buffer).
  bool operator==(const XLogData& o) const {
    return wal_start == o.wal_start && wal_end == o.wal_end && server_time_ns == o.server_time_ns &&
           payload.data() == o.payload.data() && payload.size() == o.payload.size();
  }
};

// 'k': keepalive. reply_requested asks for an immediate status update.
struct PrimaryKeepalive {
  uint64_t wal_end = 0;
  int64_t server_time_ns = 0;
  bool reply_requested = false;

  bool operator==(const PrimaryKeepalive&) const = default;
};

using ReplicationMessage = std::variant<XLogData, PrimaryKeepalive>;

// Decodes one CopyData body sent by the server during START_REPLICATION.
// Unknown type bytes are kProtocol errors.
Result<ReplicationMessage> DecodeReplicationMessage(std::span<const uint8_t> data);

// 'r': the client's progress report. Positions are "last byte + 1" as
// PostgreSQL expects; pass them through unchanged (0 = unknown / invalid).
struct StandbyStatusUpdate {
  uint64_t written = 0;
  uint64_t flushed = 0;
  uint64_t applied = 0;
  int64_t client_time_ns = 0;
  bool reply_requested = false;

  bool operator==(const StandbyStatusUpdate&) const = default;
};

// Size of an encoded Standby Status Update: 'r' + 4 x Int64 + Byte1.
inline constexpr size_t kStandbyStatusUpdateSize = 34;

// Encodes the 34-byte 'r' message (the CopyData body, without the 'd' frame).
std::string EncodeStandbyStatusUpdate(uint64_t written, uint64_t flushed, uint64_t applied,
                                      int64_t client_time_ns, bool reply_requested);
// Inverse of EncodeStandbyStatusUpdate (for fake servers and tests).
// client_time_ns is truncated to microsecond precision by the wire format.
Result<StandbyStatusUpdate> DecodeStandbyStatusUpdate(std::span<const uint8_t> data);

// ---------------------------------------------------------------------------
// pgoutput logical replication messages.

// Decoder state carried across messages of one replication connection.
struct DecodeContext {
  // The proto_version negotiated in START_REPLICATION (1..4; larger values
  // decode like 4).
  uint32_t protocol_version = 1;
  // True between Stream Start and Stream Stop. Inside a block Relation, Type,
  // Insert, Update, Delete, Truncate and Logical Message carry a leading xid,
  // which may be a subtransaction of stream_xid (observed on PostgreSQL 15).
  // Stream Commit/Abort/Prepare arrive outside blocks and are not checked.
  bool in_stream = false;
  // xid of the open stream block (valid while in_stream).
  uint32_t stream_xid = 0;
};

// One column of a TupleData.
enum class ColumnKind : char {
  kNull = 'n',
  kUnchangedToast = 'u',  // TOASTed value not changed (UPDATE); no data sent
  kText = 't',
  kBinary = 'b',
};

struct ColumnValue {
  ColumnKind kind = ColumnKind::kNull;
  // Text or binary bytes for kText/kBinary (empty otherwise). Borrows from
  // the input; text values carry no trailing NUL.
  std::string_view data;

  bool operator==(const ColumnValue&) const = default;
};

struct TupleData {
  std::vector<ColumnValue> columns;

  bool operator==(const TupleData&) const = default;
};

// 'B'
struct Begin {
  uint64_t final_lsn = 0;
  int64_t commit_time_ns = 0;
  uint32_t xid = 0;

  bool operator==(const Begin&) const = default;
};

// 'C'
struct Commit {
  uint8_t flags = 0;  // currently unused by PostgreSQL
  uint64_t commit_lsn = 0;
  uint64_t end_lsn = 0;
  int64_t commit_time_ns = 0;

  bool operator==(const Commit&) const = default;
};

// 'O'
struct Origin {
  uint64_t lsn = 0;  // commit LSN on the origin server
  std::string name;

  bool operator==(const Origin&) const = default;
};

struct RelationColumn {
  uint8_t flags = 0;  // bit 0 (value 1): part of the replica identity key
  std::string name;
  uint32_t type_oid = 0;
  int32_t type_modifier = -1;

  bool is_key() const { return (flags & 1) != 0; }

  bool operator==(const RelationColumn&) const = default;
};

// 'R'
struct Relation {
  std::optional<uint32_t> xid;  // present only inside a stream block
  uint32_t relation_id = 0;
  std::string namespace_name;  // empty for pg_catalog
  std::string name;
  char replica_identity = 'd';  // relreplident: 'd'efault, 'n'othing, 'f'ull, 'i'ndex
  std::vector<RelationColumn> columns;

  bool operator==(const Relation&) const = default;
};

// 'Y'
struct Type {
  std::optional<uint32_t> xid;
  uint32_t oid = 0;
  std::string namespace_name;
  std::string name;

  bool operator==(const Type&) const = default;
};

// 'I'
struct Insert {
  std::optional<uint32_t> xid;
  uint32_t relation_id = 0;
  TupleData new_tuple;

  bool operator==(const Insert&) const = default;
};

// Which old row image an Update/Delete carries.
enum class OldTupleKind : char {
  kKey = 'K',  // replica identity key columns only (others are null)
  kOld = 'O',  // the full old row (REPLICA IDENTITY FULL)
};

// 'U'
struct Update {
  std::optional<uint32_t> xid;
  uint32_t relation_id = 0;
  std::optional<OldTupleKind> old_kind;  // unset when no old row was sent
  TupleData old_tuple;                   // empty unless old_kind is set
  TupleData new_tuple;

  bool operator==(const Update&) const = default;
};

// 'D'
struct Delete {
  std::optional<uint32_t> xid;
  uint32_t relation_id = 0;
  OldTupleKind old_kind = OldTupleKind::kKey;
  TupleData old_tuple;

  bool operator==(const Delete&) const = default;
};

// 'T'
struct Truncate {
  static constexpr uint8_t kCascade = 1;
  static constexpr uint8_t kRestartIdentity = 2;

  std::optional<uint32_t> xid;
  uint8_t options = 0;
  std::vector<uint32_t> relation_ids;

  bool cascade() const { return (options & kCascade) != 0; }
  bool restart_identity() const { return (options & kRestartIdentity) != 0; }

  bool operator==(const Truncate&) const = default;
};

// 'M': pg_logical_emit_message() output (needs the "messages" option).
struct LogicalMessage {
  std::optional<uint32_t> xid;
  uint8_t flags = 0;           // raw flags byte; bit 0 = transactional
  bool transactional = false;  // flags & 1
  uint64_t lsn = 0;
  std::string_view prefix;   // borrows from the input
  std::string_view content;  // borrows from the input; arbitrary bytes

  bool operator==(const LogicalMessage&) const = default;
};

// 'S' (protocol >= 2)
struct StreamStart {
  uint32_t xid = 0;
  bool first_segment = false;

  bool operator==(const StreamStart&) const = default;
};

// 'E' (protocol >= 2)
struct StreamStop {
  bool operator==(const StreamStop&) const = default;
};

// 'c' (protocol >= 2)
struct StreamCommit {
  uint32_t xid = 0;
  uint8_t flags = 0;
  uint64_t commit_lsn = 0;
  uint64_t end_lsn = 0;
  int64_t commit_time_ns = 0;

  bool operator==(const StreamCommit&) const = default;
};

// 'A' (protocol >= 2). With protocol >= 4 and streaming = parallel the server
// appends the abort LSN and timestamp; the decoder accepts both lengths when
// protocol_version >= 4 and reports which one it saw via abort_lsn.
struct StreamAbort {
  uint32_t xid = 0;
  uint32_t subxid = 0;  // equals xid when the top-level transaction aborted
  std::optional<uint64_t> abort_lsn;
  std::optional<int64_t> abort_time_ns;

  bool operator==(const StreamAbort&) const = default;
};

// Two-phase commit messages (protocol >= 3, two_phase option).

// The fields Begin Prepare, Prepare and Stream Prepare share (one layout; the
// latter two send a flags byte first).
struct PreparedTransaction {
  uint64_t prepare_lsn = 0;
  uint64_t end_lsn = 0;
  int64_t prepare_time_ns = 0;
  uint32_t xid = 0;
  std::string gid;

  bool operator==(const PreparedTransaction&) const = default;
};

// 'b'
struct BeginPrepare : PreparedTransaction {
  bool operator==(const BeginPrepare&) const = default;
};

// 'P'
struct Prepare : PreparedTransaction {
  uint8_t flags = 0;

  bool operator==(const Prepare&) const = default;
};

// 'K'
struct CommitPrepared {
  uint8_t flags = 0;
  uint64_t commit_lsn = 0;
  uint64_t end_lsn = 0;
  int64_t commit_time_ns = 0;
  uint32_t xid = 0;
  std::string gid;

  bool operator==(const CommitPrepared&) const = default;
};

// 'r'
struct RollbackPrepared {
  uint8_t flags = 0;
  uint64_t prepare_end_lsn = 0;
  uint64_t rollback_end_lsn = 0;
  int64_t prepare_time_ns = 0;
  int64_t rollback_time_ns = 0;
  uint32_t xid = 0;
  std::string gid;

  bool operator==(const RollbackPrepared&) const = default;
};

// 'p': Prepare inside a stream.
struct StreamPrepare : PreparedTransaction {
  uint8_t flags = 0;

  bool operator==(const StreamPrepare&) const = default;
};

using Message =
    std::variant<Begin, Commit, Origin, Relation, Type, Insert, Update, Delete, Truncate,
                 LogicalMessage, StreamStart, StreamStop, StreamCommit, StreamAbort, BeginPrepare,
                 Prepare, CommitPrepared, RollbackPrepared, StreamPrepare>;

// Decodes one pgoutput message (an XLogData payload) and advances ctx
// (Stream Start / Stream Stop open and close a stream block). On error ctx is
// unchanged. See the file comment for error codes and borrowing rules.
Result<Message> DecodeMessage(std::span<const uint8_t> payload, DecodeContext& ctx);

// Human-readable message type name ("Insert", "Stream Start", ...).
std::string_view MessageName(const Message& message);

}  // namespace pgcdc::pgoutput
