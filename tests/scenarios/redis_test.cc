// User journey: keep Redis in step with a table (cache invalidation, a synced
// copy of each row, or a stream of events) against a real redis-server.
//  - sync mirrors INSERT/UPDATE/DELETE, and an UPDATE that leaves a TOASTed
//    column unchanged keeps the stored value (GET + merge);
//  - stream mode appends every event; a command Redis rejects (WRONGTYPE)
//    dead-letters that event while the others go through;
//  - Redis killed mid-stream: events wait (health degraded, retries counted)
//    and arrive after it is back; nothing is lost;
//  - pgcdc killed with SIGKILL three times with a persistent slot: Redis ends
//    up equal to the table;
//  - bad URL / mode, unreachable server: clear errors.
#include <gtest/gtest.h>
#include <signal.h>

#include "harness.h"
#include "json_util.h"
#include "redis_server.h"
#include "test_certs.h"

namespace pgcdc::testing {
namespace {

std::vector<std::string> WalRedisArgs(const std::string& publication, const RedisServer& redis,
                                      std::vector<std::string> extra) {
  std::vector<std::string> sink = {"-a",
                                   "redis",
                                   "--redis-url",
                                   redis.Url(),
                                   "--redis-backoff-base",
                                   "50ms",
                                   "--redis-backoff-cap",
                                   "300ms",
                                   "--http-addr",
                                   "127.0.0.1:0"};
  sink.insert(sink.end(), extra.begin(), extra.end());
  return WalListenArgs(publication, sink);
}

TEST(RedisScenario, SyncMirrorsTheTableAndKeepsUnchangedToastColumns) {
  RedisServer redis;
  auto conn = Connect();
  FreshPublishedTable(conn, "r_sync", "id int PRIMARY KEY, name text, doc text", "p_rsync");
  auto p =
      Process::Start({.args = WalRedisArgs("p_rsync", redis,
                                           {"--redis-mode", "sync", "--redis-key-prefix", "r:"})});
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->WaitForStderr("streaming detector=wal")) << p->Stderr();
  // Rows 1..10 carry a large, incompressible `doc` stored out of line (TOAST).
  ExecOrFail(conn,
             "INSERT INTO r_sync SELECT g, 'n' || g, CASE WHEN g <= 10 THEN (SELECT "
             "string_agg(md5(g::text || x::text), '') FROM generate_series(1, 300) x) END FROM "
             "generate_series(1, 300) g");
  ExecOrFail(conn, "UPDATE r_sync SET name = 'changed' || id WHERE id <= 20");
  ExecOrFail(conn, "DELETE FROM r_sync WHERE id > 290");
  ASSERT_TRUE(Eventually(
      [&] {
        return redis.CliInt({"DBSIZE"}) == 290 &&
               redis.Cli({"GET", "r:20"}).find("changed20") != std::string::npos;
      },
      30s))
      << redis.CliInt({"DBSIZE"}) << "\n"
      << p->Stderr();
  auto rows = conn.Query("SELECT id, name, doc FROM r_sync ORDER BY id");
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 290u);
  for (const auto& row : *rows) {
    const std::string key = "r:" + *row[0];
    auto v = ParseJson(redis.Cli({"GET", key})).as_object();
    EXPECT_EQ(v["id"].as_int64(), std::stoll(*row[0])) << key;
    EXPECT_EQ(v["name"].as_string(), *row[1]) << key;
    if (row[2]) {
      ASSERT_TRUE(v.contains("doc") && v["doc"].is_string()) << key << " lost its TOAST column";
      EXPECT_EQ(v["doc"].as_string(), *row[2]) << key;
    } else {
      EXPECT_TRUE(v["doc"].is_null()) << key;
    }
  }
  EXPECT_GE(ScrapeMetric(*p, "pgcdc_redis_commands_total{command=\"get\"}").value_or(0), 10);
  EXPECT_GE(ScrapeMetric(*p, "pgcdc_redis_commands_total{command=\"set\"}").value_or(0), 300);
  EXPECT_EQ(ScrapeMetric(*p, "pgcdc_redis_commands_total{command=\"del\"}").value_or(0), 10);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0);
}

