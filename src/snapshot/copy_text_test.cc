#include "snapshot/copy_text.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace pgcdc::snapshot {
namespace {

using Rows = std::vector<CopyRow>;

std::optional<std::string> S(const char* s) { return std::string(s); }
const std::optional<std::string> kNull = std::nullopt;

// Parses `data` split into the given chunks; returns the rows or the error.
Result<Rows> ParseChunks(const std::vector<std::string>& chunks, size_t cap = 1 << 20) {
  CopyTextParser p(cap);
  Rows rows;
  for (const auto& c : chunks) {
    if (auto st = p.Feed(c); !st) return Fail(st.error());
    for (;;) {
      auto more = p.Next();
      if (!more) return Fail(more.error());
      if (!*more) break;
      rows.push_back(p.OwnedFields());
    }
  }
  if (auto st = p.Finish(); !st) return Fail(st.error());
  return rows;
}

Result<Rows> ParseAll(const std::string& data, size_t cap = 1 << 20) {
  return ParseChunks({data}, cap);
}

// Splits `data` at the given offsets.
std::vector<std::string> SplitAt(const std::string& data, const std::vector<size_t>& cuts) {
  std::vector<std::string> out;
  size_t prev = 0;
  for (size_t c : cuts) {
    out.push_back(data.substr(prev, c - prev));
    prev = c;
  }
  out.push_back(data.substr(prev));
  return out;
}

std::string EncodeRow(const CopyRow& row) {
  std::string out;
  AppendCopyTextRow(out, row);
  return out;
}

TEST(CopyTextTest, ColumnsNullsAndEmptyValues) {
  auto rows = ParseAll("1\tabc\t\\N\n2\t\t\n\n");
  ASSERT_TRUE(rows) << rows.error().message();
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ((*rows)[0], (CopyRow{S("1"), S("abc"), kNull}));
  EXPECT_EQ((*rows)[1], (CopyRow{S("2"), S(""), S("")}));  // trailing tab: empty last column
  EXPECT_EQ((*rows)[2], (CopyRow{S("")}));                 // empty line: one empty column
}

TEST(CopyTextTest, AllEscapes) {
  auto rows = ParseAll(
      "\\b\\f\\n\\r\\t\\v\\\\\t\\1\\12\\123\\0\\777\t\\x4\\x41\\x4G\\xZ\\x\t\\Nx\\q\\\"\\\\N\n");
  ASSERT_TRUE(rows) << rows.error().message();
  ASSERT_EQ(rows->size(), 1u);
  const CopyRow& r = (*rows)[0];
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(*r[0], std::string("\b\f\n\r\t\v\\"));
  EXPECT_EQ(*r[1], std::string("\x01\x0a\x53") + std::string(1, '\0') + "\xff");  // \777 wraps
  // \x4 \x41 \x4G \xZ \x  ->  04 'A' 04 'G' 'x' 'Z' 'x'
  EXPECT_EQ(*r[2], std::string("\x04") + "A" + "\x04" + "G" + "xZx");
  // "\N" only means NULL as the whole raw column; elsewhere \N is just N.
  EXPECT_EQ(*r[3], "Nxq\"\\N");
}

TEST(CopyTextTest, HexEscapeDetail) {
  auto row = ParseCopyTextRow("\\x4G");
  ASSERT_TRUE(row);
  EXPECT_EQ(*(*row)[0], std::string("\x04G"));
  row = ParseCopyTextRow("\\x41\\x4g\\xff\\x123");
  ASSERT_TRUE(row);
  EXPECT_EQ(*(*row)[0], std::string("A\x04g\xff\x12") + "3");
}

TEST(CopyTextTest, NullMarkerIsWholeRawColumn) {
  auto rows = ParseAll("\\N\t\\\\N\tN\t\\NN\n");
  ASSERT_TRUE(rows);
  EXPECT_EQ((*rows)[0], (CopyRow{kNull, S("\\N"), S("N"), S("NN")}));
}

TEST(CopyTextTest, EscapedDelimitersStayInsideTheColumn) {
  // "\<TAB>" is a literal tab; "\<LF>" a literal newline within the row.
  auto rows = ParseAll("a\\\tb\tc\\\nd\n");
  ASSERT_TRUE(rows) << rows.error().message();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0], (CopyRow{S("a\tb"), S("c\nd")}));
}

