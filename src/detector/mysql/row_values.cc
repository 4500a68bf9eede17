#include "detector/mysql/row_values.h"

#include <iconv.h>

#include <array>
#include <charconv>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>

#include "core/json.h"
#include "detector/mysql/mysql_json.h"
#include "detector/mysql/wire.h"

namespace pgcdc::detector::mysql {

namespace {

Error ValueError(std::string_view problem) {
  return Error(ErrorCode::kParse, "binlog value: " + std::string(problem));
}

uint64_t BigEndian(Bytes b, size_t offset, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v = (v << 8) | b[offset + i];
  return v;
}

uint64_t LittleEndian(Bytes b, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(b[i]) << (8 * i);
  return v;
}

// Signed value of an n-byte little-endian two's complement integer.
int64_t SignExtend(uint64_t v, size_t bytes) {
  if (bytes >= 8) return static_cast<int64_t>(v);
  const uint64_t sign = uint64_t{1} << (bytes * 8 - 1);
  return static_cast<int64_t>((v ^ sign) - sign);
}

void AppendPadded(std::string& out, uint64_t v, int width) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  for (int n = static_cast<int>(end - buf); n < width; ++n) out.push_back('0');
  out.append(buf, end);
}

// Appends ".ffff" with `fsp` digits of `micros` (nothing for fsp 0).
void AppendFraction(std::string& out, uint64_t micros, uint32_t fsp) {
  if (fsp == 0) return;
  static constexpr uint64_t kScale[7] = {1000000, 100000, 10000, 1000, 100, 10, 1};
  out.push_back('.');
  AppendPadded(out, micros / kScale[std::min<uint32_t>(fsp, 6)], static_cast<int>(fsp));
}

// Microseconds of the fractional part of a TIME2/DATETIME2/TIMESTAMP2 value
// (fsp digits in (fsp + 1) / 2 big-endian bytes at `offset`).
uint64_t FractionMicros(Bytes b, size_t offset, uint32_t fsp) {
  switch ((fsp + 1) / 2) {
    case 1:
      return BigEndian(b, offset, 1) * 10000;
    case 2:
      return BigEndian(b, offset, 2) * 100;
    case 3:
      return BigEndian(b, offset, 3);
    default:
      return 0;
  }
}

// "a<sep>b<sep>c" with a at least `first_width` digits, b and c two.
void AppendTriple(std::string& out, uint64_t a, int first_width, uint64_t b, uint64_t c, char sep) {
  AppendPadded(out, a, first_width);
  out.push_back(sep);
  AppendPadded(out, b, 2);
  out.push_back(sep);
  AppendPadded(out, c, 2);
}

void AppendDate(std::string& out, uint64_t year, uint64_t month, uint64_t day) {
  AppendTriple(out, year, 4, month, day, '-');
}

void AppendClock(std::string& out, uint64_t hour, uint64_t minute, uint64_t second) {
  AppendTriple(out, hour, 2, minute, second, ':');
}

void AppendTimestamp(std::string& out, uint64_t seconds, uint64_t micros, uint32_t fsp) {
  out.push_back('"');
  if (seconds == 0 && micros == 0) {
    out.append("0000-00-00 00:00:00");
    AppendFraction(out, 0, fsp);
    out.push_back('"');
    return;
  }
  const std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  AppendDate(out, static_cast<uint64_t>(tm.tm_year) + 1900, static_cast<uint64_t>(tm.tm_mon) + 1,
             static_cast<uint64_t>(tm.tm_mday));
  out.push_back('T');
  AppendClock(out, static_cast<uint64_t>(tm.tm_hour), static_cast<uint64_t>(tm.tm_min),
              static_cast<uint64_t>(tm.tm_sec));
  AppendFraction(out, micros, fsp);
  out.append("Z\"");
}

// DATETIME2: 5 bytes big-endian (offset 0x8000000000), then the fraction.
void AppendDatetime2(std::string& out, Bytes b, uint32_t fsp) {
  const int64_t packed = static_cast<int64_t>(BigEndian(b, 0, 5)) - 0x8000000000LL;
  const uint64_t v = static_cast<uint64_t>(packed < 0 ? -packed : packed);
  const uint64_t ymd = v >> 17;
  const uint64_t ym = ymd >> 5;
  const uint64_t hms = v % (1 << 17);
  out.push_back('"');
  if (packed < 0) out.push_back('-');
  AppendDate(out, ym / 13, ym % 13, ymd % 32);
  out.push_back(' ');
  AppendClock(out, hms >> 12, (hms >> 6) % 64, hms % 64);
  AppendFraction(out, FractionMicros(b, 5, fsp), fsp);
  out.push_back('"');
}

// TIME2 -> packed "int part << 24 | microseconds", signed.
int64_t Time2Packed(Bytes b, uint32_t fsp) {
  constexpr int64_t kIntOffset = 0x800000;
  switch ((fsp + 1) / 2) {
    case 0:
      return (static_cast<int64_t>(BigEndian(b, 0, 3)) - kIntOffset) << 24;
    case 1: {
      int64_t intpart = static_cast<int64_t>(BigEndian(b, 0, 3)) - kIntOffset;
      int64_t frac = b[3];
      if (intpart < 0 && frac != 0) {
        ++intpart;
        frac -= 0x100;
      }
      return intpart * (int64_t{1} << 24) + frac * 10000;
    }
    case 2: {
      int64_t intpart = static_cast<int64_t>(BigEndian(b, 0, 3)) - kIntOffset;
      int64_t frac = static_cast<int64_t>(BigEndian(b, 3, 2));
      if (intpart < 0 && frac != 0) {
        ++intpart;
        frac -= 0x10000;
      }
      return intpart * (int64_t{1} << 24) + frac * 100;
    }
    default:
      return static_cast<int64_t>(BigEndian(b, 0, 6)) - 0x800000000000LL;
  }
}

void AppendPackedTime(std::string& out, int64_t packed, uint32_t fsp) {
  const bool negative = packed < 0;
  const uint64_t v = static_cast<uint64_t>(negative ? -packed : packed);
  const uint64_t hms = v >> 24;
  out.push_back('"');
  if (negative) out.push_back('-');
  AppendClock(out, (hms >> 12) % (1 << 10), (hms >> 6) % 64, hms % 64);
  AppendFraction(out, v % (1 << 24), fsp);
  out.push_back('"');
}

template <class T>
void AppendShortest(std::string& out, T v) {
  char buf[48];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

Status AppendInteger(const Column& c, Bytes b, std::string& out) {
  const uint64_t raw = LittleEndian(b, b.size());
  char buf[24];
  auto [end, ec] = c.is_unsigned ? std::to_chars(buf, buf + sizeof buf, raw)
                                 : std::to_chars(buf, buf + sizeof buf, SignExtend(raw, b.size()));
  out.append(buf, end);
  return Ok();
}

Status AppendFloating(const Column& c, Bytes b, std::string& out) {
  if (b.size() == 4) {
    float f = 0;
    std::memcpy(&f, b.data(), 4);
    AppendShortest(out, f);
  } else if (b.size() == 8) {
    double d = 0;
    std::memcpy(&d, b.data(), 8);
    AppendShortest(out, d);
  } else {
    return Fail(ValueError("bad floating-point size " + std::to_string(b.size())));
  }
  (void)c;
  return Ok();
}

Status AppendDecimalJson(const Column& c, Bytes b, std::string& out) {
  auto text = DecodeDecimal(b, c.precision, c.scale);
  if (!text) return Fail(text.error());
  if (NeedsExactDecimal(*text)) {
    json::AppendString(out, *text);
  } else {
    out.append(*text);
  }
  return Ok();
}

Status AppendEnum(const Column& c, Bytes b, std::string& out) {
  const uint64_t index = LittleEndian(b, b.size());
  if (index == 0) {
    out.append("\"\"");  // the error value of an invalid insert
  } else if (index <= c.elements.size()) {
    json::AppendString(out, c.elements[index - 1]);
  } else if (c.elements.empty()) {
    AppendShortest(out, index);  // names unknown: the member number
  } else {
    return Fail(ValueError("enum index " + std::to_string(index) + " out of range"));
  }
  return Ok();
}

Status AppendSet(const Column& c, Bytes b, std::string& out) {
  const uint64_t bits = LittleEndian(b, b.size());
  if (c.elements.empty()) {
    AppendShortest(out, bits);  // names unknown: the bit mask
    return Ok();
  }
  std::string joined;
  for (size_t i = 0; i < 64 && i < c.elements.size(); ++i) {
    if ((bits & (uint64_t{1} << i)) == 0) continue;
    if (!joined.empty()) joined.push_back(',');
    joined.append(c.elements[i]);
  }
  json::AppendString(out, joined);
  return Ok();
}

// The data of a length-prefixed value (VARCHAR, CHAR, BLOB, JSON).
Bytes PrefixedData(const Column& c, Bytes b) {
  size_t prefix = c.length;
  if (c.type == kTypeVarchar || c.type == kTypeVarString || c.type == kTypeString) {
    prefix = c.length > 255 ? 2 : 1;
  }
  return b.subspan(std::min(prefix, b.size()));
}

std::string_view AsText(Bytes b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

Status AppendString(const Column& c, Bytes data, const CharsetMap* charsets, std::string& out,
                    ValueStats* stats) {
  const std::string_view cs = CharsetOf(c.collation, charsets);
  if (cs == "binary" || c.type == kTypeGeometry) {
    out.push_back('"');
    json::AppendBase64(out, AsText(data));
    out.push_back('"');
    return Ok();
  }
  if (c.is_json_text) {
    const size_t before = out.size();
    if (json::Compact(AsText(data), out)) return Ok();
    out.resize(before);
  }
  if (!AppendTextJson(cs, AsText(data), out) && stats != nullptr) ++stats->replaced_text;
  return Ok();
}

Status AppendTemporal(const Column& c, Bytes b, std::string& out) {
  switch (c.type) {
    case kTypeDate:
    case kTypeNewDate: {
      const uint64_t v = LittleEndian(b, 3);
      out.push_back('"');
      AppendDate(out, v >> 9, (v >> 5) & 15, v & 31);
      out.push_back('"');
      return Ok();
    }
    case kTypeTime: {
      const int64_t v = SignExtend(LittleEndian(b, 3), 3);
      const uint64_t a = static_cast<uint64_t>(v < 0 ? -v : v);
      out.append(v < 0 ? "\"-" : "\"");
      AppendClock(out, a / 10000, a / 100 % 100, a % 100);
      out.push_back('"');
      return Ok();
    }
    case kTypeTime2:
      AppendPackedTime(out, Time2Packed(b, c.length), c.length);
      return Ok();
    case kTypeDatetime: {
      const uint64_t v = LittleEndian(b, 8);
      const uint64_t date = v / 1000000, time = v % 1000000;
      out.push_back('"');
      AppendDate(out, date / 10000, date / 100 % 100, date % 100);
      out.push_back(' ');
      AppendClock(out, time / 10000, time / 100 % 100, time % 100);
      out.push_back('"');
      return Ok();
    }
    case kTypeDatetime2:
      AppendDatetime2(out, b, c.length);
      return Ok();
    case kTypeTimestamp:
      AppendTimestamp(out, LittleEndian(b, 4), 0, 0);
      return Ok();
    case kTypeTimestamp2:
      AppendTimestamp(out, BigEndian(b, 0, 4), FractionMicros(b, 4, c.length), c.length);
      return Ok();
    default:
      return Fail(ValueError("not a temporal type"));
  }
}

// MySQL latin1 is Windows-1252 (with the five undefined bytes as C1 controls).
constexpr std::array<uint16_t, 32> kCp1252High = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};

std::string Latin1ToUtf8(std::string_view in) {
  std::string out;
  out.reserve(in.size() * 2);
  for (unsigned char ch : in) {
    if (ch < 0x80) {
      out.push_back(static_cast<char>(ch));
    } else if (ch < 0xA0) {
      json::AppendUtf8(out, kCp1252High[ch - 0x80]);
    } else {
      json::AppendUtf8(out, ch);
    }
  }
  return out;
}

// iconv's name for a MySQL character set (most are spelled alike).
std::string IconvName(std::string_view cs) {
  static const std::map<std::string_view, std::string_view> kNames = {
      {"utf16", "UTF-16BE"},     {"utf16le", "UTF-16LE"},   {"ucs2", "UCS-2BE"},
      {"utf32", "UTF-32BE"},     {"koi8r", "KOI8-R"},       {"koi8u", "KOI8-U"},
      {"sjis", "SHIFT_JIS"},     {"ujis", "EUC-JP"},        {"euckr", "EUC-KR"},
      {"latin2", "ISO-8859-2"},  {"greek", "ISO-8859-7"},   {"hebrew", "ISO-8859-8"},
      {"latin5", "ISO-8859-9"},  {"latin7", "ISO-8859-13"}, {"tis620", "TIS-620"},
      {"macroman", "MACINTOSH"}, {"cp932", "CP932"},        {"eucjpms", "EUC-JP-MS"}};
  if (auto it = kNames.find(cs); it != kNames.end()) return std::string(it->second);
  std::string up(cs);
  for (char& ch : up) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return up;
}

// Converts with iconv; nullopt when the set is unknown to iconv or the bytes
// are invalid in it.
std::optional<std::string> IconvToUtf8(std::string_view cs, std::string_view in) {
  iconv_t cd = iconv_open("UTF-8", IconvName(cs).c_str());
  // iconv's documented failure value is (iconv_t)-1.
  // NOLINTNEXTLINE(performance-no-int-to-ptr)
  if (cd == reinterpret_cast<iconv_t>(-1)) return std::nullopt;
  std::string out(in.size() * 4 + 4, '\0');
  char* src = const_cast<char*>(in.data());
  size_t src_left = in.size();
  char* dst = out.data();
  size_t dst_left = out.size();
  const size_t rc = iconv(cd, &src, &src_left, &dst, &dst_left);
  iconv_close(cd);
  if (rc == static_cast<size_t>(-1) || src_left != 0) return std::nullopt;
  out.resize(out.size() - dst_left);
  return out;
}

}  // namespace

std::string_view CharsetOf(uint32_t collation, const CharsetMap* charsets) {
  if (charsets != nullptr) {
    if (auto it = charsets->find(collation); it != charsets->end()) return it->second;
  }
  switch (collation) {
    case kBinaryCollation:
      return "binary";
    case 5:
    case 8:
    case 15:
    case 31:
    case 47:
    case 48:
    case 49:
    case 94:
      return "latin1";
    case 11:
    case 65:
      return "ascii";
    default:
      return "utf8mb4";
  }
}

bool AppendTextJson(std::string_view charset, std::string_view bytes, std::string& out) {
  if (charset.starts_with("utf8") || charset == "ascii") {
    json::AppendString(out, bytes);  // replaces invalid sequences
    return json::IsValidUtf8(bytes);
  }
  if (charset == "latin1") {
    json::AppendString(out, Latin1ToUtf8(bytes));
    return true;
  }
  if (auto converted = IconvToUtf8(charset, bytes)) {
    json::AppendString(out, *converted);
    return true;
  }
  json::AppendString(out, bytes);
  return false;
}

Result<std::string> DecodeDecimal(Bytes value, uint32_t precision, uint32_t scale) {
  static constexpr uint8_t kDigitBytes[10] = {0, 1, 1, 2, 2, 3, 3, 4, 4, 4};
  auto size = DecimalBinarySize(precision, scale);
  if (!size) return Fail(size.error());
  if (value.size() < *size) return Fail(ValueError("truncated DECIMAL"));
  std::array<uint8_t, 40> buf{};
  std::memcpy(buf.data(), value.data(), *size);
  const bool negative = (buf[0] & 0x80) == 0;
  buf[0] ^= 0x80;
  if (negative) {
    for (size_t i = 0; i < *size; ++i) buf[i] = static_cast<uint8_t>(~buf[i]);
  }
  const Bytes b(buf.data(), *size);
  const uint32_t intg = precision - scale;
  size_t pos = 0;
  std::string int_digits;
  auto group = [&](size_t bytes, int width, std::string& to) {
    const uint64_t v = BigEndian(b, pos, bytes);
    pos += bytes;
    AppendPadded(to, v, width);
  };
  if (intg % 9 != 0) group(kDigitBytes[intg % 9], static_cast<int>(intg % 9), int_digits);
  for (uint32_t i = 0; i < intg / 9; ++i) group(4, 9, int_digits);
  std::string frac_digits;
  for (uint32_t i = 0; i < scale / 9; ++i) group(4, 9, frac_digits);
  if (scale % 9 != 0) group(kDigitBytes[scale % 9], static_cast<int>(scale % 9), frac_digits);
  const size_t nz = int_digits.find_first_not_of('0');
  std::string out = negative ? "-" : "";
  out += nz == std::string::npos ? "0" : int_digits.substr(nz);
  if (int_digits.size() > intg || frac_digits.size() > scale) {
    return Fail(ValueError("DECIMAL digit group out of range"));
  }
  if (scale > 0) out += "." + frac_digits;
  return out;
}

bool NeedsExactDecimal(std::string_view text) {
  size_t first = std::string_view::npos, last = 0, count = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') continue;
    if (text[i] != '0') {
      if (first == std::string_view::npos) first = count;
      last = count;
    }
    ++count;
  }
  if (first == std::string_view::npos) return false;
  // Digits between the first and last non-zero digit (the decimal point is
  // not counted; interior zeros are significant).
  return last - first + 1 > 15;
}

