#include "view/parser.h"

#include <boost/json.hpp>
#include <charconv>
#include <map>
#include <set>

#include "sqlparse/pg_parse.h"
#include "view/clauses.h"
#include "view/expr.h"
#include "view/fields.h"
#include "view/join.h"

namespace pgcdc::view {

namespace {

namespace bj = boost::json;

enum class Scope { kRow, kSelect };  // kSelect: aggregates allowed

using sqlparse::NodeOf;

int Location(const bj::object& o) {
  const auto* l = o.if_contains("location");
  return l != nullptr && l->is_int64() ? static_cast<int>(l->get_int64()) + 1 : 1;
}

// The first "location" anywhere inside `v` (for clauses without their own).
int FirstLocation(const bj::value& v) {
  if (const auto* o = v.if_object()) {
    if (const auto* l = o->if_contains("location");
        l != nullptr && l->is_int64() && l->get_int64() >= 0) {
      return static_cast<int>(l->get_int64()) + 1;
    }
    for (const auto& [k, child] : *o) {
      if (int p = FirstLocation(child); p > 0) return p;
    }
  } else if (const auto* a = v.if_array()) {
    for (const auto& child : *a) {
      if (int p = FirstLocation(child); p > 0) return p;
    }
  }
  return 0;
}

std::string Sval(const bj::value& v) {
  auto [type, o] = NodeOf(v);
  if (type != "String" || o == nullptr) return {};
  const auto* s = o->if_contains("sval");
  return s != nullptr && s->is_string() ? std::string(s->get_string()) : std::string();
}

std::string Canon(const Expr& e);

class Builder {
 public:
  Builder(std::string_view text, Query& q) : text_(text), q_(q) {}

  Result<Expr> Build(const bj::value& node, Scope scope);

 private:
  Result<Expr> Const(const bj::object& o);
  Result<Expr> Column(const bj::object& o);
  Result<Expr> AExpr(const bj::object& o, Scope scope);
  Result<Expr> Bool(const bj::object& o, Scope scope);
  Result<Expr> Func(const bj::object& o, Scope scope);
  Result<std::vector<Expr>> List(const bj::value* list, Scope scope);
  // An integer constant as written (libpg_query's JSON loses negative ones).
  Result<Expr> IntFromText(int pos);

