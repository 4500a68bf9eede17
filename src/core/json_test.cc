#include "core/json.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pgcdc::json {
namespace {

using namespace std::string_literals;

const std::string kFffd = "\xEF\xBF\xBD";

std::string Str(std::string_view s) {
  std::string out;
  AppendString(out, s);
  return out;
}

// ---------------------------------------------------------------------------
// AppendString

TEST(JsonStringTest, PlainAscii) {
  EXPECT_EQ(Str(""), R"("")");
  EXPECT_EQ(Str("hello world"), R"("hello world")");
  EXPECT_EQ(Str("pgcdc:orders"), R"("pgcdc:orders")");
}

TEST(JsonStringTest, AppendsToExistingContent) {
  std::string out = "x=";
  AppendString(out, "y");
  EXPECT_EQ(out, R"(x="y")");
}

TEST(JsonStringTest, ShortEscapes) {
  EXPECT_EQ(Str("a\"b"), R"("a\"b")");
  EXPECT_EQ(Str("a\\b"), R"("a\\b")");
  EXPECT_EQ(Str("\b\f\n\r\t"), R"("\b\f\n\r\t")");
  EXPECT_EQ(Str("/"), R"("/")");  // solidus is not escaped
}

TEST(JsonStringTest, ControlCharactersUseLowercaseHex) {
  EXPECT_EQ(Str("\x01"), R"("\u0001")");
  EXPECT_EQ(Str("\x1f"), R"("\u001f")");
  EXPECT_EQ(Str("\x0b"), R"("\u000b")");
  EXPECT_EQ(Str("\x1b[0m"), R"("\u001b[0m")");
  EXPECT_EQ(Str("a\0b"s), R"("a\u0000b")");
  EXPECT_EQ(Str("\x7f"), "\"\x7f\"");  // DEL is allowed raw
}

TEST(JsonStringTest, NoHtmlEscaping) {
  EXPECT_EQ(Str("<a href='x'>&amp;</a>"), R"("<a href='x'>&amp;</a>")");
  EXPECT_EQ(Str("\u2028\u2029"), "\"\u2028\u2029\"");
}

TEST(JsonStringTest, ValidMultibytePassesThrough) {
  EXPECT_EQ(Str("caf\u00e9"), "\"caf\u00e9\"");
  EXPECT_EQ(Str("\u20ac 5"), "\"\u20ac 5\"");
  EXPECT_EQ(Str("\U0001F600"), "\"\U0001F600\"");
  EXPECT_EQ(Str("\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8"),
            "\"\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8\"");
  EXPECT_EQ(Str("\U0010FFFF"), "\"\U0010FFFF\"");
  EXPECT_EQ(Str("\xEF\xBF\xBD"), "\"\xEF\xBF\xBD\"");
}

TEST(JsonStringTest, InvalidUtf8IsReplaced) {
  EXPECT_EQ(Str("\x80"), "\"" + kFffd + "\"");
  EXPECT_EQ(Str("a\xffz"), "\"a" + kFffd + "z\"");
  // Overlong encodings.
  EXPECT_EQ(Str("\xC0\xAF"), "\"" + kFffd + kFffd + "\"");
  EXPECT_EQ(Str("\xC1\xBF"), "\"" + kFffd + kFffd + "\"");
  EXPECT_EQ(Str("\xE0\x80\xAF"), "\"" + kFffd + kFffd + kFffd + "\"");
  EXPECT_EQ(Str("\xF0\x80\x80\xAF"), "\"" + kFffd + kFffd + kFffd + kFffd + "\"");
  // UTF-16 surrogates encoded in UTF-8.
  EXPECT_EQ(Str("\xED\xA0\x80"), "\"" + kFffd + kFffd + kFffd + "\"");
  EXPECT_EQ(Str("\xED\xBF\xBF"), "\"" + kFffd + kFffd + kFffd + "\"");
  EXPECT_EQ(Str("\xED\x9F\xBF"), "\"\xED\x9F\xBF\"");  // U+D7FF is fine
  // Beyond U+10FFFF.
  EXPECT_EQ(Str("\xF4\x90\x80\x80"), "\"" + kFffd + kFffd + kFffd + kFffd + "\"");
  EXPECT_EQ(Str("\xF5\x80"), "\"" + kFffd + kFffd + "\"");
  // Truncated sequences: the valid prefix is one maximal subpart.
  EXPECT_EQ(Str("abc\xE2\x82"), "\"abc" + kFffd + "\"");
  EXPECT_EQ(Str("\xF0\x9F\x98"), "\"" + kFffd + "\"");
  EXPECT_EQ(Str("\xF0\x9F\x98x"), "\"" + kFffd + "x\"");
  EXPECT_EQ(Str("\xE2\x82\""), "\"" + kFffd + "\\\"\"");
}

TEST(JsonStringTest, MaximalSubpartExamplesFromUnicodeStandard) {
  // The Unicode Standard, chapter 3.9, tables 3-8 to 3-11.
  EXPECT_EQ(Str("\xC0\xAF\xE0\x80\xBF\xF0\x81\x82\x41"),
            "\"" + kFffd + kFffd + kFffd + kFffd + kFffd + kFffd + kFffd + kFffd + "A\"");
  EXPECT_EQ(Str("\xED\xA0\x80\xED\xBF\xBF\xED\xAF\x41"),
            "\"" + kFffd + kFffd + kFffd + kFffd + kFffd + kFffd + kFffd + kFffd + "A\"");
  EXPECT_EQ(Str("\xF4\x91\x92\x93\xFF\x41\x80\xBF\x42"),
            "\"" + kFffd + kFffd + kFffd + kFffd + kFffd + "A" + kFffd + kFffd + "B\"");
  EXPECT_EQ(Str("\xE1\x80\xE2\xF0\x91\x92\xF1\xBF\x41"),
            "\"" + kFffd + kFffd + kFffd + kFffd + "A\"");
}

// Straightforward byte-at-a-time reference used to cross-check the word-at-a-
// time fast path.
std::string ReferenceString(std::string_view s) {
  std::string out = "\"";
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
      ++i;
    } else if (c < 0x20) {
      static const char* const kShort[] = {nullptr, nullptr, nullptr, nullptr, nullptr,
                                           nullptr, nullptr, nullptr, "\\b",   "\\t",
                                           "\\n",   nullptr, "\\f",   "\\r"};
      if (c < 14 && kShort[c] != nullptr) {
        out += kShort[c];
      } else {
        char buf[8];
        std::snprintf(buf, sizeof(buf), "\\u%04x", c);
        out += buf;
      }
      ++i;
    } else if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
    } else {
      // Decode one code point strictly; on failure consume the maximal subpart.
      int len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
      uint32_t min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
      bool lead_ok = c >= 0xC2 && c <= 0xF4;
      uint32_t cp = c & (0x7F >> len);
      size_t j = 1;
      bool ok = lead_ok;
      while (ok && j < static_cast<size_t>(len)) {
        if (i + j >= s.size()) {
          ok = false;
          break;
        }
        const auto d = static_cast<unsigned char>(s[i + j]);
        if ((d & 0xC0) != 0x80) {
          ok = false;
          break;
        }
        const uint32_t next = cp << 6 | (d & 0x3F);
        // Reject as early as the prefix proves it is overlong, a surrogate or
        // too large (that is what makes the subpart "maximal").
        if (j == 1) {
          const uint32_t shift = 6 * (len - 2);
          const uint32_t lo = next << shift;
          const uint32_t hi = lo | ((1u << shift) - 1);
          if (hi < min || lo > 0x10FFFF || (lo >= 0xD800 && hi <= 0xDFFF)) {
            ok = false;
            break;
          }
        }
        cp = next;
        ++j;
      }
      if (ok) {
        out.append(s.substr(i, len));
        i += len;
      } else {
        out += kFffd;
        i += lead_ok ? j : 1;
      }
    }
  }
  out += '"';
  return out;
}

