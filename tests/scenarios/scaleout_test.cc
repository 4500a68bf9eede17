// User journey: scale sinks out past one process on a real distributed log
// (docs/scaling.md). A hub pgcdc (WAL → nats sink, one slot) publishes to a
// 3-node NATS JetStream cluster (stream with 3 replicas); two spoke pgcdc
// processes share one durable pull consumer (nats_consumer, unwrap) and
// insert the hub's events into a pg_table sink. Mid-stream one spoke is
// killed with SIGKILL and restarted, the stream's leader node is killed, and
// later the other spoke leaves (SIGTERM), so the restarted one finishes.
//
// What is checked, and why it is what the pattern guarantees:
//  - every change arrives: the set of event ids and of (key, version) in the
//    target equals what was written, and the stream holds each event once
//    (the hub's Nats-Msg-Id de-duplication);
//  - no message is processed again after JetStream recorded its ack: for
//    snapshots (ack floor F read first, then the highest row serial N), no
//    row inserted after N belongs to a stream sequence ≤ F;
//  - duplicates are at-least-once redeliveries of unacked messages only:
//    none before the first fault, identical rows, and at most the messages
//    the faults left unacked (max_pending per lost consumer connection);
//  - per-key order: two spokes sharing a pull consumer do NOT keep it (each
//    fetches its own batch and commits on its own), so the target applies
//    by version (a trigger upserts only a higher version) and the final
//    version of every key is the last one written. The out-of-order
//    arrivals seen are printed, not asserted (docs/scaling.md).
//  - failure paths: the whole cluster down holds the hub's changes (health
//    degraded) until it is back; a spoke whose stream does not exist exits 2
//    with a clear error.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <initializer_list>
#include <iostream>
#include <map>
#include <thread>

#include "harness.h"
#include "nats_server.h"

