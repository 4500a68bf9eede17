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
//   WITHIN <dur>          (interval joins, SPEC §7.5; between ON and WHERE there)
// Whether a window (aggregating view) or WITHIN (join) is required is the
// parser's call: it knows whether FROM is a join.
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
  bool have_window = false;
  int window_pos = 0;  // 1-based position of the window clause (when have_window)
  int64_t within_ns = 0;
  int within_pos = 0;  // 1-based position of WITHIN; 0 = none
};

// The error for a view without a window clause (at the end of the query).
Error MissingWindow(std::string_view query);

// kConfig errors read "<message> at position <n>" (1-based).
Result<Clauses> StripClauses(std::string_view query);

// "... at position N" for the 1-based character position `pos`.
Error ErrorAt(const std::string& message, int pos);

}  // namespace pgcdc::view