TEST(JsonStringTest, MatchesReferenceOnRandomInput) {
  std::mt19937_64 rng(12345);
  const std::vector<std::string> pieces = {"a",
                                           "Z",
                                           " ",
                                           "0",
                                           "\"",
                                           "\\",
                                           "\n",
                                           "\x01",
                                           "\x1f",
                                           "\x7f",
                                           "\x80",
                                           "\xbf",
                                           "\xc0",
                                           "\xc2\xa9",
                                           "\xe2\x82",
                                           "\xe2\x82\xac",
                                           "\xed\xa0",
                                           "\xed\x9f\xbf",
                                           "\xf0\x9f\x98\x80",
                                           "\xf4\x8f\xbf\xbf",
                                           "\xf4\x90",
                                           "\xff",
                                           "\xe0\xa0\x80",
                                           "\xf0\x90",
                                           "abcdefgh",
                                           "12345678901234567"};
  std::uniform_int_distribution<size_t> pick(0, pieces.size() - 1);
  std::uniform_int_distribution<int> len(0, 40);
  for (int iter = 0; iter < 20000; ++iter) {
    std::string s;
    const int n = len(rng);
    for (int k = 0; k < n; ++k) s += pieces[pick(rng)];
    ASSERT_EQ(Str(s), ReferenceString(s)) << "iteration " << iter;
  }
  // And raw random bytes.
  std::uniform_int_distribution<int> byte(0, 255);
  for (int iter = 0; iter < 20000; ++iter) {
    std::string s(static_cast<size_t>(len(rng)), '\0');
    for (char& c : s) c = static_cast<char>(byte(rng));
    ASSERT_EQ(Str(s), ReferenceString(s)) << "iteration " << iter;
  }
}

