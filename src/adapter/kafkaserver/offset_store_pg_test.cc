// OffsetStore with the PostgreSQL backend against a temporary cluster
// (label "scenario": needs the PostgreSQL 15 server binaries).
#include <gtest/gtest.h>

#include "adapter/kafkaserver/offset_store.h"
#include "pg/checkpoint_store.h"
#include "pg/cluster.h"
#include "pg/conn.h"

namespace pgcdc::adapter::kafkaserver {
namespace {

class OffsetStorePg : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto c = pg::TempCluster::Start({.logical_replication = false, .log_prefix = "pgcdc-koff"});
    ASSERT_TRUE(c) << c.error().message();
    cluster_ = std::move(*c).release();
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(cluster_, nullptr);
    auto conn = pg::Conn::Open(cluster_->Url());
    ASSERT_TRUE(conn) << conn.error().message();
    // Fresh table contents per test (the table exists after the first Open).
    (void)conn->Exec(
        "DO $$ BEGIN IF to_regclass('pgcdc_checkpoints') IS NOT NULL THEN "
        "DELETE FROM pgcdc_checkpoints; END IF; END $$");
  }

  std::vector<std::pair<std::string, std::string>> Rows() {
    auto conn = pg::Conn::Open(cluster_->Url());
    EXPECT_TRUE(conn);
    if (!conn) return {};
    auto rows = conn->Query("SELECT slot_name, lsn::text FROM pgcdc_checkpoints ORDER BY 1");
    EXPECT_TRUE(rows) << rows.error().message();
    std::vector<std::pair<std::string, std::string>> out;
    if (!rows) return out;
    for (const auto& r : *rows) out.emplace_back(r[0].value_or("?"), r[1].value_or("?"));
    return out;
  }

  static pg::TempCluster* cluster_;
};

pg::TempCluster* OffsetStorePg::cluster_ = nullptr;

OffsetCommit C(std::string topic, int32_t partition, int64_t offset) {
  return OffsetCommit{std::move(topic), partition, offset, 3, "metadata"};
}

TEST_F(OffsetStorePg, CommitsSurviveReopenIncludingOffsetZero) {
  {
    auto store = OffsetStore::OpenPostgres(cluster_->Url());
    ASSERT_TRUE(store) << store.error().message();
    EXPECT_EQ((*store)->backend_name(), "postgres");
    ASSERT_TRUE((*store)->Commit("g1", {C("pgcdc.orders", 0, 0), C("pgcdc.orders", 1, 42)}, 1));
    ASSERT_TRUE((*store)->Commit("team:a", {C("t", 7, 9)}, 1));
    ASSERT_TRUE((*store)->Commit("g1", {C("pgcdc.orders", 1, 43)}, 2));
  }
  EXPECT_EQ(Rows(), (std::vector<std::pair<std::string, std::string>>{
                        {"kafka:g1:pgcdc.orders:0", "0"},
                        {"kafka:g1:pgcdc.orders:1", "43"},
                        {"kafka:team:a:t:7", "9"},
                    }));
  auto store = OffsetStore::OpenPostgres(cluster_->Url());
  ASSERT_TRUE(store) << store.error().message();
  auto zero = (*store)->Fetch("g1", "pgcdc.orders", 0);
  ASSERT_TRUE(zero.has_value()) << "offset 0 is a committed value";
  EXPECT_EQ(zero->offset, 0);
  EXPECT_EQ(zero->metadata, "") << "the table stores offsets only";
  EXPECT_EQ(zero->leader_epoch, -1);
  EXPECT_EQ((*store)->Fetch("g1", "pgcdc.orders", 1)->offset, 43);
  EXPECT_EQ((*store)->Fetch("team:a", "t", 7)->offset, 9);
  EXPECT_FALSE((*store)->Fetch("g1", "pgcdc.orders", 2).has_value());
  EXPECT_EQ((*store)->Groups(), (std::vector<std::string>{"g1", "team:a"}));

  ASSERT_TRUE((*store)->DeleteGroup("g1"));
  EXPECT_EQ(Rows(), (std::vector<std::pair<std::string, std::string>>{{"kafka:team:a:t:7", "9"}}));
}

TEST_F(OffsetStorePg, LeavesOtherCheckpointsAlone) {
  auto checkpoints = pg::CheckpointStore::Open(cluster_->Url());
  ASSERT_TRUE(checkpoints) << checkpoints.error().message();
  ASSERT_TRUE((*checkpoints)->Save("pgcdc_slot", 12345));
  auto store = OffsetStore::OpenPostgres(cluster_->Url());
  ASSERT_TRUE(store) << store.error().message();
  EXPECT_TRUE((*store)->Groups().empty()) << "the WAL slot row is not an offset";
  ASSERT_TRUE((*store)->Commit("g", {C("t", 0, 1)}, 0));
  auto lsn = (*checkpoints)->Load("pgcdc_slot");
  ASSERT_TRUE(lsn);
  EXPECT_EQ(*lsn, 12345u);
}

TEST_F(OffsetStorePg, DatabaseOutageFailsTheCommitAndReconnectsAfterwards) {
  auto store = OffsetStore::OpenPostgres(cluster_->Url());
  ASSERT_TRUE(store) << store.error().message();
  ASSERT_TRUE((*store)->Commit("g", {C("t", 0, 5)}, 0));

  ASSERT_TRUE(cluster_->StopServer());
  auto st = (*store)->Commit("g", {C("t", 0, 6), C("t", 1, 1)}, 0);
  ASSERT_FALSE(st) << "commit must fail while the database is down";
  EXPECT_EQ((*store)->Fetch("g", "t", 0)->offset, 5) << "a failed commit is not visible";
  EXPECT_FALSE((*store)->Fetch("g", "t", 1).has_value());
  EXPECT_FALSE(OffsetStore::OpenPostgres(cluster_->Url())) << "opening needs the database";

  ASSERT_TRUE(cluster_->StartServer());
  ASSERT_TRUE((*store)->Commit("g", {C("t", 0, 7)}, 0)) << "the store reconnects";
  EXPECT_EQ(Rows(), (std::vector<std::pair<std::string, std::string>>{{"kafka:g:t:0", "7"}}));
}

}  // namespace
}  // namespace pgcdc::adapter::kafkaserver
