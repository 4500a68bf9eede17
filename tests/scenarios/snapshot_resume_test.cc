// User journey: a large backfill with `pgcdc snapshot` — read by parallel
// workers (--snapshot-workers) on one snapshot, and resumed after a crash
// (kill -9) from the chunks every sink acknowledged (--snapshot-state)
// instead of starting over; a corrupt state file is a clear usage error.
#include <gtest/gtest.h>

#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <regex>

#include "harness.h"
#include "http_receiver.h"
#include "json_util.h"

namespace pgcdc::testing {
namespace {

constexpr int kChunkPages = 2;

std::vector<std::string> SnapshotArgs(const std::string& table, std::vector<std::string> extra) {
  std::vector<std::string> args = {"snapshot", "--db", SharedCluster().Url(), "--table", table};
  for (auto& a : extra) args.push_back(a);
  return args;
}

// `rows` rows (id, pad) with ~60 rows per page.
void MakeTable(const std::string& table, int rows) {
  auto conn = Connect();
  ExecOrFail(conn, "DROP TABLE IF EXISTS " + table);
  ExecOrFail(conn, "CREATE TABLE " + table + " (id int PRIMARY KEY, pad text)");
  ExecOrFail(conn, "INSERT INTO " + table + " SELECT g, repeat('x', 100) FROM generate_series(1, " +
                       std::to_string(rows) + ") g");
}

// The most rows any chunk of `chunk_pages` pages holds.
int64_t MaxChunkRows(const std::string& table, int chunk_pages) {
  auto conn = Connect();
  auto rows = conn.Query("SELECT max(n)::text FROM (SELECT count(*) n FROM " + table +
                         " GROUP BY (ctid::text::point)[0]::bigint / " +
                         std::to_string(chunk_pages) + ") s");
  EXPECT_TRUE(rows && !rows->empty());
  return rows && !rows->empty() ? std::stoll(rows->front()[0].value_or("0")) : 0;
}

// payload.row.id of every event line (or JSON array of events), with counts.
std::map<int64_t, int> CountIds(const std::vector<std::string>& docs) {
  std::map<int64_t, int> ids;
  auto add = [&](const boost::json::value& e) {
    ++ids[e.at("payload").at("row").at("id").as_int64()];
  };
  for (const auto& d : docs) {
    auto v = ParseJson(d);
    if (v.is_array()) {
      for (const auto& e : v.as_array()) add(e);
    } else {
      add(v);
    }
  }
  return ids;
}

std::optional<uint64_t> LoggedCount(const std::string& err, const std::string& pattern) {
  std::smatch m;
  if (!std::regex_search(err, m, std::regex(pattern))) return std::nullopt;
  return std::stoull(m[1].str());
}

TEST(SnapshotWorkers, TwoWorkersDeliverEveryRowExactlyOnce) {
  MakeTable("snap_w2", 20000);
  TempDir dir;
  auto p = Process::Start(
      {.args = SnapshotArgs("snap_w2", {"--snapshot-workers", "2", "--snapshot-chunk-pages", "16",
                                        "--snapshot-state", dir.path + "/s"})});
  ASSERT_TRUE(p);
  ASSERT_EQ(p->Wait(60s), 0) << p->Stderr();
  const auto ids = CountIds(p->StdoutLines());
  ASSERT_EQ(ids.size(), 20000u);
  EXPECT_EQ(ids.begin()->first, 1);
  EXPECT_EQ(ids.rbegin()->first, 20000);
  for (const auto& [id, n] : ids) ASSERT_EQ(n, 1) << "row " << id;
  const std::string err = p->Stderr();
  EXPECT_NE(err.find("workers=2"), std::string::npos) << err;
  EXPECT_GT(LoggedCount(err, R"(snapshot started.*chunks=(\d+))").value_or(0), 2u) << err;
  // A finished export leaves no state behind.
  EXPECT_FALSE(std::filesystem::exists(dir.path + "/s"));
}

TEST(SnapshotWorkers, FilterAndViewsWithWorkers) {
  MakeTable("snap_wf", 5000);
  auto conn = Connect();
  ExecOrFail(conn, "CREATE OR REPLACE VIEW snap_wf_view AS SELECT * FROM snap_wf WHERE id <= 3000");
  TempDir dir;
  // The filter and the page ranges combine: every even row once.
  auto filtered = Process::Start(
      {.args = SnapshotArgs(
           "snap_wf", {"--where", "id % 2 = 0", "--snapshot-workers", "2", "--snapshot-chunk-pages",
                       "4", "--snapshot-state", dir.path + "/f"})});
  ASSERT_TRUE(filtered);
  ASSERT_EQ(filtered->Wait(60s), 0) << filtered->Stderr();
  const auto even = CountIds(filtered->StdoutLines());
  ASSERT_EQ(even.size(), 2500u);
  for (const auto& [id, n] : even) {
    ASSERT_EQ(id % 2, 0);
    ASSERT_EQ(n, 1) << "row " << id;
  }
  // A view has no pages of its own: one chunk, one worker, every row once.
  auto view = Process::Start(
      {.args = SnapshotArgs("snap_wf_view", {"--snapshot-workers", "2", "--snapshot-chunk-pages",
                                             "4", "--snapshot-state", dir.path + "/v"})});
  ASSERT_TRUE(view);
  ASSERT_EQ(view->Wait(60s), 0) << view->Stderr();
  const auto all = CountIds(view->StdoutLines());
  ASSERT_EQ(all.size(), 3000u);
  for (const auto& [id, n] : all) ASSERT_EQ(n, 1) << "row " << id;
  EXPECT_NE(view->Stderr().find("workers=1 chunks=1"), std::string::npos) << view->Stderr();
}

// The webhook receiver answers only while the gate lets it: the test decides
// exactly how much the first run delivers before it is killed.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  size_t allowed = 0;
  bool open = false;
  HttpReceiver::Reply Pass(const HttpReceiver::Request& r) {
    std::unique_lock lock(mu);
    // Bounded: a stuck test ends (and fails on its own conditions) instead of hanging.
    cv.wait_for(lock, 60s, [&] { return open || r.index < allowed; });
    return {200, "{}", {}};
  }
  void Open() {
    {
      std::lock_guard lock(mu);
      open = true;
    }
    cv.notify_all();
  }
};

TEST(SnapshotResume, KillNineMidSnapshotResumesFromTheDeliveredChunks) {
  constexpr int kRows = 3000;
  constexpr int kWorkers = 2;
  MakeTable("snap_resume", kRows);
  const int64_t chunk_rows = MaxChunkRows("snap_resume", kChunkPages);
  ASSERT_GT(chunk_rows, 10);
  TempDir dir;
  const std::string state = dir.path + "/state.json";
  auto gate = std::make_shared<Gate>();
  gate->allowed = 20;  // 20 requests of 50 events: a third of the table
  HttpReceiver hook;
  ASSERT_TRUE(hook.ok());
  hook.SetResponder([gate](const HttpReceiver::Request& r) { return gate->Pass(r); });
  const std::vector<std::string> extra = {"-a",
                                          "webhook",
                                          "--url",
                                          hook.Url(),
                                          "--webhook-batch-size",
                                          "50",
                                          "--snapshot-workers",
                                          std::to_string(kWorkers),
                                          "--snapshot-chunk-pages",
                                          std::to_string(kChunkPages),
                                          "--snapshot-state",
                                          state};

  auto first = Process::Start({.args = SnapshotArgs("snap_resume", extra)});
  ASSERT_TRUE(first);
  // Killed once the receiver has answered all it may and some chunks are
  // recorded as delivered.
  ASSERT_TRUE(hook.WaitForRequests(20, 30s)) << first->Stderr();
  ASSERT_TRUE(Eventually([&] {
    const auto lines = ReadFileLines(state);
    return !lines.empty() && lines[0].find("\"done\":[[") != std::string::npos;
  })) << first->Stderr();
  first->Signal(SIGKILL);
  ASSERT_TRUE(first->Wait(20s).has_value());
  gate->Open();  // a request blocked at the kill is answered (and counted) too
  const std::string first_err = first->Stderr();
  EXPECT_EQ(first_err.find("snapshot complete"), std::string::npos) << first_err;

  auto second = Process::Start({.args = SnapshotArgs("snap_resume", extra)});
  ASSERT_TRUE(second);
  ASSERT_EQ(second->Wait(60s), 0) << second->Stderr();
  const std::string err = second->Stderr();
  // It did not start over: it skipped the done chunks and read fewer rows.
  const auto skipped = LoggedCount(err, R"(snapshot resuming.*chunks_done=(\d+))");
  ASSERT_TRUE(skipped) << err;
  EXPECT_GE(*skipped, 1u);
  const auto rerun_rows = LoggedCount(err, R"(snapshot complete.*rows=(\d+))");
  ASSERT_TRUE(rerun_rows) << err;
  EXPECT_LT(*rerun_rows, static_cast<uint64_t>(kRows));
  EXPECT_GE(*rerun_rows, kRows - *skipped * chunk_rows);

  // Every row arrived; the duplicates are the rows of the chunks that were
  // being read at the kill: at most one chunk per worker.
  std::vector<std::string> bodies;
  for (const auto& r : hook.Requests()) bodies.push_back(r.body);
  const auto ids = CountIds(bodies);
  ASSERT_EQ(ids.size(), static_cast<size_t>(kRows));
  EXPECT_EQ(ids.rbegin()->first, kRows);
  int64_t dups = 0;
  for (const auto& [id, n] : ids) dups += n - 1;
  EXPECT_LE(dups, kWorkers * chunk_rows) << "chunk rows " << chunk_rows;
  std::printf(
      "[ resume ] %d rows, chunk <= %lld rows: %llu chunks skipped, rerun read %llu rows, "
      "%lld duplicates\n",
      kRows, static_cast<long long>(chunk_rows), static_cast<unsigned long long>(*skipped),
      static_cast<unsigned long long>(*rerun_rows), static_cast<long long>(dups));
  EXPECT_FALSE(std::filesystem::exists(state));
}

// `listen --snapshot-first --persistent-slot --snapshot-state F`: killed
// mid-export, the restart keeps the slot (it still stands at the first
// snapshot's point), exports only the chunks not yet delivered from a new
// snapshot, then streams from the slot: rows changed while pgcdc was down
// end in their latest state, nothing is missing, and once the slot's
// checkpoint covers the export the state file is gone.
TEST(SnapshotResume, KillNineDuringSnapshotFirstResumesAndTheStreamCatchesUp) {
  constexpr int kRows = 3000;
  auto conn = Connect();
  FreshPublishedTable(conn, "wsnap_resume", "id int PRIMARY KEY, pad text", "p_wsnap",
                      "pgcdc_p_wsnap");
  ExecOrFail(conn, "INSERT INTO wsnap_resume SELECT g, repeat('x', 100) FROM generate_series(1, " +
                       std::to_string(kRows) + ") g");
  TempDir dir;
  const std::string state = dir.path + "/first.json";
  auto gate = std::make_shared<Gate>();
  gate->allowed = 20;
  HttpReceiver hook;
  ASSERT_TRUE(hook.ok());
  hook.SetResponder([gate](const HttpReceiver::Request& r) { return gate->Pass(r); });
  const auto args = WalListenArgs(
      "p_wsnap", {"--snapshot-first", "--snapshot-table", "wsnap_resume", "--persistent-slot",
                  "--snapshot-state", state, "--snapshot-chunk-pages", std::to_string(kChunkPages),
                  "-a", "webhook", "--url", hook.Url(), "--webhook-batch-size", "50"});

  auto first = Process::Start({.args = args});
  ASSERT_TRUE(first);
  ASSERT_TRUE(hook.WaitForRequests(20, 30s)) << first->Stderr();
  ASSERT_TRUE(Eventually([&] {
    const auto lines = ReadFileLines(state);
    return !lines.empty() && lines[0].find("\"done\":[[") != std::string::npos;
  })) << first->Stderr();
  first->Signal(SIGKILL);
  ASSERT_TRUE(first->Wait(20s).has_value());
  gate->Open();
  EXPECT_EQ(first->Stderr().find("snapshot-first complete"), std::string::npos);

  // While pgcdc is down: changes in chunks already delivered and not yet read.
  ExecOrFail(conn, "UPDATE wsnap_resume SET pad = 'changed' WHERE id IN (1, " +
                       std::to_string(kRows) + ")");
  ExecOrFail(conn, "DELETE FROM wsnap_resume WHERE id = 2");
  ExecOrFail(conn, "INSERT INTO wsnap_resume SELECT g, 'new' FROM generate_series(" +
                       std::to_string(kRows + 1) + ", " + std::to_string(kRows + 100) + ") g");

  auto second = Process::Start({.args = args});
  ASSERT_TRUE(second);
  ASSERT_TRUE(second->WaitForStderr("snapshot-first complete", 60s)) << second->Stderr();
  const std::string err = second->Stderr();
  EXPECT_NE(err.find("resumed=true"), std::string::npos) << err;
  const auto resumed_chunks = LoggedCount(err, R"(chunks_resumed=(\d+))");
  ASSERT_TRUE(resumed_chunks) << err;
  EXPECT_GE(*resumed_chunks, 1u);
  const auto rerun_rows = LoggedCount(err, R"(snapshot-first complete.*rows=(\d+))");
  ASSERT_TRUE(rerun_rows) << err;
  EXPECT_LT(*rerun_rows, static_cast<uint64_t>(kRows));

  // The latest event of every key (webhook batches arrive in order).
  std::map<int64_t, std::pair<std::string, std::string>> last;  // id -> (op, pad)
  ASSERT_TRUE(Eventually(
      [&] {
        last.clear();
        for (const auto& r : hook.Requests()) {
          auto v = ParseJson(r.body);
          for (const auto& e : v.as_array()) {
            const auto& o = e.as_object();
            const auto& row = o.at("payload").at("row").as_object();
            last[row.at("id").as_int64()] = {std::string(o.at("operation").as_string()),
                                             row.contains("pad") && row.at("pad").is_string()
                                                 ? std::string(row.at("pad").as_string())
                                                 : ""};
          }
        }
        return last.size() == static_cast<size_t>(kRows + 100) &&
               last[kRows + 100].second == "new" && last[1].second == "changed" &&
               last[kRows].second == "changed" && last[2].first == "DELETE";
      },
      60s))
      << last.size() << " keys; " << second->Stderr();
  for (int64_t id = 3; id < kRows; ++id) {
    ASSERT_EQ(last[id].second, std::string(100, 'x')) << "id " << id;
  }
  // The slot's checkpoint covers the export now: the state file is removed.
  EXPECT_TRUE(Eventually([&] { return !std::filesystem::exists(state); }, 30s)) << second->Stderr();
  second->Signal(SIGTERM);
  EXPECT_EQ(second->Wait(), 0) << second->Stderr();
  (void)conn.Query("SELECT pg_drop_replication_slot('pgcdc_p_wsnap')");
}

TEST(SnapshotResume, CorruptStateFileIsAUsageError) {
  MakeTable("snap_badstate", 10);
  TempDir dir;
  // The default state file, in the working directory.
  const std::string path = dir.Write("pgcdc-snapshot-snap_badstate.json", "{\"version\":1,");
  auto p = Process::Start({.args = SnapshotArgs("snap_badstate", {}), .cwd = dir.path});
  ASSERT_TRUE(p);
  ASSERT_EQ(p->Wait(30s), 2) << p->Stderr();
  const std::string err = p->Stderr();
  EXPECT_NE(err.find("pgcdc snapshot: "), std::string::npos) << err;
  EXPECT_NE(err.find(path), std::string::npos) << err;
  EXPECT_NE(err.find("not a snapshot state file"), std::string::npos) << err;
  EXPECT_NE(err.find("remove the file"), std::string::npos) << err;
  EXPECT_TRUE(p->StdoutLines().empty());
  EXPECT_TRUE(std::filesystem::exists(path));  // left for the user to look at
}

TEST(SnapshotResume, StateOfAnotherExportIsIgnoredWithAWarning) {
  MakeTable("snap_otherstate", 500);
  TempDir dir;
  // Done chunks recorded for another table: not applied to this one.
  const std::string path = dir.Write(
      "s.json", R"({"version":1,"table":"other","where":"","system_id":"1","database":"x",)"
                R"("table_oid":1,"chunk_pages":2,"done":[[0,null]]})");
  auto p = Process::Start(
      {.args = SnapshotArgs("snap_otherstate", {"--snapshot-state", path, "--snapshot-chunk-pages",
                                                std::to_string(kChunkPages)})});
  ASSERT_TRUE(p);
  ASSERT_EQ(p->Wait(30s), 0) << p->Stderr();
  EXPECT_EQ(CountIds(p->StdoutLines()).size(), 500u);
  EXPECT_NE(p->Stderr().find("belongs to another export"), std::string::npos) << p->Stderr();
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(SnapshotResume, NoStateFileWithNone) {
  MakeTable("snap_nostate", 3000);
  TempDir dir;
  auto gate = std::make_shared<Gate>();
  gate->allowed = 10;
  HttpReceiver hook;
  ASSERT_TRUE(hook.ok());
  hook.SetResponder([gate](const HttpReceiver::Request& r) { return gate->Pass(r); });
  auto p = Process::Start(
      {.args = SnapshotArgs(
           "snap_nostate", {"-a", "webhook", "--url", hook.Url(), "--webhook-batch-size", "50",
                            "--snapshot-chunk-pages", std::to_string(kChunkPages), "--metrics-addr",
                            "127.0.0.1:0", "--snapshot-state", "none"}),
       .cwd = dir.path});
  ASSERT_TRUE(p);
  auto addr = p->HttpAddr("metrics");
  ASSERT_TRUE(addr) << p->Stderr();
  // Chunks were delivered (a state file would have been written by now) ...
  ASSERT_TRUE(Eventually([&] {
    auto m = HttpGet(*addr, "/metrics");
    return m &&
           MetricValue(m->body, R"(pgcdc_snapshot_chunks_total{state="done"})").value_or(0) >= 1;
  })) << p->Stderr();
  // ... but with `none` the working directory stays empty.
  EXPECT_TRUE(std::filesystem::is_empty(dir.path));
  p->Signal(SIGKILL);
  ASSERT_TRUE(p->Wait(20s).has_value());
  gate->Open();
}

}  // namespace
}  // namespace pgcdc::testing
