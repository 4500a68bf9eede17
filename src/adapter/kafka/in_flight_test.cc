#include "adapter/kafka/in_flight.h"

#include <gtest/gtest.h>

namespace pgcdc::adapter::kafka {
namespace {

Record& Add(InFlight& w, uint64_t seq, std::string key = "k", std::string topic = "t") {
  Event e;
  e.seq = seq;
  Record& r = w.Add(e);
  r.key = std::move(key);
  r.topic = std::move(topic);
  return r;
}

TEST(InFlight, AcknowledgesOnlyTheContiguousConfirmedPrefix) {
  InFlight w(16);
  Record& a = Add(w, 1);
  Record& b = Add(w, 2);
  Record& c = Add(w, 3);
  EXPECT_EQ(w.OldestHeldSeq(), 1u);
  // Reports arrive out of order (different partitions).
  w.Delivered(c, false);
  w.Delivered(b, false);
  EXPECT_EQ(w.Release(), 0u);
  EXPECT_EQ(w.OldestHeldSeq(), 1u) << "2 and 3 are confirmed, 1 is not: nothing is acknowledged";
  w.Delivered(a, false);
  EXPECT_EQ(w.OldestHeldSeq(), std::nullopt);
  EXPECT_EQ(w.Release(), 3u);
  EXPECT_TRUE(w.empty());
}

TEST(InFlight, HoldsFromTheFirstUnfinishedRecord) {
  InFlight w(16);
  Record& a = Add(w, 10);
  Add(w, 11);
  Record& c = Add(w, 12);
  w.Delivered(a, false);
  w.Delivered(c, false);
  EXPECT_EQ(w.Release(), 1u);
  EXPECT_EQ(w.OldestHeldSeq(), 11u);
  EXPECT_EQ(w.in_flight(), 1u);
  EXPECT_EQ(w.unfinished(), 1u);
}

TEST(InFlight, UntrackedEventsHoldNothing) {
  InFlight w(16);
  Add(w, 0);
  EXPECT_EQ(w.OldestHeldSeq(), std::nullopt);
  EXPECT_EQ(w.unfinished(), 1u);
}

TEST(InFlight, FailedRecordsAreProducedAgainWithLaterRecordsOfTheirKey) {
  InFlight w(16);
  Record& a1 = Add(w, 1, "a");
  Record& b1 = Add(w, 2, "b");
  Record& a2 = Add(w, 3, "a");
  Record& b2 = Add(w, 4, "b");
  Record& a3 = Add(w, 5, "a", "other");  // same key, other topic: independent
  w.Failed(a1, "timed out");
  w.Delivered(b1, false);
  w.Delivered(a2, false);  // landed before a1 will: must follow it again
  w.Delivered(b2, false);
  w.Delivered(a3, false);
  EXPECT_EQ(w.retrying(), 1u);
  auto round = w.RetryRound();
  ASSERT_EQ(round.size(), 2u);
  EXPECT_EQ(round[0], &a1);
  EXPECT_EQ(round[1], &a2);
  EXPECT_EQ(a1.failures, 1u);
  EXPECT_EQ(a1.error, "timed out");
  for (Record* r : round) w.Resent(*r);
  EXPECT_EQ(w.in_flight(), 2u);
  EXPECT_EQ(w.OldestHeldSeq(), 1u);
  w.Delivered(a2, false);
  w.Delivered(a1, false);
  EXPECT_EQ(w.OldestHeldSeq(), std::nullopt);
  EXPECT_EQ(w.Release(), 5u);
}

TEST(InFlight, RejectedRecordsWaitForTheDeadLetterQueue) {
  InFlight w(16);
  Record& a = Add(w, 1);
  Record& b = Add(w, 2);
  w.Rejected(a, "Broker: Message size too large");
  w.Delivered(b, false);
  EXPECT_TRUE(w.has_rejected());
  EXPECT_EQ(w.OldestHeldSeq(), 1u) << "not acknowledged before it is in the DLQ";
  auto rejected = w.TakeRejected();
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_EQ(rejected[0]->error, "Broker: Message size too large");
  EXPECT_FALSE(w.has_rejected());
  w.Finish(*rejected[0]);
  EXPECT_EQ(w.Release(), 2u);
}

TEST(InFlight, TransactionsFinishRecordsOnlyAtCommit) {
  InFlight w(16);
  Record& a = Add(w, 1);
  Record& b = Add(w, 2);
  w.Delivered(a, true);
  w.Delivered(b, true);
  EXPECT_EQ(w.delivered_uncommitted(), 2u);
  EXPECT_EQ(w.OldestHeldSeq(), 1u);
  // An abort sends both again (a dead-lettered record stays finished).
  Record& c = Add(w, 3, "a");
  w.Rejected(c, "too large");
  w.Finish(*w.TakeRejected()[0]);
  w.RetryDelivered("transaction aborted");
  EXPECT_EQ(w.retrying(), 2u);
  auto round = w.RetryRound(/*follow_keys=*/false);
  ASSERT_EQ(round.size(), 2u);
  for (Record* r : round) w.Resent(*r);
  w.Delivered(a, true);
  w.Delivered(b, true);
  w.CommitDelivered();
  EXPECT_EQ(w.delivered_uncommitted(), 0u);
  EXPECT_EQ(w.OldestHeldSeq(), std::nullopt);
  EXPECT_EQ(w.Release(), 3u);
}

TEST(InFlight, TheRingIsBoundedAndReusesSlots) {
  InFlight w(2);
  Record& a = Add(w, 1, "a");
  Record& b = Add(w, 2, "b");
  EXPECT_TRUE(w.full());
  w.Delivered(b, false);
  EXPECT_EQ(w.Release(), 0u) << "b is done but a holds the front";
  EXPECT_TRUE(w.full());
  w.Delivered(a, false);
  EXPECT_EQ(w.Release(), 2u);
  Record& c = Add(w, 3, "c");
  EXPECT_EQ(&c, &a) << "slot reused";
  EXPECT_EQ(c.key, "c");
  EXPECT_EQ(c.state, RecordState::kInFlight);
  EXPECT_EQ(c.failures, 0u);
  Record& d = Add(w, 4, "d");
  EXPECT_EQ(&d, &b);
  EXPECT_EQ(w.at(0).event.seq, 3u);
  EXPECT_EQ(w.at(1).event.seq, 4u);
  w.Failed(d, "x");
  EXPECT_EQ(w.LastRetryError(), "x");
}

TEST(InFlight, LateReportsAfterAStateChangeAreIgnored) {
  InFlight w(16);
  Record& a = Add(w, 1);
  w.FailInFlight("producer closed");
  EXPECT_EQ(w.retrying(), 1u);
  w.Delivered(a, false);  // a purge report arriving late
  EXPECT_EQ(w.retrying(), 1u);
  EXPECT_EQ(w.OldestHeldSeq(), 1u);
  w.Clear();
  EXPECT_TRUE(w.empty());
  EXPECT_EQ(w.unfinished(), 0u);
}

}  // namespace
}  // namespace pgcdc::adapter::kafka