TEST(JsonStringTest, SpecialBytesAtEveryPositionOfALongRun) {
  for (char special : {'"', '\\', '\n', '\x01', '\x7f'}) {
    for (size_t pos = 0; pos < 40; ++pos) {
      std::string s(40, 'x');
      s[pos] = special;
      ASSERT_EQ(Str(s), ReferenceString(s)) << pos;
    }
  }
  for (size_t pos = 0; pos < 40; ++pos) {
    std::string s(40, 'x');
    s.insert(pos, "\xc3\xa9");
    ASSERT_EQ(Str(s), "\"" + s + "\"") << pos;
    s.insert(pos, "\xc3");
    ASSERT_EQ(Str(s), ReferenceString(s)) << pos;
  }
}

TEST(JsonStringTest, OutputIsAlwaysValidJson) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int iter = 0; iter < 5000; ++iter) {
    std::string s(static_cast<size_t>(iter % 64), '\0');
    for (char& c : s) c = static_cast<char>(byte(rng));
    const std::string encoded = Str(s);
    std::string compacted;
    auto info = Compact(encoded, compacted, {.find_key = {}, .max_depth = 4});
    ASSERT_TRUE(info.has_value()) << info.error().message();
    ASSERT_EQ(compacted, encoded);
    ASSERT_EQ(info->kind, Kind::kString);
  }
}

// ---------------------------------------------------------------------------
// Writer

TEST(JsonWriterTest, ObjectsArraysAndCommas) {
  std::string out;
  Writer w(out);
  w.BeginObject();
  w.Key("a");
  w.Int(1);
  w.Key("b");
  w.BeginArray();
  w.Bool(true);
  w.Bool(false);
  w.Null();
  w.BeginObject();
  w.EndObject();
  w.BeginArray();
  w.EndArray();
  w.String("x\"y");
  w.EndArray();
  w.Key("c\n");
  w.Raw(R"({"k":[1,2]})");
  w.Key("d");
  w.Uint(18446744073709551615ULL);
  w.EndObject();
  EXPECT_EQ(out, R"({"a":1,"b":[true,false,null,{},[],"x\"y"],"c\n":{"k":[1,2]},)"
                 R"("d":18446744073709551615})");
}

TEST(JsonWriterTest, TopLevelScalarsAndAppending) {
  std::string out = "prefix ";
  Writer w(out);
  w.String("s");
  EXPECT_EQ(out, R"(prefix "s")");
}

TEST(JsonWriterTest, Integers) {
  std::string out;
  Writer w(out);
  w.BeginArray();
  w.Int(0);
  w.Int(-1);
  w.Int(std::numeric_limits<int64_t>::min());
  w.Int(std::numeric_limits<int64_t>::max());
  w.Uint(0);
  w.EndArray();
  EXPECT_EQ(out, "[0,-1,-9223372036854775808,9223372036854775807,0]");
}

TEST(JsonWriterTest, FieldsWriteKeyAndValue) {
  std::string out;
  Writer w(out);
  w.BeginObject();
  w.StringField("s", "a\"b");
  w.IntField("i", -1);
  w.UintField("u", std::numeric_limits<uint64_t>::max());
  w.BoolField("b", true);
  w.EndObject();
  EXPECT_EQ(out, R"({"s":"a\"b","i":-1,"u":18446744073709551615,"b":true})");
}

std::string Dbl(double v) {
  std::string out;
  Writer w(out);
  w.Double(v);
  return out;
}

