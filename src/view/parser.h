// The view query front end: SPEC §7.2's streaming clauses are stripped
// (clauses.h), the rest is parsed by PostgreSQL's own parser (libpg_query,
// kept inside parser.cc) and turned into a Query plan. Errors are kConfig
// with the 1-based character position of the problem ("... at position 42").
#pragma once

#include <string_view>

#include "core/error.h"
#include "view/query.h"

namespace pgcdc::view {

Result<Query> ParseQuery(std::string_view text);

}  // namespace pgcdc::view
