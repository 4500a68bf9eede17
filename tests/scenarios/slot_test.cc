// User journey: a persistent slot that cannot silently lose data. A slot
// invalidated by max_slot_wal_keep_size is detected at start and either stops
// pgcdc (--on-slot-lost fail, the default) or is recreated and the gap covered
// by a snapshot of the publication's tables between pgcdc:_gap events
// (resnapshot); an idle slot keeps advancing on traffic in another database;
// every walsender termination is counted as a reconnect.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"
#include "http_receiver.h"
#include "json_util.h"

namespace pgcdc::testing {
namespace {

// A pg_replication_slots column as text ("" when the slot or value is missing).
std::string SlotColumn(pg::Conn& conn, const std::string& slot, const std::string& column) {
  auto r = conn.Query("SELECT to_jsonb(s) ->> $2 FROM pg_replication_slots s WHERE slot_name = $1",
                      {slot, column});
  if (!r || r->empty() || !r->at(0).at(0)) return "";
  return *r->at(0).at(0);
}

// The slot's saved checkpoint as an LSN ("" when none).
std::string CheckpointLsn(pg::Conn& conn, const std::string& slot) {
  auto r = conn.Query(
      "SELECT ('0/0'::pg_lsn + lsn)::text FROM pgcdc_checkpoints WHERE slot_name = $1", {slot});
  if (!r || r->empty() || !r->at(0).at(0)) return "";
  return *r->at(0).at(0);
}

// Runs pgcdc on `publication` (persistent slot, plus `extra`) until the
// INSERTs of ids `from`..`to` into `table` were delivered, without a lost
// slot reported, then stops it (the checkpoint is saved).
void DeliverAndStop(pg::Conn& conn, const std::string& table, const std::string& publication,
                    int from, int to, std::vector<std::string> extra = {}) {
  extra.insert(extra.begin(), "--persistent-slot");
  auto p = StartWalListen(WalListenArgs(publication, extra));
  ASSERT_TRUE(p);
  // `end` is inside the transaction, before its commit record: whatever other
  // tests write meanwhile, a slot that confirmed the commit is past it.
  ExecOrFail(conn, "BEGIN");
  ExecOrFail(conn, "INSERT INTO " + table + " (id) SELECT generate_series(" + std::to_string(from) +
                       ", " + std::to_string(to) + ")");
  auto end = conn.Query("SELECT pg_current_wal_insert_lsn()::text");
  ExecOrFail(conn, "COMMIT");
  ASSERT_TRUE(end && !end->empty() && end->at(0).at(0));
  ASSERT_TRUE(p->WaitForLines(static_cast<size_t>(to - from + 1))) << p->Stderr();
  EXPECT_EQ(p->StdoutLines().size(), static_cast<size_t>(to - from + 1)) << p->Stderr();
  EXPECT_EQ(p->Stderr().find("lost changes"), std::string::npos) << p->Stderr();
  p->Signal(SIGTERM);
  ASSERT_EQ(p->Wait(), 0) << p->Stderr();
  // A clean stop confirms what was delivered: the next run starts after it.
  // The walsender reads pgcdc's last status update on its own time; once it
  // has released the slot it has read everything pgcdc sent.
  const std::string slot = "pgcdc_" + publication;
  EXPECT_TRUE(Eventually([&] { return SlotColumn(conn, slot, "active") == "false"; }));
  auto r = conn.Query(
      "SELECT confirmed_flush_lsn >= $2::pg_lsn FROM pg_replication_slots WHERE slot_name = $1",
      {slot, *end->at(0).at(0)});
  ASSERT_TRUE(r && !r->empty() && r->at(0).at(0));
  EXPECT_EQ(*r->at(0).at(0), "t") << "rows " << from << ".." << to << ": confirmed "
                                  << SlotColumn(conn, slot, "confirmed_flush_lsn") << ", want "
                                  << *end->at(0).at(0) << "\n"
                                  << p->Stderr();
}

// Lets PostgreSQL invalidate a slot that falls one WAL segment behind, until
// the end of the scope.
class SmallWalKeep {
 public:
  explicit SmallWalKeep(pg::Conn& conn) : conn_(conn) {
    ExecOrFail(conn_, "ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'");
    ExecOrFail(conn_, "SELECT pg_reload_conf()");
  }
  ~SmallWalKeep() {
    (void)conn_.Exec("ALTER SYSTEM RESET max_slot_wal_keep_size");
    (void)conn_.Exec("SELECT pg_reload_conf()");
  }