TEST(JsonWriterTest, DoublesShortestRoundTrip) {
  EXPECT_EQ(Dbl(0.0), "0");
  EXPECT_EQ(Dbl(-0.0), "-0");
  EXPECT_EQ(Dbl(1.0), "1");
  EXPECT_EQ(Dbl(12.5), "12.5");
  EXPECT_EQ(Dbl(0.1), "0.1");
  EXPECT_EQ(Dbl(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(Dbl(-3.25), "-3.25");
  EXPECT_EQ(Dbl(1e20), "100000000000000000000");
  EXPECT_EQ(Dbl(1e21), "1e+21");
  EXPECT_EQ(Dbl(1.5e300), "1.5e+300");
  EXPECT_EQ(Dbl(0.000001), "0.000001");
  EXPECT_EQ(Dbl(1e-7), "1e-7");
  EXPECT_EQ(Dbl(1.25e-9), "1.25e-9");
  EXPECT_EQ(Dbl(1e-10), "1e-10");
  EXPECT_EQ(Dbl(5e-324), "5e-324");
  EXPECT_EQ(Dbl(std::numeric_limits<double>::max()), "1.7976931348623157e+308");
  EXPECT_EQ(Dbl(123456789.125), "123456789.125");
}

TEST(JsonWriterTest, NonFiniteDoublesAreNull) {
  std::string out;
  Writer w(out);
  w.BeginArray();
  w.Double(std::numeric_limits<double>::quiet_NaN());
  w.Double(std::numeric_limits<double>::infinity());
  w.Double(-std::numeric_limits<double>::infinity());
  w.Double(2.5);
  w.EndArray();
  EXPECT_EQ(out, "[null,null,null,2.5]");
}

TEST(JsonWriterTest, DoublesRoundTripAndAreValidJson) {
  std::mt19937_64 rng(99);
  for (int i = 0; i < 20000; ++i) {
    uint64_t bits = rng();
    double v;
    std::memcpy(&v, &bits, sizeof(v));
    const std::string s = Dbl(v);
    if (!std::isfinite(v)) {
      ASSERT_EQ(s, "null");
      continue;
    }
    ASSERT_EQ(std::strtod(s.c_str(), nullptr), v) << s;
    std::string c;
    ASSERT_TRUE(Compact(s, c).has_value()) << s;
    ASSERT_EQ(c, s);
  }
}

// ---------------------------------------------------------------------------
// Compact

std::string CompactOk(std::string_view in) {
  std::string out;
  auto r = Compact(in, out);
  EXPECT_TRUE(r.has_value()) << "input: " << in << " error: " << r.error().message();
  return out;
}

std::string CompactErr(std::string_view in, int max_depth = 512) {
  std::string out = "keep";
  auto r = Compact(in, out, {.find_key = {}, .max_depth = max_depth});
  EXPECT_FALSE(r.has_value()) << "input: " << in;
  EXPECT_EQ(out, "keep") << "output must be unchanged on error; input: " << in;
  if (r.has_value()) return "";
  EXPECT_EQ(r.error().code(), ErrorCode::kParse);
  return r.error().message();
}

TEST(JsonCompactTest, Scalars) {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"0", "0"},         {"-0", "-0"},
      {" 12 ", "12"},     {"-12.5e+10", "-12.5e+10"},
      {"1E-2", "1E-2"},   {"0.0", "0.0"},
      {"1e007", "1e007"}, {"true", "true"},
      {"false", "false"}, {"\n\t null \r\n", "null"},
      {R"("")", R"("")"}, {R"( "a b" )", R"("a b")"}};
  for (const auto& [in, want] : cases) EXPECT_EQ(CompactOk(in), want);
}

TEST(JsonCompactTest, HugeNumbersAreKeptVerbatim) {
  const std::string big = "123456789012345678901234567890123456789012345678901234567890";
  EXPECT_EQ(CompactOk(big), big);
  EXPECT_EQ(CompactOk("1e999999"), "1e999999");
  EXPECT_EQ(CompactOk("-0.000000000000000000000000000000000000001"),
            "-0.000000000000000000000000000000000000001");
}

TEST(JsonCompactTest, WhitespaceRemovedOutsideStrings) {
  EXPECT_EQ(CompactOk(" { \"a\" : [ 1 , 2 , { } , [ ] ] , \"b c\" : \" x \" } "),
            R"({"a":[1,2,{},[]],"b c":" x "})");
  EXPECT_EQ(CompactOk("[\n  1,\n  2\n]\n"), "[1,2]");
  EXPECT_EQ(CompactOk("{\r\n\t\"k\"\t:\r\n\"v\"\r\n}"), R"({"k":"v"})");
  EXPECT_EQ(CompactOk("[ ]"), "[]");
  EXPECT_EQ(CompactOk("{ }"), "{}");
}

TEST(JsonCompactTest, PostgresJsonBuildObjectOutput) {
  EXPECT_EQ(CompactOk(R"({"op" : "INSERT", "table" : "orders", "row" : {"id":1,"status":"new",)"
                      R"("amount":12.5}, "old" : null})"),
            R"({"op":"INSERT","table":"orders","row":{"id":1,"status":"new","amount":12.5},)"
            R"("old":null})");
}

TEST(JsonCompactTest, KeyOrderAndDuplicatesPreserved) {
  EXPECT_EQ(CompactOk(R"({"z":1, "a":2, "m":3, "a":4})"), R"({"z":1,"a":2,"m":3,"a":4})");
}

