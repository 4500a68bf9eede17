#include "adapter/kafkaserver/transactions.h"

#include <gtest/gtest.h>

#include <map>
#include <vector>

namespace pgcdc::adapter::kafkaserver {
namespace {

using std::chrono::milliseconds;

// Markers land in a fake log: each partition's next offset.
struct FakeLogs {
  std::map<TxnPartition, int64_t> next;
  std::vector<std::tuple<TxnPartition, int64_t, bool>> markers;  // (where, producer, commit)
  Transactions::MarkerWriter Writer() {
    return [this](const TxnPartition& p, int64_t pid, int16_t, bool commit) -> Result<int64_t> {
      auto it = next.find(p);
      if (it == next.end()) return Fail(ErrorCode::kNotFound, "no partition");
      markers.emplace_back(p, pid, commit);
      return it->second++;
    };
  }
  // Appends `n` records of a transactional producer.
  void Append(Transactions& t, const TxnPartition& p, int64_t pid, int n) {
    t.OnAppend(p, pid, next[p]);
    next[p] += n;
  }
};

const TxnPartition kA{"t", 0};
const TxnPartition kB{"t", 1};
const auto kNow = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);

// A transaction coordinator writing its markers to `logs`.
class TransactionsTest : public ::testing::Test {
 protected:
  // Transactional producer "tx" (transaction timeout `timeout_ms`) with its
  // transaction open on kA.
  Transactions::ProducerId BeginOnA(int32_t timeout_ms) {
    auto p = t.InitProducerId("tx", timeout_ms, kNow);
    EXPECT_EQ(p.error, 0);
    EXPECT_EQ(t.AddPartition("tx", p.id, p.epoch, kA, kNow), 0);
    return p;
  }

  FakeLogs logs;
  Transactions t{logs.Writer()};
};

TEST_F(TransactionsTest, IdempotentProducersGetFreshIds) {
  auto a = t.InitProducerId(std::nullopt, 0, kNow);
  auto b = t.InitProducerId(std::string(), 0, kNow);
  EXPECT_EQ(a.error, 0);
  EXPECT_EQ(a.epoch, 0);
  EXPECT_NE(a.id, b.id);
}

TEST_F(TransactionsTest, CommitMakesRecordsStableAndAbortRecordsTheRange) {
  logs.next[kA] = 0;
  logs.next[kB] = 0;
  auto p = t.InitProducerId("tx", 60000, kNow);
  ASSERT_EQ(p.error, 0);
  EXPECT_EQ(t.CheckProduce(kA, p.id, p.epoch), 48) << "partition not added yet";
  ASSERT_EQ(t.AddPartition("tx", p.id, p.epoch, kA, kNow), 0);
  ASSERT_EQ(t.CheckProduce(kA, p.id, p.epoch), 0);
  logs.Append(t, kA, p.id, 3);  // offsets 0..2
  EXPECT_EQ(t.LastStableOffset(kA, 3), 0) << "open transaction holds the LSO";
  EXPECT_EQ(t.LastStableOffset(kB, 7), 7);
  ASSERT_EQ(t.EndTxn("tx", p.id, p.epoch, true), 0);
  ASSERT_EQ(logs.markers.size(), 1u);
  EXPECT_TRUE(std::get<2>(logs.markers[0]));
  EXPECT_EQ(t.LastStableOffset(kA, 4), 4);
  EXPECT_TRUE(t.Aborted(kA, 0, 4).empty());

  // Second transaction, aborted.
  ASSERT_EQ(t.AddPartition("tx", p.id, p.epoch, kA, kNow), 0);
  logs.Append(t, kA, p.id, 2);  // offsets 4..5, marker at 6
  ASSERT_EQ(t.EndTxn("tx", p.id, p.epoch, false), 0);
  auto aborted = t.Aborted(kA, 0, 7);
  ASSERT_EQ(aborted.size(), 1u);
  EXPECT_EQ(aborted[0].producer_id, p.id);
  EXPECT_EQ(aborted[0].first_offset, 4);
  EXPECT_EQ(aborted[0].last_offset, 6);
  EXPECT_TRUE(t.Aborted(kA, 7, 10).empty()) << "outside the fetched range";
  EXPECT_EQ(t.open_transactions(), 0u);
}

TEST_F(TransactionsTest, ReinitialisingAbortsTheOpenTransactionAndFencesTheOldEpoch) {
  logs.next[kA] = 10;
  auto first = BeginOnA(60000);
  logs.Append(t, kA, first.id, 5);  // 10..14, never committed (the producer died)
  auto second = t.InitProducerId("tx", 60000, kNow);
  EXPECT_EQ(second.id, first.id);
  EXPECT_EQ(second.epoch, first.epoch + 1);
  ASSERT_EQ(logs.markers.size(), 1u);
  EXPECT_FALSE(std::get<2>(logs.markers[0])) << "aborted";
  auto aborted = t.Aborted(kA, 0, 100);
  ASSERT_EQ(aborted.size(), 1u);
  EXPECT_EQ(aborted[0].first_offset, 10);
  // The zombie is fenced.
  EXPECT_EQ(t.AddPartition("tx", first.id, first.epoch, kA, kNow), 47);
  EXPECT_EQ(t.EndTxn("tx", first.id, first.epoch, true), 47);
  EXPECT_EQ(t.CheckProduce(kA, first.id, first.epoch), 47);
  EXPECT_EQ(t.EndTxn("other", first.id, second.epoch, true), 49);
}

TEST_F(TransactionsTest, ExpiredTransactionsAreAborted) {
  logs.next[kA] = 0;
  auto p = BeginOnA(1000);
  logs.Append(t, kA, p.id, 1);
  EXPECT_EQ(t.Expire(kNow + milliseconds(999)), 0u);
  EXPECT_EQ(t.Expire(kNow + milliseconds(1000)), 1u);
  EXPECT_EQ(t.LastStableOffset(kA, 2), 2);
  EXPECT_EQ(t.Aborted(kA, 0, 2).size(), 1u);
  EXPECT_EQ(t.EndTxn("tx", p.id, p.epoch, true), 47) << "the producer must start over";
  EXPECT_EQ(t.InitProducerId("tx", 0, kNow).error, 50) << "invalid timeout";
}

TEST_F(TransactionsTest, EmptyTransactionsAndMissingPartitions) {
  auto p = t.InitProducerId("tx", 60000, kNow);
  EXPECT_EQ(t.EndTxn("tx", p.id, p.epoch, true), 0) << "nothing was written";
  ASSERT_EQ(t.AddPartition("tx", p.id, p.epoch, kA, kNow), 0);
  EXPECT_EQ(t.EndTxn("tx", p.id, p.epoch, true), 0) << "added but never written: no marker needed";
  EXPECT_TRUE(logs.markers.empty());
}

}  // namespace
}  // namespace pgcdc::adapter::kafkaserver
