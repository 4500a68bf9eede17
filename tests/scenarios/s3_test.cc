// User journey: archive a table's changes to S3 as JSON-lines objects, against
// the real s3rver (npm, tests/tools) started here on a free port and a temp dir.
//  - every row arrives once, under channel=/year=/month=/day= keys, read back
//    from s3rver's store; gzip objects larger than the part size go through a
//    multipart upload;
//  - s3rver stopped for ~10 s and restarted on the same port and directory:
//    events wait (health degraded, failures counted) and nothing is lost;
//  - pgcdc killed with SIGKILL three times with a persistent slot: every row
//    is in the bucket (at least once);
//  - a wrong access key (403) or bucket (404) is a clear start-up error that
//    never shows the secret.
#include <gtest/gtest.h>
#include <signal.h>

#include <set>
#include <sstream>

#include "harness.h"
#include "json_util.h"
#include "s3_server.h"

namespace pgcdc::testing {
namespace {

std::vector<std::string> WalS3Args(const std::string& publication, const S3Server& s3,
                                   const std::vector<std::string>& extra) {
  return WalListenArgs(publication, S3SinkArgs(s3, extra));
}

// Row id -> how many times it is in the objects (whole JSON lines only).
std::map<int64_t, int> RowIds(const std::map<std::string, std::string>& objects) {
  std::map<int64_t, int> ids;
  for (const auto& [key, body] : objects) {
    std::istringstream in(body);
    for (std::string line; std::getline(in, line);) {
      boost::system::error_code ec;
      auto v = boost::json::parse(line, ec);
      if (ec || !v.is_object()) continue;
      ++ids[v.as_object()["payload"].as_object()["row"].as_object()["id"].as_int64()];
    }
  }
  return ids;
}

std::string Gunzip(const std::string& data) {
  TempDir dir;
  const std::string path = dir.Write("o.gz", data);
  return RunCommand({"gzip", "-dc", path}).output;
}

TEST(S3Scenario, WalRowsArriveAsJsonLinesUnderHiveKeys) {
  S3Server s3;
  auto conn = Connect();
  FreshPublishedTable(conn, "s3_rows", "id int PRIMARY KEY, v text", "p_s3rows");
  auto p = Process::Start(
      {.args = WalS3Args("p_s3rows", s3, {"--s3-prefix", "cdc", "--s3-flush-size", "700"})});
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->WaitForStderr("streaming detector=wal")) << p->Stderr();
  ExecOrFail(conn, "INSERT INTO s3_rows SELECT g, 'v' || g FROM generate_series(1, 3000) g");
  ASSERT_TRUE(Eventually([&] { return RowIds(s3.Objects()).size() == 3000; }, 30s))
      << RowIds(s3.Objects()).size() << "\n"
      << p->Stderr();
  const auto objects = s3.Objects();
  for (const auto& [id, n] : RowIds(objects)) EXPECT_EQ(n, 1) << "row " << id;
  EXPECT_GE(objects.size(), 5u) << "flushes of at most 700 events";
  for (const auto& [key, body] : objects) {
    // cdc/channel=pgcdc_s3_rows/year=YYYY/month=MM/day=DD/<lsn>-<uuid>.jsonl
    EXPECT_TRUE(key.starts_with("cdc/channel=pgcdc_s3_rows/year=")) << key;
    EXPECT_NE(key.find("/month="), std::string::npos) << key;
    EXPECT_NE(key.find("/day="), std::string::npos) << key;
    EXPECT_TRUE(key.ends_with(".jsonl")) << key;
    EXPECT_TRUE(body.ends_with("\n")) << key;
  }
  EXPECT_GE(ScrapeMetric(*p, "pgcdc_s3_objects_uploaded_total").value_or(0), 5);
  EXPECT_GE(ScrapeMetric(*p, "pgcdc_s3_flushes_total{status=\"success\"}").value_or(0), 5);
  EXPECT_GT(ScrapeMetric(*p, "pgcdc_s3_bytes_uploaded_total").value_or(0), 100000);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0);
  EXPECT_EQ(p->Stderr().find("S3RVER"), std::string::npos) << "credentials logged";
}

TEST(S3Scenario, LargeGzipFlushGoesThroughAMultipartUpload) {
  S3Server s3;
  auto conn = Connect();
  FreshPublishedTable(conn, "s3_big", "id int PRIMARY KEY, doc text", "p_s3big");
  auto p = Process::Start(
      {.args = WalS3Args("p_s3big", s3,
                         {"--s3-compression", "gzip", "--s3-part-size", "5242880",
                          "--s3-flush-size", "100000", "--s3-flush-interval", "3s"})});
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->WaitForStderr("streaming detector=wal")) << p->Stderr();
  // ~2.5 KB of incompressible text per row: > 5 MiB compressed in one flush.
  ExecOrFail(conn,
             "INSERT INTO s3_big SELECT g, (SELECT string_agg(md5(g::text || x::text), '') FROM "
             "generate_series(1, 80) x) FROM generate_series(1, 4000) g");
  std::map<int64_t, int> ids;
  ASSERT_TRUE(Eventually(
      [&] {
        std::map<std::string, std::string> plain;
        for (const auto& [key, body] : s3.Objects()) plain[key] = Gunzip(body);
        ids = RowIds(plain);
        return ids.size() == 4000;
      },
      60s))
      << ids.size() << "\n"
      << p->Stderr();
  bool multipart = false;
  for (const auto& [key, body] : s3.Objects()) {
    EXPECT_TRUE(key.ends_with(".jsonl.gz")) << key;
    multipart = multipart || body.size() > (5u << 20);
  }
  EXPECT_TRUE(multipart) << "no object above the part size";
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0);
}

