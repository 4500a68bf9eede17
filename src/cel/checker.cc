#include "cel/checker.h"

#include <re2/re2.h>

#include <initializer_list>

#include "core/enum_names.h"

namespace pgcdc::cel {

constexpr EnumNames<TypeKind, TypeKind::kType> kTypeKindNames(
    {"dyn", PGCDC_CEL_VALUE_TYPES(PGCDC_CEL_TYPE_NAME)}, "dyn");

std::string_view TypeKindName(TypeKind t) { return kTypeKindNames(t); }

namespace {

struct FnDef {
  const char* name;
  bool member;
  int min_args;  // including the receiver
  int max_args;
  Fn fn;
};

constexpr FnDef kFunctions[] = {
    {"_&&_", false, 2, 2, Fn::kAnd},
    {"_||_", false, 2, 2, Fn::kOr},
    {"!_", false, 1, 1, Fn::kNot},
    {"-_", false, 1, 1, Fn::kNeg},
    {"_?_:_", false, 3, 3, Fn::kCond},
    {"_==_", false, 2, 2, Fn::kEq},
    {"_!=_", false, 2, 2, Fn::kNe},
    {"_<_", false, 2, 2, Fn::kLt},
    {"_<=_", false, 2, 2, Fn::kLe},
    {"_>_", false, 2, 2, Fn::kGt},
    {"_>=_", false, 2, 2, Fn::kGe},
    {"@in", false, 2, 2, Fn::kIn},
    {"_+_", false, 2, 2, Fn::kAdd},
    {"_-_", false, 2, 2, Fn::kSub},
    {"_*_", false, 2, 2, Fn::kMul},
    {"_/_", false, 2, 2, Fn::kDiv},
    {"_%_", false, 2, 2, Fn::kMod},
    {"_[_]", false, 2, 2, Fn::kIndex},
    {"size", false, 1, 1, Fn::kSize},
    {"size", true, 1, 1, Fn::kSize},
    {"contains", true, 2, 2, Fn::kContains},
    {"startsWith", true, 2, 2, Fn::kStartsWith},
    {"endsWith", true, 2, 2, Fn::kEndsWith},
    {"matches", true, 2, 2, Fn::kMatches},
    {"matches", false, 2, 2, Fn::kMatches},
    {"int", false, 1, 1, Fn::kToInt},
    {"uint", false, 1, 1, Fn::kToUint},
    {"double", false, 1, 1, Fn::kToDouble},
    {"string", false, 1, 1, Fn::kToString},
    {"bytes", false, 1, 1, Fn::kToBytes},
    {"bool", false, 1, 1, Fn::kToBool},
    {"dyn", false, 1, 1, Fn::kDyn},
    {"type", false, 1, 1, Fn::kTypeOf},
    {"timestamp", false, 1, 1, Fn::kTimestamp},
    {"google.protobuf.Timestamp", false, 1, 1, Fn::kTimestamp},
    {"duration", false, 1, 1, Fn::kDuration},
    {"google.protobuf.Duration", false, 1, 1, Fn::kDuration},
    {"getFullYear", true, 1, 2, Fn::kGetFullYear},
    {"getMonth", true, 1, 2, Fn::kGetMonth},
    {"getDate", true, 1, 2, Fn::kGetDate},
    {"getDayOfMonth", true, 1, 2, Fn::kGetDayOfMonth},
    {"getDayOfWeek", true, 1, 2, Fn::kGetDayOfWeek},
    {"getDayOfYear", true, 1, 2, Fn::kGetDayOfYear},
    {"getHours", true, 1, 2, Fn::kGetHours},
    {"getMinutes", true, 1, 2, Fn::kGetMinutes},
    {"getSeconds", true, 1, 2, Fn::kGetSeconds},
    {"getMilliseconds", true, 1, 2, Fn::kGetMilliseconds},
    {"lowerAscii", true, 1, 1, Fn::kLowerAscii},
    {"upperAscii", true, 1, 1, Fn::kUpperAscii},
    {"trim", true, 1, 1, Fn::kTrim},
    {"indexOf", true, 2, 3, Fn::kIndexOf},
    {"lastIndexOf", true, 2, 3, Fn::kLastIndexOf},
    {"substring", true, 2, 3, Fn::kSubstring},
    {"charAt", true, 2, 2, Fn::kCharAt},
    {"replace", true, 3, 4, Fn::kReplace},
    {"split", true, 2, 3, Fn::kSplit},
    {"join", true, 1, 2, Fn::kJoin},
    {"strings.quote", false, 1, 1, Fn::kQuote},
    {"format", true, 2, 2, Fn::kFormat},
    {"reverse", true, 1, 1, Fn::kReverse},
};

// A set of static types, a bit per TypeKind.
using TypeSet = uint32_t;

constexpr TypeSet TypeBit(TypeKind t) { return TypeSet{1} << static_cast<unsigned>(t); }

constexpr TypeSet Types(std::initializer_list<TypeKind> kinds) {
  TypeSet set = 0;
  for (TypeKind t : kinds) set |= TypeBit(t);
  return set;
}

// Functions with a fixed result type whose only check is the type of the
// first argument (the receiver, or the only argument): it must be in `first`
// (or dyn).
struct Signature {
  Fn fn;
  TypeKind result;
  TypeSet first;
};

using T = TypeKind;
constexpr TypeSet kStringOnly = Types({T::kString});

constexpr Signature kSignatures[] = {
    {Fn::kNot, T::kBool, Types({T::kBool})},
    {Fn::kSize, T::kInt, Types({T::kString, T::kBytes, T::kList, T::kMap})},
    {Fn::kToInt, T::kInt, Types({T::kInt, T::kUint, T::kDouble, T::kString, T::kTimestamp})},
    {Fn::kToUint, T::kUint, Types({T::kInt, T::kUint, T::kDouble, T::kString})},
    {Fn::kToDouble, T::kDouble, Types({T::kInt, T::kUint, T::kDouble, T::kString})},
    {Fn::kToString, T::kString,
     Types({T::kInt, T::kUint, T::kDouble, T::kString, T::kBytes, T::kBool, T::kTimestamp,
            T::kDuration})},
    {Fn::kToBytes, T::kBytes, Types({T::kString, T::kBytes})},
    {Fn::kToBool, T::kBool, Types({T::kString, T::kBool})},
    {Fn::kTimestamp, T::kTimestamp, Types({T::kString, T::kInt, T::kTimestamp})},
    {Fn::kDuration, T::kDuration, Types({T::kString, T::kDuration})},
    {Fn::kLowerAscii, T::kString, kStringOnly},
    {Fn::kUpperAscii, T::kString, kStringOnly},
    {Fn::kTrim, T::kString, kStringOnly},
    {Fn::kCharAt, T::kString, kStringOnly},
    {Fn::kReplace, T::kString, kStringOnly},
    {Fn::kSubstring, T::kString, kStringOnly},
    {Fn::kIndexOf, T::kInt, kStringOnly},
    {Fn::kLastIndexOf, T::kInt, kStringOnly},
    {Fn::kSplit, T::kList, kStringOnly},
    {Fn::kJoin, T::kString, Types({T::kList})},
    {Fn::kQuote, T::kString, kStringOnly},
    {Fn::kReverse, T::kString, kStringOnly},
};

// Type names usable as identifiers (values of type `type`).
bool TypeNameValue(std::string_view name, Value& out) {
  static constexpr std::string_view kNames[] = {"int",
                                                "uint",
                                                "double",
                                                "bool",
                                                "string",
                                                "bytes",
                                                "list",
                                                "map",
                                                "null_type",
                                                "type",
                                                "google.protobuf.Timestamp",
                                                "google.protobuf.Duration"};
  for (std::string_view n : kNames) {
    if (n == name) {
      out = Value::Type(n);
      return true;
    }
  }
  return false;
}

bool IsNum(TypeKind t) {
  return t == TypeKind::kInt || t == TypeKind::kUint || t == TypeKind::kDouble;
}

class Checker {
 public:
  Checker(const Declarations& decls, bool type_check) : decls_(decls), type_check_(type_check) {
    result_.referenced.assign(decls.size(), false);
  }

