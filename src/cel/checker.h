// CEL checker: resolves identifiers (variables, macro iteration variables,
// type names), resolves functions to built-ins, infers a static type per node
// (dyn when unknown) and reports undeclared names and calls that can never
// match an overload. Annotates the AST in place. Internal to src/cel.
#pragma once

#include <string>
#include <vector>

#include "cel/ast.h"
#include "cel/cel.h"

namespace pgcdc::cel {

struct CheckResult {
  bool ok = true;
  uint32_t pos = 0;
  std::string message;
  int num_locals = 0;            // macro iteration variable slots needed
  std::vector<bool> referenced;  // per declaration slot
};

CheckResult Check(Expr& root, const Declarations& decls, bool type_check);

}  // namespace pgcdc::cel
