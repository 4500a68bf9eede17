#include "cel/cel.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <new>
#include <string>
#include <vector>

#include "cel/parser.h"

// Counts heap allocations so tests can assert that evaluation of simple
// filters does not allocate.
namespace {
std::atomic<size_t> g_allocations{0};
}  // namespace

void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace pgcdc::cel {
namespace {

// Evaluates with no variables; returns DebugString of the result.
std::string Eval(std::string_view expr) {
  Declarations decls;
  auto program = Program::Compile(expr, decls);
  if (!program) return "COMPILE: " + program.error().message();
  Activation act(decls);
  return program->Evaluate(act).DebugString();
}

bool IsError(std::string_view expr) { return Eval(expr).rfind("error(", 0) == 0; }

// The cases of testdata/eval.txt (its header gives the format).
struct EvalCase {
  int line;
  std::string expr;
  std::string want;  // "error": any error value
};

std::vector<EvalCase> ReadEvalCases() {
  std::ifstream in(std::string(CEL_TESTDATA_DIR) + "/eval.txt");
  EXPECT_TRUE(in.good());
  std::vector<EvalCase> cases;
  std::string text;
  for (int line = 1; std::getline(in, text); ++line) {
    if (text.empty() || text[0] == '#') continue;
    text = text.substr(0, text.find("  # "));
    const size_t arrow = text.find(" => ");
    EXPECT_NE(arrow, std::string::npos) << "eval.txt:" << line << ": no \" => \"";
    if (arrow == std::string::npos) continue;
    cases.push_back({line, text.substr(0, arrow), text.substr(arrow + 4)});
  }
  return cases;
}

TEST(CelEval, Cases) {
  const std::vector<EvalCase> cases = ReadEvalCases();
  EXPECT_GE(cases.size(), 100u);
  for (const EvalCase& c : cases) {
    if (c.want == "error") {
      EXPECT_TRUE(IsError(c.expr))
          << "eval.txt:" << c.line << ": " << c.expr << " => " << Eval(c.expr);
    } else {
      EXPECT_EQ(Eval(c.expr), c.want) << "eval.txt:" << c.line << ": " << c.expr;
    }
  }
}

// What a one-line case cannot hold.
TEST(CelLiterals, MultiLineAndCompileErrors) {
  EXPECT_EQ(Eval("'''x\ny'''"), "\"x\\ny\"");
  EXPECT_EQ(
      Eval("9223372036854775808"),
      "COMPILE: ERROR: <input>:1:1: integer literal out of range\n | 9223372036854775808\n | ^");
}

TEST(CelCompile, UncheckedUndeclaredIsRuntimeError) {
  Declarations decls;
  auto p = Program::Compile("x || true", decls, {.type_check = false});
  ASSERT_TRUE(p);
  Activation act(decls);
  EXPECT_EQ(p->Evaluate(act).DebugString(), "true");
  EXPECT_FALSE(Program::Compile("x || true", decls));
}

TEST(CelCompile, ErrorsCarryPositionAndCaret) {
  Declarations decls = Declarations::EventFilter();
  auto p = Program::Compile("row.x == 1 && rows.y", decls);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().message(),
            "ERROR: <input>:1:15: undeclared reference to 'rows'\n"
            " | row.x == 1 && rows.y\n"
            " | ..............^");
  auto q = Program::Compile("operation == ", decls);
  ASSERT_FALSE(q);
  EXPECT_NE(q.error().message().find("1:14"), std::string::npos) << q.error().message();
  auto r = Program::Compile("1 + 'a'", decls);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("no matching overload for '_+_' applied to '(int, string)'"),
            std::string::npos);
  auto s = Program::Compile("operation", decls, {.require_bool = true});
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("must evaluate to bool"), std::string::npos);
  EXPECT_TRUE(Program::Compile("row.x", decls, {.require_bool = true}));  // dyn is fine
  EXPECT_FALSE(Program::Compile("'a'.matches('(')", decls));
  EXPECT_FALSE(Program::Compile("foo(1)", decls));
  EXPECT_FALSE(Program::Compile("[1].all(1, true)", decls));
  EXPECT_FALSE(Program::Compile("has(row)", decls));
  EXPECT_FALSE(Program::Compile("while", decls));
  EXPECT_FALSE(Program::Compile(std::string(1000, '('), decls));
  EXPECT_FALSE(Program::Compile(std::string(1000, '-') + "1", decls));
  std::string chain = "1";
  for (int i = 0; i < 5000; ++i) chain += " + 1";
  EXPECT_FALSE(Program::Compile(chain, decls));
  EXPECT_TRUE(Program::Compile("1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 == 12", decls));
}

