#include "transform/payload.h"

#include <algorithm>
#include <cstring>

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

// End of the string starting at `pos` (which must hold '"'); sets
// `has_escape` when a backslash occurs. Payloads are valid JSON by invariant,
// so this only finds the closing quote (memchr) and skips escaped ones.
Result<size_t> SkipString(std::string_view s, size_t pos, bool* has_escape) {
  size_t i = pos + 1;
  while (i < s.size()) {
    const void* q = std::memchr(s.data() + i, '"', s.size() - i);
    if (q == nullptr) break;
    const size_t quote = static_cast<const char*>(q) - s.data();
    size_t backslashes = 0;
    while (quote - backslashes > i && s[quote - backslashes - 1] == '\\') ++backslashes;
    if (backslashes > 0 && has_escape != nullptr) *has_escape = true;
    if (backslashes % 2 == 0) {
      if (has_escape != nullptr && !*has_escape &&
          std::memchr(s.data() + pos + 1, '\\', quote - pos - 1) != nullptr) {
        *has_escape = true;
      }
      return quote + 1;
    }
    i = quote + 1;
  }
  return ParseError("unterminated string", pos);
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

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

// Decodes the body of a JSON string literal (without the quotes). Invalid
// escapes become U+FFFD rather than failing: the text was validated upstream.
std::string Unescape(std::string_view body) {
  std::string out;
  out.reserve(body.size());
  for (size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (c != '\\' || i + 1 >= body.size()) {
      out.push_back(c);
      continue;
    }
    const char e = body[++i];
    switch (e) {
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
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

Result<size_t> SkipJsonValue(std::string_view s, size_t pos) {
  pos = SkipSpace(s, pos);
  if (pos >= s.size()) return ParseError("unexpected end", pos);
  const char c = s[pos];
  if (c == '"') return SkipString(s, pos, nullptr);
  if (c == '{' || c == '[') {
    // Iterative bracket matching; strings are skipped as units.
    char stack[kMaxDepth];
    int depth = 0;
    size_t i = pos;
    while (i < s.size()) {
      const char d = s[i];
      if (d == '"') {
        auto end = SkipString(s, i, nullptr);
        if (!end) return Fail(end.error());
        i = *end;
        continue;
      }
      if (d == '{' || d == '[') {
        if (depth == kMaxDepth) return ParseError("nesting too deep", i);
        stack[depth++] = d == '{' ? '}' : ']';
      } else if (d == '}' || d == ']') {
        if (depth == 0 || stack[depth - 1] != d) return ParseError("mismatched bracket", i);
        if (--depth == 0) return i + 1;
      }
      ++i;
    }
    return ParseError("unterminated value", pos);
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
    return ParseError("unexpected character", pos);
  }
  for (char t : tok) {
    if (!((t >= '0' && t <= '9') || t == '-' || t == '+' || t == '.' || t == 'e' || t == 'E')) {
      return ParseError("invalid number", pos);
    }
  }
  return i;
}

std::string StringifyJson(std::string_view raw) {
  if (raw.size() >= 2 && raw.front() == '"' && raw.back() == '"') {
    return Unescape(raw.substr(1, raw.size() - 2));
  }
  return std::string(raw);
}

// ---- JsonObject -------------------------------------------------------------

Result<std::unique_ptr<JsonObject>> JsonObject::Parse(std::string_view s, Arena& arena) {
  size_t i = SkipSpace(s, 0);
  if (i >= s.size() || s[i] != '{') return ParseError("not an object", i);
  auto obj = std::make_unique<JsonObject>();
  obj->members_.reserve(8);
  i = SkipSpace(s, i + 1);
  if (i < s.size() && s[i] == '}') {
    if (SkipSpace(s, i + 1) != s.size()) return ParseError("trailing data", i + 1);
    return obj;
  }
  while (true) {
    if (i >= s.size() || s[i] != '"') return ParseError("expected a key", i);
    bool escaped = false;
    auto key_end = SkipString(s, i, &escaped);
    if (!key_end) return Fail(key_end.error());
    std::string_view key = s.substr(i + 1, *key_end - i - 2);
    if (escaped) key = arena.Intern(Unescape(key));
    i = SkipSpace(s, *key_end);
    if (i >= s.size() || s[i] != ':') return ParseError("expected ':'", i);
    const size_t value_start = SkipSpace(s, i + 1);
    auto value_end = SkipJsonValue(s, value_start);
    if (!value_end) return Fail(value_end.error());
    obj->members_.push_back(Member{key, s.substr(value_start, *value_end - value_start), nullptr});
    i = SkipSpace(s, *value_end);
    if (i < s.size() && s[i] == ',') {
      i = SkipSpace(s, i + 1);
      continue;
    }
    if (i < s.size() && s[i] == '}') {
      if (SkipSpace(s, i + 1) != s.size()) return ParseError("trailing data", i + 1);
      return obj;
    }
    return ParseError("expected ',' or '}'", i);
  }
}

JsonObject::Member* JsonObject::Find(std::string_view key) {
  for (auto& m : members_) {
    if (m.key == key) return &m;
  }
  return nullptr;
}

const JsonObject::Member* JsonObject::Find(std::string_view key) const {
  for (const auto& m : members_) {
    if (m.key == key) return &m;
  }
  return nullptr;
}

bool JsonObject::Erase(std::string_view key) {
  auto it =
      std::find_if(members_.begin(), members_.end(), [&](const Member& m) { return m.key == key; });
  if (it == members_.end()) return false;
  members_.erase(it);
  return true;
}

void JsonObject::Set(std::string_view key, std::string_view raw) {
  if (Member* m = Find(key)) {
    m->raw = raw;
    m->child.reset();
    return;
  }
  members_.push_back(Member{key, raw, nullptr});
}

bool JsonObject::Rename(std::string_view from, std::string_view to) {
  if (from == to || Find(from) == nullptr) return false;
  Erase(to);
  Find(from)->key = to;
  return true;
}

Result<JsonObject*> JsonObject::Child(std::string_view key, Arena& arena) {
  Member* m = Find(key);
  if (m == nullptr) return nullptr;
  if (m->child) return m->child.get();
  if (m->raw.empty() || m->raw.front() != '{') return nullptr;
  auto parsed = Parse(m->raw, arena);
  if (!parsed) return Fail(parsed.error());
  m->child = std::move(*parsed);
  return m->child.get();
}

void JsonObject::AppendTo(std::string& out) const {
  out.push_back('{');
  bool first = true;
  for (const auto& m : members_) {
    if (!first) out.push_back(',');
    first = false;
    json::AppendString(out, m.key);
    out.push_back(':');
    if (m.child) {
      m.child->AppendTo(out);
    } else {
      out.append(m.raw);
    }
  }
  out.push_back('}');
}

std::string_view JsonObject::ValueText(const Member& m, std::string& scratch) {
  if (!m.child) return m.raw;
  scratch.clear();
  m.child->AppendTo(scratch);
  return scratch;
}

// ---- PayloadContext ---------------------------------------------------------

Result<JsonObject*> PayloadContext::Root() {
  if (!parsed_) {
    parsed_ = true;
    const size_t first = SkipSpace(text_, 0);
    if (first < text_.size() && text_[first] == '{') {
      auto obj = JsonObject::Parse(text_, arena_);
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
  auto root = Root();
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

Result<std::vector<JsonObject*>> PayloadContext::FieldTargets() {
  std::vector<JsonObject*> out;
  auto shape = Shape();
  if (!shape) return Fail(shape.error());
  if (shape->object == nullptr) return out;
  if (shape->images[0] == nullptr) {
    out.push_back(shape->object);
    return out;
  }
  for (const char* image : shape->images) {
    auto child = shape->object->Child(image, arena_);
    if (!child) return Fail(child.error());
    if (*child != nullptr) out.push_back(*child);
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
