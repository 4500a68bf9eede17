// The Parquet writer: files are read back with the independent npm reader
// hyparquet (tests/tools/parquet_read.mjs), never with DuckDB.
#include "parquet/writer.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/json_dom.h"

namespace pgcdc::parquet {
namespace {

namespace bj = boost::json;

std::string ToolsDir() {
  const char* src = std::getenv("PGCDC_SOURCE_DIR");
  return std::string(src != nullptr ? src : ".") + "/tests/tools";
}

// hyparquet's view of `bytes` (the document parquet_read.mjs prints).
bj::object ReadBack(const std::string& bytes) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("parquet_test_" + std::to_string(::getpid()) + ".parquet");
  std::ofstream(path, std::ios::binary) << bytes;
  const std::string cmd = "node " + ToolsDir() + "/parquet_read.mjs " + path.string() + " 2>&1";
  std::string out;
  if (FILE* f = ::popen(cmd.c_str(), "r"); f != nullptr) {
    char buf[4096];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) out.append(buf, n);
    ::pclose(f);
  }
  std::filesystem::remove(path);
  auto doc = json::ParseDom(out);
  EXPECT_TRUE(doc && doc->is_object()) << out;
  return doc && doc->is_object() ? doc->as_object() : bj::object{};
}

TEST(ParquetWriter, TypedRowsReadBackWithAnIndependentReader) {
  if (!Available()) GTEST_SKIP() << UnavailableReason();
  auto w = Writer::Create({{"id", Type::kInt64},
                           {"name", Type::kString},
                           {"ok", Type::kBool},
                           {"at", Type::kTimestampTz},
                           {"doc", Type::kJson},
                           {"u", Type::kUuid},
                           {"day", Type::kDate},
                           {"x", Type::kDouble}});
  ASSERT_TRUE(w) << w.error().message();
  Writer& out = **w;
  ASSERT_TRUE(out.Int64(1) && out.String("a \"quoted\" é") && out.Bool(true) &&
              out.TimestampMicros(1'750'000'000'123'456) && out.Text(R"({"k":[1,2]})") &&
              out.Text("0195b3c2-7a10-7c3e-9f11-2b3c4d5e6f70") && out.Text("2025-06-15") &&
              out.Double(2.5) && out.EndRow());
  // Text is cast to the column type; NULLs everywhere.
  ASSERT_TRUE(out.Text("9007199254740993") && out.Null() && out.Text("false") &&
              out.Text("2025-06-15 12:00:00+02") && out.Null() && out.Null() && out.Null() &&
              out.Text("-1e3") && out.EndRow());
  EXPECT_EQ(out.rows(), 2u);
  auto bytes = out.Finish();
  ASSERT_TRUE(bytes) << bytes.error().message();
  ASSERT_GT(bytes->size(), 8u);
  EXPECT_EQ(bytes->substr(0, 4), "PAR1");
  EXPECT_EQ(bytes->substr(bytes->size() - 4), "PAR1");
  EXPECT_EQ(out.rows(), 0u);

  bj::object doc = ReadBack(*bytes);
  EXPECT_EQ(doc["num_rows"], 2);
  EXPECT_EQ(doc["codec"], "SNAPPY");
  const auto& cols = doc["columns"].as_array();
  ASSERT_EQ(cols.size(), 8u);
  EXPECT_EQ(cols[0].at("type"), "INT64");
  EXPECT_EQ(cols[3].at("logical"), "TIMESTAMP");
  EXPECT_EQ(cols[3].at("utc"), true);
  EXPECT_EQ(cols[4].at("logical"), "JSON");
  EXPECT_EQ(cols[5].at("logical"), "UUID");
  const auto& rows = doc["rows"].as_array();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].at("id"), "1");
  EXPECT_EQ(rows[0].at("name"), "a \"quoted\" é");
  EXPECT_EQ(rows[0].at("ok"), true);
  EXPECT_EQ(rows[0].at("at"), "2025-06-15T15:06:40.123Z");
  EXPECT_EQ(json::SerializeDom(rows[0].at("doc")), R"({"k":[1,2]})");
  EXPECT_EQ(rows[0].at("u"), "0195b3c2-7a10-7c3e-9f11-2b3c4d5e6f70");
  EXPECT_EQ(rows[1].at("id"), "9007199254740993");
  EXPECT_TRUE(rows[1].at("name").is_null());
  EXPECT_EQ(rows[1].at("ok"), false);
  EXPECT_EQ(rows[1].at("at"), "2025-06-15T10:00:00.000Z");
  EXPECT_EQ(rows[1].at("x").to_number<double>(), -1000.0);
}

