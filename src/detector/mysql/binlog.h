// binlog: a pure decoder for the MySQL/MariaDB binary log events a row-based
// replica receives (COM_BINLOG_DUMP). Transport (libmariadb) hands us one
// event's bytes at a time; this module splits them into header and body and
// decodes the events pgcdc acts on:
//
//   FORMAT_DESCRIPTION  header length, post-header lengths, checksum algorithm
//   ROTATE              next binlog file name and position
//   QUERY               BEGIN / DDL / TRUNCATE text and the default database
//   XID                 commit of a transactional event group
//   GTID (MariaDB 162)  domain-server-sequence of the next event group
//   GTID (MySQL 33)     source uuid + sequence of the next event group
//   TABLE_MAP           table id -> db.table, column types and metadata,
//                       including the optional metadata binlog_row_metadata=FULL
//                       writes (names, signedness, charsets, enum/set values,
//                       primary key)
//   WRITE/UPDATE/DELETE_ROWS v1 and v2 row images (values: row_values.h)
//
// Contracts:
//  * Every read is bounds-checked; malformed input returns ErrorCode::kParse
//    naming the event and the problem. Decoding never asserts, never throws,
//    never reads outside its input, and allocates at most in proportion to the
//    input (counts read from the wire are checked against the bytes present).
//  * Integers are little-endian unless a comment says otherwise.
//  * RowsEvent values point INTO the event bytes (zero-copy): they are valid as
//    long as the caller keeps those bytes. TableMap copies what it keeps.
//  * No state besides what the caller passes in (FormatDescription, TableMap).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace pgcdc::detector::mysql {

using Bytes = std::span<const uint8_t>;

// Event type codes (MySQL sql/log_event.h, MariaDB additions from 160).
enum EventType : uint8_t {
  kQueryEvent = 2,
  kRotateEvent = 4,
  kFormatDescriptionEvent = 15,
  kXidEvent = 16,
  kTableMapEvent = 19,
  kWriteRowsV1 = 23,
  kUpdateRowsV1 = 24,
  kDeleteRowsV1 = 25,
  kHeartbeatEvent = 27,
  kWriteRowsV2 = 30,
  kUpdateRowsV2 = 31,
  kDeleteRowsV2 = 32,
  kMysqlGtidEvent = 33,
  kMysqlAnonymousGtidEvent = 34,
  kPartialUpdateRowsEvent = 39,
  kMariaGtidEvent = 162,
  kMariaGtidListEvent = 163,
  kWriteRowsCompressedV1 = 166,
  kDeleteRowsCompressedV2 = 171,
};

// Column types as they appear in TABLE_MAP (enum_field_types).
enum ColumnType : uint8_t {
  kTypeDecimal = 0,
  kTypeTiny = 1,
  kTypeShort = 2,
  kTypeLong = 3,
  kTypeFloat = 4,
  kTypeDouble = 5,
  kTypeNull = 6,
  kTypeTimestamp = 7,
  kTypeLongLong = 8,
  kTypeInt24 = 9,
  kTypeDate = 10,
  kTypeTime = 11,
  kTypeDatetime = 12,
  kTypeYear = 13,
  kTypeNewDate = 14,
  kTypeVarchar = 15,
  kTypeBit = 16,
  kTypeTimestamp2 = 17,
  kTypeDatetime2 = 18,
  kTypeTime2 = 19,
  kTypeJson = 245,
  kTypeNewDecimal = 246,
  kTypeEnum = 247,
  kTypeSet = 248,
  kTypeTinyBlob = 249,
  kTypeMediumBlob = 250,
  kTypeLongBlob = 251,
  kTypeBlob = 252,
  kTypeVarString = 253,
  kTypeString = 254,
  kTypeGeometry = 255,
};

// The collation id of the `binary` character set (bytes, not text).
inline constexpr uint32_t kBinaryCollation = 63;

struct EventHeader {
  uint32_t timestamp = 0;  // seconds since the epoch
  uint8_t type = 0;
  uint32_t server_id = 0;
  uint32_t event_size = 0;  // header + body + checksum
  uint32_t log_pos = 0;     // position of the next event (0: artificial event)
  uint16_t flags = 0;
};

struct FormatDescription {
  uint16_t binlog_version = 4;
  std::string server_version;
  uint8_t header_length = 19;
  std::vector<uint8_t> post_header;  // [type - 1]
  bool checksum = false;             // every event ends with a CRC32
  // The post-header length of `type`, or `fallback` when the FDE has none.
  uint8_t PostHeader(uint8_t type, uint8_t fallback) const;
  bool IsMariaDb() const { return server_version.find("MariaDB") != std::string::npos; }
};

// One event split into its parts; body excludes header and checksum.
struct RawEvent {
  EventHeader header;
  Bytes body;
};

