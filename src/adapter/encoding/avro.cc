#include "adapter/encoding/avro.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <set>

#include "core/json.h"
#include "core/time.h"
#include "schema/ref.h"
#include "transform/payload.h"

namespace pgcdc::encoding::avro {

namespace {

using transform::JsonObject;

// ---- primitives ------------------------------------------------------------------

void AppendVarint(uint64_t v, std::string& out) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

template <class T>
void AppendLittleEndian(T v, std::string& out) {
  char buf[sizeof(T)];
  std::memcpy(buf, &v, sizeof(T));
  if constexpr (std::endian::native == std::endian::big) std::reverse(buf, buf + sizeof(T));
  out.append(buf, sizeof(T));
}

Error BadValue(std::string_view column, std::string what) {
  return Error(ErrorCode::kInvalidArgument,
               "avro: column \"" + std::string(column) + "\": " + std::move(what));
}

// ---- PostgreSQL text → Avro values ---------------------------------------------

bool ParseInt64(std::string_view s, int64_t& v) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

// Reads exactly `n` digits at s[pos].
bool Digits(std::string_view s, size_t& pos, size_t n, int64_t& v) {
  if (pos + n > s.size()) return false;
  v = 0;
  for (size_t i = 0; i < n; ++i) {
    const char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  pos += n;
  return true;
}

// "YYYY-MM-DD" (4 or more year digits, " BC" suffix) → days; nullopt if malformed.
std::optional<int64_t> ParseDate(std::string_view s, size_t& pos) {
  size_t year_end = pos;
  while (year_end < s.size() && s[year_end] >= '0' && s[year_end] <= '9') ++year_end;
  int64_t y = 0, m = 0, d = 0;
  if (year_end - pos < 4 || year_end - pos > 7 || !Digits(s, pos, year_end - pos, y)) return {};
  if (pos >= s.size() || s[pos++] != '-' || !Digits(s, pos, 2, m)) return {};
  if (pos >= s.size() || s[pos++] != '-' || !Digits(s, pos, 2, d)) return {};
  if (m < 1 || m > 12 || d < 1 || d > 31) return {};
  if (s.substr(pos).ends_with(" BC")) y = 1 - y;  // 1 BC is year 0
  return DaysFromCivil(y, static_cast<unsigned>(m), static_cast<unsigned>(d));
}

// "HH:MM:SS[.ffffff]" → microseconds of the day.
std::optional<int64_t> ParseTimeOfDay(std::string_view s, size_t& pos) {
  int64_t h = 0, mi = 0, sec = 0;
  if (!Digits(s, pos, 2, h) || pos >= s.size() || s[pos++] != ':' || !Digits(s, pos, 2, mi) ||
      pos >= s.size() || s[pos++] != ':' || !Digits(s, pos, 2, sec)) {
    return {};
  }
  int64_t micros = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int64_t scale = 100000;
    size_t n = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (n++ < 6) {
        micros += (s[pos] - '0') * scale;
        scale /= 10;
      }
      ++pos;
    }
    if (n == 0) return {};
  }
  if (h > 24 || mi > 59 || sec > 60) return {};
  return ((h * 60 + mi) * 60 + sec) * 1'000'000 + micros;
}

// "+HH[:MM[:SS]]" / "-HH…" / "Z" → offset seconds east of UTC; 0 when absent.
std::optional<int64_t> ParseOffset(std::string_view s, size_t& pos) {
  if (pos >= s.size()) return 0;
  if (s[pos] == 'Z') {
    ++pos;
    return 0;
  }
  if (s[pos] != '+' && s[pos] != '-') return 0;
  const int sign = s[pos++] == '-' ? -1 : 1;
  int64_t h = 0, m = 0, sec = 0;
  if (!Digits(s, pos, 2, h)) return {};
  if (pos < s.size() && s[pos] == ':') {
    ++pos;
    if (!Digits(s, pos, 2, m)) return {};
    if (pos < s.size() && s[pos] == ':') {
      ++pos;
      if (!Digits(s, pos, 2, sec)) return {};
    }
  }
  return sign * (h * 3600 + m * 60 + sec);
}

// ISO date-time as the WAL source writes it → microseconds since the epoch (UTC).
std::optional<int64_t> ParseTimestamp(std::string_view s) {
  size_t pos = 0;
  auto days = ParseDate(s, pos);
  if (!days || pos >= s.size() || (s[pos] != 'T' && s[pos] != ' ')) return {};
  ++pos;
  auto tod = ParseTimeOfDay(s, pos);
  if (!tod) return {};
  auto offset = ParseOffset(s, pos);
  if (!offset) return {};
  return *days * 86'400'000'000 + *tod - *offset * 1'000'000;
}

// numeric text → unscaled value at scale 18, as two's complement big-endian.
bool DecimalBytes(std::string_view s, std::string& out) {
  constexpr int kScale = 18;
  constexpr int kPrecision = 38;
  bool negative = false;
  size_t pos = 0;
  if (pos < s.size() && (s[pos] == '-' || s[pos] == '+')) negative = s[pos++] == '-';
  __int128 v = 0;
  int digits = 0, frac = 0;
  bool seen_point = false, any = false;
  for (; pos < s.size(); ++pos) {
    const char c = s[pos];
    if (c == '.') {
      if (seen_point) return false;
      seen_point = true;
      continue;
    }
    if (c == 'e' || c == 'E') return false;  // PostgreSQL never writes exponents for numeric
    if (c < '0' || c > '9') return false;
    any = true;
    if (seen_point && ++frac > kScale) {
      if (c != '0') return false;  // would lose a digit
      continue;
    }
    if (v != 0 || c != '0') ++digits;
    v = v * 10 + (c - '0');
    if (digits > kPrecision) return false;
  }
  if (!any) return false;
  for (int i = std::min(frac, kScale); i < kScale; ++i) {
    v *= 10;
    if (v != 0 && ++digits > kPrecision) return false;
  }
  if (negative) v = -v;
  // Minimal two's complement, big-endian.
  unsigned char buf[16];
  auto u = static_cast<unsigned __int128>(v);
  for (int i = 15; i >= 0; --i) {
    buf[i] = static_cast<unsigned char>(u & 0xff);
    u >>= 8;
  }
  int start = 0;
  while (start < 15 && ((buf[start] == 0x00 && (buf[start + 1] & 0x80) == 0) ||
                        (buf[start] == 0xff && (buf[start + 1] & 0x80) != 0))) {
    ++start;
  }
  AppendBytes(std::string_view(reinterpret_cast<const char*>(buf + start), 16 - start), out);
  return true;
}

// The JSON text of a value as a string: strings unescaped, the rest as written.
std::string Text(std::string_view raw) { return transform::StringifyJson(raw); }

// float and double: JSON numbers plus PostgreSQL's NaN and ±Infinity strings.
Status EncodeFloating(const Schema::Field& f, std::string_view raw, std::string& out) {
  const std::string_view column = f.column;
  const std::string t = Text(raw);
  double d = 0;
  if (t == "NaN") {
    d = std::numeric_limits<double>::quiet_NaN();
  } else if (t == "Infinity" || t == "-Infinity") {
    d = t[0] == '-' ? -HUGE_VAL : HUGE_VAL;
  } else {
    auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), d);
    if (ec != std::errc() || p != t.data() + t.size()) {
      return Fail(BadValue(column, "not a number"));
    }
  }
  if (f.type == FieldType::kFloat) {
    AppendLittleEndian(static_cast<float>(d), out);
  } else {
    AppendLittleEndian(d, out);
  }
  return Ok();
}