TEST(CopyTextTest, BackslashPairsBeforeNewline) {
  auto rows = ParseAll("a\\\\\nb\\\\\\\nc\n");
  ASSERT_TRUE(rows) << rows.error().message();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0], (CopyRow{S("a\\")}));
  EXPECT_EQ((*rows)[1], (CopyRow{S("b\\\nc")}));
}

TEST(CopyTextTest, ZeroCopyForUnescapedColumns) {
  const std::string chunk = "plain\tesc\\tape\t\\N\n";
  CopyTextParser p;
  ASSERT_TRUE(p.Feed(chunk));
  auto more = p.Next();
  ASSERT_TRUE(more && *more);
  auto f = p.fields();
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f[0]->data(), chunk.data());  // points into the chunk
  EXPECT_EQ(*f[1], "esc\tape");
  EXPECT_FALSE(f[1]->data() >= chunk.data() && f[1]->data() < chunk.data() + chunk.size());
  EXPECT_FALSE(f[2].has_value());
  more = p.Next();
  ASSERT_TRUE(more);
  EXPECT_FALSE(*more);
  EXPECT_TRUE(p.Finish());
  EXPECT_EQ(p.rows(), 1u);
}

TEST(CopyTextTest, EverySplitPointGivesTheSameRows) {
  const std::string data = "1\ta\\tb\t\\N\n2\t\\\\\tx\\\ny\n3\t\\101\\x42\t\n";
  auto whole = ParseAll(data);
  ASSERT_TRUE(whole) << whole.error().message();
  ASSERT_EQ(whole->size(), 3u);
  for (size_t i = 0; i <= data.size(); ++i) {
    for (size_t j = i; j <= data.size(); j += 3) {
      auto split = ParseChunks(SplitAt(data, {i, j}));
      ASSERT_TRUE(split) << i << "," << j << ": " << split.error().message();
      EXPECT_EQ(*split, *whole) << "cuts " << i << "," << j;
    }
  }
  std::vector<std::string> bytes;
  for (char c : data) bytes.emplace_back(1, c);
  auto one_by_one = ParseChunks(bytes);
  ASSERT_TRUE(one_by_one);
  EXPECT_EQ(*one_by_one, *whole);
}

TEST(CopyTextTest, EscapedNewlineAcrossChunks) {
  // The backslash run straddles the chunk boundary.
  auto rows = ParseChunks({"a\\", "\nb\n"});
  ASSERT_TRUE(rows);
  EXPECT_EQ(*rows, (Rows{{S("a\nb")}}));
  rows = ParseChunks({"a\\", "\\", "\nb\n"});
  ASSERT_TRUE(rows);
  EXPECT_EQ(*rows, (Rows{{S("a\\")}, {S("b")}}));
  rows = ParseChunks({"x", "\\\\", "\\", "\n", "\n"});
  ASSERT_TRUE(rows);
  EXPECT_EQ(*rows, (Rows{{S("x\\\n")}}));
}

TEST(CopyTextTest, RowSizeCap) {
  // Exactly at the cap is fine; one byte more is an error, in one chunk or
  // spread over several (detected before the row ends).
  EXPECT_TRUE(ParseAll("abcd\n", 4));
  auto r = ParseAll("abcde\n", 4);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kParse);
  EXPECT_NE(r.error().message().find("exceeds"), std::string::npos);
  EXPECT_FALSE(ParseChunks({"ab", "cd", "e"}, 4));
  EXPECT_TRUE(ParseChunks({"ab", "cd\nab", "cd\n"}, 4));

  CopyTextParser p(8);
  ASSERT_TRUE(p.Feed("0123"));
  ASSERT_TRUE(p.Next());
  ASSERT_TRUE(p.Feed("45678"));
  auto more = p.Next();
  ASSERT_FALSE(more);
  EXPECT_LE(p.pending_bytes(), 8u);
}

