#include "verify/row_canonicalizer.h"

#include <gtest/gtest.h>

#include "core/json.h"

namespace pgcdc::verify {
namespace {

// Built-in OIDs (pg_type).
constexpr uint32_t kBool = 16, kBytea = 17, kInt8 = 20, kInt2 = 21, kInt4 = 23, kText = 25,
                   kJson = 114, kFloat4 = 700, kFloat8 = 701, kMoney = 790, kInt4Array = 1007,
                   kTextArray = 1009, kDate = 1082, kTime = 1083, kTimestamp = 1114,
                   kTimestampTz = 1184, kInterval = 1186, kNumeric = 1700, kUuid = 2950,
                   kJsonb = 3802, kInt4Range = 3904;
// User types registered below.
constexpr uint32_t kMood = 16400, kPair = 16401, kPosInt = 16402, kPairArray = 16403;

pgtypes::TypeCatalog MakeCatalog() {
  pgtypes::TypeCatalog c;
  c.AddEnum(kMood);
  c.AddComposite(kPair, {{"n", kInt4}, {"label", kText}, {"at", kTimestampTz}});
  c.AddDomain(kPosInt, kInt4);
  c.AddArray(kPairArray, kPair, ',');
  return c;
}

struct Value {
  uint32_t oid;
  std::optional<std::string> text;
};

// The slow reference: the row's WAL JSON (pgtypes), parsed and canonicalised.
void Reference(const pgtypes::TypeCatalog& catalog, const RowShape& shape,
               const std::vector<Value>& row, uint64_t mask, std::string& key, std::string& out) {
  std::string json = "{";
  for (size_t i = 0; i < row.size(); ++i) {
    if (i > 0) json.push_back(',');
    json::AppendString(json, shape.columns()[i]);
    json.push_back(':');
    if (const std::optional<std::string>& text = row[i].text; text.has_value()) {
      // A value that does not parse is rendered as a string on both paths.
      const Status typed = pgtypes::AppendValueJson(catalog, row[i].oid, *text, json);
      (void)typed;
    } else {
      json.append("null");
    }
  }
  json.push_back('}');
  JsonTree tree;
  ASSERT_TRUE(tree.Parse(json)) << json;
  ASSERT_TRUE(AppendCanonicalKey(tree, tree.root(), shape, key));
  AppendCanonicalRow(tree, tree.root(), shape, mask, out);
}

void ExpectSameAsReference(const std::vector<Value>& row, std::vector<std::string> ignored = {}) {
  static const pgtypes::TypeCatalog catalog = MakeCatalog();
  std::vector<std::string> names;
  std::vector<uint32_t> oids;
  names.reserve(row.size());
  oids.reserve(row.size());
  for (size_t i = 0; i < row.size(); ++i) {
    // Names in an order unlike the table's, with one needing escapes.
    names.push_back(i == 0 ? "id"
                           : (i % 2 ? "z" : "a") + std::to_string(i) + (i == 3 ? "\"q" : ""));
    oids.push_back(row[i].oid);
  }
  const RowShape shape(names, {"id"}, std::move(ignored));
  RowCanonicalizer fast(catalog, oids, shape);
  std::vector<std::optional<std::string_view>> values;
  values.reserve(row.size());
  for (const auto& v : row) {
    values.push_back(v.text ? std::optional<std::string_view>(*v.text) : std::nullopt);
  }
  (void)fast.Set(values);  // value errors are rendered as strings on both paths
  for (uint64_t mask : {uint64_t{0}, uint64_t{0b1010}}) {
    std::string want_key;
    std::string want_row;
    Reference(catalog, shape, row, mask, want_key, want_row);
    std::string key;
    std::string got;
    ASSERT_TRUE(fast.AppendKey(key));
    fast.AppendRow(mask, got);
    EXPECT_EQ(key, want_key);
    EXPECT_EQ(got, want_row);
  }
}

TEST(RowCanonicalizer, ScalarsMatchTheParsedWalJson) {
  ExpectSameAsReference({{kInt8, "42"},
                         {kText, "tab\there \"quoted\" \\ é \x01 \xff bad utf8"},
                         {kBool, "t"},
                         {kBool, "f"},
                         {kInt2, "-7"},
                         {kInt4, std::nullopt},
                         {kFloat8, "1e+100"},
                         {kFloat8, "-1.5e-07"},
                         {kFloat8, "NaN"},
                         {kFloat4, "Infinity"},
                         {kNumeric, "12.50"},
                         {kNumeric, "123456789012345678901234567890.123"},
                         {kNumeric, "-0.000"},
                         {kMoney, "$1,234.50"},
                         {kDate, "2024-01-02"},
                         {kDate, "0044-03-15 BC"},
                         {kTimestamp, "2024-01-02 03:04:05.123456"},
                         {kTimestampTz, "2024-01-02 03:04:05+00"},
                         {kTimestampTz, "-infinity"},
                         {kTime, "12:34:56"},
                         {kInterval, "1 day 02:03:04"},
                         {kUuid, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
                         {kBytea, "\\x00ff"},
                         {kInt4Range, "[1,5)"},
                         {kMood, "happy"},
                         {kPosInt, "5"},
                         {kBool, "not a bool"},
                         {kNumeric, "not a number"},
                         {kTimestamp, "garbage"}});
}

TEST(RowCanonicalizer, JsonArraysAndCompositesMatchTheParsedWalJson) {
  ExpectSameAsReference({{kText, "key with \"quotes\""},
                         {kJson, R"( {"b": 1.0, "a": ["x", {"d": 1e2, "c": "\u0041"}], "a": 2} )"},
                         {kJsonb, R"({"a": "é", "z": 1000})"},
                         {kJson, R"("just a \u0041 string")"},
                         {kJson, "12.50"},
                         {kInt4Array, "{1,NULL,3}"},
                         {kInt4Array, "[0:1]={1,2}"},
                         {kTextArray, R"({"a b","c\"d",NULL,"e\\f"})"},
                         {kPair, R"((7,"x y","2024-01-02 03:04:05+00"))"},
                         {kPairArray, R"x({"(1,a,)","(2,\"b c\",\"2024-01-02 03:04:05+00\")"})x"},
                         {kJson, "{not json"}});
}

TEST(RowCanonicalizer, IgnoredColumnsAndNullKeys) {
  ExpectSameAsReference({{kInt4, "1"}, {kText, "a"}, {kText, "b"}, {kText, "c"}}, {"z1"});
  static const pgtypes::TypeCatalog catalog = MakeCatalog();
  const std::vector<uint32_t> oids = {kInt4, kText};
  const RowShape shape({"id", "v"}, {"id"}, {});
  RowCanonicalizer fast(catalog, oids, shape);
  const std::vector<std::optional<std::string_view>> values = {std::nullopt, "x"};
  (void)fast.Set(values);
  std::string key;
  EXPECT_FALSE(fast.AppendKey(key));
}

}  // namespace
}  // namespace pgcdc::verify