// bytea in PostgreSQL's hex format (\x...).
Status EncodeBytea(std::string_view column, std::string_view raw, std::string& out) {
  const std::string t = Text(raw);
  if (!t.starts_with("\\x") || t.size() % 2 != 0) {
    return Fail(BadValue(column, "bytea is not in hex format"));
  }
  std::string bytes;
  bytes.reserve(t.size() / 2 - 1);
  for (size_t i = 2; i < t.size(); i += 2) {
    const int hi = json::HexValue(t[i]), lo = json::HexValue(t[i + 1]);
    if (hi < 0 || lo < 0) return Fail(BadValue(column, "bytea is not in hex format"));
    bytes.push_back(static_cast<char>(hi << 4 | lo));
  }
  AppendBytes(bytes, out);
  return Ok();
}

// date, timestamp-micros and time-micros.
Status EncodeTemporal(const Schema::Field& f, std::string_view raw, std::string& out) {
  const std::string_view column = f.column;
  switch (f.type) {
    case FieldType::kDate: {
      const std::string t = Text(raw);
      size_t pos = 0;
      auto days = ParseDate(t, pos);
      if (!days || (pos != t.size() && t.substr(pos) != " BC")) {
        return Fail(BadValue(column, "date " + t.substr(0, 40) + " has no Avro date value"));
      }
      AppendLong(*days, out);
      return Ok();
    }
    case FieldType::kTimestampMicros: {
      const std::string t = Text(raw);
      auto micros = ParseTimestamp(t);
      if (!micros) {
        return Fail(BadValue(column, "timestamp " + t.substr(0, 40) + " has no Avro value"));
      }
      AppendLong(*micros, out);
      return Ok();
    }
    case FieldType::kTimeMicros: {
      const std::string t = Text(raw);
      size_t pos = 0;
      auto tod = ParseTimeOfDay(t, pos);
      auto offset = tod ? ParseOffset(t, pos) : std::nullopt;
      if (!tod || !offset || pos != t.size()) {
        return Fail(BadValue(column, "time " + t.substr(0, 40) + " is malformed"));
      }
      constexpr int64_t kDay = 86'400'000'000;
      AppendLong(((*tod - *offset * 1'000'000) % kDay + kDay) % kDay, out);
      return Ok();
    }
    default:
      return Fail(BadValue(column, "not a temporal type"));
  }
}

