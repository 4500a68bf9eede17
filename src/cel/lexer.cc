#include "cel/lexer.h"

#include <array>
#include <utility>

#include "core/escape.h"
#include "core/json.h"

namespace pgcdc::cel {

namespace {

using json::AppendUtf8;
using json::HexValue;

bool IsIdentStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsHex(char c) { return HexValue(c) >= 0; }

using json::Utf8Length;

constexpr std::array<std::string_view, 18> kReserved = {
    "as",  "break", "const",   "continue",  "else",   "for", "function", "if",    "import",
    "let", "loop",  "package", "namespace", "return", "var", "void",     "while", "in"};

}  // namespace

bool IsReservedWord(std::string_view ident) {
  for (std::string_view r : kReserved) {
    if (r == ident) return true;
  }
  return false;
}

void Lexer::SkipSpaceAndComments() {
  while (pos_ < input_.size()) {
    char c = input_[pos_];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
      ++pos_;
    } else if (c == '/' && pos_ + 1 < input_.size() && input_[pos_ + 1] == '/') {
      while (pos_ < input_.size() && input_[pos_] != '\n') ++pos_;
    } else {
      break;
    }
  }
}

std::optional<Token> Lexer::TryLexString(uint32_t start) {
  auto peek = [&](size_t k) -> char { return pos_ + k < input_.size() ? input_[pos_ + k] : '\0'; };
  bool raw = false, bytes = false;
  size_t p = 0;
  for (int i = 0; i < 2; ++i) {
    char pc = peek(p);
    if ((pc == 'r' || pc == 'R') && !raw) {
      raw = true;
      ++p;
    } else if ((pc == 'b' || pc == 'B') && !bytes) {
      bytes = true;
      ++p;
    }
  }
  char q = peek(p);
  if (q != '"' && q != '\'') return std::nullopt;
  pos_ += p;
  return LexString(start, raw, bytes);
}

Token Lexer::LexWord(uint32_t start) {
  while (pos_ < input_.size() && (IsIdentStart(input_[pos_]) || IsDigit(input_[pos_]))) ++pos_;
  std::string_view word = input_.substr(start, pos_ - start);
  if (word == "true") return Make(Tok::kTrue, start);
  if (word == "false") return Make(Tok::kFalse, start);
  if (word == "null") return Make(Tok::kNull, start);
  if (word == "in") return Make(Tok::kIn, start);
  return Make(Tok::kIdent, start, std::string(word));
}

Token Lexer::LexQuotedIdent(uint32_t start) {
  size_t end = input_.find('`', pos_ + 1);
  size_t nl = input_.find('\n', pos_ + 1);
  if (end == std::string_view::npos || end == pos_ + 1 ||
      (nl != std::string_view::npos && nl < end)) {
    ++pos_;
    return Make(Tok::kError, start, "unterminated quoted identifier");
  }
  std::string text(input_.substr(pos_ + 1, end - pos_ - 1));
  pos_ = end + 1;
  return Make(Tok::kQuotedIdent, start, std::move(text));
}

namespace {

// Operators and punctuation, the two-character ones first.
constexpr std::pair<std::string_view, Tok> kOperators[] = {
    {"!=", Tok::kNotEq},   {"<=", Tok::kLessEq},  {">=", Tok::kGreaterEq}, {"==", Tok::kEqEq},
    {"&&", Tok::kAndAnd},  {"||", Tok::kOrOr},    {"(", Tok::kLParen},     {")", Tok::kRParen},
    {"[", Tok::kLBracket}, {"]", Tok::kRBracket}, {"{", Tok::kLBrace},     {"}", Tok::kRBrace},
    {".", Tok::kDot},      {",", Tok::kComma},    {":", Tok::kColon},      {"?", Tok::kQuestion},
    {"+", Tok::kPlus},     {"-", Tok::kMinus},    {"*", Tok::kStar},       {"/", Tok::kSlash},
    {"%", Tok::kPercent},  {"!", Tok::kNot},      {"<", Tok::kLess},       {">", Tok::kGreater},
};

}  // namespace

Token Lexer::LexOperator(uint32_t start) {
  const std::string_view rest = input_.substr(pos_);
  for (const auto& [text, tok] : kOperators) {
    if (rest.starts_with(text)) {
      pos_ += text.size();
      return Make(tok, start);
    }
  }
  const char c = input_[pos_++];
  if (c == '=' || c == '&' || c == '|') {
    return Make(Tok::kError, start,
                std::string("unexpected '") + c + "' (did you mean '" + c + c + "'?)");
  }
  std::string msg = "unexpected character '";
  if (static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7F) {
    msg.push_back(c);
  } else {
    msg += "\\x";
    static constexpr char kHex[] = "0123456789abcdef";
    msg.push_back(kHex[(static_cast<unsigned char>(c) >> 4) & 0xF]);
    msg.push_back(kHex[static_cast<unsigned char>(c) & 0xF]);
  }
  msg += "'";
  return Make(Tok::kError, start, msg);
}

Token Lexer::Next() {
  SkipSpaceAndComments();
  uint32_t start = static_cast<uint32_t>(pos_);
  if (pos_ >= input_.size()) return Make(Tok::kEof, start);
  if (auto string = TryLexString(start)) return std::move(*string);
  const char c = input_[pos_];
  if (IsIdentStart(c)) return LexWord(start);
  if (IsDigit(c) || (c == '.' && pos_ + 1 < input_.size() && IsDigit(input_[pos_ + 1]))) {
    return LexNumber(start);
  }
  if (c == '`') return LexQuotedIdent(start);
  return LexOperator(start);
}