TEST(JsonCompactTest, EscapesKeptAsWritten) {
  EXPECT_EQ(CompactOk(R"("\u00e9\u00E9\/\"\\\b\f\n\r\t")"), R"("\u00e9\u00E9\/\"\\\b\f\n\r\t")");
  EXPECT_EQ(CompactOk(R"("\ud83d\ude00")"), R"("\ud83d\ude00")");
  EXPECT_EQ(CompactOk(R"("\ud800")"), R"("\ud800")");  // unpaired surrogate escape: allowed
  EXPECT_EQ(CompactOk(R"("\udc00\ud800x")"), R"("\udc00\ud800x")");
  EXPECT_EQ(CompactOk(R"("\u0000")"), R"("\u0000")");
}

TEST(JsonCompactTest, Unicode) {
  EXPECT_EQ(CompactOk("{\"\u540d\u524d\" : \"\u65e5\u672c \U0001F600\"}"),
            "{\"\u540d\u524d\":\"\u65e5\u672c \U0001F600\"}");
  EXPECT_EQ(CompactOk("\"\x7f\""), "\"\x7f\"");
  EXPECT_EQ(CompactOk("\"<>&\u2028\""), "\"<>&\u2028\"");
}

TEST(JsonCompactTest, InvalidUtf8InStringsIsReplaced) {
  EXPECT_EQ(CompactOk("\"a\xff"
                      "b\""),
            "\"a" + kFffd + "b\"");
  EXPECT_EQ(CompactOk("{\"k\xc0\xaf\":\"\xed\xa0\x80\"}"),
            "{\"k" + kFffd + kFffd + "\":\"" + kFffd + kFffd + kFffd + "\"}");
  EXPECT_EQ(CompactOk("[\"\xe2\x82\"]"), "[\"" + kFffd + "\"]");
  EXPECT_EQ(CompactOk("\"\xf4\x90\x80\x80\""), "\"" + kFffd + kFffd + kFffd + kFffd + "\"");
}

TEST(JsonCompactTest, Kinds) {
  std::string out;
  EXPECT_EQ(Compact("{}", out)->kind, Kind::kObject);
  EXPECT_EQ(Compact("[{}]", out)->kind, Kind::kArray);
  EXPECT_EQ(Compact("\"s\"", out)->kind, Kind::kString);
  EXPECT_EQ(Compact("-1", out)->kind, Kind::kNumber);
  EXPECT_EQ(Compact("true", out)->kind, Kind::kBool);
  EXPECT_EQ(Compact("false", out)->kind, Kind::kBool);
  EXPECT_EQ(Compact("null", out)->kind, Kind::kNull);
}

TEST(JsonCompactTest, AppendsToOutput) {
  std::string out = "prefix:";
  ASSERT_TRUE(Compact(" [ 1 ] ", out).has_value());
  EXPECT_EQ(out, "prefix:[1]");
}

struct ErrorCase {
  std::string input;
  std::string message;
};

TEST(JsonCompactTest, ErrorsNameTheProblemAndOffset) {
  const std::vector<ErrorCase> cases = {
      {"", "invalid JSON at offset 0: unexpected end of input"},
      {"   ", "invalid JSON at offset 3: unexpected end of input"},
      {R"({"a" 1})", "invalid JSON at offset 5: expected ':'"},
      {R"({"id": 1, "x" 2})", "invalid JSON at offset 14: expected ':'"},
      {R"({"a":1 "b":2})", "invalid JSON at offset 7: expected ',' or '}'"},
      {"[1 2]", "invalid JSON at offset 3: expected ',' or ']'"},
      {"[1,]", "invalid JSON at offset 3: expected value"},
      {R"({"a":1,})", "invalid JSON at offset 7: expected string key"},
      {"{a:1}", "invalid JSON at offset 1: expected string key"},
      {"{'a':1}", "invalid JSON at offset 1: expected string key"},
      {"[", "invalid JSON at offset 1: unexpected end of input"},
      {"{", "invalid JSON at offset 1: unexpected end of input"},
      {R"({"a")", "invalid JSON at offset 4: unexpected end of input"},
      {R"({"a":)", "invalid JSON at offset 5: unexpected end of input"},
      {"[1", "invalid JSON at offset 2: unexpected end of input"},
      {"]", "invalid JSON at offset 0: expected value"},
      {"1 2", "invalid JSON at offset 2: unexpected data after top-level value"},
      {"{} x", "invalid JSON at offset 3: unexpected data after top-level value"},
      {"[]]", "invalid JSON at offset 2: unexpected data after top-level value"},
      {"01", "invalid JSON at offset 0: invalid number: leading zero"},
      {"-01", "invalid JSON at offset 0: invalid number: leading zero"},
      {"+1", "invalid JSON at offset 0: expected value"},
      {"-", "invalid JSON at offset 1: unexpected end of input"},
      {"-a", "invalid JSON at offset 1: invalid number: expected digit"},
      {"1.", "invalid JSON at offset 2: unexpected end of input"},
      {"1.e5", "invalid JSON at offset 2: invalid number: expected digit"},
      {".5", "invalid JSON at offset 0: expected value"},
      {"1e", "invalid JSON at offset 2: unexpected end of input"},
      {"1e+", "invalid JSON at offset 3: unexpected end of input"},
      {"[1e+x]", "invalid JSON at offset 4: invalid number: expected digit"},
      {"NaN", "invalid JSON at offset 0: expected value"},
      {"-Infinity", "invalid JSON at offset 1: invalid number: expected digit"},
      {"0x10", "invalid JSON at offset 1: unexpected data after top-level value"},
      {"tru", "invalid JSON at offset 0: invalid literal"},
      {"trUe", "invalid JSON at offset 0: invalid literal"},
      {"nul", "invalid JSON at offset 0: invalid literal"},
      {"[falsey]", "invalid JSON at offset 6: expected ',' or ']'"},
      {"True", "invalid JSON at offset 0: expected value"},
      {R"("abc)", "invalid JSON at offset 0: unterminated string"},
      {R"(["abc\")", "invalid JSON at offset 1: unterminated string"},
      {R"("\)", "invalid JSON at offset 0: unterminated string"},
      {R"("\x")", "invalid JSON at offset 1: invalid escape sequence"},
      {R"("\U0041")", "invalid JSON at offset 1: invalid escape sequence"},
      {R"("\u12")", "invalid JSON at offset 1: invalid \\u escape"},
      {R"("\u12G4")", "invalid JSON at offset 1: invalid \\u escape"},
      {R"("ab\u)", "invalid JSON at offset 3: invalid \\u escape"},
      {"\"a\nb\"", "invalid JSON at offset 2: control character in string"},
      {"\"a\tb\"", "invalid JSON at offset 2: control character in string"},
      {"\"\0\""s, "invalid JSON at offset 1: control character in string"},
      {"\xEF\xBB\xBF{}", "invalid JSON at offset 0: expected value"},  // BOM
      {"{}\0"s, "invalid JSON at offset 2: unexpected data after top-level value"},
      {"/* c */ 1", "invalid JSON at offset 0: expected value"},
      {"\f1", "invalid JSON at offset 0: expected value"},  // form feed is not JSON whitespace
  };
  for (const auto& c : cases) {
    EXPECT_EQ(CompactErr(c.input), c.message) << "input: " << c.input;
  }
}

TEST(JsonCompactTest, DepthLimit) {
  auto nested = [](int depth) {
    return std::string(static_cast<size_t>(depth), '[') +
           std::string(static_cast<size_t>(depth), ']');
  };
  std::string out;
  EXPECT_TRUE(Compact(nested(512), out).has_value());
  EXPECT_EQ(CompactErr(nested(513)),
            "invalid JSON at offset 512: nesting depth exceeds maximum of 512");
  EXPECT_EQ(CompactErr(nested(3), 2),
            "invalid JSON at offset 2: nesting depth exceeds maximum of 2");
  out.clear();
  EXPECT_TRUE(Compact(R"({"a":[{"b":1}]})", out, {.find_key = {}, .max_depth = 3}).has_value());
  EXPECT_EQ(CompactErr(R"({"a":[{"b":[]}]})", 3),
            "invalid JSON at offset 11: nesting depth exceeds maximum of 3");
  // Scalars need no depth at all.
  out.clear();
  EXPECT_TRUE(Compact("1", out, {.find_key = {}, .max_depth = 0}).has_value());
  EXPECT_EQ(CompactErr("[]", 0), "invalid JSON at offset 0: nesting depth exceeds maximum of 0");
}

TEST(JsonCompactTest, HostileNestingDoesNotRecurse) {
  const std::string deep(1'000'000, '[');
  EXPECT_EQ(CompactErr(deep), "invalid JSON at offset 512: nesting depth exceeds maximum of 512");
  // Even a very large max_depth must not use the call stack.
  std::string out;
  auto r = Compact(deep, out, {.find_key = {}, .max_depth = 10'000'000});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message(), "invalid JSON at offset 1000000: unexpected end of input");
  std::string balanced = deep + std::string(1'000'000, ']');
  out.clear();
  EXPECT_TRUE(Compact(balanced, out, {.find_key = {}, .max_depth = 10'000'000}).has_value());
  EXPECT_EQ(out, balanced);
}