TEST(ParquetWriter, BadValueLeavesTheColumnPendingAndTheWriterUsable) {
  if (!Available()) GTEST_SKIP() << UnavailableReason();
  auto w = Writer::Create({{"n", Type::kInt32}, {"s", Type::kString}});
  ASSERT_TRUE(w) << w.error().message();
  auto st = (*w)->Text("not a number");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(st.error().message().find("\"n\" (INTEGER)"), std::string::npos)
      << st.error().message();
  ASSERT_TRUE((*w)->Null() && (*w)->String("kept") && (*w)->EndRow());
  // Too few values: the row cannot end; too many: refused.
  ASSERT_TRUE((*w)->Int64(7));
  EXPECT_FALSE((*w)->EndRow());
  ASSERT_TRUE((*w)->String("x"));
  EXPECT_FALSE((*w)->String("y"));
  ASSERT_TRUE((*w)->EndRow());
  auto bytes = (*w)->Finish();
  ASSERT_TRUE(bytes) << bytes.error().message();
  bj::object doc = ReadBack(*bytes);
  const auto& rows = doc["rows"].as_array();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_TRUE(rows[0].at("n").is_null());
  EXPECT_EQ(rows[0].at("s"), "kept");
  EXPECT_EQ(rows[1].at("n"), 7);
}

TEST(ParquetWriter, FinishStartsOverAndWritesFiles) {
  if (!Available()) GTEST_SKIP() << UnavailableReason();
  auto w = Writer::Create({{"a b \"c\"", Type::kString}});
  ASSERT_TRUE(w) << w.error().message();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE((*w)->String("r" + std::to_string(i)) && (*w)->EndRow());
  const auto path = std::filesystem::temp_directory_path() / "parquet_test 'quoted'.parquet";
  ASSERT_TRUE((*w)->FinishToFile(path.string()));
  ASSERT_TRUE((*w)->String("next") && (*w)->EndRow());
  auto second = (*w)->Finish();
  ASSERT_TRUE(second);
  std::ifstream in(path, std::ios::binary);
  const std::string first((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::filesystem::remove(path);
  EXPECT_EQ(ReadBack(first)["num_rows"], 3);
  bj::object doc = ReadBack(*second);
  EXPECT_EQ(doc["num_rows"], 1);
  EXPECT_EQ(doc["rows"].as_array()[0].at("a b \"c\""), "next");
}

TEST(ParquetWriter, BadSchemasAreRefused) {
  if (!Available()) {
    auto w = Writer::Create({{"a", Type::kString}});
    ASSERT_FALSE(w);
    EXPECT_EQ(w.error().code(), ErrorCode::kUnimplemented);
    EXPECT_NE(w.error().message().find("no Parquet support"), std::string::npos);
    return;
  }
  EXPECT_FALSE(Writer::Create({}));
  auto dup = Writer::Create({{"a", Type::kString}, {"a", Type::kInt64}});
  ASSERT_FALSE(dup);
  EXPECT_NE(dup.error().message().find("twice"), std::string::npos);
}

}  // namespace
}  // namespace pgcdc::parquet

namespace pgcdc::parquet {
namespace {

TEST(ParseTimestampTz, OffsetsFractionsAndRefusals) {
  EXPECT_EQ(ParseTimestampTz("1970-01-01T00:00:01.25+00:00"), 1'250'000);
  EXPECT_EQ(ParseTimestampTz("1970-01-01 00:00:00Z"), 0);
  EXPECT_EQ(ParseTimestampTz("2025-06-15 12:00:00+02"), 1'749'981'600'000'000);
  EXPECT_EQ(ParseTimestampTz("2025-06-15 12:00:00.123456789-05:30"),
            1'749'981'600'000'000 + (7 * 3600 + 1800) * 1'000'000LL + 123'456);
  EXPECT_EQ(ParseTimestampTz("1969-12-31T23:59:59.5+0000"), -500'000);
  EXPECT_EQ(ParseTimestampTz("1900-01-01 00:00:00+00:19:32"), -2'208'989'972'000'000);
  for (const char* bad :
       {"", "infinity", "2025-06-15", "2025-06-15 12:00:00", "2025-13-01 00:00:00Z",
        "0044-03-15 12:00:00+00 BC", "12025-06-15 12:00:00+00", "2025-06-15 12:00:00+2"}) {
    EXPECT_EQ(ParseTimestampTz(bad), std::nullopt) << bad;
  }
}

}  // namespace
}  // namespace pgcdc::parquet
