// Evaluator internals (used by Program). Internal to src/cel.
#pragma once

#include "cel/ast.h"
#include "cel/cel.h"

namespace pgcdc::cel {

// Evaluates a checked AST against an activation. `locals` must have room for
// the program's macro iteration variables. Single use per evaluation.
class Evaluator {
 public:
  Evaluator(const Activation& activation, Value* locals)
      : activation_(activation), locals_(locals) {}
  Value Eval(const Expr& e);

 private:
  struct Range;
  Value EvalMacro(const Expr& e);
  // EvalMacro's steps, by macro family: all/exists, exists_one, and the
  // ones that build a list or map (map, filter, transformList/Map).
  Value EvalQuantifier(const Expr& e, const Range& range);
  Value EvalExistsOne(const Expr& e, const Range& range);
  Value EvalCollect(const Expr& e, const Range& range);
  Value EvalCall(const Expr& e);
  // && and || (commutative: a decisive operand wins over an error), _?_:_.
  Value EvalLogical(const Expr& e);
  Value EvalConditional(const Expr& e);

  const Activation& activation_;
  Value* locals_;
};

}  // namespace pgcdc::cel
