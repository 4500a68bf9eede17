// CEL lexer: turns expression text into tokens (pure, no allocation beyond the
// decoded literal text of string/bytes tokens).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pgcdc::cel {

enum class Tok : uint8_t {
  kEof,
  kError,  // text = message
  kIdent,
  kQuotedIdent,  // `field-name` (only valid after '.')
  kInt,          // text = digits (decimal or 0x hex)
  kUint,         // text = digits without the suffix
  kDouble,       // text = literal
  kString,       // text = decoded UTF-8
  kBytes,        // text = decoded bytes
  kTrue,
  kFalse,
  kNull,
  kIn,
  kLParen,
  kRParen,
  kLBracket,
  kRBracket,
  kLBrace,
  kRBrace,
  kDot,
  kComma,
  kColon,
  kQuestion,
  kPlus,
  kMinus,
  kStar,
  kSlash,
  kPercent,
  kNot,
  kLess,
  kLessEq,
  kGreater,
  kGreaterEq,
  kEqEq,
  kNotEq,
  kAndAnd,
  kOrOr,
};

struct Token {
  Tok kind = Tok::kEof;
  uint32_t pos = 0;  // byte offset of the token start
  std::string text;
};

class Lexer {
 public:
  explicit Lexer(std::string_view input) : input_(input) {}
  Token Next();

 private:
  // Next()'s steps.
  void SkipSpaceAndComments();
  // A string or bytes literal (with optional r/b prefixes) starting here.
  std::optional<Token> TryLexString(uint32_t start);
  Token LexWord(uint32_t start);  // identifier or keyword
  Token LexQuotedIdent(uint32_t start);
  Token LexOperator(uint32_t start);  // punctuation, operators, or an error
  Token LexNumber(uint32_t start);
  Token LexString(uint32_t start, bool raw, bool bytes);
  // The escape sequence after a backslash, appended to `out`; the error
  // message when it is invalid, else nullptr.
  const char* LexEscape(bool bytes, std::string& out);
  Token Make(Tok kind, uint32_t start, std::string text = {}) {
    return Token{kind, start, std::move(text)};
  }

  std::string_view input_;
  size_t pos_ = 0;
};

// True for CEL's reserved words that may not be used as identifiers.
bool IsReservedWord(std::string_view ident);

}  // namespace pgcdc::cel