 private:
  pg::Conn& conn_;
};

// Writes WAL segments outside the publication and checkpoints until
// PostgreSQL has invalidated `slot` (wal_status lost).
void InvalidateSlot(pg::Conn& conn, const std::string& slot) {
  ExecOrFail(conn, "CREATE TABLE IF NOT EXISTS s_filler (x text)");
  ASSERT_TRUE(Eventually(
      [&] {
        for (int i = 0; i < 3; ++i) {
          (void)conn.Exec("INSERT INTO s_filler SELECT repeat('x', 1000)");
          (void)conn.Exec("SELECT pg_switch_wal()");
        }
        (void)conn.Exec("CHECKPOINT");
        return SlotColumn(conn, slot, "wal_status") == "lost";
      },
      60s))
      << "wal_status " << SlotColumn(conn, slot, "wal_status");
}

std::vector<boost::json::object> Events(Process& p) {
  std::vector<boost::json::object> out;
  for (auto& l : p.StdoutLines()) out.push_back(ParseJson(l).as_object());
  return out;
}

std::string Str(const boost::json::value& v) { return std::string(v.as_string()); }

TEST(SlotScenario, InvalidatedSlotStopsPgcdcByDefault) {
  auto conn = Connect();
  const std::string slot = "pgcdc_p_s_lost_fail";
  FreshPublishedTable(conn, "s_lost_fail", "id int PRIMARY KEY", "p_s_lost_fail", slot);
  DeliverAndStop(conn, "s_lost_fail", "p_s_lost_fail", 1, 1);
  ASSERT_NE(CheckpointLsn(conn, slot), "");
  SmallWalKeep keep(conn);
  ExecOrFail(conn, "INSERT INTO s_lost_fail VALUES (2)");  // never delivered
  InvalidateSlot(conn, slot);

  auto [code, err] = RunToExit(WalListenArgs("p_s_lost_fail", {"--persistent-slot"}));
  EXPECT_EQ(code, 1) << err;
  EXPECT_NE(err.find("pgcdc_p_s_lost_fail\\\" lost changes after " + CheckpointLsn(conn, slot)),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("wal_status lost"), std::string::npos) << err;
  EXPECT_NE(err.find("--on-slot-lost resnapshot"), std::string::npos) << err;
  EXPECT_EQ(err.find("streaming detector=wal"), std::string::npos) << err;
  // The slot is left for the operator to look at.
  EXPECT_EQ(SlotColumn(conn, slot, "wal_status"), "lost");
  (void)conn.Query("SELECT pg_drop_replication_slot($1)", {slot});
}

TEST(SlotScenario, ResnapshotRecreatesTheSlotAndCoversTheGap) {
  auto conn = Connect();
  const std::string slot = "pgcdc_p_s_lost_re";
  FreshPublishedTable(conn, "s_lost_re", "id int PRIMARY KEY, pad text", "p_s_lost_re", slot);
  ExecOrFail(conn, "CREATE SCHEMA IF NOT EXISTS s_gap");
  ExecOrFail(conn, "DROP TABLE IF EXISTS s_gap.items");
  ExecOrFail(conn, "CREATE TABLE s_gap.items (id int PRIMARY KEY)");
  ExecOrFail(conn, "ALTER PUBLICATION p_s_lost_re ADD TABLE s_gap.items");
  DeliverAndStop(conn, "s_lost_re", "p_s_lost_re", 1, 1);
  const std::string delivered_through = CheckpointLsn(conn, slot);
  ASSERT_NE(delivered_through, "");

  // While pgcdc is down: rows it never saw (enough to fill the stdout pipe),
  // a delete, and a row in the second table; then the slot is invalidated.
  constexpr int kRows = 3000;
  ExecOrFail(conn, "INSERT INTO s_lost_re SELECT g, repeat('p', 300) FROM generate_series(2, " +
                       std::to_string(kRows) + ") g");
  ExecOrFail(conn, "DELETE FROM s_lost_re WHERE id = 1");
  ExecOrFail(conn, "INSERT INTO s_gap.items VALUES (7)");
  {
    SmallWalKeep keep(conn);
    InvalidateSlot(conn, slot);
  }

  auto p = Process::Start({.args = WalListenArgs("p_s_lost_re", {"--persistent-slot",
                                                                 "--on-slot-lost", "resnapshot"})});
  ASSERT_TRUE(p);
  p->PauseStdout();  // the snapshot cannot be delivered yet
  ASSERT_TRUE(p->WaitForStderr("lost changes")) << p->Stderr();
  auto addr = p->HttpAddr();
  ASSERT_TRUE(addr);
  // Until the gap is covered, /healthz fails and names the slot.
  ASSERT_TRUE(Eventually([&] {
    auto h = HttpGet(*addr, "/healthz");
    return h && h->status == 503 &&
           h->body.find("\"slot\":{\"status\":\"down\"") != std::string::npos;
  })) << Healthz(*p);
  EXPECT_NE(Healthz(*p).find("lost changes after " + delivered_through), std::string::npos);
  EXPECT_EQ(ScrapeMetric(*p, "pgcdc_slot_lost_total"), 1.0);
  p->ResumeStdout();

  // GAP, every current row as SNAPSHOT, GAP_SNAPSHOT_COMPLETED, then the stream.
  const size_t snapshot_events = (kRows - 1) + 1 + 2;
  ASSERT_TRUE(p->WaitForLines(snapshot_events, 30s)) << p->Stderr();
  auto events = Events(*p);
  ASSERT_EQ(events.size(), snapshot_events);
  auto& gap = events.front();
  EXPECT_EQ(Str(gap["channel"]), "pgcdc:_gap");
  EXPECT_EQ(Str(gap["operation"]), "GAP");
  auto& window = gap["payload"].as_object();
  EXPECT_EQ(Str(window["from_lsn"]), delivered_through);
  EXPECT_TRUE(window["from_time"].is_string());
  auto later =
      conn.Query("SELECT $1::pg_lsn > $2::pg_lsn", {Str(window["to_lsn"]), delivered_through});
  ASSERT_TRUE(later && !later->empty());
  EXPECT_EQ(later->at(0).at(0), "t") << Str(window["to_lsn"]);
  EXPECT_EQ(Str(window["slot"]), slot);
  EXPECT_NE(Str(window["reason"]).find("wal_status lost"), std::string::npos);
  EXPECT_EQ(boost::json::serialize(window["tables"]), "[\"public.s_lost_re\",\"s_gap.items\"]");
  std::set<int64_t> ids;
  std::set<int64_t> items;
  for (size_t i = 1; i + 1 < events.size(); ++i) {
    auto& e = events[i];
    ASSERT_EQ(Str(e["operation"]), "SNAPSHOT") << boost::json::serialize(e);
    const int64_t id = e["payload"].as_object()["row"].as_object()["id"].as_int64();
    if (Str(e["channel"]) == "pgcdc:s_gap.items") {
      items.insert(id);
    } else {
      EXPECT_EQ(Str(e["channel"]), "pgcdc:s_lost_re");
      ids.insert(id);
    }
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(kRows - 1));
  EXPECT_EQ(ids.count(1), 0u);  // deleted during the gap
  EXPECT_EQ(items, std::set<int64_t>{7});
  auto& done = events.back();
  EXPECT_EQ(Str(done["operation"]), "GAP_SNAPSHOT_COMPLETED");
  EXPECT_EQ(done["payload"].as_object()["rows"].as_int64(), kRows);

  // Covered: health recovers, the new slot streams.
  ASSERT_TRUE(Eventually([&] {
    return Healthz(*p).find("\"slot\":{\"status\":\"up\"") != std::string::npos;
  })) << Healthz(*p);
  ExecOrFail(conn, "INSERT INTO s_lost_re (id) VALUES (5000)");
  ASSERT_TRUE(p->WaitForLines(snapshot_events + 1)) << p->Stderr();
  EXPECT_EQ(Str(Events(*p).back()["operation"]), "INSERT");
  EXPECT_EQ(SlotColumn(conn, slot, "wal_status"), "reserved");
  p->Signal(SIGTERM);
  ASSERT_EQ(p->Wait(), 0) << p->Stderr();

  // The recreated slot is healthy: the next start streams on, no resnapshot.
  DeliverAndStop(conn, "s_lost_re", "p_s_lost_re", 5001, 5001, {"--on-slot-lost", "resnapshot"});
  (void)conn.Query("SELECT pg_drop_replication_slot($1)", {slot});
}

TEST(SlotScenario, RewindIsNoLossButADroppedSlotIsUntilItsCheckpointIsForgotten) {
  auto conn = Connect();
  const std::string slot = "pgcdc_p_s_dropped";
  const std::string db = SharedCluster().Url();
  FreshPublishedTable(conn, "s_dropped", "id int PRIMARY KEY", "p_s_dropped", slot);
  DeliverAndStop(conn, "s_dropped", "p_s_dropped", 1, 3);

  // `pgcdc rewind` moves the checkpoint behind the slot: not a loss.
  auto rw = RunCommand(
      {PgcdcBinary(), "rewind", "--db", db, "--slot-name", slot, "--lsn", "0/1", "--force"});
  ASSERT_EQ(rw.exit_code, 0) << rw.output;
  DeliverAndStop(conn, "s_dropped", "p_s_dropped", 4, 4);

  // Dropped by hand while a checkpoint exists: a new slot would silently
  // start at the current position, so pgcdc refuses.
  auto dropped = conn.Query("SELECT pg_drop_replication_slot($1)", {slot});
  ASSERT_TRUE(dropped) << dropped.error().message();
  auto [code, err] = RunToExit(WalListenArgs("p_s_dropped", {"--persistent-slot"}));
  EXPECT_EQ(code, 1) << err;
  EXPECT_NE(err.find("the slot does not exist although pgcdc acknowledged changes up to"),
            std::string::npos)
      << err;
  EXPECT_EQ(SlotColumn(conn, slot, "slot_name"), "");  // not recreated

  // The way out the message names: forget the checkpoint, start over.
  auto drop = RunCommand({PgcdcBinary(), "slot", "drop", "--db", db, "--name", slot});
  EXPECT_EQ(drop.exit_code, 0) << drop.output;
  EXPECT_NE(drop.output.find("forgot its checkpoint"), std::string::npos) << drop.output;
  DeliverAndStop(conn, "s_dropped", "p_s_dropped", 5, 5);
  (void)conn.Query("SELECT pg_drop_replication_slot($1)", {slot});
}

// The row ids in the WAL events a webhook receiver accepted, in order.
std::vector<int64_t> WebhookRowIds(const HttpReceiver& rx) {
  std::vector<int64_t> ids;
  for (const auto& r : rx.Requests()) {
    if (r.reply_status / 100 != 2) continue;
    const auto v = ParseJson(r.body);
    // One event per request, or an array of them (batch mode).
    const auto one = [&ids](const boost::json::value& e) {
      ids.push_back(e.at("payload").at("row").at("id").to_number<int64_t>());
    };
    if (v.is_array()) {
      for (const auto& e : v.as_array()) one(e);
    } else {
      one(v);
    }
  }
  return ids;
}

// A clean stop (SIGTERM) while a slow sink still works through a backlog: the
// sink finishes it, and the final checkpoint and standby status cover all of
// it, so the next run starts after it instead of sending it again.
TEST(SlotScenario, CleanStopConfirmsTheBacklogSoTheNextRunRepeatsNothing) {
  auto conn = Connect();
  const std::string slot = "pgcdc_p_s_clean_stop";
  FreshPublishedTable(conn, "s_clean_stop", "id int PRIMARY KEY", "p_s_clean_stop", slot);
  HttpReceiver rx;
  ASSERT_TRUE(rx.ok());
  rx.SetResponder([](const HttpReceiver::Request&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return HttpReceiver::Reply{200, "{}", {}};
  });
  const auto args =
      WalListenArgs("p_s_clean_stop", {"--persistent-slot", "-a", "webhook", "-u", rx.Url(),
                                       "--bus-buffer", "16", "--shutdown-timeout", "30s"});
  constexpr int kRows = 200;
  {
    auto p = StartWalListen(args);
    ASSERT_TRUE(p);
    ExecOrFail(conn,
               "INSERT INTO s_clean_stop SELECT generate_series(1, " + std::to_string(kRows) + ")");
    ASSERT_TRUE(rx.WaitForRequests(5)) << p->Stderr();
    p->Signal(SIGTERM);  // about 2 s of deliveries still to go
    ASSERT_EQ(p->Wait(), 0) << p->Stderr();
  }
  std::vector<int64_t> want;
  for (int i = 1; i <= kRows; ++i) want.push_back(i);
  ASSERT_EQ(WebhookRowIds(rx), want);

  rx.Clear();
  auto p = StartWalListen(args);
  ASSERT_TRUE(p);
  ExecOrFail(conn, "INSERT INTO s_clean_stop VALUES (" + std::to_string(kRows + 1) + ")");
  // Events arrive in WAL order: a repeated row would come before the new one.
  ASSERT_TRUE(Eventually([&] {
    auto ids = WebhookRowIds(rx);
    return !ids.empty() && ids.back() == kRows + 1;
  })) << p->Stderr();
  EXPECT_EQ(WebhookRowIds(rx), std::vector<int64_t>{kRows + 1});
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
}

TEST(SlotScenario, IdleSlotAdvancesOnTrafficInAnotherDatabaseOnly) {
  auto conn = Connect();
  const std::string slot = "pgcdc_p_s_idle";
  FreshPublishedTable(conn, "s_idle", "id int PRIMARY KEY", "p_s_idle", slot);
  (void)conn.Exec("DROP DATABASE IF EXISTS s_other");
  ExecOrFail(conn, "CREATE DATABASE s_other");
  auto p = StartWalListen(
      WalListenArgs("p_s_idle", {"--persistent-slot", "--heartbeat-interval", "200ms"}));
  ASSERT_TRUE(p);
  // The cluster keeps WAL for slots without limit: pgcdc says so at start.
  EXPECT_TRUE(p->WaitForStderr("max_slot_wal_keep_size is unlimited")) << p->Stderr();
  const std::string restart = SlotColumn(conn, slot, "restart_lsn");
  const std::string confirmed = SlotColumn(conn, slot, "confirmed_flush_lsn");

  auto other = pg::Conn::Open(SharedCluster().Url("s_other"));
  ASSERT_TRUE(other) << other.error().message();
  ExecOrFail(*other, "CREATE TABLE busy (x int)");
  ASSERT_TRUE(Eventually(
      [&] {
        ExecOrFail(*other, "INSERT INTO busy SELECT generate_series(1, 1000)");
        (void)other->Exec("CHECKPOINT");  // logs the running transactions restart_lsn moves by
        return SlotColumn(conn, slot, "restart_lsn") != restart &&
               SlotColumn(conn, slot, "confirmed_flush_lsn") != confirmed;
      },
      60s))
      << "restart_lsn " << restart << " -> " << SlotColumn(conn, slot, "restart_lsn")
      << ", confirmed_flush_lsn " << confirmed << " -> "
      << SlotColumn(conn, slot, "confirmed_flush_lsn");
  EXPECT_TRUE(p->StdoutLines().empty());  // heartbeats are never emitted
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0);
  other = pg::Conn();
  (void)conn.Exec("DROP DATABASE IF EXISTS s_other");
  (void)conn.Query("SELECT pg_drop_replication_slot($1)", {slot});
}

TEST(SlotScenario, EveryWalsenderTerminationIsCountedAsAReconnect) {
  auto conn = Connect();
  const std::string slot = "pgcdc_p_s_reconnect";
  FreshPublishedTable(conn, "s_reconnect", "id int PRIMARY KEY", "p_s_reconnect", slot);
  auto p = StartWalListen(WalListenArgs("p_s_reconnect", {"--persistent-slot"}));
  ASSERT_TRUE(p);
  const std::string series = "pgcdc_detector_reconnects_total{detector=\"wal\"}";
  EXPECT_EQ(ScrapeMetric(*p, series), 0.0);
  constexpr int kTerminations = 3;
  for (int i = 1; i <= kTerminations; ++i) {
    ExecOrFail(conn, "INSERT INTO s_reconnect VALUES (" + std::to_string(i) + ")");
    ASSERT_TRUE(p->WaitForLines(static_cast<size_t>(i))) << p->Stderr();
    ASSERT_TRUE(Eventually([&] { return !SlotColumn(conn, slot, "active_pid").empty(); }));
    auto killed = conn.Query(
        "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 "
        "AND active_pid IS NOT NULL",
        {slot});
    ASSERT_TRUE(killed) << killed.error().message();
    ASSERT_TRUE(p->WaitForStderr("streaming detector=wal", 20s, static_cast<size_t>(i) + 1))
        << p->Stderr();
    // Counted when the new connection streams: exactly one per termination.
    EXPECT_EQ(ScrapeMetric(*p, series), static_cast<double>(i)) << p->Stderr();
  }
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0);
  (void)conn.Query("SELECT pg_drop_replication_slot($1)", {slot});
}

}  // namespace
}  // namespace pgcdc::testing
