#include "detector/mysql/binlog.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "detector/mysql/wire.h"

namespace pgcdc::detector::mysql {

namespace {

constexpr size_t kHeaderSize = 19;
constexpr size_t kChecksumSize = 4;

// Optional metadata field types of TABLE_MAP (MySQL 8 / MariaDB 10.5).
enum MetadataField : uint8_t {
  kSignedness = 1,
  kDefaultCharset = 2,
  kColumnCharset = 3,
  kColumnName = 4,
  kSetStrValue = 5,
  kEnumStrValue = 6,
  kGeometryType = 7,
  kSimplePrimaryKey = 8,
  kPrimaryKeyWithPrefix = 9,
  kEnumAndSetDefaultCharset = 10,
  kEnumAndSetColumnCharset = 11,
};

Error ParseError(std::string_view what, std::string_view problem) {
  return Error(ErrorCode::kParse, "binlog: " + std::string(what) + ": " + std::string(problem));
}

// Types stored as a length prefix (of the size in the column's metadata)
// plus bytes: blobs, and JSON and geometry, which are stored like blobs.
bool IsBlobType(uint8_t type) {
  return type == kTypeBlob || type == kTypeTinyBlob || type == kTypeMediumBlob ||
         type == kTypeLongBlob || type == kTypeJson || type == kTypeGeometry;
}

// Bytes of the type metadata each column type carries in TABLE_MAP.
size_t MetadataSize(uint8_t type) {
  if (IsBlobType(type)) return 1;  // bytes of the length prefix
  switch (type) {
    case kTypeFloat:
    case kTypeDouble:
    case kTypeTimestamp2:
    case kTypeDatetime2:
    case kTypeTime2:
      return 1;
    case kTypeVarchar:
    case kTypeVarString:
    case kTypeBit:
    case kTypeNewDecimal:
    case kTypeString:
    case kTypeEnum:
    case kTypeSet:
      return 2;
    default:
      return 0;
  }
}

// Fills the type-specific fields of `c` from its metadata bytes.
void ApplyTypeMetadata(Column& c, Bytes m) {
  if (m.size() == 1) {  // pack length, length bytes or fractional digits
    c.length = m[0];
    return;
  }
  switch (c.type) {
    case kTypeVarchar:
    case kTypeVarString:
      c.length = static_cast<uint32_t>(m[0] | (m[1] << 8));
      break;
    case kTypeBit:
      c.length = static_cast<uint32_t>(m[1]) * 8 + m[0];  // bits
      break;
    case kTypeNewDecimal:
      c.precision = m[0];
      c.scale = m[1];
      break;
    case kTypeString:
    case kTypeEnum:
    case kTypeSet: {
      // Byte 0 is the real type; lengths over 255 borrow its bits 4-5 (inverted).
      const uint8_t b0 = m[0];
      const uint8_t b1 = m[1];
      if ((b0 & 0x30) != 0x30) {
        c.type = static_cast<uint8_t>(b0 | 0x30);
        c.length = static_cast<uint32_t>(b1 | (((b0 & 0x30) ^ 0x30) << 4));
      } else {
        c.type = b0;
        c.length = b1;
      }
      break;
    }
    default:
      break;
  }
}

// The columns that carry a signedness bit / a collation, in table order.
template <class Pred>
std::vector<size_t> ColumnsWhere(const TableMap& t, Pred pred) {
  std::vector<size_t> out;
  for (size_t i = 0; i < t.columns.size(); ++i) {
    if (pred(t.columns[i].type)) out.push_back(i);
  }
  return out;
}

bool IsEnumOrSet(uint8_t type) { return type == kTypeEnum || type == kTypeSet; }

// DEFAULT_CHARSET-style field: a default collation, then (index, collation)
// pairs for the columns in `cols` that differ.
Status ApplyDefaultCharset(Reader& r, TableMap& t, const std::vector<size_t>& cols) {
  auto def = r.LenEnc();
  if (!def) return Fail(def.error());
  for (size_t i : cols) t.columns[i].collation = static_cast<uint32_t>(*def);
  while (!r.empty()) {
    auto idx = r.LenEnc();
    if (!idx) return Fail(idx.error());
    auto coll = r.LenEnc();
    if (!coll) return Fail(coll.error());
    if (*idx >= cols.size()) return Fail(ParseError("table map", "charset column out of range"));
    t.columns[cols[*idx]].collation = static_cast<uint32_t>(*coll);
  }
  return Ok();
}

Status ApplyColumnCharsets(Reader& r, TableMap& t, const std::vector<size_t>& cols) {
  for (size_t i : cols) {
    auto coll = r.LenEnc();
    if (!coll) return Fail(coll.error());
    t.columns[i].collation = static_cast<uint32_t>(*coll);
  }
  return Ok();
}

Status ApplyNames(Reader& r, TableMap& t) {
  for (auto& c : t.columns) {
    auto name = r.LenEncString();
    if (!name) return Fail(name.error());
    c.name = std::string(*name);
  }
  t.has_names = true;
  return Ok();
}

Status ApplyElements(Reader& r, TableMap& t, uint8_t type) {
  for (auto& c : t.columns) {
    if (c.type != type) continue;
    auto n = r.LenEnc();
    if (!n) return Fail(n.error());
    if (*n > r.remaining()) return Fail(ParseError("table map", "too many enum/set values"));
    c.elements.clear();
    for (uint64_t k = 0; k < *n; ++k) {
      auto s = r.LenEncString();
      if (!s) return Fail(s.error());
      c.elements.emplace_back(*s);
    }
  }
  t.has_elements = true;
  return Ok();
}

// MariaDB counts BIT columns among the numeric ones (they are "unsigned").
Status ApplySignedness(Reader& r, TableMap& t, bool mariadb) {
  const auto cols = ColumnsWhere(
      t, [mariadb](uint8_t type) { return IsNumericType(type) || (mariadb && type == kTypeBit); });
  auto bits = r.Take((cols.size() + 7) / 8);
  if (!bits) return Fail(bits.error());
  for (size_t k = 0; k < cols.size(); ++k) {
    t.columns[cols[k]].is_unsigned = ((*bits)[k / 8] & (0x80 >> (k % 8))) != 0;
  }
  t.has_signedness = true;
  return Ok();
}

Status ApplyPrimaryKey(Reader& r, TableMap& t, bool with_prefix) {
  while (!r.empty()) {
    auto idx = r.LenEnc();
    if (!idx) return Fail(idx.error());
    if (with_prefix) {
      if (auto prefix = r.LenEnc(); !prefix) return Fail(prefix.error());
    }
    if (*idx >= t.columns.size()) return Fail(ParseError("table map", "key column out of range"));
    t.columns[*idx].key = true;
  }
  return Ok();
}

// One optional metadata field (type, value) of TABLE_MAP.
Status ApplyMetadataField(uint8_t field, Bytes value, TableMap& t, bool mariadb) {
  Reader r(value);
  switch (field) {
    case kSignedness:
      return ApplySignedness(r, t, mariadb);
    case kDefaultCharset:
      t.has_charsets = true;
      return ApplyDefaultCharset(r, t, ColumnsWhere(t, IsCharacterType));
    case kColumnCharset:
      t.has_charsets = true;
      return ApplyColumnCharsets(r, t, ColumnsWhere(t, IsCharacterType));
    case kColumnName:
      return ApplyNames(r, t);
    case kSetStrValue:
      return ApplyElements(r, t, kTypeSet);
    case kEnumStrValue:
      return ApplyElements(r, t, kTypeEnum);
    case kSimplePrimaryKey:
      return ApplyPrimaryKey(r, t, false);
    case kPrimaryKeyWithPrefix:
      return ApplyPrimaryKey(r, t, true);
    case kEnumAndSetDefaultCharset:
      return ApplyDefaultCharset(r, t, ColumnsWhere(t, IsEnumOrSet));
    case kEnumAndSetColumnCharset:
      return ApplyColumnCharsets(r, t, ColumnsWhere(t, IsEnumOrSet));
    default:
      return Ok();  // geometry types, newer fields: not needed
  }
}

Status DecodeOptionalMetadata(Reader& r, TableMap& t, bool mariadb) {
  while (!r.empty()) {
    auto field = r.U8();
    if (!field) return Fail(field.error());
    auto len = r.LenEnc();
    if (!len) return Fail(len.error());
    auto value = r.Take(*len);
    if (!value) return Fail(value.error());
    if (auto st = ApplyMetadataField(*field, *value, t, mariadb); !st) return st;
  }
  return Ok();
}

// Table id of a TABLE_MAP or rows event: 6 bytes (4 with a 6-byte post-header).
Result<uint64_t> TableId(Reader& r, uint8_t post_header_len) {
  if (post_header_len == 6) {
    auto id = r.Uint(4);
    if (!id) return Fail(id.error());
    return *id;
  }
  return r.Uint(6);
}

Result<RowImage> DecodeImage(Reader& r, const TableMap& t, const std::vector<bool>& present) {
  RowImage img;
  img.present = present;
  img.values.resize(present.size());
  const size_t n_present = static_cast<size_t>(std::count(present.begin(), present.end(), true));
  auto nulls = r.Take((n_present + 7) / 8);
  if (!nulls) return Fail(nulls.error());
  size_t k = 0;
  for (size_t i = 0; i < present.size(); ++i) {
    if (!present[i]) continue;
    const bool is_null = ((*nulls)[k / 8] & (1u << (k % 8))) != 0;
    ++k;
    if (is_null) continue;
    auto size = ValueSize(t.columns[i], r.rest());
    if (!size) {
      return Fail(ParseError("rows", "column " + std::to_string(i + 1) + " of " + t.database + "." +
                                         t.table + ": " + size.error().message()));
    }
    auto v = r.Take(*size);
    if (!v) return Fail(v.error());
    img.values[i] = *v;
  }
  return img;
}

Result<std::vector<bool>> Bitmap(Reader& r, size_t columns) {
  auto bits = r.Take((columns + 7) / 8);
  if (!bits) return Fail(bits.error());
  std::vector<bool> out(columns);
  for (size_t i = 0; i < columns; ++i) out[i] = ((*bits)[i / 8] & (1u << (i % 8))) != 0;
  return out;
}

// Size of a length-prefixed value: `prefix` little-endian length bytes + data.
Result<size_t> Prefixed(Bytes d, size_t prefix) {
  if (prefix == 0 || prefix > 4) return Fail(ParseError("value", "bad length prefix size"));
  if (d.size() < prefix) return Fail(ParseError("value", "truncated length"));
  uint64_t n = 0;
  for (size_t i = 0; i < prefix; ++i) n |= static_cast<uint64_t>(d[i]) << (8 * i);
  if (n > d.size() - prefix) return Fail(ParseError("value", "truncated data"));
  return prefix + static_cast<size_t>(n);
}

size_t Fixed(Bytes d, size_t n, Result<size_t>* err) {
  if (d.size() < n) {
    *err = Fail(ParseError("value", "truncated"));
    return 0;
  }
  return n;
}

}  // namespace

uint8_t FormatDescription::PostHeader(uint8_t type, uint8_t fallback) const {
  if (type == 0 || type > post_header.size()) return fallback;
  return post_header[type - 1];
}

bool IsNumericType(uint8_t type) {
  switch (type) {
    case kTypeTiny:
    case kTypeShort:
    case kTypeInt24:
    case kTypeLong:
    case kTypeLongLong:
    case kTypeNewDecimal:
    case kTypeDecimal:
    case kTypeFloat:
    case kTypeDouble:
      return true;
    default:
      return false;
  }
}

bool IsCharacterType(uint8_t type) {
  switch (type) {
    case kTypeString:
    case kTypeVarString:
    case kTypeVarchar:
    case kTypeBlob:
    case kTypeTinyBlob:
    case kTypeMediumBlob:
    case kTypeLongBlob:
      return true;
    default:
      return false;
  }
}

Result<RawEvent> SplitEvent(Bytes bytes, const FormatDescription& fd) {
  Reader r(bytes);
  RawEvent ev;
  auto ts = r.Uint(4);
  auto type = r.U8();
  auto server = r.Uint(4);
  auto size = r.Uint(4);
  auto pos = r.Uint(4);
  auto flags = r.Uint(2);
  if (!flags) return Fail(ParseError("event", "shorter than its header"));
  ev.header = {static_cast<uint32_t>(*ts),     *type,
               static_cast<uint32_t>(*server), static_cast<uint32_t>(*size),
               static_cast<uint32_t>(*pos),    static_cast<uint16_t>(*flags)};
  if (ev.header.event_size != bytes.size()) {
    return Fail(ParseError("event", "size " + std::to_string(ev.header.event_size) +
                                        " does not match the " + std::to_string(bytes.size()) +
                                        " bytes received"));
  }
  const size_t header = std::max<size_t>(fd.header_length, kHeaderSize);
  size_t trailer = fd.checksum ? kChecksumSize : 0;
  // The FORMAT_DESCRIPTION event decides about checksums itself (it always
  // carries its algorithm byte and a checksum slot).
  if (*type == kFormatDescriptionEvent) trailer = 0;
  if (bytes.size() < header + trailer) return Fail(ParseError("event", "truncated"));
  ev.body = bytes.subspan(header, bytes.size() - header - trailer);
  return ev;
}

Result<FormatDescription> DecodeFormatDescription(Bytes body) {
  Reader r(body);
  FormatDescription fd;
  auto version = r.Uint(2);
  auto server = r.Take(50);
  auto created = r.Uint(4);
  auto header_len = r.U8();
  if (!header_len) return Fail(ParseError("format description", "truncated"));
  if (*version != 4) {
    return Fail(ParseError("format description", "binlog version " + std::to_string(*version) +
                                                     " is not supported (4 expected)"));
  }
  fd.binlog_version = 4;
  const auto* sv = reinterpret_cast<const char*>(server->data());
  fd.server_version.assign(sv, strnlen(sv, server->size()));
  fd.header_length = *header_len;
  if (fd.header_length < kHeaderSize) return Fail(ParseError("format description", "bad header"));
  // Servers with checksum support (MySQL 5.6.1+, MariaDB 5.3+, i.e. every
  // supported one) end the event with the algorithm byte and 4 checksum bytes.
  Bytes rest = r.rest();
  if (rest.size() < 5) return Fail(ParseError("format description", "no checksum algorithm"));
  const uint8_t alg = rest[rest.size() - 5];
  fd.checksum = alg == 1;  // 0 off, 1 CRC32
  if (alg > 1 && alg != 0xff) {
    return Fail(
        ParseError("format description", "unknown checksum algorithm " + std::to_string(alg)));
  }
  fd.post_header.assign(rest.begin(), rest.end() - 5);
  return fd;
}

Result<Rotate> DecodeRotate(Bytes body, const FormatDescription& fd) {
  Reader r(body);
  Rotate rot;
  if (fd.PostHeader(kRotateEvent, 8) == 8) {
    auto pos = r.Uint(8);
    if (!pos) return Fail(ParseError("rotate", "truncated"));
    rot.position = *pos;
  }
  Bytes name = r.rest();
  rot.file.assign(reinterpret_cast<const char*>(name.data()), name.size());
  if (rot.file.empty()) return Fail(ParseError("rotate", "empty file name"));
  return rot;
}

Result<Query> DecodeQuery(Bytes body, const FormatDescription& fd) {
  Reader r(body);
  const uint8_t post = fd.PostHeader(kQueryEvent, 13);
  auto thread = r.Uint(4);
  auto exec_time = r.Uint(4);
  auto db_len = r.U8();
  auto error = r.Uint(2);
  uint64_t status_len = 0;
  if (post >= 13) {
    auto sl = r.Uint(2);
    if (!sl) return Fail(ParseError("query", "truncated"));
    status_len = *sl;
  }
  if (!error) return Fail(ParseError("query", "truncated"));
  if (post > 13) {
    if (auto skip = r.Take(post - 13); !skip) return Fail(ParseError("query", "truncated"));
  }
  auto status = r.Take(status_len);
  auto db = r.Take(*db_len);
  auto nul = r.U8();
  if (!nul) return Fail(ParseError("query", "truncated"));
  Query q;
  q.database = std::string_view(reinterpret_cast<const char*>(db->data()), db->size());
  Bytes stmt = r.rest();
  q.statement = std::string_view(reinterpret_cast<const char*>(stmt.data()), stmt.size());
  return q;
}

Result<uint64_t> DecodeXid(Bytes body) {
  Reader r(body);
  auto xid = r.Uint(8);
  if (!xid) return Fail(ParseError("xid", "truncated"));
  return *xid;
}

Result<MariaGtid> DecodeMariaGtid(Bytes body) {
  Reader r(body);
  auto seq = r.Uint(8);
  auto domain = r.Uint(4);
  auto flags = r.U8();
  if (!flags) return Fail(ParseError("gtid", "truncated"));
  return MariaGtid{*seq, static_cast<uint32_t>(*domain), *flags};
}

Result<MysqlGtid> DecodeMysqlGtid(Bytes body) {
  Reader r(body);
  auto flags = r.U8();
  auto sid = r.Take(16);
  auto gno = r.Uint(8);
  if (!gno) return Fail(ParseError("gtid", "truncated"));
  MysqlGtid g;
  g.gno = *gno;
  static constexpr char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) g.uuid.push_back('-');
    g.uuid.push_back(kHex[(*sid)[i] >> 4]);
    g.uuid.push_back(kHex[(*sid)[i] & 15]);
  }
  return g;
}

