#include "core/json.h"

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <string>

#include "core/metrics.h"

namespace pgcdc::json {
namespace {

constexpr char kHexLower[] = "0123456789abcdef";
constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD

// Byte classes for string scanning: 0 = copy as is; anything else needs a
// closer look (control character, '"', '\\', or a non-ASCII lead byte).
constexpr std::array<uint8_t, 256> kSpecialByte = [] {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 0x20; ++c) t[c] = 1;
  t['"'] = 1;
  t['\\'] = 1;
  for (int c = 0x80; c < 0x100; ++c) t[c] = 1;
  return t;
}();

// Escape for an ASCII byte that needs one: a short escape letter, or 'u' for
// the \u00XX form.
constexpr std::array<char, 128> kEscapeLetter = [] {
  std::array<char, 128> t{};
  for (int c = 0; c < 0x20; ++c) t[c] = 'u';
  t['\b'] = 'b';
  t['\f'] = 'f';
  t['\n'] = 'n';
  t['\r'] = 'r';
  t['\t'] = 't';
  t['"'] = '"';
  t['\\'] = '\\';
  return t;
}();

constexpr uint64_t kOnes = 0x0101010101010101ULL;
constexpr uint64_t kHighBits = 0x8080808080808080ULL;

// High bit set in every byte lane that holds a byte < 0x20, '"', '\\' or
// >= 0x80. Borrow propagation may flag lanes above a true hit, but never below
// one, so the lowest flagged lane is exact (little-endian load).
inline uint64_t SpecialLanes(uint64_t v) {
  const uint64_t control = (v - kOnes * 0x20) & ~v;
  const uint64_t q = v ^ (kOnes * '"');
  const uint64_t quote = (q - kOnes) & ~q;
  const uint64_t b = v ^ (kOnes * '\\');
  const uint64_t backslash = (b - kOnes) & ~b;
  return (control | quote | backslash | v) & kHighBits;
}

// Returns the first byte in [p, end) that is not plain printable ASCII.
inline const char* ScanPlain(const char* p, const char* end) {
  if constexpr (std::endian::native == std::endian::little) {
    while (end - p >= 8) {
      uint64_t v;
      std::memcpy(&v, p, 8);
      const uint64_t lanes = SpecialLanes(v);
      if (lanes != 0) return p + (std::countr_zero(lanes) >> 3);
      p += 8;
    }
  }
  while (p < end && kSpecialByte[static_cast<uint8_t>(*p)] == 0) ++p;
  return p;
}

// `p` points at a byte >= 0x80. Returns the length of the well-formed UTF-8
// sequence starting there, or the negated length of its maximal ill-formed
// subpart (Unicode §3.9: each such subpart becomes one U+FFFD). Rejects
// overlong forms, UTF-16 surrogates (ED A0..BF) and code points > U+10FFFF.
inline int Utf8Sequence(const char* p, const char* end) {
  const auto* s = reinterpret_cast<const unsigned char*>(p);
  const unsigned lead = s[0];
  int trail;
  unsigned lo = 0x80;
  unsigned hi = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    trail = 1;
  } else if (lead == 0xE0) {
    trail = 2;
    lo = 0xA0;
  } else if (lead == 0xED) {
    trail = 2;
    hi = 0x9F;
  } else if (lead >= 0xE1 && lead <= 0xEF) {
    trail = 2;
  } else if (lead == 0xF0) {
    trail = 3;
    lo = 0x90;
  } else if (lead >= 0xF1 && lead <= 0xF3) {
    trail = 3;
  } else if (lead == 0xF4) {
    trail = 3;
    hi = 0x8F;
  } else {
    return -1;  // continuation byte, C0/C1 or F5..FF
  }
  const ptrdiff_t avail = end - p - 1;
  for (int i = 1; i <= trail; ++i) {
    if (i > avail) return -i;  // truncated
    const unsigned c = s[i];
    if (c < lo || c > hi) return -i;
    lo = 0x80;
    hi = 0xBF;
  }
  return trail + 1;
}

}  // namespace