  CheckResult Run(Expr& root) {
    Visit(root);
    return std::move(result_);
  }

 private:
  bool Fail(uint32_t pos, std::string message) {
    if (result_.ok) {
      result_.ok = false;
      result_.pos = pos;
      result_.message = std::move(message);
    }
    return false;
  }

  bool FailOverload(const Expr& e, const std::vector<TypeKind>& types) {
    std::string msg = "found no matching overload for '" + e.name + "' applied to '(";
    for (size_t i = 0; i < types.size(); ++i) {
      if (i) msg += ", ";
      msg += TypeKindName(types[i]);
    }
    msg += ")'";
    return Fail(e.pos, msg);
  }

  // Without type checking an unknown name is a run-time error (so that
  // `x || true` still evaluates), otherwise a compile error.
  void Undeclared(Expr& e, const std::string& name) {
    std::string msg = "undeclared reference to '" + name + "'";
    if (type_check_) {
      Fail(e.pos, msg);
      return;
    }
    e.kind = ExprKind::kConst;
    e.constant = Value::Error(msg);
    e.type = TypeKind::kDyn;
    e.args.clear();
  }

  int FindLocal(std::string_view name) const {
    for (size_t i = scopes_.size(); i-- > 0;) {
      if (scopes_[i] == name) return static_cast<int>(i);
    }
    return -1;
  }

