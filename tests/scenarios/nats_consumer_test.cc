// User journeys of the nats_consumer source (docs/nats_consumer.md) against a
// real nats-server -js: messages become NATS_CONSUME events and are acked
// only once delivered; a hub pgcdc (WAL → nats sink) feeds a spoke pgcdc
// (nats_consumer --nats-consumer-unwrap → file) that writes exactly the
// hub's events; kill -9 of the spoke loses nothing; a message that is not an
// envelope goes to the dead letter queue; configuration mistakes exit 2.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <map>
#include <set>

#include "harness.h"
#include "json_util.h"
#include "nats_server.h"

namespace pgcdc::testing {
namespace {

std::vector<std::string> ConsumerArgs(const NatsServer& nats, const std::string& stream,
                                      std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"listen",        "--detector",
                                   "nats_consumer", "--nats-url",
                                   nats.Url(),      "--nats-consumer-stream",
                                   stream,          "--http-addr",
                                   "127.0.0.1:0",   "--detector-backoff-base",
                                   "100ms",         "--detector-backoff-cap",
                                   "500ms"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

std::unique_ptr<Process> StartConsumer(const std::vector<std::string>& args) {
  auto p = Process::Start({.args = args});
  if (p && !p->WaitForStderr("consuming detector=nats_consumer")) {
    ADD_FAILURE() << p->Stderr();
    p.reset();
  }
  return p;
}

boost::json::object Obj(const std::string& line) { return ParseJson(line).as_object(); }

bool AllAcked(const NatsServer& nats, const std::string& stream, uint64_t n) {
  auto c = nats.Consumer(stream, "pgcdc");
  return c && c->ack_floor == n && c->ack_pending == 0;
}

TEST(NatsConsumerScenario, MessagesBecomeEventsAndAreAckedOnceDelivered) {
  NatsServer nats;
  ASSERT_TRUE(nats.CreateStream("ORDERS", "orders.>", -1));
  ASSERT_TRUE(nats.Publish("orders.eu", R"({ "id": 1, "note": "a <b>" })", {{"X-Trace", "t1"}}));
  ASSERT_TRUE(nats.Publish("orders.us", "plain text"));
  ASSERT_TRUE(nats.Publish("orders.eu", "[1, 2]"));
  auto p = StartConsumer(ConsumerArgs(nats, "ORDERS"));
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->WaitForLines(3)) << p->Stderr();
  auto lines = p->StdoutLines();
  ASSERT_EQ(lines.size(), 3U);
  const std::vector<std::string> channels = {"pgcdc:orders:eu", "pgcdc:orders:us",
                                             "pgcdc:orders:eu"};
  const std::vector<std::string> payloads = {R"({"id":1,"note":"a <b>"})", R"("plain text")",
                                             "[1,2]"};
  for (size_t i = 0; i < 3; ++i) {
    auto o = Obj(lines[i]);
    EXPECT_EQ(o["channel"].as_string(), channels[i]);
    EXPECT_EQ(o["operation"].as_string(), "NATS_CONSUME");
    EXPECT_EQ(o["source"].as_string(), "nats_consumer");
    EXPECT_EQ(boost::json::serialize(o["payload"]), payloads[i]) << lines[i];
  }
  ASSERT_TRUE(Eventually([&] { return AllAcked(nats, "ORDERS", 3); })) << p->Stderr();
  EXPECT_EQ(ScrapeMetric(*p, "pgcdc_nats_consumer_received_total"), 3.0);
  EXPECT_EQ(ScrapeMetric(*p, "pgcdc_nats_consumer_acked_total"), 3.0);
  EXPECT_EQ(ScrapeMetric(*p, "pgcdc_detector_connected{detector=\"nats_consumer\"}"), 1.0);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();

  // The durable consumer remembers: a new run sees only the new message, and
  // with --nats-consumer-metadata its subject, sequence and headers.
  ASSERT_TRUE(nats.Publish("orders.eu", R"({"id":2})", {{"X-Trace", "t2"}}));
  auto q = StartConsumer(ConsumerArgs(nats, "ORDERS", {"--nats-consumer-metadata"}));
  ASSERT_TRUE(q);
  ASSERT_TRUE(q->WaitForLines(1)) << q->Stderr();
  auto o = Obj(q->StdoutLines()[0]);
  auto payload = o["payload"].as_object();
  EXPECT_EQ(payload["subject"].as_string(), "orders.eu");
  EXPECT_EQ(payload["seq"].as_int64(), 4);
  EXPECT_EQ(payload["headers"].as_object()["X-Trace"].as_string(), "t2");
  EXPECT_EQ(boost::json::serialize(payload["value"]), R"({"id":2})");
  ASSERT_TRUE(Eventually([&] { return AllAcked(nats, "ORDERS", 4); })) << q->Stderr();
  q->Signal(SIGTERM);
  EXPECT_EQ(q->Wait(), 0) << q->Stderr();
  EXPECT_EQ(q->StdoutLines().size(), 1U);
}

// An event is acked only once the sink delivered it: with the sink stuck
// (stdout not read) nothing is acked; once it drains, everything is.
TEST(NatsConsumerScenario, NothingIsAckedBeforeTheSinkDelivered) {
  NatsServer nats;
  ASSERT_TRUE(nats.CreateStream("SLOW", "slow.>", -1));
  const std::string big(2000, 'x');
  ASSERT_TRUE(nats.PublishRange("slow.a", 1, 200, [&](int i) {
    return R"({"i":)" + std::to_string(i) + R"(,"pad":")" + big + R"("})";
  }));
  auto p = Process::Start({.args = ConsumerArgs(nats, "SLOW")});
  ASSERT_TRUE(p);
  p->PauseStdout();
  ASSERT_TRUE(p->WaitForStderr("consuming detector=nats_consumer")) << p->Stderr();
  ASSERT_TRUE(Eventually([&] {
    auto c = nats.Consumer("SLOW", "pgcdc");
    return c && c->ack_pending > 0;
  })) << p->Stderr();
  auto stuck = nats.Consumer("SLOW", "pgcdc");
  ASSERT_TRUE(stuck);
  EXPECT_LT(stuck->ack_floor, 200U) << "acked before the sink wrote them";
  p->ResumeStdout();
  ASSERT_TRUE(Eventually([&] { return AllAcked(nats, "SLOW", 200); }, 30s)) << p->Stderr();
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
}

// Hub → spoke: pgcdc (WAL → nats sink) and pgcdc (nats_consumer with unwrap
// → file) write the same events, byte for byte.
TEST(NatsConsumerScenario, SpokeContinuesTheHubsStreamUnchanged) {
  NatsServer nats;
  TempDir dir;
  const std::string out = dir.path + "/spoke.jsonl";
  auto conn = Connect();
  FreshPublishedTable(conn, "nc_hub", "id int PRIMARY KEY, v text, j jsonb", "p_nchub");
  auto hub = StartWalListen(WalListenArgs(
      "p_nchub", {"-a", "nats", "--nats-url", nats.Url(), "--nats-stream", "HUB", "-a", "stdout"}));
  ASSERT_TRUE(hub);
  ASSERT_TRUE(hub->WaitForStderr("nats: stream created")) << hub->Stderr();
  auto spoke = StartConsumer(
      ConsumerArgs(nats, "HUB", {"--nats-consumer-unwrap", "-a", "file", "--file-path", out}));
  ASSERT_TRUE(spoke);
  ExecOrFail(conn,
             "INSERT INTO nc_hub SELECT g, 'v<' || g || '>', jsonb_build_object('k', g, 'f', 1.5) "
             "FROM generate_series(1, 200) g");
  ExecOrFail(conn, "UPDATE nc_hub SET v = NULL WHERE id <= 20");
  ExecOrFail(conn, "DELETE FROM nc_hub WHERE id > 190");
  constexpr size_t kEvents = 200 + 20 + 10;
  ASSERT_TRUE(hub->WaitForLines(kEvents, 30s)) << hub->Stderr();
  ASSERT_TRUE(Eventually([&] { return ReadFileLines(out).size() >= kEvents; }, 30s))
      << spoke->Stderr();
  ASSERT_TRUE(Eventually([&] { return AllAcked(nats, "HUB", kEvents); })) << spoke->Stderr();
  EXPECT_EQ(ReadFileLines(out), hub->StdoutLines());
  spoke->Signal(SIGTERM);
  EXPECT_EQ(spoke->Wait(), 0) << spoke->Stderr();
  hub->Signal(SIGTERM);
  EXPECT_EQ(hub->Wait(), 0) << hub->Stderr();
}

TEST(NatsConsumerScenario, NonEnvelopeMessagesGoToTheDeadLetterQueueWithUnwrap) {
  NatsServer nats;
  ASSERT_TRUE(nats.CreateStream("MIX", "mix.>", -1));
  const std::string first =
      R"({"id":"0195b3c2-7a10-7c3e-9f11-2b3c4d5e6f70","channel":"pgcdc:orders","operation":"INSERT","payload":{"id":1},"source":"wal_replication","created_at":"2025-06-15T12:00:00.123456Z"})";
  const std::string second =
      R"({"id":"0195b3c2-7a10-7c3e-9f11-2b3c4d5e6f71","channel":"pgcdc:orders","operation":"DELETE","payload":null,"source":"outbox","created_at":"2025-06-15T12:00:01Z","transaction":{"xid":7,"commit_time":"2025-06-15T12:00:01Z","seq":1}})";
  ASSERT_TRUE(nats.Publish("mix.a", first));
  ASSERT_TRUE(nats.Publish("mix.a", "{broken"));
  ASSERT_TRUE(nats.Publish("mix.a", R"({"not":"an envelope"})"));
  ASSERT_TRUE(nats.Publish("mix.a", second));
  auto p = StartConsumer(ConsumerArgs(nats, "MIX", {"--nats-consumer-unwrap"}));
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->WaitForLines(2)) << p->Stderr();
  EXPECT_EQ(p->StdoutLines(), (std::vector<std::string>{first, second}));
  ASSERT_TRUE(Eventually([&] { return AllAcked(nats, "MIX", 4); })) << p->Stderr();
  EXPECT_EQ(ScrapeMetric(*p, "pgcdc_nats_consumer_dead_lettered_total"), 2.0);
  // The default dead letter queue writes one JSON line per record to stderr.
  EXPECT_TRUE(p->WaitForStderr("not a pgcdc event envelope")) << p->Stderr();
  EXPECT_NE(p->Stderr().find("{broken"), std::string::npos) << p->Stderr();
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
}

// kill -9 of the consumer while messages keep arriving: every message is
// written (at least once; a repeat keeps its event id), none is lost.
TEST(NatsConsumerScenario, KillNineLosesNothing) {
  NatsServer nats;
  ASSERT_TRUE(nats.CreateStream("KN", "kn.>", -1));
  TempDir dir;
  const std::string out = dir.path + "/events.jsonl";
  constexpr int kRows = 6000;
  const auto args = ConsumerArgs(nats, "KN",
                                 {"-a", "file", "--file-path", out, "--nats-consumer-ack-wait",
                                  "2s", "--nats-consumer-batch-size", "100"});
  KillNineRun run{
      .table = "kn", .rows = kRows, .per_tx = 50, .seed = 11, .min_progress = 300, .spread = 1500};
  run.write = [&nats](int first, int last) -> Status {
    if (nats.PublishRange("kn.x", first, last,
                          [](int i) { return R"({"i":)" + std::to_string(i) + "}"; })) {
      return Ok();
    }
    return Fail(ErrorCode::kConnection, "publish failed");
  };
  auto lines_in = [&](Process&) { return static_cast<double>(ReadFileLines(out).size()); };
  RunKillNineRounds(
      run, [&] { return StartConsumer(args); }, lines_in);
  auto last = StartConsumer(args);
  ASSERT_TRUE(last);
  ASSERT_TRUE(Eventually([&] { return AllAcked(nats, "KN", kRows); }, 60s)) << last->Stderr();
  last->Signal(SIGTERM);
  EXPECT_EQ(last->Wait(), 0) << last->Stderr();

  std::map<int64_t, std::set<std::string>> ids;
  size_t lines = 0;
  for (const auto& l : ReadFileLines(out)) {
    ++lines;
    auto o = Obj(l);
    ids[o["payload"].as_object()["i"].as_int64()].insert(std::string(o["id"].as_string()));
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(kRows));
  for (const auto& [i, set] : ids) EXPECT_EQ(set.size(), 1U) << "message " << i;
  std::cerr << "nats_consumer kill -9: " << lines - kRows << " duplicates in " << lines
            << " lines\n";
  // Repeats are what was written but not yet confirmed (so not acked) when a
  // process died: the file sink confirms at its flushes (every 200 ms at the
  // latest), so a kill during a burst repeats up to one flush interval.
  EXPECT_LT(lines - kRows, static_cast<size_t>(kRows));
}

TEST(NatsConsumerScenario, DoctorChecksTheStreamWithoutCreatingTheConsumer) {
  NatsServer nats;
  ASSERT_TRUE(nats.CreateStream("DOC", "doc.>", -1));
  auto doctor = [&](const std::string& stream, std::vector<std::string> extra) {
    std::vector<std::string> args = {PgcdcBinary(),
                                     "doctor",
                                     "--detector",
                                     "nats_consumer",
                                     "--nats-url",
                                     nats.Url(),
                                     "--nats-consumer-stream",
                                     stream};
    args.insert(args.end(), extra.begin(), extra.end());
    return RunCommand(args);
  };
  auto ok = doctor("DOC", {"--nats-consumer-subjects", "doc.orders"});
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_NE(ok.output.find("DOC (doc.>"), std::string::npos) << ok.output;
  EXPECT_NE(ok.output.find("will be created on start"), std::string::npos) << ok.output;
  auto elsewhere = doctor("DOC", {"--nats-consumer-subjects", "other.x"});
  EXPECT_EQ(elsewhere.exit_code, 0) << elsewhere.output;  // a warning
  EXPECT_NE(elsewhere.output.find("matches none of the stream's subjects"), std::string::npos)
      << elsewhere.output;
  auto missing = doctor("NOPE", {});
  EXPECT_EQ(missing.exit_code, 1) << missing.output;
  EXPECT_NE(missing.output.find("\"NOPE\" does not exist"), std::string::npos) << missing.output;
}

TEST(NatsConsumerScenario, ConfigurationMistakesExitWithCode2) {
  NatsServer nats;
  auto no_stream = Process::Start({.args = ConsumerArgs(nats, "NOPE")});
  ASSERT_TRUE(no_stream);
  EXPECT_EQ(no_stream->Wait(), 2);
  EXPECT_NE(no_stream->Stderr().find("JetStream stream \\\"NOPE\\\" does not exist"),
            std::string::npos)
      << no_stream->Stderr();
  auto [code, err] = RunToExit({"listen", "--detector", "nats_consumer", "--nats-url",
                                "nats://127.0.0.1:" + std::to_string(FreeTcpPort()),
                                "--nats-consumer-timeout", "1s", "--http-addr", "127.0.0.1:0"});
  EXPECT_EQ(code, 2) << err;
  EXPECT_NE(err.find("check --nats-url"), std::string::npos) << err;
  auto [bad_code, bad_err] =
      RunToExit({"listen", "--detector", "nats_consumer", "--nats-url", "http://x"});
  EXPECT_EQ(bad_code, 2) << bad_err;
  EXPECT_NE(bad_err.find("invalid NATS URL"), std::string::npos) << bad_err;
  EXPECT_EQ(bad_err.find("database_url"), std::string::npos) << bad_err;
}

}  // namespace
}  // namespace pgcdc::testing
