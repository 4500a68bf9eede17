// Decodes streams written by arrow/ipc.h with npm apache-arrow
// (tests/tools/arrow_decode.js), an independent reader.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cmath>

#include "adapter/encoding/node_decode.h"
#include "arrow/ipc.h"

namespace pgcdc::arrow_ipc {
namespace {

std::string Stream(const Schema& schema, const std::vector<std::vector<Column>>& batches) {
  std::string out;
  AppendFramed(SchemaMessage(schema), {}, out);
  for (const auto& cols : batches) {
    auto b = RecordBatchMessage(schema, cols);
    EXPECT_TRUE(b) << b.error().message();
    if (b) AppendFramed(b->header, b->body, out);
  }
  AppendEndOfStream(out);
  return out;
}

boost::json::object Decode(const std::string& stream) {
  const auto out = encoding::testing::RunNodeDecoder("arrow_decode.js", "", stream);
  boost::system::error_code ec;
  auto v = boost::json::parse(out, ec);
  EXPECT_FALSE(ec) << out;
  return ec || !v.is_object() ? boost::json::object() : v.as_object();
}

TEST(ArrowIpcCrosscheck, EveryTypeWithNullsDecodesWithApacheArrow) {
  const Schema schema = {
      {.name = "s", .type = Type::kUtf8, .nullable = false},
      {.name = "bin", .type = Type::kBinary},
      {.name = "b", .type = Type::kBool},
      {.name = "i16", .type = Type::kInt16},
      {.name = "i32", .type = Type::kInt32},
      {.name = "i64", .type = Type::kInt64},
      {.name = "f32", .type = Type::kFloat32},
      {.name = "f64", .type = Type::kFloat64},
      {.name = "d", .type = Type::kDate32},
      {.name = "ts", .type = Type::kTimestampMicros},
      {.name = "tstz", .type = Type::kTimestampMicros, .timezone = "UTC"},
  };
  auto make = [&](int rows, int offset) {
    std::vector<Column> cols;
    for (const auto& f : schema) cols.emplace_back(f.type);
    for (int r = 0; r < rows; ++r) {
      const int i = r + offset;
      cols[0].AppendBytes("row \xc3\xa9 " + std::to_string(i));
      for (size_t c = 1; c < cols.size(); ++c) {
        if (i % 3 == 1) {
          cols[c].AppendNull();
          continue;
        }
        switch (schema[c].type) {
          case Type::kBinary:
            cols[c].AppendBytes(std::string("\x00\xff", 2));
            break;
          case Type::kBool:
            cols[c].AppendBool(i % 2 == 0);
            break;
          case Type::kFloat32:
          case Type::kFloat64:
            cols[c].AppendDouble(i + 0.5);
            break;
          case Type::kInt64:
          case Type::kTimestampMicros:
            cols[c].AppendInt(1'700'000'000'123'456 + i);
            break;
          default:
            cols[c].AppendInt(-i);
        }
      }
    }
    return cols;
  };
  auto got = Decode(Stream(schema, {make(10, 0), make(0, 10), make(3, 10)}));
  ASSERT_EQ(got["batches"].as_int64(), 3);
  const auto& fields = got["schema"].as_array();
  ASSERT_EQ(fields.size(), schema.size());
  EXPECT_EQ(fields[0].at("type").as_string(), "Utf8");
  EXPECT_EQ(fields[0].at("nullable").as_bool(), false);
  EXPECT_EQ(fields[3].at("type").as_string(), "Int16");
  EXPECT_EQ(fields[8].at("type").as_string(), "Date32<DAY>");
  EXPECT_EQ(fields[9].at("type").as_string(), "Timestamp<MICROSECOND>");
  EXPECT_EQ(fields[10].at("type").as_string(), "Timestamp<MICROSECOND, UTC>");
  const auto& rows = got["rows"].as_array();
  ASSERT_EQ(rows.size(), 13u);
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& row = rows[i].as_object();
    EXPECT_EQ(row.at("s").as_string(), "row \xc3\xa9 " + std::to_string(i));
    if (i % 3 == 1) {
      EXPECT_TRUE(row.at("i32").is_null() && row.at("tstz").is_null() && row.at("b").is_null());
      continue;
    }
    EXPECT_EQ(row.at("bin").as_string(), "00ff");
    EXPECT_EQ(row.at("b").as_bool(), i % 2 == 0);
    EXPECT_EQ(row.at("i16").as_int64(), -static_cast<int64_t>(i));
    EXPECT_EQ(row.at("i64").as_string(), std::to_string(1'700'000'000'123'456 + i));
    EXPECT_EQ(row.at("tstz").as_string(), std::to_string(1'700'000'000'123'456 + i));
    EXPECT_DOUBLE_EQ(row.at("f32").as_double(), i + 0.5);
    EXPECT_EQ(row.at("d").as_string(), std::to_string(-static_cast<int64_t>(i)));
  }
}

// Dictionary-encoded utf8 columns (the arrow sink's channel/operation/
// source): one DictionaryBatch per dictionary, then record batches of int32
// indices, with nulls and an empty batch.
TEST(ArrowIpcCrosscheck, DictionaryEncodedColumnsDecodeWithApacheArrow) {
  const Schema schema = {{.name = "plain", .nullable = false},
                         {.name = "op", .nullable = true, .dictionary_id = 0},
                         {.name = "ch", .nullable = false, .dictionary_id = 1}};
  const std::vector<std::string> ops = {"INSERT", "UPDATE", "DELETE \xc3\xa9"};
  Column op_values(Type::kUtf8), ch_values(Type::kUtf8);
  for (const auto& v : ops) op_values.AppendBytes(v);
  ch_values.AppendBytes("pgcdc:orders");
  std::string stream;
  AppendFramed(SchemaMessage(schema), {}, stream);
  for (auto [id, values] : {std::pair<int64_t, const Column*>{0, &op_values}, {1, &ch_values}}) {
    auto d = DictionaryBatchMessage(id, *values);
    ASSERT_TRUE(d) << d.error().message();
    AppendFramed(d->header, d->body, stream);
  }
  size_t row = 0;
  for (size_t rows : {5u, 0u, 4u}) {
    std::vector<Column> cols;
    cols.emplace_back(Type::kUtf8);
    cols.emplace_back(Type::kInt32);
    cols.emplace_back(Type::kInt32);
    for (size_t i = 0; i < rows; ++i, ++row) {
      cols[0].AppendBytes("r" + std::to_string(row));
      if (row % 4 == 3) {
        cols[1].AppendNull();
      } else {
        cols[1].AppendInt(static_cast<int64_t>(row % 3));
      }
      cols[2].AppendInt(0);
    }
    auto b = RecordBatchMessage(schema, cols);
    ASSERT_TRUE(b) << b.error().message();
    AppendFramed(b->header, b->body, stream);
  }
  AppendEndOfStream(stream);
  auto got = Decode(stream);
  ASSERT_EQ(got["batches"].as_int64(), 3) << got;
  const auto& fields = got["schema"].as_array();
  ASSERT_EQ(fields.size(), 3u);
  EXPECT_EQ(fields[1].at("type").as_string(), "Dictionary<Int32, Utf8>");
  EXPECT_EQ(fields[2].at("type").as_string(), "Dictionary<Int32, Utf8>");
  const auto& rows = got["rows"].as_array();
  ASSERT_EQ(rows.size(), 9u);
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i].as_object();
    EXPECT_EQ(r.at("plain").as_string(), "r" + std::to_string(i));
    EXPECT_EQ(r.at("ch").as_string(), "pgcdc:orders");
    if (i % 4 == 3) {
      EXPECT_TRUE(r.at("op").is_null()) << r;
    } else {
      EXPECT_EQ(r.at("op").as_string(), ops[i % 3]) << r;
    }
  }
}

TEST(ArrowIpcCrosscheck, SchemaCustomMetadataDecodesWithApacheArrow) {
  const Schema schema = {{.name = "id", .type = Type::kInt32}};
  std::string stream;
  AppendFramed(SchemaMessage(schema, {{"pgcdc.schema_subject", "public.orders"},
                                      {"pgcdc.schema_version", "2"}}),
               {}, stream);
  std::vector<Column> cols;
  cols.emplace_back(Type::kInt32);
  cols[0].AppendInt(7);
  auto b = RecordBatchMessage(schema, cols);
  ASSERT_TRUE(b) << b.error().message();
  AppendFramed(b->header, b->body, stream);
  AppendEndOfStream(stream);
  auto got = Decode(stream);
  ASSERT_TRUE(got.contains("metadata")) << got;
  EXPECT_EQ(boost::json::serialize(got["metadata"]),
            R"({"pgcdc.schema_subject":"public.orders","pgcdc.schema_version":"2"})");
  ASSERT_EQ(got["rows"].as_array().size(), 1u);
  EXPECT_EQ(got["rows"].as_array()[0].at("id").to_number<int64_t>(), 7);
  // Without metadata the field is absent (as before).
  EXPECT_FALSE(Decode(Stream(schema, {})).contains("metadata"));
}

}  // namespace
}  // namespace pgcdc::arrow_ipc