namespace pgcdc::testing {
namespace {

constexpr int kKeys = 100;
constexpr int kRounds = 50;  // updates per key after its insert
constexpr int kEvents = kKeys * (kRounds + 1);
constexpr int kMaxPending = 256;  // per spoke: messages consumed, not yet acked
constexpr const char* kStream = "SCALE";
constexpr const char* kDurable = "spokes";

int64_t Number(pg::Conn& conn, const std::string& sql) {
  auto rows = conn.Query(sql);
  if (!rows || rows->empty() || !(*rows)[0][0]) {
    ADD_FAILURE() << sql << ": " << (rows ? "no value" : rows.error().message());
    return -1;
  }
  return std::stoll(*(*rows)[0][0]);
}

// The target: the pg_table columns, no primary key (so a redelivered event
// shows as a second row), the spoke that inserted it (its connection's
// application_name) and an insertion serial; a trigger keeps the latest
// version per key in so_current (apply by version).
void CreateTarget(pg::Conn& conn) {
  ExecOrFail(conn,
             "DROP TABLE IF EXISTS so_sink, so_current; "
             "CREATE TABLE so_sink (id TEXT NOT NULL, channel TEXT NOT NULL, operation TEXT NOT "
             "NULL, payload JSONB NOT NULL, source TEXT NOT NULL, created_at TIMESTAMPTZ NOT NULL, "
             "spoke TEXT NOT NULL DEFAULT current_setting('application_name'), n BIGSERIAL); "
             "CREATE INDEX ON so_sink (id); "
             "CREATE TABLE so_current (k INT PRIMARY KEY, ver INT NOT NULL); "
             "CREATE OR REPLACE FUNCTION so_apply() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
             "INSERT INTO so_current VALUES ((NEW.payload->'row'->>'k')::int, "
             "(NEW.payload->'row'->>'ver')::int) ON CONFLICT (k) DO UPDATE SET ver = EXCLUDED.ver "
             "WHERE so_current.ver < EXCLUDED.ver; RETURN NULL; END $$; "
             "CREATE TRIGGER so_apply AFTER INSERT ON so_sink FOR EACH ROW EXECUTE FUNCTION "
             "so_apply()");
}

// A meta leader, and the stream SCALE (scale.>) on 3 replicas.
::testing::AssertionResult ReadyWithStream(const NatsCluster& nats) {
  if (!nats.Ready()) return ::testing::AssertionFailure() << "no JetStream meta leader";
  if (!nats.CreateStream(kStream, "scale.>", 3)) {
    return ::testing::AssertionFailure() << "stream with 3 replicas not created";
  }
  return ::testing::AssertionSuccess();
}

// A source table (k, ver) in its own publication, and a fresh target.
void FreshSourceAndTarget(pg::Conn& conn, const std::string& table,
                          const std::string& publication) {
  FreshPublishedTable(conn, table, "k int PRIMARY KEY, ver int NOT NULL", publication);
  CreateTarget(conn);
}

// SIGTERM to each; each must exit 0.
void StopAll(std::initializer_list<Process*> processes) {
  for (auto* p : processes) {
    p->Signal(SIGTERM);
    EXPECT_EQ(p->Wait(30s), 0) << p->Stderr();
  }
}

std::vector<std::string> HubArgs(const NatsCluster& nats, const std::string& publication) {
  return WalListenArgs(publication,
                       {"--bus-mode", "reliable", "-a", "nats", "--nats-url", nats.Urls(),
                        "--nats-stream", kStream, "--nats-subject", "scale", "--nats-backoff-base",
                        "50ms", "--nats-backoff-cap", "300ms", "--nats-timeout", "2s"});
}

struct Consumer {
  std::string stream = kStream;
  std::string durable = kDurable;
  std::vector<std::string> extra;  // more flags
};

// A spoke inserting into so_sink as `name`.
std::vector<std::string> SpokeArgs(const NatsCluster& nats, const std::string& name,
                                   const Consumer& consumer = {}) {
  std::vector<std::string> args = {"listen",
                                   "--detector",
                                   "nats_consumer",
                                   "--nats-url",
                                   nats.Urls(),
                                   "--nats-consumer-stream",
                                   consumer.stream,
                                   "--nats-consumer-durable",
                                   consumer.durable,
                                   "--nats-consumer-unwrap",
                                   "--nats-consumer-ack-wait",
                                   "2s",
                                   "--nats-consumer-timeout",
                                   "2s",
                                   "--nats-consumer-max-pending",
                                   std::to_string(kMaxPending),
                                   "--nats-consumer-batch-size",
                                   "64",
                                   "--detector-backoff-base",
                                   "100ms",
                                   "--detector-backoff-cap",
                                   "500ms",
                                   "-a",
                                   "pg_table",
                                   "--pg-table-url",
                                   SharedCluster().Url() + "&application_name=" + name,
                                   "--pg-table-name",
                                   "so_sink",
                                   "--pg-table-backoff-base",
                                   "50ms",
                                   "--pg-table-backoff-cap",
                                   "300ms",
                                   "--http-addr",
                                   "127.0.0.1:0"};
  args.insert(args.end(), consumer.extra.begin(), consumer.extra.end());
  return args;
}

std::unique_ptr<Process> StartSpoke(const NatsCluster& nats, const std::string& name,
                                    const Consumer& consumer = {}) {
  auto p = Process::Start({.args = SpokeArgs(nats, name, consumer)});
  if (p && !p->WaitForStderr("consuming detector=nats_consumer", 30s)) {
    ADD_FAILURE() << name << " did not start consuming:\n" << p->Stderr();
    p.reset();
  }
  return p;
}

// A point in time: every stream sequence ≤ ack_floor was acked (read
// first), and no row had a serial above max_n yet (read after).
struct Snapshot {
  uint64_t ack_floor = 0;
  int64_t max_n = 0;
};

Snapshot Take(const NatsCluster& nats, pg::Conn& conn) {
  Snapshot s;
  if (auto c = nats.Any().Consumer(kStream, kDurable)) s.ack_floor = c->ack_floor;
  s.max_n = Number(conn, "SELECT coalesce(max(n), 0) FROM so_sink");
  return s;
}

struct Row {
  std::string id;
  std::string key;  // channel and primary key
  int k = 0;
  int ver = 0;
  int64_t n = 0;
  std::string spoke;
};

std::vector<Row> SinkRows(pg::Conn& conn) {
  std::vector<Row> out;
  auto rows = conn.Query(
      "SELECT id, payload->'row'->>'k', payload->'row'->>'ver', n, spoke, channel FROM so_sink "
      "ORDER BY n");
  EXPECT_TRUE(rows) << rows.error().message();
  if (!rows) return out;
  for (const auto& r : *rows) {
    out.push_back(
        {*r[0], *r[5] + "/" + *r[1], std::stoi(*r[1]), std::stoi(*r[2]), std::stoll(*r[3]), *r[4]});
  }
  return out;
}

// Per key, how often a version arrived after a higher one.
int BackwardSteps(const std::vector<std::pair<std::string, int>>& key_versions) {
  std::map<std::string, int> highest;
  int steps = 0;
  for (const auto& [k, ver] : key_versions) {
    auto [it, fresh] = highest.try_emplace(k, ver);
    if (fresh) continue;
    if (ver < it->second) ++steps;
    it->second = std::max(it->second, ver);
  }
  return steps;
}

// Writes the inserts then kRounds transactions updating every key, keeping
// at most `window` rounds ahead of what reached the target. Rounds after
// `hold_after` wait until `release` is set, so the test decides which
// consumers are present for the tail of the workload.
void WriteWorkload(pg::Conn& probe, std::atomic<int>& rounds_written, int hold_after,
                   const std::atomic<bool>& release) {
  auto w = Connect();
  ExecOrFail(w, "INSERT INTO so_items SELECT g, 0 FROM generate_series(1, " +
                    std::to_string(kKeys) + ") g");
  rounds_written = 0;
  constexpr int kWindow = 8;
  for (int r = 1; r <= kRounds; ++r) {
    const int64_t need = static_cast<int64_t>(r - kWindow) * kKeys;
    if (need > 0 &&
        !Eventually([&] { return Number(probe, "SELECT count(DISTINCT id) FROM so_sink") >= need; },
                    90s)) {
      ADD_FAILURE() << "the target stopped growing before round " << r;
      return;
    }
    if (r > hold_after && !Eventually([&] { return release.load(); }, 180s)) {
      ADD_FAILURE() << "the writer was never released after round " << hold_after;
      return;
    }
    ExecOrFail(w, "UPDATE so_items SET ver = ver + 1");
    rounds_written = r;
  }
}

TEST(ScaleOutScenario, HubTwoSpokesSurviveSpokeAndNodeLoss) {
  NatsCluster nats(3);
  ASSERT_TRUE(ReadyWithStream(nats));
  auto conn = Connect();
  FreshSourceAndTarget(conn, "so_items", "p_scale");

  auto hub = StartWalListen(HubArgs(nats, "p_scale"));
  ASSERT_TRUE(hub);
  auto spoke1 = StartSpoke(nats, "spoke1");
  auto spoke2 = StartSpoke(nats, "spoke2");
  ASSERT_TRUE(spoke1 && spoke2);

  auto probe = Connect();
  std::atomic<int> rounds{0};
  // The last rounds are written only once spoke2 has left, so the restarted
  // spoke1 must take them however fast spoke2 drained the rest.
  constexpr int kHoldAfter = kRounds * 4 / 5;
  std::atomic<bool> release{false};
  std::thread writer([&] {
    auto p = Connect();
    WriteWorkload(p, rounds, kHoldAfter, release);
  });
  auto arrived = [&] { return Number(probe, "SELECT count(DISTINCT id) FROM so_sink"); };
  auto reach = [&](int64_t n) { return Eventually([&] { return arrived() >= n; }, 90s); };
  std::vector<Snapshot> snapshots;

  // Before any fault every message is processed once.
  EXPECT_TRUE(reach(kEvents * 15 / 100)) << arrived() << "\n" << spoke2->Stderr();
  snapshots.push_back(Take(nats, probe));
  EXPECT_EQ(Number(probe, "SELECT count(*) - count(DISTINCT id) FROM so_sink"), 0);
  spoke1->Signal(SIGKILL);
  spoke1->Wait();

  EXPECT_TRUE(reach(kEvents * 40 / 100)) << arrived() << "\n" << spoke2->Stderr();
  snapshots.push_back(Take(nats, probe));
  auto before = nats.Any().Stream(kStream);
  ASSERT_TRUE(before && !before->leader.empty());
  const auto leader = nats.IndexOf(before->leader);
  ASSERT_TRUE(leader) << before->leader;
  nats.node(*leader).Kill();

  EXPECT_TRUE(reach(kEvents * 55 / 100)) << arrived() << "\n" << hub->Stderr();
  snapshots.push_back(Take(nats, probe));
  spoke1 = StartSpoke(nats, "spoke1");
  ASSERT_TRUE(spoke1);
  const int64_t restarted_at = snapshots.back().max_n;

  // spoke2 leaves (gracefully: what it consumed is delivered and acked), so
  // the rest is the restarted spoke's alone.
  EXPECT_TRUE(reach(kEvents * 75 / 100)) << arrived() << "\n" << spoke1->Stderr();
  snapshots.push_back(Take(nats, probe));
  spoke2->Signal(SIGTERM);
  EXPECT_EQ(spoke2->Wait(30s), 0) << spoke2->Stderr();
  release = true;

  writer.join();
  ASSERT_EQ(rounds.load(), kRounds);
  EXPECT_TRUE(Eventually([&] { return arrived() == kEvents; }, 120s))
      << arrived() << " of " << kEvents << "\nhub:\n"
      << hub->Stderr() << "\nspoke1:\n"
      << spoke1->Stderr();
  snapshots.push_back(Take(nats, probe));

  // Every change, and the last version of every key.
  EXPECT_EQ(Number(probe,
                   "SELECT count(DISTINCT (payload->'row'->>'k', payload->'row'->>'ver')) "
                   "FROM so_sink"),
            kEvents);
  EXPECT_EQ(Number(probe, "SELECT count(*) FROM so_current WHERE ver = " + std::to_string(kRounds)),
            kKeys);
  // Duplicates are identical rows, bounded by what the faults left unacked.
  const int64_t duplicates = Number(probe, "SELECT count(*) - count(DISTINCT id) FROM so_sink");
  EXPECT_EQ(Number(probe, "SELECT count(DISTINCT (id, payload)) FROM so_sink"), kEvents);
  EXPECT_LE(duplicates, 3 * kMaxPending);

  // The killed node comes back and catches up; the stream holds every event
  // once, on 3 replicas.
  ASSERT_TRUE(nats.node(*leader).Start());
  EXPECT_TRUE(Eventually(
      [&] {
        auto s = nats.Any().Stream(kStream);
        return s && s->current_peers == 2;
      },
      60s));
  auto after = nats.Any().Stream(kStream);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->messages, static_cast<uint64_t>(kEvents));
  EXPECT_EQ(after->replicas, 3);
  std::map<std::string, uint64_t> seq_of;
  std::vector<std::pair<std::string, int>> stream_order;
  const auto rows = SinkRows(probe);
  std::map<std::string, std::pair<std::string, int>> kv_of;
  for (const auto& r : rows) kv_of[r.id] = {r.key, r.ver};
  for (const auto& m : nats.Any().ReadStream(kStream)) {
    seq_of[m.msg_id] = m.seq;
    if (auto it = kv_of.find(m.msg_id); it != kv_of.end()) stream_order.push_back(it->second);
  }
  ASSERT_EQ(seq_of.size(), static_cast<size_t>(kEvents));

