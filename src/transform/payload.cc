#include "transform/payload.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>

#include "core/escape.h"
#include "core/json.h"

namespace pgcdc::transform {

namespace {

constexpr int kMaxDepth = 512;

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

size_t SkipSpace(std::string_view s, size_t pos) {
  while (pos < s.size() && IsSpace(s[pos])) ++pos;
  return pos;
}

std::unexpected<Error> ParseError(std::string_view what, size_t pos) {
  return Fail(ErrorCode::kParse,
              "payload: " + std::string(what) + " at byte " + std::to_string(pos));
}

constexpr uint64_t kOnes = 0x0101010101010101ULL;
constexpr uint64_t kHighBits = 0x8080808080808080ULL;

// The first byte in [p, end) that is '"' or '\\' or, with kAlsoNotPlain, a
// control byte (< 0x20) or a byte >= 0x80; `end` when there is none. Sixteen
// bytes at a time where SSE2 is available (every x86-64), else eight: the
// lowest flagged lane of the zero-byte tests is exact (little-endian load).
template <bool kAlsoNotPlain>
const char* FindSpecial(const char* p, const char* end) {
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  while (end - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    __m128i hits = _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash));
    // A signed compare with 0x20 flags control bytes and bytes >= 0x80 at once.
    if constexpr (kAlsoNotPlain) hits = _mm_or_si128(hits, _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)));
    const int m = _mm_movemask_epi8(hits);
    if (m != 0) return p + std::countr_zero(static_cast<unsigned>(m));
    p += 16;
  }
#endif
  if constexpr (std::endian::native == std::endian::little) {
    while (end - p >= 8) {
      uint64_t v;
      std::memcpy(&v, p, 8);
      const uint64_t q = v ^ (kOnes * '"');
      const uint64_t b = v ^ (kOnes * '\\');
      uint64_t lanes = ((q - kOnes) & ~q) | ((b - kOnes) & ~b);
      if constexpr (kAlsoNotPlain) lanes |= ((v - kOnes * 0x20) & ~v) | v;
      lanes &= kHighBits;
      if (lanes != 0) return p + (std::countr_zero(lanes) >> 3);
      p += 8;
    }
  }
  for (; p < end; ++p) {
    const auto c = static_cast<unsigned char>(*p);
    if (c == '"' || c == '\\' || (kAlsoNotPlain && (c < 0x20 || c >= 0x80))) return p;
  }
  return p;
}

// The first '"' or '\\' in [p, end), or `end`.
inline const char* FindQuoteOrBackslash(const char* p, const char* end) {
  return FindSpecial<false>(p, end);
}

constexpr size_t kFailed = static_cast<size_t>(-1);

// Where and why a scan failed (turned into an Error only at the API edge).
struct ScanError {
  const char* what = "";
  size_t pos = 0;
};

size_t Failed(ScanError& err, const char* what, size_t pos) {
  err = {what, pos};
  return kFailed;
}

// End of the string starting at `pos` (which must hold '"'), or kFailed; sets
// `has_escape` when a backslash occurs. Payloads are valid JSON by invariant,
// so this only finds the closing quote and steps over escapes.
[[gnu::always_inline]] inline size_t ScanString(std::string_view s, size_t pos, bool* has_escape,
                                                ScanError& err) {
  const char* p = s.data() + pos + 1;
  const char* const end = s.data() + s.size();
  while (true) {
    p = FindQuoteOrBackslash(p, end);
    if (p == end) break;
    if (*p == '"') return static_cast<size_t>(p + 1 - s.data());
    if (has_escape != nullptr) *has_escape = true;
    if (end - p < 2) break;
    p += 2;
  }
  return Failed(err, "unterminated string", pos);
}

// Bytes the bracket matcher has to look at.
constexpr std::array<bool, 256> kStructural = [] {
  std::array<bool, 256> t{};
  for (unsigned char c : {'"', '{', '}', '[', ']'}) t[c] = true;
  return t;
}();

// Fast path for keys: the end of the string starting at `pos` when its body
// is plain printable ASCII (no escapes, control bytes or bytes >= 0x80, so
// json::AppendString renders it as written), else kFailed.
[[gnu::always_inline]] inline size_t ScanPlainKey(std::string_view s, size_t pos) {
  const char* const end = s.data() + s.size();
  const char* hit = FindSpecial<true>(s.data() + pos + 1, end);
  return hit != end && *hit == '"' ? static_cast<size_t>(hit + 1 - s.data()) : kFailed;
}

