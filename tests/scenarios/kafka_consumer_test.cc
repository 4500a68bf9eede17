// User journeys of the kafka_consumer source (docs/kafka_consumer.md) against
// the librdkafka mock cluster: records become KAFKA_CONSUME events whose
// offsets are committed only once delivered; a hub pgcdc (WAL → kafka sink
// with --kafka-value envelope) feeds a spoke pgcdc (kafka_consumer
// --kafka-consumer-unwrap → file) that writes the hub's events; kill -9 of
// the spoke loses nothing; a record that is not an envelope goes to the dead
// letter queue; configuration mistakes exit 2.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <map>
#include <regex>
#include <set>

#include "harness.h"
#include "json_util.h"
#include "kafka_clients.h"

namespace pgcdc::testing {
namespace {

std::vector<std::string> ConsumerArgs(const std::string& brokers, const std::string& topics,
                                      std::vector<std::string> extra = {}) {
  // A killed member leaves the group after session.timeout.ms (45 s by
  // default): short here, so a restarted consumer gets its partitions soon.
  std::vector<std::string> args = {"listen",
                                   "--detector",
                                   "kafka_consumer",
                                   "--kafka-brokers",
                                   brokers,
                                   "--kafka-consumer-topics",
                                   topics,
                                   "--kafka-consumer-commit-interval",
                                   "100ms",
                                   "--kafka-consumer-property",
                                   "session.timeout.ms=3000",
                                   "--kafka-consumer-property",
                                   "heartbeat.interval.ms=500",
                                   "--http-addr",
                                   "127.0.0.1:0"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

std::unique_ptr<Process> StartConsumer(const std::vector<std::string>& args) {
  auto p = Process::Start({.args = args});
  if (p && !p->WaitForStderr("consuming detector=kafka_consumer")) {
    ADD_FAILURE() << p->Stderr();
    p.reset();
  }
  return p;
}

void Produce(const std::string& brokers, const std::string& topic, const std::string& lines,
             std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"-P", "-b", brokers, "-t", topic, "-K", "|"};
  args.insert(args.end(), extra.begin(), extra.end());
  auto r = Kcat(args, lines);
  ASSERT_EQ(r.exit_code, 0) << r.output;
}

double Metric(Process& p, const std::string& series) {
  return ScrapeMetric(p, series).value_or(-1);
}

boost::json::object Obj(const std::string& line) { return ParseJson(line).as_object(); }

// The lines of a file a sink is still writing: a last line without its
// newline is not complete yet and left out.
std::vector<std::string> CompleteLines(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::vector<std::string> out = Split(text, '\n');
  if (!text.empty() && text.back() != '\n') out.pop_back();  // not complete yet
  return out;
}

TEST(KafkaConsumerScenario, RecordsBecomeEventsAndOffsetsAreCommittedOnceDelivered) {
  auto kafka = MockKafka::Start({"--topic", "orders:1"});
  ASSERT_TRUE(kafka);
  Produce(kafka->bootstrap(), "orders", "k1|{ \"id\": 1 }\nk2|not json\n|[1, 2]\n",
          {"-H", "X-Trace=t1"});
  auto p = StartConsumer(ConsumerArgs(kafka->bootstrap(), "orders"));
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->WaitForLines(3, 30s)) << p->Stderr();
  auto lines = p->StdoutLines();
  ASSERT_EQ(lines.size(), 3U);
  const std::vector<std::string> payloads = {R"({"id":1})", R"({"raw":"bm90IGpzb24="})", "[1,2]"};
  for (size_t i = 0; i < 3; ++i) {
    auto o = Obj(lines[i]);
    EXPECT_EQ(o["channel"].as_string(), "pgcdc:orders");
    EXPECT_EQ(o["operation"].as_string(), "KAFKA_CONSUME");
    EXPECT_EQ(o["source"].as_string(), "kafka_consumer");
    EXPECT_EQ(boost::json::serialize(o["payload"]), payloads[i]) << lines[i];
  }
  ASSERT_TRUE(Eventually([&] { return Metric(*p, "pgcdc_kafka_consumer_committed_total") == 3; }))
      << p->Stderr();
  EXPECT_EQ(Metric(*p, "pgcdc_kafka_consumer_received_total"), 3);
  EXPECT_EQ(Metric(*p, "pgcdc_detector_connected{detector=\"kafka_consumer\"}"), 1);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(30s), 0) << p->Stderr();

