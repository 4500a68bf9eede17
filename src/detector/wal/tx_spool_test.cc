#include "detector/wal/tx_spool.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

namespace pgcdc::detector::wal {
namespace {

std::string Dir() { return std::filesystem::temp_directory_path().string(); }

// A record's payload: its index as text, padded to `size` bytes.
std::vector<uint8_t> Payload(int i, size_t size) {
  std::string s = std::to_string(i);
  s.resize(std::max(size, s.size()), '.');
  return {s.begin(), s.end()};
}

struct Seen {
  uint32_t xid;
  uint64_t lsn;
  std::string text;
};

std::vector<Seen> DrainAll(TxSpool& spool, const std::function<void()>& each = {}) {
  std::vector<Seen> out;
  auto st = spool.Drain([&](const TxSpool::Record& r) -> Status {
    out.push_back({r.xid, r.lsn, std::string(r.bytes.begin(), r.bytes.end())});
    if (each) each();
    return Ok();
  });
  EXPECT_TRUE(st) << st.error().message();
  return out;
}

TEST(TxSpool, ChargesWholeChunksAndStaysWithinTheBudget) {
  SpoolBudget budget{.limit = 3 * kSpoolChunkBytes};
  TxSpool spool(budget, Dir());
  ASSERT_TRUE(spool.Add(7, 100, Payload(0, 100)));
  // The first record allocates one whole chunk, and the budget says so.
  EXPECT_EQ(budget.used, kSpoolChunkBytes);
  EXPECT_EQ(spool.memory_bytes(), kSpoolChunkBytes);
  EXPECT_EQ(spool.file_bytes(), 0u);
  // 1 MiB of 1 KiB records: three chunks fill the budget, the rest spills.
  for (int i = 1; i < 1024; ++i) ASSERT_TRUE(spool.Add(7, 100 + i, Payload(i, 1024)));
  EXPECT_EQ(budget.used, 3 * kSpoolChunkBytes);
  EXPECT_EQ(spool.memory_bytes(), budget.used);
  EXPECT_GT(spool.file_bytes(), 0u);
  EXPECT_EQ(spool.records(), 1024u);
}

TEST(TxSpool, DrainKeepsOrderAcrossMemoryAndFileAndReleasesAsItGoes) {
  SpoolBudget budget{.limit = 2 * kSpoolChunkBytes};
  auto spool = std::make_unique<TxSpool>(budget, Dir());
  constexpr int kRecords = 2000;  // ~2 MiB: two chunks in memory, the rest in the file
  for (int i = 0; i < kRecords; ++i) {
    ASSERT_TRUE(spool->Add(static_cast<uint32_t>(i % 3), 1000 + i, Payload(i, 1000)));
  }
  ASSERT_GT(spool->file_bytes(), 0u);
  ASSERT_EQ(budget.used, 2 * kSpoolChunkBytes);
  std::vector<size_t> used_during;
  auto seen = DrainAll(*spool, [&] { used_during.push_back(budget.used); });
  ASSERT_EQ(seen.size(), static_cast<size_t>(kRecords));
  for (int i = 0; i < kRecords; ++i) {
    EXPECT_EQ(seen[i].xid, static_cast<uint32_t>(i % 3));
    EXPECT_EQ(seen[i].lsn, static_cast<uint64_t>(1000 + i));
    const auto want = Payload(i, 1000);
    EXPECT_EQ(seen[i].text, std::string(want.begin(), want.end()));
  }
  // The first chunk was freed before the records of the second were replayed,
  // and nothing was held while the file part was replayed.
  EXPECT_EQ(used_during.front(), 2 * kSpoolChunkBytes);
  EXPECT_NE(std::find(used_during.begin(), used_during.end(), kSpoolChunkBytes), used_during.end());
  EXPECT_EQ(used_during.back(), 0u);
  EXPECT_EQ(budget.used, 0u);
  EXPECT_EQ(spool->memory_bytes(), 0u);
  EXPECT_EQ(spool->records(), 0u);
}

TEST(TxSpool, SharedBudgetIsReturnedWhenASpoolIsDropped) {
  SpoolBudget budget{.limit = 2 * kSpoolChunkBytes};
  TxSpool a(budget, Dir());
  {
    auto b = std::make_unique<TxSpool>(budget, Dir());
    ASSERT_TRUE(b->Add(2, 1, Payload(1, 10)));
    ASSERT_TRUE(a.Add(1, 2, Payload(2, 10)));
    EXPECT_EQ(budget.used, 2 * kSpoolChunkBytes);
    // The budget is full: `a` now spills even though its own chunk has room
    // for no more than this record.
    ASSERT_TRUE(a.Add(1, 3, Payload(3, kSpoolChunkBytes)));
    EXPECT_GT(a.file_bytes(), 0u);
  }  // b aborted
  EXPECT_EQ(budget.used, kSpoolChunkBytes);
  auto seen = DrainAll(a);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].lsn, 2u);
  EXPECT_EQ(seen[1].lsn, 3u);
  EXPECT_EQ(budget.used, 0u);
}

TEST(TxSpool, BudgetSmallerThanAChunkAndRecordsBiggerThanAChunk) {
  SpoolBudget budget{.limit = 0};
  TxSpool none(budget, Dir());
  ASSERT_TRUE(none.Add(1, 1, Payload(1, 10)));
  EXPECT_EQ(budget.used, 0u);  // a zero budget keeps nothing in memory
  EXPECT_EQ(none.file_bytes(), 16u + 10u);

  SpoolBudget big{.limit = 4 * kSpoolChunkBytes};
  TxSpool spool(big, Dir());
  // A record larger than a chunk gets a chunk of its own size.
  ASSERT_TRUE(spool.Add(1, 1, Payload(1, 2 * kSpoolChunkBytes)));
  // (rounded up to whole pages).
  EXPECT_GT(big.used, 2 * kSpoolChunkBytes + 16);
  EXPECT_LE(big.used, 2 * kSpoolChunkBytes + 16 + 65536);
  auto seen = DrainAll(spool);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].text.size(), 2 * kSpoolChunkBytes);
  EXPECT_EQ(big.used, 0u);
}

TEST(TxSpool, AnErrorStopsTheReplayAndStillFreesEverything) {
  SpoolBudget budget{.limit = kSpoolChunkBytes};
  TxSpool spool(budget, Dir());
  for (int i = 0; i < 600; ++i) ASSERT_TRUE(spool.Add(1, i, Payload(i, 1000)));
  int calls = 0;
  auto st = spool.Drain([&](const TxSpool::Record&) -> Status {
    if (++calls == 5) return Fail(ErrorCode::kCancelled, "stop");
    return Ok();
  });
  ASSERT_FALSE(st);
  EXPECT_EQ(calls, 5);
  EXPECT_EQ(budget.used, 0u);
  EXPECT_EQ(spool.records(), 0u);
}

}  // namespace
}  // namespace pgcdc::detector::wal
