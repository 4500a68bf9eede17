// User journey: capture into Kafka (-a kafka, librdkafka producer). Brokers:
// the librdkafka mock cluster in its own process (tests/tools/
// kafka_mock_cluster.cc, taken down and up by signal) and pgcdc's own
// Kafka-protocol broker (-a kafkaserver in a second pgcdc process). Consumer:
// kcat. Covers WAL rows with keys, values, headers and topics; per-key order;
// a broker outage (nothing lost, retries counted, health degraded then up);
// kill -9 with a persistent slot; exactly-once (--kafka-transactional-id)
// across kill -9 for a read_committed consumer, against kafkaserver (the mock
// cluster ignores isolation levels); rejected records to the DLQ; bad
// configuration.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <map>
#include <random>
#include <regex>
#include <set>

#include "harness.h"
#include "json_util.h"
#include "kafka_clients.h"

namespace pgcdc::testing {
namespace {

std::vector<std::string> KafkaSinkArgs(const std::string& brokers,
                                       const std::vector<std::string>& extra) {
  // Reconnect quickly after an outage (librdkafka's default backs off to 10 s).
  std::vector<std::string> args = {"-a",
                                   "kafka",
                                   "--kafka-brokers",
                                   brokers,
                                   "--kafka-property",
                                   "reconnect.backoff.max.ms=500",
                                   "--kafka-connect-timeout",
                                   "20s"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

std::vector<std::string> WalArgs(const std::string& publication, const std::string& brokers,
                                 const std::vector<std::string>& extra) {
  return WalListenArgs(publication, KafkaSinkArgs(brokers, extra));
}

double Metric(Process& p, const std::string& series) {
  auto v = ScrapeMetric(p, series);
  return v ? *v : -1;
}

double Delivered(Process& p) { return Metric(p, "pgcdc_kafka_records_delivered_total"); }

bool WaitDelivered(Process& p, double n, std::chrono::milliseconds timeout = 30s) {
  return Eventually([&] { return Metric(p, "pgcdc_kafka_records_delivered_total") >= n; }, timeout);
}

// The "kafka" component's status in /healthz ("up", "degraded", ...).
std::string KafkaHealth(Process& p) {
  auto addr = p.HttpAddr();
  if (!addr) return {};
  auto h = HttpGet(*addr, "/healthz");
  if (!h) return {};
  static const std::regex re("\"kafka\":\\{\"status\":\"([a-z]+)\"");
  std::smatch m;
  return std::regex_search(h->body, m, re) ? std::string(m[1]) : std::string();
}

void Stop(Process& p) {
  p.Signal(SIGTERM);
  EXPECT_EQ(p.Wait(30s), 0) << p.Stderr();
}

// Records sorted by (partition, offset): each key's records in log order.
std::vector<KRecord> InLogOrder(std::vector<KRecord> records) {
  std::sort(records.begin(), records.end(), [](const KRecord& a, const KRecord& b) {
    return std::tie(a.partition, a.offset) < std::tie(b.partition, b.offset);
  });
  return records;
}

int64_t RowId(const KRecord& r) {
  return ParseJson(r.value).as_object().at("row").as_object().at("id").as_int64();
}

// ---------------------------------------------------------------------------

TEST(KafkaScenario, WalRowsArriveWithKeysValuesHeadersAndPerKeyOrder) {
  auto mock = MockKafka::Start({"--brokers", "3"});
  ASSERT_TRUE(mock);
  auto conn = Connect();
  FreshPublishedTable(conn, "k_orders", "id int PRIMARY KEY, status text", "p_korders");
  auto p = StartWalListen(WalArgs("p_korders", mock->bootstrap(), {}));
  ASSERT_TRUE(p);
  for (int t = 0; t < 10; ++t) {
    ExecOrFail(conn, "INSERT INTO k_orders SELECT g, 'new' FROM generate_series(" +
                         std::to_string(t * 10 + 1) + ", " + std::to_string(t * 10 + 10) + ") g");
  }
  ExecOrFail(conn, "UPDATE k_orders SET status = 'paid'");
  ExecOrFail(conn, "UPDATE k_orders SET status = 'shipped' WHERE id % 2 = 0");
  ExecOrFail(conn, "DELETE FROM k_orders WHERE id % 10 = 0");
  constexpr size_t kEvents = 100 + 100 + 50 + 10;
  ASSERT_TRUE(WaitDelivered(*p, kEvents)) << p->Stderr();

  auto records = InLogOrder(ConsumeAll(mock->bootstrap(), "pgcdc.k_orders"));
  ASSERT_EQ(records.size(), kEvents) << "no retries happened: every event exactly once";
  std::map<std::string, int> partition_of;
  std::map<std::string, std::vector<std::string>> ops, statuses;
  std::set<std::string> ids;
  for (const auto& r : records) {
    EXPECT_EQ(r.topic, "pgcdc.k_orders");
    EXPECT_EQ(r.headers.at("pgcdc-channel"), "pgcdc:k_orders");
    EXPECT_EQ(r.headers.at("content-type"), "application/json");
    const std::string& id = r.headers.at("pgcdc-event-id");
    EXPECT_EQ(id.size(), 36u) << id;
    EXPECT_TRUE(ids.insert(id).second) << "event ids are unique";
    // Value = the payload only; key = the row's primary key.
    auto v = ParseJson(r.value).as_object();
    EXPECT_EQ(v.at("op").as_string(), r.headers.at("pgcdc-operation"));
    EXPECT_EQ(v.at("table").as_string(), "k_orders");
    EXPECT_FALSE(v.contains("channel")) << "not the envelope";
    EXPECT_EQ(std::to_string(RowId(r)), r.key);
    auto [it, fresh] = partition_of.try_emplace(r.key, r.partition);
    EXPECT_EQ(it->second, r.partition) << "all of a row's changes in one partition";
    ops[r.key].push_back(r.headers.at("pgcdc-operation"));
    const auto& status = v.at("row").as_object().at("status");
    statuses[r.key].push_back(status.is_string() ? std::string(status.as_string()) : "null");
  }
  EXPECT_EQ(partition_of.size(), 100u);
  std::set<int> partitions;
  for (const auto& [key, part] : partition_of) partitions.insert(part);
  EXPECT_GT(partitions.size(), 1u) << "keys spread over the partitions";
  EXPECT_EQ(ops["1"], (std::vector<std::string>{"INSERT", "UPDATE"}));
  EXPECT_EQ(ops["2"], (std::vector<std::string>{"INSERT", "UPDATE", "UPDATE"}));
  EXPECT_EQ(statuses["2"], (std::vector<std::string>{"new", "paid", "shipped"}));
  EXPECT_EQ(ops["10"], (std::vector<std::string>{"INSERT", "UPDATE", "UPDATE", "DELETE"}));
  Stop(*p);
}

TEST(KafkaScenario, FixedTopicEnvelopeValuesAndEventIdKeys) {
  auto mock = MockKafka::Start();
  ASSERT_TRUE(mock);
  auto p = Process::Start({.args = [&] {
    std::vector<std::string> a = {"listen",      "--db",        SharedCluster().Url(), "-c",
                                  "pgcdc:k_env", "--http-addr", "127.0.0.1:0"};
    for (auto& x : KafkaSinkArgs(mock->bootstrap(), {"--kafka-topic", "k-fixed", "--kafka-value",
                                                     "envelope", "--kafka-key", "id"})) {
      a.push_back(x);
    }
    return a;
  }()});
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->WaitForStderr("listening detector=listen_notify")) << p->Stderr();
  auto conn = Connect();
  ExecOrFail(conn,
             "SELECT pg_notify('pgcdc:k_env', json_build_object('n', g)::text) FROM "
             "generate_series(1, 5) g");
  ASSERT_TRUE(WaitDelivered(*p, 5)) << p->Stderr();
  auto records = ConsumeAll(mock->bootstrap(), "k-fixed");
  ASSERT_EQ(records.size(), 5u);
  std::set<int64_t> ns;
  for (const auto& r : records) {
    auto v = ParseJson(r.value).as_object();
    EXPECT_EQ(v.at("id").as_string(), r.key);
    EXPECT_EQ(r.key, r.headers.at("pgcdc-event-id"));
    EXPECT_EQ(v.at("channel").as_string(), "pgcdc:k_env");
    EXPECT_EQ(v.at("source").as_string(), "listen_notify");
    ns.insert(v.at("payload").as_object().at("n").as_int64());
  }
  EXPECT_EQ(ns, (std::set<int64_t>{1, 2, 3, 4, 5}));
  Stop(*p);
}

TEST(KafkaScenario, BrokerOutageLosesNothingCountsRetriesAndReportsHealth) {
  auto mock = MockKafka::Start();
  ASSERT_TRUE(mock);
  auto conn = Connect();
  FreshPublishedTable(conn, "k_outage", "id int PRIMARY KEY, v int", "p_koutage");
  auto p = StartWalListen(WalArgs("p_koutage", mock->bootstrap(),
                                  {"--kafka-delivery-timeout", "1500ms", "--kafka-backoff-base",
                                   "200ms", "--kafka-backoff-cap", "1s"}));
  ASSERT_TRUE(p);
  ExecOrFail(conn, "INSERT INTO k_outage SELECT g, 0 FROM generate_series(1, 50) g");
  ASSERT_TRUE(WaitDelivered(*p, 50)) << p->Stderr();
  EXPECT_EQ(KafkaHealth(*p), "up");

  ASSERT_TRUE(mock->Down());
  for (int t = 0; t < 10; ++t) {
    ExecOrFail(conn, "INSERT INTO k_outage SELECT g, 0 FROM generate_series(" +
                         std::to_string(51 + t * 10) + ", " + std::to_string(60 + t * 10) + ") g");
  }
  for (int round = 0; round < 3; ++round) {
    ExecOrFail(conn, "UPDATE k_outage SET v = v + 1 WHERE id <= 20");
  }
  ASSERT_TRUE(Eventually([&] { return KafkaHealth(*p) == "degraded"; }, 30s)) << p->Stderr();
  ASSERT_TRUE(Eventually([&] { return Metric(*p, "pgcdc_kafka_records_retried_total") > 0; }, 30s))
      << p->Stderr();
  // Nothing was acknowledged past the outage: the WAL keeps it.
  ASSERT_TRUE(mock->Up());

  std::vector<KRecord> records;
  ASSERT_TRUE(Eventually(
      [&] {
        records = InLogOrder(ConsumeAll(mock->bootstrap(), "pgcdc.k_outage"));
        std::set<int64_t> ids;
        for (const auto& r : records) ids.insert(RowId(r));
        return ids.size() == 150;
      },
      60s))
      << records.size() << " records\n"
      << p->Stderr();
  // Each key's newest record is its newest change, even for rows updated
  // while their earlier records were being retried.
  std::map<int64_t, int64_t> last_v;
  for (const auto& r : records) {
    last_v[RowId(r)] = ParseJson(r.value).as_object().at("row").as_object().at("v").as_int64();
  }
  for (int64_t id = 1; id <= 150; ++id) EXPECT_EQ(last_v[id], id <= 20 ? 3 : 0) << id;
  ASSERT_TRUE(Eventually([&] { return KafkaHealth(*p) == "up"; }, 30s)) << p->Stderr();
  EXPECT_GT(Metric(*p, "pgcdc_kafka_records_retried_total"), 0);
  std::cerr << "outage: " << records.size() << " records for 210 changes, "
            << Metric(*p, "pgcdc_kafka_records_retried_total") << " re-produced\n";
  Stop(*p);
}

// kafka.rate_limit / kafka.cb_* (SPEC's YAML-only keys, here flags too): a
// rate-limited producer still delivers every event, and an open circuit
// breaker holds records (probing the brokers) instead of dropping them.
TEST(KafkaScenario, RateLimitAndCircuitBreakerLoseNothing) {
  auto mock = MockKafka::Start();
  ASSERT_TRUE(mock);
  auto conn = Connect();
  FreshPublishedTable(conn, "k_flow", "id int PRIMARY KEY", "p_kflow");
  auto p = StartWalListen(
      WalArgs("p_kflow", mock->bootstrap(),
              {"--kafka-rate-limit", "400", "--kafka-rate-burst", "1", "--kafka-cb-failures", "3",
               "--kafka-cb-reset", "500ms", "--kafka-delivery-timeout", "1500ms",
               "--kafka-backoff-base", "200ms", "--kafka-backoff-cap", "1s"}));
  ASSERT_TRUE(p);
  const auto start = Clock::now();
  ExecOrFail(conn, "INSERT INTO k_flow SELECT generate_series(1, 300)");
  ASSERT_TRUE(WaitDelivered(*p, 300)) << p->Stderr();
  // 400 events/s with a bucket of one: 299 waits of 2.5 ms at least.
  EXPECT_GE(Clock::now() - start, 299 * 2500us);
  EXPECT_GT(Metric(*p, "pgcdc_rate_limit_waits_total{adapter=\"kafka\"}"), 0);
  EXPECT_GT(Metric(*p, "pgcdc_rate_limit_wait_duration_seconds_count{adapter=\"kafka\"}"), 0);
  EXPECT_GE(Metric(*p, "pgcdc_kafka_publish_duration_seconds_count"), 300);

  ASSERT_TRUE(mock->Down());
  ExecOrFail(conn, "INSERT INTO k_flow SELECT generate_series(301, 400)");
  ASSERT_TRUE(Eventually(
      [&] {
        return Metric(
                   *p,
                   "pgcdc_circuit_breaker_transitions_total{adapter=\"kafka\",state=\"open\"}") >=
               1;
      },
      30s))
      << p->Stderr();
  EXPECT_EQ(KafkaHealth(*p), "degraded");
  ASSERT_TRUE(mock->Up());
  std::set<std::string> keys;
  ASSERT_TRUE(Eventually(
      [&] {
        keys.clear();
        for (const auto& r : ConsumeAll(mock->bootstrap(), "pgcdc.k_flow")) keys.insert(r.key);
        return keys.size() == 400;
      },
      60s))
      << keys.size() << "\n"
      << p->Stderr();
  ASSERT_TRUE(Eventually([&] {
    return Metric(*p, "pgcdc_circuit_breaker_state{adapter=\"kafka\"}") == 0;
  })) << p->Stderr();
  EXPECT_GE(
      Metric(*p, "pgcdc_circuit_breaker_transitions_total{adapter=\"kafka\",state=\"closed\"}"), 1);
  Stop(*p);
}

TEST(KafkaScenario, KillNineWithPersistentSlotLosesNothing) {
  auto mock = MockKafka::Start({"--brokers", "3"});
  ASSERT_TRUE(mock);
  auto conn = Connect();
  FreshPublishedTable(conn, "k_crash", "id int PRIMARY KEY", "p_kcrash", "pgcdc_p_kcrash");
  const auto args = WalArgs("p_kcrash", mock->bootstrap(), {"--persistent-slot"});

  constexpr int kRows = 30000;
  RunKillNineRounds(
      {.table = "k_crash", .rows = kRows, .seed = 1414, .min_progress = 500},
      [&] { return StartWalListen(args); }, Delivered);

  auto p = StartWalListen(args);
  ASSERT_TRUE(p);
  std::vector<KRecord> records;
  std::set<int64_t> ids;
  ASSERT_TRUE(Eventually(
      [&] {
        records = ConsumeAll(mock->bootstrap(), "pgcdc.k_crash");
        ids.clear();
        for (const auto& r : records) ids.insert(std::stoll(r.key));
        return ids.size() == static_cast<size_t>(kRows);
      },
      180s))
      << ids.size() << " of " << kRows << "\n"
      << p->Stderr();
  std::cerr << "kafka crash test: " << records.size() << " records for " << kRows << " rows\n";
  Stop(*p);
  (void)conn.Query("SELECT pg_drop_replication_slot('pgcdc_p_kcrash')");
}

// Exactly-once: Kafka transactions that carry the source position. pgcdc is
// killed with SIGKILL three times mid-stream (open transactions die with it);
// a read_committed consumer then sees every row exactly once, while a
// read_uncommitted one also sees what the aborted transactions wrote.
TEST(KafkaScenario, ExactlyOnceAcrossKillNineForReadCommittedConsumers) {
  std::string addr;
  auto broker = StartKafkaServerBroker(addr);
  ASSERT_TRUE(broker);
  auto conn = Connect();
  FreshPublishedTable(conn, "k_eos", "id int PRIMARY KEY", "p_keos", "pgcdc_p_keos");
  const auto args =
      WalArgs("p_keos", addr,
              {"--persistent-slot", "--kafka-transactional-id", "eos-test",
               "--kafka-transaction-max-events", "300", "--detector-status-interval", "2s"});

  constexpr int kRows = 20000;
  double skipped = 0;
  RunKillNineRounds(
      {.table = "k_eos", .rows = kRows, .seed = 77, .spread = 4000},
      [&] {
        auto p = StartWalListen(args);
        if (p) {
          EXPECT_TRUE(p->WaitForStderr("kafka exactly-once: transactional producer ready"))
              << p->Stderr();
        }
        return p;
      },
      Delivered,
      [&](Process& p) { skipped += std::max(0.0, Metric(p, "pgcdc_kafka_events_skipped_total")); });

  auto p = StartWalListen(args);
  ASSERT_TRUE(p);
  std::vector<KRecord> committed;
  std::set<int64_t> ids;
  ASSERT_TRUE(Eventually(
      [&] {
        committed = ConsumeAll(addr, "pgcdc.k_eos", {"-X", "isolation.level=read_committed"});
        ids.clear();
        for (const auto& r : committed) ids.insert(std::stoll(r.key));
        return ids.size() == static_cast<size_t>(kRows);
      },
      180s))
      << ids.size() << " of " << kRows << "\n"
      << p->Stderr();
  skipped += std::max(0.0, Metric(*p, "pgcdc_kafka_events_skipped_total"));
  EXPECT_EQ(committed.size(), static_cast<size_t>(kRows)) << "no duplicates for read_committed";
  // The slot replayed what Kafka already had (its position is confirmed
  // every 2 s): those events were recognised and not produced again.
  EXPECT_GT(skipped, 0);
  const auto all = ConsumeAll(addr, "pgcdc.k_eos", {"-X", "isolation.level=read_uncommitted"});
  EXPECT_GE(all.size(), committed.size());
  // The position is committed in the same transactions.
  size_t positions = 0;
  for (const auto& r :
       ConsumeAll(addr, "__pgcdc_offsets", {"-X", "isolation.level=read_committed"})) {
    EXPECT_EQ(r.key, "eos-test");
    EXPECT_NE(r.value.find("\"event_id\""), std::string::npos) << r.value;
    ++positions;
  }
  EXPECT_GT(positions, 0u);
  std::cerr << "exactly-once: " << committed.size() << " committed records for " << kRows
            << " rows; " << all.size() << " records including aborted transactions; " << skipped
            << " replayed events skipped as already committed; " << positions
            << " committed positions\n";
  Stop(*p);
  Stop(*broker);
  (void)conn.Query("SELECT pg_drop_replication_slot('pgcdc_p_keos')");
}

TEST(KafkaScenario, RejectedRecordsGoToTheDeadLetterQueue) {
  // The broker rejects the first Produce request with MESSAGE_TOO_LARGE (10),
  // as a broker with a smaller limit than the client's would. (An
  // authorisation failure is permanent too, but librdkafka then fails the
  // topic's records until its next metadata refresh.)
  auto mock = MockKafka::Start({"--produce-errors", "10:1"});
  ASSERT_TRUE(mock);
  std::vector<std::string> args = {"listen", "--db",        SharedCluster().Url(), "-c",
                                   "k_dlq",  "--http-addr", "127.0.0.1:0"};
  for (auto& a : KafkaSinkArgs(mock->bootstrap(), {"--kafka-max-message-bytes", "2000"})) {
    args.push_back(a);
  }
  auto p = Process::Start({.args = args});
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->WaitForStderr("listening detector=listen_notify")) << p->Stderr();
  auto conn = Connect();
  ExecOrFail(conn, "SELECT pg_notify('k_dlq', '{\"n\":1}')");
  ASSERT_TRUE(Eventually([&] {
    return Metric(*p, "pgcdc_kafka_records_dead_lettered_total") == 1;
  })) << p->Stderr();
  ExecOrFail(conn, "SELECT pg_notify('k_dlq', json_build_object('big', repeat('x', 3000))::text)");
  ASSERT_TRUE(Eventually([&] {
    return Metric(*p, "pgcdc_kafka_records_dead_lettered_total") == 2;
  })) << p->Stderr();
  ExecOrFail(conn, "SELECT pg_notify('k_dlq', '{\"n\":3}')");
  ASSERT_TRUE(WaitDelivered(*p, 1)) << p->Stderr();
  Stop(*p);
  // The DLQ (stderr backend) has both events with Kafka's reason.
  std::vector<boost::json::object> dead;
  for (const auto& line : Split(p->Stderr(), '\n')) {
    if (line.rfind("{\"event\":", 0) != 0) continue;
    dead.push_back(ParseJson(line).as_object());
  }
  ASSERT_EQ(dead.size(), 2u) << p->Stderr();
  EXPECT_EQ(dead[0].at("adapter").as_string(), "kafka");
  EXPECT_EQ(dead[0].at("error").as_string(), "Broker: Message size too large");
  EXPECT_NE(std::string(dead[1].at("error").as_string()).find("too large"), std::string::npos)
      << dead[1].at("error");
  EXPECT_NE(std::string(dead[1].at("error").as_string()).find("kafka.max_message_bytes"),
            std::string::npos);
  auto records = ConsumeAll(mock->bootstrap(), "k_dlq");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].value, "{\"n\":3}");
}