// True when json::AppendString renders the (unescaped) key as the key itself
// in quotes: no control characters and valid UTF-8.
bool CanonicalKey(std::string_view key) {
  bool ascii = true;
  for (char c : key) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20) return false;
    if (u >= 0x80) ascii = false;
  }
  return ascii || json::IsValidUtf8(key);
}

using json::HexValue;

bool ReadHex4(std::string_view s, size_t pos, uint32_t* out) {
  if (pos + 4 > s.size()) return false;
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) {
    const int h = HexValue(s[pos + i]);
    if (h < 0) return false;
    v = v * 16 + static_cast<uint32_t>(h);
  }
  *out = v;
  return true;
}

using json::AppendUtf8;

// Decodes the body of a JSON string literal (without the quotes). Invalid
// escapes become U+FFFD rather than failing: the text was validated upstream.
std::string Unescape(std::string_view body) {
  std::string out;
  out.reserve(body.size());
  for (size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (c != '\\' || i + 1 >= body.size()) {
      // Copy the run up to the next backslash in one go.
      const size_t next = body.find('\\', i + 1);
      const size_t stop =
          next == std::string_view::npos || next + 1 >= body.size() ? body.size() : next;
      out.append(body.substr(i, stop - i));
      i = stop - 1;
      continue;
    }
    const char e = body[++i];
    if (const char control = UnescapeLetter(e, kJsonEscapes)) {
      out.push_back(control);
      continue;
    }
    switch (e) {
      case 'u': {
        uint32_t cp = 0;
        if (!ReadHex4(body, i + 1, &cp)) {
          AppendUtf8(out, 0xFFFD);
          break;
        }
        i += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          uint32_t lo = 0;
          if (i + 2 < body.size() && body[i + 1] == '\\' && body[i + 2] == 'u' &&
              ReadHex4(body, i + 3, &lo) && lo >= 0xDC00 && lo <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            i += 6;
          } else {
            cp = 0xFFFD;
          }
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
          cp = 0xFFFD;
        }
        AppendUtf8(out, cp);
        break;
      }
      default:  // '"', '\\', '/'
        out.push_back(e);
        break;
    }
  }
  return out;
}

}  // namespace

namespace {

// End of the JSON value starting at `pos` (leading whitespace skipped), or
// kFailed with `err` set.
size_t ScanValue(std::string_view s, size_t pos, int max_depth, ScanError& err) {
  pos = SkipSpace(s, pos);
  if (pos >= s.size()) return Failed(err, "unexpected end", pos);
  const char c = s[pos];
  if (c == '"') return ScanString(s, pos, nullptr, err);
  if (c == '{' || c == '[') {
    // Iterative bracket matching; strings are skipped as units.
    char stack[kMaxDepth];  // max_depth <= kMaxDepth
    int depth = 0;
    size_t i = pos;
    const size_t n = s.size();
    while (true) {
      while (i < n && !kStructural[static_cast<unsigned char>(s[i])]) ++i;
      if (i >= n) break;
      const char d = s[i];
      if (d == '"') {
        i = ScanString(s, i, nullptr, err);
        if (i == kFailed) return kFailed;
        continue;
      }
      if (d == '{' || d == '[') {
        if (depth == max_depth) return Failed(err, "nesting too deep", i);
        stack[depth++] = d == '{' ? '}' : ']';
      } else {
        if (depth == 0 || stack[depth - 1] != d) return Failed(err, "mismatched bracket", i);
        if (--depth == 0) return i + 1;
      }
      ++i;
    }
    return Failed(err, "unterminated value", pos);
  }
  // Number or literal: the run of characters up to a delimiter.
  size_t i = pos;
  while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ':' &&
         !IsSpace(s[i])) {
    ++i;
  }
  const std::string_view tok = s.substr(pos, i - pos);
  if (tok == "true" || tok == "false" || tok == "null") return i;
  if (tok.empty() || !(tok[0] == '-' || (tok[0] >= '0' && tok[0] <= '9'))) {
    return Failed(err, "unexpected character", pos);
  }
  for (char t : tok) {
    if (!((t >= '0' && t <= '9') || t == '-' || t == '+' || t == '.' || t == 'e' || t == 'E')) {
      return Failed(err, "invalid number", pos);
    }
  }
  return i;
}

}  // namespace