  // Dotted name of an ident/select chain, or empty.
  static std::string Qualified(const Expr& e) {
    if (e.kind == ExprKind::kIdent) return e.name;
    if (e.kind == ExprKind::kSelect && !e.test_only) {
      std::string base = Qualified(*e.args[0]);
      if (!base.empty()) return base + "." + e.name;
    }
    return {};
  }

  // Resolves a root identifier name; false when undeclared.
  bool ResolveName(Expr& e, const std::string& name) {
    int local = FindLocal(name);
    if (local >= 0) {
      e.kind = ExprKind::kIdent;
      e.name = name;
      e.local = true;
      e.slot = local;
      e.type = TypeKind::kDyn;
      e.args.clear();
      return true;
    }
    int slot = decls_.Slot(name);
    if (slot >= 0) {
      e.kind = ExprKind::kIdent;
      e.name = name;
      e.local = false;
      e.slot = slot;
      e.type = decls_.type(slot);
      e.args.clear();
      result_.referenced[slot] = true;
      return true;
    }
    Value type_value;
    if (TypeNameValue(name, type_value)) {
      e.kind = ExprKind::kConst;
      e.constant = type_value;
      e.type = TypeKind::kType;
      e.args.clear();
      return true;
    }
    return false;
  }

  void Visit(Expr& e) {
    if (!result_.ok) return;
    switch (e.kind) {
      case ExprKind::kConst: {
        Kind k = e.constant.kind();
        if (k == Kind::kString || k == Kind::kBytes) {
          // Re-point constants at node-owned storage so evaluation copies a
          // view, not a reference-counted owner.
          e.name = std::string(e.constant.str());
          e.constant = k == Kind::kString ? Value::StringView(e.name) : Value::BytesView(e.name);
        }
        e.type = StaticType(k);
        return;
      }
      case ExprKind::kIdent: {
        std::string name = e.name;
        if (!ResolveName(e, name)) Undeclared(e, name);
        return;
      }
      case ExprKind::kSelect: {
        if (!e.test_only) {
          // A dotted name may denote a variable or type (e.g.
          // google.protobuf.Timestamp) when its root is not a variable.
          std::string q = Qualified(e);
          if (!q.empty()) {
            const Expr* root = &e;
            while (root->kind == ExprKind::kSelect) root = root->args[0].get();
            if (FindLocal(root->name) < 0 && decls_.Slot(root->name) < 0) {
              // Try the longest declared prefix first.
              if (ResolveName(e, q)) return;
            }
          }
        }
        Visit(*e.args[0]);
        if (!result_.ok) return;
        TypeKind t = e.args[0]->type;
        if (type_check_ && t != TypeKind::kDyn && t != TypeKind::kMap) {
          Fail(e.pos,
               "type '" + std::string(TypeKindName(t)) + "' does not support field selection");
          return;
        }
        e.type = e.test_only ? TypeKind::kBool : TypeKind::kDyn;
        return;
      }
      case ExprKind::kList:
        for (auto& a : e.args) Visit(*a);
        e.type = TypeKind::kList;
        FoldConstantList(e);
        return;
      case ExprKind::kMap:
        for (size_t i = 0; i < e.args.size() && result_.ok; ++i) {
          Visit(*e.args[i]);
          if (i % 2 == 0 && type_check_) {
            TypeKind k = e.args[i]->type;
            if (k != TypeKind::kDyn && k != TypeKind::kInt && k != TypeKind::kUint &&
                k != TypeKind::kBool && k != TypeKind::kString) {
              Fail(e.args[i]->pos,
                   "unsupported map key type '" + std::string(TypeKindName(k)) + "'");
            }
          }
        }
        e.type = TypeKind::kMap;
        return;
      case ExprKind::kStruct:
        Fail(e.pos, "message construction is not supported: '" + e.name + "'");
        return;
      case ExprKind::kMacro:
        VisitMacro(e);
        return;
      case ExprKind::kCall:
        VisitCall(e);
        return;
    }
  }

