#include "adapter/pgwire/query.h"

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>

#include "core/recovered.h"
#include "sqlparse/pg_parse.h"

namespace pgcdc::adapter::pgwire {

namespace bj = boost::json;
using sqlparse::NodeOf;

namespace {

constexpr std::string_view kFeature = "0A000";  // feature_not_supported
constexpr std::string_view kServed =
    "the pgwire gateway serves SELECT on pgcdc_events, pgcdc_channels, pgcdc_status and "
    "pgcdc_events_live";

// 1-based character (not byte) position of byte offset `loc` in `sql`.
int CharPos(std::string_view sql, int64_t loc) {
  if (loc < 0) return 0;
  const size_t end = std::min(static_cast<size_t>(loc), sql.size());
  int chars = 0;
  for (size_t i = 0; i < end; ++i) {
    if ((static_cast<unsigned char>(sql[i]) & 0xC0) != 0x80) ++chars;
  }
  return chars + 1;
}

int64_t LocationOf(const bj::object& o) {
  const auto* l = o.if_contains("location");
  return l != nullptr && l->is_int64() ? l->get_int64() : -1;
}

// The first "location" anywhere inside `v` (-1 when none).
int64_t FirstLocation(const bj::value& v) {
  if (const auto* o = v.if_object()) {
    if (int64_t l = LocationOf(*o); l >= 0) return l;
    for (const auto& [k, child] : *o) {
      if (int64_t l = FirstLocation(child); l >= 0) return l;
    }
  } else if (const auto* a = v.if_array()) {
    for (const auto& child : *a) {
      if (int64_t l = FirstLocation(child); l >= 0) return l;
    }
  }
  return -1;
}

std::string StringOf(const bj::value& v) {
  auto [type, o] = NodeOf(v);
  if (type != "String" || o == nullptr) return {};
  const auto* s = o->if_contains("sval");
  return s != nullptr && s->is_string() ? std::string(s->get_string()) : std::string();
}

std::string_view MemberString(const bj::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

Field TextField(std::string name) { return Field{.name = std::move(name), .type_oid = kOidText}; }

Cell TextCell(std::string text) { return Cell{.kind = Cell::Kind::kText, .text = std::move(text)}; }
Cell IntCell(int64_t v) { return Cell{.kind = Cell::Kind::kInt, .number = v}; }

std::optional<int64_t> ParseInt(std::string_view s) {
  int64_t v = 0;
  const char* begin = s.data();
  const char* end = s.data() + s.size();
  if (begin != end && *begin == '+') ++begin;
  auto [ptr, ec] = std::from_chars(begin, end, v);
  if (ec != std::errc() || ptr != end || begin == end) return std::nullopt;
  return v;
}

// Plans one statement of `sql` (the text gives error positions).
class Planner {
 public:
  Planner(std::string_view sql, const std::string& user) : sql_(sql), user_(user) {}

  SqlResult<Statement> Plan(const bj::value& stmt);

 private:
  SqlResult<Statement> PlanSelect(const bj::object& s);
  SqlResult<Statement> PlanValues(const bj::object& s);
  SqlResult<Statement> PlanShow(const bj::object& s);
  SqlResult<Statement> PlanTransaction(const bj::object& s);
  SqlResult<bool> RejectClauses(const bj::object& s);
  SqlResult<bool> PlanFrom(const bj::value& from, Statement& st);
  SqlResult<bool> PlanTargets(const bj::array& targets, Statement& st);
  SqlResult<size_t> ColumnOf(const bj::object& ref, const Statement& st);
  SqlResult<Predicate> PlanPredicate(const bj::value& node, Statement& st);
  SqlResult<Predicate> PlanComparison(const bj::object& e, Statement& st);
  SqlResult<Predicate::Operand> PlanOperand(const bj::value& node, int32_t type, Statement& st);
  SqlResult<bool> PlanOrder(const bj::array& sort, Statement& st);
  SqlResult<Predicate::Operand> PlanLimit(const bj::value* node, Statement& st);
  SqlResult<Cell> ValueOf(const bj::value& node, Field& field);
  std::unexpected<SqlError> Unsupported(const std::string& what, const bj::value& at) {
    return SqlFail(std::string(kFeature), what + " is not supported (" + std::string(kServed) + ")",
                   CharPos(sql_, FirstLocation(at)));
  }
  int Pos(const bj::object& o) const { return CharPos(sql_, LocationOf(o)); }

  std::string_view sql_;
  const std::string& user_;
  std::string alias_;  // the FROM item's alias or name
};

SqlResult<Statement> Planner::Plan(const bj::value& stmt) {
  auto [type, o] = NodeOf(stmt);
  if (o == nullptr) return SqlFail(std::string(kFeature), "unsupported statement");
  if (type == "SelectStmt") {
    return o->contains("fromClause") ? PlanSelect(*o) : PlanValues(*o);
  }
  if (type == "VariableSetStmt") {
    Statement st{.kind = Statement::Kind::kSet};
    st.tag = MemberString(*o, "kind").starts_with("VAR_RESET") ? "RESET" : "SET";
    return st;
  }
  if (type == "VariableShowStmt") return PlanShow(*o);
  if (type == "TransactionStmt") return PlanTransaction(*o);
  std::string name(type);
  if (name.ends_with("Stmt")) name.resize(name.size() - 4);
  return SqlFail(std::string(kFeature),
                 "statement " + name + " is not supported (" + std::string(kServed) + ")", 1);
}

SqlResult<Statement> Planner::PlanTransaction(const bj::object& s) {
  const std::string_view kind = MemberString(s, "kind");
  Statement st{.kind = Statement::Kind::kTransaction};
  if (kind == "TRANS_STMT_BEGIN" || kind == "TRANS_STMT_START") {
    st.tag = "BEGIN";
    st.transaction = 'B';
  } else if (kind == "TRANS_STMT_COMMIT") {
    st.tag = "COMMIT";
    st.transaction = 'C';
  } else if (kind == "TRANS_STMT_ROLLBACK") {
    st.tag = "ROLLBACK";
    st.transaction = 'R';
  } else {
    return SqlFail(std::string(kFeature), "this transaction statement is not supported", 1);
  }
  return st;
}

SqlResult<Statement> Planner::PlanShow(const bj::object& s) {
  const std::string name(MemberString(s, "name"));
  for (const auto& [k, v] : ServerParameters()) {
    std::string lower = k;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (lower == name) {
      return Statement{
          .kind = Statement::Kind::kShow, .fields = {TextField(name)}, .values = {TextCell(v)}};
    }
  }
  if (name == "transaction_isolation") {
    return Statement{.kind = Statement::Kind::kShow,
                     .fields = {TextField(name)},
                     .values = {TextCell("read committed")}};
  }
  return SqlFail("42704", "unrecognized configuration parameter \"" + name + "\"");
}

SqlResult<bool> Planner::RejectClauses(const bj::object& s) {
  static constexpr std::pair<std::string_view, std::string_view> kClauses[] = {
      {"withClause", "WITH"},
      {"distinctClause", "DISTINCT"},
      {"intoClause", "SELECT INTO"},
      {"groupClause", "GROUP BY"},
      {"havingClause", "HAVING"},
      {"windowClause", "WINDOW"},
      {"valuesLists", "VALUES"},
      {"lockingClause", "FOR UPDATE/SHARE"},
      {"larg", "UNION/INTERSECT/EXCEPT"},
  };
  for (const auto& [key, what] : kClauses) {
    if (const auto* v = s.if_contains(key)) return Unsupported(std::string(what), *v);
  }
  if (MemberString(s, "limitOption") == "LIMIT_OPTION_WITH_TIES") {
    return SqlFail(std::string(kFeature), "FETCH … WITH TIES is not supported");
  }
  return true;
}

SqlResult<bool> Planner::PlanFrom(const bj::value& from, Statement& st) {
  const auto& items = from.as_array();
  if (items.size() != 1) return Unsupported("a FROM list of several tables (joins)", items[1]);
  auto [type, rv] = NodeOf(items[0]);
  if (type != "RangeVar" || rv == nullptr) return Unsupported("this FROM item", items[0]);
  const std::string name(MemberString(*rv, "relname"));
  const std::string_view schema = MemberString(*rv, "schemaname");
  static constexpr std::pair<std::string_view, Table> kTables[] = {
      {"pgcdc_events", Table::kEvents},
      {"pgcdc_channels", Table::kChannels},
      {"pgcdc_status", Table::kStatus},
      {"pgcdc_events_live", Table::kEventsLive},
  };
  const auto* t = std::find_if(std::begin(kTables), std::end(kTables),
                               [&](const auto& e) { return e.first == name; });
  if (t == std::end(kTables) || (!schema.empty() && schema != "public") ||
      rv->contains("catalogname")) {
    std::string shown = schema.empty() ? name : std::string(schema) + "." + name;
    return SqlFail("42P01", "relation \"" + shown + "\" does not exist", Pos(*rv));
  }
  st.table = t->second;
  alias_ = name;
  if (const auto* a = rv->if_contains("alias"); a != nullptr && a->is_object()) {
    alias_ = std::string(MemberString(a->as_object(), "aliasname"));
  }
  return true;
}

SqlResult<size_t> Planner::ColumnOf(const bj::object& ref, const Statement& st) {
  const auto& fields = ref.at("fields").as_array();
  std::string name = StringOf(fields.back());
  if (fields.size() > 2 || (fields.size() == 2 && StringOf(fields[0]) != alias_)) {
    std::string shown;
    for (const auto& f : fields) shown += (shown.empty() ? "" : ".") + StringOf(f);
    return SqlFail("42703", "column \"" + shown + "\" does not exist", Pos(ref));
  }
  const auto& cols = TableColumns(st.table);
  for (size_t i = 0; i < cols.size(); ++i) {
    if (cols[i].name == name) return i;
  }
  return SqlFail("42703", "column \"" + name + "\" does not exist", Pos(ref));
}

SqlResult<bool> Planner::PlanTargets(const bj::array& targets, Statement& st) {
  const auto& cols = TableColumns(st.table);
  for (const auto& t : targets) {
    auto [rtype, rt] = NodeOf(t);
    const bj::value* val = rt != nullptr ? rt->if_contains("val") : nullptr;
    if (val == nullptr) return Unsupported("this select item", t);
    auto [type, o] = NodeOf(*val);
    const std::string_view alias = MemberString(*rt, "name");
    if (type == "FuncCall" && o != nullptr &&
        StringOf(o->at("funcname").as_array().back()) == "count" && o->contains("agg_star") &&
        targets.size() == 1 && st.table != Table::kEventsLive) {
      st.count = true;
      st.fields.push_back(
          {.name = alias.empty() ? "count" : std::string(alias), .type_oid = kOidInt8});
      return true;
    }
    if (type != "ColumnRef" || o == nullptr) {
      return Unsupported("selecting expressions (only columns, * and count(*))", *val);
    }
    const auto& parts = o->at("fields").as_array();
    if (NodeOf(parts.back()).first == "A_Star") {
      if (parts.size() == 2 && StringOf(parts[0]) != alias_) {
        return SqlFail(
            "42P01", "missing FROM-clause entry for table \"" + StringOf(parts[0]) + "\"", Pos(*o));
      }
      for (size_t i = 0; i < cols.size(); ++i) {
        st.columns.push_back(i);
        st.fields.push_back(cols[i]);
      }
      continue;
    }
    auto c = ColumnOf(*o, st);
    if (!c) return std::unexpected(c.error());
    st.columns.push_back(*c);
    Field f = cols[*c];
    if (!alias.empty()) f.name = std::string(alias);
    st.fields.push_back(std::move(f));
  }
  return true;
}

SqlResult<Predicate::Operand> Planner::PlanOperand(const bj::value& node, int32_t type,
                                                   Statement& st) {
  auto [kind, o] = NodeOf(node);
  if (kind == "TypeCast" && o != nullptr) return PlanOperand(o->at("arg"), type, st);
  if (kind == "ParamRef" && o != nullptr) {
    const auto* n = o->if_contains("number");
    const int64_t num = n != nullptr && n->is_int64() ? n->get_int64() : 0;
    if (num < 1 || num > 65535) return SqlFail("42P02", "there is no parameter $0", Pos(*o));
    if (st.param_types.size() < static_cast<size_t>(num)) st.param_types.resize(num, 0);
    st.param_types[num - 1] = type;
    return Predicate::Operand{.param = static_cast<int>(num)};
  }
  if (kind == "A_Const" && o != nullptr) {
    if (o->contains("isnull")) return Predicate::Operand{};
    if (const auto* s = o->if_contains("sval")) {
      return Predicate::Operand{.constant = std::string(MemberString(s->as_object(), "sval"))};
    }
    if (o->contains("ival")) {
      // libpg_query's JSON drops 0 and negative integers: read the text.
      const size_t at = static_cast<size_t>(std::max<int64_t>(0, LocationOf(*o)));
      size_t end = at;
      while (end < sql_.size() && (std::isdigit(static_cast<unsigned char>(sql_[end])) != 0 ||
                                   (end == at && sql_[end] == '-'))) {
        ++end;
      }
      return Predicate::Operand{.constant = std::string(sql_.substr(at, end - at))};
    }
    if (const auto* f = o->if_contains("fval")) {
      return Predicate::Operand{.constant = std::string(MemberString(f->as_object(), "fval"))};
    }
    if (const auto* b = o->if_contains("boolval")) {
      const auto* v = b->as_object().if_contains("boolval");
      return Predicate::Operand{.constant = v != nullptr && v->as_bool() ? "true" : "false"};
    }
  }
  return Unsupported("this operand (compare columns with constants or $n parameters)", node);
}

SqlResult<Predicate> Planner::PlanComparison(const bj::object& e, Statement& st) {
  const std::string_view kind = MemberString(e, "kind");
  const std::string op = StringOf(e.at("name").as_array().back());
  const bj::value* lhs = e.if_contains("lexpr");
  const bj::value* rhs = e.if_contains("rexpr");
  if (lhs == nullptr || rhs == nullptr) return Unsupported("this operator", bj::value(e));
  bool flipped = false;
  if (NodeOf(*lhs).first != "ColumnRef" && NodeOf(*rhs).first == "ColumnRef") {
    std::swap(lhs, rhs);
    flipped = true;
  }
  auto [ltype, lref] = NodeOf(*lhs);
  if (ltype != "ColumnRef" || lref == nullptr) {
    return Unsupported("a comparison without a column", *lhs);
  }
  auto col = ColumnOf(*lref, st);
  if (!col) return std::unexpected(col.error());
  const int32_t type = TableColumns(st.table)[*col].type_oid;
  if (type == kOidTimestamptz) {
    return SqlFail(std::string(kFeature),
                   "comparing created_at is not supported; compare id (UUIDv7 ids are ordered by "
                   "time)",
                   Pos(*lref));
  }
  Predicate p{.column = *col};
  if (kind == "AEXPR_IN") {
    p.kind = Predicate::Kind::kIn;
    p.negated = op == "<>";
    for (const auto& item : rhs->as_object().at("List").as_object().at("items").as_array()) {
      auto operand = PlanOperand(item, type, st);
      if (!operand) return std::unexpected(operand.error());
      p.operands.push_back(std::move(*operand));
    }
    return p;
  }
  auto operand = PlanOperand(*rhs, type, st);
  if (!operand) return std::unexpected(operand.error());
  p.operands.push_back(std::move(*operand));
  if (kind == "AEXPR_LIKE" && !flipped) {
    p.kind = Predicate::Kind::kLike;
    p.negated = op == "!~~";
    return p;
  }
  static constexpr std::pair<std::string_view, std::string_view> kOps[] = {
      {"=", "="}, {"<>", "<>"}, {"<", ">"}, {">", "<"}, {"<=", ">="}, {">=", "<="}};
  const auto* found =
      std::find_if(std::begin(kOps), std::end(kOps), [&](const auto& e) { return e.first == op; });
  if (kind != "AEXPR_OP" || found == std::end(kOps)) {
    return SqlFail(std::string(kFeature), "operator " + op + " is not supported", Pos(e));
  }
  p.op = std::string(flipped ? found->second : found->first);
  return p;
}

SqlResult<Predicate> Planner::PlanPredicate(const bj::value& node, Statement& st) {
  auto [type, o] = NodeOf(node);
  if (type == "A_Expr" && o != nullptr) return PlanComparison(*o, st);
  if (type == "BoolExpr" && o != nullptr) {
    const std::string_view op = MemberString(*o, "boolop");
    Predicate p{.kind = op == "AND_EXPR"  ? Predicate::Kind::kAnd
                        : op == "OR_EXPR" ? Predicate::Kind::kOr
                                          : Predicate::Kind::kNot};
    for (const auto& arg : o->at("args").as_array()) {
      auto child = PlanPredicate(arg, st);
      if (!child) return child;
      p.children.push_back(std::move(*child));
    }
    return p;
  }
  return Unsupported("this WHERE condition", node);
}

SqlResult<bool> Planner::PlanOrder(const bj::array& sort, Statement& st) {
  for (const auto& item : sort) {
    auto [type, by] = NodeOf(item);
    if (by == nullptr) return Unsupported("this ORDER BY item", item);
    const bool desc = MemberString(*by, "sortby_dir") == "SORTBY_DESC";
    auto [ntype, n] = NodeOf(by->at("node"));
    if (ntype == "ColumnRef" && n != nullptr) {
      auto c = ColumnOf(*n, st);
      if (!c) return std::unexpected(c.error());
      st.order.push_back({*c, desc});
      continue;
    }
    if (ntype == "A_Const" && n != nullptr && n->contains("ival")) {
      auto ordinal = PlanOperand(by->at("node"), kOidInt4, st);
      if (!ordinal) return std::unexpected(ordinal.error());
      auto v = ParseInt(ordinal->constant.value_or(""));
      if (!v || *v < 1 || static_cast<size_t>(*v) > st.columns.size()) {
        return SqlFail(
            "42P10",
            "ORDER BY position " + ordinal->constant.value_or("") + " is not in select list",
            Pos(*n));
      }
      st.order.push_back({st.columns[*v - 1], desc});
      continue;
    }
    return Unsupported("ordering by an expression", by->at("node"));
  }
  return true;
}

SqlResult<Predicate::Operand> Planner::PlanLimit(const bj::value* node, Statement& st) {
  if (node == nullptr) return Predicate::Operand{};
  return PlanOperand(*node, kOidInt8, st);
}

SqlResult<Statement> Planner::PlanSelect(const bj::object& s) {
  if (auto r = RejectClauses(s); !r) return std::unexpected(r.error());
  Statement st{.kind = Statement::Kind::kSelect};
  if (auto r = PlanFrom(s.at("fromClause"), st); !r) return std::unexpected(r.error());
  if (auto r = PlanTargets(s.at("targetList").as_array(), st); !r) {
    return std::unexpected(r.error());
  }
  if (const auto* w = s.if_contains("whereClause")) {
    auto p = PlanPredicate(*w, st);
    if (!p) return std::unexpected(p.error());
    st.where = std::move(*p);
  }
  if (const auto* sort = s.if_contains("sortClause")) {
    if (auto r = PlanOrder(sort->as_array(), st); !r) return std::unexpected(r.error());
  }
  auto limit = PlanLimit(s.if_contains("limitCount"), st);
  if (!limit) return std::unexpected(limit.error());
  auto offset = PlanLimit(s.if_contains("limitOffset"), st);
  if (!offset) return std::unexpected(offset.error());
  st.limit = std::move(*limit);
  st.offset = std::move(*offset);
  if (st.table == Table::kEventsLive &&
      (!st.order.empty() || st.offset.constant || st.offset.param != 0)) {
    return SqlFail(std::string(kFeature),
                   "pgcdc_events_live streams rows in arrival order: ORDER BY and OFFSET are not "
                   "supported (LIMIT n ends the stream after n rows)");
  }
  return st;
}

SqlResult<Cell> Planner::ValueOf(const bj::value& node, Field& field) {
  auto [type, o] = NodeOf(node);
  if (o == nullptr) return Unsupported("this expression", node);
  if (type == "TypeCast") return ValueOf(o->at("arg"), field);
  if (type == "A_Const") {
    Statement scratch;
    auto operand = PlanOperand(node, kOidText, scratch);
    if (!operand) return std::unexpected(operand.error());
    if (!operand->constant) return Cell{};
    if (o->contains("ival")) {
      field.type_oid = kOidInt4;
      return IntCell(ParseInt(*operand->constant).value_or(0));
    }
    if (o->contains("boolval")) {
      field.type_oid = kOidBool;
      return Cell{.kind = Cell::Kind::kBool, .number = *operand->constant == "true" ? 1 : 0};
    }
    return TextCell(*operand->constant);
  }
  if (type == "SQLValueFunction") {
    const std::string_view op = MemberString(*o, "op");
    if (op == "SVFOP_CURRENT_USER" || op == "SVFOP_SESSION_USER" || op == "SVFOP_USER") {
      if (field.name == "?column?")
        field.name = op == "SVFOP_SESSION_USER" ? "session_user" : "current_user";
      return TextCell(user_);
    }
  }
  if (type == "FuncCall" && !o->contains("args")) {
    const std::string fn = StringOf(o->at("funcname").as_array().back());
    if (field.name == "?column?") field.name = fn;
    if (fn == "version") return TextCell("PostgreSQL 17.0 (pgcdc pgwire gateway)");
    if (fn == "current_database") return TextCell("pgcdc");
    if (fn == "current_schema") return TextCell("public");
    if (fn == "now") {
      field.type_oid = kOidTimestamptz;
      return Cell{.kind = Cell::Kind::kTime, .number = -1};  // Evaluate() fills in the time
    }
  }
  return Unsupported("this expression", node);
}

SqlResult<Statement> Planner::PlanValues(const bj::object& s) {
  if (auto r = RejectClauses(s); !r) return std::unexpected(r.error());
  for (const char* key : {"whereClause", "sortClause", "limitCount", "limitOffset"}) {
    if (const auto* v = s.if_contains(key)) return Unsupported("this clause without FROM", *v);
  }
  Statement st{.kind = Statement::Kind::kValues};
  for (const auto& t : s.at("targetList").as_array()) {
    auto [rtype, rt] = NodeOf(t);
    const bj::value* val = rt != nullptr ? rt->if_contains("val") : nullptr;
    if (val == nullptr) return Unsupported("this select item", t);
    const std::string_view alias = MemberString(*rt, "name");
    Field f = TextField(alias.empty() ? "?column?" : std::string(alias));
    auto cell = ValueOf(*val, f);
    if (!cell) return std::unexpected(cell.error());
    st.fields.push_back(std::move(f));
    st.values.push_back(std::move(*cell));
  }
  return st;
}

}  // namespace

const std::vector<Field>& TableColumns(Table table) {
  static const std::vector<Field> kEventColumns = {
      TextField("id"),        TextField("channel"),
      TextField("operation"), TextField("source"),
      TextField("payload"),   {.name = "created_at", .type_oid = kOidTimestamptz},
      TextField("lsn")};
  static const std::vector<Field> kChannelColumns = {TextField("channel"),
                                                     {.name = "event_count", .type_oid = kOidInt4}};
  static const std::vector<Field> kStatusColumns = {TextField("key"), TextField("value")};
  switch (table) {
    case Table::kChannels:
      return kChannelColumns;
    case Table::kStatus:
      return kStatusColumns;
    default:
      return kEventColumns;
  }
}

const std::vector<std::pair<std::string, std::string>>& ServerParameters() {
  static const std::vector<std::pair<std::string, std::string>> kParams = {
      {"server_version", "17.0"},    {"server_encoding", "UTF8"},
      {"client_encoding", "UTF8"},   {"DateStyle", "ISO, MDY"},
      {"IntervalStyle", "postgres"}, {"TimeZone", "UTC"},
      {"integer_datetimes", "on"},   {"standard_conforming_strings", "on"},
      {"is_superuser", "off"},       {"default_transaction_read_only", "on"},
      {"in_hot_standby", "off"},
  };
  return kParams;
}

SqlResult<Parsed> ParseSql(const std::string& sql, const std::string& user) {
  sqlparse::Parsed tree = sqlparse::Parse(sql);
  if (!tree.ok()) {
    return SqlFail("42601", tree.error, tree.error_position > 0 ? tree.error_position : 0);
  }
  Parsed out;
  for (const auto& item : tree.stmts) {
    Planner planner(sql, user);
    try {
      out.statements.push_back(planner.Plan(item.as_object().at("stmt")));
    } catch (const std::exception& e) {
      // A parse-tree shape we did not expect: an error, never a crash.
      CountRecovered("pgwire");
      out.statements.push_back(
          SqlFail(std::string(kFeature), std::string("unsupported query (") + e.what() + ")"));
    }
  }
  return out;
}

}  // namespace pgcdc::adapter::pgwire