Result<size_t> SkipJsonValue(std::string_view s, size_t pos) {
  ScanError err;
  const size_t end = ScanValue(s, pos, kMaxDepth, err);
  if (end == kFailed) return ParseError(err.what, err.pos);
  return end;
}

std::vector<std::string> JsonStringList(std::string_view raw) {
  std::vector<std::string> out;
  if (raw.empty() || raw[0] != '[') return out;
  size_t pos = 1;
  while (pos < raw.size()) {
    while (pos < raw.size() && (raw[pos] == ' ' || raw[pos] == ',')) ++pos;
    if (pos >= raw.size() || raw[pos] == ']') break;
    auto end = SkipJsonValue(raw, pos);
    if (!end) break;
    out.push_back(StringifyJson(raw.substr(pos, *end - pos)));
    pos = *end;
  }
  return out;
}

bool IsRowOperation(std::string_view op) {
  return op == "INSERT" || op == "UPDATE" || op == "DELETE" || op == "SNAPSHOT";
}

std::string StringifyJson(std::string_view raw) {
  if (raw.size() >= 2 && raw.front() == '"' && raw.back() == '"') {
    return Unescape(raw.substr(1, raw.size() - 2));
  }
  return std::string(raw);
}

// ---- JsonObject -------------------------------------------------------------

namespace {

// Per-thread spare storage for JsonObject (see operator new). Bounded, so a
// burst of large documents does not pin memory.
constexpr size_t kMaxSpares = 32;
constexpr size_t kMaxSpareMembers = 64;

struct Spares {
  std::vector<std::vector<JsonObject::Member>> member_arrays;
  std::vector<void*> blocks;
  ~Spares();
};
thread_local bool spares_gone = false;  // trivially destructible: readable at thread exit
thread_local Spares spares;

Spares::~Spares() {
  spares_gone = true;
  for (void* b : blocks) ::operator delete(b);
}

std::vector<JsonObject::Member> TakeMemberArray() {
  if (spares_gone || spares.member_arrays.empty()) {
    std::vector<JsonObject::Member> fresh;
    fresh.reserve(8);
    return fresh;
  }
  std::vector<JsonObject::Member> v = std::move(spares.member_arrays.back());
  spares.member_arrays.pop_back();
  return v;
}

}  // namespace

void* JsonObject::operator new(size_t size) {
  if (size == sizeof(JsonObject) && !spares_gone && !spares.blocks.empty()) {
    void* p = spares.blocks.back();
    spares.blocks.pop_back();
    return p;
  }
  return ::operator new(size);
}

void JsonObject::operator delete(void* p) {
  if (p == nullptr) return;
  if (!spares_gone && spares.blocks.size() < kMaxSpares) {
    spares.blocks.push_back(p);
    return;
  }
  ::operator delete(p);
}

JsonObject::~JsonObject() {
  if (spares_gone || spares.member_arrays.size() >= kMaxSpares || members_.capacity() == 0 ||
      members_.capacity() > kMaxSpareMembers) {
    return;
  }
  members_.clear();  // destroys nested objects first
  spares.member_arrays.push_back(std::move(members_));
}

Result<std::unique_ptr<JsonObject>> JsonObject::Parse(std::string_view s, Arena& arena,
                                                      bool prefetch_children) {
  size_t i = SkipSpace(s, 0);
  if (i >= s.size() || s[i] != '{') return ParseError("not an object", i);
  auto obj = ParseAt(s, i, arena, prefetch_children, kMaxDepth);
  if (!obj) return Fail(obj.error());
  if (SkipSpace(s, i) != s.size()) return ParseError("trailing data", i);
  return obj;
}