Result<std::string> DecodeMariaGtidList(Bytes body) {
  Reader r(body);
  auto count = r.Uint(4);
  if (!count) return Fail(ParseError("gtid list", "truncated"));
  const uint64_t n = *count & 0x0fffffff;  // the top bits are flags
  if (n * 16 > r.remaining()) return Fail(ParseError("gtid list", "truncated"));
  std::string out;
  for (uint64_t i = 0; i < n; ++i) {
    auto domain = r.Uint(4);
    auto server = r.Uint(4);
    auto seq = r.Uint(8);
    if (!out.empty()) out.push_back(',');
    out += std::to_string(*domain) + "-" + std::to_string(*server) + "-" + std::to_string(*seq);
  }
  return out;
}

Result<TableMap> DecodeTableMap(Bytes body, const FormatDescription& fd) {
  Reader r(body);
  TableMap t;
  auto id = TableId(r, fd.PostHeader(kTableMapEvent, 8));
  if (!id) return Fail(ParseError("table map", "truncated"));
  t.table_id = *id;
  auto flags = r.Uint(2);
  auto db = r.LenByteString();
  if (!db) return Fail(ParseError("table map", "truncated database name"));
  t.database = std::string(*db);
  if (auto nul = r.U8(); !nul) return Fail(ParseError("table map", "truncated"));
  auto table = r.LenByteString();
  if (!table) return Fail(ParseError("table map", "truncated table name"));
  t.table = std::string(*table);
  if (auto nul = r.U8(); !nul) return Fail(ParseError("table map", "truncated"));
  auto n = r.LenEnc();
  if (!n || *n > r.remaining()) return Fail(ParseError("table map", "bad column count"));
  auto types = r.Take(*n);
  t.columns.resize(*n);
  for (size_t i = 0; i < *n; ++i) t.columns[i].type = (*types)[i];
  auto meta_len = r.LenEnc();
  if (!meta_len) return Fail(ParseError("table map", "truncated metadata"));
  auto meta = r.Take(*meta_len);
  if (!meta) return Fail(ParseError("table map", "truncated metadata"));
  Reader m(*meta);
  for (auto& c : t.columns) {
    auto mb = m.Take(MetadataSize(c.type));
    if (!mb) return Fail(ParseError("table map", "metadata shorter than the column types need"));
    ApplyTypeMetadata(c, *mb);
  }
  auto nulls = Bitmap(r, t.columns.size());
  if (!nulls) return Fail(ParseError("table map", "truncated null bitmap"));
  for (size_t i = 0; i < t.columns.size(); ++i) t.columns[i].nullable = (*nulls)[i];
  if (auto st = DecodeOptionalMetadata(r, t, fd.IsMariaDb()); !st) {
    return Fail(ParseError("table map", "optional metadata: " + st.error().message()));
  }
  return t;
}

