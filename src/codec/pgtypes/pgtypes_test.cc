#include "codec/pgtypes/pgtypes.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "core/json.h"

namespace pgcdc::pgtypes {
namespace {

using namespace std::string_literals;

// Built-in OIDs used below.
constexpr uint32_t kBool = 16, kBytea = 17, kChar = 18, kName = 19, kInt8 = 20, kInt2 = 21,
                   kInt2Vector = 22, kInt4 = 23, kText = 25, kOid = 26, kOidVector = 30,
                   kJson = 114, kPoint = 600, kFloat4 = 700, kFloat8 = 701, kMoney = 790,
                   kInet = 869, kBoolArray = 1000, kInt2VectorArray = 1006, kInt4Array = 1007,
                   kTextArray = 1009, kBoxArray = 1020, kFloat8Array = 1022, kDate = 1082,
                   kTime = 1083, kTimestamp = 1114, kTimestampArray = 1115, kTimestampTz = 1184,
                   kTimestampTzArray = 1185, kInterval = 1186, kNumericArray = 1231, kTimeTz = 1266,
                   kVarbit = 1562, kNumeric = 1700, kUuid = 2950, kJsonb = 3802, kJsonbArray = 3807,
                   kInt4Range = 3904, kInt4RangeArray = 3905;

// User OIDs.
constexpr uint32_t kMood = 16400, kMoodArray = 16401, kPosInt = 16402, kPosIntArray = 16403,
                   kPair = 16404, kPairArray = 16405, kNested = 16406, kIntList = 16407,
                   kPosPosInt = 16408, kEmpty = 16409, kHstore = 16410, kCycleA = 16411,
                   kCycleB = 16412, kOne = 16413;

TypeCatalog MakeCatalog() {
  TypeCatalog c;
  c.AddEnum(kMood);
  c.AddArray(kMoodArray, kMood, ',');
  c.AddDomain(kPosInt, kInt4);
  c.AddArray(kPosIntArray, kPosInt, ',');
  c.AddDomain(kPosPosInt, kPosInt);
  c.AddComposite(kPair,
                 {{"n", kInt4}, {"label", kText}, {"tags", kTextArray}, {"at", kTimestampTz}});
  c.AddArray(kPairArray, kPair, ',');
  c.AddComposite(kNested, {{"p", kPair}, {"ok", kBool}, {"we\"ird", kNumeric}});
  c.AddDomain(kIntList, kInt4Array);
  c.AddComposite(kEmpty, {});
  c.AddJsonCast(kHstore);
  c.AddDomain(kCycleA, kCycleB);
  c.AddDomain(kCycleB, kCycleA);
  c.AddComposite(kOne, {{"x", kText}});
  return c;
}

const TypeCatalog& Catalog() {
  static const TypeCatalog* c = new TypeCatalog(MakeCatalog());
  return *c;
}

// Converts and expects success.
std::string J(uint32_t oid, std::string_view text) {
  std::string out;
  Status s = AppendValueJson(Catalog(), oid, text, out);
  EXPECT_TRUE(s) << "oid " << oid << " text " << text << ": " << s.error().message();
  return out;
}

// Converts and expects a parse error with the string fallback.
void ExpectFallback(uint32_t oid, std::string_view text, std::string_view expected_json) {
  std::string out = "prefix,";
  Status s = AppendValueJson(Catalog(), oid, text, out);
  ASSERT_FALSE(s) << "oid " << oid << " text " << text << " gave " << out;
  EXPECT_EQ(s.error().code(), ErrorCode::kParse);
  EXPECT_EQ(out, "prefix,"s + std::string(expected_json)) << text;
}

// ---------------------------------------------------------------------------
// Scalars

TEST(PgTypesScalar, Bool) {
  EXPECT_EQ(J(kBool, "t"), "true");
  EXPECT_EQ(J(kBool, "f"), "false");
  ExpectFallback(kBool, "yes", R"("yes")");
}

TEST(PgTypesScalar, Integers) {
  EXPECT_EQ(J(kInt2, "-32768"), "-32768");
  EXPECT_EQ(J(kInt4, "0"), "0");
  EXPECT_EQ(J(kInt8, "9223372036854775807"), "9223372036854775807");  // no >15-digit rule
  ExpectFallback(kInt4, "garbage", R"("garbage")");
  ExpectFallback(kNumeric, "1.", R"("1.")");
}

TEST(PgTypesScalar, Floats) {
  EXPECT_EQ(J(kFloat8, "1.5"), "1.5");
  EXPECT_EQ(J(kFloat8, "-0"), "-0");
  EXPECT_EQ(J(kFloat8, "1e+300"), "1e+300");
  EXPECT_EQ(J(kFloat8, "1e-07"), "1e-07");
  EXPECT_EQ(J(kFloat8, "1.2345678901234567e+19"), "1.2345678901234567e+19");
  EXPECT_EQ(J(kFloat4, "3.4028235e+38"), "3.4028235e+38");
  EXPECT_EQ(J(kFloat8, "NaN"), R"("NaN")");
  EXPECT_EQ(J(kFloat8, "Infinity"), R"("Infinity")");
  EXPECT_EQ(J(kFloat4, "-Infinity"), R"("-Infinity")");
}

TEST(PgTypesScalar, Numeric) {
  EXPECT_EQ(J(kNumeric, "0"), "0");
  EXPECT_EQ(J(kNumeric, "0.000"), "0.000");
  EXPECT_EQ(J(kNumeric, "-12.50"), "-12.50");
  EXPECT_EQ(J(kNumeric, "123456789012345"), "123456789012345");             // 15 digits
  EXPECT_EQ(J(kNumeric, "1234567890123456"), R"("1234567890123456")");      // 16 digits
  EXPECT_EQ(J(kNumeric, "12345678901234.5"), "12345678901234.5");           // 15 digits
  EXPECT_EQ(J(kNumeric, "0.1234567890123456"), R"("0.1234567890123456")");  // 16 digits
  EXPECT_EQ(J(kNumeric, "0.000000000000000000001"), "0.000000000000000000001");
  // Trailing zeros are not significant: 1.5 round-trips.
  EXPECT_EQ(J(kNumeric, "1.5000000000000000000000"), "1.5000000000000000000000");
  EXPECT_EQ(J(kNumeric, "100000000000000000000000"), "100000000000000000000000");
  EXPECT_EQ(J(kNumeric, "-12345678901234567890.123"), R"("-12345678901234567890.123")");
  // Exponent range: 1e307 is fine, 1e308 and 1e-308 are not.
  const std::string e307 = "1" + std::string(307, '0');
  const std::string e308 = "1" + std::string(308, '0');
  EXPECT_EQ(J(kNumeric, e307), e307);
  EXPECT_EQ(J(kNumeric, e308), "\"" + e308 + "\"");
  const std::string em307 = "0." + std::string(306, '0') + "1";
  const std::string em308 = "0." + std::string(307, '0') + "1";
  EXPECT_EQ(J(kNumeric, em307), em307);
  EXPECT_EQ(J(kNumeric, em308), "\"" + em308 + "\"");
  EXPECT_EQ(J(kNumeric, "NaN"), R"("NaN")");
  EXPECT_EQ(J(kNumeric, "Infinity"), R"("Infinity")");
  EXPECT_EQ(J(kNumeric, "-Infinity"), R"("-Infinity")");
}

TEST(PgTypesScalar, IsJsonNumber) {
  for (const char* ok : {"0", "-0", "1", "10", "1.5", "-0.25", "1e5", "1E+5", "1e-05", "0.0e0"}) {
    EXPECT_TRUE(IsJsonNumber(ok)) << ok;
  }
  for (const char* bad : {"", "-", "01", "+1", ".5", "1.", "1e", "1e+", "1 ", " 1", "0x10", "NaN",
                          "Infinity", "1.5.5", "--1", "1e5e5"}) {
    EXPECT_FALSE(IsJsonNumber(bad)) << bad;
  }
}

TEST(PgTypesScalar, Strings) {
  EXPECT_EQ(J(kText, "hello"), R"("hello")");
  EXPECT_EQ(J(kText, ""), R"("")");
  EXPECT_EQ(J(kText, "a\"b\\c\n\t<&>"), R"("a\"b\\c\n\t<&>")");
  EXPECT_EQ(J(kText, "caf\xC3\xA9"), "\"caf\xC3\xA9\"");
  EXPECT_EQ(J(kText, "bad\xFF"), "\"bad\xEF\xBF\xBD\"");  // invalid UTF-8 replaced
  EXPECT_EQ(J(kBytea, "\\x0102"), R"("\\x0102")");
  EXPECT_EQ(J(kChar, "a"), R"("a")");
  EXPECT_EQ(J(kName, "pg_class"), R"("pg_class")");
  EXPECT_EQ(J(kOid, "26"), R"("26")");  // oid is not a to_json number type
  EXPECT_EQ(J(kMoney, "$1,234.50"), R"("$1,234.50")");
  EXPECT_EQ(J(kUuid, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
            R"("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")");
  EXPECT_EQ(J(kInet, "192.168.0.1/24"), R"("192.168.0.1/24")");
  EXPECT_EQ(J(kVarbit, "10101"), R"("10101")");
  EXPECT_EQ(J(kInt4Range, "[1,10)"), R"j("[1,10)")j");
  EXPECT_EQ(J(kPoint, "(1,2)"), R"j("(1,2)")j");
  EXPECT_EQ(J(kInterval, "1 year 2 mons 3 days 04:05:06.5"),
            R"("1 year 2 mons 3 days 04:05:06.5")");
  EXPECT_EQ(J(kInterval, "-00:00:01"), R"("-00:00:01")");
  EXPECT_EQ(J(kTime, "24:00:00"), R"("24:00:00")");
  EXPECT_EQ(J(kTimeTz, "12:00:00.25+05:30"), R"("12:00:00.25+05:30")");
  EXPECT_EQ(J(kMood, "happy"), R"("happy")");
  EXPECT_EQ(J(99999, "unknown type"), R"("unknown type")");
  EXPECT_EQ(J(kHstore, R"("a"=>"1")"), R"("\"a\"=>\"1\"")");
}

TEST(PgTypesScalar, Dates) {
  EXPECT_EQ(J(kDate, "2026-11-24"), R"("2026-11-24")");
  EXPECT_EQ(J(kDate, "0044-03-15 BC"), R"("0044-03-15 BC")");
  EXPECT_EQ(J(kDate, "10000-01-01"), R"("10000-01-01")");
  EXPECT_EQ(J(kDate, "infinity"), R"("infinity")");
  EXPECT_EQ(J(kDate, "-infinity"), R"("-infinity")");
  ExpectFallback(kDate, "11-24-2026", R"("11-24-2026")");  // Postgres DateStyle
  ExpectFallback(kDate, "11/24/2026", R"("11/24/2026")");  // SQL DateStyle
  ExpectFallback(kDate, "2026-11-24 AD", R"("2026-11-24 AD")");
}

TEST(PgTypesScalar, Timestamps) {
  EXPECT_EQ(J(kTimestamp, "2026-11-24 02:34:37.913847"), R"("2026-11-24T02:34:37.913847")");
  EXPECT_EQ(J(kTimestamp, "2026-11-24 02:34:37"), R"("2026-11-24T02:34:37")");
  EXPECT_EQ(J(kTimestamp, "2026-11-24 02:34:37.5"), R"("2026-11-24T02:34:37.5")");
  EXPECT_EQ(J(kTimestamp, "0044-03-15 12:00:01.5 BC"), R"("0044-03-15T12:00:01.5 BC")");
  EXPECT_EQ(J(kTimestamp, "294276-12-31 23:59:59.999999"), R"("294276-12-31T23:59:59.999999")");
  EXPECT_EQ(J(kTimestamp, "infinity"), R"("infinity")");
  EXPECT_EQ(J(kTimestamp, "-infinity"), R"("-infinity")");
  ExpectFallback(kTimestamp, "Tue Nov 24 02:34:37 2026", R"("Tue Nov 24 02:34:37 2026")");
  ExpectFallback(kTimestamp, "2026-11-24T02:34:37", R"("2026-11-24T02:34:37")");
  ExpectFallback(kTimestamp, "2026-11-24 02:34", R"("2026-11-24 02:34")");
  ExpectFallback(kTimestamp, "2026-11-24 02:34:37.", R"("2026-11-24 02:34:37.")");
  ExpectFallback(kTimestamp, "2026-11-24 02:34:37+00", R"("2026-11-24 02:34:37+00")");
}

TEST(PgTypesScalar, TimestampTz) {
  EXPECT_EQ(J(kTimestampTz, "2026-11-24 02:34:37.913847+00"),
            R"("2026-11-24T02:34:37.913847+00:00")");
  EXPECT_EQ(J(kTimestampTz, "2026-11-24 08:04:37+05:30"), R"("2026-11-24T08:04:37+05:30")");
  EXPECT_EQ(J(kTimestampTz, "1800-01-01 00:00:00-04:56:02"), R"("1800-01-01T00:00:00-04:56:02")");
  EXPECT_EQ(J(kTimestampTz, "0044-03-15 12:00:01.5-04:56:02 BC"),
            R"("0044-03-15T12:00:01.5-04:56:02 BC")");
  EXPECT_EQ(J(kTimestampTz, "0044-03-15 12:00:00+00 BC"), R"("0044-03-15T12:00:00+00:00 BC")");
  EXPECT_EQ(J(kTimestampTz, "infinity"), R"("infinity")");
  EXPECT_EQ(J(kTimestampTz, "-infinity"), R"("-infinity")");
  ExpectFallback(kTimestampTz, "2026-11-24 02:34:37", R"("2026-11-24 02:34:37")");
  ExpectFallback(kTimestampTz, "2026-11-24 02:34:37 UTC", R"("2026-11-24 02:34:37 UTC")");
  ExpectFallback(kTimestampTz, "2026-11-24 02:34:37+5", R"("2026-11-24 02:34:37+5")");
}

TEST(PgTypesScalar, Json) {
  EXPECT_EQ(J(kJson, R"({ "a" : [1, 2.50, "x"], "b": null })"), R"({"a":[1,2.50,"x"],"b":null})");
  EXPECT_EQ(J(kJsonb, R"({"a": 1, "b": {"c": true}})"), R"({"a":1,"b":{"c":true}})");
  EXPECT_EQ(J(kJsonb, "\"str\""), "\"str\"");
  EXPECT_EQ(J(kJsonb, "12345678901234567890"), "12345678901234567890");  // spelling kept
  EXPECT_EQ(J(kJson, "\n[]\n"), "[]");
  ExpectFallback(kJson, "{bad", R"("{bad")");
  ExpectFallback(kJsonb, "", R"("")");
}

TEST(PgTypesScalar, Domains) {
  EXPECT_EQ(J(kPosInt, "42"), "42");
  EXPECT_EQ(J(kPosPosInt, "7"), "7");        // domain over domain
  EXPECT_EQ(J(kIntList, "{1,2}"), "[1,2]");  // domain over array
  ExpectFallback(kCycleA, "1", R"("1")");    // cyclic registration cannot hang
}

// ---------------------------------------------------------------------------
// Arrays

TEST(PgTypesArray, Basic) {
  EXPECT_EQ(J(kInt4Array, "{1,2,3}"), "[1,2,3]");
  EXPECT_EQ(J(kInt4Array, "{}"), "[]");
  EXPECT_EQ(J(kInt4Array, "{NULL,1,null,NuLl}"), "[null,1,null,null]");
  EXPECT_EQ(J(kBoolArray, "{t,f,NULL}"), "[true,false,null]");
  EXPECT_EQ(J(kFloat8Array, "{1.5,NaN,-Infinity,-0}"), R"([1.5,"NaN","-Infinity",-0])");
  EXPECT_EQ(J(kNumericArray, "{1.10,12345678901234567890}"), R"([1.10,"12345678901234567890"])");
}

TEST(PgTypesArray, QuotedElements) {
  EXPECT_EQ(J(kTextArray, R"({"a\"b","c,d",NULL,"NULL"})"), R"(["a\"b","c,d",null,"NULL"])");
  EXPECT_EQ(J(kTextArray, R"({"",abc," x ","{}","back\\slash"})"),
            R"(["","abc"," x ","{}","back\\slash"])");
  EXPECT_EQ(J(kTextArray, R"({"with a very long escaped \"value\" that leaves SSO"})"),
            R"(["with a very long escaped \"value\" that leaves SSO"])");
  EXPECT_EQ(J(kTextArray, "{\"caf\xC3\xA9\",\xFF}"), "[\"caf\xC3\xA9\",\"\xEF\xBF\xBD\"]");
  // array_in's laxer forms: whitespace, partial quoting, escapes outside quotes.
  EXPECT_EQ(J(kTextArray, R"( { a b , "q" , x\,y , ab"c d"e } )"), R"(["a b","q","x,y","abc de"])");
  EXPECT_EQ(J(kTextArray, R"({"NULL" , \NULL})"), R"(["NULL","NULL"])");
  EXPECT_EQ(J(kTextArray, R"({""})"), R"([""])");
}

TEST(PgTypesArray, MultiDimensional) {
  EXPECT_EQ(J(kInt4Array, "{{1,2},{3,4}}"), "[[1,2],[3,4]]");
  EXPECT_EQ(J(kTextArray, R"({{"a b",c},{NULL,"}"}})"), R"([["a b","c"],[null,"}"]])");
  EXPECT_EQ(J(kInt4Array, "{{{1},{2}},{{3},{4}}}"), "[[[1],[2]],[[3],[4]]]");
}