TEST(CopyTextTest, ErrorsAreStickyUntilReset) {
  CopyTextParser p(3);
  ASSERT_TRUE(p.Feed("toolong\n"));
  EXPECT_FALSE(p.Next());
  EXPECT_FALSE(p.Feed("ok\n"));
  EXPECT_FALSE(p.Next());
  EXPECT_FALSE(p.Finish());
  p.Reset();
  ASSERT_TRUE(p.Feed("ok\n"));
  auto more = p.Next();
  ASSERT_TRUE(more && *more);
  EXPECT_EQ(*p.fields()[0], "ok");
}

TEST(CopyTextTest, TruncatedStreamAndMisuse) {
  auto r = ParseAll("1\t2\n3\t");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("ends inside a row"), std::string::npos);

  CopyTextParser p;
  ASSERT_TRUE(p.Feed("a\nb\n"));
  ASSERT_TRUE(p.Next());
  // Feeding again before the chunk is used up is refused, not UB.
  auto st = p.Feed("c\n");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), ErrorCode::kInvalidArgument);

  auto dangling = ParseCopyTextRow("abc\\");
  EXPECT_FALSE(dangling);
  EXPECT_FALSE(ParseCopyTextRow("a\nb"));
  auto one = ParseCopyTextRow("a\tb");
  ASSERT_TRUE(one);
  EXPECT_EQ(*one, (CopyRow{S("a"), S("b")}));
}

TEST(CopyTextTest, RandomValuesRoundTripInRandomChunks) {
  std::mt19937 rng(12345);
  for (int iter = 0; iter < 300; ++iter) {
    Rows rows;
    std::string data;
    const int nrows = 1 + static_cast<int>(rng() % 6);
    const int ncols = 1 + static_cast<int>(rng() % 5);
    for (int r = 0; r < nrows; ++r) {
      CopyRow row;
      for (int c = 0; c < ncols; ++c) {
        if (rng() % 7 == 0) {
          row.emplace_back(std::nullopt);
          continue;
        }
        std::string v;
        const int len = static_cast<int>(rng() % 12);
        static const char kAlphabet[] = "ab\\\t\n\r\b\f\vN01x";
        for (int k = 0; k < len; ++k) v.push_back(kAlphabet[rng() % (sizeof kAlphabet - 1)]);
        row.emplace_back(std::move(v));
      }
      data += EncodeRow(row);
      rows.push_back(std::move(row));
    }
    std::vector<size_t> cuts;
    for (size_t i = 0; i < data.size(); ++i) {
      if (rng() % 5 == 0) cuts.push_back(i);
    }
    auto got = ParseChunks(SplitAt(data, cuts));
    ASSERT_TRUE(got) << got.error().message();
    EXPECT_EQ(*got, rows) << "iteration " << iter;
  }
}

TEST(CopyTextTest, GarbageNeverCrashesAndChunkingIsInvisible) {
  std::mt19937 rng(777);
  static const char kAlphabet[] = "\\\t\nNx0789aF";
  for (int iter = 0; iter < 2000; ++iter) {
    std::string data;
    const int len = static_cast<int>(rng() % 40);
    for (int k = 0; k < len; ++k) {
      data.push_back(rng() % 10 == 0 ? static_cast<char>(rng() % 256)
                                     : kAlphabet[rng() % (sizeof kAlphabet - 1)]);
    }
    const size_t cap = 1 + rng() % 16;
    auto whole = ParseAll(data, cap);
    std::vector<size_t> cuts;
    for (size_t i = 0; i < data.size(); ++i) {
      if (rng() % 3 == 0) cuts.push_back(i);
    }
    auto split = ParseChunks(SplitAt(data, cuts), cap);
    ASSERT_EQ(whole.has_value(), split.has_value()) << "iteration " << iter;
    if (whole) {
      EXPECT_EQ(*whole, *split);
    }
  }
}

}  // namespace
}  // namespace pgcdc::snapshot