  // The group's committed offsets hold: a new member reads only the new
  // record, and with --kafka-consumer-metadata sees its coordinates.
  Produce(kafka->bootstrap(), "orders", "k9|{\"id\":9}\n", {"-H", "X-Trace=t9"});
  auto q = StartConsumer(ConsumerArgs(kafka->bootstrap(), "orders", {"--kafka-consumer-metadata"}));
  ASSERT_TRUE(q);
  ASSERT_TRUE(q->WaitForLines(1, 30s)) << q->Stderr();
  auto payload = Obj(q->StdoutLines()[0])["payload"].as_object();
  EXPECT_EQ(payload["topic"].as_string(), "orders");
  EXPECT_EQ(payload["partition"].as_int64(), 0);
  EXPECT_EQ(payload["offset"].as_int64(), 3);
  EXPECT_EQ(payload["key"].as_string(), "k9");
  EXPECT_EQ(payload["headers"].as_object()["X-Trace"].as_string(), "t9");
  EXPECT_EQ(boost::json::serialize(payload["value"]), R"({"id":9})");
  ASSERT_TRUE(Eventually([&] { return Metric(*q, "pgcdc_kafka_consumer_committed_total") == 1; }));
  q->Signal(SIGTERM);
  EXPECT_EQ(q->Wait(30s), 0) << q->Stderr();
  EXPECT_EQ(q->StdoutLines().size(), 1U);
}

// Offsets are committed only once the sink delivered: with stdout stuck,
// nothing past what was written is committed.
TEST(KafkaConsumerScenario, NothingIsCommittedBeforeTheSinkDelivered) {
  auto kafka = MockKafka::Start({"--topic", "slow:1"});
  ASSERT_TRUE(kafka);
  std::string lines;
  const std::string pad(2000, 'x');
  for (int i = 1; i <= 200; ++i) {
    lines += "k|{\"i\":" + std::to_string(i) + ",\"pad\":\"" + pad + "\"}\n";
  }
  Produce(kafka->bootstrap(), "slow", lines);
  auto p = Process::Start({.args = ConsumerArgs(kafka->bootstrap(), "slow")});
  ASSERT_TRUE(p);
  p->PauseStdout();
  ASSERT_TRUE(
      Eventually([&] { return Metric(*p, "pgcdc_kafka_consumer_received_total") >= 100; }, 30s))
      << p->Stderr();
  EXPECT_LT(Metric(*p, "pgcdc_kafka_consumer_committed_total"), 100);
  p->ResumeStdout();
  ASSERT_TRUE(
      Eventually([&] { return Metric(*p, "pgcdc_kafka_consumer_committed_total") == 200; }, 30s))
      << p->Stderr();
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(30s), 0) << p->Stderr();
}