TEST(PgTypesArray, Bounds) {
  EXPECT_EQ(J(kInt4Array, "[0:1]={1,2}"), "[1,2]");
  EXPECT_EQ(J(kInt4Array, "[2:3][-1:0]={{1,2},{3,4}}"), "[[1,2],[3,4]]");
  ExpectFallback(kInt4Array, "[0:1]{1,2}", R"("[0:1]{1,2}")");
  ExpectFallback(kInt4Array, "[0:x]={1,2}", R"("[0:x]={1,2}")");
}

TEST(PgTypesArray, ElementTypes) {
  EXPECT_EQ(J(kTimestampTzArray, R"({"2020-01-01 10:00:00+00",infinity})"),
            R"(["2020-01-01T10:00:00+00:00","infinity"])");
  EXPECT_EQ(J(kTimestampArray, R"({"0044-03-15 12:00:00 BC"})"), R"(["0044-03-15T12:00:00 BC"])");
  EXPECT_EQ(J(kJsonbArray, R"({"{\"a\": [1, 2]}",NULL,"\"s\""})"), R"([{"a":[1,2]},null,"s"])");
  EXPECT_EQ(J(kBoxArray, "{(1,2),(0,0);(3,3),(1,1)}"), R"j(["(1,2),(0,0)","(3,3),(1,1)"])j");
  EXPECT_EQ(J(kInt4RangeArray, R"j({"[1,3)",empty})j"), R"j(["[1,3)","empty"])j");
  EXPECT_EQ(J(kMoodArray, "{happy,sad}"), R"(["happy","sad"])");
  EXPECT_EQ(J(kPosIntArray, "{1,NULL}"), "[1,null]");
  EXPECT_EQ(J(kInt2VectorArray, R"({"1 2",3,""})"), "[[1,2],[3],[]]");
}

TEST(PgTypesArray, Vectors) {
  EXPECT_EQ(J(kInt2Vector, "1 2 3"), "[1,2,3]");
  EXPECT_EQ(J(kInt2Vector, ""), "[]");
  EXPECT_EQ(J(kOidVector, "23 25"), R"(["23","25"])");
}

TEST(PgTypesArray, Malformed) {
  for (const char* bad : {"", "1,2", "{1,2", "{1,2}}", "{1,,2}", "{,}", "{1,2}x", R"({"abc)",
                          R"({"a"b)", "{1 2,{3}}", "{a\\", "{{1},2", "}", "{{1}{2}}"}) {
    std::string expected;
    json::AppendString(expected, bad);
    ExpectFallback(kInt4Array, bad, expected);
  }
  // An element that does not convert poisons the whole value.
  ExpectFallback(kBoolArray, "{t,maybe}", R"("{t,maybe}")");
  ExpectFallback(kJsonbArray, R"({"{bad"})", R"("{\"{bad\"}")");
  // Depth is capped.
  const std::string deep = std::string(1000, '{') + std::string(1000, '}');
  std::string expected;
  json::AppendString(expected, deep);
  ExpectFallback(kInt4Array, deep, expected);
}

// ---------------------------------------------------------------------------
// Composites

TEST(PgTypesComposite, Basic) {
  EXPECT_EQ(J(kPair, R"((1,"a b","{x,""y z""}","2020-01-01 00:00:00+00"))"),
            R"({"n":1,"label":"a b","tags":["x","y z"],"at":"2020-01-01T00:00:00+00:00"})");
  EXPECT_EQ(J(kPair, "(,,,)"), R"({"n":null,"label":null,"tags":null,"at":null})");
  EXPECT_EQ(J(kPair, R"((2,"",{},))"), R"({"n":2,"label":"","tags":[],"at":null})");
  EXPECT_EQ(J(kPair, R"((3,"say ""hi"" \\o/",,))"),
            R"({"n":3,"label":"say \"hi\" \\o/","tags":null,"at":null})");
  EXPECT_EQ(J(kPair, R"((4,"a,b)c(",,))"), R"({"n":4,"label":"a,b)c(","tags":null,"at":null})");
  EXPECT_EQ(J(kEmpty, "()"), "{}");
  EXPECT_EQ(J(kOne, "()"), R"({"x":null})");
  ExpectFallback(kOne, R"("")", R"("\"\"")");  // not a record
}

TEST(PgTypesComposite, Nested) {
  EXPECT_EQ(J(kNested, R"j(("(1,""x y"",""{a,b}"",)",t,12345678901234567890))j"),
            R"({"p":{"n":1,"label":"x y","tags":["a","b"],"at":null},"ok":true,)"
            R"("we\"ird":"12345678901234567890"})");
  EXPECT_EQ(J(kPairArray, R"j({"(1,x,,)","(2,\"y z\",\"{\"\"a\\\\\"\"b\"\"}\",)",NULL})j"),
            R"([{"n":1,"label":"x","tags":null,"at":null},)"
            R"({"n":2,"label":"y z","tags":["a\"b"],"at":null},null])");
}