// Parses the object whose '{' is at `pos`; on success `pos` is just past its
// '}'. Values are skipped, except object values when `prefetch_children`
// (parsed into Member::prefetched; on any problem the value is skipped
// instead, so errors surface exactly as with lazy parsing).
Result<std::unique_ptr<JsonObject>> JsonObject::ParseAt(std::string_view s, size_t& pos,
                                                        Arena& arena, bool prefetch_children,
                                                        int value_depth) {
  auto obj = std::make_unique<JsonObject>();
  obj->members_ = TakeMemberArray();
  bool canonical = true;
  auto skip_space = [&](size_t at) {
    const size_t next = SkipSpace(s, at);
    if (next != at) canonical = false;
    return next;
  };
  size_t i = skip_space(pos + 1);
  if (i < s.size() && s[i] == '}') {
    obj->text_ = s.substr(pos, i + 1 - pos);
    obj->canonical_ = canonical;
    pos = i + 1;
    return obj;
  }
  while (true) {
    if (i >= s.size() || s[i] != '"') return ParseError("expected a key", i);
    ScanError err;
    size_t key_end = ScanPlainKey(s, i);
    std::string_view key, key_json;
    if (key_end != kFailed) {
      key = s.substr(i + 1, key_end - i - 2);
      key_json = s.substr(i, key_end - i);
    } else {
      bool escaped = false;
      key_end = ScanString(s, i, &escaped, err);
      if (key_end == kFailed) return ParseError(err.what, err.pos);
      key = s.substr(i + 1, key_end - i - 2);
      if (escaped) {
        key = arena.Intern(Unescape(key));
        canonical = false;
      } else if (CanonicalKey(key)) {
        key_json = s.substr(i, key_end - i);
      } else {
        canonical = false;
      }
    }
    i = skip_space(key_end);
    if (i >= s.size() || s[i] != ':') return ParseError("expected ':'", i);
    const size_t value_start = skip_space(i + 1);
    size_t value_end = 0;
    std::unique_ptr<JsonObject> prefetched;
    if (prefetch_children && value_start < s.size() && s[value_start] == '{') {
      size_t child_end = value_start;
      // The child's own level counts against SkipJsonValue's depth limit.
      auto child = ParseAt(s, child_end, arena, false, value_depth - 1);
      if (child) {
        prefetched = std::move(*child);
        value_end = child_end;
      }
    }
    if (!prefetched) {
      // Strings (most values) go straight to the string scanner.
      value_end = value_start < s.size() && s[value_start] == '"'
                      ? ScanString(s, value_start, nullptr, err)
                      : ScanValue(s, value_start, value_depth, err);
      if (value_end == kFailed) return ParseError(err.what, err.pos);
    }
    Member& m = obj->members_.emplace_back();
    m.key = key;
    m.raw = s.substr(value_start, value_end - value_start);
    m.key_json = key_json;
    m.prefetched = std::move(prefetched);
    i = skip_space(value_end);
    if (i < s.size() && s[i] == ',') {
      i = skip_space(i + 1);
      continue;
    }
    if (i < s.size() && s[i] == '}') {
      obj->text_ = s.substr(pos, i + 1 - pos);
      obj->canonical_ = canonical;
      pos = i + 1;
      return obj;
    }
    return ParseError("expected ',' or '}'", i);
  }
}

namespace {

// Key equality with the length and first byte checked inline (most keys
// differ there), the rest by memcmp.
inline bool KeyEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         (a.empty() || (a[0] == b[0] && std::memcmp(a.data(), b.data(), a.size()) == 0));
}

}  // namespace

JsonObject::Member* JsonObject::Find(std::string_view key) {
  for (auto& m : members_) {
    if (KeyEquals(m.key, key)) return &m;
  }
  return nullptr;
}

const JsonObject::Member* JsonObject::Find(std::string_view key) const {
  for (const auto& m : members_) {
    if (KeyEquals(m.key, key)) return &m;
  }
  return nullptr;
}

bool JsonObject::Erase(std::string_view key) {
  auto it = std::find_if(members_.begin(), members_.end(),
                         [&](const Member& m) { return KeyEquals(m.key, key); });
  if (it == members_.end()) return false;
  members_.erase(it);
  edited_ = true;
  return true;
}

void JsonObject::Set(std::string_view key, std::string_view raw) {
  edited_ = true;
  if (Member* m = Find(key)) {
    m->raw = raw;
    m->child.reset();
    m->prefetched.reset();
    return;
  }
  members_.push_back(Member{key, raw, nullptr});
}

bool JsonObject::Rename(std::string_view from, std::string_view to) {
  if (from == to || Find(from) == nullptr) return false;
  Erase(to);
  Member* m = Find(from);
  m->key = to;
  m->key_json = {};
  edited_ = true;
  return true;
}

