// Expression evaluation with SQL three-valued logic (SPEC §7.2, with its
// NULL-comparison quirk fixed): any comparison, arithmetic, LIKE or IN with a
// NULL operand yields NULL; AND/OR/NOT follow SQL's truth tables; WHERE and
// HAVING keep a row only when the predicate is TRUE. Pure functions, no state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "view/query.h"

namespace boost::json {
class value;  // NOLINT(readability-identifier-naming): Boost.JSON's name
}

namespace pgcdc::view {

// What an expression reads: an event (fields) or an output row (group
// values and aggregate results).
struct EvalContext {
  // The payload's fields by Query::fields slot (FieldExtractor), or else
  // the payload as a document.
  const std::vector<Value>* fields = nullptr;
  const boost::json::value* payload = nullptr;
  std::string_view channel;
  std::string_view operation;
  std::string_view source;
  const std::vector<Value>* group = nullptr;
  const std::vector<Value>* aggregates = nullptr;
  // Incremented for arithmetic on non-numeric values and division by zero
  // (the result is NULL).
  uint64_t* type_errors = nullptr;
};

Value Eval(const Expr& expr, const EvalContext& ctx);
// Eval without a copy where the value already exists (a payload field read
// from ctx.fields); anything else is evaluated into `scratch`.
const Value& EvalRef(const Expr& expr, const EvalContext& ctx, Value& scratch);

// The field `path` of an event: "channel", "operation", "source" are the
// envelope's; anything else walks the payload (a leading "payload" is the
// payload's root). Missing → NULL. `field` is the path's Query::fields slot
// (-1: none), read from ctx.fields when the context has them.
Value ResolveField(const std::vector<std::string>& path, int field, const EvalContext& ctx);

// A JSON value as a SQL value (objects/arrays as compact JSON text).
Value FromJson(const boost::json::value& json);

// Numbers, and strings that are entirely a number; nullopt otherwise.
std::optional<double> ToNumber(const Value& v);
// Go's %v-like text: integers without a fraction, floats shortest, true/false.
std::string ToText(const Value& v);
void AppendText(std::string& out, const Value& v);  // ToText(v) appended
// Both non-null: numerically when both convert to numbers, else as text.
int Compare(const Value& a, const Value& b);
// SQL LIKE: % any run, _ one character, backslash escapes the next.
bool Like(std::string_view text, std::string_view pattern);

// Writes `v` as a JSON value (floats that are not finite become null).
void WriteValue(json::Writer& w, const Value& v);

}  // namespace pgcdc::view