TEST(KafkaConsumerScenario, SpokeContinuesTheHubsStreamUnchanged) {
  auto kafka = MockKafka::Start({"--topic", "pgcdc.kc_hub:3"});
  ASSERT_TRUE(kafka);
  TempDir dir;
  const std::string out = dir.path + "/spoke.jsonl";
  auto conn = Connect();
  FreshPublishedTable(conn, "kc_hub", "id int PRIMARY KEY, v text", "p_kchub");
  auto hub =
      StartWalListen(WalListenArgs("p_kchub", {"-a", "kafka", "--kafka-brokers", kafka->bootstrap(),
                                               "--kafka-value", "envelope", "-a", "stdout"}));
  ASSERT_TRUE(hub);
  auto spoke =
      StartConsumer(ConsumerArgs(kafka->bootstrap(), "pgcdc.kc_hub",
                                 {"--kafka-consumer-unwrap", "-a", "file", "--file-path", out}));
  ASSERT_TRUE(spoke);
  ExecOrFail(conn, "INSERT INTO kc_hub SELECT g, 'v' || g FROM generate_series(1, 150) g");
  ExecOrFail(conn, "UPDATE kc_hub SET v = 'u' WHERE id <= 30");
  constexpr size_t kEvents = 180;
  ASSERT_TRUE(hub->WaitForLines(kEvents, 30s)) << hub->Stderr();
  ASSERT_TRUE(Eventually([&] { return ReadFileLines(out).size() >= kEvents; }, 60s))
      << spoke->Stderr();
  // Three partitions: each row's events stay in order, the interleaving of
  // rows may differ from the hub's.
  auto by_row = [](const std::vector<std::string>& lines) {
    std::map<int64_t, std::vector<std::string>> rows;
    for (const auto& l : lines) {
      rows[Obj(l)["payload"].as_object()["row"].as_object()["id"].to_number<int64_t>()].push_back(
          l);
    }
    return rows;
  };
  const auto spoke_lines = ReadFileLines(out);
  EXPECT_EQ(spoke_lines.size(), kEvents);
  EXPECT_EQ(by_row(spoke_lines), by_row(hub->StdoutLines()));
  spoke->Signal(SIGTERM);
  EXPECT_EQ(spoke->Wait(30s), 0) << spoke->Stderr();
  hub->Signal(SIGTERM);
  EXPECT_EQ(hub->Wait(30s), 0) << hub->Stderr();
}

TEST(KafkaConsumerScenario, NonEnvelopeRecordsGoToTheDeadLetterQueueWithUnwrap) {
  auto kafka = MockKafka::Start({"--topic", "mix:1"});
  ASSERT_TRUE(kafka);
  const std::string first =
      R"({"id":"0195b3c2-7a10-7c3e-9f11-2b3c4d5e6f70","channel":"pgcdc:orders","operation":"INSERT","payload":{"id":1},"source":"wal_replication","created_at":"2025-06-15T12:00:00.123456Z"})";
  const std::string second =
      R"({"id":"0195b3c2-7a10-7c3e-9f11-2b3c4d5e6f71","channel":"pgcdc:orders","operation":"UPDATE","payload":{"id":1},"source":"outbox","created_at":"2025-06-15T12:00:01Z"})";
  Produce(kafka->bootstrap(), "mix", "a|" + first + "\nb|{broken\nc|" + second + "\n");
  auto p = StartConsumer(ConsumerArgs(kafka->bootstrap(), "mix", {"--kafka-consumer-unwrap"}));
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->WaitForLines(2, 30s)) << p->Stderr();
  EXPECT_EQ(p->StdoutLines(), (std::vector<std::string>{first, second}));
  ASSERT_TRUE(Eventually([&] { return Metric(*p, "pgcdc_kafka_consumer_committed_total") == 3; }))
      << p->Stderr();
  EXPECT_EQ(Metric(*p, "pgcdc_kafka_consumer_dead_lettered_total"), 1);
  EXPECT_TRUE(p->WaitForStderr("not a pgcdc event envelope")) << p->Stderr();
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(30s), 0) << p->Stderr();
}

