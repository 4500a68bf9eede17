#include "snapshot/chunk_plan.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "snapshot/snapshot_state.h"

namespace pgcdc::snapshot {
namespace {

TEST(PlanChunks, CutsWholePagesAndLeavesTheLastOneOpen) {
  const auto plan = PlanChunks(10, 4);
  ASSERT_EQ(plan.size(), 3u);
  EXPECT_EQ(plan[0], (PageRange{0, 4}));
  EXPECT_EQ(plan[1], (PageRange{4, 8}));
  EXPECT_EQ(plan[2], (PageRange{8, kOpenEnd}));
}

TEST(PlanChunks, ExactMultipleEndsWithAFullOpenChunk) {
  const auto plan = PlanChunks(8, 4);
  ASSERT_EQ(plan.size(), 2u);
  EXPECT_EQ(plan[1], (PageRange{4, kOpenEnd}));
}

TEST(PlanChunks, EmptyOrSmallTableIsOneOpenChunk) {
  EXPECT_EQ(PlanChunks(0, 4), (std::vector<PageRange>{{0, kOpenEnd}}));
  EXPECT_EQ(PlanChunks(3, 4), (std::vector<PageRange>{{0, kOpenEnd}}));
  // A chunk size of 0 is treated as 1.
  EXPECT_EQ(PlanChunks(2, 0).size(), 2u);
}

TEST(PlanChunks, PlanIsStableForAGrowingTable) {
  // A resumed run re-plans with the same chunk size: the closed chunks of the
  // first plan reappear unchanged.
  const auto before = PlanChunks(10, 4);
  const auto after = PlanChunks(30, 4);
  EXPECT_EQ(after[0], before[0]);
  EXPECT_EQ(after[1], before[1]);
}

TEST(CtidCondition, BoundsOnlyWhereNeeded) {
  EXPECT_EQ(CtidCondition({0, kOpenEnd}), "");
  EXPECT_EQ(CtidCondition({0, 4}), "ctid < '(4,0)'::tid");
  EXPECT_EQ(CtidCondition({4, 8}), "ctid >= '(4,0)'::tid AND ctid < '(8,0)'::tid");
  EXPECT_EQ(CtidCondition({8, kOpenEnd}), "ctid >= '(8,0)'::tid");
  EXPECT_EQ(Describe({8, kOpenEnd}), "[8,end)");
  EXPECT_EQ(Describe({4, 8}), "[4,8)");
}

SnapshotState SampleState() {
  SnapshotState s;
  s.identity = {.table = "s1.\"we ird\"",
                .where = "a > 1",
                .system_id = "7312",
                .database = "app",
                .table_oid = 16385};
  s.chunk_pages = 4;
  return s;
}

TEST(SnapshotState, MarkDoneMergesAndCovers) {
  SnapshotState s = SampleState();
  s.MarkDone({8, 12});
  s.MarkDone({0, 4});
  EXPECT_EQ(s.done.size(), 2u);
  s.MarkDone({4, 8});
  ASSERT_EQ(s.done.size(), 1u);
  EXPECT_EQ(s.done[0], (PageRange{0, 12}));
  EXPECT_TRUE(s.Covers({4, 8}));
  EXPECT_FALSE(s.Covers({8, 16}));
  EXPECT_FALSE(s.Covers({12, kOpenEnd}));
  s.MarkDone({12, kOpenEnd});
  EXPECT_TRUE(s.Covers({400, kOpenEnd}));  // an open chunk covers later growth
}

TEST(SnapshotState, EncodeDecodeRoundTrip) {
  SnapshotState s = SampleState();
  s.MarkDone({0, 4});
  s.MarkDone({8, kOpenEnd});
  const std::string text = s.Encode();
  EXPECT_NE(text.find(R"("done":[[0,4],[8,null]])"), std::string::npos) << text;
  auto back = SnapshotState::Decode(text);
  ASSERT_TRUE(back.has_value()) << back.error().message();
  EXPECT_EQ(back->identity, s.identity);
  EXPECT_EQ(back->chunk_pages, 4u);
  EXPECT_EQ(back->done, s.done);
}

TEST(SnapshotState, DecodeRejectsWhatIsNotAStateFile) {
  for (const char* bad : {"", "{", "[]", R"({"version":2})",
                          R"({"version":1,"table":"t","where":"","system_id":"","database":"d",
                              "table_oid":1,"chunk_pages":0,"done":[]})",
                          R"({"version":1,"table":"t","where":"","system_id":"","database":"d",
                              "table_oid":1,"chunk_pages":4,"done":[[8,4]]})",
                          R"({"version":1,"table":"t","where":"","system_id":"","database":"d",
                              "table_oid":1,"chunk_pages":4,"done":[[-1,4]]})",
                          R"({"version":1,"table":"t","where":"","system_id":"","database":"d",
                              "table_oid":1,"chunk_pages":4,"done":{}})",
                          R"({"version":1,"where":"","system_id":"","database":"d",
                              "table_oid":1,"chunk_pages":4,"done":[]})"}) {
    auto r = SnapshotState::Decode(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code(), ErrorCode::kParse) << bad;
    EXPECT_NE(r.error().message().find("not a snapshot state file"), std::string::npos);
  }
}

TEST(SnapshotStateFile, SaveLoadRemove) {
  const std::string dir = ::testing::TempDir() + "snapstate" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/state.json";
  auto missing = LoadSnapshotState(path);
  ASSERT_TRUE(missing.has_value());
  EXPECT_FALSE(missing->has_value());

  SnapshotState s = SampleState();
  s.MarkDone({0, 4});
  ASSERT_TRUE(SaveSnapshotState(path, s).has_value());
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  auto loaded = LoadSnapshotState(path);
  ASSERT_TRUE(loaded.has_value() && loaded->has_value());
  EXPECT_EQ((*loaded)->done, s.done);

  std::ofstream(path) << "{\"version\":1,";  // torn by hand
  auto corrupt = LoadSnapshotState(path);
  ASSERT_FALSE(corrupt.has_value());
  EXPECT_NE(corrupt.error().message().find(path), std::string::npos);

  ASSERT_TRUE(RemoveSnapshotState(path).has_value());
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_TRUE(RemoveSnapshotState(path).has_value());  // already gone: fine
  std::filesystem::remove_all(dir);
}

TEST(SnapshotStateFile, DefaultPathIsSafeAsAFileName) {
  EXPECT_EQ(DefaultStatePath("public.orders"), "pgcdc-snapshot-public.orders.json");
  EXPECT_EQ(DefaultStatePath("\"my schema\".t/x"), "pgcdc-snapshot-_my_schema_.t_x.json");
}

}  // namespace
}  // namespace pgcdc::snapshot
