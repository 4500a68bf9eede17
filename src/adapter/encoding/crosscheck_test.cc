// Cross-check: records the encoder writes are decoded by an independent Avro
// implementation (npm avsc, tests/tools/avro_decode.js) with the schema the
// encoder publishes, and every value comes back as PostgreSQL sent it.
#include <gtest/gtest.h>

#include <iostream>
#include <string>

#include "adapter/encoding/avro.h"
#include "adapter/encoding/node_decode.h"
#include "adapter/encoding/protobuf.h"
#include "core/json.h"
#include "core/json_dom.h"

namespace pgcdc::encoding::avro {
namespace {

TEST(AvroAvscTest, AnIndependentDecoderReadsEveryType) {
  auto table = std::make_shared<RowSchema>();
  table->namespace_name = "app";
  table->table = "all types";
  table->columns = {{"id", 23, true},    {"flag", 16, false},   {"big", 20, false},
                    {"f4", 700, false},  {"f8", 701, false},    {"amount", 1700, false},
                    {"blob", 17, false}, {"day", 1082, false},  {"at", 1184, false},
                    {"t", 1083, false},  {"u", 2950, false},    {"doc", 3802, false},
                    {"name", 25, false}, {"missing", 25, false}};
  Event insert = MakeEvent(
      "pgcdc:app.all types", "INSERT",
      R"({"old":null,"op":"INSERT","row":{"id":7,"flag":true,"big":9007199254740991,"f4":1.5,"f8":-2.25,"amount":1234.56,"blob":"\\x00ff10","day":"2000-03-01","at":"1970-01-01T00:00:01.25+00:00","t":"00:00:02","u":"0195b3c2-7a10-7c3e-9f11-2b3c4d5e6f70","doc":{"k":[1,"x"]},"name":"h\u00e9","missing":null},"schema":"app","table":"all types"})",
      "wal");
  insert.schema = table;
  Event del = MakeEvent(
      "pgcdc:app.all types", "DELETE",
      R"({"_unchanged_toast_columns":["doc"],"old":null,"op":"DELETE","row":{"id":8},"table":"all types"})",
      "wal");
  del.schema = table;

  SchemaCache cache;
  auto schema = cache.For(insert);
  ASSERT_FALSE(schema->opaque);
  std::string data;
  ASSERT_TRUE(Encode(insert, *schema, data));
  ASSERT_TRUE(Encode(del, *cache.For(del), data));
  const std::string out = testing::DecodeAvro(schema->json, data);
  std::vector<boost::json::object> records;
  size_t start = 0;
  for (size_t nl; (nl = out.find('\n', start)) != std::string::npos; start = nl + 1) {
    auto v = json::ParseDom(out.substr(start, nl - start));
    ASSERT_TRUE(v && v->is_object()) << out;
    records.push_back(v->as_object());
  }
  ASSERT_EQ(records.size(), 2u) << out;

  auto& r0 = records[0];
  EXPECT_EQ(r0["op"].as_string(), "INSERT");
  EXPECT_EQ(r0["table"].as_string(), "all types");
  EXPECT_EQ(r0["schema"].as_string(), "app");
  EXPECT_TRUE(r0["old"].is_null());
  auto& row = r0["row"].as_object();
  EXPECT_EQ(row["id"].to_number<int64_t>(), 7);
  EXPECT_EQ(row["flag"].as_bool(), true);
  EXPECT_EQ(row["big"].as_string(), "9007199254740991");
  EXPECT_EQ(row["f4"].to_number<double>(), 1.5);
  EXPECT_EQ(row["f8"].to_number<double>(), -2.25);
  // decimal(38,18): 1234.56 × 10^18 as big-endian two's complement.
  EXPECT_EQ(row["amount"].as_string(), "42ecf6330552400000");
  EXPECT_EQ(row["blob"].as_string(), "00ff10");
  EXPECT_EQ(row["day"].to_number<int64_t>(), 11017);
  EXPECT_EQ(row["at"].to_number<int64_t>(), 1250000);
  EXPECT_EQ(row["t"].to_number<int64_t>(), 2000000);
  EXPECT_EQ(row["u"].as_string(), "0195b3c2-7a10-7c3e-9f11-2b3c4d5e6f70");
  EXPECT_EQ(row["doc"].as_string(), R"({"k":[1,"x"]})");
  EXPECT_EQ(row["name"].as_string(), "h\xc3\xa9");
  EXPECT_TRUE(row["missing"].is_null());
  EXPECT_TRUE(r0["unchanged_toast_columns"].as_array().empty());

  auto& r1 = records[1];
  EXPECT_EQ(r1["op"].as_string(), "DELETE");
  EXPECT_EQ(r1["schema"].as_string(), "app") << "from the table when the payload has none";
  EXPECT_EQ(r1["row"].as_object()["id"].to_number<int64_t>(), 8);
  EXPECT_TRUE(r1["row"].as_object()["flag"].is_null());
  ASSERT_EQ(r1["unchanged_toast_columns"].as_array().size(), 1u);
  EXPECT_EQ(r1["unchanged_toast_columns"].as_array()[0].as_string(), "doc");
  if (HasFailure()) std::cerr << "decoded:\n" << out;
}

TEST(AvroAvscTest, OpaqueRecordsCarryThePayloadBytes) {
  const Event e = MakeEvent("c", "NOTIFY", R"("just text")", "listen_notify");
  std::string data;
  ASSERT_TRUE(Encode(e, *OpaqueSchema(), data));
  const std::string out = testing::DecodeAvro(OpaqueSchema()->json, data);
  EXPECT_EQ(out, R"({"payload":")" + json::ToHex(R"("just text")") + "\"}\n");
}

TEST(ProtobufCrossCheck, ProtobufjsReadsTheEventMessage) {
  Event e = MakeEvent("pgcdc:orders", "UPDATE", R"({"id":1})", "wal");
  e.transaction =
      TransactionInfo{.xid = 4000000000u, .commit_time_ns = 1765000000123456789, .seq = 3};
  std::string data;
  protobuf::Encode(e, e.payload, data);
  const std::string out =
      testing::DecodeProtobuf(protobuf::EventProto(), std::string(protobuf::kEventMessage), data);
  auto v = json::ParseDom(out);
  ASSERT_TRUE(v && v->is_object()) << out;
  auto& o = v->as_object();
  EXPECT_EQ(o["id"].as_string(), e.id.ToString());
  EXPECT_EQ(o["channel"].as_string(), "pgcdc:orders");
  EXPECT_EQ(o["operation"].as_string(), "UPDATE");
  EXPECT_EQ(o["payload"].as_string(), "7b226964223a317d");  // {"id":1}
  EXPECT_EQ(o["source"].as_string(), "wal");
  EXPECT_EQ(o["created_at_unix_ns"].as_string(), std::to_string(e.created_at_ns));
  auto& tx = o["transaction"].as_object();
  EXPECT_EQ(tx["xid"].to_number<uint64_t>(), 4000000000u);
  EXPECT_EQ(tx["commit_time_unix_ns"].as_string(), "1765000000123456789");
  EXPECT_EQ(tx["seq"].to_number<int64_t>(), 3);
}

}  // namespace
}  // namespace pgcdc::encoding::avro
