// User journey: capture to a file that survives crashes. The WAL detector
// with a persistent slot writes through the file adapter; pgcdc is killed
// with SIGKILL at random moments and restarted; the file ends up holding every
// committed row (duplicates only from unacknowledged tails), in commit order
// of first appearance, and every duplicate carries the id of its first
// delivery (so receivers can drop it).
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "harness.h"
#include "json_util.h"

namespace pgcdc::testing {
namespace {

namespace fs = std::filesystem;

TEST(FileScenario, KillNineWithPersistentSlotAndFileAdapterLosesNothing) {
  auto conn = Connect();
  FreshPublishedTable(conn, "f_crash", "id int PRIMARY KEY", "p_fcrash", "pgcdc_p_fcrash");

  TempDir dir;
  const std::string out = dir.path + "/events.jsonl";
  const std::vector<std::string> args = {"listen",
                                         "--detector",
                                         "wal",
                                         "--db",
                                         SharedCluster().Url(),
                                         "--publication",
                                         "p_fcrash",
                                         "--persistent-slot",
                                         "-a",
                                         "file",
                                         "--file-path",
                                         out,
                                         "--file-max-size",
                                         "0",
                                         "--http-addr",
                                         "",
                                         "--detector-status-interval",
                                         "200ms",
                                         "--detector-backoff-base",
                                         "100ms"};

  constexpr int kRows = 200000;
  RunKillNineRounds({.table = "f_crash", .rows = kRows, .seed = 4242, .spread = 40000}, args,
                    [&](Process&) { return static_cast<double>(ReadFileLines(out).size()); });

  auto p = Process::Start({.args = args});
  ASSERT_TRUE(p);
  std::set<int> ids;
  ASSERT_TRUE(Eventually(
      [&] {
        ids.clear();
        for (auto& l : ReadFileLines(out)) {
          // A line cut by SIGKILL mid-write is terminated at the next start;
          // skip anything that is not a whole JSON document.
          boost::system::error_code ec;
          auto parsed = boost::json::parse(l, ec);
          if (ec || !parsed.is_object()) continue;
          auto v = parsed.as_object();
          ids.insert(
              static_cast<int>(v["payload"].as_object()["row"].as_object()["id"].as_int64()));
        }
        return ids.size() == static_cast<size_t>(kRows);
      },
      120s))
      << ids.size() << " of " << kRows << "\n"
      << p->Stderr();
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0);
  // Order of first appearance follows commit order (ids were committed ascending).
  std::set<int> seen;
  std::map<int, std::string> id_of_row;
  std::set<std::string> event_ids;
  int last = 0;
  size_t lines = 0, duplicates = 0;
  for (auto& l : ReadFileLines(out)) {
    boost::system::error_code ec;
    auto parsed = boost::json::parse(l, ec);
    if (ec || !parsed.is_object()) continue;
    ++lines;
    auto v = parsed.as_object();
    const int id = static_cast<int>(v["payload"].as_object()["row"].as_object()["id"].as_int64());
    const std::string event_id(v["id"].as_string());
    if (seen.insert(id).second) {
      ASSERT_GT(id, last);
      last = id;
      id_of_row[id] = event_id;
      ASSERT_TRUE(event_ids.insert(event_id).second) << "two rows share event id " << event_id;
    } else {
      ++duplicates;
      ASSERT_EQ(event_id, id_of_row[id]) << "row " << id << " redelivered with another id";
    }
  }
  std::cerr << "file crash test: " << lines << " lines for " << kRows << " rows, " << duplicates
            << " redelivered with their first id\n";
  (void)conn.Query("SELECT pg_drop_replication_slot('pgcdc_p_fcrash')");
}

TEST(FileScenario, RotationAndMissingDirectory) {
  TempDir dir;
  const std::string out = dir.path + "/n.jsonl";
  auto p = Process::Start({.args = {"listen", "--db", SharedCluster().Url(), "-c", "pgcdc:rot",
                                    "-a", "file", "--file-path", out, "--file-max-size", "2000",
                                    "--file-max-files", "2", "--http-addr", "127.0.0.1:0"}});
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->WaitForStderr("listening detector=listen_notify")) << p->Stderr();
  auto conn = Connect();
  ExecOrFail(conn, "SELECT pg_notify('pgcdc:rot', g::text) FROM generate_series(1, 200) g");
  ASSERT_TRUE(Eventually([&] { return ScrapeMetric(*p, "pgcdc_file_rotations_total") >= 3; }));
  ASSERT_TRUE(Eventually(
      [&] { return ScrapeMetric(*p, "pgcdc_events_delivered_total{adapter=\"file\"}") == 200; }));
  p->Signal(SIGTERM);
  ASSERT_EQ(p->Wait(), 0);
  EXPECT_TRUE(fs::exists(out + ".1"));
  EXPECT_TRUE(fs::exists(out + ".2"));
  EXPECT_FALSE(fs::exists(out + ".3"));
  for (const auto& f : {out, out + ".1", out + ".2"}) {
    for (auto& l : ReadFileLines(f))
      EXPECT_EQ(ParseJson(l).as_object()["channel"].as_string(), "pgcdc:rot");
  }

  auto bad =
      Process::Start({.args = {"listen", "--db", SharedCluster().Url(), "-c", "x", "-a", "file",
                               "--file-path", dir.path + "/missing/out.jsonl", "--http-addr", ""}});
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->Wait(), 1);
  EXPECT_NE(bad->Stderr().find("does not exist"), std::string::npos) << bad->Stderr();
  auto none =
      Process::Start({.args = {"listen", "--db", SharedCluster().Url(), "-c", "x", "-a", "file"}});
  ASSERT_TRUE(none);
  EXPECT_EQ(none->Wait(), 2);
  EXPECT_NE(none->Stderr().find("file.path: required"), std::string::npos);
}

}  // namespace
}  // namespace pgcdc::testing