  // A list literal of constants becomes one constant, so `x in ['a', 'b']`
  // does not build a list per evaluation. The children stay alive (constant
  // strings are views into them) but are no longer evaluated.
  void FoldConstantList(Expr& e) {
    if (!result_.ok) return;
    ValueList items;
    items.reserve(e.args.size());
    for (const auto& a : e.args) {
      if (a->kind != ExprKind::kConst || a->constant.IsError()) return;
      items.push_back(a->constant);
    }
    e.kind = ExprKind::kConst;
    e.constant = Value::List(std::move(items));
  }

  void VisitMacro(Expr& e) {
    Visit(*e.args[0]);
    if (!result_.ok) return;
    TypeKind range = e.args[0]->type;
    if (type_check_ && range != TypeKind::kDyn && range != TypeKind::kList &&
        range != TypeKind::kMap) {
      Fail(e.pos, "expression of type '" + std::string(TypeKindName(range)) +
                      "' cannot be range of a comprehension");
      return;
    }
    e.slot = static_cast<int>(scopes_.size());
    scopes_.push_back(e.name);
    bool two = IsTwoVariableMacro(e.macro);
    if (two) scopes_.push_back(e.field_names[0]);
    if (static_cast<int>(scopes_.size()) > result_.num_locals) {
      result_.num_locals = static_cast<int>(scopes_.size());
    }
    bool transform = e.macro == MacroKind::kMap || e.macro == MacroKind::kMapFilter ||
                     e.macro == MacroKind::kTransformList || e.macro == MacroKind::kTransformMap;
    for (size_t i = 1; i < e.args.size() && result_.ok; ++i) {
      Visit(*e.args[i]);
      bool is_predicate = !(transform && i + 1 == e.args.size());
      if (result_.ok && type_check_ && is_predicate && e.args[i]->type != TypeKind::kBool &&
          e.args[i]->type != TypeKind::kDyn) {
        Fail(e.args[i]->pos,
             "predicate must be bool, found '" + std::string(TypeKindName(e.args[i]->type)) + "'");
      }
    }
    scopes_.pop_back();
    if (two) scopes_.pop_back();
    switch (e.macro) {
      case MacroKind::kMap:
      case MacroKind::kMapFilter:
      case MacroKind::kFilter:
      case MacroKind::kTransformList:
        e.type = TypeKind::kList;
        break;
      case MacroKind::kTransformMap:
        e.type = TypeKind::kMap;
        break;
      default:
        e.type = TypeKind::kBool;
        break;
    }
  }