  // No message processed again once its ack was recorded.
  int after_ack = 0;
  std::map<std::string, int64_t> per_spoke;
  std::vector<std::pair<std::string, int>> sink_order;
  for (const auto& r : rows) {
    ++per_spoke[r.spoke];
    sink_order.emplace_back(r.key, r.ver);
    const uint64_t seq = seq_of.at(r.id);
    for (const auto& s : snapshots) {
      if (r.n > s.max_n && seq <= s.ack_floor) ++after_ack;
    }
  }
  EXPECT_EQ(after_ack, 0);
  EXPECT_GT(per_spoke["spoke1"], 0);
  EXPECT_GT(per_spoke["spoke2"], 0);
  EXPECT_GT(std::count_if(rows.begin(), rows.end(),
                          [&](const Row& r) { return r.spoke == "spoke1" && r.n > restarted_at; }),
            0)
      << "the restarted spoke took no work";
  std::cout << "scaleout: duplicates " << duplicates << ", spoke1 rows " << per_spoke["spoke1"]
            << ", spoke2 rows " << per_spoke["spoke2"] << ", backward steps per key: stream "
            << BackwardSteps(stream_order) << ", target " << BackwardSteps(sink_order)
            << ", ack floors";
  for (const auto& s : snapshots) std::cout << " " << s.ack_floor;
  std::cout << "\n";