std::optional<RowsKind> RowsKindOf(uint8_t type) {
  switch (type) {
    case kWriteRowsV1:
    case kWriteRowsV2:
      return RowsKind::kWrite;
    case kUpdateRowsV1:
    case kUpdateRowsV2:
      return RowsKind::kUpdate;
    case kDeleteRowsV1:
    case kDeleteRowsV2:
      return RowsKind::kDelete;
    default:
      return std::nullopt;
  }
}

bool IsRowsEventV2(uint8_t type) {
  return type == kWriteRowsV2 || type == kUpdateRowsV2 || type == kDeleteRowsV2;
}

Result<uint64_t> RowsTableId(uint8_t type, Bytes body, const FormatDescription& fd) {
  Reader r(body);
  auto id = TableId(r, fd.PostHeader(type, IsRowsEventV2(type) ? 10 : 8));
  if (!id) return Fail(ParseError("rows", "truncated"));
  return *id;
}

Result<RowsEvent> DecodeRows(uint8_t type, Bytes body, const FormatDescription& fd,
                             const TableMap& table) {
  auto kind = RowsKindOf(type);
  if (!kind) return Fail(ParseError("rows", "not a rows event"));
  Reader r(body);
  RowsEvent ev;
  ev.kind = *kind;
  auto id = TableId(r, fd.PostHeader(type, IsRowsEventV2(type) ? 10 : 8));
  auto flags = r.Uint(2);
  if (!flags) return Fail(ParseError("rows", "truncated"));
  ev.table_id = *id;
  ev.flags = static_cast<uint16_t>(*flags);
  if (IsRowsEventV2(type)) {
    auto extra = r.Uint(2);  // includes its own two bytes
    if (!extra || *extra < 2 || !r.Take(*extra - 2)) {
      return Fail(ParseError("rows", "truncated extra data"));
    }
  }
  auto n = r.LenEnc();
  if (!n) return Fail(ParseError("rows", "truncated"));
  if (*n != table.columns.size()) {
    return Fail(ParseError("rows", std::to_string(*n) + " columns but the table map of " +
                                       table.database + "." + table.table + " has " +
                                       std::to_string(table.columns.size())));
  }
  auto before = Bitmap(r, *n);
  if (!before) return Fail(ParseError("rows", "truncated column bitmap"));
  std::vector<bool> after = *before;
  if (ev.kind == RowsKind::kUpdate) {
    auto a = Bitmap(r, *n);
    if (!a) return Fail(ParseError("rows", "truncated column bitmap"));
    after = std::move(*a);
  }
  while (!r.empty()) {
    auto img = DecodeImage(r, table, *before);
    if (!img) return Fail(img.error());
    ev.rows.push_back(std::move(*img));
    if (ev.kind != RowsKind::kUpdate) continue;
    auto img2 = DecodeImage(r, table, after);
    if (!img2) return Fail(img2.error());
    ev.rows.push_back(std::move(*img2));
  }
  return ev;
}

