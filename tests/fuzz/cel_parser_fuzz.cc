// libFuzzer target for the CEL lexer, parser, checker and evaluator
// (src/cel/cel.h).
//
// Input: a CEL expression (capped at 4 KiB so nested comprehensions stay fast).
// It is compiled against the cel_filter environment, both with and without
// type checking, and every program that compiles is evaluated against fixed
// bindings (strings, a bool and JSON row/old). Invariants (abort on violation):
//  * compile errors carry the rendered "ERROR: <input>:L:C: ..." caret form;
//  * a program compiled with type checking also compiles without it;
//  * a program that requires bool and compiles has static type bool or dyn;
//  * evaluation returns a value or an error value (never throws or crashes),
//    and evaluating twice gives the same result.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "cel/cel.h"

namespace {

using pgcdc::cel::Activation;
using pgcdc::cel::CompileOptions;
using pgcdc::cel::Declarations;
using pgcdc::cel::Program;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant violated: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;
  std::string_view expr(reinterpret_cast<const char*>(data), size);
  static const Declarations decls = Declarations::EventFilter();

  auto checked = Program::Compile(expr, decls, CompileOptions{.type_check = true});
  auto unchecked = Program::Compile(expr, decls, CompileOptions{.type_check = false});
  auto filter = Program::Compile(expr, decls, CompileOptions{.require_bool = true});
  for (const auto* p : {&checked, &unchecked, &filter}) {
    if (!*p) {
      const std::string& msg = p->error().message();
      Check(msg.rfind("ERROR: <input>:", 0) == 0, "error prefix");
      Check(msg.find("\n | ") != std::string::npos && msg.back() == '^', "caret line");
    }
  }
  if (checked) Check(unchecked.has_value(), "checked program must compile unchecked");
  if (filter) {
    Check(filter->result_type() == pgcdc::cel::TypeKind::kBool ||
              filter->result_type() == pgcdc::cel::TypeKind::kDyn,
          "filter result type");
  }

  Activation act(decls);
  act.BindString(decls.Slot("channel"), "pgcdc:orders");
  act.BindString(decls.Slot("operation"), "UPDATE");
  act.BindString(decls.Slot("source"), "wal");
  act.BindString(decls.Slot("id"), "0193d3c4-0000-7000-8000-000000000001");
  act.BindString(decls.Slot("table"), "orders");
  act.BindString(decls.Slot("schema_name"), "public");
  act.BindBool(decls.Slot("has_record"), true);
  act.BindJson(decls.Slot("row"), R"({"id":1,"status":"shipped","tags":["a","b"],"n":null})");
  act.BindJson(decls.Slot("old"), R"({"id":1,"status":"new"})");
  act.BindJson(decls.Slot("payload"), "{broken json");
  for (const auto* p : {&checked, &unchecked}) {
    if (!*p) continue;
    pgcdc::cel::Value a = (*p)->Evaluate(act);
    pgcdc::cel::Value b = (*p)->Evaluate(act);
    Check(a.kind() == b.kind(), "deterministic result kind");
    Check(a.IsError() || pgcdc::cel::StrictEqual(a, b) || a.DebugString() == b.DebugString(),
          "deterministic result");
  }
  return 0;
}