TEST(KafkaConsumerScenario, KillNineLosesNothing) {
  auto kafka = MockKafka::Start({"--topic", "kn:2"});
  ASSERT_TRUE(kafka);
  TempDir dir;
  const std::string out = dir.path + "/events.jsonl";
  constexpr int kRows = 4000;
  const auto args =
      ConsumerArgs(kafka->bootstrap(), "kn",
                   {"-a", "file", "--file-path", out, "--kafka-consumer-batch-size", "100"});
  KillNineRun run{
      .table = "kn", .rows = kRows, .per_tx = 10, .seed = 5, .min_progress = 300, .spread = 800};
  const std::string brokers = kafka->bootstrap();
  run.write = [brokers](int first, int last) -> Status {
    std::string lines;
    for (int i = first; i <= last; ++i) {
      lines += std::to_string(i % 7) + "|{\"i\":" + std::to_string(i) + "}\n";
    }
    auto r = Kcat({"-P", "-b", brokers, "-t", "kn", "-K", "|"}, lines);
    if (r.exit_code == 0) return Ok();
    return Fail(ErrorCode::kConnection, "kcat: " + r.output);
  };
  auto lines_in = [&](Process&) { return static_cast<double>(ReadFileLines(out).size()); };
  // Each process is killed once it owns the partitions and made progress.
  auto start = [&]() -> std::unique_ptr<Process> {
    auto p = StartConsumer(args);
    if (p && !p->WaitForStderr("kafka partitions assigned", 30s)) {
      ADD_FAILURE() << p->Stderr();
      p.reset();
    }
    return p;
  };
  RunKillNineRounds(run, start, lines_in);
  auto last = StartConsumer(args);
  ASSERT_TRUE(last);
  std::map<int64_t, std::set<std::string>> ids;
  size_t lines = 0;
  auto read = [&] {
    ids.clear();
    lines = 0;
    for (const auto& l : CompleteLines(out)) {
      ++lines;
      auto o = Obj(l);
      ids[o["payload"].as_object()["i"].as_int64()].insert(std::string(o["id"].as_string()));
    }
    return ids.size() == static_cast<size_t>(kRows);
  };
  ASSERT_TRUE(Eventually(read, 90s)) << ids.size() << "\n" << last->Stderr();
  last->Signal(SIGTERM);
  EXPECT_EQ(last->Wait(30s), 0) << last->Stderr();
  read();
  for (const auto& [i, set] : ids) EXPECT_EQ(set.size(), 1U) << "record " << i;
  std::cerr << "kafka_consumer kill -9: " << lines - kRows << " duplicates in " << lines
            << " lines\n";
  // Repeats are what was written but not yet confirmed when a process died:
  // the file sink confirms at its flushes (every 200 ms at the latest), so a
  // kill during a catch-up burst repeats up to one flush interval of records.
  EXPECT_LT(lines - kRows, static_cast<size_t>(kRows));
}

// Two members of one group: when the second joins, and again when it leaves,
// partitions move between them. Before a member gives partitions up it
// commits what it delivered, so nothing is lost and nothing is read twice
// (periodic commits are off here, so only those commits count).
TEST(KafkaConsumerScenario, RebalancesCommitWhatWasDeliveredBeforePartitionsMove) {
  // The broker: pgcdc's own kafkaserver. Like Kafka (and unlike the
  // librdkafka mock, which refuses them), it takes commits of the current
  // generation while a rebalance is being prepared.
  auto broker = Process::Start(
      {.args = {"listen", "--db", SharedCluster().Url(), "-c", "kc_unused", "--http-addr",
                "127.0.0.1:0", "-a", "kafkaserver", "--kafkaserver-addr", "127.0.0.1:0",
                "--kafkaserver-rebalance-delay", "0s", "--kafkaserver-partitions", "4"}});
  ASSERT_TRUE(broker);
  ASSERT_TRUE(broker->WaitForStderr("kafkaserver listening")) << broker->Stderr();
  std::smatch m;
  const std::string log = broker->Stderr();
  ASSERT_TRUE(std::regex_search(log, m, std::regex("kafkaserver listening addr=([^ ]+)")));
  const std::string brokers = m[1];
  TempDir dir;
  auto produce = [&](int first, int last) {
    std::string lines;
    for (int i = first; i <= last; ++i) {
      lines += std::to_string(i % 13) + "|{\"i\":" + std::to_string(i) + "}\n";
    }
    Produce(brokers, "rb", lines);
  };
  auto member = [&](const std::string& file) {
    auto p = StartConsumer(
        // No periodic commits: only the rebalances (and shutdown) commit, so
        // a revocation that did not commit would show as repeats.
        ConsumerArgs(
            brokers, "rb",
            {"-a", "file", "--file-path", dir.path + "/" + file, "--kafka-consumer-commit-interval",
             "1h", "--kafka-consumer-batch-size", "100000",
             // kafkaserver's minimum, as Kafka's
             "--kafka-consumer-property", "session.timeout.ms=6000"}));
    if (p) EXPECT_TRUE(p->WaitForStderr("kafka partitions assigned", 30s)) << p->Stderr();
    return p;
  };
  auto a = member("a.jsonl");
  ASSERT_TRUE(a);
  produce(1, 1000);
  ASSERT_TRUE(Eventually([&] { return ReadFileLines(dir.path + "/a.jsonl").size() == 1000; }))
      << a->Stderr();
  auto b = member("b.jsonl");  // A revokes (after committing), both get partitions
  ASSERT_TRUE(b);
  EXPECT_TRUE(a->WaitForStderr("kafka partitions revoked")) << a->Stderr();
  produce(1001, 2000);
  ASSERT_TRUE(Eventually(
      [&] {
        return ReadFileLines(dir.path + "/a.jsonl").size() +
                   ReadFileLines(dir.path + "/b.jsonl").size() >=
               2000;
      },
      30s))
      << a->Stderr() << b->Stderr();
  EXPECT_GT(ReadFileLines(dir.path + "/b.jsonl").size(), 0U) << "B never got a partition";
  b->Signal(SIGTERM);  // B leaves: it commits and A takes its partitions back
  EXPECT_EQ(b->Wait(30s), 0) << b->Stderr();
  produce(2001, 3000);
  std::map<int64_t, int> seen;
  auto all_seen = [&] {
    seen.clear();
    for (const auto* f : {"a.jsonl", "b.jsonl"}) {
      for (const auto& l : CompleteLines(dir.path + "/" + f)) {
        ++seen[Obj(l)["payload"].as_object()["i"].as_int64()];
      }
    }
    return seen.size() == 3000;
  };
  ASSERT_TRUE(Eventually(all_seen, 60s)) << seen.size() << "\n" << a->Stderr();
  a->Signal(SIGTERM);
  EXPECT_EQ(a->Wait(30s), 0) << a->Stderr();
  all_seen();
  int repeated = 0;
  for (const auto& [i, n] : seen) repeated += n - 1;
  EXPECT_EQ(repeated, 0) << "records delivered twice across the rebalances\n" << a->Stderr();
  broker->Signal(SIGTERM);
  EXPECT_EQ(broker->Wait(30s), 0) << broker->Stderr();
}

