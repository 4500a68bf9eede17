#include "verify/canonical.h"

#include <gtest/gtest.h>

#include <random>

namespace pgcdc::verify {
namespace {

std::string Number(std::string_view text) {
  std::string out;
  if (!AppendCanonicalNumber(text, out)) return "<invalid>";
  return out;
}

std::string Canonical(std::string_view json) {
  JsonTree t;
  EXPECT_TRUE(t.Parse(json)) << json;
  std::string out;
  if (!t.empty()) AppendCanonical(t, t.root(), out);
  return out;
}

TEST(CanonicalNumber, EqualValuesHaveOneSpelling) {
  EXPECT_EQ(Number("0"), "0");
  EXPECT_EQ(Number("-0"), "0");
  EXPECT_EQ(Number("0.000"), "0");
  EXPECT_EQ(Number("1.50"), "1.5");
  EXPECT_EQ(Number("15e-1"), "1.5");
  EXPECT_EQ(Number("-42"), "-42");
  EXPECT_EQ(Number("100"), "100");
  EXPECT_EQ(Number("1E2"), "100");
  EXPECT_EQ(Number("0.00015"), "0.00015");
  EXPECT_EQ(Number("1.5e-10"), "1.5e-10");
  EXPECT_EQ(Number("12345678901234567890"), "12345678901234567890");
  EXPECT_EQ(Number("123.456"), "123.456");
  // float8 1e+100 comes from the WAL as "1e+100" and out of jsonb as 101 digits.
  EXPECT_EQ(Number("1e+100"), "1e100");
  EXPECT_EQ(Number("1" + std::string(100, '0')), "1e100");
  EXPECT_EQ(Number("1" + std::string(39, '0')), "1" + std::string(39, '0'));  // 40 digits
  EXPECT_EQ(Number("1" + std::string(40, '0')), "1e40");
  EXPECT_EQ(Number("-1.7976931348623157e+308"), "-1.7976931348623157e308");
  EXPECT_EQ(Number("4.9e-324"), "4.9e-324");
  EXPECT_EQ(Number("0.0000012"), "0.0000012");
  EXPECT_EQ(Number("0.00000012"), "1.2e-7");
  EXPECT_EQ(Number("0.000001"), "0.000001");
  EXPECT_EQ(Number("0.0000001"), "1e-7");
  EXPECT_EQ(Number("-0.50"), "-0.5");
  EXPECT_EQ(Number("-100.000"), "-100");
}

TEST(CanonicalNumber, PlainAndExponentSpellingsAgree) {
  // Every decimal written without and with an exponent gets one spelling.
  for (const char* plain :
       {"0", "7", "-7", "10", "1200", "0.5", "0.05", "0.00005", "0.000005", "0.0000005", "123.456",
        "-98765.4321", "100.25", "1234567890123456789012345678901234567890",
        "12345678901234567890123456789012345678901"}) {
    const std::string p = Number(plain);
    EXPECT_NE(p, "<invalid>") << plain;
    EXPECT_EQ(Number(std::string(plain) + "e0"), p) << plain;
    EXPECT_EQ(Number(std::string(plain) + "E+000"), p) << plain;
  }
}

TEST(CanonicalNumber, RandomDecimalsAgreeWithTheirExponentForm) {
  std::mt19937 rng(15);
  for (int i = 0; i < 20000; ++i) {
    std::string digits = std::to_string(1 + rng() % 9);  // no leading zero
    const int n = static_cast<int>(rng() % 25);
    for (int k = 0; k < n; ++k) digits.push_back(static_cast<char>('0' + rng() % 10));
    const int shift = static_cast<int>(rng() % 40) - 20;  // value = digits * 10^shift
    // Plain spelling of digits * 10^shift.
    std::string plain;
    const int point = static_cast<int>(digits.size()) + shift;
    if (shift >= 0) {
      plain = digits + std::string(static_cast<size_t>(shift), '0');
    } else if (point > 0) {
      plain = digits.substr(0, static_cast<size_t>(point)) + "." + digits.substr(point);
    } else {
      plain = "0." + std::string(static_cast<size_t>(-point), '0') + digits;
    }
    const std::string exp = digits + "e" + std::to_string(shift);
    const bool negative = rng() % 2 == 0;
    EXPECT_EQ(Number((negative ? "-" : "") + plain), Number((negative ? "-" : "") + exp))
        << plain << " vs " << exp;
  }
}

TEST(CanonicalNumber, RejectsWhatIsNotAJsonNumber) {
  for (const char* bad : {"", "-", "01", "1.", ".5", "1e", "1e+", "NaN", "Infinity", "+1", "1x"}) {
    EXPECT_EQ(Number(bad), "<invalid>") << bad;
  }
}

TEST(Canonical, SortsKeysAtEveryLevelAndNormalisesSpelling) {
  // The same row as the WAL writes it and as a jsonb column prints it.
  const std::string wal =
      R"({"id":1,"doc":{"b":[1.0,"x"],"a":null},"price":12.50,"tags":["a","b"],"ok":true})";
  const std::string jsonb =
      R"({"id": 1, "ok": true, "doc": {"a": null, "b": [1, "x"]}, "tags": ["a", "b"], "price": 12.5})";
  EXPECT_EQ(Canonical(wal), Canonical(jsonb));
  EXPECT_EQ(Canonical(wal),
            R"({"doc":{"a":null,"b":[1,"x"]},"id":1,"ok":true,"price":12.5,"tags":["a","b"]})");
  EXPECT_EQ(Canonical(R"("\u0041\u00e9\t")"), "\"A\u00e9\\t\"");
  EXPECT_NE(Canonical(R"({"a":"1"})"), Canonical(R"({"a":1})")) << "a string is not a number";
  EXPECT_NE(Canonical(R"([1,2])"), Canonical(R"([2,1])")) << "array order counts";
}

TEST(Canonical, RowLeavesOutIgnoredAndMaskedColumns) {
  RowShape shape({"id", "status", "doc", "note"}, {"id"}, {"note"});
  JsonTree t;
  ASSERT_TRUE(t.Parse(R"({"id":7,"status":"paid","doc":"big","note":"x"})"));
  std::string all;
  AppendCanonicalRow(t, t.root(), shape, 0, all);
  EXPECT_EQ(all, R"({"doc":"big","id":7,"status":"paid"})");
  std::string masked;
  AppendCanonicalRow(t, t.root(), shape, shape.MaskBit("doc"), masked);
  EXPECT_EQ(masked, R"({"id":7,"status":"paid"})");
  EXPECT_EQ(shape.MaskBit("nope"), 0u);
  EXPECT_NE(HashCanonical(all), HashCanonical(masked));
  EXPECT_EQ(HashCanonical(all), HashCanonical(R"({"doc":"big","id":7,"status":"paid"})"));
}

TEST(Canonical, KeysAndTheirDisplay) {
  RowShape shape({"order_id", "sku", "qty"}, {"order_id", "sku"}, {});
  JsonTree t;
  ASSERT_TRUE(t.Parse(R"({"qty":2,"sku":"A-1","order_id":7.0})"));
  std::string key;
  ASSERT_TRUE(AppendCanonicalKey(t, t.root(), shape, key));
  EXPECT_EQ(key, R"([7,"A-1"])");
  EXPECT_EQ(KeyDisplay(shape, key), R"({"order_id":7,"sku":"A-1"})");
  for (const char* row : {R"({"order_id":7})", R"({"order_id":7,"sku":null})", R"([7])"}) {
    ASSERT_TRUE(t.Parse(row));
    std::string k = "keep";
    EXPECT_FALSE(AppendCanonicalKey(t, t.root(), shape, k)) << row;
    EXPECT_EQ(k, "keep");
  }
}

TEST(Canonical, WideTablesShareTheLastMaskBit) {
  std::vector<std::string> cols;
  cols.reserve(70);
  for (int i = 0; i < 70; ++i) cols.push_back("c" + std::to_string(i));
  RowShape shape(cols, {"c0"}, {});
  EXPECT_EQ(shape.MaskBit("c62"), uint64_t{1} << 62);
  EXPECT_EQ(shape.MaskBit("c63"), uint64_t{1} << 63);
  EXPECT_EQ(shape.MaskBit("c69"), uint64_t{1} << 63);
}

}  // namespace
}  // namespace pgcdc::verify