Token Lexer::LexNumber(uint32_t start) {
  auto at = [&](size_t p) -> char { return p < input_.size() ? input_[p] : '\0'; };
  // Hex integers.
  if (at(pos_) == '0' && (at(pos_ + 1) == 'x' || at(pos_ + 1) == 'X')) {
    pos_ += 2;
    size_t digits_start = pos_;
    while (IsHex(at(pos_))) ++pos_;
    if (pos_ == digits_start) return Make(Tok::kError, start, "invalid hex literal");
    std::string text(input_.substr(start, pos_ - start));
    if (at(pos_) == 'u' || at(pos_) == 'U') {
      ++pos_;
      return Make(Tok::kUint, start, text);
    }
    if (IsIdentStart(at(pos_))) return Make(Tok::kError, start, "invalid numeric literal");
    return Make(Tok::kInt, start, text);
  }
  bool is_double = false;
  while (IsDigit(at(pos_))) ++pos_;
  if (at(pos_) == '.' && IsDigit(at(pos_ + 1))) {
    is_double = true;
    ++pos_;
    while (IsDigit(at(pos_))) ++pos_;
  }
  if (at(pos_) == 'e' || at(pos_) == 'E') {
    size_t p = pos_ + 1;
    if (at(p) == '+' || at(p) == '-') ++p;
    if (IsDigit(at(p))) {
      is_double = true;
      pos_ = p;
      while (IsDigit(at(pos_))) ++pos_;
    } else {
      return Make(Tok::kError, start, "invalid exponent in numeric literal");
    }
  }
  std::string text(input_.substr(start, pos_ - start));
  if (is_double) {
    if (IsIdentStart(at(pos_))) return Make(Tok::kError, start, "invalid numeric literal");
    return Make(Tok::kDouble, start, text);
  }
  if (at(pos_) == 'u' || at(pos_) == 'U') {
    ++pos_;
    if (IsIdentStart(at(pos_)) || IsDigit(at(pos_))) {
      return Make(Tok::kError, start, "invalid numeric literal");
    }
    return Make(Tok::kUint, start, text);
  }
  if (IsIdentStart(at(pos_))) return Make(Tok::kError, start, "invalid numeric literal");
  return Make(Tok::kInt, start, text);
}

const char* Lexer::LexEscape(bool bytes, std::string& out) {
  if (pos_ >= input_.size()) return "unterminated string literal";
  char e = input_[pos_++];
  if (const char control = UnescapeLetter(e, kCEscapes)) {
    out.push_back(control);
    return nullptr;
  }
  if (std::string_view("\\'\"`?").find(e) != std::string_view::npos) {  // stands for itself
    out.push_back(e);
    return nullptr;
  }
  if (e == 'x' || e == 'X' || e == 'u' || e == 'U') {
    size_t n = (e == 'x' || e == 'X') ? 2 : (e == 'u' ? 4 : 8);
    if (bytes && (e == 'u' || e == 'U')) return "\\u escape is not allowed in bytes";
    uint32_t cp = 0;
    for (size_t i = 0; i < n; ++i) {
      if (pos_ >= input_.size() || !IsHex(input_[pos_])) return "invalid escape";
      cp = cp * 16 + HexValue(input_[pos_++]);
    }
    if (bytes && n == 2) {
      out.push_back(static_cast<char>(cp));
    } else {
      if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return "invalid unicode code point in escape";
      }
      AppendUtf8(out, cp);
    }
    return nullptr;
  }
  if (e >= '0' && e <= '3') {
    uint32_t v = e - '0';
    for (int i = 0; i < 2; ++i) {
      if (pos_ >= input_.size() || input_[pos_] < '0' || input_[pos_] > '7') {
        return "invalid octal escape";
      }
      v = v * 8 + (input_[pos_++] - '0');
    }
    if (bytes) {
      out.push_back(static_cast<char>(v));
    } else {
      AppendUtf8(out, v);
    }
    return nullptr;
  }
  return "invalid escape sequence";
}

Token Lexer::LexString(uint32_t start, bool raw, bool bytes) {
  char quote = input_[pos_];
  bool triple = pos_ + 2 < input_.size() && input_[pos_ + 1] == quote && input_[pos_ + 2] == quote;
  pos_ += triple ? 3 : 1;
  std::string out;
  auto bad = [&](const char* msg) { return Make(Tok::kError, start, msg); };
  while (true) {
    if (pos_ >= input_.size()) return bad("unterminated string literal");
    char c = input_[pos_];
    if (c == quote) {
      if (!triple) {
        ++pos_;
        break;
      }
      if (pos_ + 2 < input_.size() && input_[pos_ + 1] == quote && input_[pos_ + 2] == quote) {
        pos_ += 3;
        break;
      }
    }
    if (!triple && (c == '\n' || c == '\r')) return bad("newline in string literal");
    if (c == '\\' && !raw) {
      ++pos_;
      if (const char* error = LexEscape(bytes, out)) return bad(error);
      continue;
    }
    size_t n = Utf8Length(input_, pos_);
    if (n == 0) return bad("invalid UTF-8 in string literal");
    out.append(input_.substr(pos_, n));
    pos_ += n;
  }
  return Make(bytes ? Tok::kBytes : Tok::kString, start, std::move(out));
}

}  // namespace pgcdc::cel