TEST(KafkaConsumerScenario, DoctorChecksBrokersTopicsAndTheGroupWithoutJoiningIt) {
  auto kafka = MockKafka::Start({"--topic", "doc:3"});
  ASSERT_TRUE(kafka);
  auto doctor = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {PgcdcBinary(),    "doctor",          "--detector",
                                     "kafka_consumer", "--kafka-brokers", kafka->bootstrap()};
    args.insert(args.end(), extra.begin(), extra.end());
    return RunCommand(args);
  };
  auto ok = doctor({"--kafka-consumer-topics", "doc"});
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_NE(ok.output.find("3 partitions"), std::string::npos) << ok.output;
  EXPECT_NE(ok.output.find("0 of 3 partitions committed"), std::string::npos) << ok.output;
  auto missing = doctor({"--kafka-consumer-topics", "doc,nosuch"});
  EXPECT_EQ(missing.exit_code, 1) << missing.output;
  EXPECT_NE(missing.output.find("topic nosuch"), std::string::npos) << missing.output;
  kafka->Down();
  auto down = doctor({"--kafka-consumer-topics", "doc", "--kafka-consumer-connect-timeout", "2s"});
  EXPECT_EQ(down.exit_code, 1) << down.output;
  EXPECT_NE(down.output.find("no broker of"), std::string::npos) << down.output;
}

TEST(KafkaConsumerScenario, ConfigurationMistakesExitWithCode2) {
  auto [code, err] =
      RunToExit({"listen", "--detector", "kafka_consumer", "--kafka-brokers",
                 "127.0.0.1:" + std::to_string(FreeTcpPort()), "--kafka-consumer-topics", "t",
                 "--kafka-consumer-connect-timeout", "1s", "--http-addr", "127.0.0.1:0"});
  EXPECT_EQ(code, 2) << err;
  EXPECT_NE(err.find("check --kafka-brokers"), std::string::npos) << err;
  auto [none_code, none_err] = RunToExit({"listen", "--detector", "kafka_consumer"});
  EXPECT_EQ(none_code, 2) << none_err;
  EXPECT_NE(none_err.find("kafka_consumer.topics: required"), std::string::npos) << none_err;
  EXPECT_EQ(none_err.find("database_url"), std::string::npos) << none_err;
}

}  // namespace
}  // namespace pgcdc::testing
