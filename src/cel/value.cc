#include "cel/value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>

#include "core/enum_names.h"
#include "core/time.h"

namespace pgcdc::cel {

constexpr EnumNames<Kind, Kind::kError> kKindTypeNames(
    {PGCDC_CEL_VALUE_TYPES(PGCDC_CEL_TYPE_NAME) "error"}, "unknown");

std::string_view KindTypeName(Kind kind) { return kKindTypeNames(kind); }

Value Value::OwnedText(Kind kind, std::string s) {
  auto owned = std::make_shared<const std::string>(std::move(s));
  Value v(kind);
  v.sv_ = *owned;
  v.owner_ = std::move(owned);
  return v;
}

Value Value::List(ValueList items) {
  Value v(Kind::kList);
  v.owner_ = std::make_shared<const ValueList>(std::move(items));
  return v;
}

Value Value::Map(std::shared_ptr<const MapValue> map) {
  Value v(Kind::kMap);
  v.owner_ = std::move(map);
  return v;
}

Value Value::Timestamp(int64_t seconds, int32_t nanos) {
  // Normalise nanos into [0, 1e9).
  if (nanos < 0) {
    nanos += 1000000000;
    --seconds;
  } else if (nanos >= 1000000000) {
    nanos -= 1000000000;
    ++seconds;
  }
  if (seconds < kMinTimestampSeconds || seconds > kMaxTimestampSeconds) {
    return Error("timestamp out of range");
  }
  Value v(Kind::kTimestamp);
  v.i_ = seconds;
  v.nanos_ = nanos;
  return v;
}

Value Value::Duration(int64_t seconds, int32_t nanos) {
  // Normalise so nanos has the sign of seconds and |nanos| < 1e9.
  seconds += nanos / 1000000000;
  nanos %= 1000000000;
  if (seconds > 0 && nanos < 0) {
    --seconds;
    nanos += 1000000000;
  } else if (seconds < 0 && nanos > 0) {
    ++seconds;
    nanos -= 1000000000;
  }
  // Durations are limited to int64 nanoseconds (about +-292 years), as in cel-go.
  __int128 total = static_cast<__int128>(seconds) * 1000000000 + nanos;
  if (total > std::numeric_limits<int64_t>::max() || total < std::numeric_limits<int64_t>::min()) {
    return Error("duration out of range");
  }
  Value v(Kind::kDuration);
  v.i_ = seconds;
  v.nanos_ = nanos;
  return v;
}

namespace {

void AppendQuoted(std::string& out, std::string_view s, char prefix) {
  if (prefix) out.push_back(prefix);
  out.push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20 || (prefix == 'b' && c >= 0x80)) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\x%02x", c);
          out += buf;
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

void AppendDebug(std::string& out, const Value& v) {
  switch (v.kind()) {
    case Kind::kNull:
      out += "null";
      break;
    case Kind::kBool:
      out += v.bool_value() ? "true" : "false";
      break;
    case Kind::kInt:
      out += std::to_string(v.int_value());
      break;
    case Kind::kUint:
      out += std::to_string(v.uint_value()) + "u";
      break;
    case Kind::kDouble: {
      std::string d = FormatDouble(v.double_value());
      out += d;
      if (std::isfinite(v.double_value()) && d.find_first_of(".e") == std::string::npos) {
        out += ".0";
      }
      break;
    }
    case Kind::kString:
      AppendQuoted(out, v.str(), 0);
      break;
    case Kind::kBytes:
      AppendQuoted(out, v.str(), 'b');
      break;
    case Kind::kList:
      AppendSeparated(
          out, '[', v.list(),
          [&](const Value& item) {
            AppendDebug(out, item);
            return true;
          },
          ']');
      break;
    case Kind::kMap:
      AppendSeparated(
          out, '{', v.map().entries(),
          [&](const auto& entry) {
            AppendDebug(out, entry.first);
            out += ": ";
            AppendDebug(out, entry.second);
            return true;
          },
          '}');
      break;
    case Kind::kTimestamp:
      out += "timestamp(\"" + FormatTimestamp(v.seconds(), v.nanos()) + "\")";
      break;
    case Kind::kDuration:
      out += "duration(\"" + FormatDuration(v.seconds(), v.nanos()) + "\")";
      break;
    case Kind::kType:
      out += v.str();
      break;
    case Kind::kError:
      out += "error(" + std::string(v.str()) + ")";
      break;
  }
}

// Numeric key normalisation for map lookups: integral values in range map to
// an int or uint key.
bool NumericEqual(const Value& a, const Value& b) {
  switch (a.kind()) {
    case Kind::kInt:
      switch (b.kind()) {
        case Kind::kInt:
          return a.int_value() == b.int_value();
        case Kind::kUint:
          return a.int_value() >= 0 && static_cast<uint64_t>(a.int_value()) == b.uint_value();
        case Kind::kDouble: {
          double d = b.double_value();
          if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) return false;
          return static_cast<double>(static_cast<int64_t>(d)) == d &&
                 static_cast<int64_t>(d) == a.int_value();
        }
        default:
          return false;
      }
    case Kind::kUint:
      switch (b.kind()) {
        case Kind::kInt:
          return NumericEqual(b, a);
        case Kind::kUint:
          return a.uint_value() == b.uint_value();
        case Kind::kDouble: {
          double d = b.double_value();
          if (!(d >= 0 && d < 18446744073709551616.0)) return false;
          return static_cast<double>(static_cast<uint64_t>(d)) == d &&
                 static_cast<uint64_t>(d) == a.uint_value();
        }
        default:
          return false;
      }
    case Kind::kDouble:
      if (b.kind() == Kind::kDouble) return a.double_value() == b.double_value();
      return NumericEqual(b, a);
    default:
      return false;
  }
}

}  // namespace

