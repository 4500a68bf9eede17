// JSON -> CEL value conversion: a strict RFC 8259 parser that builds CEL
// values directly. Strings without escapes are borrowed views into the JSON
// text (which BindJson already requires to outlive the evaluation), so a row
// image costs one allocation per object/array plus one per escaped string.
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string>

#include "cel/cel.h"
#include "core/escape.h"
#include "core/json.h"

namespace pgcdc::cel {

namespace {

constexpr int kMaxJsonDepth = 512;

class JsonParser {
 public:
  explicit JsonParser(std::string_view text) : s_(text) {}

  Result<Value> ParseDocument() {
    SkipSpace();
    Value v;
    if (!ParseValue(v, 0)) return Failure();
    SkipSpace();
    if (pos_ != s_.size()) {
      error_ = "unexpected data after the JSON value";
      return Failure();
    }
    return v;
  }

 private:
  std::unexpected<Error> Failure() const {
    return Fail(ErrorCode::kParse,
                "cel: json binding: " + error_ + " at offset " + std::to_string(pos_));
  }
  bool Bad(const char* message) {
    if (error_.empty()) error_ = message;
    return false;
  }
  void SkipSpace() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool Literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return Bad("invalid literal");
    pos_ += word.size();
    return true;
  }

  bool ParseValue(Value& out, int depth) {
    if (depth > kMaxJsonDepth) return Bad("nested too deeply");
    if (pos_ >= s_.size()) return Bad("unexpected end of input");
    switch (s_[pos_]) {
      case '{':
        return ParseObject(out, depth);
      case '[':
        return ParseArray(out, depth);
      case '"':
        return ParseString(out);
      case 't':
        out = Value::Bool(true);
        return Literal("true");
      case 'f':
        out = Value::Bool(false);
        return Literal("false");
      case 'n':
        out = Value::Null();
        return Literal("null");
      default:
        return ParseNumber(out);
    }
  }

  // Skips space; then consumes `c` when it comes next.
  bool Eat(char c) {
    SkipSpace();
    if (pos_ >= s_.size() || s_[pos_] != c) return false;
    ++pos_;
    return true;
  }

  // The elements of an object or array, from its opening bracket to `close`:
  // `element()` parses each (space before it skipped), ',' separates them.
  template <class Element>
  bool ParseElements(char close, const char* expected_separator, Element element) {
    ++pos_;  // { or [
    if (Eat(close)) return true;
    while (true) {
      SkipSpace();
      if (!element()) return false;
      if (Eat(',')) continue;
      if (Eat(close)) return true;
      return Bad(expected_separator);
    }
  }

  bool ParseObject(Value& out, int depth) {
    std::vector<MapValue::Entry> entries;
    const bool ok = ParseElements('}', "expected ',' or '}'", [&] {
      if (entries.empty()) entries.reserve(8);  // typical row images: avoid regrowing from 1
      if (pos_ >= s_.size() || s_[pos_] != '"') return Bad("expected an object key");
      Value key;
      if (!ParseString(key)) return false;
      if (!Eat(':')) return Bad("expected ':'");
      SkipSpace();
      Value value;
      if (!ParseValue(value, depth + 1)) return false;
      entries.emplace_back(std::move(key), std::move(value));
      return true;
    });
    if (!ok) return false;
    out = Value::Map(std::make_shared<const MapValue>(std::move(entries)));
    return true;
  }

  bool ParseArray(Value& out, int depth) {
    ValueList items;
    const bool ok = ParseElements(']', "expected ',' or ']'", [&] {
      Value item;
      if (!ParseValue(item, depth + 1)) return false;
      items.push_back(std::move(item));
      return true;
    });
    if (!ok) return false;
    out = Value::List(std::move(items));
    return true;
  }

  bool Hex4(uint32_t& cp) {
    if (pos_ + 4 > s_.size()) return Bad("truncated \\u escape");
    cp = 0;
    for (int i = 0; i < 4; ++i) {
      int h = json::HexValue(s_[pos_ + i]);
      if (h < 0) return Bad("invalid \\u escape");
      cp = cp * 16 + h;
    }
    pos_ += 4;
    return true;
  }

  // Validates one UTF-8 sequence at pos_ and advances; false when invalid.
  bool SkipUtf8() {
    const size_t n = json::Utf8Length(s_, pos_);
    if (n < 2) return Bad("invalid UTF-8 in string");  // only called for bytes >= 0x80
    pos_ += n;
    return true;
  }

