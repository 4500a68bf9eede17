#include "adapter/graphql/raw_json.h"

#include "core/json_dom.h"

namespace pgcdc::adapter::graphql {

namespace {

constexpr size_t kNpos = std::string_view::npos;
constexpr int kMaxDepth = 512;

size_t SkipSpace(std::string_view s, size_t i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
  return i;
}

// End of the string starting at s[i] == '"'.
size_t SkipString(std::string_view s, size_t i) {
  for (++i; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;
    } else if (s[i] == '"') {
      return i + 1;
    }
  }
  return kNpos;
}

// Members or elements of the container at s[i] ('{' or '['): fn(key_begin,
// key_end, value_begin, value_end) with an empty key range for arrays.
template <class Fn>
size_t WalkContainer(std::string_view s, size_t i, int depth, Fn&& fn);

size_t SkipAt(std::string_view s, size_t i, int depth) {
  i = SkipSpace(s, i);
  if (i >= s.size() || depth > kMaxDepth) return kNpos;
  const char c = s[i];
  if (c == '"') return SkipString(s, i);
  if (c == '{' || c == '[')
    return WalkContainer(s, i, depth + 1, [](size_t, size_t, size_t, size_t) {});
  const size_t start = i;
  while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' && s[i] != '\n' &&
         s[i] != '\r' && s[i] != '\t' && s[i] != '"' && s[i] != '{' && s[i] != '[' && s[i] != ':') {
    ++i;
  }
  return i == start ? kNpos : i;
}

template <class Fn>
size_t WalkContainer(std::string_view s, size_t i, int depth, Fn&& fn) {
  const bool object = s[i] == '{';
  const char close = object ? '}' : ']';
  i = SkipSpace(s, i + 1);
  if (i < s.size() && s[i] == close) return i + 1;
  while (i < s.size()) {
    size_t kb = i, ke = i;
    if (object) {
      if (s[i] != '"') return kNpos;
      ke = SkipString(s, i);
      if (ke == kNpos) return kNpos;
      i = SkipSpace(s, ke);
      if (i >= s.size() || s[i] != ':') return kNpos;
      ++i;
    }
    const size_t vb = SkipSpace(s, i);
    const size_t ve = SkipAt(s, vb, depth);
    if (ve == kNpos) return kNpos;
    fn(kb, ke, vb, ve);
    i = SkipSpace(s, ve);
    if (i >= s.size()) return kNpos;
    if (s[i] == close) return i + 1;
    if (s[i] != ',') return kNpos;
    i = SkipSpace(s, i + 1);
  }
  return kNpos;
}

// The unescaped text of a JSON string literal (quotes included in `quoted`).
std::string Unquote(std::string_view quoted) {
  if (quoted.find('\\') == std::string_view::npos) {
    return std::string(quoted.substr(1, quoted.size() - 2));
  }
  auto v = json::ParseDom(quoted);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

}  // namespace

size_t SkipJsonValue(std::string_view s, size_t i) { return SkipAt(s, i, 0); }

bool ForEachMember(std::string_view obj,
                   const std::function<void(const std::string& key, std::string_view value)>& fn) {
  const size_t i = SkipSpace(obj, 0);
  if (i >= obj.size() || obj[i] != '{') return false;
  return WalkContainer(obj, i, 1, [&](size_t kb, size_t ke, size_t vb, size_t ve) {
           fn(Unquote(obj.substr(kb, ke - kb)), obj.substr(vb, ve - vb));
         }) != kNpos;
}

bool ForEachElement(std::string_view arr, const std::function<void(std::string_view value)>& fn) {
  const size_t i = SkipSpace(arr, 0);
  if (i >= arr.size() || arr[i] != '[') return false;
  return WalkContainer(arr, i, 1, [&](size_t, size_t, size_t vb, size_t ve) {
           fn(arr.substr(vb, ve - vb));
         }) != kNpos;
}

}  // namespace pgcdc::adapter::graphql
