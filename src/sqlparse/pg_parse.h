// PostgreSQL's SQL parser (libpg_query) as a JSON parse tree.
//
// Parse() runs the server's own grammar on `sql` and returns the raw parse
// tree (libpg_query's JSON form: {"stmts":[{"stmt":{"SelectStmt":{...}},
// "stmt_location":N,"stmt_len":M}, ...]}) or the syntax error with its
// 1-based character position. Pure, thread-safe, no I/O.
#pragma once

#include <boost/json/value.hpp>
#include <string>
#include <string_view>
#include <utility>

namespace pgcdc::sqlparse {

struct [[nodiscard]] Parsed {
  boost::json::array stmts;  // each {"stmt": {<Type>: {...}}, "stmt_location", "stmt_len"}
  std::string error;         // empty on success
  int error_position = 0;    // 1-based character position of a syntax error (0 = unknown)
  bool ok() const { return error.empty(); }
};

Parsed Parse(const std::string& sql);

// The one member of a parse-tree node {"Type": {...}}: its type name and
// body ("" and null when `v` is not such a node).
std::pair<std::string_view, const boost::json::object*> NodeOf(const boost::json::value& v);

}  // namespace pgcdc::sqlparse
