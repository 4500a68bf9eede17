// The front end's first step: SPEC §7.2's streaming clauses are not SQL, so
// they are cut out of the query text before PostgreSQL's parser sees it.
// Each clause is blanked (replaced by spaces) rather than removed, so the
// positions PostgreSQL reports stay positions in the user's text.
//
// Accepted anywhere outside quotes and comments, case-insensitive, each at
// most once (SPEC only accepts the window clause at the very end; we also
// accept it before GROUP BY, where upstream's README puts it):
//   TUMBLING WINDOW <dur> | SLIDING WINDOW <dur> SLIDE <dur> | SESSION WINDOW <dur>
//   EVENT TIME BY <path>  | ALLOWED LATENESS <dur>
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "view/query.h"

namespace pgcdc::view {

struct Clauses {
  std::string sql;  // the query with the clauses blanked, same length as the input
  Window window;
  std::vector<std::string> event_time;  // path without a leading "payload"
  int64_t lateness_ns = 0;
};

// kConfig errors read "<message> at position <n>" (1-based).
Result<Clauses> StripClauses(std::string_view query);

// "... at position N" for the 1-based character position `pos`.
Error ErrorAt(const std::string& message, int pos);

}  // namespace pgcdc::view