Status AppendValueJson(const Column& c, Bytes value, const CharsetMap* charsets, std::string& out,
                       ValueStats* stats) {
  switch (c.type) {
    case kTypeTiny:
    case kTypeShort:
    case kTypeInt24:
    case kTypeLong:
    case kTypeLongLong:
      return AppendInteger(c, value, out);
    case kTypeYear: {
      const uint64_t y = value[0];
      AppendShortest(out, y == 0 ? 0 : 1900 + y);
      return Ok();
    }
    case kTypeFloat:
    case kTypeDouble:
      return AppendFloating(c, value, out);
    case kTypeNewDecimal:
      return AppendDecimalJson(c, value, out);
    case kTypeBit:
      AppendShortest(out, BigEndian(value, 0, std::min<size_t>(value.size(), 8)));
      return Ok();
    case kTypeEnum:
      return AppendEnum(c, value, out);
    case kTypeSet:
      return AppendSet(c, value, out);
    case kTypeVarchar:
    case kTypeVarString:
    case kTypeString:
    case kTypeBlob:
    case kTypeTinyBlob:
    case kTypeMediumBlob:
    case kTypeLongBlob:
    case kTypeGeometry:
      return AppendString(c, PrefixedData(c, value), charsets, out, stats);
    case kTypeJson:
      return AppendMysqlJson(PrefixedData(c, value), out);
    default:
      return AppendTemporal(c, value, out);
  }
}

}  // namespace pgcdc::detector::mysql