Status EncodeValue(const Schema::Field& f, std::string_view raw, std::string& out) {
  const std::string_view column = f.column;
  switch (f.type) {
    case FieldType::kBoolean:
      if (raw != "true" && raw != "false") return Fail(BadValue(column, "not a boolean"));
      out.push_back(raw == "true" ? 1 : 0);
      return Ok();
    case FieldType::kInt:
    case FieldType::kLong: {
      int64_t v = 0;
      if (!ParseInt64(raw, v)) return Fail(BadValue(column, "not an integer"));
      if (f.type == FieldType::kInt &&
          (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max())) {
        return Fail(BadValue(column, "out of the int range"));
      }
      AppendLong(v, out);
      return Ok();
    }
    case FieldType::kFloat:
    case FieldType::kDouble:
      return EncodeFloating(f, raw, out);
    case FieldType::kDecimal:
      if (!DecimalBytes(Text(raw), out)) {
        return Fail(BadValue(
            column, "numeric " + Text(raw).substr(0, 60) + " does not fit decimal(38,18)"));
      }
      return Ok();
    case FieldType::kBytes:
      return EncodeBytea(column, raw, out);
    case FieldType::kDate:
    case FieldType::kTimestampMicros:
    case FieldType::kTimeMicros:
      return EncodeTemporal(f, raw, out);
    case FieldType::kUuid:
    case FieldType::kString:
      AppendBytes(Text(raw), out);
      return Ok();
  }
  return Ok();
}

// A row image (`row` or `old`): union index 0 = null, 1 = the record.
Status EncodeImage(const Schema& schema, JsonObject* image, std::string& out) {
  if (image == nullptr) {
    out.push_back(0);
    return Ok();
  }
  out.push_back(2);  // zigzag(1)
  for (const auto& f : schema.fields) {
    const auto* m = image->Find(f.column);
    if (m == nullptr || m->raw == "null") {
      out.push_back(0);
      continue;
    }
    out.push_back(2);
    if (auto st = EncodeValue(f, m->raw, out); !st) return st;
  }
  return Ok();
}