Result<JsonObject*> JsonObject::Child(std::string_view key, Arena& arena) {
  Member* m = Find(key);
  if (m == nullptr) return nullptr;
  if (m->child) return m->child.get();
  if (m->prefetched) {
    m->child = std::move(m->prefetched);
    return m->child.get();
  }
  if (m->raw.empty() || m->raw.front() != '{') return nullptr;
  auto parsed = Parse(m->raw, arena);
  if (!parsed) return Fail(parsed.error());
  m->child = std::move(*parsed);
  return m->child.get();
}

bool JsonObject::Pristine() const {
  if (edited_ || !canonical_) return false;
  for (const auto& m : members_) {
    if (m.child && !m.child->Pristine()) return false;
  }
  return true;
}

void JsonObject::AppendTo(std::string& out) const {
  if (Pristine()) {
    out.append(text_);
    return;
  }
  out.push_back('{');
  bool first = true;
  // A run of members that sit next to each other in the source, unchanged and
  // canonical, is copied as one slice (their separating commas included).
  const char* run_begin = nullptr;
  const char* run_end = nullptr;
  auto flush = [&] {
    if (run_begin == nullptr) return;
    if (!first) out.push_back(',');
    first = false;
    out.append(run_begin, static_cast<size_t>(run_end - run_begin));
    run_begin = nullptr;
  };
  for (const auto& m : members_) {
    const bool as_written = !m.key_json.empty() && (!m.child || m.child->Pristine()) &&
                            m.raw.data() == m.key_json.data() + m.key_json.size() + 1;
    if (as_written) {
      const char* begin = m.key_json.data();
      const char* end = m.raw.data() + m.raw.size();
      if (run_begin != nullptr && begin == run_end + 1 && *run_end == ',') {
        run_end = end;
      } else {
        flush();
        run_begin = begin;
        run_end = end;
      }
      continue;
    }
    flush();
    if (!first) out.push_back(',');
    first = false;
    if (m.key_json.empty()) {
      json::AppendString(out, m.key);
    } else {
      out.append(m.key_json);
    }
    out.push_back(':');
    if (m.child) {
      m.child->AppendTo(out);
    } else {
      out.append(m.raw);
    }
  }
  flush();
  out.push_back('}');
}

std::string_view JsonObject::ValueText(const Member& m, std::string& scratch) {
  if (!m.child || m.child->Pristine()) return m.raw;
  scratch.clear();
  m.child->AppendTo(scratch);
  return scratch;
}

// ---- PayloadContext ---------------------------------------------------------

namespace {

// One image object of StreamEditImages: `s[pos]` is its '{'. Appends the
// edited object to `out`; returns the end offset or kFailed (fall back).
size_t StreamEditImage(std::string_view s, size_t pos, const StreamEditRule* rules,
                       size_t rule_count, StreamRewrite rewrite, const void* context,
                       std::string& out, bool& changed) {
  ScanError err;
  uint64_t length_mask = 0;  // bit n: some rule key has n bytes (n < 64)
  for (size_t r = 0; r < rule_count; ++r) {
    length_mask |= rules[r].key.size() < 64 ? uint64_t{1} << rules[r].key.size() : 0;
  }
  uint64_t seen = 0;  // rules matched in this image (a second match falls back)
  out.push_back('{');
  bool first = true;  // nothing written into the object yet
  // Kept members that sit next to each other are copied as one slice.
  size_t run_begin = 0, run_end = 0;
  auto flush = [&] {
    if (run_end == 0) return;
    if (!first) out.push_back(',');
    first = false;
    out.append(s.data() + run_begin, run_end - run_begin);
    run_end = 0;
  };
  size_t i = pos + 1;
  if (i < s.size() && s[i] == '}') {
    out.push_back('}');
    return i + 1;
  }
  while (true) {
    if (i >= s.size() || s[i] != '"') return kFailed;
    const size_t member = i;
    const size_t key_end = ScanPlainKey(s, i);
    if (key_end == kFailed || key_end >= s.size() || s[key_end] != ':') return kFailed;
    const std::string_view key = s.substr(i + 1, key_end - i - 2);
    const size_t value_start = key_end + 1;
    if (value_start >= s.size()) return kFailed;
    const size_t value_end = s[value_start] == '"' ? ScanString(s, value_start, nullptr, err)
                                                   : ScanValue(s, value_start, kMaxDepth - 1, err);
    if (value_end == kFailed || value_end >= s.size()) return kFailed;
    size_t rule = rule_count;
    // Most keys match no rule: a key whose length no rule has skips the loop.
    if (key.size() >= 64 || (length_mask >> key.size()) & 1) {
      for (size_t r = 0; r < rule_count; ++r) {
        if (KeyEquals(rules[r].key, key)) {
          rule = r;
          break;
        }
      }
    }
    const std::string_view value = s.substr(value_start, value_end - value_start);
    if (rule < rule_count) {
      if (seen & (uint64_t{1} << rule)) return kFailed;
      seen |= uint64_t{1} << rule;
    }
    if (rule == rule_count || (!rules[rule].drop && value == "null")) {
      if (run_end == 0) {
        run_begin = member;
      } else if (run_end + 1 != member) {
        flush();
        run_begin = member;
      }
      run_end = value_end;
    } else {
      flush();
      changed = true;
      if (!rules[rule].drop) {
        if (!first) out.push_back(',');
        first = false;
        out.append(s.data() + member, value_start - member);
        rewrite(context, rule, value, out);
      }
    }
    i = value_end;
    if (s[i] == ',') {
      ++i;
      continue;
    }
    if (s[i] != '}') return kFailed;
    flush();
    out.push_back('}');
    return i + 1;
  }
}

}  // namespace