  StopAll({hub.get(), spoke1.get()});
}

// What does keep per-key order: one consumer per subject. Each spoke has
// its own durable filtered to one table's subject, so every key's changes
// reach its target rows in commit order (no faults here: a redelivery after
// a crash would come after newer rows, docs/scaling.md).
TEST(ScaleOutScenario, PartitionedBySubjectKeepsPerKeyOrder) {
  NatsCluster nats(3);
  ASSERT_TRUE(ReadyWithStream(nats));
  auto conn = Connect();
  FreshSourceAndTarget(conn, "so_pa", "p_scale_part");
  ExecOrFail(conn,
             "DROP TABLE IF EXISTS so_pb; CREATE TABLE so_pb (k int PRIMARY KEY, ver int NOT "
             "NULL); ALTER PUBLICATION p_scale_part ADD TABLE so_pb");
  auto hub = StartWalListen(HubArgs(nats, "p_scale_part"));
  ASSERT_TRUE(hub);
  auto spoke_a =
      StartSpoke(nats, "spoke_a",
                 {.durable = "part_a", .extra = {"--nats-consumer-subjects", "scale.*.so_pa"}});
  auto spoke_b =
      StartSpoke(nats, "spoke_b",
                 {.durable = "part_b", .extra = {"--nats-consumer-subjects", "scale.*.so_pb"}});
  ASSERT_TRUE(spoke_a && spoke_b);

  const std::string keys = "generate_series(1, " + std::to_string(kKeys) + ") g";
  ExecOrFail(conn, "INSERT INTO so_pa SELECT g, 0 FROM " + keys +
                       "; INSERT INTO so_pb SELECT g, 0 FROM " + keys);
  for (int r = 1; r <= kRounds; ++r) {
    ExecOrFail(conn,
               "BEGIN; UPDATE so_pa SET ver = ver + 1; UPDATE so_pb SET ver = ver + 1; COMMIT");
  }
  constexpr int kTotal = 2 * kEvents;
  EXPECT_TRUE(
      Eventually([&] { return Number(conn, "SELECT count(*) FROM so_sink") >= kTotal; }, 120s))
      << Number(conn, "SELECT count(*) FROM so_sink") << "\n"
      << spoke_a->Stderr() << spoke_b->Stderr();
  EXPECT_EQ(Number(conn, "SELECT count(DISTINCT id) FROM so_sink"), kTotal);
  EXPECT_EQ(Number(conn, "SELECT count(*) FROM so_sink"), kTotal);
  EXPECT_EQ(Number(conn,
                   "SELECT count(*) FROM so_sink WHERE (spoke = 'spoke_a') <> (channel = "
                   "'pgcdc:so_pa')"),
            0);
  std::vector<std::pair<std::string, int>> order;
  for (const auto& r : SinkRows(conn)) order.emplace_back(r.key, r.ver);
  EXPECT_EQ(order.size(), static_cast<size_t>(kTotal));
  EXPECT_EQ(BackwardSteps(order), 0);
  StopAll({hub.get(), spoke_a.get(), spoke_b.get()});
}

// The whole cluster down (every node killed): the hub holds the changes
// (health degraded, retries counted) and, once the nodes are back on their
// stores, publishes them; the spoke reconnects and the target gets every
// change. The stream still holds each change once.
TEST(ScaleOutScenario, WholeClusterDownHoldsChangesUntilItIsBack) {
  NatsCluster nats(3);
  ASSERT_TRUE(ReadyWithStream(nats));
  auto conn = Connect();
  FreshSourceAndTarget(conn, "so_out", "p_scale_out");
  auto hub = StartWalListen(HubArgs(nats, "p_scale_out"));
  ASSERT_TRUE(hub);
  auto spoke = StartSpoke(nats, "spoke1");
  ASSERT_TRUE(spoke);
  auto arrived = [&] { return Number(conn, "SELECT count(DISTINCT id) FROM so_sink"); };
  ExecOrFail(conn, "INSERT INTO so_out SELECT g, 0 FROM generate_series(1, 200) g");
  ASSERT_TRUE(Eventually([&] { return arrived() == 200; }, 30s)) << arrived();

  for (size_t i = 0; i < nats.size(); ++i) nats.node(i).Kill();
  for (int first = 201; first <= 500; first += 100) {
    ExecOrFail(conn, "INSERT INTO so_out SELECT g, 0 FROM generate_series(" +
                         std::to_string(first) + ", " + std::to_string(first + 99) + ") g");
  }
  ASSERT_TRUE(Eventually([&] {
    return ScrapeMetric(*hub, "pgcdc_nats_retries_total").value_or(0) >= 2;
  })) << hub->Stderr();
  const std::string degraded = Healthz(*hub);
  EXPECT_NE(degraded.find(R"("nats":{"status":"degraded")"), std::string::npos) << degraded;
  EXPECT_EQ(arrived(), 200);

  for (size_t i = 0; i < nats.size(); ++i) ASSERT_TRUE(nats.node(i).Start());
  ASSERT_TRUE(nats.Ready(60s));
  EXPECT_TRUE(Eventually([&] { return arrived() == 500; }, 90s)) << arrived() << "\nhub:\n"
                                                                 << hub->Stderr() << "\nspoke:\n"
                                                                 << spoke->Stderr();
  EXPECT_TRUE(Eventually([&] {
    return Healthz(*hub).find(R"("nats":{"status":"up")") != std::string::npos;
  })) << Healthz(*hub);
  EXPECT_EQ(nats.Any().StreamMessages(kStream), 500);
  EXPECT_EQ(Number(conn, "SELECT count(DISTINCT (id, payload)) FROM so_sink"), 500);
  StopAll({hub.get(), spoke.get()});
}

TEST(ScaleOutScenario, SpokeOnAMissingStreamExitsWithAClearError) {
  NatsCluster nats(3);
  ASSERT_TRUE(nats.Ready());
  auto [code, err] = RunToExit(SpokeArgs(nats, "spoke_missing", {.stream = "NO_SUCH_STREAM"}));
  EXPECT_EQ(code, 2) << err;
  // The log line escapes the quotes around the name.
  EXPECT_NE(err.find("NO_SUCH_STREAM\\\" does not exist (create it"), std::string::npos) << err;
}

}  // namespace
}  // namespace pgcdc::testing