// ---- schemas -------------------------------------------------------------------

std::string FieldTypeJson(FieldType t) {
  switch (t) {
    case FieldType::kBoolean:
      return R"("boolean")";
    case FieldType::kInt:
      return R"("int")";
    case FieldType::kLong:
      return R"("long")";
    case FieldType::kFloat:
      return R"("float")";
    case FieldType::kDouble:
      return R"("double")";
    case FieldType::kDecimal:
      return R"({"type":"bytes","logicalType":"decimal","precision":38,"scale":18})";
    case FieldType::kBytes:
      return R"("bytes")";
    case FieldType::kDate:
      return R"({"type":"int","logicalType":"date"})";
    case FieldType::kTimestampMicros:
      return R"({"type":"long","logicalType":"timestamp-micros"})";
    case FieldType::kTimeMicros:
      return R"({"type":"long","logicalType":"time-micros"})";
    case FieldType::kUuid:
      return R"({"type":"string","logicalType":"uuid"})";
    case FieldType::kString:
      return R"("string")";
  }
  return R"("string")";
}

}  // namespace

void AppendLong(int64_t v, std::string& out) {
  AppendVarint((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63), out);
}

void AppendBytes(std::string_view bytes, std::string& out) {
  AppendLong(static_cast<int64_t>(bytes.size()), out);
  out.append(bytes);
}

void AppendConfluentHeader(uint32_t schema_id, std::string& out) {
  out.push_back(0);
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((schema_id >> shift) & 0xff));
  }
}

FieldType FieldTypeFor(uint32_t oid) {
  switch (oid) {
    case 16:
      return FieldType::kBoolean;
    case 21:
    case 23:
      return FieldType::kInt;
    case 20:
    case 26:  // oid
      return FieldType::kLong;
    case 700:
      return FieldType::kFloat;
    case 701:
      return FieldType::kDouble;
    case 1700:
      return FieldType::kDecimal;
    case 17:
      return FieldType::kBytes;
    case 1082:
      return FieldType::kDate;
    case 1114:
    case 1184:
      return FieldType::kTimestampMicros;
    case 1083:
    case 1266:
      return FieldType::kTimeMicros;
    case 2950:
      return FieldType::kUuid;
    default:
      return FieldType::kString;
  }
}

std::string SanitizeName(std::string_view text) {
  std::string out;
  for (char c : text) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    out.push_back(ok ? c : '_');
  }
  if (out.empty() || (out[0] >= '0' && out[0] <= '9')) out.insert(out.begin(), '_');
  return out;
}

std::shared_ptr<const Schema> OpaqueSchema() {
  static const std::shared_ptr<const Schema> s = [] {
    auto schema = std::make_shared<Schema>();
    schema->opaque = true;
    schema->full_name = "pgcdc.OpaqueEvent";
    schema->json =
        R"({"type":"record","name":"OpaqueEvent","namespace":"pgcdc","fields":[{"name":"payload","type":"bytes"}]})";
    return schema;
  }();
  return s;
}

