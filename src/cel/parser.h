// CEL parser: recursive descent over the lexer's tokens, expanding the
// standard macros (has, all, exists, exists_one, map, filter). Pure; nesting
// and size are capped so hostile input cannot exhaust the stack.
#pragma once

#include <string>
#include <string_view>

#include "cel/ast.h"

namespace pgcdc::cel {

inline constexpr size_t kMaxExpressionBytes = 100000;
inline constexpr int kMaxNestingDepth = 500;

struct ParseError {
  uint32_t pos = 0;
  std::string message;
};

struct ParseResult {
  ExprPtr expr;      // null on failure
  ParseError error;  // set when expr is null
};

ParseResult Parse(std::string_view source);

// "ERROR: <input>:L:C: message\n | source line\n | ....^" (cel-go layout).
std::string RenderError(std::string_view source, uint32_t pos, std::string_view message);

}  // namespace pgcdc::cel