  void VisitCall(Expr& e) {
    // A receiver-style call on a dotted name that is not a variable may be a
    // namespaced global function: strings.quote(s).
    if (e.member && !e.args.empty()) {
      std::string q = Qualified(*e.args[0]);
      if (!q.empty()) {
        const Expr* root = e.args[0].get();
        while (root->kind == ExprKind::kSelect) root = root->args[0].get();
        std::string full = q + "." + e.name;
        bool is_function = false;
        for (const FnDef& def : kFunctions) is_function |= (full == def.name && !def.member);
        if (is_function && FindLocal(root->name) < 0 && decls_.Slot(root->name) < 0) {
          e.name = full;
          e.member = false;
          e.args.erase(e.args.begin());
        }
      }
    }
    for (auto& a : e.args) {
      Visit(*a);
      if (!result_.ok) return;
    }
    int nargs = static_cast<int>(e.args.size());
    bool name_known = false;
    for (const FnDef& def : kFunctions) {
      if (e.name != def.name) continue;
      name_known = true;
      if (def.member == e.member && nargs >= def.min_args && nargs <= def.max_args) {
        e.fn = def.fn;
        break;
      }
    }
    std::vector<TypeKind> types;
    for (auto& a : e.args) types.push_back(a->type);
    if (e.fn == Fn::kUnknown) {
      if (!type_check_) {
        return;  // reported when evaluated
      } else if (!name_known) {
        Fail(e.pos, "undeclared reference to '" + e.name + "'");
      } else {
        FailOverload(e, types);
      }
      return;
    }
    if (e.fn == Fn::kMatches && e.args[1]->kind == ExprKind::kConst &&
        e.args[1]->constant.kind() == Kind::kString) {
      auto re = std::make_shared<const re2::RE2>(e.args[1]->constant.str(), RE2::Quiet);
      if (!re->ok()) {
        Fail(e.args[1]->pos, "invalid regular expression: " + re->error());
        return;
      }
      e.regex = std::move(re);
    }
    TypeKind result = TypeKind::kDyn;
    if (!Infer(e.fn, types, result) && type_check_) {
      FailOverload(e, types);
      return;
    }
    e.type = result;
  }