TEST(PgTypesComposite, Malformed) {
  for (const char* bad : {"", "1,x,,", "(1,x,,", "(1,x,)", "(1,x,,,)", "(1,x,,)junk", R"((1,"x,,))",
                          "(1,x,,\\", "(x,,,)"}) {
    std::string expected;
    json::AppendString(expected, bad);
    ExpectFallback(kPair, bad, expected);
  }
}

// Property: whatever the text, exactly one valid JSON value is appended, and
// nothing crashes (run under ASan/UBSan in CI).
TEST(PgTypesRobustness, RandomTextAlwaysYieldsOneJsonValue) {
  const std::string alphabet = "{}[]():=,;\"\\ \t\nNULnul01-+.eT:BC\xC3\xA9\xFF";
  const uint32_t types[] = {kInt4Array, kTextArray,   kJsonbArray, kBoxArray, kPair,    kPairArray,
                            kNested,    kTimestampTz, kTimestamp,  kDate,     kNumeric, kBool,
                            kJson,      kInt2Vector,  kIntList,    kMoodArray};
  std::mt19937 rng(12345);
  int errors = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string text;
    const size_t len = rng() % 24;
    for (size_t k = 0; k < len; ++k) text.push_back(alphabet[rng() % alphabet.size()]);
    const uint32_t oid = types[rng() % std::size(types)];
    std::string out;
    if (!AppendValueJson(Catalog(), oid, text, out)) ++errors;
    std::string compact;
    auto info = json::Compact(out, compact);
    ASSERT_TRUE(info) << "oid " << oid << " text " << text << " -> " << out;
  }
  EXPECT_GT(errors, 0);
}

