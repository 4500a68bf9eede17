#include "adapter/encoding/avro.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "core/json.h"
#include "schema/ref.h"

namespace pgcdc::encoding::avro {
namespace {

using json::ToHex;

std::string Long(int64_t v) {
  std::string out;
  AppendLong(v, out);
  return ToHex(out);
}

std::shared_ptr<const RowSchema> Table(std::vector<RowSchema::Column> columns) {
  auto t = std::make_shared<RowSchema>();
  t->namespace_name = "public";
  t->table = "orders";
  t->columns = std::move(columns);
  return t;
}

Event RowEvent(std::shared_ptr<const RowSchema> schema, std::string payload) {
  Event e = MakeEvent("pgcdc:orders", "INSERT", std::move(payload), "wal");
  e.schema = std::move(schema);
  return e;
}

// Encodes one column value (row image only) and returns the value's bytes.
Result<std::string> Value(uint32_t oid, const std::string& json) {
  auto table = Table({{"v", oid, false}});
  const Event e = RowEvent(table, R"({"op":"INSERT","row":{"v":)" + json + "}}");
  std::string out;
  auto schema = TableSchema(*table);
  if (auto st = Encode(e, *schema, out); !st) return Fail(st.error());
  // op "INSERT" (1+6), table (1+6), schema (1+6), row union 02, field union 02, value…,
  // old 00, toast array 00.
  const size_t head = 7 + 7 + 7 + 1 + 1;
  return ToHex(out.substr(head, out.size() - head - 2));
}

TEST(AvroTest, ZigZagVarints) {
  EXPECT_EQ(Long(0), "00");
  EXPECT_EQ(Long(-1), "01");
  EXPECT_EQ(Long(1), "02");
  EXPECT_EQ(Long(-64), "7f");
  EXPECT_EQ(Long(64), "8001");
  EXPECT_EQ(Long(std::numeric_limits<int64_t>::max()), "feffffffffffffffff01");
  EXPECT_EQ(Long(std::numeric_limits<int64_t>::min()), "ffffffffffffffffff01");
}

TEST(AvroTest, ConfluentHeader) {
  std::string out;
  AppendConfluentHeader(0x01020304, out);
  EXPECT_EQ(ToHex(out), "0001020304");
}

TEST(AvroTest, ValuesByPostgresType) {
  EXPECT_EQ(Value(16, "true").value(), "01");
  EXPECT_EQ(Value(23, "-3").value(), "05");
  EXPECT_EQ(Value(20, "9007199254740993").value(), Long(9007199254740993));
  EXPECT_EQ(Value(701, "1.5").value(), "000000000000f83f");
  EXPECT_EQ(Value(700, "1.5").value(), "0000c03f");
  EXPECT_EQ(Value(701, R"("NaN")").value(), "000000000000f87f");
  EXPECT_EQ(Value(25, R"("h\u00e9")").value(), "06" + ToHex("h\xc3\xa9"));
  EXPECT_EQ(Value(3802, R"({"a":[1,2]})").value(), "16" + ToHex(R"({"a":[1,2]})"));
  EXPECT_EQ(Value(17, R"("\\x00ff")").value(), "0400ff");
  EXPECT_EQ(Value(1082, R"("1970-01-02")").value(), Long(1));
  EXPECT_EQ(Value(1082, R"("1969-12-31")").value(), Long(-1));
  EXPECT_EQ(Value(1082, R"("2000-03-01")").value(), Long(11017));
  EXPECT_EQ(Value(1114, R"("1970-01-01T00:00:01.5")").value(), Long(1'500'000));
  EXPECT_EQ(Value(1184, R"("2026-11-24T02:34:37.9+01:00")").value(),
            Long((1795487677LL - 3600) * 1'000'000 + 900'000));
  EXPECT_EQ(Value(1083, R"("01:00:00.000001")").value(), Long(3'600'000'001));
  EXPECT_EQ(Value(1266, R"("01:00:00+02")").value(), Long(23LL * 3'600'000'000));
  EXPECT_EQ(Value(2950, R"("0195b3c2-7a10-7c3e-9f11-2b3c4d5e6f70")").value(),
            "48" + ToHex("0195b3c2-7a10-7c3e-9f11-2b3c4d5e6f70"));
}

TEST(AvroTest, DecimalsAreScaledTwosComplement) {
  // 1.5 → 1.5e18 = 0x14d1120d7b160000
  EXPECT_EQ(Value(1700, "1.5").value(),
            "10"
            "14d1120d7b160000");
  // -1 → -1e18 = 0xf21f494c589c0000 (two's complement, minimal)
  EXPECT_EQ(Value(1700, "-1").value(),
            "10"
            "f21f494c589c0000");
  EXPECT_EQ(Value(1700, "0").value(), "0200");
  // Big numerics arrive as strings; 20 integer digits + 18 fraction fit 38.
  EXPECT_TRUE(Value(1700, R"("12345678901234567890.5")"));
  for (const char* bad :
       {R"("NaN")", R"("Infinity")", "1.0000000000000000001", R"("123456789012345678901.5")"}) {
    auto v = Value(1700, bad);
    ASSERT_FALSE(v) << bad;
    EXPECT_EQ(v.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(v.error().message().find("column \"v\""), std::string::npos);
  }
  EXPECT_TRUE(Value(1700, "1.500000000000000000000"));  // trailing zeros lose nothing
}

TEST(AvroTest, ValuesTheTypeCannotHoldAreErrors) {
  EXPECT_FALSE(Value(23, "3000000000"));
  EXPECT_FALSE(Value(23, "1.5"));
  EXPECT_FALSE(Value(16, "1"));
  EXPECT_FALSE(Value(1082, R"("infinity")"));
  EXPECT_FALSE(Value(1184, R"("-infinity")"));
  EXPECT_FALSE(Value(17, R"("abc")"));
}

TEST(AvroTest, TableSchemaNamesAndNullableFields) {
  auto table = Table({{"id", 23, true}, {"2nd col", 25, false}, {"2nd-col", 16, false}});
  auto s = TableSchema(*table);
  EXPECT_FALSE(s->opaque);
  EXPECT_EQ(s->full_name, "pgcdc.public.orders");
  ASSERT_EQ(s->fields.size(), 3u);
  EXPECT_EQ(s->fields[1].name, "_2nd_col");
  EXPECT_EQ(s->fields[2].name, "_2nd_col_2");  // unique after sanitising
  EXPECT_NE(s->json.find(R"({"name":"id","type":["null","int"],"default":null})"),
            std::string::npos)
      << s->json;
  EXPECT_NE(s->json.find(R"("name":"old","type":["null","orders_row"])"), std::string::npos);
  EXPECT_EQ(SanitizeName(""), "_");
  EXPECT_EQ(SanitizeName("Ordérs"), "Ord__rs");
}

TEST(AvroTest, WholeEventAndCacheAndOpaque) {
  auto table = Table({{"id", 23, true}, {"note", 25, false}});
  const Event e = RowEvent(
      table,
      R"({"_unchanged_toast_columns":["note"],"old":{"id":1,"note":null},"op":"UPDATE","row":{"id":2,"note":null},"table":"orders"})");
  SchemaCache cache;
  auto s = cache.For(e);
  EXPECT_EQ(cache.For(e), s) << "cached per table";
  std::string out;
  ASSERT_TRUE(Encode(e, *s, out));
  const std::string expect = "0c" + ToHex("UPDATE") + "0c" + ToHex("orders") + "0c" +
                             ToHex("public") +
                             "02"
                             "02"
                             "04"
                             "00" +  // row: id=2, note=null
                             "02"
                             "02"
                             "02"
                             "00" +  // old: id=1, note=null
                             "02"
                             "08" +
                             ToHex("note") + "00";
  EXPECT_EQ(ToHex(out), expect);

  // No schema, or a payload that is no longer the structured shape: opaque.
  Event plain = MakeEvent("c", "NOTIFY", R"({"a":1})", "listen_notify");
  EXPECT_TRUE(cache.For(plain)->opaque);
  Event enveloped = RowEvent(table, R"({"before":null,"after":{"id":1}})");
  EXPECT_TRUE(cache.For(enveloped)->opaque);
  out.clear();
  ASSERT_TRUE(Encode(plain, *OpaqueSchema(), out));
  EXPECT_EQ(ToHex(out), "0e" + ToHex(R"({"a":1})"));

  // An error leaves `out` as it was.
  out = "keep";
  const Event bad = RowEvent(table, R"({"op":"INSERT","row":{"id":"x"}})");
  EXPECT_FALSE(Encode(bad, *s, out));
  EXPECT_EQ(out, "keep");
}

// --schema-store: the RowSchema's store version becomes two attributes of
// the record (one Avro schema per store version); the encoding is unchanged.
TEST(AvroTest, SchemaStoreVersionIsARecordAttribute) {
  RowSchema columns = *Table({{"id", 23, true}, {"note", 25, false}});
  auto v1 = schema::WithRef(columns, {.subject = "public.orders", .version = 1});
  auto v2 = schema::WithRef(columns, {.subject = "public.orders", .version = 2});
  auto plain = Table(columns.columns);
  SchemaCache cache;
  const std::string payload = R"({"old":null,"op":"INSERT","row":{"id":7,"note":"x"}})";
  auto s1 = cache.For(RowEvent(v1, payload));
  EXPECT_EQ(s1->store_subject, "public.orders");
  EXPECT_EQ(s1->store_version, 1);
  EXPECT_NE(
      s1->json.find(
          R"("namespace":"pgcdc.public","pgcdc.schema_subject":"public.orders","pgcdc.schema_version":1,"fields":[)"),
      std::string::npos)
      << s1->json;
  auto s2 = cache.For(RowEvent(v2, payload));
  EXPECT_EQ(s2->store_version, 2);
  EXPECT_NE(s1->json, s2->json) << "a new store version is a new Avro schema";
  auto s0 = cache.For(RowEvent(plain, payload));
  EXPECT_EQ(s0->store_version, 0);
  EXPECT_EQ(s0->json.find("pgcdc.schema_"), std::string::npos) << s0->json;
  EXPECT_EQ(s0->json, TableSchema(*plain)->json);
  // Same bytes whatever the attributes say.
  std::string a, b;
  ASSERT_TRUE(Encode(RowEvent(v1, payload), *s1, a));
  ASSERT_TRUE(Encode(RowEvent(plain, payload), *s0, b));
  EXPECT_EQ(ToHex(a), ToHex(b));
  // A subject that needs JSON escaping stays valid JSON.
  RowSchema odd = columns;
  odd.table = "we\"ird";
  auto s3 = TableSchema(
      odd, schema::RefOf(schema::WithRef(odd, {.subject = "public.we\"ird", .version = 4})));
  EXPECT_NE(s3->json.find(R"("pgcdc.schema_subject":"public.we\"ird")"), std::string::npos)
      << s3->json;
}

}  // namespace
}  // namespace pgcdc::encoding::avro
