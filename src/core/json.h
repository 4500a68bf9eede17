// Hand-tuned JSON helpers for the event hot path.
//
// JsonWriter appends compact JSON to a std::string. Strings are escaped per
// RFC 8259 (control characters as \u00XX or short escapes); invalid UTF-8 is
// replaced with U+FFFD so output is always valid UTF-8. No HTML escaping.
//
// CompactJson validates arbitrary JSON text (RFC 8259, nesting depth capped)
// and appends it without insignificant whitespace, repairing invalid UTF-8
// inside strings. It reports the top-level value kind and, for objects, the
// value of a top-level string key when asked (used for the NOTIFY "op" key).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"

namespace pgcdc::json {

// Appends `s` as a quoted, escaped JSON string.
void AppendString(std::string& out, std::string_view s);

// True when `s` is well-formed UTF-8 (no overlongs, surrogates or > U+10FFFF).
bool IsValidUtf8(std::string_view s);

// Length (1-4) of the well-formed UTF-8 sequence at s[i] (i < s.size()), or
// 0 when it is ill-formed: overlong, a UTF-16 surrogate, above U+10FFFF, a
// stray continuation byte or truncated.
size_t Utf8Length(std::string_view s, size_t i);

// Appends code point `cp` (<= 0x10FFFF) as UTF-8.
void AppendUtf8(std::string& out, uint32_t cp);
// Value of a hexadecimal digit, -1 for anything else.
int HexValue(char c);
// Appends `bytes` as lowercase hexadecimal, two digits per byte.
void AppendHex(std::string& out, std::string_view bytes);
inline std::string ToHex(std::string_view bytes) {
  std::string out;
  AppendHex(out, bytes);
  return out;
}

// Appends standard base64 (RFC 4648, with padding).
void AppendBase64(std::string& out, std::string_view bytes);

// Minimal streaming writer. The caller is responsible for structure (keys
// inside objects etc.); commas are inserted automatically.
class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}
  void BeginObject();
  void EndObject();
  void BeginArray();
  void EndArray();
  void Key(std::string_view key);
  void String(std::string_view value);
  void Int(int64_t value);
  void Uint(uint64_t value);
  void Double(double value);  // non-finite values are written as null
  void Bool(bool value);
  void Null();
  // Appends pre-encoded, valid, compact JSON as a value.
  void Raw(std::string_view json);
  // An object member in one call: Key(key) and the value.
  void StringField(std::string_view key, std::string_view value) {
    Key(key);
    String(value);
  }
  void IntField(std::string_view key, int64_t value) {
    Key(key);
    Int(value);
  }
  void UintField(std::string_view key, uint64_t value) {
    Key(key);
    Uint(value);
  }
  void BoolField(std::string_view key, bool value) {
    Key(key);
    Bool(value);
  }

 private:
  void Separate();
  // A value that opens a container ('{' or '['), and the end of one.
  void Open(char bracket);
  void Close(char bracket);
  std::string& out_;
  bool need_comma_ = false;
};

enum class Kind { kObject, kArray, kString, kNumber, kBool, kNull };

struct CompactInfo {
  Kind kind = Kind::kNull;
  // When CompactOptions::find_key is set and the top-level value is an object
  // holding that key with a string value: the unescaped string value.
  std::optional<std::string> found_string;
};

struct CompactOptions {
  std::string_view find_key;  // empty = do not look
  int max_depth = 512;
};

// On success appends the compacted document to `out`. On failure `out` is
// left as it was and a kParse error describes the first problem and its byte
// offset.
Result<CompactInfo> Compact(std::string_view in, std::string& out, const CompactOptions& opts = {});

}  // namespace pgcdc::json
