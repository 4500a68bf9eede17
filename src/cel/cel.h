// pgcdc's CEL (Common Expression Language) implementation: a pure library
// (no I/O) with a lexer, parser, checker and tree-walking evaluator.
//
//   Declarations decls = Declarations::EventFilter();
//   auto program = Program::Compile("operation == 'UPDATE' && row.status != old.status",
//                                   decls, {.require_bool = true});
//   if (!program) -> program.error().message() holds "ERROR: <input>:1:5: ...\n | ...\n | ..^"
//   Activation act(decls);                       // one per thread, reused per event
//   act.BindString(decls.Slot("operation"), ev.operation);   // borrowed, no copy
//   act.BindJson(decls.Slot("payload"), payload_json);          // decoded on first use only
//   act.BindField(decls.Slot("row"), decls.Slot("payload"), "row");
//   Value v = program->Evaluate(act);            // errors are values (v.IsError())
//
// A Program is immutable after Compile and may be shared by threads. An
// Activation is not thread-safe (lazy JSON bindings are parsed on first use and
// cached); everything bound as a view must outlive the evaluation.
// Evaluation of comparisons, logic and string predicates on bound strings does
// not allocate.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cel/ast.h"
#include "cel/value.h"
#include "core/error.h"

namespace pgcdc::cel {

// Variables visible to expressions: a name, a static type and a slot index.
class Declarations {
 public:
  // Adds (or retypes) a variable; returns its slot.
  int Add(std::string name, TypeKind type);
  // Slot of a variable, -1 when undeclared.
  int Slot(std::string_view name) const;
  size_t size() const { return vars_.size(); }
  const std::string& name(int slot) const { return vars_[slot].name; }
  TypeKind type(int slot) const { return vars_[slot].type; }

  // The cel_filter environment: SPEC §6.1 (channel, operation, source, id,
  // table, schema_name: string; has_record: bool) plus row, old and payload
  // (dyn: usually maps decoded from the event payload).
  static Declarations EventFilter();

 private:
  struct Var {
    std::string name;
    TypeKind type;
  };
  std::vector<Var> vars_;
};

// Converts a JSON document (strict RFC 8259, UTF-8 validated) to a CEL value:
// objects -> map(string, dyn) (a duplicate key: the last one wins), arrays ->
// list, integers -> int (uint above INT64_MAX, double beyond), other numbers ->
// double, strings, bools, null. Strings without escapes are views into
// `json_text`: keep the text alive as long as the value.
Result<Value> ValueFromJson(std::string_view json_text);

// Per-evaluation variable bindings, indexed by Declarations slot.
class Activation {
 public:
  explicit Activation(const Declarations& decls) : slots_(decls.size()) {}
  explicit Activation(size_t slots) : slots_(slots) {}

  void Bind(int slot, Value value);
  // Borrowed: `s` must stay valid until the evaluation is done.
  void BindString(int slot, std::string_view s) { Bind(slot, Value::StringView(s)); }
  void BindBool(int slot, bool b) { Bind(slot, Value::Bool(b)); }
  // Borrowed JSON text, converted with ValueFromJson on first use only (a
  // parse failure becomes an error value for expressions that use it).
  void BindJson(int slot, std::string_view json_text);
  // Binds `slot` to the `field` entry of the map bound at `source_slot`,
  // resolved on first use: null when the key is absent or the source is not a
  // map, the source's error when it has one. With BindJson on `payload` this
  // decodes the payload once for row, old and payload together:
  //   act.BindJson(payload, text); act.BindField(row, payload, "row");
  // `field` must outlive the evaluation (a literal is typical).
  void BindField(int slot, int source_slot, std::string_view field);
  // Makes every slot unbound again (an unbound variable evaluates to an error).
  void Clear();

  // The bound value (resolving a pending JSON binding), or an error value.
  const Value& Get(int slot) const;

 private:
  struct Slot {
    Value value;
    std::string_view json;  // pending JSON text, or the field name of a BindField
    int source = -1;        // BindField source slot
    bool bound = false;
    bool pending_json = false;
    bool pending_field = false;
  };
  mutable std::vector<Slot> slots_;
};

struct CompileOptions {
  // Run the checker's type rules (undeclared names are always reported).
  bool type_check = true;
  // Require the expression's static type to be bool (or dyn).
  bool require_bool = false;
};

class Program {
 public:
  // Parses and checks `expr`. Errors (kInvalidArgument) carry a rendered
  // message with line, column and a caret line.
  static Result<Program> Compile(std::string_view expr, const Declarations& decls,
                                 CompileOptions options = {});

  // Evaluates; run-time errors (division by zero, missing key, overflow, ...)
  // come back as error values, never as exceptions or crashes.
  Value Evaluate(const Activation& activation) const;
  // Same, with error values turned into Error (kInvalidArgument).
  Result<Value> EvaluateResult(const Activation& activation) const;
  // For filters: true/false, or an error when the result is an error or not a bool.
  Result<bool> EvaluateBool(const Activation& activation) const;

  TypeKind result_type() const;
  bool ResultIsBool() const { return result_type() == TypeKind::kBool; }
  // Whether the expression reads the variable (e.g. to skip decoding row/old).
  bool References(int slot) const;
  const std::string& source() const;

 private:
  struct Impl;
  explicit Program(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

}  // namespace pgcdc::cel
