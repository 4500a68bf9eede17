// libFuzzer target for the duckdb sink's engine-free parts (adapter/duckdb/query.h).
//
// Input: one selector byte, then bytes. Invariants checked (abort on violation):
//  * ParseQueryRequest on the bytes as a POST /query body: an accepted request
//    has a non-empty sql, a timeout in (0, max]; a refusal is kInvalidArgument
//    with a message;
//  * JsonRowsSql keeps the statement (minus trailing ';' and blanks) inside
//    its parentheses, on a line of its own before the closing one;
//  * RowPointer never leaves an unescaped '/' or a lone '~' in the member name;
//  * ViewSql with the bytes as a column name and as the channel: the name is
//    quoted (every '"' doubled), the channel a literal (every '\'' doubled).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "adapter/duckdb/query.h"

namespace {

namespace duck = pgcdc::adapter::duckdb;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "duckdb_query_fuzz: invariant violated: %s\n", what);
    std::abort();
  }
}

size_t Count(std::string_view s, char c) {
  size_t n = 0;
  for (char x : s) n += x == c ? 1 : 0;
  return n;
}

void Request(std::string_view body) {
  constexpr std::chrono::milliseconds kDefault{30'000};
  constexpr std::chrono::milliseconds kMax{300'000};
  auto r = duck::ParseQueryRequest(body, kDefault, kMax);
  if (!r) {
    Check(r.error().code() == pgcdc::ErrorCode::kInvalidArgument, "refusals are bad requests");
    Check(!r.error().message().empty(), "a refusal says why");
    return;
  }
  Check(!r->sql.empty(), "accepted requests have sql");
  Check(r->timeout.count() > 0 && r->timeout <= kMax, "timeout in range");
}

void Sql(std::string_view text) {
  const std::string wrapped = duck::JsonRowsSql(text);
  std::string_view kept = text;
  while (!kept.empty() &&
         std::string_view(";\n\t\r ").find(kept.back()) != std::string_view::npos) {
    kept.remove_suffix(1);
  }
  Check(wrapped.find("(" + std::string(kept) + "\n) AS pgcdc_q") != std::string::npos,
        "the statement is wrapped whole");

  const std::string pointer = duck::RowPointer(text);
  const std::string_view member = std::string_view(pointer).substr(5);
  Check(member.find('/') == std::string_view::npos, "no unescaped / in the member");
  for (size_t i = 0; i < member.size(); ++i) {
    if (member[i] == '~') {
      Check(i + 1 < member.size() && (member[i + 1] == '0' || member[i + 1] == '1'), "~ escaped");
      ++i;
    }
  }

  pgcdc::RowSchema schema;
  schema.namespace_name = "public";
  schema.table = std::string(text);
  schema.columns = {{std::string(text), 23, true}};
  const std::string view = duck::ViewSql(schema, text);
  Check(Count(view, '"') % 2 == 0, "identifiers quoted");
  Check(Count(view, '\'') % 2 == 0, "literals quoted");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  if ((data[0] & 1) == 0) {
    Request(rest);
  } else {
    Sql(rest);
  }
  return 0;
}
