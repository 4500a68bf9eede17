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

}  // namespace
}  // namespace pgcdc::arrow_ipc
