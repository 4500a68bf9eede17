#include "detector/wal/slot_guard.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace pgcdc::detector::wal {
namespace {

constexpr uint64_t kAck = 0x16B3748;  // 0/16B3748

SlotState Healthy() {
  SlotState s;
  s.exists = true;
  s.wal_status = "reserved";
  s.restart_lsn = kAck - 100;
  s.confirmed_flush = kAck;
  return s;
}

TEST(SlotGuardTest, AHealthySlotOrAFirstStartIsNotALoss) {
  EXPECT_FALSE(DiagnoseSlot(Healthy(), kAck));
  // Behind the checkpoint (a status update was lost): only duplicates.
  SlotState behind = Healthy();
  behind.confirmed_flush = kAck - 10;
  EXPECT_FALSE(DiagnoseSlot(behind, kAck));
  // No slot and no checkpoint: never used.
  EXPECT_FALSE(DiagnoseSlot(SlotState{}, 0));
  // A slot without a checkpoint (created by hand, or a crash before the
  // first save) cannot be judged by position.
  SlotState ahead = Healthy();
  ahead.confirmed_flush = kAck + 1000;
  EXPECT_FALSE(DiagnoseSlot(ahead, 0));
  // 'unreserved' is at risk, not lost yet.
  SlotState at_risk = Healthy();
  at_risk.wal_status = "unreserved";
  EXPECT_FALSE(DiagnoseSlot(at_risk, kAck));
}

TEST(SlotGuardTest, EachWayOfLosingChangesIsRecognised) {
  struct Case {
    const char* name;
    SlotState slot;
    uint64_t acknowledged;
    const char* reason_has;
    uint64_t from;
  };
  SlotState lost = Healthy();
  lost.wal_status = "lost";
  lost.restart_lsn = 0;
  SlotState named = Healthy();  // PostgreSQL 17
  named.wal_status = "lost";
  named.invalidation_reason = "wal_removed";
  SlotState conflicting = Healthy();  // PostgreSQL 16 standby
  conflicting.conflicting = true;
  SlotState consumed = Healthy();
  consumed.confirmed_flush = kAck + 4096;
  const Case cases[] = {
      {"wal_status lost", lost, kAck, "max_slot_wal_keep_size", kAck},
      {"lost, no checkpoint", lost, 0, "wal_status lost", kAck},
      {"invalidation_reason", named, kAck, "invalidation_reason wal_removed", kAck},
      {"conflicting", conflicting, kAck, "recovery conflict", kAck},
      {"missing", SlotState{}, kAck, "does not exist", kAck},
      {"ahead", consumed, kAck, "0/16B4748 is ahead of the last position pgcdc acknowledged", kAck},
  };
  for (const auto& c : cases) {
    auto loss = DiagnoseSlot(c.slot, c.acknowledged);
    ASSERT_TRUE(loss) << c.name;
    EXPECT_NE(loss->reason.find(c.reason_has), std::string::npos) << c.name << ": " << loss->reason;
    EXPECT_EQ(loss->from_lsn, c.from) << c.name;
  }
}

TEST(SlotGuardTest, ParsesTheSlotRowOfAnyServerVersion) {
  // PostgreSQL 15: no invalidation_reason, conflicting or failover.
  pg::Row pg15 = {"false",      "lost",      std::nullopt, std::nullopt,
                  std::nullopt, "0/16B3748", std::nullopt, std::nullopt};
  SlotState s = ParseSlotState(pg15);
  EXPECT_TRUE(s.exists);
  EXPECT_FALSE(s.active);
  EXPECT_EQ(s.wal_status, "lost");
  EXPECT_EQ(s.restart_lsn, 0u);
  EXPECT_EQ(s.confirmed_flush, kAck);
  EXPECT_FALSE(s.safe_wal_size);
  EXPECT_FALSE(s.failover);
  // PostgreSQL 17: every column.
  pg::Row pg17 = {"true", "reserved", std::nullopt, "false", "0/1000", "0/2000", "1048576", "true"};
  s = ParseSlotState(pg17);
  EXPECT_TRUE(s.active);
  EXPECT_EQ(s.restart_lsn, 0x1000u);
  EXPECT_EQ(s.confirmed_flush, 0x2000u);
  EXPECT_EQ(s.safe_wal_size, 1048576);
  EXPECT_EQ(s.failover, true);
  EXPECT_FALSE(s.conflicting);
  // The query reads through to_jsonb, so missing columns are NULL, not errors.
  EXPECT_NE(kSlotStateQuery.find("to_jsonb(s)"), std::string_view::npos);
  EXPECT_NE(kSlotStateQuery.find("$1"), std::string_view::npos);
}

TEST(SlotGuardTest, FailoverSlotsOnlyOnPostgres17ForPersistentSlots) {
  EXPECT_TRUE(UseFailover(true, false, 170000));
  EXPECT_TRUE(UseFailover(true, false, 170002));
  EXPECT_FALSE(UseFailover(true, false, 160004));
  EXPECT_FALSE(UseFailover(true, true, 170000));  // temporary slots cannot fail over
  EXPECT_FALSE(UseFailover(false, false, 170000));
}

TEST(SlotGuardTest, CreateAndAlterCommands) {
  EXPECT_EQ(CreateSlotCommand("pgcdc_orders", {}),
            "CREATE_REPLICATION_SLOT \"pgcdc_orders\" LOGICAL pgoutput (SNAPSHOT 'nothing')");
  EXPECT_EQ(CreateSlotCommand("pgcdc_orders", {.export_snapshot = true, .failover = true}),
            "CREATE_REPLICATION_SLOT \"pgcdc_orders\" LOGICAL pgoutput (SNAPSHOT 'export', "
            "FAILOVER true)");
  EXPECT_EQ(CreateSlotCommand("pgcdc_1a2b", {.temporary = true, .failover = true}),
            "CREATE_REPLICATION_SLOT \"pgcdc_1a2b\" TEMPORARY LOGICAL pgoutput (SNAPSHOT "
            "'nothing')");
  // Identifiers are quoted.
  EXPECT_EQ(CreateSlotCommand("we\"ird", {}),
            "CREATE_REPLICATION_SLOT \"we\"\"ird\" LOGICAL pgoutput (SNAPSHOT 'nothing')");
  EXPECT_EQ(AlterSlotFailoverCommand("pgcdc_orders", true),
            "ALTER_REPLICATION_SLOT \"pgcdc_orders\" (FAILOVER true)");
}

TEST(SlotGuardTest, GapEventsStateTheWindow) {
  GapWindow gap{.slot = "pgcdc_orders",
                .reason = "PostgreSQL invalidated the slot",
                .from_lsn = kAck,
                .from_time_ns = 1'750'000'000'000'000'000,
                .to_lsn = 0x5000000,
                .to_time_ns = 1'750'000'060'500'000'000};
  Event e = MakeGapEvent(gap, {"public.orders", "s1.items"});
  EXPECT_EQ(e.channel, "pgcdc:_gap");
  EXPECT_EQ(e.operation, "GAP");
  EXPECT_EQ(e.source, "wal_replication");
  EXPECT_EQ(e.payload,
            "{\"from_lsn\":\"0/16B3748\",\"from_time\":\"2025-06-15T15:06:40Z\","
            "\"reason\":\"PostgreSQL invalidated the slot\",\"slot\":\"pgcdc_orders\","
            "\"tables\":[\"public.orders\",\"s1.items\"],\"to_lsn\":\"0/5000000\","
            "\"to_time\":\"2025-06-15T15:07:40.5Z\"}");
  gap.from_time_ns = 0;  // no checkpoint time known
  EXPECT_NE(MakeGapEvent(gap, {}).payload.find("\"from_time\":null"), std::string::npos);
  Event done = MakeGapCompletedEvent(gap, {"public.orders"}, 42);
  EXPECT_EQ(done.operation, "GAP_SNAPSHOT_COMPLETED");
  EXPECT_EQ(done.payload,
            "{\"from_lsn\":\"0/16B3748\",\"rows\":42,\"slot\":\"pgcdc_orders\","
            "\"tables\":[\"public.orders\"],\"to_lsn\":\"0/5000000\"}");
  EXPECT_NO_THROW(boost::json::parse(done.payload));
}

}  // namespace
}  // namespace pgcdc::detector::wal