  std::string_view text_;
  Query& q_;
  bool in_aggregate_ = false;
};

Result<std::vector<Expr>> Builder::List(const bj::value* list, Scope scope) {
  std::vector<Expr> out;
  if (list == nullptr || !list->is_array()) return out;
  for (const auto& item : list->get_array()) {
    auto e = Build(item, scope);
    if (!e) return Fail(e.error());
    out.push_back(std::move(*e));
  }
  return out;
}

Result<Expr> Builder::IntFromText(int pos) {
  size_t i = static_cast<size_t>(pos - 1);
  bool neg = false;
  if (i < text_.size() && text_[i] == '-') {
    neg = true;
    ++i;
    while (i < text_.size() && text_[i] == ' ') ++i;
  }
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text_.data() + i, text_.data() + text_.size(), v);
  if (ec != std::errc()) return Fail(ErrorAt("unreadable integer constant", pos));
  (void)ptr;
  return Expr{.kind = ExprKind::kConst, .position = pos, .constant = {neg ? -v : v}};
}

Result<Expr> Builder::Const(const bj::object& o) {
  const int pos = Location(o);
  Expr e{.kind = ExprKind::kConst, .position = pos};
  if (o.contains("isnull")) return e;
  if (const auto* iv = o.if_contains("ival")) {
    const auto* inner = iv->as_object().if_contains("ival");
    if (inner == nullptr || inner->get_int64() == 0) return IntFromText(pos);
    e.constant = {inner->get_int64()};
  } else if (const auto* fv = o.if_contains("fval")) {
    const std::string_view t = fv->as_object().at("fval").as_string();
    double d = 0;
    std::from_chars(t.data(), t.data() + t.size(), d);
    e.constant = {d};
  } else if (const auto* sv = o.if_contains("sval")) {
    const auto* s = sv->as_object().if_contains("sval");
    e.constant = {s != nullptr ? std::string(s->as_string()) : std::string()};
  } else if (const auto* bv = o.if_contains("boolval")) {
    const auto* b = bv->as_object().if_contains("boolval");
    e.constant = {b != nullptr && b->as_bool()};
  } else {
    return Fail(ErrorAt("unsupported constant", pos));
  }
  return e;
}

Result<Expr> Builder::Column(const bj::object& o) {
  Expr e{.kind = ExprKind::kField, .position = Location(o)};
  for (const auto& f : o.at("fields").as_array()) {
    std::string part = Sval(f);
    if (part.empty()) return Fail(ErrorAt("unsupported column reference (*)", e.position));
    e.path.push_back(std::move(part));
  }
  return e;
}

Result<Expr> Builder::AExpr(const bj::object& o, Scope scope) {
  const int pos = Location(o);
  const std::string_view kind = o.at("kind").as_string();
  const std::string op = Sval(o.at("name").as_array().at(0));
  const bj::value* l = o.if_contains("lexpr");
  const bj::value* r = o.if_contains("rexpr");
  Expr e{.position = pos, .op = op};
  auto rhs = r != nullptr && !NodeOf(*r).first.starts_with("List") ? Build(*r, scope)
                                                                   : Result<Expr>(Expr{});
  if (!rhs) return Fail(rhs.error());
  auto lhs = l != nullptr ? Build(*l, scope) : Result<Expr>(Expr{});
  if (!lhs) return Fail(lhs.error());
  if (kind == "AEXPR_OP") {
    static const std::set<std::string> kArith = {"+", "-", "*", "/", "%"};
    static const std::set<std::string> kCmp = {"=", "<>", "!=", "<", "<=", ">", ">="};
    if (l == nullptr && op == "-")
      return Expr{.kind = ExprKind::kNeg, .position = pos, .args = {*rhs}};
    if (l == nullptr && op == "+") return *rhs;
    if (kArith.count(op) == 0 && kCmp.count(op) == 0) {
      return Fail(ErrorAt("unsupported operator " + op, pos));
    }
    e.kind = kArith.count(op) != 0 ? ExprKind::kArith : ExprKind::kCompare;
    e.args = {std::move(*lhs), std::move(*rhs)};
    return e;
  }
  if (kind == "AEXPR_LIKE") {
    e.kind = ExprKind::kLike;
    e.negated = op == "!~~";
    e.args = {std::move(*lhs), std::move(*rhs)};
    return e;
  }
  if (kind == "AEXPR_IN" || kind == "AEXPR_BETWEEN" || kind == "AEXPR_NOT_BETWEEN") {
    auto items = List(NodeOf(*r).second->if_contains("items"), scope);
    if (!items) return Fail(items.error());
    if (kind == "AEXPR_IN") {
      e.kind = ExprKind::kIn;
      e.negated = op == "<>";
      e.args = {std::move(*lhs)};
      for (auto& i : *items) e.args.push_back(std::move(i));
      return e;
    }
    Expr ge{.kind = ExprKind::kCompare, .position = pos, .op = ">=", .args = {*lhs, (*items)[0]}};
    Expr le{.kind = ExprKind::kCompare, .position = pos, .op = "<=", .args = {*lhs, (*items)[1]}};
    Expr both{.kind = ExprKind::kAnd, .position = pos, .args = {ge, le}};
    if (kind == "AEXPR_BETWEEN") return both;
    return Expr{.kind = ExprKind::kNot, .position = pos, .args = {both}};
  }
  return Fail(ErrorAt("unsupported expression (" + std::string(kind) + ")", pos));
}

Result<Expr> Builder::Bool(const bj::object& o, Scope scope) {
  const std::string_view op = o.at("boolop").as_string();
  auto args = List(o.if_contains("args"), scope);
  if (!args) return Fail(args.error());
  const ExprKind kind = op == "AND_EXPR"  ? ExprKind::kAnd
                        : op == "OR_EXPR" ? ExprKind::kOr
                                          : ExprKind::kNot;
  return Expr{.kind = kind, .position = Location(o), .args = std::move(*args)};
}

Result<Expr> Builder::Func(const bj::object& o, Scope scope) {
  const int pos = Location(o);
  const auto& names = o.at("funcname").as_array();
  const std::string name = Sval(names.back());
  static const std::map<std::string, AggFn> kAggs = {
      {"count", AggFn::kCount},
      {"sum", AggFn::kSum},
      {"avg", AggFn::kAvg},
      {"min", AggFn::kMin},
      {"max", AggFn::kMax},
      {"stddev", AggFn::kStddevPop},
      {"stddev_pop", AggFn::kStddevPop},
      {"stddev_samp", AggFn::kStddevSamp},
      {"approx_count_distinct", AggFn::kApproxCountDistinct},
  };
  auto it = kAggs.find(name);
  if (it == kAggs.end()) return Fail(ErrorAt("unknown function " + name, pos));
  if (scope != Scope::kSelect) {
    return Fail(ErrorAt("aggregate " + name + " is not allowed here", pos));
  }
  if (in_aggregate_) return Fail(ErrorAt("aggregate calls cannot be nested", pos));
  Aggregate agg{
      .fn = it->second, .star = o.contains("agg_star"), .distinct = o.contains("agg_distinct")};
  if (o.contains("agg_order") || o.contains("agg_filter") || o.contains("over")) {
    return Fail(ErrorAt("ORDER BY, FILTER and OVER are not supported in " + name, pos));
  }
  if (agg.star && agg.fn != AggFn::kCount) return Fail(ErrorAt(name + "(*) is not valid", pos));
  if (agg.distinct && agg.fn == AggFn::kApproxCountDistinct) {
    return Fail(
        ErrorAt("approx_count_distinct counts distinct values already: drop DISTINCT", pos));
  }
  if (agg.distinct && agg.fn != AggFn::kCount) {
    return Fail(ErrorAt("DISTINCT is only supported in COUNT", pos));
  }
  if (!agg.star) {
    const auto* args = o.if_contains("args");
    if (args == nullptr || args->as_array().size() != 1) {
      return Fail(ErrorAt(name + " takes exactly one argument", pos));
    }
    in_aggregate_ = true;
    auto arg = Build(args->as_array()[0], Scope::kRow);
    in_aggregate_ = false;
    if (!arg) return Fail(arg.error());
    agg.arg = std::move(*arg);
  }
  agg.key = name + (agg.distinct ? "(distinct " : "(") + (agg.star ? "*" : Canon(agg.arg)) + ")";
  size_t index = 0;
  while (index < q_.aggregates.size() && q_.aggregates[index].key != agg.key) ++index;
  if (index == q_.aggregates.size()) q_.aggregates.push_back(std::move(agg));
  return Expr{.kind = ExprKind::kAggRef, .position = pos, .index = index};
}

Result<Expr> Builder::Build(const bj::value& node, Scope scope) {
  auto [type, o] = NodeOf(node);
  if (o == nullptr) return Fail(ErrorAt("unsupported expression", FirstLocation(node)));
  if (type == "A_Const") return Const(*o);
  if (type == "ColumnRef") return Column(*o);
  if (type == "A_Expr") return AExpr(*o, scope);
  if (type == "BoolExpr") return Bool(*o, scope);
  if (type == "FuncCall") return Func(*o, scope);
  if (type == "NullTest") {
    auto arg = Build(o->at("arg"), scope);
    if (!arg) return Fail(arg.error());
    return Expr{.kind = ExprKind::kIsNull,
                .position = Location(*o),
                .negated = o->at("nulltesttype").as_string() == "IS_NOT_NULL",
                .args = {std::move(*arg)}};
  }
  if (type == "CoalesceExpr") {
    auto args = List(o->if_contains("args"), scope);
    if (!args) return Fail(args.error());
    return Expr{.kind = ExprKind::kCoalesce, .position = Location(*o), .args = std::move(*args)};
  }
  return Fail(ErrorAt("unsupported expression (" + std::string(type) + ")", FirstLocation(node)));
}

std::string Canon(const Expr& e) {
  std::string out = std::to_string(static_cast<int>(e.kind)) + e.op + (e.negated ? "!" : "");
  if (e.kind == ExprKind::kConst) {
    out += std::to_string(e.constant.v.index()) + "'" + ToText(e.constant) + "'";
  }
  const size_t first = e.path.size() > 1 && e.path[0] == "payload" ? 1 : 0;
  for (size_t i = first; i < e.path.size(); ++i) out += "." + e.path[i];
  if (e.kind == ExprKind::kAggRef || e.kind == ExprKind::kGroupRef) out += std::to_string(e.index);
  out += "(";
  for (const auto& a : e.args) out += Canon(a) + ",";
  return out + ")";
}

// Replaces every subexpression equal to a GROUP BY entry by a reference to
// it; a field left over is neither grouped nor aggregated (an error).
Status BindToGroups(Expr& e, const std::vector<Expr>& groups,
                    const std::vector<std::string>& group_keys) {
  const std::string key = Canon(e);
  for (size_t i = 0; i < groups.size(); ++i) {
    if (group_keys[i] == key) {
      e = Expr{.kind = ExprKind::kGroupRef, .position = e.position, .index = i};
      return Ok();
    }
  }
  if (e.kind == ExprKind::kField) {
    std::string name;
    for (const auto& p : e.path) name += (name.empty() ? "" : ".") + p;
    return Fail(ErrorAt(
        "column \"" + name + "\" must appear in GROUP BY or be used in an aggregate", e.position));
  }
  for (auto& a : e.args) {
    if (auto st = BindToGroups(a, groups, group_keys); !st) return st;
  }
  return Ok();
}

std::string PathName(const std::vector<std::string>& path, size_t from) {
  std::string out;
  for (size_t i = from; i < path.size(); ++i) out += (out.empty() ? "" : "_") + path[i];
  return out;
}

// SPEC §7.3's default names: count, sum_<field with dots as _>, count_distinct_<field>;
// a plain field its last segment; anything else column_<n>.
std::string DefaultName(const Expr& e, const Query& q, size_t n) {
  if (e.kind == ExprKind::kField) return e.path.back();
  if (e.kind == ExprKind::kAggRef) {
    static const char* kNames[] = {"count", "sum",    "avg",         "min",
                                   "max",   "stddev", "stddev_samp", "approx_count_distinct"};
    const Aggregate& a = q.aggregates[e.index];
    std::string name = a.distinct ? "count_distinct" : kNames[static_cast<int>(a.fn)];
    if (!a.star && a.arg.kind == ExprKind::kField) name += "_" + PathName(a.arg.path, 0);
    return name;
  }
  return "column_" + std::to_string(n);
}

// The statement's parts we do not support, by parse-tree key.
Status RejectUnsupported(const bj::object& stmt) {
  static const std::map<std::string, std::string> kWhat = {
      {"distinctClause", "SELECT DISTINCT"},
      {"sortClause", "ORDER BY"},
      {"limitCount", "LIMIT"},
      {"limitOffset", "OFFSET"},
      {"withClause", "WITH"},
      {"windowClause", "WINDOW (SQL)"},
      {"valuesLists", "VALUES"},
      {"intoClause", "SELECT INTO"},
      {"lockingClause", "FOR UPDATE"},
      {"larg", "UNION/INTERSECT/EXCEPT"},
  };
  for (const auto& [key, what] : kWhat) {
    if (const auto* v = stmt.if_contains(key)) {
      return Fail(ErrorAt(what + " is not supported in a view", std::max(1, FirstLocation(*v))));
    }
  }
  return Ok();
}

Status CheckFrom(const bj::object& stmt, int end_pos) {
  const auto* from = stmt.if_contains("fromClause");
  if (from == nullptr || from->as_array().empty()) {
    return Fail(ErrorAt("missing FROM pgcdc_events", end_pos));
  }
  const auto& items = from->as_array();
  auto [type, o] = NodeOf(items[0]);
  if (items.size() > 1 || type != "RangeVar" || o->at("relname").as_string() != "pgcdc_events" ||
      o->contains("schemaname")) {
    return Fail(ErrorAt("a view reads FROM pgcdc_events only", FirstLocation(items[0])));
  }
  return Ok();
}

Status BuildSelect(const bj::object& stmt, std::string_view text, Query& q) {
  Builder b(text, q);
  if (const auto* w = stmt.if_contains("whereClause")) {
    auto e = b.Build(*w, Scope::kRow);
    if (!e) return Fail(e.error());
    q.where = std::move(*e);
  }
  std::vector<std::string> group_keys;
  if (const auto* g = stmt.if_contains("groupClause")) {
    for (const auto& item : g->as_array()) {
      auto e = b.Build(item, Scope::kRow);
      if (!e) return Fail(e.error());
      if (e->kind == ExprKind::kConst) {
        return Fail(ErrorAt("GROUP BY takes expressions, not constants", e->position));
      }
      group_keys.push_back(Canon(*e));
      q.group_by.push_back(std::move(*e));
    }
  }
  size_t n = 0;
  for (const auto& t : stmt.at("targetList").as_array()) {
    const bj::object& rt = NodeOf(t).second != nullptr ? *NodeOf(t).second : bj::object();
    const auto* val = rt.if_contains("val");
    if (val == nullptr) return Fail(ErrorAt("unsupported select item", Location(rt)));
    auto e = b.Build(*val, Scope::kSelect);
    if (!e) return Fail(e.error());
    const auto* alias = rt.if_contains("name");
    std::string name = alias != nullptr ? std::string(alias->as_string()) : DefaultName(*e, q, ++n);
    if (auto st = BindToGroups(*e, q.group_by, group_keys); !st) return st;
    q.columns.push_back({std::move(name), std::move(*e)});
  }
  if (const auto* h = stmt.if_contains("havingClause")) {
    auto e = b.Build(*h, Scope::kSelect);
    if (!e) return Fail(e.error());
    if (auto st = BindToGroups(*e, q.group_by, group_keys); !st) return st;
    q.having = std::move(*e);
  }
  return Ok();
}

Result<bj::object> ParseSelect(const std::string& sql) {
  sqlparse::Parsed parsed = sqlparse::Parse(sql);
  if (!parsed.ok()) {
    return Fail(ErrorAt("syntax error: " + parsed.error, std::max(1, parsed.error_position)));
  }
  const auto& stmts = parsed.stmts;
  if (stmts.size() != 1) return Fail(ErrorAt("a view is exactly one SELECT statement", 1));
  auto [type, o] = NodeOf(stmts[0].as_object().at("stmt"));
  if (type != "SelectStmt" || o == nullptr) {
    return Fail(ErrorAt("a view is a SELECT statement", 1));
  }
  return *o;
}

// One side of an interval join: pgcdc_events with an alias.
Result<std::string> JoinSide(const bj::value& node) {
  auto [type, o] = NodeOf(node);
  if (type != "RangeVar" || o->at("relname").as_string() != "pgcdc_events" ||
      o->contains("schemaname")) {
    return Fail(ErrorAt("an interval join reads pgcdc_events on both sides", FirstLocation(node)));
  }
  const auto* alias = o->if_contains("alias");
  if (alias == nullptr) {
    return Fail(
        ErrorAt("each side of an interval join needs an alias (pgcdc_events a)", Location(*o)));
  }
  return std::string(alias->as_object().at("aliasname").as_string());
}

// SPEC §7.5: SELECT a.x, b.y FROM pgcdc_events a JOIN pgcdc_events b ON a.k = b.k
// WITHIN <dur> [WHERE …] (no aggregates, GROUP BY, HAVING or window).
Result<Query> ParseJoin(const bj::object& stmt, const bj::object& join, const Clauses& clauses) {
  const int pos = FirstLocation(bj::value(join));
  if (clauses.have_window) {
    return Fail(ErrorAt("an interval join has no window clause", clauses.window_pos));
  }
  if (clauses.within_pos == 0) {
    return Fail(ErrorAt("an interval join needs a bound: ON … WITHIN <duration>", pos));
  }
  for (const char* key : {"groupClause", "havingClause"}) {
    if (const auto* v = stmt.if_contains(key)) {
      return Fail(ErrorAt("an interval join does not aggregate (GROUP BY/HAVING)",
                          std::max(1, FirstLocation(*v))));
    }
  }
  if (join.at("jointype").as_string() != "JOIN_INNER" || join.contains("usingClause") ||
      join.contains("isNatural")) {
    return Fail(ErrorAt("an interval join is an inner JOIN … ON", pos));
  }
  JoinSyntax s{.position = pos};
  auto left = JoinSide(join.at("larg"));
  if (!left) return Fail(left.error());
  auto right = JoinSide(join.at("rarg"));
  if (!right) return Fail(right.error());
  if (*left == *right) return Fail(ErrorAt("the two sides need different aliases", pos));
  s.left_alias = *left;
  s.right_alias = *right;
  Query q;
  Builder b(clauses.sql, q);
  for (auto [node, out] : {std::pair{join.if_contains("quals"), &s.on},
                           std::pair{stmt.if_contains("whereClause"), &s.where}}) {
    if (node == nullptr) continue;
    auto e = b.Build(*node, Scope::kRow);
    if (!e) return Fail(e.error());
    *out = std::move(*e);
  }
  for (const auto& t : stmt.at("targetList").as_array()) {
    const bj::object& rt = NodeOf(t).second != nullptr ? *NodeOf(t).second : bj::object();
    const auto* val = rt.if_contains("val");
    if (val == nullptr) return Fail(ErrorAt("unsupported select item", Location(rt)));
    auto e = b.Build(*val, Scope::kRow);
    if (!e) return Fail(e.error());
    const auto* alias = rt.if_contains("name");
    s.items.push_back({std::move(*e), alias != nullptr ? std::string(alias->as_string()) : ""});
  }
  q.event_time = clauses.event_time;
  q.lateness_ns = clauses.lateness_ns;
  if (auto st = PlanJoin(std::move(s), clauses.within_ns, q); !st) return Fail(st.error());
  return q;
}

const bj::object* JoinOf(const bj::object& stmt) {
  const auto* from = stmt.if_contains("fromClause");
  if (from == nullptr || from->as_array().size() != 1) return nullptr;
  auto [type, o] = NodeOf(from->as_array()[0]);
  return type == "JoinExpr" ? o : nullptr;
}

Result<Query> ParseQueryTree(std::string_view text) {
  auto clauses = StripClauses(text);
  if (!clauses) return Fail(clauses.error());
  auto stmt = ParseSelect(clauses->sql);
  if (!stmt) return Fail(stmt.error());
  if (auto st = RejectUnsupported(*stmt); !st) return Fail(st.error());
  if (const bj::object* join = JoinOf(*stmt)) return ParseJoin(*stmt, *join, *clauses);
  if (clauses->within_pos != 0) {
    return Fail(ErrorAt("WITHIN is only for interval joins", clauses->within_pos));
  }
  if (!clauses->have_window) return Fail(MissingWindow(text));
  if (auto st = CheckFrom(*stmt, static_cast<int>(text.size()) + 1); !st) return Fail(st.error());
  Query q;
  q.window = clauses->window;
  q.event_time = std::move(clauses->event_time);
  q.lateness_ns = clauses->lateness_ns;
  if (auto st = BuildSelect(*stmt, clauses->sql, q); !st) return Fail(st.error());
  if (q.columns.empty()) return Fail(ErrorAt("a view selects at least one column", 1));
  return q;
}

}  // namespace

Result<Query> ParseQuery(std::string_view text) {
  // The parse tree's shape is PostgreSQL's; a node we did not expect makes
  // Boost.JSON throw, which must end as an error, never a crash.
  try {
    auto q = ParseQueryTree(text);
    if (q) AssignFields(*q);
    return q;
  } catch (const std::exception& e) {
    return Fail(ErrorAt(std::string("unsupported query (") + e.what() + ")", 1));
  }
}

}  // namespace pgcdc::view
