#include "verify/sink_reader.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace pgcdc::verify {
namespace {

TEST(ParseAgainst, AcceptsTheThreeFormsAndExplainsOthers) {
  auto f = ParseAgainst("file:/tmp/out.jsonl");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->kind, Against::Kind::kFile);
  EXPECT_EQ(f->path, "/tmp/out.jsonl");
  auto p = ParseAgainst("pg_table:postgres://u@h:5432/db/audit.events");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->kind, Against::Kind::kPgTable);
  EXPECT_EQ(p->dsn, "postgres://u@h:5432/db");
  EXPECT_EQ(p->table, "audit.events");
  auto local = ParseAgainst("pg_table:pgcdc_events");
  ASSERT_TRUE(local);
  EXPECT_EQ(local->dsn, "");
  EXPECT_EQ(local->table, "pgcdc_events");
  auto k = ParseAgainst("kafka:h1:9092,h2:9092/pgcdc.orders");
  ASSERT_TRUE(k);
  EXPECT_EQ(k->brokers, "h1:9092,h2:9092");
  EXPECT_EQ(k->topic, "pgcdc.orders");
  for (const char* bad :
       {"out.jsonl", "file:", "pg_table:db/", "kafka:topic", "kafka:h:1/", "s3:bucket/x"}) {
    auto r = ParseAgainst(bad);
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_EQ(r.error().code(), ErrorCode::kConfig) << bad;
    }
  }
}

struct Dir {
  std::filesystem::path path;
  Dir() {
    char tmpl[] = "/tmp/pgcdc-verify-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~Dir() { std::filesystem::remove_all(path); }
  std::string Write(const std::string& name, const std::string& text) const {
    std::ofstream(path / name, std::ios::binary) << text;
    return (path / name).string();
  }
};

TEST(FileSink, ReadsRotatedFilesOldestFirstAndSkipsBlankLines) {
  Dir dir;
  const std::string path = dir.Write("out.jsonl", "c\n\n  \nd-without-newline");
  dir.Write("out.jsonl.1", "b\n");
  dir.Write("out.jsonl.2", "a\n");
  dir.Write("out.jsonl.4", "not read: .3 is missing\n");
  auto sink = OpenFileSink(path);
  ASSERT_TRUE(sink) << sink.error().message();
  std::vector<std::string> seen;
  for (int pass = 0; pass < 2; ++pass) {
    seen.clear();
    ASSERT_TRUE((*sink)->ReadAll([&](std::string_view doc, const Hints&, const Location& where) {
      seen.push_back(std::string(doc) + "@" + where.Format().substr(dir.path.string().size() + 1));
    }));
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"a@out.jsonl.2:1", "b@out.jsonl.1:1", "c@out.jsonl:1",
                                            "d-without-newline@out.jsonl:4"}));
}

TEST(FileSink, LongLinesSpanReads) {
  Dir dir;
  const std::string big(3 << 20, 'x');
  const std::string path = dir.Write("big.jsonl", big + "\n" + big);
  auto sink = OpenFileSink(path);
  ASSERT_TRUE(sink);
  size_t lines = 0;
  ASSERT_TRUE((*sink)->ReadAll([&](std::string_view doc, const Hints&, const Location&) {
    EXPECT_EQ(doc.size(), big.size());
    ++lines;
  }));
  EXPECT_EQ(lines, 2u);
}

TEST(FileSink, MissingAndUnreadablePathsAreUsageErrors) {
  Dir dir;
  auto missing = OpenFileSink((dir.path / "nope.jsonl").string());
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(missing.error().message().find("nope.jsonl"), std::string::npos);
  auto directory = OpenFileSink(dir.path.string());
  ASSERT_FALSE(directory);
  EXPECT_EQ(directory.error().code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace pgcdc::verify