std::optional<std::string> FindKey(std::string_view in, std::string_view key) {
  std::string out;
  auto r = Compact(in, out, {.find_key = key});
  EXPECT_TRUE(r.has_value()) << in;
  if (!r) return std::nullopt;
  return r->found_string;
}

TEST(JsonCompactTest, FindKeyTopLevelString) {
  EXPECT_EQ(FindKey(R"({"op":"INSERT","table":"t"})", "op"), "INSERT");
  EXPECT_EQ(FindKey(R"({ "table" : "t" , "op" : "DELETE" })", "op"), "DELETE");
  EXPECT_EQ(FindKey(R"({"op":""})", "op"), "");
  EXPECT_EQ(FindKey(R"({"table":"t"})", "op"), std::nullopt);
  EXPECT_EQ(FindKey(R"({"op":"INSERT"})", ""), std::nullopt);  // not looking
  EXPECT_EQ(FindKey(R"({"op":"INSERT"})", "o"), std::nullopt);
  EXPECT_EQ(FindKey(R"({"op":"INSERT"})", "opx"), std::nullopt);
}

TEST(JsonCompactTest, FindKeyIgnoresNonStringsAndNestedKeys) {
  EXPECT_EQ(FindKey(R"({"op":1})", "op"), std::nullopt);
  EXPECT_EQ(FindKey(R"({"op":null})", "op"), std::nullopt);
  EXPECT_EQ(FindKey(R"({"op":["INSERT"]})", "op"), std::nullopt);
  EXPECT_EQ(FindKey(R"({"op":{"op":"INSERT"}})", "op"), std::nullopt);
  EXPECT_EQ(FindKey(R"({"row":{"op":"INSERT"}})", "op"), std::nullopt);
  EXPECT_EQ(FindKey(R"([{"op":"INSERT"}])", "op"), std::nullopt);
  EXPECT_EQ(FindKey(R"("op")", "op"), std::nullopt);
  EXPECT_EQ(FindKey(R"({"x":"op","y":"op"})", "op"), std::nullopt);
}