TEST(KafkaScenario, ProducesToPgcdcsOwnKafkaServer) {
  // A second pgcdc process is the broker (idle LISTEN/NOTIFY source).
  std::string addr;
  auto broker = StartKafkaServerBroker(addr);
  ASSERT_TRUE(broker);

  auto conn = Connect();
  FreshPublishedTable(conn, "k_ks", "id int PRIMARY KEY, name text", "p_kks");
  auto p = StartWalListen(WalArgs("p_kks", addr, {}));
  ASSERT_TRUE(p);
  ExecOrFail(conn, "INSERT INTO k_ks SELECT g, 'n' || g FROM generate_series(1, 50) g");
  ExecOrFail(conn, "UPDATE k_ks SET name = 'changed' WHERE id <= 5");
  ASSERT_TRUE(WaitDelivered(*p, 55)) << p->Stderr() << broker->Stderr();
  auto records = InLogOrder(ConsumeAll(addr, "pgcdc.k_ks"));
  ASSERT_EQ(records.size(), 55u);
  std::map<std::string, std::vector<std::string>> ops;
  for (const auto& r : records) {
    EXPECT_EQ(std::to_string(RowId(r)), r.key);
    ops[r.key].push_back(r.headers.at("pgcdc-operation"));
  }
  EXPECT_EQ(ops.size(), 50u);
  EXPECT_EQ(ops["3"], (std::vector<std::string>{"INSERT", "UPDATE"}));
  Stop(*p);
  Stop(*broker);
}

