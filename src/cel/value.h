// CEL runtime values.
//
// A Value is a small tagged value (32 bytes + a shared owner). Scalars are held
// inline. Strings and bytes are a string_view plus an optional shared owner:
// constants of a Program and variables bound in an Activation are *borrowed*
// (no allocation, the owner must outlive the evaluation), results computed at
// run time own their storage. Lists and maps are immutable and shared. Errors
// are values too (CEL's error propagation/absorption works on values).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pgcdc::cel {

// The CEL types of values, in order, with their CEL type names: the one list
// behind the runtime Kind below and the checker's static TypeKind (ast.h),
// and behind both name tables. X(enumerator, type name) per type.
#define PGCDC_CEL_VALUE_TYPES(X)             \
  X(kNull, "null_type")                      \
  X(kBool, "bool")                           \
  X(kInt, "int")                             \
  X(kUint, "uint")                           \
  X(kDouble, "double")                       \
  X(kString, "string")                       \
  X(kBytes, "bytes")                         \
  X(kList, "list")                           \
  X(kMap, "map")                             \
  X(kTimestamp, "google.protobuf.Timestamp") \
  X(kDuration, "google.protobuf.Duration")   \
  X(kType, "type")
// For PGCDC_CEL_VALUE_TYPES: the enumerators, and the type names.
#define PGCDC_CEL_TYPE_ENUMERATOR(kind, type_name) kind,
#define PGCDC_CEL_TYPE_NAME(kind, type_name) type_name,

enum class Kind : uint8_t {
  PGCDC_CEL_VALUE_TYPES(PGCDC_CEL_TYPE_ENUMERATOR)  // the types, then
  kError,
};

// CEL type name of a kind ("int", "google.protobuf.Timestamp", "list", ...).
std::string_view KindTypeName(Kind kind);

class Value;
using ValueList = std::vector<Value>;
class MapValue;

// Limits of the timestamp and duration types (CEL/protobuf ranges).
inline constexpr int64_t kMinTimestampSeconds = -62135596800;  // 0001-01-01T00:00:00Z
inline constexpr int64_t kMaxTimestampSeconds = 253402300799;  // 9999-12-31T23:59:59Z
inline constexpr int64_t kMaxDurationSeconds = 315576000000;   // ~10000 years

class Value {
 public:
  Value() : kind_(Kind::kNull) { i_ = 0; }

  static Value Null() { return Value(); }
  static Value Bool(bool b) { return Holding(Kind::kBool, &Value::b_, b); }
  static Value Int(int64_t i) { return Holding(Kind::kInt, &Value::i_, i); }
  static Value Uint(uint64_t u) { return Holding(Kind::kUint, &Value::u_, u); }
  static Value Double(double d) { return Holding(Kind::kDouble, &Value::d_, d); }
  // Borrowed: `s` must outlive every use of the value (no allocation).
  static Value StringView(std::string_view s) { return Text(Kind::kString, s); }
  static Value BytesView(std::string_view s) { return Text(Kind::kBytes, s); }
  static Value String(std::string s) { return OwnedText(Kind::kString, std::move(s)); }
  static Value Bytes(std::string s) { return OwnedText(Kind::kBytes, std::move(s)); }
  // `name` must be a string with static storage (type names are constants).
  static Value Type(std::string_view name) { return Text(Kind::kType, name); }
  static Value TypeOf(Kind kind) { return Type(KindTypeName(kind)); }
  static Value Error(std::string message) { return OwnedText(Kind::kError, std::move(message)); }
  static Value List(ValueList items);
  static Value Map(std::shared_ptr<const MapValue> map);
  // Range-checked constructors; return an error value when out of range.
  static Value Timestamp(int64_t seconds, int32_t nanos);
  static Value Duration(int64_t seconds, int32_t nanos);

  Kind kind() const { return kind_; }
  bool IsError() const { return kind_ == Kind::kError; }
  bool IsBool() const { return kind_ == Kind::kBool; }
  bool IsNumeric() const {
    return kind_ == Kind::kInt || kind_ == Kind::kUint || kind_ == Kind::kDouble;
  }

  bool bool_value() const { return b_; }
  int64_t int_value() const { return i_; }
  uint64_t uint_value() const { return u_; }
  double double_value() const { return d_; }
  // String, bytes, type name or error message.
  std::string_view str() const { return sv_; }
  const ValueList& list() const { return *static_cast<const ValueList*>(owner_.get()); }
  const MapValue& map() const { return *static_cast<const MapValue*>(owner_.get()); }
  // Timestamp: seconds since the epoch; duration: seconds. nanos has the sign of seconds.
  int64_t seconds() const { return i_; }
  int32_t nanos() const { return nanos_; }

  // A human-readable rendering (CEL-like literal syntax), for tests and errors.
  std::string DebugString() const;

 private:
  explicit Value(Kind kind) : kind_(kind) { i_ = 0; }
  // A value of `kind` with `x` in `field` (a union member or sv_).
  template <class T>
  static Value Holding(Kind kind, T Value::*field, T x) {
    Value v(kind);
    v.*field = x;
    return v;
  }
  static Value Text(Kind kind, std::string_view s) { return Holding(kind, &Value::sv_, s); }
  static Value OwnedText(Kind kind, std::string s);

  Kind kind_;
  int32_t nanos_ = 0;
  union {
    bool b_;
    int64_t i_;
    uint64_t u_;
    double d_;
  };
  std::string_view sv_;
  std::shared_ptr<const void> owner_;
};

// An immutable map. Keys are bool, int, uint or string; lookups treat int,
// uint and integral doubles with the same numeric value as the same key.
class MapValue {
 public:
  using Entry = std::pair<Value, Value>;
  MapValue() = default;
  explicit MapValue(std::vector<Entry> entries) : entries_(std::move(entries)) {}

  const std::vector<Entry>& entries() const { return entries_; }
  size_t size() const { return entries_.size(); }
  // nullptr when absent.
  const Value* Find(const Value& key) const;
  const Value* FindString(std::string_view key) const;

 private:
  std::vector<Entry> entries_;
};

// CEL equality (heterogeneous numeric equality, deep list/map equality).
// Returns an error value if either side is an error, otherwise a bool value.
bool ValuesEqual(const Value& a, const Value& b);

// Strict structural equality used by tests: same kind, same value (NaN == NaN,
// 1 != 1u), maps compared irrespective of order.
bool StrictEqual(const Value& a, const Value& b);

// Time helpers shared by the evaluator and conversions.
// Parses RFC 3339 ("2009-02-13T23:31:30.5+01:00").
bool ParseTimestamp(std::string_view text, int64_t& seconds, int32_t& nanos);
std::string FormatTimestamp(int64_t seconds, int32_t nanos);
// Parses a Go-style duration ("1h2m3.5s", "-1.5h", "300ms").
bool ParseDuration(std::string_view text, int64_t& seconds, int32_t& nanos);
std::string FormatDuration(int64_t seconds, int32_t nanos);
// Shortest round-trip double formatting (ECMAScript Number#toString layout:
// fixed notation for exponents in [-7, 21), else "1.5e+21").
std::string FormatDouble(double d);

// Appends `open`, each of `items` written by `append(item)` separated by
// ", ", and `close` (the list and map forms of string() and debug output).
// Stops and returns false as soon as `append` does.
template <class Range, class Append>
bool AppendSeparated(std::string& out, char open, const Range& items, Append append, char close) {
  out.push_back(open);
  bool first = true;
  for (const auto& item : items) {
    if (!first) out += ", ";
    first = false;
    if (!append(item)) return false;
  }
  out.push_back(close);
  return true;
}

}  // namespace pgcdc::cel
