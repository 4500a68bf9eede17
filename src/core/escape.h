// The C-style one-letter backslash escapes (\a \b \f \n \r \t \v), shared by
// the decoders and encoders of CEL string literals, JSON strings and
// PostgreSQL COPY text. Each format accepts a subset, named below. Plus
// AppendReplacing() for formats that escape a few characters by a table
// (Prometheus help and label values, Markdown table cells).
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

namespace pgcdc {

inline constexpr std::string_view kCEscapes = "abfnrtv";
inline constexpr std::string_view kCopyTextEscapes = "bfnrtv";
inline constexpr std::string_view kJsonEscapes = "bfnrt";

namespace escape_internal {
// The escaped control characters are exactly '\a' (7) to '\r' (13).
inline constexpr std::string_view kLetterByCode = "abtnvfr";
}  // namespace escape_internal

// The control character that `letter` stands for after a backslash ('n' ->
// '\n') when `letter` is one of `letters`; 0 otherwise.
constexpr char UnescapeLetter(char letter, std::string_view letters = kCEscapes) {
  if (letters.find(letter) == std::string_view::npos) return 0;
  const size_t i = escape_internal::kLetterByCode.find(letter);
  return i == std::string_view::npos ? '\0' : static_cast<char>('\a' + i);
}

// The letter that escapes control character `c` ('\n' -> 'n') when that
// letter is one of `letters`; 0 otherwise. Cheap for ordinary characters.
constexpr char EscapeLetter(char c, std::string_view letters = kCEscapes) {
  if (c < '\a' || c > '\r') return 0;
  const char letter = escape_internal::kLetterByCode[c - '\a'];
  return letters.find(letter) == std::string_view::npos ? '\0' : letter;
}

// A character and the text that stands for it (AppendReplacing).
struct Replacement {
  char c;
  std::string_view with;
};

// Appends `s` to `out` with every character that `replacements` lists
// replaced by its text (e.g. {{'\\', "\\\\"}, {'\n', "\\n"}}); other bytes are copied.
inline void AppendReplacing(std::string& out, std::string_view s,
                            std::initializer_list<Replacement> replacements) {
  for (char c : s) {
    const Replacement* r = replacements.begin();
    while (r != replacements.end() && r->c != c) ++r;
    if (r != replacements.end()) {
      out += r->with;
    } else {
      out += c;
    }
  }
}

static_assert(UnescapeLetter('n') == '\n' && EscapeLetter('\v') == 'v');
static_assert(UnescapeLetter('a', kJsonEscapes) == 0 && EscapeLetter('\a', kCopyTextEscapes) == 0);

// RFC 3986 percent-encoding: unreserved characters (A-Z a-z 0-9 - _ . ~), and
// '/' when keep_slash, stay; every other byte becomes %XX (upper-case hex), as
// SigV4 canonical URIs and URL path segments need.
inline std::string PercentEncode(std::string_view s, bool keep_slash = false) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    const bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
                            c == '~' || (keep_slash && c == '/');
    if (unreserved) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

// SQL quoting by doubling: QuoteSql(name, '"') is an identifier, QuoteSql(text,
// '\'') a string literal (standard SQL: DuckDB, SQLite, PostgreSQL with
// standard_conforming_strings).
inline std::string QuoteSql(std::string_view text, char quote) {
  std::string out(1, quote);
  for (const char c : text) {
    out.push_back(c);
    if (c == quote) out.push_back(quote);
  }
  out.push_back(quote);
  return out;
}

}  // namespace pgcdc