TEST(KafkaScenario, BadConfigurationIsAUsageError) {
  auto run = [](std::vector<std::string> extra) {
    std::vector<std::string> args = {
        "listen", "--db", SharedCluster().Url(), "-c", "x", "--http-addr", "", "-a", "kafka"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto p = Process::Start({.args = args});
    EXPECT_TRUE(p);
    const auto code = p->Wait(30s);
    return std::pair{code.value_or(-1), p->Stderr()};
  };
  auto [c1, e1] = run({"--kafka-encoding", "xml"});
  EXPECT_EQ(c1, 2) << e1;
  EXPECT_NE(e1.find("kafka.encoding: invalid value \"xml\""), std::string::npos) << e1;
  auto [c6, e6] = run({"--kafka-rate-limit", "100", "--kafka-rate-burst", "0"});
  EXPECT_EQ(c6, 2) << e6;
  EXPECT_NE(e6.find("kafka.rate_limit_burst: must be >= 1"), std::string::npos) << e6;
  auto [c7, e7] = run({"--kafka-encoding", "avro", "--schema-registry-url", "registry:8081"});
  EXPECT_EQ(c7, 2) << e7;
  EXPECT_NE(e7.find("encoding.schema_registry_url: "), std::string::npos) << e7;
  auto [c2, e2] = run({"--kafka-brokers", ""});
  EXPECT_EQ(c2, 2) << e2;
  EXPECT_NE(e2.find("kafka.brokers: required"), std::string::npos) << e2;
  auto [c3, e3] = run({"--kafka-sasl-mechanism", "kerberos"});
  EXPECT_EQ(c3, 2) << e3;
  EXPECT_NE(e3.find("kafka.sasl_mechanism: invalid value \"kerberos\""), std::string::npos) << e3;
  auto [c4, e4] = run({"--kafka-property", "acks=maybe"});
  EXPECT_EQ(c4, 2) << e4;
  EXPECT_NE(e4.find("librdkafka property acks=maybe"), std::string::npos) << e4;
  // Valid settings, but no broker: a start-up failure, not a usage error.
  auto [c5, e5] = run({"--kafka-brokers", "127.0.0.1:1", "--kafka-connect-timeout", "1s"});
  EXPECT_EQ(c5, 1) << e5;
  EXPECT_NE(e5.find("no broker of 127.0.0.1:1 answered"), std::string::npos) << e5;
}

}  // namespace
}  // namespace pgcdc::testing