StreamEditResult StreamEditImages(std::string_view s, const StreamEditRule* rules,
                                  size_t rule_count, StreamRewrite rewrite, const void* context,
                                  std::string& out) {
  if (rule_count > 64 || s.size() < 2 || s[0] != '{') return StreamEditResult::kFallback;
  ScanError err;
  out.clear();
  out.reserve(s.size());
  out.push_back('{');
  bool changed = false, has_op = false, has_row = false, has_old = false;
  size_t i = 1;
  size_t copied = 1;                                    // s[0..copied) is already in `out`
  if (s[i] == '}') return StreamEditResult::kFallback;  // not structured
  while (true) {
    if (i >= s.size() || s[i] != '"') return StreamEditResult::kFallback;
    const size_t key_end = ScanPlainKey(s, i);
    if (key_end == kFailed || key_end >= s.size() || s[key_end] != ':') {
      return StreamEditResult::kFallback;
    }
    const std::string_view key = s.substr(i + 1, key_end - i - 2);
    const size_t value_start = key_end + 1;
    if (value_start >= s.size()) return StreamEditResult::kFallback;
    size_t value_end;
    if ((key == "row" || key == "old") && s[value_start] == '{') {
      out.append(s.data() + copied, value_start - copied);
      value_end =
          StreamEditImage(s, value_start, rules, rule_count, rewrite, context, out, changed);
      copied = value_end;
    } else {
      if (key == "specversion") return StreamEditResult::kFallback;  // CloudEvents
      value_end = s[value_start] == '"' ? ScanString(s, value_start, nullptr, err)
                                        : ScanValue(s, value_start, kMaxDepth, err);
    }
    if (value_end == kFailed || value_end >= s.size()) return StreamEditResult::kFallback;
    if (key == "row" || key == "old") {
      // The document path edits the first of duplicate image keys only.
      bool& seen = key == "row" ? has_row : has_old;
      if (seen) return StreamEditResult::kFallback;
      seen = true;
    }
    has_op |= key == "op";
    i = value_end;
    if (s[i] == ',') {
      ++i;
      continue;
    }
    if (s[i] != '}' || i + 1 != s.size()) return StreamEditResult::kFallback;
    break;
  }
  if (!has_op || !has_row) return StreamEditResult::kFallback;
  if (!changed) return StreamEditResult::kUnchanged;
  out.append(s.data() + copied, s.size() - copied);
  return StreamEditResult::kChanged;
}

Result<JsonObject*> PayloadContext::Root() { return ParseRoot(false); }