TEST(S3Scenario, AnOutageHoldsEventsUntilS3IsBack) {
  S3Server s3;
  auto conn = Connect();
  FreshPublishedTable(conn, "s3_outage", "id int PRIMARY KEY, v text", "p_s3outage");
  auto p = Process::Start({.args = WalS3Args("p_s3outage", s3, {"--s3-flush-size", "50"})});
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->WaitForStderr("streaming detector=wal")) << p->Stderr();
  ExecOrFail(conn, "INSERT INTO s3_outage SELECT g, 'v' FROM generate_series(1, 100) g");
  ASSERT_TRUE(Eventually([&] { return RowIds(s3.Objects()).size() == 100; })) << p->Stderr();

  s3.Stop();
  const auto down_at = Clock::now();
  ExecOrFail(conn, "INSERT INTO s3_outage SELECT g, 'v' FROM generate_series(101, 600) g");
  ASSERT_TRUE(Eventually([&] {
    return ScrapeMetric(*p, "pgcdc_s3_request_failures_total").value_or(0) >= 2;
  })) << p->Stderr();
  const std::string degraded = Healthz(*p);
  EXPECT_NE(degraded.find(R"("s3":{"status":"degraded")"), std::string::npos) << degraded;
  // Down for about 10 s, retrying all along.
  ASSERT_TRUE(Eventually(
      [&] {
        return Clock::now() - down_at >= 10s &&
               ScrapeMetric(*p, "pgcdc_s3_request_failures_total").value_or(0) >= 8;
      },
      20s));
  ASSERT_TRUE(s3.Start());
  ASSERT_TRUE(Eventually([&] { return RowIds(s3.Objects()).size() == 600; }, 30s))
      << RowIds(s3.Objects()).size() << "\n"
      << p->Stderr();
  ASSERT_TRUE(Eventually([&] {
    return Healthz(*p).find(R"("s3":{"status":"up")") != std::string::npos;
  })) << Healthz(*p);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0);
}

TEST(S3Scenario, KillNineWithPersistentSlotLosesNothing) {
  S3Server s3;
  auto conn = Connect();
  FreshPublishedTable(conn, "s3_crash", "id int PRIMARY KEY, v int", "p_s3crash",
                      "pgcdc_p_s3crash");
  const auto args = WalS3Args("p_s3crash", s3,
                              {"--persistent-slot", "--s3-flush-size", "4000",
                               "--s3-flush-interval", "5s", "--detector-status-interval", "200ms"});
  constexpr int kRows = 30000;
  // Each kill comes while a flush is half full, so held (unacknowledged)
  // events are in flight: a sink that acknowledged at buffering time loses them.
  KillNineRun run = SinkKillNineRun("s3_crash", kRows, /*seed=*/11);
  run.rounds = 5;
  RunKillNineRounds(
      run, [&] { return StartStreaming(args); },
      [&](Process&) { return static_cast<double>(RowIds(s3.Objects()).size()); },
      [&](Process& p) {
        (void)Eventually(
            [&] { return ScrapeMetric(p, "pgcdc_s3_buffer_size").value_or(0) >= 2000; }, 10s);
      });
  if (HasFailure()) return;
  auto p = Process::Start({.args = args});
  ASSERT_TRUE(p);
  std::map<int64_t, int> ids;
  ASSERT_TRUE(Eventually(
      [&] {
        ids = RowIds(s3.Objects());
        return ids.size() == static_cast<size_t>(kRows);
      },
      120s))
      << ids.size() << " of " << kRows << "\n"
      << p->Stderr();
  EXPECT_EQ(ids.begin()->first, 1);
  EXPECT_EQ(ids.rbegin()->first, kRows);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0);
  (void)conn.Query("SELECT pg_drop_replication_slot('pgcdc_p_s3crash')");
}

TEST(S3Scenario, RejectedCredentialsAndMissingBucketAreClearErrors) {
  S3Server s3;
  auto run = [&](const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"--s3-endpoint", s3.Endpoint(), "--s3-region", "us-east-1"};
    args.insert(args.end(), extra.begin(), extra.end());
    return RunAdapterToExit("s3", args);
  };
  auto [code, err] = run({"--s3-bucket", "bkt", "--s3-access-key-id", "NOBODY",
                          "--s3-secret-access-key", "hunter2secret"});
  EXPECT_EQ(code, 1);
  EXPECT_NE(err.find("HTTP 403"), std::string::npos) << err;
  EXPECT_NE(err.find("access denied: check the credentials"), std::string::npos) << err;
  EXPECT_EQ(err.find("hunter2secret"), std::string::npos) << "secret leaked";
  std::tie(code, err) = run(
      {"--s3-bucket", "nope", "--s3-access-key-id", "S3RVER", "--s3-secret-access-key", "S3RVER"});
  EXPECT_EQ(code, 1);
  EXPECT_NE(err.find("HTTP 404"), std::string::npos) << err;
  EXPECT_NE(err.find("nope"), std::string::npos) << err;
  EXPECT_NE(err.find("not found at " + s3.Endpoint()), std::string::npos) << err;
  std::tie(code, err) = run({});
  EXPECT_EQ(code, 2);
  EXPECT_NE(err.find("s3.bucket: required"), std::string::npos) << err;
}

}  // namespace
}  // namespace pgcdc::testing