// ---------------------------------------------------------------------------
// Catalog

TEST(PgTypesCatalog, BuiltinsAndNames) {
  TypeCatalog c;
  EXPECT_TRUE(c.Contains(kInt4));
  EXPECT_TRUE(c.Contains(kInt4Array));
  EXPECT_TRUE(c.Contains(6157));  // _int8multirange
  EXPECT_FALSE(c.Contains(16384));
  EXPECT_EQ(c.Kind(kInt4Array), TypeKind::kArray);
  EXPECT_EQ(c.Kind(kNumeric), TypeKind::kNumeric);
  EXPECT_EQ(c.Kind(16384), TypeKind::kString);
  EXPECT_EQ(TypeName(kInt4), "int4");
  EXPECT_EQ(TypeName(kInt4Array), "_int4");
  EXPECT_EQ(TypeName(kTimestampTz), "timestamptz");
  EXPECT_EQ(TypeName(3802), "jsonb");
  EXPECT_EQ(TypeName(0), "");
  EXPECT_EQ(TypeName(16384), "");
  EXPECT_EQ(TypeName(1 << 30), "");
  // Built-ins cannot be overridden.
  c.AddEnum(kInt4);
  EXPECT_EQ(c.Kind(kInt4), TypeKind::kNumber);
  c.Remove(kInt4);
  EXPECT_TRUE(c.Contains(kInt4));
}

