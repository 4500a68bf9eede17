// The plan of one streaming SQL view (SPEC §7): what the parser builds from
// the query text and the engine runs. Plain data, no behaviour; immutable
// once parsed and shared read-only by the engine.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace pgcdc::view {

// A SQL value: NULL, boolean, integer, float or text. JSON objects and
// arrays read from a payload are carried as their compact JSON text.
struct Value {
  std::variant<std::monostate, bool, int64_t, double, std::string> v;
  bool is_null() const { return std::holds_alternative<std::monostate>(v); }
};

enum class ExprKind {
  kConst,     // constant
  kField,     // path: an envelope attribute or a payload key (SPEC §7.2)
  kNeg,       // -args[0]
  kArith,     // args[0] op args[1], op one of + - * / %
  kCompare,   // args[0] op args[1], op one of = <> < <= > >=
  kAnd,       // args...
  kOr,        // args...
  kNot,       // NOT args[0]
  kIsNull,    // args[0] IS [NOT] NULL
  kLike,      // args[0] [NOT] LIKE constant pattern (args[1])
  kIn,        // args[0] [NOT] IN (args[1..])
  kCoalesce,  // first non-null of args
  kAggRef,    // result of aggregate `index` (SELECT items and HAVING only)
  kGroupRef,  // value of GROUP BY expression `index` (SELECT items and HAVING only)
};

struct Expr {
  ExprKind kind = ExprKind::kConst;
  int position = 0;  // 1-based character position in the query text
  Value constant;
  std::vector<std::string> path;
  std::string op;
  bool negated = false;  // IS NOT NULL, NOT LIKE, NOT IN
  size_t index = 0;
  // kField of the payload: its slot in Query::fields (-1: an envelope
  // attribute, or a plan that AssignFields did not number).
  int field = -1;
  std::vector<Expr> args;
};

enum class AggFn { kCount, kSum, kAvg, kMin, kMax, kStddevPop, kStddevSamp, kApproxCountDistinct };

struct Aggregate {
  AggFn fn = AggFn::kCount;
  bool star = false;      // COUNT(*)
  bool distinct = false;  // COUNT(DISTINCT x)
  Expr arg;               // unused for COUNT(*)
  std::string key;        // canonical text, to share one accumulator between uses
};

struct OutputColumn {
  std::string name;
  Expr expr;  // over kAggRef / kGroupRef / constants only
};

enum class WindowKind { kTumbling, kSliding, kSession };

struct Window {
  WindowKind kind = WindowKind::kTumbling;
  int64_t size_ns = 0;   // tumbling and sliding size, session gap
  int64_t slide_ns = 0;  // sliding only
};

// An interval join (SPEC §7.5): `FROM pgcdc_events a JOIN pgcdc_events b ON
// a.k = b.k [AND …] WITHIN <dur> [WHERE …]`. Each event is tested against
// each side's filter and may feed both (a self-join on one channel works).
// Fields of the filters and keys read the event (alias stripped); the
// residual predicate and the output columns read `slots`: the values of the
// left side's `left_slots` paths followed by the right side's, stored per
// buffered event (kGroupRef indexes into that row).
struct Join {
  std::string left_alias;
  std::string right_alias;
  int64_t within_ns = 0;
  std::vector<Expr> left_keys;   // pairwise equal to right_keys[i]
  std::vector<Expr> right_keys;  // (ON a.x = b.y conjuncts)
  std::optional<Expr> left_filter;
  std::optional<Expr> right_filter;
  std::optional<Expr> residual;  // conjuncts that read both sides, over slots
  std::vector<std::vector<std::string>> left_slots;
  std::vector<std::vector<std::string>> right_slots;
  std::vector<int> left_slot_fields;  // each slot's Query::fields slot (-1: envelope)
  std::vector<int> right_slot_fields;
};

struct Query {
  std::vector<OutputColumn> columns;
  std::vector<Aggregate> aggregates;
  std::vector<Expr> group_by;
  std::optional<Expr> where;
  std::optional<Expr> having;
  Window window;
  // EVENT TIME BY: payload path of the event time; empty = processing time.
  std::vector<std::string> event_time;
  int event_time_field = -1;  // its slot in `fields` (-1: envelope or none)
  int64_t lateness_ns = 0;    // ALLOWED LATENESS
  // Set for an interval join: no aggregates, group_by, where, having or window
  // then; `columns` read the join's slots.
  std::optional<Join> join;
  // The distinct payload paths the plan reads (leading "payload" stripped),
  // numbered by AssignFields (view/fields.h): the engine pulls exactly these
  // out of each event's JSON in one pass.
  std::vector<std::vector<std::string>> fields;
};

}  // namespace pgcdc::view