TEST(JsonCompactTest, FindKeyFirstMemberWins) {
  EXPECT_EQ(FindKey(R"({"op":"A","op":"B"})", "op"), "A");
  EXPECT_EQ(FindKey(R"({"op":1,"op":"B"})", "op"), std::nullopt);
  EXPECT_EQ(FindKey(R"({"row":{"op":"X"},"op":"B"})", "op"), "B");
}

TEST(JsonCompactTest, FindKeyUnescapes) {
  EXPECT_EQ(FindKey(R"({"o\u0070":"UP\u0044ATE"})", "op"), "UPDATE");
  EXPECT_EQ(FindKey(R"({"k":"a\"b\\c\/d\b\f\n\r\t"})", "k"), "a\"b\\c/d\b\f\n\r\t");
  EXPECT_EQ(FindKey(R"({"k":"\u00e9\u20AC"})", "k"), "\u00e9\u20ac");
  EXPECT_EQ(FindKey(R"({"k":"\ud83d\ude00!"})", "k"), "\U0001F600!");
  EXPECT_EQ(FindKey(R"({"k":"\uD83D\uDE00"})", "k"), "\U0001F600");
  EXPECT_EQ(FindKey(R"({"k":"\ud800"})", "k"), kFffd);
  EXPECT_EQ(FindKey(R"({"k":"\ud800x"})", "k"), kFffd + "x");
  EXPECT_EQ(FindKey(R"({"k":"\ude00\ud83d"})", "k"), kFffd + kFffd);
  EXPECT_EQ(FindKey(R"({"k":"\ud83d\u0041"})", "k"), kFffd + "A");
  EXPECT_EQ(FindKey(R"({"k":"\u0000"})", "k"), std::string(1, '\0'));
  EXPECT_EQ(FindKey("{\"k\":\"\xe6\x97\xa5\xff\"}", "k"), "\xe6\x97\xa5" + kFffd);
  EXPECT_EQ(FindKey("{\"k\xff\":\"v\"}", "k" + kFffd), "v");
}

TEST(JsonCompactTest, FindKeyDoesNotChangeOutput) {
  std::string a, b;
  const std::string in = R"({ "op" : "\u0049NSERT" , "row" : { "op" : 1 } })";
  ASSERT_TRUE(Compact(in, a).has_value());
  ASSERT_TRUE(Compact(in, b, {.find_key = "op"}).has_value());
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, R"({"op":"\u0049NSERT","row":{"op":1}})");
}

TEST(JsonCompactTest, FindKeyNotReportedOnError) {
  std::string out;
  auto r = Compact(R"({"op":"INSERT",})", out, {.find_key = "op"});
  EXPECT_FALSE(r.has_value());
  EXPECT_TRUE(out.empty());
}

// Random JSON generator for the round-trip property.
class Gen {
 public:
  explicit Gen(uint64_t seed) : rng_(seed) {}

