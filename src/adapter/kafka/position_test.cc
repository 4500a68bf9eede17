#include "adapter/kafka/position.h"

#include <gtest/gtest.h>

namespace pgcdc::adapter::kafka {
namespace {

TEST(KafkaPosition, OnlyPositionIdsOfOneOriginCompare) {
  const uint32_t origin = PositionOrigin("sys/db/pub");
  const Uuid a = MakePositionUuid(0x16B3748 >> 4, 1, origin);
  const Uuid b = MakePositionUuid(0x16B3748 >> 4, 2, origin);
  const Uuid c = MakePositionUuid(0x16B3900 >> 4, 1, origin);
  EXPECT_TRUE(IsPositionId(a));
  EXPECT_EQ(OriginOf(a), origin);
  EXPECT_FALSE(IsPositionId(NewUuidV7()));
  // Commit order, then change order.
  EXPECT_TRUE(AtOrBefore(a, a));
  EXPECT_TRUE(AtOrBefore(a, b));
  EXPECT_FALSE(AtOrBefore(b, a));
  EXPECT_TRUE(AtOrBefore(b, c));
  EXPECT_FALSE(AtOrBefore(c, b));
  // Another origin (another database or publication) never compares.
  const Uuid other = MakePositionUuid(0x16B3900 >> 4, 1, PositionOrigin("sys/db/other"));
  EXPECT_FALSE(AtOrBefore(a, other));
  // Events without a position are never skipped.
  EXPECT_FALSE(AtOrBefore(NewUuidV7(), c));
  EXPECT_FALSE(AtOrBefore(a, NewUuidV7()));
}

TEST(KafkaPosition, CommittedRecordRoundTrips) {
  Event e = MakeEvent("pgcdc:t", "INSERT", "{}", "wal_replication");
  e.id = MakePositionUuid(0x16B3748 >> 4, 3, PositionOrigin("x"));
  e.lsn = 0x16B3748;
  e.seq = 42;
  const std::string v = EncodeCommitted("tx-1", e, 0);
  EXPECT_NE(v.find("\"transactional_id\":\"tx-1\""), std::string::npos) << v;
  EXPECT_NE(v.find("\"lsn\":\"0/16B3748\""), std::string::npos) << v;
  EXPECT_NE(v.find("\"seq\":42"), std::string::npos) << v;
  EXPECT_EQ(DecodeCommitted(v), e.id);
  // Anything else is not a committed position.
  EXPECT_EQ(DecodeCommitted(""), std::nullopt);
  EXPECT_EQ(DecodeCommitted("not json"), std::nullopt);
  EXPECT_EQ(DecodeCommitted("{\"event_id\":12}"), std::nullopt);
  EXPECT_EQ(DecodeCommitted("{\"event_id\":\"" + NewUuidV7().ToString() + "\"}"), std::nullopt);
}

}  // namespace
}  // namespace pgcdc::adapter::kafka
