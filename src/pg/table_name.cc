#include "pg/table_name.h"

#include <vector>

#include "pg/conn.h"

namespace pgcdc::pg {

std::string TableName::Quoted() const {
  return schema.empty() ? QuoteIdentifier(name)
                        : QuoteIdentifier(schema) + "." + QuoteIdentifier(name);
}

std::string TableName::Display() const { return schema.empty() ? name : schema + "." + name; }

Result<TableName> ParseTableName(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return Fail(ErrorCode::kInvalidArgument,
                "table name \"" + std::string(text) + "\": " + std::string(why));
  };
  std::vector<std::string> parts;
  size_t i = 0;
  const size_t n = text.size();
  for (;;) {
    std::string part;
    if (i < n && text[i] == '"') {
      bool closed = false;
      for (++i; i < n; ++i) {
        if (text[i] != '"') {
          part.push_back(text[i]);
        } else if (i + 1 < n && text[i + 1] == '"') {
          part.push_back('"');
          ++i;
        } else {
          closed = true;
          ++i;
          break;
        }
      }
      if (!closed) return bad("unterminated quoted identifier");
    } else {
      for (; i < n && text[i] != '.'; ++i) {
        if (text[i] == '"') return bad("a quote may only start an identifier");
        part.push_back(text[i]);
      }
    }
    if (part.empty()) return bad("empty identifier");
    parts.push_back(std::move(part));
    if (i == n) break;
    if (text[i] != '.') return bad("expected '.' after a quoted identifier");
    ++i;
  }
  if (parts.size() > 2) return bad("expected table or schema.table");
  if (parts.size() == 1) return TableName{"", parts[0]};
  return TableName{parts[0], parts[1]};
}

}  // namespace pgcdc::pg