Result<size_t> ValueSize(const Column& c, Bytes d) {
  if (IsBlobType(c.type)) return Prefixed(d, c.length);
  Result<size_t> err = size_t{0};
  size_t n = 0;
  switch (c.type) {
    case kTypeTiny:
    case kTypeYear:
      n = Fixed(d, 1, &err);
      break;
    case kTypeShort:
      n = Fixed(d, 2, &err);
      break;
    case kTypeInt24:
    case kTypeDate:
    case kTypeNewDate:
    case kTypeTime:
      n = Fixed(d, 3, &err);
      break;
    case kTypeLong:
    case kTypeTimestamp:
      n = Fixed(d, 4, &err);
      break;
    case kTypeLongLong:
    case kTypeDatetime:
      n = Fixed(d, 8, &err);
      break;
    case kTypeFloat:
    case kTypeDouble:
      n = Fixed(d, c.length == 0 ? (c.type == kTypeFloat ? 4 : 8) : c.length, &err);
      break;
    case kTypeTimestamp2:
      n = Fixed(d, 4 + (c.length + 1) / 2, &err);
      break;
    case kTypeDatetime2:
      n = Fixed(d, 5 + (c.length + 1) / 2, &err);
      break;
    case kTypeTime2:
      n = Fixed(d, 3 + (c.length + 1) / 2, &err);
      break;
    case kTypeBit:
      n = Fixed(d, (c.length + 7) / 8, &err);
      break;
    case kTypeNewDecimal: {
      auto size = DecimalBinarySize(c.precision, c.scale);
      if (!size) return Fail(size.error());
      n = Fixed(d, *size, &err);
      break;
    }
    case kTypeEnum:
    case kTypeSet:
      n = Fixed(d, c.length, &err);
      break;
    case kTypeVarchar:
    case kTypeVarString:
    case kTypeString:
      return Prefixed(d, c.length > 255 ? 2 : 1);
    default:
      return Fail(ParseError("value", "unsupported column type " + std::to_string(c.type)));
  }
  if (!err) return err;
  if (n == 0) return Fail(ParseError("value", "empty fixed-size value"));
  return n;
}

}  // namespace pgcdc::detector::mysql
