#include "core/time.h"
#include "parquet/writer.h"

namespace pgcdc::parquet {

std::string_view TypeName(Type type) {
  switch (type) {
    case Type::kString:
      return "VARCHAR";
    case Type::kJson:
      return "JSON";
    case Type::kBool:
      return "BOOLEAN";
    case Type::kInt16:
      return "SMALLINT";
    case Type::kInt32:
      return "INTEGER";
    case Type::kInt64:
      return "BIGINT";
    case Type::kFloat:
      return "FLOAT";
    case Type::kDouble:
      return "DOUBLE";
    case Type::kDate:
      return "DATE";
    case Type::kTime:
      return "TIME";
    case Type::kTimestamp:
      return "TIMESTAMP";
    case Type::kTimestampTz:
      return "TIMESTAMPTZ";
    case Type::kUuid:
      return "UUID";
  }
  return "VARCHAR";
}

Type TypeForPgOid(uint32_t oid) {
  switch (oid) {
    case 16:
      return Type::kBool;
    case 21:
      return Type::kInt16;
    case 23:
      return Type::kInt32;
    case 20:
    case 26:  // oid
      return Type::kInt64;
    case 700:
      return Type::kFloat;
    case 701:
      return Type::kDouble;
    case 1082:
      return Type::kDate;
    case 1083:
      return Type::kTime;
    case 1114:
      return Type::kTimestamp;
    case 1184:
      return Type::kTimestampTz;
    case 2950:
      return Type::kUuid;
    case 114:   // json
    case 3802:  // jsonb
      return Type::kJson;
    default:
      return Type::kString;
  }
}

namespace {

// Reads exactly `n` digits at `pos` (advancing it).
std::optional<int64_t> Digits(std::string_view s, size_t& pos, size_t n) {
  if (pos + n > s.size()) return std::nullopt;
  int64_t v = 0;
  for (size_t i = 0; i < n; ++i) {
    const char c = s[pos + i];
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  pos += n;
  return v;
}

bool Expect(std::string_view s, size_t& pos, std::string_view chars) {
  if (pos >= s.size() || chars.find(s[pos]) == std::string_view::npos) return false;
  ++pos;
  return true;
}

// "Z", "+HH", "+HH:MM", "+HHMM", "+HH:MM:SS" → seconds east of UTC.
std::optional<int64_t> Offset(std::string_view s, size_t pos) {
  if (pos + 1 == s.size() && (s[pos] == 'Z' || s[pos] == 'z')) return 0;
  if (pos >= s.size() || (s[pos] != '+' && s[pos] != '-')) return std::nullopt;
  const int64_t sign = s[pos++] == '-' ? -1 : 1;
  auto hh = Digits(s, pos, 2);
  if (!hh) return std::nullopt;
  int64_t secs = *hh * 3600;
  for (int64_t unit : {60, 1}) {
    if (pos == s.size()) break;
    if (s[pos] == ':') ++pos;
    auto v = Digits(s, pos, 2);
    if (!v) return std::nullopt;
    secs += *v * unit;
  }
  if (pos != s.size()) return std::nullopt;
  return sign * secs;
}

}  // namespace

std::optional<int64_t> ParseTimestampTz(std::string_view s) {
  size_t pos = 0;
  auto year = Digits(s, pos, 4);
  if (!year || !Expect(s, pos, "-")) return std::nullopt;
  auto month = Digits(s, pos, 2);
  if (!month || !Expect(s, pos, "-")) return std::nullopt;
  auto day = Digits(s, pos, 2);
  if (!day || !Expect(s, pos, "T ")) return std::nullopt;
  auto hh = Digits(s, pos, 2);
  if (!hh || !Expect(s, pos, ":")) return std::nullopt;
  auto mm = Digits(s, pos, 2);
  if (!mm || !Expect(s, pos, ":")) return std::nullopt;
  auto ss = Digits(s, pos, 2);
  if (!ss || *month < 1 || *month > 12 || *day < 1 || *day > 31 || *hh > 23 || *mm > 59 ||
      *ss > 60) {
    return std::nullopt;
  }
  int64_t micros = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int64_t scale = 100'000;
    for (; pos < s.size() && s[pos] >= '0' && s[pos] <= '9'; ++pos, scale /= 10) {
      micros += (s[pos] - '0') * scale;  // digits past microseconds add 0 (truncated)
    }
  }
  auto offset = Offset(s, pos);
  if (!offset) return std::nullopt;
  const int64_t days =
      DaysFromCivil(*year, static_cast<unsigned>(*month), static_cast<unsigned>(*day));
  const int64_t secs = days * 86'400 + *hh * 3600 + *mm * 60 + *ss - *offset;
  return secs * 1'000'000 + micros;
}

}  // namespace pgcdc::parquet