std::shared_ptr<const Schema> TableSchema(const RowSchema& table, const schema::Ref* store_ref) {
  auto schema = std::make_shared<Schema>();
  schema->opaque = false;
  const std::string name = SanitizeName(table.table);
  const std::string ns = "pgcdc." + SanitizeName(table.namespace_name);
  schema->full_name = ns + "." + name;
  std::set<std::string> used;
  std::string fields;
  for (const auto& c : table.columns) {
    std::string field = SanitizeName(c.name);
    for (int n = 2; !used.insert(field).second; ++n)
      field = SanitizeName(c.name) + "_" + std::to_string(n);
    const FieldType t = FieldTypeFor(c.type_oid);
    if (!fields.empty()) fields.push_back(',');
    fields +=
        R"({"name":")" + field + R"(","type":["null",)" + FieldTypeJson(t) + R"(],"default":null})";
    schema->fields.push_back({c.name, std::move(field), t});
  }
  std::string& j = schema->json;
  j = R"({"type":"record","name":")" + name + R"(","namespace":")" + ns + R"(",)";
  if (store_ref != nullptr) {
    schema->store_subject = store_ref->subject;
    schema->store_version = store_ref->version;
    j += R"("pgcdc.schema_subject":)";
    json::AppendString(j, store_ref->subject);
    j += R"(,"pgcdc.schema_version":)" + std::to_string(store_ref->version) + ",";
  }
  j += R"("fields":[)";
  j += R"({"name":"op","type":"string"},{"name":"table","type":"string"},)";
  j += R"({"name":"schema","type":"string"},)";
  j += R"({"name":"row","type":["null",{"type":"record","name":")" + name + R"(_row","fields":[)" +
       fields + R"(]}],"default":null},)";
  j += R"({"name":"old","type":["null",")" + name + R"(_row"],"default":null},)";
  j +=
      R"({"name":"unchanged_toast_columns","type":{"type":"array","items":"string"},"default":[]}]})";
  return schema;
}

std::shared_ptr<const Schema> SchemaCache::For(const Event& event) {
  if (event.schema == nullptr) return OpaqueSchema();
  // A structured payload starts with one of its keys; anything else (a
  // transform replaced it, e.g. an envelope) is opaque.
  if (!event.payload.starts_with('{') || event.payload.find("\"op\":") == std::string::npos ||
      event.payload.find("\"row\":") == std::string::npos) {
    return OpaqueSchema();
  }
  if (event.schema.get() != last_key_) {
    last_table_ = event.schema;
    last_key_ = event.schema.get();
    last_ = TableSchema(*event.schema, schema::RefOf(event.schema));
  }
  return last_;
}

Status Encode(const Event& event, const Schema& schema, std::string& out) {
  const size_t start = out.size();
  if (schema.opaque) {
    AppendBytes(event.payload, out);
    return Ok();
  }
  transform::Arena arena;
  auto root = JsonObject::Parse(event.payload, arena);
  auto fail = [&](Error e) {
    out.resize(start);
    return Fail(std::move(e));
  };
  if (!root) return fail(Error(ErrorCode::kInvalidArgument, "avro: " + root.error().message()));
  auto text_of = [&](std::string_view key, std::string_view fallback) {
    const auto* m = (*root)->Find(key);
    return m != nullptr && m->raw != "null" ? Text(m->raw) : std::string(fallback);
  };
  AppendBytes(text_of("op", event.operation), out);
  AppendBytes(text_of("table", event.schema ? event.schema->table : ""), out);
  AppendBytes(text_of("schema", event.schema ? event.schema->namespace_name : ""), out);
  for (const char* image : {"row", "old"}) {
    auto child = (*root)->Child(image, arena);
    if (!child) return fail(child.error());
    if (auto st = EncodeImage(schema, *child, out); !st) return fail(st.error());
  }
  std::vector<std::string> toast;
  if (const auto* m = (*root)->Find("_unchanged_toast_columns"); m != nullptr) {
    std::string_view raw = m->raw;
    for (size_t pos = raw.find('"'); pos != std::string_view::npos;) {
      auto end = transform::SkipJsonValue(raw, pos);
      if (!end) break;
      toast.push_back(Text(raw.substr(pos, *end - pos)));
      pos = raw.find('"', *end);
    }
  }
  if (!toast.empty()) {
    AppendLong(static_cast<int64_t>(toast.size()), out);
    for (const auto& c : toast) AppendBytes(c, out);
  }
  out.push_back(0);  // end of the array
  return Ok();
}

}  // namespace pgcdc::encoding::avro
