// GraphQL document parser for the graphql adapter (pure, no I/O; fuzzed by
// tests/fuzz/graphql_document_fuzz.cc).
//
// Parses the executable-document subset a subscription client sends
// (GraphQL spec, October 2021, §2): one or more operation definitions with
// names, variable definitions (types and default values), fields with
// aliases, arguments (literals and $variables) and nested selection sets.
// Fragments and directives are reported as unsupported; an operation is
// picked by name like a GraphQL server does. Lexical rules follow the spec
// (ignored commas, # comments, block strings, escapes in strings).
//
// Errors carry the GraphQL-style message and the 1-based line/column of the
// offending token, ready for a graphql-transport-ws `error` message.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pgcdc::adapter::graphql {

// An input value as written in the document.
struct Value {
  enum class Kind { kVariable, kNull, kInt, kFloat, kString, kBool, kEnum, kList, kObject };
  Kind kind = Kind::kNull;
  std::string text;  // variable name, number text, decoded string, enum name, "true"/"false"
  std::vector<Value> items;       // kList elements; kObject member values
  std::vector<std::string> keys;  // kObject member names (parallel to items), in document order
  uint32_t line = 0, column = 0;
};

struct Argument {
  std::string name;
  Value value;
};

// A field of a selection set.
struct Field {
  std::string alias;  // response key: the alias, else the name
  std::string name;
  std::vector<Argument> arguments;
  std::vector<Field> selections;  // empty: a leaf
  bool has_selection_set = false;
  uint32_t line = 0, column = 0;
};

struct VariableDefinition {
  std::string name;  // without '$'
  std::string type;  // as written, e.g. "String!" or "[ID!]"
  bool has_default = false;
  Value default_value;
};

struct Operation {
  std::string type;  // "query", "mutation" or "subscription"
  std::string name;  // may be empty
  std::vector<VariableDefinition> variables;
  std::vector<Field> selections;
};

struct DocumentError {
  std::string message;
  uint32_t line = 0, column = 0;
};

// Nesting limit for selection sets and input values (deeper documents are
// refused, which also bounds recursion).
inline constexpr int kMaxDepth = 32;

// Parses `text` and returns the operation to run: the one named
// `operation_name`, or the only one when the name is empty.
[[nodiscard]] std::expected<Operation, DocumentError> ParseOperation(
    std::string_view text, std::string_view operation_name = {});

}  // namespace pgcdc::adapter::graphql