bool IsValidUtf8(std::string_view s) {
  const char* p = s.data();
  const char* end = p + s.size();
  while (p < end) {
    if (static_cast<unsigned char>(*p) < 0x80) {
      ++p;
      continue;
    }
    const int n = Utf8Sequence(p, end);
    if (n < 0) return false;
    p += n;
  }
  return true;
}

void AppendHex(std::string& out, std::string_view bytes) {
  const size_t at = out.size();
  out.resize(at + bytes.size() * 2);
  char* p = out.data() + at;
  for (const unsigned char c : bytes) {
    *p++ = kHexLower[c >> 4];
    *p++ = kHexLower[c & 0xF];
  }
}

void AppendBase64(std::string& out, std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const auto* b = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  out.reserve(out.size() + (n + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    const uint32_t v = (uint32_t{b[i]} << 16) | (uint32_t{b[i + 1]} << 8) | b[i + 2];
    out.push_back(kAlphabet[v >> 18]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  if (i < n) {
    uint32_t v = uint32_t{b[i]} << 16;
    if (i + 1 < n) v |= uint32_t{b[i + 1]} << 8;
    out.push_back(kAlphabet[v >> 18]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(i + 1 < n ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
}

namespace {

void AppendAsciiEscape(std::string& out, unsigned char c) {
  const char letter = kEscapeLetter[c];
  if (letter == 'u') {
    const char buf[6] = {'\\', 'u', '0', '0', kHexLower[c >> 4], kHexLower[c & 0xF]};
    out.append(buf, sizeof(buf));
  } else {
    const char buf[2] = {'\\', letter};
    out.append(buf, sizeof(buf));
  }
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Appends to a std::string through a raw pointer. The string is pre-sized
// for the expected output (compact JSON is never longer than its input except
// where U+FFFD repairs grow it), so the per-byte path is a compare and a store.
class OutBuffer {
 public:
  OutBuffer(std::string& s, size_t expected) : s_(s), pos_(s.size()) {
    s_.resize(pos_ + expected);
    data_ = s_.data();
    size_ = s_.size();
  }

  [[gnu::always_inline]] void Put(char c) {
    if (pos_ == size_) [[unlikely]]
      Grow(1);
    data_[pos_++] = c;
  }
  [[gnu::always_inline]] void Append(const char* p, size_t n) {
    if (size_ - pos_ < n) [[unlikely]]
      Grow(n);
    std::memcpy(data_ + pos_, p, n);
    pos_ += n;
  }
  void Append(std::string_view v) { Append(v.data(), v.size()); }

  // Shrinks the string to what was written.
  void Finish() { s_.resize(pos_); }

 private:
  [[gnu::noinline]] void Grow(size_t n) {
    s_.resize(std::max(s_.size() * 2, pos_ + n + 64));
    data_ = s_.data();
    size_ = s_.size();
  }

  std::string& s_;
  size_t pos_;
  char* data_;
  size_t size_;
};

// Validating compactor. Uses an explicit container stack, so hostile input
// cannot exhaust the call stack whatever max_depth is.
class Compactor {
 public:
  Compactor(std::string_view in, OutBuffer& out, const CompactOptions& opts)
      : begin_(in.data()), p_(in.data()), end_(in.data() + in.size()), out_(out), opts_(opts) {}

  bool Run(CompactInfo& info);

  size_t ErrorOffset() const { return error_offset_; }
  const std::string& ErrorMessage() const { return error_message_; }

 private:
  enum class State { kValue, kKey, kAfterValue };

  bool Fail(const char* at, std::string message) {
    error_offset_ = static_cast<size_t>(at - begin_);
    error_message_ = std::move(message);
    return false;
  }
  bool FailAtCurrent(std::string_view what) {
    if (p_ == end_) return Fail(p_, "unexpected end of input");
    return Fail(p_, std::string(what));
  }

  void SkipWhitespace() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }

  bool String(std::string* decoded);
  // p_ is at a backslash inside the string opened at `quote`. Copies the escape
  // as written, appends its value to `decoded` when set and moves p_ past it.
  bool Escape(const char* quote, std::string* decoded);
  // Escape() for "\uXXXX"; when decoding, also takes a low-surrogate escape
  // that pairs with it.
  // This and ReplaceIllFormed() are rare and kept out of line, which keeps
  // String()'s plain-byte loop lean (~3% fewer instructions, callgrind).
  [[gnu::noinline]] bool UnicodeEscape(std::string* decoded);
  // p_ is at an ill-formed UTF-8 subpart of `length` bytes: writes one U+FFFD
  // in its place (to `decoded` too when set) and moves p_ past it.
  [[gnu::noinline]] void ReplaceIllFormed(size_t length, std::string* decoded);
  bool Number();
  bool Literal(std::string_view word);

  // Run()'s steps; false on an error (recorded by Fail()). `stack` holds one
  // byte per open container ('{' or '['); `state` is set to what comes next.
  // At '{' or '[': opens the container (or copies it whole when empty).
  bool OpenContainer(std::string& stack, size_t max_depth, CompactInfo& info, State& state);
  // At any other value: copies a string, number or literal and reports its
  // kind; a string is also decoded into info when `capture` is set.
  bool Scalar(bool capture, CompactInfo& info, Kind& kind);
  // After a value inside a container: copies the ',' or the closing bracket.
  bool AfterMember(std::string& stack, State& state);

  const char* begin_;
  const char* p_;
  const char* end_;
  OutBuffer& out_;
  const CompactOptions& opts_;
  size_t error_offset_ = 0;
  std::string error_message_;
};

// The value of a one-letter escape ("\n" -> '\n'), or 0 for any other letter
// ('u' included).
inline char SimpleEscapeValue(char letter) {
  switch (letter) {
    case '"':
      return '"';
    case '\\':
      return '\\';
    case '/':
      return '/';
    case 'b':
      return '\b';
    case 'f':
      return '\f';
    case 'n':
      return '\n';
    case 'r':
      return '\r';
    case 't':
      return '\t';
    default:
      return 0;
  }
}

inline bool IsHighSurrogate(uint32_t cp) { return cp >= 0xD800 && cp <= 0xDBFF; }
inline bool IsLowSurrogate(uint32_t cp) { return cp >= 0xDC00 && cp <= 0xDFFF; }

// The code point of the four hex digits at `p`, or -1 when one is not a hex
// digit. The caller checks that four bytes are there.
inline int32_t Hex4(const char* p) {
  int32_t cp = 0;
  for (int i = 0; i < 4; ++i) {
    const int h = HexValue(p[i]);
    if (h < 0) return -1;
    cp = cp << 4 | h;
  }
  return cp;
}

// p_ is at the opening quote. Copies the string to out_ with escapes kept as
// written and ill-formed UTF-8 replaced; when `decoded` is set, also appends
// the unescaped value (unpaired surrogate escapes decode to U+FFFD).
// The plain-byte scan stays in this one loop (the hot path); escapes and
// UTF-8 repairs go to helpers.
bool Compactor::String(std::string* decoded) {
  const char* const quote = p_;
  ++p_;
  const char* segment = p_;
  auto flush = [&] {
    out_.Append(segment, static_cast<size_t>(p_ - segment));
    if (decoded != nullptr) decoded->append(segment, static_cast<size_t>(p_ - segment));
  };
  out_.Put('"');
  for (;;) {
    p_ = ScanPlain(p_, end_);
    if (p_ == end_) return Fail(quote, "unterminated string");
    const auto c = static_cast<unsigned char>(*p_);
    if (c == '"') {
      flush();
      out_.Put('"');
      ++p_;
      return true;
    }
    if (c == '\\') {
      flush();
      if (!Escape(quote, decoded)) return false;
      segment = p_;
      continue;
    }
    if (c < 0x20) return Fail(p_, "control character in string");
    const int n = Utf8Sequence(p_, end_);
    if (n > 0) {
      p_ += n;
    } else {
      flush();
      ReplaceIllFormed(static_cast<size_t>(-n), decoded);
      segment = p_;
    }
  }
}

bool Compactor::Escape(const char* quote, std::string* decoded) {
  if (end_ - p_ < 2) return Fail(quote, "unterminated string");
  const char letter = p_[1];
  if (letter == 'u') return UnicodeEscape(decoded);
  const char simple = SimpleEscapeValue(letter);
  if (simple == 0) return Fail(p_, "invalid escape sequence");
  out_.Append(p_, 2);
  if (decoded != nullptr) decoded->push_back(simple);
  p_ += 2;
  return true;
}

bool Compactor::UnicodeEscape(std::string* decoded) {
  if (end_ - p_ < 6) return Fail(p_, "invalid \\u escape");
  const int32_t hex = Hex4(p_ + 2);
  if (hex < 0) return Fail(p_, "invalid \\u escape");
  auto cp = static_cast<uint32_t>(hex);
  out_.Append(p_, 6);
  p_ += 6;
  if (decoded == nullptr) return true;
  // A high surrogate pairs with an immediately following low-surrogate escape;
  // anything unpaired decodes to U+FFFD.
  if (IsHighSurrogate(cp) && end_ - p_ >= 6 && p_[0] == '\\' && p_[1] == 'u') {
    const int32_t low = Hex4(p_ + 2);
    if (low >= 0 && IsLowSurrogate(static_cast<uint32_t>(low))) {
      out_.Append(p_, 6);
      p_ += 6;
      cp = 0x10000 + ((cp - 0xD800) << 10) + (static_cast<uint32_t>(low) - 0xDC00);
    }
  }
  if (cp >= 0xD800 && cp <= 0xDFFF) {
    decoded->append(kReplacementChar);
  } else {
    AppendUtf8(*decoded, cp);
  }
  return true;
}

void Compactor::ReplaceIllFormed(size_t length, std::string* decoded) {
  out_.Append(kReplacementChar);
  if (decoded != nullptr) decoded->append(kReplacementChar);
  p_ += length;
}

bool Compactor::Number() {
  const char* const start = p_;
  if (*p_ == '-') ++p_;
  if (p_ == end_ || !IsDigit(*p_)) return FailAtCurrent("invalid number: expected digit");
  if (*p_ == '0') {
    ++p_;
    if (p_ < end_ && IsDigit(*p_)) return Fail(start, "invalid number: leading zero");
  } else {
    while (p_ < end_ && IsDigit(*p_)) ++p_;
  }
  if (p_ < end_ && *p_ == '.') {
    ++p_;
    if (p_ == end_ || !IsDigit(*p_)) return FailAtCurrent("invalid number: expected digit");
    while (p_ < end_ && IsDigit(*p_)) ++p_;
  }
  if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
    ++p_;
    if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
    if (p_ == end_ || !IsDigit(*p_)) return FailAtCurrent("invalid number: expected digit");
    while (p_ < end_ && IsDigit(*p_)) ++p_;
  }
  out_.Append(start, static_cast<size_t>(p_ - start));
  return true;
}

bool Compactor::Literal(std::string_view word) {
  if (static_cast<size_t>(end_ - p_) < word.size() ||
      std::memcmp(p_, word.data(), word.size()) != 0) {
    return Fail(p_, "invalid literal");
  }
  out_.Append(word);
  p_ += word.size();
  return true;
}

bool Compactor::Run(CompactInfo& info) {
  // The state loop and its parse state stay in this one function (locals the
  // compiler keeps in registers): split into per-state member functions with
  // the state in members, event_json_bench measured 3-5% slower.
  std::string stack;  // one byte per open container: '{' or '['
  const size_t max_depth = opts_.max_depth > 0 ? static_cast<size_t>(opts_.max_depth) : 0;
  const bool want_key = !opts_.find_key.empty();
  bool key_seen = false;       // the first top-level member named find_key was reached
  bool capture_value = false;  // the next value belongs to that member
  std::string key;
  State state = State::kValue;
  for (;;) {
    switch (state) {
      case State::kValue: {
        SkipWhitespace();
        if (p_ == end_) return Fail(p_, "unexpected end of input");
        const bool capture = capture_value;
        capture_value = false;
        if (*p_ == '{' || *p_ == '[') {
          if (!OpenContainer(stack, max_depth, info, state)) return false;
          continue;
        }
        Kind kind;
        if (!Scalar(capture, info, kind)) return false;
        if (stack.empty()) info.kind = kind;
        state = State::kAfterValue;
        continue;
      }
      case State::kKey: {
        // Whitespace before the key has been skipped.
        if (p_ == end_) return Fail(p_, "unexpected end of input");
        if (*p_ != '"') return Fail(p_, "expected string key");
        if (want_key && !key_seen && stack.size() == 1) {
          key.clear();
          if (!String(&key)) return false;
          if (key == opts_.find_key) {
            key_seen = true;
            capture_value = true;
          }
        } else if (!String(nullptr)) {
          return false;
        }
        SkipWhitespace();
        if (p_ == end_ || *p_ != ':') return FailAtCurrent("expected ':'");
        out_.Put(':');
        ++p_;
        state = State::kValue;
        continue;
      }
      case State::kAfterValue: {
        SkipWhitespace();
        if (stack.empty()) {
          if (p_ != end_) return Fail(p_, "unexpected data after top-level value");
          return true;
        }
        if (!AfterMember(stack, state)) return false;
        continue;
      }
    }
  }
}

bool Compactor::OpenContainer(std::string& stack, size_t max_depth, CompactInfo& info,
                              State& state) {
  const char c = *p_;
  if (stack.size() >= max_depth) {
    return Fail(p_, "nesting depth exceeds maximum of " + std::to_string(max_depth));
  }
  if (stack.empty()) info.kind = c == '{' ? Kind::kObject : Kind::kArray;
  stack.push_back(c);
  out_.Put(c);
  ++p_;
  SkipWhitespace();
  const char close = c == '{' ? '}' : ']';
  if (p_ < end_ && *p_ == close) {
    out_.Put(close);
    ++p_;
    stack.pop_back();
    state = State::kAfterValue;
  } else {
    state = c == '{' ? State::kKey : State::kValue;
  }
  return true;
}

bool Compactor::Scalar(bool capture, CompactInfo& info, Kind& kind) {
  const char c = *p_;
  if (c == '"') {
    kind = Kind::kString;
    if (capture) {
      info.found_string.emplace();
      return String(&*info.found_string);
    }
    return String(nullptr);
  }
  if (c == '-' || IsDigit(c)) {
    kind = Kind::kNumber;
    return Number();
  }
  if (c == 't') {
    kind = Kind::kBool;
    return Literal("true");
  }
  if (c == 'f') {
    kind = Kind::kBool;
    return Literal("false");
  }
  if (c == 'n') {
    kind = Kind::kNull;
    return Literal("null");
  }
  return Fail(p_, "expected value");
}

bool Compactor::AfterMember(std::string& stack, State& state) {
  if (p_ == end_) return Fail(p_, "unexpected end of input");
  const char top = stack.back();
  const char close = top == '{' ? '}' : ']';
  if (*p_ == ',') {
    out_.Put(',');
    ++p_;
    if (top == '{') {
      SkipWhitespace();
      state = State::kKey;
    } else {
      state = State::kValue;
    }
    return true;
  }
  if (*p_ == close) {
    out_.Put(close);
    ++p_;
    stack.pop_back();  // state stays kAfterValue
    return true;
  }
  return Fail(p_, top == '{' ? "expected ',' or '}'" : "expected ',' or ']'");
}

}  // namespace

namespace {
// Strings whose invalid UTF-8 was replaced (SQL_ASCII databases, binary
// NOTIFY payloads, ...): the JSON stays valid, the change is counted.
metrics::Counter& InvalidUtf8() {
  static metrics::Counter& c = metrics::DefaultCounter(
      "pgcdc_invalid_utf8_values_total",
      "Strings written to JSON whose invalid UTF-8 bytes were replaced by U+FFFD.");
  return c;
}
}  // namespace

void AppendString(std::string& out, std::string_view s) {
  bool replaced = false;
  const char* p = s.data();
  const char* const end = p + s.size();
  const char* run = p;  // start of bytes not yet copied
  out.push_back('"');
  for (;;) {
    p = ScanPlain(p, end);
    if (p == end) break;
    const auto c = static_cast<unsigned char>(*p);
    if (c < 0x80) {
      out.append(run, static_cast<size_t>(p - run));
      AppendAsciiEscape(out, c);
      run = ++p;
      continue;
    }
    const int n = Utf8Sequence(p, end);
    if (n > 0) {
      p += n;  // well-formed: stays part of the current run
    } else {
      out.append(run, static_cast<size_t>(p - run));
      out.append(kReplacementChar);
      replaced = true;
      p += -n;
      run = p;
    }
  }
  out.append(run, static_cast<size_t>(p - run));
  out.push_back('"');
  if (replaced) InvalidUtf8().Inc();
}

void Writer::Separate() {
  if (need_comma_) out_.push_back(',');
}

void Writer::Open(char bracket) {
  Separate();
  out_.push_back(bracket);
  need_comma_ = false;
}

void Writer::Close(char bracket) {
  out_.push_back(bracket);
  need_comma_ = true;
}

void Writer::BeginObject() { Open('{'); }
void Writer::EndObject() { Close('}'); }
void Writer::BeginArray() { Open('['); }
void Writer::EndArray() { Close(']'); }

void Writer::Key(std::string_view key) {
  Separate();
  AppendString(out_, key);
  out_.push_back(':');
  need_comma_ = false;
}

void Writer::String(std::string_view value) {
  Separate();
  AppendString(out_, value);
  need_comma_ = true;
}

namespace {

template <class Integer>
void AppendInteger(std::string& out, Integer value) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof(buf), value);
  out.append(buf, r.ptr);
}

}  // namespace

void Writer::Int(int64_t value) {
  Separate();
  AppendInteger(out_, value);
  need_comma_ = true;
}

void Writer::Uint(uint64_t value) {
  Separate();
  AppendInteger(out_, value);
  need_comma_ = true;
}

void Writer::Double(double value) {
  Separate();
  need_comma_ = true;
  if (!std::isfinite(value)) {
    out_.append("null");
    return;
  }
  // Shortest round-trip digits. Like Go's encoding/json and JavaScript: plain
  // notation for 1e-6 <= |x| < 1e21, exponent notation outside that range
  // with a two-digit negative exponent shortened ("1e-07" -> "1e-7").
  char buf[64];
  const double a = std::fabs(value);
  const bool scientific = a != 0 && (a < 1e-6 || a >= 1e21);
  const auto r =
      std::to_chars(buf, buf + sizeof(buf), value,
                    scientific ? std::chars_format::scientific : std::chars_format::fixed);
  char* end = r.ptr;
  const ptrdiff_t n = end - buf;
  if (scientific && n >= 4 && end[-4] == 'e' && end[-3] == '-' && end[-2] == '0') {
    end[-2] = end[-1];
    --end;
  }
  out_.append(buf, end);
}

void Writer::Bool(bool value) {
  Separate();
  out_.append(value ? "true" : "false");
  need_comma_ = true;
}

void Writer::Null() {
  Separate();
  out_.append("null");
  need_comma_ = true;
}

void Writer::Raw(std::string_view json) {
  Separate();
  out_.append(json);
  need_comma_ = true;
}

Result<CompactInfo> Compact(std::string_view in, std::string& out, const CompactOptions& opts) {
  const size_t original_size = out.size();
  CompactInfo info;
  OutBuffer buffer(out, in.size());
  Compactor compactor(in, buffer, opts);
  if (!compactor.Run(info)) {
    out.resize(original_size);
    return Fail(ErrorCode::kParse, "invalid JSON at offset " +
                                       std::to_string(compactor.ErrorOffset()) + ": " +
                                       compactor.ErrorMessage());
  }
  buffer.Finish();
  return info;
}

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

size_t Utf8Length(std::string_view s, size_t i) {
  if (static_cast<unsigned char>(s[i]) < 0x80) return 1;
  const int n = Utf8Sequence(s.data() + i, s.data() + s.size());
  return n < 0 ? 0 : static_cast<size_t>(n);
}

}  // namespace pgcdc::json