std::string Value::DebugString() const {
  std::string out;
  AppendDebug(out, *this);
  return out;
}

const Value* MapValue::Find(const Value& key) const {
  if (key.kind() == Kind::kString) return FindString(key.str());
  for (const auto& entry : entries_) {
    const Value& k = entry.first;
    if (key.IsNumeric()) {
      if (k.IsNumeric() && NumericEqual(k, key)) return &entry.second;
    } else if (k.kind() == key.kind() && key.kind() == Kind::kBool &&
               k.bool_value() == key.bool_value()) {
      return &entry.second;
    }
  }
  return nullptr;
}

const Value* MapValue::FindString(std::string_view key) const {
  // Backwards, so a duplicate key decoded from JSON resolves to the last one.
  for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) {
    if (it->first.kind() == Kind::kString && it->first.str() == key) return &it->second;
  }
  return nullptr;
}

bool ValuesEqual(const Value& a, const Value& b) {
  if (a.IsNumeric() && b.IsNumeric()) return NumericEqual(a, b);
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Kind::kNull:
      return true;
    case Kind::kBool:
      return a.bool_value() == b.bool_value();
    case Kind::kString:
    case Kind::kBytes:
    case Kind::kType:
    case Kind::kError:
      return a.str() == b.str();
    case Kind::kTimestamp:
    case Kind::kDuration:
      return a.seconds() == b.seconds() && a.nanos() == b.nanos();
    case Kind::kList: {
      const ValueList& x = a.list();
      const ValueList& y = b.list();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (!ValuesEqual(x[i], y[i])) return false;
      }
      return true;
    }
    case Kind::kMap: {
      const MapValue& x = a.map();
      const MapValue& y = b.map();
      if (x.size() != y.size()) return false;
      for (const auto& [key, value] : x.entries()) {
        const Value* other = y.Find(key);
        if (other == nullptr || !ValuesEqual(value, *other)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

bool StrictEqual(const Value& a, const Value& b) {
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Kind::kInt:
      return a.int_value() == b.int_value();
    case Kind::kUint:
      return a.uint_value() == b.uint_value();
    case Kind::kDouble:
      if (std::isnan(a.double_value())) return std::isnan(b.double_value());
      return a.double_value() == b.double_value();
    case Kind::kList: {
      if (a.list().size() != b.list().size()) return false;
      for (size_t i = 0; i < a.list().size(); ++i) {
        if (!StrictEqual(a.list()[i], b.list()[i])) return false;
      }
      return true;
    }
    case Kind::kMap: {
      if (a.map().size() != b.map().size()) return false;
      for (const auto& [key, value] : a.map().entries()) {
        bool found = false;
        for (const auto& [k2, v2] : b.map().entries()) {
          if (StrictEqual(key, k2)) {
            if (!StrictEqual(value, v2)) return false;
            found = true;
            break;
          }
        }
        if (!found) return false;
      }
      return true;
    }
    default:
      return ValuesEqual(a, b);
  }
}

// ---- time -------------------------------------------------------------------

namespace {

bool Digits(std::string_view s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  return true;
}

}  // namespace

bool ParseTimestamp(std::string_view s, int64_t& seconds, int32_t& nanos) {
  int year, month, day, hour, minute, second;
  if (s.size() < 20) return false;
  if (!Digits(s, 0, 4, year) || s[4] != '-' || !Digits(s, 5, 2, month) || s[7] != '-' ||
      !Digits(s, 8, 2, day) || (s[10] != 'T' && s[10] != 't') || !Digits(s, 11, 2, hour) ||
      s[13] != ':' || !Digits(s, 14, 2, minute) || s[16] != ':' || !Digits(s, 17, 2, second)) {
    return false;
  }
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) {
    return false;
  }
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (day > kDays[month - 1] + (month == 2 && leap ? 1 : 0)) return false;
  size_t pos = 19;
  int64_t frac = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (digits < 9) {
        frac = frac * 10 + (s[pos] - '0');
        ++digits;
      }
      ++pos;
    }
    if (digits == 0) return false;
    while (digits < 9) {
      frac *= 10;
      ++digits;
    }
  }
  int64_t offset = 0;
  if (pos >= s.size()) return false;
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    int oh, om;
    if (!Digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !Digits(s, pos + 4, 2, om) || oh > 23 || om > 59) {
      return false;
    }
    offset = (oh * 3600 + om * 60) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return false;
  }
  if (pos != s.size()) return false;
  seconds = DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 +
            hour * 3600 + minute * 60 + second - offset;
  nanos = static_cast<int32_t>(frac);
  return seconds >= kMinTimestampSeconds && seconds <= kMaxTimestampSeconds;
}