// Splits `bytes` (one event as sent by the server, without the OK byte of the
// network packet). The checksum, if `fd` says there is one, is dropped, not
// verified (TCP and the server's own checks cover transport).
Result<RawEvent> SplitEvent(Bytes bytes, const FormatDescription& fd);

Result<FormatDescription> DecodeFormatDescription(Bytes body);

struct Rotate {
  uint64_t position = 0;
  std::string file;
};
Result<Rotate> DecodeRotate(Bytes body, const FormatDescription& fd);

struct Query {
  std::string_view database;
  std::string_view statement;
};
// Views into `body`.
Result<Query> DecodeQuery(Bytes body, const FormatDescription& fd);

Result<uint64_t> DecodeXid(Bytes body);

// MariaDB GTID event: starts an event group; `standalone` (FL_STANDALONE)
// groups (DDL) have no terminating XID/COMMIT.
struct MariaGtid {
  uint64_t sequence = 0;
  uint32_t domain = 0;
  uint8_t flags = 0;
  bool standalone() const { return (flags & 0x01) != 0; }
};
Result<MariaGtid> DecodeMariaGtid(Bytes body);

// MySQL GTID event: "<uuid>:<gno>".
struct MysqlGtid {
  std::string uuid;  // canonical 8-4-4-4-12 lowercase
  uint64_t gno = 0;
};
Result<MysqlGtid> DecodeMysqlGtid(Bytes body);

// MariaDB GTID_LIST: the binlog state at the start of a file ("d-s-n,...").
Result<std::string> DecodeMariaGtidList(Bytes body);

struct Column {
  uint8_t type = 0;  // real type (STRING columns resolved to ENUM/SET/STRING)
  // Type metadata: NEWDECIMAL precision/scale, FLOAT/DOUBLE/BLOB/JSON/GEOMETRY
  // pack length, VARCHAR/STRING max byte length, BIT bits, ENUM/SET pack
  // length, TIME2/DATETIME2/TIMESTAMP2 fractional digits.
  uint32_t length = 0;
  uint8_t precision = 0;
  uint8_t scale = 0;
  bool nullable = true;
  bool is_unsigned = false;
  uint32_t collation = 0;             // 0 = unknown (text assumed utf8mb4)
  bool is_json_text = false;          // MariaDB JSON (a text column holding JSON)
  bool key = false;                   // part of the primary key
  std::string name;                   // empty = unknown
  std::vector<std::string> elements;  // ENUM/SET member names
};

struct TableMap {
  uint64_t table_id = 0;
  std::string database;
  std::string table;
  std::vector<Column> columns;
  // What the optional metadata (binlog_row_metadata=FULL) provided.
  bool has_names = false;
  bool has_signedness = false;
  bool has_charsets = false;
  bool has_elements = false;
};
Result<TableMap> DecodeTableMap(Bytes body, const FormatDescription& fd);

// True for the column types that have a signedness bit in the optional
// metadata (MySQL; MariaDB adds BIT) and for which "unsigned" matters.
bool IsNumericType(uint8_t type);
// True for the columns whose collation the optional metadata carries in
// DEFAULT_CHARSET/COLUMN_CHARSET (char, varchar, text/blob).
bool IsCharacterType(uint8_t type);

enum class RowsKind { kWrite, kUpdate, kDelete };

// One row image: for each table column, whether it is present in the image
// (binlog_row_image) and its raw value bytes (nullopt = NULL). Decoded into
// JSON by row_values.h.
struct RowImage {
  std::vector<bool> present;
  std::vector<std::optional<Bytes>> values;
};

struct RowsEvent {
  RowsKind kind = RowsKind::kWrite;
  uint64_t table_id = 0;
  uint16_t flags = 0;
  bool end_of_statement() const { return (flags & 0x01) != 0; }
  // WRITE: after images; DELETE: before images; UPDATE: before, after pairs
  // (rows[2k] before, rows[2k+1] after).
  std::vector<RowImage> rows;
};

// The rows event type `type` (v1 or v2) or nullopt when it is not one.
std::optional<RowsKind> RowsKindOf(uint8_t type);
bool IsRowsEventV2(uint8_t type);
// Decodes a rows event against its table map (the value sizes come from the
// column types).
Result<RowsEvent> DecodeRows(uint8_t type, Bytes body, const FormatDescription& fd,
                             const TableMap& table);
// Only the table id of a rows event (to look up its table map, or to skip an
// event of a filtered table without decoding it).
Result<uint64_t> RowsTableId(uint8_t type, Bytes body, const FormatDescription& fd);

// Bytes a non-NULL value of `c` occupies at the start of `data`, or an error
// when it does not fit (or the type is unknown).
Result<size_t> ValueSize(const Column& c, Bytes data);

}  // namespace pgcdc::detector::mysql