TEST(PgTypesCatalog, RegisterReplaceRemove) {
  TypeCatalog c;
  c.AddComposite(16500, {{"a", kInt4}});
  std::string out;
  ASSERT_TRUE(AppendValueJson(c, 16500, "(1)", out));
  EXPECT_EQ(out, R"({"a":1})");
  c.AddComposite(16500, {{"a", kInt4}, {"b", kText}});  // ALTER TYPE … ADD ATTRIBUTE
  out.clear();
  ASSERT_TRUE(AppendValueJson(c, 16500, "(1,x)", out));
  EXPECT_EQ(out, R"({"a":1,"b":"x"})");
  c.Remove(16500);
  EXPECT_FALSE(c.Contains(16500));
  out.clear();
  ASSERT_TRUE(AppendValueJson(c, 16500, "(1,x)", out));
  EXPECT_EQ(out, R"j("(1,x)")j");
}

TEST(PgTypesCatalog, Missing) {
  TypeCatalog c;
  c.AddEnum(16600);
  const std::vector<uint32_t> oids = {kInt4, 16601, 16600, 16602, 16601, kTextArray};
  EXPECT_EQ(c.Missing(oids), (std::vector<uint32_t>{16601, 16602}));
  EXPECT_EQ(TypeCatalog::OidArrayLiteral(c.Missing(oids)), "{16601,16602}");
  EXPECT_EQ(TypeCatalog::OidArrayLiteral({}), "{}");
  EXPECT_NE(TypeCatalog::DescriptorQuery().find("$1"), std::string_view::npos);
}