TEST(CelProgram, EventFilterVariables) {
  Declarations decls = Declarations::EventFilter();
  auto program = Program::Compile(
      "operation == 'UPDATE' && row.status != old.status && channel.startsWith('pgcdc:')", decls,
      {.require_bool = true});
  ASSERT_TRUE(program) << program.error().message();
  EXPECT_TRUE(program->ResultIsBool());
  EXPECT_TRUE(program->References(decls.Slot("row")));
  EXPECT_FALSE(program->References(decls.Slot("payload")));
  Activation act(decls);
  act.BindString(decls.Slot("operation"), "UPDATE");
  act.BindString(decls.Slot("channel"), "pgcdc:orders");
  act.BindJson(decls.Slot("row"), R"({"id": 1, "status": "shipped"})");
  act.BindJson(decls.Slot("old"), R"({"id": 1, "status": "new"})");
  auto result = program->EvaluateBool(act);
  ASSERT_TRUE(result) << result.error().message();
  EXPECT_TRUE(*result);

  act.BindJson(decls.Slot("old"), R"({"id": 1, "status": "shipped"})");
  EXPECT_FALSE(*program->EvaluateBool(act));

  // Runtime errors are values, not crashes: missing key, invalid JSON.
  act.BindJson(decls.Slot("old"), R"({"id": 1})");
  EXPECT_FALSE(program->EvaluateBool(act));
  act.BindJson(decls.Slot("old"), "{not json");
  EXPECT_FALSE(program->EvaluateBool(act));
  act.Clear();
  EXPECT_FALSE(program->EvaluateBool(act));  // unbound variables -> error

  auto numbers = Program::Compile("row.id == 1 && row.price > 9.5 && row.tags[0] == 'a'", decls);
  ASSERT_TRUE(numbers);
  act.BindJson(decls.Slot("row"), R"({"id": 1, "price": 10.25, "tags": ["a"]})");
  EXPECT_TRUE(*numbers->EvaluateBool(act));
}

TEST(CelProgram, FieldBindingsDecodePayloadOnce) {
  Declarations decls = Declarations::EventFilter();
  auto program = Program::Compile("row.status != old.status && payload.table == 'orders'", decls);
  ASSERT_TRUE(program) << program.error().message();
  Activation act(decls);
  act.BindJson(
      decls.Slot("payload"),
      R"({"op":"UPDATE","table":"orders","row":{"status":"paid"},"old":{"status":"new"}})");
  act.BindField(decls.Slot("row"), decls.Slot("payload"), "row");
  act.BindField(decls.Slot("old"), decls.Slot("payload"), "old");
  EXPECT_TRUE(*program->EvaluateBool(act));
  // INSERT: old is null -> selecting a field of null is an error (event kept).
  act.BindJson(decls.Slot("payload"),
               R"({"op":"INSERT","table":"orders","row":{"status":"paid"},"old":null})");
  act.BindField(decls.Slot("row"), decls.Slot("payload"), "row");
  act.BindField(decls.Slot("old"), decls.Slot("payload"), "old");
  EXPECT_FALSE(program->EvaluateBool(act));
  auto has_old = Program::Compile("old == null && row.status == 'paid'", decls);
  ASSERT_TRUE(has_old);
  EXPECT_TRUE(*has_old->EvaluateBool(act));
  // A non-object payload gives null fields; invalid JSON gives errors.
  act.BindJson(decls.Slot("payload"), "[1]");
  act.BindField(decls.Slot("old"), decls.Slot("payload"), "old");
  act.BindField(decls.Slot("row"), decls.Slot("payload"), "row");
  EXPECT_FALSE(has_old->EvaluateBool(act));  // row is null: row.status is an error
  act.BindJson(decls.Slot("payload"), "{oops");
  act.BindField(decls.Slot("row"), decls.Slot("payload"), "row");
  act.BindField(decls.Slot("old"), decls.Slot("payload"), "old");
  EXPECT_FALSE(has_old->EvaluateBool(act));
  // Self/cyclic references do not recurse forever.
  act.BindField(decls.Slot("row"), decls.Slot("old"), "x");
  act.BindField(decls.Slot("old"), decls.Slot("row"), "y");
  EXPECT_FALSE(has_old->EvaluateBool(act));
}

TEST(CelProgram, SimpleFiltersDoNotAllocate) {
  Declarations decls = Declarations::EventFilter();
  for (const char* expr :
       {R"(operation == "INSERT" && channel.startsWith("pgcdc:"))",
        R"(table in ["orders", "users"] && !has_record || schema_name.endsWith("audit"))",
        R"(id.contains("-") && source != "wal" ? true : operation < "M")"}) {
    auto program = Program::Compile(expr, decls, {.require_bool = true});
    ASSERT_TRUE(program) << program.error().message();
    Activation act(decls);
    act.BindString(decls.Slot("operation"), "INSERT");
    act.BindString(decls.Slot("channel"), "pgcdc:orders");
    act.BindString(decls.Slot("table"), "orders");
    act.BindString(decls.Slot("schema_name"), "public");
    act.BindString(decls.Slot("id"), "a-b");
    act.BindString(decls.Slot("source"), "wal");
    act.BindBool(decls.Slot("has_record"), true);
    ASSERT_TRUE(program->EvaluateBool(act)) << expr;
    size_t before = g_allocations.load();
    for (int i = 0; i < 100; ++i) {
      act.BindString(decls.Slot("operation"), i % 2 ? "INSERT" : "UPDATE");
      Value v = program->Evaluate(act);
      ASSERT_TRUE(v.IsBool()) << expr;
    }
    EXPECT_EQ(g_allocations.load() - before, 0u) << expr;
  }
}

TEST(CelParser, RenderError) {
  EXPECT_EQ(RenderError("a\nbc d", 5, "x"), "ERROR: <input>:2:4: x\n | bc d\n | ...^");
}

}  // namespace
}  // namespace pgcdc::cel
