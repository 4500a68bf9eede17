#include "sqlparse/pg_parse.h"

#include <pg_query.h>

#include <boost/json.hpp>

#include "core/json_dom.h"

namespace pgcdc::sqlparse {

namespace bj = boost::json;

Parsed Parse(const std::string& sql) {
  Parsed out;
  PgQueryParseResult r = pg_query_parse(sql.c_str());
  if (r.error != nullptr) {
    out.error = r.error->message != nullptr ? r.error->message : "syntax error";
    out.error_position = r.error->cursorpos;
    pg_query_free_parse_result(r);
    return out;
  }
  auto dom = json::ParseDom(r.parse_tree);
  pg_query_free_parse_result(r);
  if (!dom) {
    out.error = dom.error().message();
    return out;
  }
  // An empty query string has no "stmts" member.
  if (const auto* o = dom->if_object()) {
    if (const auto* s = o->if_contains("stmts"); s != nullptr && s->is_array()) {
      out.stmts = s->get_array();
    }
  }
  return out;
}

std::pair<std::string_view, const bj::object*> NodeOf(const bj::value& v) {
  const auto* o = v.if_object();
  if (o == nullptr || o->size() != 1) return {"", nullptr};
  const auto& [k, inner] = *o->begin();
  return {std::string_view(k), inner.if_object()};
}

}  // namespace pgcdc::sqlparse