// `images`: the caller is about to look inside the row images, so object
// values one level down are parsed in the same pass (saves scanning them
// twice); envelope-only users (debezium, cel_filter on table/schema) skip it.
Result<JsonObject*> PayloadContext::ParseRoot(bool images) {
  if (!parsed_) {
    parsed_ = true;
    const size_t first = SkipSpace(text_, 0);
    if (first < text_.size() && text_[first] == '{') {
      auto obj = JsonObject::Parse(text_, arena_, images);
      if (!obj) {
        parsed_ = false;
        return Fail(obj.error());
      }
      root_ = std::move(*obj);
    }
  }
  return root_.get();
}

Result<bool> PayloadContext::Structured() {
  auto root = Root();
  if (!root) return Fail(root.error());
  return *root != nullptr && (*root)->Find("op") != nullptr && (*root)->Find("row") != nullptr;
}

// Where the row images are: pgcdc's own shape (`row`/`old`), a Debezium
// envelope (`after`/`before`, so per-adapter field transforms still work after
// a global --debezium-envelope), or a CloudEvents envelope whose `data` holds
// one of those (or is itself the free-form object).
Result<PayloadContext::PayloadShape> PayloadContext::Shape() {
  auto root = ParseRoot(/*images=*/true);
  if (!root) return Fail(root.error());
  PayloadShape shape;
  JsonObject* obj = *root;
  if (obj == nullptr) return shape;
  if (obj->Find("specversion") != nullptr && obj->Find("data") != nullptr) {
    auto data = obj->Child("data", arena_);
    if (!data) return Fail(data.error());
    if (*data == nullptr) return shape;
    obj = *data;
  }
  shape.object = obj;
  if (obj->Find("op") != nullptr && obj->Find("row") != nullptr) {
    shape.images = {"row", "old"};
  } else if (obj->Find("op") != nullptr && obj->Find("source") != nullptr &&
             (obj->Find("after") != nullptr || obj->Find("before") != nullptr)) {
    shape.images = {"after", "before"};
  }
  return shape;
}

Result<PayloadContext::Targets> PayloadContext::FieldTargets() {
  Targets out;
  auto shape = Shape();
  if (!shape) return Fail(shape.error());
  if (shape->object == nullptr) return out;
  if (shape->images[0] == nullptr) {
    out.items[out.count++] = shape->object;
    return out;
  }
  for (const char* image : shape->images) {
    auto child = shape->object->Child(image, arena_);
    if (!child) return Fail(child.error());
    if (*child != nullptr) out.items[out.count++] = *child;
  }
  return out;
}

Result<JsonObject*> PayloadContext::PrimaryImage() {
  auto shape = Shape();
  if (!shape) return Fail(shape.error());
  if (shape->object == nullptr) return nullptr;
  if (shape->images[0] == nullptr) return shape->object;
  auto primary = shape->object->Child(shape->images[0], arena_);
  if (!primary) return Fail(primary.error());
  // A Debezium DELETE has only `before`.
  if (*primary == nullptr && std::string_view(shape->images[0]) == "after") {
    return shape->object->Child(shape->images[1], arena_);
  }
  return *primary;
}

void PayloadContext::MarkChanged() {
  changed_ = true;
  doc_dirty_ = true;
  rendered_ok_ = false;
}

void PayloadContext::ReplacePayload(std::string json) {
  root_.reset();
  arena_.Clear();
  replaced_ = std::move(json);
  text_ = replaced_;
  parsed_ = false;
  doc_dirty_ = false;
  rendered_ok_ = false;
  changed_ = true;
}

std::string_view PayloadContext::PayloadText() {
  if (!doc_dirty_ || root_ == nullptr) return text_;
  if (!rendered_ok_) {
    rendered_.clear();
    rendered_.reserve(text_.size());
    root_->AppendTo(rendered_);
    rendered_ok_ = true;
  }
  return rendered_;
}

void PayloadContext::Commit() {
  if (!changed_) return;
  if (doc_dirty_ && root_ != nullptr) {
    PayloadText();
    event_.payload = std::move(rendered_);
  } else if (text_.data() == replaced_.data()) {
    event_.payload = std::move(replaced_);
  } else {
    event_.payload = std::string(text_);
  }
  root_.reset();
  arena_.Clear();
  text_ = event_.payload;
  parsed_ = false;
  changed_ = doc_dirty_ = rendered_ok_ = false;
  event_.InvalidateJson();
}

}  // namespace pgcdc::transform
