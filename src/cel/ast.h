// CEL abstract syntax tree, produced by the parser and annotated in place by
// the checker (resolved variables, function ids, static types, precompiled
// regular expressions). Internal to src/cel.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cel/value.h"

namespace re2 {
class RE2;
}

namespace pgcdc::cel {

enum class ExprKind : uint8_t {
  kConst,
  kIdent,
  kSelect,  // args[0].name; test_only for has()
  kCall,    // args = receiver (when member) + arguments
  kList,    // args = items
  kMap,     // args = key0, value0, key1, value1, ...
  kStruct,  // message construction (parsed, rejected by the checker)
  kMacro,   // comprehension macro: args = range, [filter], step
};

enum class MacroKind : uint8_t {
  kAll,
  kExists,
  kExistsOne,
  kMap,
  kMapFilter,
  kFilter,
  // Two-variable comprehensions (index/key and value): field_names[0] is the
  // second variable; args = range, [filter], step.
  kAll2,
  kExists2,
  kExistsOne2,
  kTransformList,
  kTransformMap,
};

inline bool IsTwoVariableMacro(MacroKind k) { return k >= MacroKind::kAll2; }

// Built-in functions and operators, resolved by the checker.
enum class Fn : uint8_t {
  kUnknown,
  kAnd,
  kOr,
  kNot,
  kNeg,
  kCond,
  kEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
  kIn,
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMod,
  kIndex,
  kSize,
  kContains,
  kStartsWith,
  kEndsWith,
  kMatches,
  kToInt,
  kToUint,
  kToDouble,
  kToString,
  kToBytes,
  kToBool,
  kDyn,
  kTypeOf,
  kTimestamp,
  kDuration,
  kGetFullYear,
  kGetMonth,
  kGetDate,
  kGetDayOfMonth,
  kGetDayOfWeek,
  kGetDayOfYear,
  kGetHours,
  kGetMinutes,
  kGetSeconds,
  kGetMilliseconds,
  kLowerAscii,
  kUpperAscii,
  kTrim,
  kIndexOf,
  kLastIndexOf,
  kSubstring,
  kCharAt,
  kReplace,
  kSplit,
  kJoin,
  kQuote,   // strings.quote
  kFormat,  // string.format(list)
  kReverse,
};

// getFullYear() … getMilliseconds().
constexpr bool IsTimeAccessor(Fn fn) {
  return fn >= Fn::kGetFullYear && fn <= Fn::kGetMilliseconds;
}

// The string extension functions on a string receiver: lowerAscii …
// split, quote and reverse (not join or format).
constexpr bool IsStringExtension(Fn fn) {
  return (fn >= Fn::kLowerAscii && fn <= Fn::kSplit) || fn == Fn::kQuote || fn == Fn::kReverse;
}

// Static types known to the checker: kDyn, "unknown until run time", then
// the value types in Kind's order (a Kind k is TypeKind k + 1).
enum class TypeKind : uint8_t { kDyn, PGCDC_CEL_VALUE_TYPES(PGCDC_CEL_TYPE_ENUMERATOR) };
static_assert(static_cast<int>(TypeKind::kType) == static_cast<int>(Kind::kType) + 1);

// The static type of values of kind `k` (kDyn for kError).
constexpr TypeKind StaticType(Kind k) {
  return k == Kind::kError ? TypeKind::kDyn : static_cast<TypeKind>(static_cast<uint8_t>(k) + 1);
}

std::string_view TypeKindName(TypeKind t);

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  ExprKind kind = ExprKind::kConst;
  uint32_t pos = 0;        // byte offset in the source, for error carets
  Value constant;          // kConst
  std::string name;        // ident / select field / function / iteration variable / type
  bool test_only = false;  // has(a.b)
  bool member = false;     // receiver-style call: args[0] is the receiver
  MacroKind macro = MacroKind::kAll;
  std::vector<ExprPtr> args;
  std::vector<std::string> field_names;  // kStruct field names; kMacro second variable

  // Checker annotations.
  int32_t slot = -1;   // kIdent: variable slot; kMacro: local slot of the iteration variable
  bool local = false;  // kIdent refers to a macro iteration variable (slot is local)
  Fn fn = Fn::kUnknown;
  TypeKind type = TypeKind::kDyn;
  std::shared_ptr<const re2::RE2> regex;  // kMatches with a constant pattern
};

}  // namespace pgcdc::cel
