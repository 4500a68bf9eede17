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
  Value EvalMacro(const Expr& e);
  Value EvalCall(const Expr& e);

  const Activation& activation_;
  Value* locals_;
};

}  // namespace pgcdc::cel
