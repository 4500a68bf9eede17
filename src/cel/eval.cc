// Tree-walking evaluator and the built-in functions.
#include "cel/eval.h"

#include <re2/re2.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>

#include "cel/tz.h"
#include "core/escape.h"
#include "core/json.h"
#include "core/time.h"

namespace pgcdc::cel {

namespace {

Value NoOverload(std::string_view fn, const Value& a) {
  return Value::Error("no such overload: " + std::string(fn) + "(" +
                      std::string(KindTypeName(a.kind())) + ")");
}
Value NoOverload(std::string_view fn, const Value& a, const Value& b) {
  return Value::Error("no such overload: " + std::string(fn) + "(" +
                      std::string(KindTypeName(a.kind())) + ", " +
                      std::string(KindTypeName(b.kind())) + ")");
}

bool ValidUtf8(std::string_view s) { return json::IsValidUtf8(s); }

int64_t CodePointCount(std::string_view s) {
  int64_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++n;
  }
  return n;
}

// Byte offset of code point index `cp` (cp <= count), or npos.
size_t ByteOffset(std::string_view s, int64_t cp) {
  if (cp < 0) return std::string_view::npos;
  int64_t seen = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (seen == cp) return i;
      ++seen;
    }
  }
  return seen == cp ? s.size() : std::string_view::npos;
}

// Three-way comparison. Returns false when the kinds cannot be ordered; sets
// `unordered` for NaN.
bool Compare(const Value& a, const Value& b, int& cmp, bool& unordered) {
  unordered = false;
  auto sign = [](auto x, auto y) { return x < y ? -1 : (x > y ? 1 : 0); };
  if (a.IsNumeric() && b.IsNumeric()) {
    if ((a.kind() == Kind::kDouble && std::isnan(a.double_value())) ||
        (b.kind() == Kind::kDouble && std::isnan(b.double_value()))) {
      unordered = true;
      return true;
    }
    if (a.kind() == b.kind()) {
      switch (a.kind()) {
        case Kind::kInt:
          cmp = sign(a.int_value(), b.int_value());
          return true;
        case Kind::kUint:
          cmp = sign(a.uint_value(), b.uint_value());
          return true;
        default:
          cmp = sign(a.double_value(), b.double_value());
          return true;
      }
    }
    if (a.kind() == Kind::kInt && b.kind() == Kind::kUint) {
      cmp = a.int_value() < 0 ? -1 : sign(static_cast<uint64_t>(a.int_value()), b.uint_value());
      return true;
    }
    if (a.kind() == Kind::kUint && b.kind() == Kind::kInt) {
      cmp = b.int_value() < 0 ? 1 : sign(a.uint_value(), static_cast<uint64_t>(b.int_value()));
      return true;
    }
    // Mixed int/uint vs double: compare as doubles (cel-go semantics).
    auto as_double = [](const Value& v) -> double {
      switch (v.kind()) {
        case Kind::kInt:
          return static_cast<double>(v.int_value());
        case Kind::kUint:
          return static_cast<double>(v.uint_value());
        default:
          return v.double_value();
      }
    };
    cmp = sign(as_double(a), as_double(b));
    return true;
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Kind::kBool:
      cmp = sign(a.bool_value(), b.bool_value());
      return true;
    case Kind::kString:
    case Kind::kBytes: {
      int c = a.str().compare(b.str());
      cmp = c < 0 ? -1 : (c > 0 ? 1 : 0);
      return true;
    }
    case Kind::kTimestamp:
    case Kind::kDuration:
      cmp =
          a.seconds() != b.seconds() ? sign(a.seconds(), b.seconds()) : sign(a.nanos(), b.nanos());
      return true;
    default:
      return false;
  }
}

Value Overflow() { return Value::Error("integer overflow"); }

Value Add(const Value& a, const Value& b) {
  if (a.kind() == b.kind()) {
    switch (a.kind()) {
      case Kind::kInt: {
        int64_t r;
        if (__builtin_add_overflow(a.int_value(), b.int_value(), &r)) return Overflow();
        return Value::Int(r);
      }
      case Kind::kUint: {
        uint64_t r;
        if (__builtin_add_overflow(a.uint_value(), b.uint_value(), &r)) return Overflow();
        return Value::Uint(r);
      }
      case Kind::kDouble:
        return Value::Double(a.double_value() + b.double_value());
      case Kind::kString: {
        std::string s;
        s.reserve(a.str().size() + b.str().size());
        s.append(a.str()).append(b.str());
        return Value::String(std::move(s));
      }
      case Kind::kBytes:
        return Value::Bytes(std::string(a.str()) + std::string(b.str()));
      case Kind::kList: {
        if (a.list().empty()) return b;
        if (b.list().empty()) return a;
        ValueList items = a.list();
        items.insert(items.end(), b.list().begin(), b.list().end());
        return Value::List(std::move(items));
      }
      case Kind::kDuration:
        return Value::Duration(a.seconds() + b.seconds(), a.nanos() + b.nanos());
      default:
        break;
    }
  }
  if (a.kind() == Kind::kTimestamp && b.kind() == Kind::kDuration) {
    return Value::Timestamp(a.seconds() + b.seconds(), a.nanos() + b.nanos());
  }
  if (a.kind() == Kind::kDuration && b.kind() == Kind::kTimestamp) {
    return Value::Timestamp(a.seconds() + b.seconds(), a.nanos() + b.nanos());
  }
  return NoOverload("_+_", a, b);
}

Value Sub(const Value& a, const Value& b) {
  if (a.kind() == b.kind()) {
    switch (a.kind()) {
      case Kind::kInt: {
        int64_t r;
        if (__builtin_sub_overflow(a.int_value(), b.int_value(), &r)) return Overflow();
        return Value::Int(r);
      }
      case Kind::kUint: {
        uint64_t r;
        if (__builtin_sub_overflow(a.uint_value(), b.uint_value(), &r)) return Overflow();
        return Value::Uint(r);
      }
      case Kind::kDouble:
        return Value::Double(a.double_value() - b.double_value());
      case Kind::kDuration:   // duration - duration
      case Kind::kTimestamp:  // timestamp - timestamp
        return Value::Duration(a.seconds() - b.seconds(), a.nanos() - b.nanos());
      default:
        break;
    }
  }
  if (a.kind() == Kind::kTimestamp && b.kind() == Kind::kDuration) {
    return Value::Timestamp(a.seconds() - b.seconds(), a.nanos() - b.nanos());
  }
  return NoOverload("_-_", a, b);
}