  // Returns false when the argument types can never match.
  static bool Infer(Fn fn, const std::vector<TypeKind>& t, TypeKind& out) {
    using T = TypeKind;
    auto any = [&](std::initializer_list<T> allowed, T x) {
      if (x == T::kDyn) return true;
      for (T a : allowed) {
        if (a == x) return true;
      }
      return false;
    };
    for (const Signature& sig : kSignatures) {
      if (sig.fn != fn) continue;
      out = sig.result;
      return t[0] == T::kDyn || (sig.first & TypeBit(t[0])) != 0;
    }
    bool dyn0 = !t.empty() && t[0] == T::kDyn;
    bool dyn1 = t.size() > 1 && t[1] == T::kDyn;
    switch (fn) {
      case Fn::kAnd:
      case Fn::kOr:
        out = T::kBool;
        return any({T::kBool}, t[0]) && any({T::kBool}, t[1]);
      case Fn::kNeg:
        out = t[0];
        return any({T::kInt, T::kDouble}, t[0]);
      case Fn::kCond:
        out = t[1] == t[2] ? t[1] : T::kDyn;
        return any({T::kBool}, t[0]);
      case Fn::kEq:
      case Fn::kNe:
        out = T::kBool;
        return true;
      case Fn::kLt:
      case Fn::kLe:
      case Fn::kGt:
      case Fn::kGe:
        out = T::kBool;
        if (dyn0 || dyn1) {
          T known = dyn0 ? t[1] : t[0];
          return any({T::kInt, T::kUint, T::kDouble, T::kString, T::kBytes, T::kBool, T::kTimestamp,
                      T::kDuration},
                     known);
        }
        if (IsNum(t[0]) && IsNum(t[1])) return true;
        return t[0] == t[1] &&
               any({T::kString, T::kBytes, T::kBool, T::kTimestamp, T::kDuration}, t[0]);
      case Fn::kIn:
        out = T::kBool;
        return any({T::kList, T::kMap}, t[1]);
      case Fn::kAdd:
      case Fn::kSub: {
        if (dyn0 || dyn1) {
          out = T::kDyn;
          return true;
        }
        T a = t[0], b = t[1];
        if (a == b) {
          out = a;
          if (fn == Fn::kAdd) {
            return any(
                {T::kInt, T::kUint, T::kDouble, T::kString, T::kBytes, T::kList, T::kDuration}, a);
          }
          if (a == T::kTimestamp) out = T::kDuration;
          return any({T::kInt, T::kUint, T::kDouble, T::kDuration, T::kTimestamp}, a);
        }
        if (a == T::kTimestamp && b == T::kDuration) {
          out = T::kTimestamp;
          return true;
        }
        if (fn == Fn::kAdd && a == T::kDuration && b == T::kTimestamp) {
          out = T::kTimestamp;
          return true;
        }
        return false;
      }
      case Fn::kMul:
      case Fn::kDiv:
      case Fn::kMod:
        if (dyn0 || dyn1) {
          out = dyn0 ? t[1] : t[0];
          if (fn == Fn::kMod) return any({T::kInt, T::kUint}, out);
          return any({T::kInt, T::kUint, T::kDouble}, out);
        }
        out = t[0];
        if (t[0] != t[1]) return false;
        if (fn == Fn::kMod) return any({T::kInt, T::kUint}, t[0]);
        return any({T::kInt, T::kUint, T::kDouble}, t[0]);
      case Fn::kIndex:
        out = T::kDyn;
        if (t[0] == T::kList) return any({T::kInt, T::kUint, T::kDouble}, t[1]);
        return any({T::kList, T::kMap}, t[0]);
      case Fn::kContains:
      case Fn::kStartsWith:
      case Fn::kEndsWith:
      case Fn::kMatches:
        out = T::kBool;
        return any({T::kString}, t[0]) && any({T::kString}, t[1]);
      case Fn::kDyn:
        out = T::kDyn;
        return true;
      case Fn::kTypeOf:
        out = T::kType;
        return true;
      case Fn::kGetFullYear:
      case Fn::kGetMonth:
      case Fn::kGetDate:
      case Fn::kGetDayOfMonth:
      case Fn::kGetDayOfWeek:
      case Fn::kGetDayOfYear:
        out = T::kInt;
        return any({T::kTimestamp}, t[0]) && (t.size() < 2 || any({T::kString}, t[1]));
      case Fn::kGetHours:
      case Fn::kGetMinutes:
      case Fn::kGetSeconds:
      case Fn::kGetMilliseconds:
        out = T::kInt;
        if (t.size() == 2) return any({T::kTimestamp}, t[0]) && any({T::kString}, t[1]);
        return any({T::kTimestamp, T::kDuration}, t[0]);
      case Fn::kFormat:
        out = T::kString;
        return any({T::kString}, t[0]) && any({T::kList}, t[1]);
      default:  // kUnknown
        return false;
    }
  }

  const Declarations& decls_;
  bool type_check_;
  std::vector<std::string> scopes_;
  CheckResult result_;
};

}  // namespace

CheckResult Check(Expr& root, const Declarations& decls, bool type_check) {
  Checker checker(decls, type_check);
  return checker.Run(root);
}

}  // namespace pgcdc::cel