std::optional<std::string> S(const char* s) { return std::string(s); }
// NOLINTNEXTLINE(readability-identifier-naming): a short name keeps the tables readable.
constexpr std::nullopt_t N = std::nullopt;

TEST(PgTypesCatalog, ApplyDescriptorRows) {
  TypeCatalog c;
  const std::vector<DescriptorRow> rows = {
      // oid, typtype, typbasetype, elem, elem_delim, json_cast, attname, atttypid
      {S("23"), S("b"), S("0"), S("0"), S(","), S("f"), N, N},  // built-in: skipped
      {S("16700"), S("e"), S("0"), S("0"), S(","), S("f"), N, N},
      {S("16701"), S("b"), S("0"), S("16700"), S(","), S("f"), N, N},
      {S("16702"), S("d"), S("23"), S("0"), S(","), S("f"), N, N},
      {S("16703"), S("c"), S("0"), S("0"), S(","), S("f"), S("id"), S("16702")},
      {S("16703"), S("c"), S("0"), S("0"), S(","), S("f"), S("mood"), S("16700")},
      {S("16703"), S("c"), S("0"), S("0"), S(","), S("f"), S("moods"), S("16701")},
      {S("16704"), S("r"), S("0"), S("0"), S(","), S("f"), N, N},
      {S("16705"), S("b"), S("0"), S("0"), S(","), S("t"), N, N},
      {S("16706"), S("c"), S("0"), S("0"), S(","), S("f"), N, N},  // no attributes
      {S("16707"), S("b"), S("0"), S("16708"), S(";"), S("f"), N, N},
  };
  ASSERT_TRUE(c.ApplyDescriptorRows(rows));
  EXPECT_EQ(c.Kind(kInt4), TypeKind::kNumber);
  EXPECT_EQ(c.Kind(16700), TypeKind::kString);
  EXPECT_EQ(c.Kind(16701), TypeKind::kArray);
  EXPECT_EQ(c.Kind(16702), TypeKind::kDomain);
  EXPECT_EQ(c.Kind(16703), TypeKind::kComposite);
  EXPECT_EQ(c.Kind(16704), TypeKind::kString);
  EXPECT_EQ(c.Kind(16705), TypeKind::kJsonCast);
  EXPECT_EQ(c.Kind(16706), TypeKind::kComposite);
  std::string out;
  ASSERT_TRUE(AppendValueJson(c, 16703, R"((7,happy,"{sad,NULL}"))", out));
  EXPECT_EQ(out, R"({"id":7,"mood":"happy","moods":["sad",null]})");
  out.clear();
  ASSERT_TRUE(AppendValueJson(c, 16706, "()", out));
  EXPECT_EQ(out, "{}");
  out.clear();
  ASSERT_TRUE(AppendValueJson(c, 16707, "{a;b}", out));
  EXPECT_EQ(out, R"(["a","b"])");
}

TEST(PgTypesCatalog, ApplyMalformedRows) {
  TypeCatalog c;
  const std::vector<DescriptorRow> rows = {
      {S("x"), S("e"), S("0"), S("0"), S(","), S("f"), N, N},
      {S("16800"), S("e"), S("0"), S("0"), S(","), S("f"), N, N},
      {S("16801"), S("e")},
      {S("16802"), S("c"), S("0"), S("0"), S(","), S("f"), S("a"), N},
  };
  Status s = c.ApplyDescriptorRows(rows);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), ErrorCode::kParse);
  EXPECT_NE(s.error().message().find("3 malformed"), std::string::npos) << s.error().message();
  EXPECT_TRUE(c.Contains(16800));
  EXPECT_FALSE(c.Contains(16801));
  EXPECT_FALSE(c.Contains(16802));
}

TEST(PgTypesError, MessageNamesType) {
  std::string out;
  Status s = AppendValueJson(Catalog(), kInt4Array, "{1", out);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("_int4"), std::string::npos) << s.error().message();
  s = AppendValueJson(Catalog(), kPair, "(", out);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("16404"), std::string::npos) << s.error().message();
}

}  // namespace
}  // namespace pgcdc::pgtypes