Value Mul(const Value& a, const Value& b) {
  if (a.kind() == b.kind()) {
    switch (a.kind()) {
      case Kind::kInt: {
        int64_t r;
        if (__builtin_mul_overflow(a.int_value(), b.int_value(), &r)) return Overflow();
        return Value::Int(r);
      }
      case Kind::kUint: {
        uint64_t r;
        if (__builtin_mul_overflow(a.uint_value(), b.uint_value(), &r)) return Overflow();
        return Value::Uint(r);
      }
      case Kind::kDouble:
        return Value::Double(a.double_value() * b.double_value());
      default:
        break;
    }
  }
  return NoOverload("_*_", a, b);
}

Value DivMod(const Value& a, const Value& b, bool mod) {
  const char* name = mod ? "_%_" : "_/_";
  if (a.kind() != b.kind()) return NoOverload(name, a, b);
  switch (a.kind()) {
    case Kind::kInt: {
      int64_t x = a.int_value(), y = b.int_value();
      if (y == 0) return Value::Error(mod ? "modulus by zero" : "division by zero");
      if (x == std::numeric_limits<int64_t>::min() && y == -1) return Overflow();
      return Value::Int(mod ? x % y : x / y);
    }
    case Kind::kUint: {
      uint64_t x = a.uint_value(), y = b.uint_value();
      if (y == 0) return Value::Error(mod ? "modulus by zero" : "division by zero");
      return Value::Uint(mod ? x % y : x / y);
    }
    case Kind::kDouble:
      if (mod) break;
      return Value::Double(a.double_value() / b.double_value());
    default:
      break;
  }
  return NoOverload(name, a, b);
}

Value Negate(const Value& a) {
  switch (a.kind()) {
    case Kind::kInt:
      if (a.int_value() == std::numeric_limits<int64_t>::min()) return Overflow();
      return Value::Int(-a.int_value());
    case Kind::kDouble:
      return Value::Double(-a.double_value());
    default:
      return NoOverload("-_", a);
  }
}

Value Index(const Value& c, const Value& i) {
  if (c.kind() == Kind::kList) {
    int64_t idx;
    switch (i.kind()) {
      case Kind::kInt:
        idx = i.int_value();
        break;
      case Kind::kUint:
        if (i.uint_value() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
          return Value::Error("index out of range");
        }
        idx = static_cast<int64_t>(i.uint_value());
        break;
      case Kind::kDouble: {
        double d = i.double_value();
        if (!(d >= -9.2e18 && d <= 9.2e18) || std::trunc(d) != d) {
          return Value::Error("unsupported index value");
        }
        idx = static_cast<int64_t>(d);
        break;
      }
      default:
        return NoOverload("_[_]", c, i);
    }
    if (idx < 0 || static_cast<uint64_t>(idx) >= c.list().size()) {
      return Value::Error("index out of range: " + std::to_string(idx));
    }
    return c.list()[idx];
  }
  if (c.kind() == Kind::kMap) {
    switch (i.kind()) {
      case Kind::kString:
      case Kind::kInt:
      case Kind::kUint:
      case Kind::kDouble:
      case Kind::kBool:
        break;
      default:
        return NoOverload("_[_]", c, i);
    }
    const Value* v = c.map().Find(i);
    if (v == nullptr) return Value::Error("no such key: " + i.DebugString());
    return *v;
  }
  return NoOverload("_[_]", c, i);
}

Value In(const Value& e, const Value& c) {
  if (c.kind() == Kind::kList) {
    for (const Value& item : c.list()) {
      if (ValuesEqual(item, e)) return Value::Bool(true);
    }
    return Value::Bool(false);
  }
  if (c.kind() == Kind::kMap) {
    switch (e.kind()) {
      case Kind::kString:
      case Kind::kInt:
      case Kind::kUint:
      case Kind::kDouble:
      case Kind::kBool:
        return Value::Bool(c.map().Find(e) != nullptr);
      default:
        return Value::Bool(false);
    }
  }
  return NoOverload("@in", e, c);
}

Value Size(const Value& v) {
  switch (v.kind()) {
    case Kind::kString:
      return Value::Int(CodePointCount(v.str()));
    case Kind::kBytes:
      return Value::Int(static_cast<int64_t>(v.str().size()));
    case Kind::kList:
      return Value::Int(static_cast<int64_t>(v.list().size()));
    case Kind::kMap:
      return Value::Int(static_cast<int64_t>(v.map().size()));
    default:
      return NoOverload("size", v);
  }
}

bool ParseInt64(std::string_view s, int64_t& out) {
  if (s.empty()) return false;
  std::string buf(s);
  if (!(std::isdigit(static_cast<unsigned char>(buf[0])) || buf[0] == '-' || buf[0] == '+')) {
    return false;
  }
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(buf.c_str(), &end, 10);
  if (errno != 0 || end != buf.c_str() + buf.size()) return false;
  out = v;
  return true;
}