std::string FormatTimestamp(int64_t seconds, int32_t nanos) {
  int64_t days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400;
  int64_t rem = seconds - days * 86400;
  const CivilDate date = CivilFromDays(days);
  char buf[64];
  int n = std::snprintf(buf, sizeof(buf), "%04lld-%02u-%02uT%02lld:%02lld:%02lld",
                        static_cast<long long>(date.year), date.month, date.day,
                        static_cast<long long>(rem / 3600), static_cast<long long>(rem / 60 % 60),
                        static_cast<long long>(rem % 60));
  std::string out(buf, n);
  if (nanos != 0) {
    char frac[16];
    std::snprintf(frac, sizeof(frac), ".%09d", nanos);
    std::string f(frac);
    while (f.back() == '0') f.pop_back();
    out += f;
  }
  out.push_back('Z');
  return out;
}

bool ParseDuration(std::string_view s, int64_t& seconds, int32_t& nanos) {
  // Accumulate in nanoseconds with 128-bit headroom.
  bool negative = false;
  size_t pos = 0;
  if (pos < s.size() && (s[pos] == '-' || s[pos] == '+')) {
    negative = s[pos] == '-';
    ++pos;
  }
  if (pos >= s.size()) return false;
  if (s.substr(pos) == "0") {
    seconds = 0;
    nanos = 0;
    return true;
  }
  __int128 total = 0;
  while (pos < s.size()) {
    __int128 whole = 0;
    size_t start = pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      whole = whole * 10 + (s[pos] - '0');
      if (whole > (static_cast<__int128>(1) << 100)) return false;
      ++pos;
    }
    bool had_whole = pos > start;
    __int128 frac = 0, scale = 1;
    bool had_frac = false;
    if (pos < s.size() && s[pos] == '.') {
      ++pos;
      while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
        if (scale < static_cast<__int128>(1000000000000000000LL)) {
          frac = frac * 10 + (s[pos] - '0');
          scale *= 10;
        }
        had_frac = true;
        ++pos;
      }
    }
    if (!had_whole && !had_frac) return false;
    size_t unit_start = pos;
    while (pos < s.size() && !(s[pos] >= '0' && s[pos] <= '9') && s[pos] != '.') ++pos;
    std::string_view unit = s.substr(unit_start, pos - unit_start);
    int64_t unit_nanos;
    if (unit == "h") {
      unit_nanos = 3600000000000LL;
    } else if (unit == "m") {
      unit_nanos = 60000000000LL;
    } else if (unit == "s") {
      unit_nanos = 1000000000LL;
    } else if (unit == "ms") {
      unit_nanos = 1000000LL;
    } else if (unit == "us" || unit == "\xc2\xb5s" || unit == "\xce\xbcs") {
      unit_nanos = 1000LL;
    } else if (unit == "ns") {
      unit_nanos = 1LL;
    } else {
      return false;
    }
    total += whole * unit_nanos + frac * unit_nanos / scale;
    if (total > static_cast<__int128>(kMaxDurationSeconds + 1) * 1000000000) return false;
  }
  if (negative) total = -total;
  seconds = static_cast<int64_t>(total / 1000000000);
  nanos = static_cast<int32_t>(total % 1000000000);
  return seconds <= kMaxDurationSeconds && seconds >= -kMaxDurationSeconds;
}

std::string FormatDuration(int64_t seconds, int32_t nanos) {
  std::string out;
  if (seconds < 0 || nanos < 0) out.push_back('-');
  out += std::to_string(seconds < 0 ? -static_cast<uint64_t>(seconds) : seconds);
  if (nanos != 0) {
    char frac[16];
    std::snprintf(frac, sizeof(frac), ".%09d", nanos < 0 ? -nanos : nanos);
    std::string f(frac);
    while (f.back() == '0') f.pop_back();
    out += f;
  }
  out.push_back('s');
  return out;
}

std::string FormatDouble(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  // sci = [-]D[.DDD]e[+-]XX
  bool negative = sci[0] == '-';
  size_t epos = sci.find('e');
  std::string digits;
  for (size_t i = negative ? 1 : 0; i < epos; ++i) {
    if (sci[i] != '.') digits.push_back(sci[i]);
  }
  int exp = std::stoi(sci.substr(epos + 1));
  std::string out = negative ? "-" : "";
  if (exp < -6 || exp >= 21) {
    out += digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    out += exp < 0 ? "e-" : "e+";
    out += std::to_string(exp < 0 ? -exp : exp);
  } else if (exp < 0) {
    out += "0." + std::string(-exp - 1, '0') + digits;
  } else if (static_cast<size_t>(exp) + 1 >= digits.size()) {
    out += digits + std::string(exp + 1 - digits.size(), '0');
  } else {
    out += digits.substr(0, exp + 1) + "." + digits.substr(exp + 1);
  }
  return out;
}

}  // namespace pgcdc::cel
