#include "cel/cel.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

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

TEST(CelLiterals, Scalars) {
  EXPECT_EQ(Eval("1"), "1");
  EXPECT_EQ(Eval("-9223372036854775808"), "-9223372036854775808");
  EXPECT_EQ(Eval("18446744073709551615u"), "18446744073709551615u");
  EXPECT_EQ(Eval("0x1F"), "31");
  EXPECT_EQ(Eval("1.5"), "1.5");
  EXPECT_EQ(Eval("1e3"), "1000.0");
  EXPECT_EQ(Eval("'a\\nb'"), "\"a\\nb\"");
  EXPECT_EQ(Eval("r'a\\nb'"), "\"a\\\\nb\"");
  EXPECT_EQ(Eval("b'\\xff'"), "b\"\\xff\"");
  EXPECT_EQ(Eval("'''x\ny'''"), "\"x\\ny\"");
  EXPECT_EQ(Eval("'\\u00e9' == 'é'"), "true");
  EXPECT_EQ(Eval("null"), "null");
  EXPECT_EQ(Eval("[1, 'a', true]"), "[1, \"a\", true]");
  EXPECT_EQ(Eval("{'a': 1}['a']"), "1");
  EXPECT_EQ(
      Eval("9223372036854775808"),
      "COMPILE: ERROR: <input>:1:1: integer literal out of range\n | 9223372036854775808\n | ^");
}

TEST(CelArithmetic, OverflowAndDivision) {
  EXPECT_EQ(Eval("2 + 3 * 4"), "14");
  EXPECT_EQ(Eval("7 / 2"), "3");
  EXPECT_EQ(Eval("-7 % 3"), "-1");
  EXPECT_TRUE(IsError("9223372036854775807 + 1"));
  EXPECT_TRUE(IsError("-9223372036854775808 - 1"));
  EXPECT_TRUE(IsError("-(-9223372036854775808)"));
  EXPECT_TRUE(IsError("1 / 0"));
  EXPECT_TRUE(IsError("1 % 0"));
  EXPECT_TRUE(IsError("0u - 1u"));
  EXPECT_TRUE(IsError("-9223372036854775808 / -1"));
  EXPECT_EQ(Eval("1.0 / 0.0"), "+Inf");
  EXPECT_EQ(Eval("'ab' + 'cd'"), "\"abcd\"");
  EXPECT_EQ(Eval("[1] + [2]"), "[1, 2]");
  EXPECT_TRUE(IsError("dyn(1) + 1u"));
}

TEST(CelLogic, ErrorAbsorption) {
  EXPECT_EQ(Eval("false && (1 / 0 == 1)"), "false");
  EXPECT_EQ(Eval("(1 / 0 == 1) && false"), "false");
  EXPECT_EQ(Eval("(1 / 0 == 1) || true"), "true");
  EXPECT_TRUE(IsError("(1 / 0 == 1) || false"));
  EXPECT_TRUE(IsError("true && (1 / 0 == 1)"));
  EXPECT_EQ(Eval("true ? 1 : 1 / 0"), "1");
  EXPECT_EQ(Eval("!true"), "false");
}

TEST(CelEquality, Heterogeneous) {
  EXPECT_EQ(Eval("dyn(1) == 1u"), "true");
  EXPECT_EQ(Eval("dyn(1) == 1.0"), "true");
  EXPECT_EQ(Eval("dyn(1) == 'a'"), "false");
  EXPECT_EQ(Eval("[1, 2] == [1.0, 2u]"), "true");
  EXPECT_EQ(Eval("{'a': 1} == {'a': 1u}"), "true");
  EXPECT_EQ(Eval("0.0/0.0 == 0.0/0.0"), "false");
  EXPECT_EQ(Eval("1 < 2u && 2.5 > 1 && -1 < 0u"), "true");
  EXPECT_EQ(Eval("'a' < 'b' && b'a' < b'b'"), "true");
}

TEST(CelMacros, Comprehensions) {
  EXPECT_EQ(Eval("[1, 2, 3].all(x, x > 0)"), "true");
  EXPECT_EQ(Eval("[1, 2, 3].exists(x, x > 2)"), "true");
  EXPECT_EQ(Eval("[1, 2, 3].exists_one(x, x > 1)"), "false");
  EXPECT_EQ(Eval("[1, 2, 3].map(x, x * 2)"), "[2, 4, 6]");
  EXPECT_EQ(Eval("[1, 2, 3].map(x, x > 1, x * 2)"), "[4, 6]");
  EXPECT_EQ(Eval("[1, 2, 3].filter(x, x != 2)"), "[1, 3]");
  EXPECT_EQ(Eval("{'a': 1, 'b': 2}.all(k, k.size() == 1)"), "true");
  EXPECT_EQ(Eval("[0, 1].exists(x, 1 / x == 1)"), "true");  // error absorbed
  EXPECT_TRUE(IsError("[0, 1].all(x, 1 / x == 1)"));
  EXPECT_EQ(Eval("[[1], [2, 3]].all(l, l.all(x, x > 0))"), "true");
  EXPECT_EQ(Eval("has({'a': 1}.a) && !has({'a': 1}.b)"), "true");
}