TEST(RedisScenario, StreamModeAppendsEventsAndDeadLettersRejectedCommands) {
  RedisServer redis;
  // The stream key of channel pgcdc:bad is taken by a string: XADD fails.
  ASSERT_EQ(redis.Cli({"SET", "s:pgcdc:bad", "not a stream"}), "OK");
  auto p = Process::Start(
      {.args = {"listen", "--db", SharedCluster().Url(), "-c", "pgcdc:good", "-c", "pgcdc:bad",
                "-a", "redis", "--redis-url", redis.Url(), "--redis-mode", "stream",
                "--redis-key-prefix", "s:", "--http-addr", "127.0.0.1:0"}});
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->WaitForStderr("listening detector=listen_notify")) << p->Stderr();
  auto conn = Connect();
  ExecOrFail(conn,
             "SELECT pg_notify('pgcdc:good', json_build_object('id', g)::text) FROM "
             "generate_series(1, 25) g");
  ExecOrFail(conn, "SELECT pg_notify('pgcdc:bad', '{\"id\":1}')");
  ExecOrFail(conn,
             "SELECT pg_notify('pgcdc:good', json_build_object('id', g)::text) FROM "
             "generate_series(26, 50) g");
  ASSERT_TRUE(Eventually([&] {
    return redis.CliInt({"XLEN", "s:pgcdc:good"}) == 50;
  })) << redis.CliInt({"XLEN", "s:pgcdc:good"})
      << "\n"
      << p->Stderr();
  ASSERT_TRUE(Eventually(
      [&] { return ScrapeMetric(*p, "pgcdc_redis_dead_lettered_total").value_or(0) == 1; }));
  EXPECT_NE(p->Stderr().find("WRONGTYPE"), std::string::npos) << p->Stderr();
  // Each entry holds the event id and the envelope, in order.
  const std::string first = redis.Cli({"XRANGE", "s:pgcdc:good", "-", "+", "COUNT", "1"});
  EXPECT_NE(first.find("\"payload\":{\"id\":1}"), std::string::npos) << first;
  EXPECT_NE(first.find("\nid\n"), std::string::npos) << first;
  EXPECT_EQ(redis.Cli({"GET", "s:pgcdc:bad"}), "not a stream");
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0);
}

TEST(RedisScenario, AnOutageHoldsEventsUntilRedisIsBack) {
  RedisServer redis(/*persistent=*/true);
  auto conn = Connect();
  FreshPublishedTable(conn, "r_outage", "id int PRIMARY KEY, v text", "p_routage");
  auto p = Process::Start({.args = WalRedisArgs("p_routage", redis, {"--redis-mode", "sync"})});
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->WaitForStderr("streaming detector=wal")) << p->Stderr();
  ExecOrFail(conn, "INSERT INTO r_outage SELECT g, 'v' FROM generate_series(1, 100) g");
  ASSERT_TRUE(Eventually([&] { return redis.CliInt({"DBSIZE"}) == 100; })) << p->Stderr();

  redis.Kill();
  ExecOrFail(conn, "INSERT INTO r_outage SELECT g, 'v' FROM generate_series(101, 200) g");
  ASSERT_TRUE(Eventually([&] {
    return ScrapeMetric(*p, "pgcdc_redis_retries_total").value_or(0) >= 2;
  })) << p->Stderr();
  const std::string degraded = Healthz(*p);
  EXPECT_NE(degraded.find(R"("redis":{"status":"degraded")"), std::string::npos) << degraded;

  ASSERT_TRUE(redis.Start());
  ASSERT_TRUE(Eventually([&] { return redis.CliInt({"DBSIZE"}) == 200; }, 30s))
      << redis.CliInt({"DBSIZE"}) << "\n"
      << p->Stderr();
  ASSERT_TRUE(Eventually([&] {
    return Healthz(*p).find(R"("redis":{"status":"up")") != std::string::npos;
  })) << Healthz(*p);
  EXPECT_GE(ScrapeMetric(*p, "pgcdc_redis_reconnects_total").value_or(0), 1);
  EXPECT_GE(ScrapeMetric(*p, "pgcdc_redis_errors_total").value_or(0), 2);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0);
}

TEST(RedisScenario, KillNineWithPersistentSlotLosesNothing) {
  RedisServer redis;
  auto conn = Connect();
  FreshPublishedTable(conn, "r_crash", "id int PRIMARY KEY, v int", "p_rcrash", "pgcdc_p_rcrash");
  const auto args = WalRedisArgs(
      "p_rcrash", redis,
      {"--persistent-slot", "--redis-mode", "sync", "--detector-status-interval", "200ms"});
  constexpr int kRows = 100000;
  RunKillNineRounds(SinkKillNineRun("r_crash", kRows, /*seed=*/7), args,
                    [&](Process&) { return static_cast<double>(redis.CliInt({"DBSIZE"})); });
  if (HasFailure()) return;
  auto p = Process::Start({.args = args});
  ASSERT_TRUE(p);
  ASSERT_TRUE(Eventually([&] { return redis.CliInt({"DBSIZE"}) == kRows; }, 120s))
      << redis.CliInt({"DBSIZE"}) << " of " << kRows << "\n"
      << p->Stderr();
  for (int id : {1, 777, kRows / 2, kRows}) {
    EXPECT_EQ(ParseJson(redis.Cli({"GET", std::to_string(id)})).as_object()["v"].as_int64(), id);
  }
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0);
  (void)conn.Query("SELECT pg_drop_replication_slot('pgcdc_p_rcrash')");
}

