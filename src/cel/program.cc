#include <array>

#include "cel/cel.h"
#include "cel/checker.h"
#include "cel/eval.h"
#include "cel/parser.h"

namespace pgcdc::cel {

// ---- Declarations -----------------------------------------------------------

int Declarations::Add(std::string name, TypeKind type) {
  int slot = Slot(name);
  if (slot >= 0) {
    vars_[slot].type = type;
    return slot;
  }
  vars_.push_back(Var{std::move(name), type});
  return static_cast<int>(vars_.size()) - 1;
}

int Declarations::Slot(std::string_view name) const {
  for (size_t i = 0; i < vars_.size(); ++i) {
    if (vars_[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

Declarations Declarations::EventFilter() {
  Declarations d;
  for (const char* name : {"channel", "operation", "source", "id", "table", "schema_name"}) {
    d.Add(name, TypeKind::kString);
  }
  d.Add("has_record", TypeKind::kBool);
  for (const char* name : {"row", "old", "payload"}) d.Add(name, TypeKind::kDyn);
  return d;
}

// ---- Activation -------------------------------------------------------------

void Activation::Bind(int slot, Value value) {
  if (slot < 0 || static_cast<size_t>(slot) >= slots_.size()) return;
  Slot& s = slots_[slot];
  s.value = std::move(value);
  s.bound = true;
  s.pending_json = false;
  s.pending_field = false;
}

void Activation::BindJson(int slot, std::string_view json_text) {
  if (slot < 0 || static_cast<size_t>(slot) >= slots_.size()) return;
  Slot& s = slots_[slot];
  s.json = json_text;
  s.bound = true;
  s.pending_json = true;
  s.pending_field = false;
}

void Activation::BindField(int slot, int source_slot, std::string_view field) {
  if (slot < 0 || static_cast<size_t>(slot) >= slots_.size() || source_slot == slot) return;
  Slot& s = slots_[slot];
  s.json = field;
  s.source = source_slot;
  s.bound = true;
  s.pending_json = false;
  s.pending_field = true;
}

void Activation::Clear() {
  for (Slot& s : slots_) {
    s.bound = false;
    s.pending_json = false;
    s.pending_field = false;
    s.value = Value();
  }
}

const Value& Activation::Get(int slot) const {
  static const Value kOutOfRange = Value::Error("variable slot out of range");
  if (slot < 0 || static_cast<size_t>(slot) >= slots_.size()) return kOutOfRange;
  Slot& s = slots_[slot];
  if (s.pending_json) {
    s.pending_json = false;
    auto parsed = ValueFromJson(s.json);
    s.value = parsed ? std::move(*parsed) : Value::Error(parsed.error().message());
  } else if (s.pending_field) {
    s.pending_field = false;  // cleared first: a cycle of fields resolves to an error
    s.value = Value::Error("binding cycle");
    const Value& source = Get(s.source);
    if (source.IsError()) {
      s.value = source;
    } else if (source.kind() == Kind::kMap) {
      const Value* v = source.map().FindString(s.json);
      s.value = v != nullptr ? *v : Value::Null();
    } else {
      s.value = Value::Null();
    }
  } else if (!s.bound) {
    static const Value kUnbound = Value::Error("no value bound for variable");
    return kUnbound;
  }
  return s.value;
}

// ---- Program ----------------------------------------------------------------

struct Program::Impl {
  std::string source;
  ExprPtr root;
  int num_locals = 0;
  std::vector<bool> referenced;
};

Result<Program> Program::Compile(std::string_view expr, const Declarations& decls,
                                 CompileOptions options) {
  ParseResult parsed = Parse(expr);
  if (!parsed.expr) {
    return Fail(ErrorCode::kInvalidArgument,
                RenderError(expr, parsed.error.pos, parsed.error.message));
  }
  CheckResult checked = Check(*parsed.expr, decls, options.type_check);
  if (!checked.ok) {
    return Fail(ErrorCode::kInvalidArgument, RenderError(expr, checked.pos, checked.message));
  }
  TypeKind type = parsed.expr->type;
  if (options.require_bool && type != TypeKind::kBool && type != TypeKind::kDyn) {
    return Fail(ErrorCode::kInvalidArgument,
                RenderError(expr, parsed.expr->pos,
                            "expression must evaluate to bool, found '" +
                                std::string(TypeKindName(type)) + "'"));
  }
  auto impl = std::make_shared<Impl>();
  impl->source = std::string(expr);
  impl->root = std::move(parsed.expr);
  impl->num_locals = checked.num_locals;
  impl->referenced = std::move(checked.referenced);
  return Program(std::move(impl));
}

Value Program::Evaluate(const Activation& activation) const {
  constexpr int kInlineLocals = 8;
  if (impl_->num_locals <= kInlineLocals) {
    std::array<Value, kInlineLocals> locals;
    Evaluator evaluator(activation, locals.data());
    return evaluator.Eval(*impl_->root);
  }
  std::vector<Value> locals(impl_->num_locals);
  Evaluator evaluator(activation, locals.data());
  return evaluator.Eval(*impl_->root);
}

Result<Value> Program::EvaluateResult(const Activation& activation) const {
  Value v = Evaluate(activation);
  if (v.IsError()) return Fail(ErrorCode::kInvalidArgument, std::string(v.str()));
  return v;
}

Result<bool> Program::EvaluateBool(const Activation& activation) const {
  Value v = Evaluate(activation);
  if (v.IsError()) return Fail(ErrorCode::kInvalidArgument, std::string(v.str()));
  if (!v.IsBool()) {
    return Fail(ErrorCode::kInvalidArgument,
                "expression result is " + std::string(KindTypeName(v.kind())) + ", not bool");
  }
  return v.bool_value();
}

TypeKind Program::result_type() const { return impl_->root->type; }

bool Program::References(int slot) const {
  return slot >= 0 && static_cast<size_t>(slot) < impl_->referenced.size() &&
         impl_->referenced[slot];
}

const std::string& Program::source() const { return impl_->source; }

}  // namespace pgcdc::cel