TEST(CelStrings, Functions) {
  EXPECT_EQ(Eval("'pgcdc:orders'.startsWith('pgcdc:')"), "true");
  EXPECT_EQ(Eval("'abc'.endsWith('bc') && 'abc'.contains('b')"), "true");
  EXPECT_EQ(Eval("'héllo'.size()"), "5");
  EXPECT_EQ(Eval("size(b'h\\xc3\\xa9')"), "3");
  EXPECT_EQ(Eval("'order-123'.matches('^order-[0-9]+$')"), "true");
  EXPECT_EQ(Eval("matches('abc', 'z')"), "false");
  EXPECT_EQ(Eval("'a' in ['a', 'b'] && 'k' in {'k': 1}"), "true");
  EXPECT_EQ(Eval("'AbC'.lowerAscii()"), "\"abc\"");
  EXPECT_EQ(Eval("'a,b,c'.split(',')"), "[\"a\", \"b\", \"c\"]");
  EXPECT_EQ(Eval("['a', 'b'].join('-')"), "\"a-b\"");
  EXPECT_EQ(Eval("'tacocat'.substring(4)"), "\"cat\"");
  EXPECT_TRUE(IsError("'x'.substring(5)"));
}

TEST(CelExtensions, FormatQuoteAndTwoVariableMacros) {
  EXPECT_EQ(Eval("'%s is %d, %.2f, %x'.format(['a', 42, 3.14159, 255])"), "\"a is 42, 3.14, ff\"");
  EXPECT_EQ(Eval("'%s'.format([{'b': 1, 'a': [true, null]}])"), "\"{a: [true, null], b: 1}\"");
  EXPECT_TRUE(IsError("'%d'.format(['x'])"));
  EXPECT_TRUE(IsError("'%s %s'.format(['x'])"));
  EXPECT_EQ(Eval(R"(strings.quote('a"b\n') == '"a\\"b\\n"')"), "true");
  EXPECT_EQ(Eval("'abc'.reverse()"), "\"cba\"");
  EXPECT_EQ(Eval("' \\u00a0x\\t'.trim()"), "\"x\"");
  EXPECT_EQ(Eval("[10, 20].all(i, v, v == (i + 1) * 10)"), "true");
  EXPECT_EQ(Eval("{'a': 1}.transformMap(k, v, v * 2)"), "{\"a\": 2}");
  EXPECT_EQ(Eval("[1, 2, 3].transformList(i, v, i > 0, v)"), "[2, 3]");
  EXPECT_EQ(Eval("{'content-type': 'json'}.`content-type`"), "\"json\"");
}

TEST(CelCompile, UncheckedUndeclaredIsRuntimeError) {
  Declarations decls;
  auto p = Program::Compile("x || true", decls, {.type_check = false});
  ASSERT_TRUE(p);
  Activation act(decls);
  EXPECT_EQ(p->Evaluate(act).DebugString(), "true");
  EXPECT_FALSE(Program::Compile("x || true", decls));
}

TEST(CelConversions, All) {
  EXPECT_EQ(Eval("int('42') + int(2.9) + int(3u)"), "47");
  EXPECT_TRUE(IsError("int('x')"));
  EXPECT_TRUE(IsError("int(1e19)"));
  EXPECT_TRUE(IsError("uint(-1)"));
  EXPECT_EQ(Eval("double('1.5')"), "1.5");
  EXPECT_EQ(Eval("string(12) + string(1.5) + string(true)"), "\"121.5true\"");
  EXPECT_EQ(Eval("string(b'abc')"), "\"abc\"");
  EXPECT_TRUE(IsError("string(b'\\xff')"));
  EXPECT_EQ(Eval("bool('true')"), "true");
  EXPECT_EQ(Eval("type(1) == int && type('a') == string && type(type(1)) == type"), "true");
  EXPECT_EQ(Eval("type(timestamp(0)) == google.protobuf.Timestamp"), "true");
}

TEST(CelTime, TimestampsAndDurations) {
  EXPECT_EQ(Eval("string(timestamp('2009-02-13T23:31:30Z'))"), "\"2009-02-13T23:31:30Z\"");
  EXPECT_EQ(Eval("int(timestamp('2009-02-13T23:31:30Z'))"), "1234567890");
  EXPECT_EQ(Eval("string(timestamp('2009-02-13T23:31:30.123456789+01:00'))"),
            "\"2009-02-13T22:31:30.123456789Z\"");
  EXPECT_EQ(Eval("string(duration('1h2m3.5s'))"), "\"3723.5s\"");
  EXPECT_EQ(Eval("string(timestamp('2009-02-13T23:31:30Z') + duration('1h'))"),
            "\"2009-02-14T00:31:30Z\"");
  EXPECT_EQ(Eval("timestamp('2009-02-13T23:31:30Z') - timestamp('2009-02-13T23:31:00Z') == "
                 "duration('30s')"),
            "true");
  EXPECT_EQ(Eval("timestamp('2020-01-01T00:00:00Z') < timestamp('2021-01-01T00:00:00Z')"), "true");
  EXPECT_TRUE(IsError("timestamp('10000-01-01T00:00:00Z')"));
  EXPECT_TRUE(IsError("timestamp('9999-12-31T23:59:59Z') + duration('1s')"));
  EXPECT_TRUE(IsError("duration('1x')"));
  EXPECT_EQ(Eval("timestamp('2009-02-13T23:31:30Z').getFullYear()"), "2009");
  EXPECT_EQ(Eval("timestamp('2009-02-13T23:31:30Z').getMonth()"), "1");
  EXPECT_EQ(Eval("timestamp('2009-02-13T23:31:30Z').getDayOfWeek()"), "5");
  EXPECT_EQ(Eval("timestamp('2009-02-13T23:31:30Z').getDayOfYear()"), "43");
  EXPECT_EQ(Eval("timestamp('2009-02-13T23:31:30Z').getHours('+01:00')"), "0");
  EXPECT_EQ(Eval("timestamp('2009-07-13T23:31:30Z').getHours('America/Los_Angeles')"), "16");
  EXPECT_EQ(Eval("duration('1h30m').getMinutes()"), "90");
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