TEST(RedisScenario, TlsVerifiesTheServerCertificate) {
  TestCertificates certs;
  ASSERT_TRUE(certs.Generate());
  RedisServer redis(/*persistent=*/false, certs.dir);
  ASSERT_EQ(redis.Cli({"PING"}), "PONG");
  auto run = [&](std::vector<std::string> tls_args) {
    std::vector<std::string> args = {
        "listen",      "--db",      SharedCluster().Url(), "-c",     "pgcdc:tls",   "-a", "redis",
        "--redis-url", redis.Url(), "--redis-mode",        "stream", "--http-addr", ""};
    for (auto& a : tls_args) args.push_back(std::move(a));
    return Process::Start({.args = args});
  };
  // Verified with the test CA: events arrive.
  auto p = run({"--redis-tls-ca-file", certs.dir + "/ca.pem"});
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->WaitForStderr("listening detector=listen_notify")) << p->Stderr();
  auto conn = Connect();
  ExecOrFail(conn, "SELECT pg_notify('pgcdc:tls', g::text) FROM generate_series(1, 10) g");
  ASSERT_TRUE(Eventually([&] { return redis.CliInt({"XLEN", "pgcdc:tls"}) == 10; })) << p->Stderr();
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0);
  // Not trusted by the system store: refused at start, with the reason.
  auto untrusted = run({});
  ASSERT_TRUE(untrusted);
  EXPECT_EQ(untrusted->Wait(), 1);
  EXPECT_NE(untrusted->Stderr().find("certificate"), std::string::npos) << untrusted->Stderr();
  // Explicitly insecure: works.
  auto insecure = run({"--redis-tls-insecure"});
  ASSERT_TRUE(insecure);
  ASSERT_TRUE(insecure->WaitForStderr("listening detector=listen_notify")) << insecure->Stderr();
  ExecOrFail(conn, "SELECT pg_notify('pgcdc:tls', 'x')");
  ASSERT_TRUE(Eventually([&] { return redis.CliInt({"XLEN", "pgcdc:tls"}) == 11; }));
  insecure->Signal(SIGTERM);
  EXPECT_EQ(insecure->Wait(), 0);
}

TEST(RedisScenario, AclUserAndDatabaseFromTheUrl) {
  RedisServer redis;
  ASSERT_EQ(redis.Cli({"ACL", "SETUSER", "app", "on", ">p@ss word", "~*", "+@all"}), "OK");
  const std::string base = "redis://app:p%40ss%20word@127.0.0.1:" + std::to_string(redis.port());
  auto p = Process::Start(
      {.args = {"listen", "--db", SharedCluster().Url(), "-c", "pgcdc:acl", "-a", "redis",
                "--redis-url", base + "/3", "--redis-mode", "stream", "--http-addr", ""}});
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->WaitForStderr("listening detector=listen_notify")) << p->Stderr();
  auto conn = Connect();
  ExecOrFail(conn, "SELECT pg_notify('pgcdc:acl', '1')");
  ASSERT_TRUE(Eventually([&] {
    return redis.CliInt({"-n", "3", "XLEN", "pgcdc:acl"}) == 1;
  })) << p->Stderr();
  EXPECT_EQ(redis.CliInt({"XLEN", "pgcdc:acl"}), 0) << "database 3, not 0";
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0);
  auto wrong = Process::Start(
      {.args = {"listen", "--db", SharedCluster().Url(), "-c", "pgcdc:acl", "-a", "redis",
                "--redis-url", "redis://app:nope@127.0.0.1:" + std::to_string(redis.port()),
                "--http-addr", ""}});
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->Wait(), 1) << "a clean start-up failure, not a crash";
  EXPECT_NE(wrong->Stderr().find("WRONGPASS"), std::string::npos) << wrong->Stderr();
  EXPECT_EQ(wrong->Stderr().find("nope"), std::string::npos) << "password leaked";
}

TEST(RedisScenario, BadConfigurationIsAClearError) {
  auto run = [](const std::vector<std::string>& extra) { return RunAdapterToExit("redis", extra); };
  auto [code, err] = run({"--redis-url", "http://localhost"});
  EXPECT_EQ(code, 2);
  EXPECT_NE(err.find("redis.url: invalid redis URL"), std::string::npos) << err;
  std::tie(code, err) = run({"--redis-url", "redis://localhost", "--redis-mode", "cache"});
  EXPECT_EQ(code, 2);
  EXPECT_NE(err.find("redis.mode"), std::string::npos) << err;
  std::tie(code, err) = run({});
  EXPECT_EQ(code, 2);
  EXPECT_NE(err.find("redis.url: required"), std::string::npos) << err;
  const int closed = FreeTcpPort();
  std::tie(code, err) =
      run({"--redis-url", "redis://u:hunter2@127.0.0.1:" + std::to_string(closed)});
  EXPECT_EQ(code, 1);
  EXPECT_NE(err.find("redis: cannot use redis://u:xxx@127.0.0.1:"), std::string::npos) << err;
  EXPECT_EQ(err.find("hunter2"), std::string::npos) << "password leaked: " << err;
}

}  // namespace
}  // namespace pgcdc::testing