  std::string Value(int depth) {
    switch (Int(depth > 4 ? 5 : 7)) {
      case 0:
        return Ws() + "null" + Ws();
      case 1:
        return Ws() + (Int(2) ? "true" : "false") + Ws();
      case 2:
        return Ws() + Number() + Ws();
      case 3:
      case 4:
        return Ws() + String() + Ws();
      case 5: {
        std::string s = Ws() + "[";
        const int n = Int(4);
        for (int i = 0; i < n; ++i) s += (i ? "," : "") + Value(depth + 1);
        if (n == 0) s += Ws();
        return s + "]" + Ws();
      }
      default: {
        std::string s = Ws() + "{";
        const int n = Int(4);
        for (int i = 0; i < n; ++i)
          s += (i ? "," : "") + Ws() + String() + Ws() + ":" + Value(depth + 1);
        if (n == 0) s += Ws();
        return s + "}" + Ws();
      }
    }
  }

 private:
  int Int(int n) { return static_cast<int>(rng_() % static_cast<uint64_t>(n)); }
  std::string Ws() {
    static const char* const kWs[] = {"", "", "", " ", "\n", "\t", "\r\n  "};
    return kWs[Int(7)];
  }
  std::string Number() {
    static const char* const kNums[] = {"0",       "-0",     "1",
                                        "-17",     "3.25",   "1e10",
                                        "-2.5E-3", "0.0e+0", "123456789012345678901234567890"};
    return kNums[Int(9)];
  }
  std::string String() {
    static const char* const kParts[] = {
        "a",       " ",        "\\n",  "\\\"",     "\\u00e9", "\\ud83d\\ude00",
        "\\ud800", "\xc3\xa9", "\xff", "\xe2\x82", "\x7f",    "<&>",
        "\\/",     "\\\\"};
    std::string s = "\"";
    const int n = Int(6);
    for (int i = 0; i < n; ++i) s += kParts[Int(14)];
    return s + "\"";
  }
  std::mt19937_64 rng_;
};

TEST(JsonCompactTest, RoundTripProperty) {
  Gen gen(2024);
  for (int i = 0; i < 5000; ++i) {
    const std::string doc = gen.Value(0);
    std::string once;
    auto r1 = Compact(doc, once);
    ASSERT_TRUE(r1.has_value()) << doc << "\n" << r1.error().message();
    std::string twice;
    auto r2 = Compact(once, twice);
    ASSERT_TRUE(r2.has_value()) << once;
    ASSERT_EQ(once, twice) << doc;
    ASSERT_EQ(r1->kind, r2->kind);
    ASSERT_LE(once.size(), doc.size() * 3);
  }
}

TEST(JsonCompactTest, RandomMutationsNeverCrashAndStayIdempotent) {
  Gen gen(77);
  std::mt19937_64 rng(78);
  const char kBytes[] = "{}[],:\"\\ 0123456789-+.eEtrufalsn\x01\x80\xff";
  for (int i = 0; i < 20000; ++i) {
    std::string doc = gen.Value(0);
    const int mutations = 1 + static_cast<int>(rng() % 3);
    for (int m = 0; m < mutations && !doc.empty(); ++m) {
      const size_t pos = rng() % doc.size();
      switch (rng() % 3) {
        case 0:
          doc.erase(pos, 1);
          break;
        case 1:
          doc.insert(pos, 1, kBytes[rng() % (sizeof(kBytes) - 1)]);
          break;
        default:
          doc[pos] = kBytes[rng() % (sizeof(kBytes) - 1)];
          break;
      }
    }
    std::string out = "x";
    auto r = Compact(doc, out, {.find_key = "a"});
    if (!r) {
      ASSERT_EQ(out, "x");
      ASSERT_TRUE(r.error().message().starts_with("invalid JSON at offset "));
      continue;
    }
    std::string again;
    const std::string compacted = out.substr(1);
    ASSERT_TRUE(Compact(compacted, again).has_value()) << compacted;
    ASSERT_EQ(again, compacted);
  }
}

}  // namespace
}  // namespace pgcdc::json

namespace pgcdc::json {
namespace {

TEST(Utf8ValidityTest, AcceptsWellFormedRejectsBroken) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("\xC3\xBC\xE2\x82\xAC\xF0\x9F\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("\xC3"));              // truncated
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));          // overlong
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // > U+10FFFF
  EXPECT_FALSE(IsValidUtf8(std::string_view("\x80", 1)));
}

TEST(Base64Test, Rfc4648Vectors) {
  const std::pair<std::string, std::string> cases[] = {{"", ""},
                                                       {"f", "Zg=="},
                                                       {"fo", "Zm8="},
                                                       {"foo", "Zm9v"},
                                                       {"foob", "Zm9vYg=="},
                                                       {"fooba", "Zm9vYmE="},
                                                       {"foobar", "Zm9vYmFy"},
                                                       {std::string("\0\xFF\xFE", 3), "AP/+"}};
  for (const auto& [in, want] : cases) {
    std::string out;
    AppendBase64(out, in);
    EXPECT_EQ(out, want) << in;
  }
}

}  // namespace
}  // namespace pgcdc::json