  bool ParseString(Value& out) {
    size_t start = ++pos_;  // after the opening quote
    // Fast path: no escapes -> a view into the text.
    while (pos_ < s_.size()) {
      unsigned char c = s_[pos_];
      if (c == '"') {
        out = Value::StringView(s_.substr(start, pos_ - start));
        ++pos_;
        return true;
      }
      if (c == '\\') break;
      if (c < 0x20) return Bad("control character in string");
      if (c < 0x80) {
        ++pos_;
      } else if (!SkipUtf8()) {
        return false;
      }
    }
    std::string decoded(s_.substr(start, pos_ - start));
    while (pos_ < s_.size()) {
      unsigned char c = s_[pos_];
      if (c == '"') {
        ++pos_;
        out = Value::String(std::move(decoded));
        return true;
      }
      if (c < 0x20) return Bad("control character in string");
      if (c >= 0x80) {
        size_t at = pos_;
        if (!SkipUtf8()) return false;
        decoded.append(s_.substr(at, pos_ - at));
        continue;
      }
      if (c != '\\') {
        decoded.push_back(static_cast<char>(c));
        ++pos_;
        continue;
      }
      if (++pos_ >= s_.size()) break;
      char e = s_[pos_++];
      if (const char control = UnescapeLetter(e, kJsonEscapes)) {
        decoded.push_back(control);
        continue;
      }
      if (e == '"' || e == '\\' || e == '/') {  // stands for itself
        decoded.push_back(e);
        continue;
      }
      if (e != 'u') return Bad("invalid escape in string");
      uint32_t cp;
      if (!Hex4(cp)) return false;
      if (cp >= 0xD800 && cp <= 0xDBFF) {
        uint32_t low;
        if (pos_ + 2 > s_.size() || s_[pos_] != '\\' || s_[pos_ + 1] != 'u') {
          return Bad("unpaired surrogate in \\u escape");
        }
        pos_ += 2;
        if (!Hex4(low)) return false;
        if (low < 0xDC00 || low > 0xDFFF) return Bad("unpaired surrogate in \\u escape");
        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
      } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
        return Bad("unpaired surrogate in \\u escape");
      }
      json::AppendUtf8(decoded, cp);
    }
    return Bad("unterminated string");
  }

  bool ParseNumber(Value& out) {
    size_t start = pos_;
    auto digit = [&](size_t p) { return p < s_.size() && s_[p] >= '0' && s_[p] <= '9'; };
    if (pos_ < s_.size() && s_[pos_] == '-') ++pos_;
    if (!digit(pos_)) return Bad("invalid number");
    if (s_[pos_] == '0') {
      ++pos_;
    } else {
      while (digit(pos_)) ++pos_;
    }
    bool integral = true;
    if (pos_ < s_.size() && s_[pos_] == '.') {
      integral = false;
      ++pos_;
      if (!digit(pos_)) return Bad("invalid number");
      while (digit(pos_)) ++pos_;
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      integral = false;
      ++pos_;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      if (!digit(pos_)) return Bad("invalid number");
      while (digit(pos_)) ++pos_;
    }
    const char* first = s_.data() + start;
    const char* last = s_.data() + pos_;
    if (integral) {
      int64_t i;
      auto r = std::from_chars(first, last, i);
      if (r.ec == std::errc() && r.ptr == last) {
        out = Value::Int(i);
        return true;
      }
      if (*first != '-') {
        uint64_t u;
        auto ru = std::from_chars(first, last, u);
        if (ru.ec == std::errc() && ru.ptr == last) {
          out = Value::Uint(u);
          return true;
        }
      }
    }
    double d;
    auto r = std::from_chars(first, last, d);
    if (r.ec == std::errc::result_out_of_range) {
      // Overflow to infinity like other JSON parsers; underflow to zero.
      std::string copy(first, last);
      d = std::strtod(copy.c_str(), nullptr);
    } else if (r.ec != std::errc() || r.ptr != last) {
      return Bad("invalid number");
    }
    out = Value::Double(d);
    return true;
  }

  std::string_view s_;
  size_t pos_ = 0;
  std::string error_;
};

}  // namespace

Result<Value> ValueFromJson(std::string_view json_text) {
  JsonParser parser(json_text);
  return parser.ParseDocument();
}

}  // namespace pgcdc::cel