bool ParseUint64(std::string_view s, uint64_t& out) {
  if (s.empty() || !std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  std::string buf(s);
  errno = 0;
  char* end = nullptr;
  unsigned long long v = std::strtoull(buf.c_str(), &end, 10);
  if (errno != 0 || end != buf.c_str() + buf.size()) return false;
  out = v;
  return true;
}

Value ToInt(const Value& v) {
  switch (v.kind()) {
    case Kind::kInt:
      return v;
    case Kind::kUint:
      if (v.uint_value() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return Value::Error("range error converting uint to int");
      }
      return Value::Int(static_cast<int64_t>(v.uint_value()));
    case Kind::kDouble: {
      double d = v.double_value();
      if (!(d > -9223372036854775808.0 && d < 9223372036854775808.0)) {
        return Value::Error("range error converting double to int");
      }
      return Value::Int(static_cast<int64_t>(d));
    }
    case Kind::kString: {
      int64_t i;
      if (!ParseInt64(v.str(), i)) return Value::Error("cannot convert string to int");
      return Value::Int(i);
    }
    case Kind::kTimestamp:
      return Value::Int(v.seconds());
    default:
      return NoOverload("int", v);
  }
}

Value ToUint(const Value& v) {
  switch (v.kind()) {
    case Kind::kUint:
      return v;
    case Kind::kInt:
      if (v.int_value() < 0) return Value::Error("range error converting int to uint");
      return Value::Uint(static_cast<uint64_t>(v.int_value()));
    case Kind::kDouble: {
      double d = v.double_value();
      if (!(d > -1.0 && d < 18446744073709551616.0)) {
        return Value::Error("range error converting double to uint");
      }
      return Value::Uint(static_cast<uint64_t>(d));
    }
    case Kind::kString: {
      uint64_t u;
      if (!ParseUint64(v.str(), u)) return Value::Error("cannot convert string to uint");
      return Value::Uint(u);
    }
    default:
      return NoOverload("uint", v);
  }
}

Value ToDouble(const Value& v) {
  switch (v.kind()) {
    case Kind::kDouble:
      return v;
    case Kind::kInt:
      return Value::Double(static_cast<double>(v.int_value()));
    case Kind::kUint:
      return Value::Double(static_cast<double>(v.uint_value()));
    case Kind::kString: {
      std::string buf(v.str());
      if (buf.empty() || std::isspace(static_cast<unsigned char>(buf[0]))) {
        return Value::Error("cannot convert string to double");
      }
      char* end = nullptr;
      double d = std::strtod(buf.c_str(), &end);
      if (end != buf.c_str() + buf.size()) return Value::Error("cannot convert string to double");
      return Value::Double(d);
    }
    default:
      return NoOverload("double", v);
  }
}

Value ToString(const Value& v) {
  switch (v.kind()) {
    case Kind::kString:
      return v;
    case Kind::kInt:
      return Value::String(std::to_string(v.int_value()));
    case Kind::kUint:
      return Value::String(std::to_string(v.uint_value()));
    case Kind::kDouble:
      return Value::String(FormatDouble(v.double_value()));
    case Kind::kBool:
      return Value::StringView(v.bool_value() ? "true" : "false");
    case Kind::kBytes:
      if (!ValidUtf8(v.str())) return Value::Error("invalid UTF-8 in bytes to string conversion");
      return Value::String(std::string(v.str()));
    case Kind::kTimestamp:
      return Value::String(FormatTimestamp(v.seconds(), v.nanos()));
    case Kind::kDuration:
      return Value::String(FormatDuration(v.seconds(), v.nanos()));
    default:
      return NoOverload("string", v);
  }
}

Value ToBool(const Value& v) {
  if (v.kind() == Kind::kBool) return v;
  if (v.kind() != Kind::kString) return NoOverload("bool", v);
  std::string_view s = v.str();
  if (s == "1" || s == "t" || s == "T" || s == "true" || s == "TRUE" || s == "True") {
    return Value::Bool(true);
  }
  if (s == "0" || s == "f" || s == "F" || s == "false" || s == "FALSE" || s == "False") {
    return Value::Bool(false);
  }
  return Value::Error("cannot convert string '" + std::string(s) + "' to bool");
}

Value ToTimestamp(const Value& v) {
  switch (v.kind()) {
    case Kind::kTimestamp:
      return v;
    case Kind::kInt:
      return Value::Timestamp(v.int_value(), 0);
    case Kind::kString: {
      int64_t s;
      int32_t n;
      if (!ParseTimestamp(v.str(), s, n)) {
        return Value::Error("cannot parse timestamp '" + std::string(v.str()) + "'");
      }
      return Value::Timestamp(s, n);
    }
    default:
      return NoOverload("timestamp", v);
  }
}

Value ToDuration(const Value& v) {
  switch (v.kind()) {
    case Kind::kDuration:
      return v;
    case Kind::kString: {
      int64_t s;
      int32_t n;
      if (!ParseDuration(v.str(), s, n)) {
        return Value::Error("cannot parse duration '" + std::string(v.str()) + "'");
      }
      return Value::Duration(s, n);
    }
    default:
      return NoOverload("duration", v);
  }
}

Value TimeAccessor(Fn fn, const Value& t, const Value* tz) {
  if (t.kind() == Kind::kDuration && tz == nullptr) {
    switch (fn) {
      case Fn::kGetHours:
        return Value::Int(t.seconds() / 3600);
      case Fn::kGetMinutes:
        return Value::Int(t.seconds() / 60);
      case Fn::kGetSeconds:
        return Value::Int(t.seconds());
      case Fn::kGetMilliseconds:
        return Value::Int(t.nanos() / 1000000);
      default:
        break;
    }
  }
  if (t.kind() != Kind::kTimestamp || (tz != nullptr && tz->kind() != Kind::kString)) {
    return Value::Error("no such overload for timestamp accessor on " +
                        std::string(KindTypeName(t.kind())));
  }
  int64_t offset = 0;
  if (tz != nullptr) {
    std::string error;
    if (!TimeZoneOffset(tz->str(), t.seconds(), offset, error)) return Value::Error(error);
  }
  int64_t local = t.seconds() + offset;
  int64_t days = local >= 0 ? local / 86400 : (local - 86399) / 86400;
  int64_t secs = local - days * 86400;
  const auto [year, month, day] = CivilFromDays(days);
  switch (fn) {
    case Fn::kGetFullYear:
      return Value::Int(year);
    case Fn::kGetMonth:
      return Value::Int(month - 1);
    case Fn::kGetDate:
      return Value::Int(day);
    case Fn::kGetDayOfMonth:
      return Value::Int(day - 1);
    case Fn::kGetDayOfWeek:
      return Value::Int(((days % 7) + 11) % 7);
    case Fn::kGetDayOfYear: {
      static constexpr int kCum[] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
      bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
      return Value::Int(kCum[month - 1] + (leap && month > 2 ? 1 : 0) + day - 1);
    }
    case Fn::kGetHours:
      return Value::Int(secs / 3600);
    case Fn::kGetMinutes:
      return Value::Int(secs / 60 % 60);
    case Fn::kGetSeconds:
      return Value::Int(secs % 60);
    case Fn::kGetMilliseconds:
      return Value::Int(t.nanos() / 1000000);
    default:
      return Value::Error("unknown accessor");
  }
}

// Byte length of the Unicode white space code point at s[i] (Go's
// unicode.IsSpace set), or 0.
size_t SpaceLength(std::string_view s, size_t i) {
  unsigned char c = s[i];
  if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') return 1;
  if (c < 0x80 || i + 1 >= s.size()) return 0;
  uint32_t cp;
  size_t n;
  if ((c & 0xE0) == 0xC0) {
    cp = ((c & 0x1F) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3F);
    n = 2;
  } else if ((c & 0xF0) == 0xE0 && i + 2 < s.size()) {
    cp = ((c & 0x0F) << 12) | ((static_cast<unsigned char>(s[i + 1]) & 0x3F) << 6) |
         (static_cast<unsigned char>(s[i + 2]) & 0x3F);
    n = 3;
  } else {
    return 0;
  }
  bool space = cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
               cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
  return space ? n : 0;
}

// The string extension functions, one per Fn; `args` are checked by
// StringExt (args[0] is the receiver `str`).

Value ChangeCase(Fn fn, std::string_view str, const Value*, size_t) {
  std::string out(str);
  for (char& c : out) {
    if (fn == Fn::kLowerAscii && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (fn == Fn::kUpperAscii && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return Value::String(std::move(out));
}

Value Trim(Fn, std::string_view str, const Value*, size_t) {
  size_t b = 0, e = str.size();
  while (b < e) {
    size_t n = SpaceLength(str, b);
    if (n == 0) break;
    b += n;
  }
  while (e > b) {
    size_t start = e - 1;
    while (start > b && (static_cast<unsigned char>(str[start]) & 0xC0) == 0x80) --start;
    if (SpaceLength(str, start) != e - start) break;
    e = start;
  }
  return Value::String(std::string(str.substr(b, e - b)));
}

Value Reverse(Fn, std::string_view str, const Value*, size_t) {
  std::string out;
  out.reserve(str.size());
  size_t end = str.size();
  while (end > 0) {
    size_t start = end - 1;
    while (start > 0 && (static_cast<unsigned char>(str[start]) & 0xC0) == 0x80) --start;
    out.append(str.substr(start, end - start));
    end = start;
  }
  return Value::String(std::move(out));
}

Value Quote(Fn, std::string_view str, const Value*, size_t) {
  std::string out = "\"";
  for (const char c : str) {
    const char letter = EscapeLetter(c, kCEscapes);
    if (letter != 0 || c == '\\' || c == '"') out.push_back('\\');
    out.push_back(letter != 0 ? letter : c);
  }
  out.push_back('"');
  return Value::String(std::move(out));
}

Value IndexOf(Fn fn, std::string_view str, const Value* args, size_t n) {
  std::string_view sub = args[1].str();
  int64_t len = CodePointCount(str);
  if (fn == Fn::kIndexOf) {
    int64_t start = n == 3 ? args[2].int_value() : 0;
    if (start < 0 || start > len)
      return Value::Error("index out of range: " + std::to_string(start));
    size_t off = ByteOffset(str, start);
    size_t found = str.find(sub, off);
    if (found == std::string_view::npos) return Value::Int(-1);
    return Value::Int(CodePointCount(str.substr(0, found)));
  }
  int64_t start = n == 3 ? args[2].int_value() : len;
  if (start < 0 || start > len) return Value::Error("index out of range: " + std::to_string(start));
  size_t off = ByteOffset(str, start);
  size_t found = str.rfind(sub, off);
  if (found == std::string_view::npos) return Value::Int(-1);
  return Value::Int(CodePointCount(str.substr(0, found)));
}

Value Substring(Fn, std::string_view str, const Value* args, size_t n) {
  int64_t len = CodePointCount(str);
  int64_t b = args[1].int_value();
  int64_t e = n == 3 ? args[2].int_value() : len;
  if (b < 0 || b > len) return Value::Error("index out of range: " + std::to_string(b));
  if (e < 0 || e > len) return Value::Error("index out of range: " + std::to_string(e));
  if (e < b)
    return Value::Error("invalid substring range. start: " + std::to_string(b) +
                        ", end: " + std::to_string(e));
  size_t bo = ByteOffset(str, b), eo = ByteOffset(str, e);
  return Value::String(std::string(str.substr(bo, eo - bo)));
}

Value CharAt(Fn, std::string_view str, const Value* args, size_t) {
  int64_t len = CodePointCount(str);
  int64_t i = args[1].int_value();
  if (i < 0 || i > len) return Value::Error("index out of range: " + std::to_string(i));
  if (i == len) return Value::StringView("");
  size_t bo = ByteOffset(str, i), eo = ByteOffset(str, i + 1);
  return Value::String(std::string(str.substr(bo, eo - bo)));
}

Value Replace(Fn, std::string_view str, const Value* args, size_t n) {
  std::string_view from = args[1].str(), to = args[2].str();
  int64_t limit = n == 4 ? args[3].int_value() : -1;
  std::string out;
  size_t pos = 0;
  int64_t done = 0;
  if (from.empty()) {
    // Go semantics: insert `to` before each code point and at the end.
    for (size_t i = 0; i <= str.size(); ++i) {
      if (i == str.size() || (static_cast<unsigned char>(str[i]) & 0xC0) != 0x80) {
        if (limit >= 0 && done >= limit) {
          out.append(str.substr(i));
          return Value::String(std::move(out));
        }
        out.append(to);
        ++done;
      }
      if (i < str.size()) out.push_back(str[i]);
    }
    return Value::String(std::move(out));
  }
  while (limit < 0 || done < limit) {
    size_t f = str.find(from, pos);
    if (f == std::string_view::npos) break;
    out.append(str.substr(pos, f - pos)).append(to);
    pos = f + from.size();
    ++done;
  }
  out.append(str.substr(pos));
  return Value::String(std::move(out));
}

Value Split(Fn, std::string_view str, const Value* args, size_t n) {
  std::string_view sep = args[1].str();
  int64_t limit = n == 3 ? args[2].int_value() : -1;
  ValueList parts;
  if (limit == 0) return Value::List({});
  if (sep.empty()) {
    for (size_t i = 0; i < str.size();) {
      size_t j = i + 1;
      while (j < str.size() && (static_cast<unsigned char>(str[j]) & 0xC0) == 0x80) ++j;
      if (limit > 0 && static_cast<int64_t>(parts.size()) == limit - 1) {
        parts.push_back(Value::String(std::string(str.substr(i))));
        return Value::List(std::move(parts));
      }
      parts.push_back(Value::String(std::string(str.substr(i, j - i))));
      i = j;
    }
    return Value::List(std::move(parts));
  }
  size_t pos = 0;
  while (limit < 0 || static_cast<int64_t>(parts.size()) < limit - 1) {
    size_t f = str.find(sep, pos);
    if (f == std::string_view::npos) break;
    parts.push_back(Value::String(std::string(str.substr(pos, f - pos))));
    pos = f + sep.size();
  }
  parts.push_back(Value::String(std::string(str.substr(pos))));
  return Value::List(std::move(parts));
}

using StringFn = Value (*)(Fn fn, std::string_view str, const Value* args, size_t n);

constexpr std::pair<Fn, StringFn> kStringFunctions[] = {
    {Fn::kLowerAscii, ChangeCase}, {Fn::kUpperAscii, ChangeCase}, {Fn::kTrim, Trim},
    {Fn::kReverse, Reverse},       {Fn::kQuote, Quote},           {Fn::kIndexOf, IndexOf},
    {Fn::kLastIndexOf, IndexOf},   {Fn::kSubstring, Substring},   {Fn::kCharAt, CharAt},
    {Fn::kReplace, Replace},       {Fn::kSplit, Split},
};

// The argument kind string function `fn` takes at position i (> 0).
Kind StringArgKind(Fn fn, size_t i) {
  if ((fn == Fn::kIndexOf || fn == Fn::kLastIndexOf) && i == 2) return Kind::kInt;
  if (fn == Fn::kSubstring || fn == Fn::kCharAt) return Kind::kInt;
  if ((fn == Fn::kReplace && i == 3) || (fn == Fn::kSplit && i == 2)) return Kind::kInt;
  return Kind::kString;
}

Value StringExt(Fn fn, const Value* args, size_t n) {
  const Value& s = args[0];
  if (s.kind() != Kind::kString) return NoOverload("string function", s);
  for (size_t i = 1; i < n; ++i) {
    if (args[i].kind() != StringArgKind(fn, i)) return NoOverload("string function", s, args[i]);
  }
  for (const auto& [f, call] : kStringFunctions) {
    if (f == fn) return call(fn, s.str(), args, n);
  }
  return Value::Error("unknown string function");
}

Value Join(const Value* args, size_t n) {
  if (args[0].kind() != Kind::kList) return NoOverload("join", args[0]);
  if (n == 2 && args[1].kind() != Kind::kString) return NoOverload("join", args[0], args[1]);
  std::string out;
  bool first = true;
  for (const Value& item : args[0].list()) {
    if (item.kind() != Kind::kString) return Value::Error("join: list element is not a string");
    if (!first && n == 2) out.append(args[1].str());
    first = false;
    out.append(item.str());
  }
  return Value::String(std::move(out));
}

// ---- string.format (cel-go strings extension) ----

std::string FormatFloatSpecial(double d) {
  if (std::isnan(d)) return "NaN";
  return d > 0 ? "Infinity" : "-Infinity";
}

// %s rendering; false for unsupported kinds.
bool FormatString(const Value& v, std::string& out) {
  switch (v.kind()) {
    case Kind::kString:
    case Kind::kBytes:
      out.append(v.str());
      return true;
    case Kind::kBool:
      out += v.bool_value() ? "true" : "false";
      return true;
    case Kind::kInt:
      out += std::to_string(v.int_value());
      return true;
    case Kind::kUint:
      out += std::to_string(v.uint_value());
      return true;
    case Kind::kDouble:
      out += std::isfinite(v.double_value()) ? FormatDouble(v.double_value())
                                             : FormatFloatSpecial(v.double_value());
      return true;
    case Kind::kNull:
      out += "null";
      return true;
    case Kind::kType:
      out.append(v.str());
      return true;
    case Kind::kTimestamp:
      out += FormatTimestamp(v.seconds(), v.nanos());
      return true;
    case Kind::kDuration:
      out += FormatDuration(v.seconds(), v.nanos());
      return true;
    case Kind::kList:
      return AppendSeparated(
          out, '[', v.list(), [&](const Value& item) { return FormatString(item, out); }, ']');
    case Kind::kMap: {
      std::vector<std::pair<std::string, std::string>> entries;
      for (const auto& [key, value] : v.map().entries()) {
        std::string k, x;
        if (!FormatString(key, k) || !FormatString(value, x)) return false;
        entries.emplace_back(std::move(k), std::move(x));
      }
      std::sort(entries.begin(), entries.end());
      return AppendSeparated(
          out, '{', entries,
          [&](const auto& entry) {
            out += entry.first + ": " + entry.second;
            return true;
          },
          '}');
    }
    default:
      return false;
  }
}

std::string ToBase(uint64_t v, int base, bool upper) {
  if (v == 0) return "0";
  const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string out;
  while (v > 0) {
    out.push_back(digits[v % base]);
    v /= base;
  }
  return std::string(out.rbegin(), out.rend());
}

Value FormatError(const std::string& what, const Value& v) {
  return Value::Error("error during formatting: " + what + ", was given " +
                      std::string(KindTypeName(v.kind())));
}

// Appends an int or uint `v` in `base` (with a '-' before a negative int);
// false for other kinds.
bool AppendInBase(const Value& v, int base, bool upper, std::string& out) {
  if (v.kind() == Kind::kInt) {
    int64_t x = v.int_value();
    if (x < 0) out.push_back('-');
    out += ToBase(x < 0 ? 0 - static_cast<uint64_t>(x) : static_cast<uint64_t>(x), base, upper);
    return true;
  }
  if (v.kind() == Kind::kUint) {
    out += ToBase(v.uint_value(), base, upper);
    return true;
  }
  return false;
}

// The clauses of format(): each appends `v` and returns nullopt, or returns
// the error value when `v` does not fit the clause.

std::optional<Value> FormatDecimal(const Value& v, std::string& out) {
  if (v.kind() == Kind::kInt) {
    out += std::to_string(v.int_value());
  } else if (v.kind() == Kind::kUint) {
    out += std::to_string(v.uint_value());
  } else if (v.kind() == Kind::kDouble && !std::isfinite(v.double_value())) {
    out += FormatFloatSpecial(v.double_value());
  } else {
    return FormatError("decimal clause can only be used on integers", v);
  }
  return std::nullopt;
}

// %f and %e (default precision 6).
std::optional<Value> FormatFloating(char verb, int precision, const Value& v, std::string& out) {
  if (v.kind() != Kind::kDouble) {
    return FormatError(verb == 'f' ? "fixed-point clause can only be used on doubles"
                                   : "scientific clause can only be used on doubles",
                       v);
  }
  double d = v.double_value();
  if (!std::isfinite(d)) {
    out += FormatFloatSpecial(d);
    return std::nullopt;
  }
  char buf[512];
  std::snprintf(buf, sizeof(buf), verb == 'f' ? "%.*f" : "%.*e", precision < 0 ? 6 : precision, d);
  out += buf;
  return std::nullopt;
}

// %b and %o.
std::optional<Value> FormatBinaryOrOctal(char verb, const Value& v, std::string& out) {
  if (AppendInBase(v, verb == 'b' ? 2 : 8, false, out)) return std::nullopt;
  if (verb == 'b' && v.kind() == Kind::kBool) {
    out += v.bool_value() ? "1" : "0";
    return std::nullopt;
  }
  return FormatError(verb == 'b' ? "only integers and bools can be formatted as binary"
                                 : "octal clause can only be used on integers",
                     v);
}

// %x and %X.
std::optional<Value> FormatHex(char verb, const Value& v, std::string& out) {
  const bool upper = verb == 'X';
  if (AppendInBase(v, 16, upper, out)) return std::nullopt;
  if (v.kind() == Kind::kString || v.kind() == Kind::kBytes) {
    const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    for (unsigned char c : v.str()) {
      out.push_back(digits[c >> 4]);
      out.push_back(digits[c & 15]);
    }
    return std::nullopt;
  }
  return FormatError("only integers, byte buffers, and strings can be formatted as hex", v);
}

std::optional<Value> FormatClause(char verb, int precision, const Value& v, std::string& out) {
  switch (verb) {
    case 's':
      if (FormatString(v, out)) return std::nullopt;
      return FormatError(
          "string clause can only be used on strings, bools, bytes, ints, "
          "doubles, maps, lists, types, durations, and timestamps",
          v);
    case 'd':
      return FormatDecimal(v, out);
    case 'f':
    case 'e':
      return FormatFloating(verb, precision, v, out);
    case 'b':
    case 'o':
      return FormatBinaryOrOctal(verb, v, out);
    default:  // x / X
      return FormatHex(verb, v, out);
  }
}

Value Format(const Value& fmt, const Value& args) {
  if (fmt.kind() != Kind::kString || args.kind() != Kind::kList) {
    return NoOverload("format", fmt, args);
  }
  std::string_view f = fmt.str();
  const ValueList& list = args.list();
  std::string out;
  size_t next = 0;
  for (size_t i = 0; i < f.size(); ++i) {
    if (f[i] != '%') {
      out.push_back(f[i]);
      continue;
    }
    if (++i >= f.size()) return Value::Error("could not parse formatting clause: missing verb");
    if (f[i] == '%') {
      out.push_back('%');
      continue;
    }
    int precision = -1;
    if (f[i] == '.') {
      precision = 0;
      while (++i < f.size() && f[i] >= '0' && f[i] <= '9') {
        precision = precision * 10 + (f[i] - '0');
        if (precision > 100) return Value::Error("could not parse formatting clause: precision");
      }
      if (i >= f.size()) return Value::Error("could not parse formatting clause: missing verb");
    }
    char verb = f[i];
    if (std::string_view("sdfebxXo").find(verb) == std::string_view::npos) {
      return Value::Error(std::string("could not parse formatting clause: unrecognized formatting "
                                      "clause \"") +
                          verb + "\"");
    }
    if (next >= list.size()) {
      return Value::Error("index " + std::to_string(next) + " out of range");
    }
    if (auto error = FormatClause(verb, precision, list[next++], out)) return std::move(*error);
  }
  return Value::String(std::move(out));
}

Value Matches(const Expr& e, const Value& s, const Value& pattern) {
  if (s.kind() != Kind::kString || pattern.kind() != Kind::kString) {
    return NoOverload("matches", s, pattern);
  }
  re2::StringPiece text(s.str().data(), s.str().size());
  if (e.regex) return Value::Bool(RE2::PartialMatch(text, *e.regex));
  RE2 re(re2::StringPiece(pattern.str().data(), pattern.str().size()), RE2::Quiet);
  if (!re.ok()) return Value::Error("invalid regular expression: " + re.error());
  return Value::Bool(RE2::PartialMatch(text, re));
}

// <, <=, >, >= (false for unordered values such as NaN).
Value Relational(const Expr& e, const Value& a, const Value& b) {
  int cmp = 0;
  bool unordered = false;
  if (!Compare(a, b, cmp, unordered)) return NoOverload(e.name, a, b);
  if (unordered) return Value::Bool(false);
  switch (e.fn) {
    case Fn::kLt:
      return Value::Bool(cmp < 0);
    case Fn::kLe:
      return Value::Bool(cmp <= 0);
    case Fn::kGt:
      return Value::Bool(cmp > 0);
    default:
      return Value::Bool(cmp >= 0);
  }
}

// contains, startsWith, endsWith.
Value StringPredicate(const Expr& e, const Value& a, const Value& b) {
  if (a.kind() != Kind::kString || b.kind() != Kind::kString) return NoOverload(e.name, a, b);
  std::string_view s = a.str(), x = b.str();
  if (e.fn == Fn::kContains) return Value::Bool(s.find(x) != std::string_view::npos);
  if (e.fn == Fn::kStartsWith) return Value::Bool(s.starts_with(x));
  return Value::Bool(s.ends_with(x));
}

// The strict functions that are one call on their one or two arguments.
constexpr std::pair<Fn, Value (*)(const Value&)> kUnaryFunctions[] = {
    {Fn::kNeg, Negate},          {Fn::kSize, Size},
    {Fn::kToInt, ToInt},         {Fn::kToUint, ToUint},
    {Fn::kToDouble, ToDouble},   {Fn::kToString, ToString},
    {Fn::kToBool, ToBool},       {Fn::kTimestamp, ToTimestamp},
    {Fn::kDuration, ToDuration},
};
constexpr std::pair<Fn, Value (*)(const Value&, const Value&)> kBinaryFunctions[] = {
    {Fn::kEq, [](const Value& a, const Value& b) { return Value::Bool(ValuesEqual(a, b)); }},
    {Fn::kNe, [](const Value& a, const Value& b) { return Value::Bool(!ValuesEqual(a, b)); }},
    {Fn::kIn, In},
    {Fn::kAdd, Add},
    {Fn::kSub, Sub},
    {Fn::kMul, Mul},
    {Fn::kDiv, [](const Value& a, const Value& b) { return DivMod(a, b, false); }},
    {Fn::kMod, [](const Value& a, const Value& b) { return DivMod(a, b, true); }},
    {Fn::kIndex, Index},
    {Fn::kFormat, Format},
};

// A strict function (every argument evaluated, none an error) applied to
// its `n` arguments.
Value CallStrict(const Expr& e, const Value* args, size_t n) {
  const Value& a = args[0];
  const Value& b = args[1];
  if (IsTimeAccessor(e.fn)) return TimeAccessor(e.fn, a, n == 2 ? &b : nullptr);
  if (IsStringExtension(e.fn)) return StringExt(e.fn, args, n);
  for (const auto& [fn, call] : kUnaryFunctions) {
    if (fn == e.fn) return call(a);
  }
  for (const auto& [fn, call] : kBinaryFunctions) {
    if (fn == e.fn) return call(a, b);
  }
  if (e.fn >= Fn::kLt && e.fn <= Fn::kGe) return Relational(e, a, b);
  if (e.fn >= Fn::kContains && e.fn <= Fn::kEndsWith) return StringPredicate(e, a, b);
  switch (e.fn) {
    case Fn::kNot:
      if (!a.IsBool()) return NoOverload("!_", a);
      return Value::Bool(!a.bool_value());
    case Fn::kMatches:
      return Matches(e, a, b);
    case Fn::kToBytes:
      if (a.kind() == Kind::kBytes) return a;
      if (a.kind() == Kind::kString) return Value::Bytes(std::string(a.str()));
      return NoOverload("bytes", a);
    case Fn::kDyn:
      return a;
    case Fn::kTypeOf:
      return Value::TypeOf(a.kind());
    case Fn::kJoin:
      return Join(args, n);
    default:
      return Value::Error("unknown function '" + e.name + "'");
  }
}

}  // namespace

Value Evaluator::Eval(const Expr& e) {
  switch (e.kind) {
    case ExprKind::kConst:
      return e.constant;
    case ExprKind::kIdent:
      if (e.local) return locals_[e.slot];
      return activation_.Get(e.slot);
    case ExprKind::kSelect: {
      Value operand = Eval(*e.args[0]);
      if (operand.IsError()) return operand;
      if (operand.kind() == Kind::kMap) {
        const Value* v = operand.map().FindString(e.name);
        if (e.test_only) return Value::Bool(v != nullptr);
        if (v == nullptr) return Value::Error("no such key: " + e.name);
        return *v;
      }
      return Value::Error("type '" + std::string(KindTypeName(operand.kind())) +
                          "' does not support field selection");
    }
    case ExprKind::kList: {
      ValueList items;
      items.reserve(e.args.size());
      for (const auto& a : e.args) {
        Value v = Eval(*a);
        if (v.IsError()) return v;
        items.push_back(std::move(v));
      }
      return Value::List(std::move(items));
    }
    case ExprKind::kMap: {
      std::vector<MapValue::Entry> entries;
      entries.reserve(e.args.size() / 2);
      for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
        Value k = Eval(*e.args[i]);
        if (k.IsError()) return k;
        Value v = Eval(*e.args[i + 1]);
        if (v.IsError()) return v;
        switch (k.kind()) {
          case Kind::kString:
          case Kind::kInt:
          case Kind::kUint:
          case Kind::kBool:
            break;
          default:
            return Value::Error("unsupported map key type: " + std::string(KindTypeName(k.kind())));
        }
        for (const auto& entry : entries) {
          if (ValuesEqual(entry.first, k)) {
            return Value::Error("Failed with repeated key: " + k.DebugString());
          }
        }
        entries.emplace_back(std::move(k), std::move(v));
      }
      return Value::Map(std::make_shared<const MapValue>(std::move(entries)));
    }
    case ExprKind::kStruct:
      return Value::Error("message construction is not supported");
    case ExprKind::kMacro:
      return EvalMacro(e);
    case ExprKind::kCall:
      return EvalCall(e);
  }
  return Value::Error("unknown expression");
}

// A comprehension's range (a list or a map) and the binding of its
// iteration variable(s).
struct Evaluator::Range {
  const ValueList* list = nullptr;
  const MapValue* map = nullptr;
  size_t count = 0;
  bool two = false;  // two-variable macro: (index, value) or (key, value)

  // Binds the iteration variable(s) of `e` for element i.
  void Bind(const Expr& e, Value* locals, size_t i) const {
    if (list != nullptr) {
      if (two) {
        locals[e.slot] = Value::Int(static_cast<int64_t>(i));
        locals[e.slot + 1] = (*list)[i];
      } else {
        locals[e.slot] = (*list)[i];
      }
    } else {
      locals[e.slot] = map->entries()[i].first;
      if (two) locals[e.slot + 1] = map->entries()[i].second;
    }
  }
};

Value Evaluator::EvalMacro(const Expr& e) {
  Value range_value = Eval(*e.args[0]);
  if (range_value.IsError()) return range_value;
  Range range;
  range.two = IsTwoVariableMacro(e.macro);
  if (range_value.kind() == Kind::kList) {
    range.list = &range_value.list();
    range.count = range.list->size();
  } else if (range_value.kind() == Kind::kMap) {
    range.map = &range_value.map();
    range.count = range.map->size();
  } else {
    return Value::Error("expression of type '" + std::string(KindTypeName(range_value.kind())) +
                        "' cannot be range of a comprehension");
  }
  if (e.macro == MacroKind::kTransformMap && range.list != nullptr) {
    return Value::Error("transformMap requires a map range");
  }
  switch (e.macro) {
    case MacroKind::kAll:
    case MacroKind::kExists:
    case MacroKind::kAll2:
    case MacroKind::kExists2:
      return EvalQuantifier(e, range);
    case MacroKind::kExistsOne:
    case MacroKind::kExistsOne2:
      return EvalExistsOne(e, range);
    case MacroKind::kMap:
    case MacroKind::kMapFilter:
    case MacroKind::kFilter:
    case MacroKind::kTransformList:
    case MacroKind::kTransformMap:
      return EvalCollect(e, range);
  }
  return Value::Error("unknown macro");
}

// exists stops on true, all on false; an error only counts when no element
// decides the result.
Value Evaluator::EvalQuantifier(const Expr& e, const Range& range) {
  const Expr& step = *e.args.back();
  const bool stop_on = e.macro == MacroKind::kExists || e.macro == MacroKind::kExists2;
  Value error;
  bool have_error = false;
  for (size_t i = 0; i < range.count; ++i) {
    range.Bind(e, locals_, i);
    Value r = Eval(step);
    if (r.IsBool()) {
      if (r.bool_value() == stop_on) return Value::Bool(stop_on);
    } else if (!have_error) {
      have_error = true;
      error = r.IsError() ? r : Value::Error("no matching overload for predicate result");
    }
  }
  if (have_error) return error;
  return Value::Bool(!stop_on);
}

Value Evaluator::EvalExistsOne(const Expr& e, const Range& range) {
  const Expr& step = *e.args.back();
  int64_t matches = 0;
  for (size_t i = 0; i < range.count; ++i) {
    range.Bind(e, locals_, i);
    Value r = Eval(step);
    if (r.IsError()) return r;
    if (!r.IsBool()) return Value::Error("no matching overload for predicate result");
    if (r.bool_value()) ++matches;
  }
  return Value::Bool(matches == 1);
}

// map, filter, transformList and transformMap (with an optional filter).
Value Evaluator::EvalCollect(const Expr& e, const Range& range) {
  const Expr& step = *e.args.back();
  const Expr* filter = e.macro == MacroKind::kFilter ? &step
                       : e.args.size() == 3          ? e.args[1].get()
                                                     : nullptr;
  ValueList out;
  std::vector<MapValue::Entry> entries;
  for (size_t i = 0; i < range.count; ++i) {
    range.Bind(e, locals_, i);
    if (filter != nullptr) {
      Value keep = Eval(*filter);
      if (keep.IsError()) return keep;
      if (!keep.IsBool()) return Value::Error("no matching overload for filter predicate");
      if (!keep.bool_value()) continue;
    }
    if (e.macro == MacroKind::kFilter) {
      out.push_back(locals_[e.slot]);
      continue;
    }
    Value mapped = Eval(step);
    if (mapped.IsError()) return mapped;
    if (e.macro == MacroKind::kTransformMap) {
      entries.emplace_back(range.map->entries()[i].first, std::move(mapped));
    } else {
      out.push_back(std::move(mapped));
    }
  }
  if (e.macro == MacroKind::kTransformMap) {
    return Value::Map(std::make_shared<const MapValue>(std::move(entries)));
  }
  return Value::List(std::move(out));
}

Value Evaluator::EvalLogical(const Expr& e) {
  const bool decisive = e.fn == Fn::kOr;
  Value l = Eval(*e.args[0]);
  if (l.IsBool() && l.bool_value() == decisive) return l;
  Value r = Eval(*e.args[1]);
  if (r.IsBool() && r.bool_value() == decisive) return r;
  if (l.IsBool() && r.IsBool()) return Value::Bool(!decisive);
  if (l.IsError()) return l;
  if (r.IsError()) return r;
  return Value::Error("no matching overload for '" + e.name + "'");
}

Value Evaluator::EvalConditional(const Expr& e) {
  Value c = Eval(*e.args[0]);
  if (c.IsError()) return c;
  if (!c.IsBool()) return NoOverload("_?_:_", c);
  return Eval(*e.args[c.bool_value() ? 1 : 2]);
}

Value Evaluator::EvalCall(const Expr& e) {
  if (e.fn == Fn::kAnd || e.fn == Fn::kOr) return EvalLogical(e);
  if (e.fn == Fn::kCond) return EvalConditional(e);
  // Strict functions: evaluate every argument, the first error wins.
  constexpr size_t kMaxArgs = 4;
  Value args[kMaxArgs];
  size_t n = e.args.size();
  if (n > kMaxArgs) return Value::Error("too many arguments");
  for (size_t i = 0; i < n; ++i) {
    args[i] = Eval(*e.args[i]);
    if (args[i].IsError()) return args[i];
  }
  return CallStrict(e, args, n);
}

}  // namespace pgcdc::cel
