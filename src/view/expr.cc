#include "view/expr.h"

#include <boost/json/value.hpp>
#include <charconv>
#include <cmath>
#include <limits>

#include "core/json_dom.h"

namespace pgcdc::view {

namespace {

struct Tri {  // SQL truth value: nullopt = UNKNOWN
  std::optional<bool> v;
};

Tri Truth(const Value& v) {
  if (v.is_null()) return {};
  if (const auto* b = std::get_if<bool>(&v.v)) return {*b};
  if (auto n = ToNumber(v)) return {*n != 0};
  const std::string t = ToText(v);
  return {t == "true" || t == "t"};
}

std::optional<double> ParseNumber(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  if (s.empty()) return std::nullopt;
  if (s.front() == '+') s.remove_prefix(1);
  double d = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
  if (ec != std::errc() || ptr != s.data() + s.size() || !std::isfinite(d)) return std::nullopt;
  return d;
}

std::optional<int64_t> ToInt(const Value& v) {
  if (const auto* i = std::get_if<int64_t>(&v.v)) return *i;
  if (const auto* s = std::get_if<std::string>(&v.v)) {
    int64_t out = 0;
    auto [ptr, ec] = std::from_chars(s->data(), s->data() + s->size(), out);
    if (ec == std::errc() && ptr == s->data() + s->size()) return out;
  }
  return std::nullopt;
}

Value TypeError(const EvalContext& ctx) {
  if (ctx.type_errors != nullptr) ++*ctx.type_errors;
  return {};
}

// Integer arithmetic when both sides are integers and nothing overflows
// (division truncates, as in PostgreSQL); otherwise float arithmetic.
Value Arith(const std::string& op, const Value& a, const Value& b, const EvalContext& ctx) {
  if (a.is_null() || b.is_null()) return {};
  const auto ia = ToInt(a);
  const auto ib = ToInt(b);
  if (ia && ib) {
    int64_t r = 0;
    bool overflow = false;
    if (op == "+") overflow = __builtin_add_overflow(*ia, *ib, &r);
    if (op == "-") overflow = __builtin_sub_overflow(*ia, *ib, &r);
    if (op == "*") overflow = __builtin_mul_overflow(*ia, *ib, &r);
    if (op == "/" || op == "%") {
      if (*ib == 0) return TypeError(ctx);
      if (*ia == std::numeric_limits<int64_t>::min() && *ib == -1) return TypeError(ctx);
      r = op == "/" ? *ia / *ib : *ia % *ib;
    }
    if (!overflow) return {r};
  }
  const auto da = ToNumber(a);
  const auto db = ToNumber(b);
  if (!da || !db) return TypeError(ctx);
  if ((op == "/" || op == "%") && *db == 0) return TypeError(ctx);
  if (op == "+") return {*da + *db};
  if (op == "-") return {*da - *db};
  if (op == "*") return {*da * *db};
  if (op == "/") return {*da / *db};
  return {std::fmod(*da, *db)};
}

Value CompareOp(const std::string& op, const Value& a, const Value& b) {
  if (a.is_null() || b.is_null()) return {};
  const int c = Compare(a, b);
  if (op == "=") return {c == 0};
  if (op == "<>" || op == "!=") return {c != 0};
  if (op == "<") return {c < 0};
  if (op == "<=") return {c <= 0};
  if (op == ">") return {c > 0};
  return {c >= 0};
}

Value Logic(const Expr& e, const EvalContext& ctx) {
  const bool is_and = e.kind == ExprKind::kAnd;
  bool unknown = false;
  for (const auto& arg : e.args) {
    const Tri t = Truth(Eval(arg, ctx));
    if (!t.v) {
      unknown = true;
    } else if (*t.v != is_and) {
      return {!is_and};  // AND meets FALSE, OR meets TRUE
    }
  }
  return unknown ? Value{} : Value{is_and};
}

Value In(const Expr& e, const EvalContext& ctx) {
  const Value x = Eval(e.args[0], ctx);
  if (x.is_null()) return {};
  bool unknown = false;
  for (size_t i = 1; i < e.args.size(); ++i) {
    const Value item = Eval(e.args[i], ctx);
    if (item.is_null()) {
      unknown = true;
    } else if (Compare(x, item) == 0) {
      return {!e.negated};
    }
  }
  return unknown ? Value{} : Value{e.negated};
}

Value EvalOther(const Expr& e, const EvalContext& ctx) {
  switch (e.kind) {
    case ExprKind::kIsNull:
      return {Eval(e.args[0], ctx).is_null() != e.negated};
    case ExprKind::kLike: {
      const Value x = Eval(e.args[0], ctx);
      const Value p = Eval(e.args[1], ctx);
      if (x.is_null() || p.is_null()) return {};
      return {Like(ToText(x), ToText(p)) != e.negated};
    }
    case ExprKind::kIn:
      return In(e, ctx);
    case ExprKind::kCoalesce:
      for (const auto& arg : e.args) {
        Value v = Eval(arg, ctx);
        if (!v.is_null()) return v;
      }
      return {};
    case ExprKind::kAggRef:
      return ctx.aggregates != nullptr ? (*ctx.aggregates)[e.index] : Value{};
    case ExprKind::kGroupRef:
      return ctx.group != nullptr ? (*ctx.group)[e.index] : Value{};
    default:
      return {};
  }
}

}  // namespace

Value Eval(const Expr& e, const EvalContext& ctx) {
  switch (e.kind) {
    case ExprKind::kConst:
      return e.constant;
    case ExprKind::kField:
      return ResolveField(e.path, e.field, ctx);
    case ExprKind::kNeg:
      return Arith("-", Value{int64_t{0}}, Eval(e.args[0], ctx), ctx);
    case ExprKind::kArith:
      return Arith(e.op, Eval(e.args[0], ctx), Eval(e.args[1], ctx), ctx);
    case ExprKind::kCompare:
      return CompareOp(e.op, Eval(e.args[0], ctx), Eval(e.args[1], ctx));
    case ExprKind::kAnd:
    case ExprKind::kOr:
      return Logic(e, ctx);
    case ExprKind::kNot: {
      const Tri t = Truth(Eval(e.args[0], ctx));
      return t.v ? Value{!*t.v} : Value{};
    }
    default:
      return EvalOther(e, ctx);
  }
}

const Value& EvalRef(const Expr& e, const EvalContext& ctx, Value& scratch) {
  if (e.kind == ExprKind::kField && e.field >= 0 && ctx.fields != nullptr) {
    return (*ctx.fields)[static_cast<size_t>(e.field)];
  }
  scratch = Eval(e, ctx);
  return scratch;
}

Value ResolveField(const std::vector<std::string>& path, int field, const EvalContext& ctx) {
  if (path.size() == 1) {
    if (path[0] == "channel") return {std::string(ctx.channel)};
    if (path[0] == "operation") return {std::string(ctx.operation)};
    if (path[0] == "source") return {std::string(ctx.source)};
  }
  if (ctx.fields != nullptr && field >= 0) return (*ctx.fields)[static_cast<size_t>(field)];
  if (ctx.payload == nullptr) return {};
  const boost::json::value* cur = ctx.payload;
  const size_t first = path.size() > 1 && path[0] == "payload" ? 1 : 0;
  for (size_t i = first; i < path.size(); ++i) {
    const auto* obj = cur->if_object();
    if (obj == nullptr) return {};
    cur = obj->if_contains(path[i]);
    if (cur == nullptr) return {};
  }
  return FromJson(*cur);
}

Value FromJson(const boost::json::value& j) {
  switch (j.kind()) {
    case boost::json::kind::null:
      return {};
    case boost::json::kind::bool_:
      return {j.get_bool()};
    case boost::json::kind::int64:
      return {j.get_int64()};
    case boost::json::kind::uint64:
      if (j.get_uint64() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return {static_cast<int64_t>(j.get_uint64())};
      }
      return {static_cast<double>(j.get_uint64())};
    case boost::json::kind::double_:
      return {j.get_double()};
    case boost::json::kind::string:
      return {std::string(j.get_string())};
    default:
      return {json::SerializeDom(j)};
  }
}

std::optional<double> ToNumber(const Value& v) {
  if (const auto* i = std::get_if<int64_t>(&v.v)) return static_cast<double>(*i);
  if (const auto* d = std::get_if<double>(&v.v)) return *d;
  if (const auto* s = std::get_if<std::string>(&v.v)) return ParseNumber(*s);
  return std::nullopt;
}

std::string ToText(const Value& v) {
  if (const auto* s = std::get_if<std::string>(&v.v)) return *s;
  std::string out;
  AppendText(out, v);
  return out;
}

void AppendText(std::string& out, const Value& v) {
  char buf[32];
  if (const auto* s = std::get_if<std::string>(&v.v)) {
    out += *s;
  } else if (const auto* b = std::get_if<bool>(&v.v)) {
    out += *b ? "true" : "false";
  } else if (const auto* i = std::get_if<int64_t>(&v.v)) {
    auto [ptr, ec] = std::to_chars(buf, buf + sizeof(buf), *i);
    out.append(buf, ptr);
  } else if (const auto* d = std::get_if<double>(&v.v)) {
    auto [ptr, ec] = std::to_chars(buf, buf + sizeof(buf), *d);
    if (ec == std::errc()) out.append(buf, ptr);
  } else {
    out += "<nil>";
  }
}

int Compare(const Value& a, const Value& b) {
  const auto ia = std::get_if<int64_t>(&a.v);
  const auto ib = std::get_if<int64_t>(&b.v);
  if (ia != nullptr && ib != nullptr) return *ia < *ib ? -1 : (*ia > *ib ? 1 : 0);
  const auto da = ToNumber(a);
  const auto db = ToNumber(b);
  if (da && db) return *da < *db ? -1 : (*da > *db ? 1 : 0);
  const std::string ta = ToText(a);
  const std::string tb = ToText(b);
  return ta < tb ? -1 : (ta > tb ? 1 : 0);
}

bool Like(std::string_view text, std::string_view pattern) {
  // Iterative matcher with one backtrack point for the last '%'.
  size_t t = 0;
  size_t p = 0;
  size_t star_p = std::string_view::npos;
  size_t star_t = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '%') {
      star_p = ++p;
      star_t = t;
      continue;
    }
    if (p < pattern.size()) {
      const bool escaped = pattern[p] == '\\' && p + 1 < pattern.size();
      const char pc = escaped ? pattern[p + 1] : pattern[p];
      if ((!escaped && pc == '_') || pc == text[t]) {
        p += escaped ? 2 : 1;
        ++t;
        continue;
      }
    }
    if (star_p == std::string_view::npos) return false;
    p = star_p;
    t = ++star_t;
  }
  while (p < pattern.size() && pattern[p] == '%') ++p;
  return p == pattern.size();
}

void WriteValue(json::Writer& w, const Value& v) {
  if (v.is_null()) {
    w.Null();
  } else if (const auto* b = std::get_if<bool>(&v.v)) {
    w.Bool(*b);
  } else if (const auto* i = std::get_if<int64_t>(&v.v)) {
    w.Int(*i);
  } else if (const auto* d = std::get_if<double>(&v.v)) {
    w.Double(*d);
  } else {
    w.String(std::get<std::string>(v.v));
  }
}

}  // namespace pgcdc::view
