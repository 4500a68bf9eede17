// User journey: pgcdc as a Kafka broker (-a kafkaserver). Real Kafka clients
// only: kcat (librdkafka 2.0.2) for metadata, consuming, group consuming and
// producing; npm kafkajs 2.2.4 (tests/tools/kafkajs_*.js); and a librdkafka
// C++ consumer group (kafka_group_consumer.cc) whose members are killed
// mid-stream. Covers WAL and LISTEN/NOTIFY events with keys, headers and
// murmur2 partitions, committed offsets across consumer restarts and pgcdc
// restarts (data dir), deferred WAL acknowledgement, Produce, SASL/PLAIN with
// topic, group and transactional-id ACLs, TLS, and the failure paths
// (garbage, oversized frames, unsupported versions, port in use, malformed
// ACL rules).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "harness.h"
#include "json_util.h"
#include "kafka_clients.h"
#include "stream_clients.h"

#ifndef KAFKA_GROUP_CONSUMER  // librdkafka C++ headers missing: the test fails clearly
#define KAFKA_GROUP_CONSUMER "kafka_group_consumer"
#endif

namespace pgcdc::testing {
namespace {

// The broker address pgcdc logged ("kafkaserver listening addr=H:P").
std::string KafkaAddr(Process& p) {
  EXPECT_TRUE(p.WaitForStderr("kafkaserver listening")) << p.Stderr();
  std::smatch m;
  const std::string err = p.Stderr();
  static const std::regex re("kafkaserver listening addr=([^ ]+)");
  if (!std::regex_search(err, m, re)) return {};
  return m[1];
}

std::vector<std::string> KafkaArgs(std::vector<std::string> extra) {
  std::vector<std::string> args = {
      "-a", "kafkaserver", "--kafkaserver-addr", "127.0.0.1:0", "--kafkaserver-rebalance-delay",
      "0s"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

std::unique_ptr<Process> StartNotify(const std::string& channel, std::vector<std::string> extra) {
  std::vector<std::string> args = {"listen", "--db",        SharedCluster().Url(), "-c",
                                   channel,  "--http-addr", "127.0.0.1:0"};
  for (auto& a : KafkaArgs(std::move(extra))) args.push_back(a);
  auto p = Process::Start({.args = args});
  EXPECT_TRUE(p);
  if (p) {
    EXPECT_TRUE(p->WaitForStderr("listening detector=listen_notify")) << p->Stderr();
  }
  return p;
}

std::unique_ptr<Process> StartWal(const std::string& publication, std::vector<std::string> extra) {
  std::vector<std::string> args = {
      "listen",        "--detector", "wal",         "--db",        SharedCluster().Url(),
      "--publication", publication,  "--http-addr", "127.0.0.1:0", "--detector-status-interval",
      "200ms"};
  for (auto& a : KafkaArgs(std::move(extra))) args.push_back(a);
  auto p = Process::Start({.args = args});
  EXPECT_TRUE(p);
  if (p) {
    EXPECT_TRUE(p->WaitForStderr("streaming detector=wal")) << p->Stderr();
  }
  return p;
}

bool WaitStored(Process& p, double n, std::chrono::milliseconds timeout = 20s) {
  return Eventually(
      [&] {
        auto v = ScrapeMetric(p, "pgcdc_kafkaserver_records_stored_total");
        return v && *v >= n;
      },
      timeout);
}

void Stop(Process& p) {
  p.Signal(SIGTERM);
  EXPECT_EQ(p.Wait(), 0) << p.Stderr();
}

// Partitions kcat's own murmur2 partitioner (librdkafka "murmur2_random",
// Java's default for keyed records) picks for `keys` in a topic with
// `partitions` partitions: produced to a scratch topic and read back.
std::map<std::string, int> OraclePartitions(const std::string& addr, const std::string& scratch,
                                            const std::set<std::string>& keys) {
  std::string input;
  for (const auto& k : keys) input += k + "\x1f" + "x\n";
  auto r = Kcat({"-b", addr, "-P", "-t", scratch, "-K", "\x1f", "-X", "partitioner=murmur2_random"},
                input);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  std::map<std::string, int> out;
  for (const auto& rec : ConsumeAll(addr, scratch)) out[rec.key] = rec.partition;
  return out;
}

std::unique_ptr<Process> StartGroupMember(const std::string& addr, const std::string& topic,
                                          const std::string& group) {
  return Process::Start({.args = {"--brokers", addr, "--topic", topic, "--group", group},
                         .binary = KAFKA_GROUP_CONSUMER});
}

int64_t CheckpointLsn(pg::Conn& conn, const std::string& slot) {
  auto r = conn.Query("SELECT lsn FROM pgcdc_checkpoints WHERE slot_name = $1", {slot});
  if (!r || r->empty() || !r->at(0).at(0)) return -1;
  return std::stoll(*r->at(0).at(0));
}

int64_t CurrentLsn(pg::Conn& conn) {
  auto r = conn.Query("SELECT (pg_current_wal_insert_lsn() - '0/0')::bigint");
  EXPECT_TRUE(r);
  return std::stoll(*r->at(0).at(0));
}

// ---------------------------------------------------------------------------

TEST(KafkaServerScenario, WalRowsReachKcatWithKeysHeadersAndKafkaPartitions) {
  auto conn = Connect();
  ExecOrFail(conn, "DROP TABLE IF EXISTS ks_orders, ks_multi CASCADE");
  ExecOrFail(conn, "CREATE TABLE ks_orders (id int PRIMARY KEY, status text)");
  ExecOrFail(conn, "CREATE TABLE ks_multi (a int, b text, v text, PRIMARY KEY (a, b))");
  ExecOrFail(conn, "DROP PUBLICATION IF EXISTS p_ks");
  ExecOrFail(conn, "CREATE PUBLICATION p_ks FOR TABLE ks_orders, ks_multi");
  auto p = StartWal("p_ks", {"--kafkaserver-partitions", "5"});
  ASSERT_TRUE(p);
  const std::string addr = KafkaAddr(*p);
  ASSERT_FALSE(addr.empty());

  // kcat -L: one broker (node 0) at the address we listen on.
  auto meta = Kcat({"-b", addr, "-L"});
  ASSERT_EQ(meta.exit_code, 0) << meta.output;
  EXPECT_NE(meta.output.find("broker 0 at " + addr), std::string::npos) << meta.output;

  ExecOrFail(conn, "INSERT INTO ks_orders SELECT g, 'new' FROM generate_series(1, 100) g");
  ExecOrFail(conn, "UPDATE ks_orders SET status = 'paid' WHERE id <= 10");
  ExecOrFail(conn, "DELETE FROM ks_orders WHERE id > 95");
  ExecOrFail(conn, "INSERT INTO ks_multi VALUES (1, 'x', 'a'), (2, 'y', 'b')");
  ASSERT_TRUE(WaitStored(*p, 117)) << p->Stderr();

  auto meta2 = Kcat({"-b", addr, "-L", "-t", "pgcdc.ks_orders"});
  EXPECT_NE(meta2.output.find("topic \"pgcdc.ks_orders\" with 5 partitions"), std::string::npos)
      << meta2.output;

  auto records = ConsumeAll(addr, "pgcdc.ks_orders");
  ASSERT_EQ(records.size(), 115u);
  std::map<std::string, std::vector<std::string>> ops_by_key;
  std::map<std::string, int> partition_of;
  std::map<int, int64_t> last_offset;
  std::set<std::string> keys;
  for (const auto& r : records) {
    EXPECT_EQ(r.topic, "pgcdc.ks_orders");
    // Every record of a key in one partition, offsets dense per partition.
    auto [it, inserted] = partition_of.try_emplace(r.key, r.partition);
    EXPECT_EQ(it->second, r.partition) << r.key;
    EXPECT_EQ(r.offset, last_offset.contains(r.partition) ? last_offset[r.partition] + 1 : 0);
    last_offset[r.partition] = r.offset;
    keys.insert(r.key);
    EXPECT_EQ(r.headers.at("pgcdc-channel"), "pgcdc:ks_orders");
    const auto v = ParseJson(r.value).as_object();
    EXPECT_EQ(v.at("id").as_string(), r.headers.at("pgcdc-event-id"));
    EXPECT_EQ(v.at("operation").as_string(), r.headers.at("pgcdc-operation"));
    EXPECT_EQ(v.at("channel").as_string(), "pgcdc:ks_orders");
    // Key = the primary key (replica identity) of the row.
    const auto& row = v.at("payload").as_object().at("row").as_object();
    EXPECT_EQ(std::to_string(row.at("id").as_int64()), r.key);
    ops_by_key[r.key].push_back(r.headers.at("pgcdc-operation"));
  }
  EXPECT_EQ(keys.size(), 100u);
  EXPECT_EQ(ops_by_key["1"], (std::vector<std::string>{"INSERT", "UPDATE"}));
  EXPECT_EQ(ops_by_key["50"], (std::vector<std::string>{"INSERT"}));
  EXPECT_EQ(ops_by_key["99"], (std::vector<std::string>{"INSERT", "DELETE"}));

  // Partitions match librdkafka's murmur2 partitioner (= Java's default).
  auto oracle = OraclePartitions(addr, "ks-oracle-5", keys);
  ASSERT_EQ(oracle.size(), keys.size());
  for (const auto& [key, partition] : partition_of) EXPECT_EQ(oracle[key], partition) << key;
  std::set<int> used;
  for (const auto& [key, partition] : partition_of) used.insert(partition);
  EXPECT_EQ(used.size(), 5u);

  // A composite key is a JSON object of the key columns.
  auto multi = ConsumeAll(addr, "pgcdc.ks_multi");
  ASSERT_EQ(multi.size(), 2u);
  std::set<std::string> multi_keys;
  for (const auto& r : multi) multi_keys.insert(r.key);
  EXPECT_EQ(multi_keys, (std::set<std::string>{R"({"a":1,"b":"x"})", R"({"a":2,"b":"y"})"}));
  Stop(*p);
}

TEST(KafkaServerScenario, NotifyEventsWithKeyColumnAndPayloadValue) {
  auto p = StartNotify("ks_notify", {"--kafkaserver-key-column", "sku", "--kafkaserver-value",
                                     "payload", "--kafkaserver-partitions", "3"});
  ASSERT_TRUE(p);
  const std::string addr = KafkaAddr(*p);
  auto conn = Connect();
  for (int i = 0; i < 30; ++i) {
    ExecOrFail(conn, "NOTIFY ks_notify, '{\"sku\":\"S-" + std::to_string(i % 10) +
                         "\",\"n\":" + std::to_string(i) + "}'");
  }
  ExecOrFail(conn, "NOTIFY ks_notify, '{\"nosku\":true}'");
  ASSERT_TRUE(WaitStored(*p, 31)) << p->Stderr();
  auto records = ConsumeAll(addr, "ks_notify");
  ASSERT_EQ(records.size(), 31u);
  std::map<std::string, std::vector<int64_t>> by_key;
  for (const auto& r : records) {
    EXPECT_EQ(r.headers.at("pgcdc-operation"), "NOTIFY");
    const auto v = ParseJson(r.value).as_object();
    if (v.contains("nosku")) {
      // No key column: the event id keys the record.
      EXPECT_EQ(r.key, r.headers.at("pgcdc-event-id"));
      continue;
    }
    // The value is the payload itself, the key its sku.
    EXPECT_EQ(v.at("sku").as_string(), r.key);
    by_key[r.key].push_back(v.at("n").as_int64());
  }
  ASSERT_EQ(by_key.size(), 10u);
  // Per key, records keep the NOTIFY order.
  for (const auto& [key, ns] : by_key) {
    EXPECT_TRUE(std::is_sorted(ns.begin(), ns.end())) << key;
    EXPECT_EQ(ns.size(), 3u);
  }
  Stop(*p);
}

// --kafkaserver-compression: event batches are stored and served compressed;
// kcat (librdkafka) decompresses every codec.
TEST(KafkaServerScenario, CompressedEventBatchesDecodeInKcat) {
  double plain_bytes = 0;  // what Fetch returned without compression
  for (const char* codec : {"none", "gzip", "snappy", "lz4", "zstd"}) {
    const std::string channel = std::string("ks_codec_") + codec;
    auto p = StartNotify(channel, {"--kafkaserver-compression", codec, "--kafkaserver-value",
                                   "payload", "--kafkaserver-partitions", "1"});
    ASSERT_TRUE(p);
    const std::string addr = KafkaAddr(*p);
    auto conn = Connect();
    for (int i = 0; i < 20; ++i) {
      ExecOrFail(conn, "NOTIFY " + channel + ", '{\"id\":" + std::to_string(i) + ",\"text\":\"" +
                           std::string(2000, static_cast<char>('a' + i % 26)) + "\"}'");
    }
    ASSERT_TRUE(WaitStored(*p, 20)) << p->Stderr();
    auto records = ConsumeAll(addr, channel);
    ASSERT_EQ(records.size(), 20u) << codec;
    for (size_t i = 0; i < records.size(); ++i) {
      const auto v = ParseJson(records[i].value).as_object();
      EXPECT_EQ(v.at("id").as_int64(), static_cast<int64_t>(i)) << codec;
      EXPECT_EQ(v.at("text").as_string().size(), 2000u) << codec;
    }
    // The batches really were compressed: the repetitive 2 KB values shrink
    // to a few dozen bytes each (batch framing stays).
    auto http = p->HttpAddr();
    ASSERT_TRUE(http);
    auto m = HttpGet(*http, "/metrics");
    ASSERT_TRUE(m);
    const double fetched = MetricValue(m->body, "pgcdc_kafkaserver_fetch_bytes_total").value_or(0);
    ASSERT_GT(fetched, 0) << codec;
    if (std::string_view(codec) == "none") {
      plain_bytes = fetched;
    } else {
      EXPECT_LT(fetched, plain_bytes / 2) << codec;
    }
    Stop(*p);
  }
}

TEST(KafkaServerScenario, ConsumerGroupsResumeFromCommittedOffsets) {
  auto conn = Connect();
  (void)conn.Query("DELETE FROM pgcdc_checkpoints WHERE slot_name LIKE 'kafka:%:ks_resume:%'");
  auto p = StartNotify("ks_resume", {"--kafkaserver-partitions", "4"});
  ASSERT_TRUE(p);
  const std::string addr = KafkaAddr(*p);
  NotifyMany("ks_resume", 50);
  ASSERT_TRUE(WaitStored(*p, 50));

  // kcat balanced consumer: everything, then only what is new.
  auto first = ConsumeGroup(addr, "kcat-grp", "ks_resume");
  EXPECT_EQ(first.size(), 50u);
  // Offsets live in pgcdc_checkpoints (the default: --db).
  auto rows = conn.Query(
      "SELECT sum(lsn) FROM pgcdc_checkpoints WHERE slot_name LIKE 'kafka:kcat-grp:ks_resume:%'");
  ASSERT_TRUE(rows);
  ASSERT_TRUE(rows->at(0).at(0));
  EXPECT_EQ(*rows->at(0).at(0), "50");
  NotifyMany("ks_resume", 30);
  ASSERT_TRUE(WaitStored(*p, 80));
  auto second = ConsumeGroup(addr, "kcat-grp", "ks_resume");
  ASSERT_EQ(second.size(), 30u);
  std::set<std::string> first_ids, second_ids;
  for (const auto& r : first) first_ids.insert(r.headers.at("pgcdc-event-id"));
  for (const auto& r : second) second_ids.insert(r.headers.at("pgcdc-event-id"));
  for (const auto& id : second_ids) EXPECT_FALSE(first_ids.contains(id)) << id;

  // kafkajs consumer group: all 80, then (after its commit) only new ones.
  auto js =
      StartNode("kafkajs_consume.js", {"--brokers", addr, "--topic", "ks_resume", "--group",
                                       "js-grp", "--expect", "80", "--from-beginning", "--quiet"});
  ASSERT_TRUE(js);
  ASSERT_TRUE(WaitFor(*js, "done", 60s)) << js->Stderr();
  EXPECT_EQ(LastWith(*js, "done")->at("count").as_int64(), 80);
  ASSERT_TRUE(js->Wait());
  NotifyMany("ks_resume", 20);
  ASSERT_TRUE(WaitStored(*p, 100));
  auto js2 = StartNode("kafkajs_consume.js", {"--brokers", addr, "--topic", "ks_resume", "--group",
                                              "js-grp", "--expect", "20", "--from-beginning"});
  ASSERT_TRUE(js2);
  ASSERT_TRUE(WaitFor(*js2, "done", 60s)) << js2->Stderr();
  std::set<std::string> seen;
  for (const auto& line : js2->StdoutLines()) {
    auto v = ParseJson(line).as_object();
    if (!v.contains("message")) continue;
    const auto& m = v.at("message").as_object();
    const std::string id(m.at("headers").as_object().at("pgcdc-event-id").as_string());
    EXPECT_FALSE(first_ids.contains(id) || second_ids.contains(id)) << "re-delivered " << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 20u);
  // The reference tool's broker families (SPEC §9.2) moved.
  auto http = p->HttpAddr();
  ASSERT_TRUE(http);
  auto m = HttpGet(*http, "/metrics");
  ASSERT_TRUE(m);
  EXPECT_GT(MetricValue(m->body, "pgcdc_kafkaserver_fetch_requests_total").value_or(0), 0);
  EXPECT_GE(MetricValue(m->body, "pgcdc_kafkaserver_offset_commits_total").value_or(0), 2);
  EXPECT_GE(MetricValue(m->body, "pgcdc_kafkaserver_group_rebalances_total").value_or(0), 2);
  double buffered = 0;
  for (int part = 0; part < 4; ++part) {
    buffered += MetricValue(m->body,
                            "pgcdc_kafkaserver_buffer_usage{topic=\"ks_resume\","
                            "partition=\"" +
                                std::to_string(part) + "\"}")
                    .value_or(0);
  }
  EXPECT_EQ(buffered, 100);
  Stop(*p);
}

TEST(KafkaServerScenario, ProduceWithKcatAndKafkajsThenConsumeBack) {
  auto p = StartNotify("ks_unused", {"--kafkaserver-partitions", "4"});
  ASSERT_TRUE(p);
  const std::string addr = KafkaAddr(*p);
  // kcat producer: keyed lines, each compression codec librdkafka offers.
  for (const std::string codec : {"none", "gzip", "snappy", "lz4", "zstd"}) {
    std::string input;
    for (int i = 0; i < 20; ++i) input += codec + "-" + std::to_string(i) + ":v" + codec + "\n";
    auto r = Kcat({"-b", addr, "-P", "-t", "ks-produced", "-K", ":", "-z", codec}, input);
    ASSERT_EQ(r.exit_code, 0) << codec << ": " << r.output;
  }
  auto back = ConsumeAll(addr, "ks-produced");
  ASSERT_EQ(back.size(), 100u);
  std::set<std::string> keys;
  for (const auto& r : back) {
    keys.insert(r.key);
    EXPECT_EQ(r.value, "v" + r.key.substr(0, r.key.find('-')));
  }
  EXPECT_EQ(keys.size(), 100u);

  // kafkajs producer (gzip, batches of 25) and consumer.
  auto prod = StartNode("kafkajs_produce.js", {"--brokers", addr, "--topic", "ks-js", "--count",
                                               "200", "--batch", "25", "--compression", "gzip"});
  ASSERT_TRUE(prod);
  ASSERT_TRUE(WaitFor(*prod, "produced", 30s)) << prod->Stderr() << prod->StdoutLines().size();
  auto cons = StartNode("kafkajs_consume.js", {"--brokers", addr, "--topic", "ks-js", "--group",
                                               "ks-js-grp", "--expect", "200", "--from-beginning"});
  ASSERT_TRUE(cons);
  ASSERT_TRUE(WaitFor(*cons, "done", 60s)) << cons->Stderr();
  std::map<std::string, int> js_partition;
  for (const auto& line : cons->StdoutLines()) {
    auto v = ParseJson(line).as_object();
    if (!v.contains("message")) continue;
    const auto& m = v.at("message").as_object();
    const std::string key(m.at("key").as_string());
    js_partition[key] = static_cast<int>(m.at("partition").as_int64());
    EXPECT_EQ(m.at("headers").as_object().at("source").as_string(), "kafkajs");
  }
  ASSERT_EQ(js_partition.size(), 200u);
  // kafkajs' default partitioner and librdkafka's murmur2 agree (both Java's).
  auto kc = ConsumeAll(addr, "ks-js");
  ASSERT_EQ(kc.size(), 200u);
  std::set<std::string> js_keys;
  for (const auto& [k, part] : js_partition) js_keys.insert(k);
  auto oracle = OraclePartitions(addr, "ks-oracle-4", js_keys);
  for (const auto& [k, part] : js_partition) EXPECT_EQ(oracle[k], part) << k;
  auto produced = ScrapeMetric(*p, "pgcdc_kafkaserver_records_produced_total");
  ASSERT_TRUE(produced);
  EXPECT_GE(*produced, 300 + static_cast<double>(js_keys.size()));
  Stop(*p);
}

// A raw TCP client for the failure paths.
class RawClient {
 public:
  explicit RawClient(const std::string& addr) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(std::stoi(addr.substr(addr.rfind(':') + 1))));
    ::inet_pton(AF_INET, addr.substr(0, addr.rfind(':')).c_str(), &sa.sin_addr);
    ok_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~RawClient() { ::close(fd_); }
  bool ok() const { return ok_; }
  void Send(const std::string& bytes) { (void)!::write(fd_, bytes.data(), bytes.size()); }
  // Reads until the peer closes (returns true) or 5 s pass without data.
  bool ReadUntilClosed(std::string* got = nullptr) {
    char buf[4096];
    for (;;) {
      const ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n == 0) return true;
      if (n < 0) return errno == ECONNRESET;
      if (got != nullptr) got->append(buf, static_cast<size_t>(n));
    }
  }
  // Reads one response frame (size-prefixed).
  std::string ReadFrame() {
    std::string data;
    char buf[4096];
    while (data.size() < 4 ||
           data.size() <
               4 + static_cast<size_t>(ntohl(*reinterpret_cast<const uint32_t*>(data.data())))) {
      const ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n <= 0) break;
      data.append(buf, static_cast<size_t>(n));
    }
    return data;
  }

 private:
  int fd_ = -1;
  bool ok_ = false;
};

std::string Be32(uint32_t v) {
  v = htonl(v);
  return std::string(reinterpret_cast<const char*>(&v), 4);
}
std::string Be16(uint16_t v) {
  v = htons(v);
  return std::string(reinterpret_cast<const char*>(&v), 2);
}
// Request header v1 (key, version, correlation id, client id "raw"), or v2
// (+ an empty tagged-field section) when `flexible`.
std::string RawRequest(int16_t key, int16_t version, const std::string& body,
                       bool flexible = false) {
  std::string h = Be16(static_cast<uint16_t>(key)) + Be16(static_cast<uint16_t>(version)) +
                  Be32(42) + Be16(3) + "raw";
  if (flexible) h.push_back('\0');
  return Be32(static_cast<uint32_t>(h.size() + body.size())) + h + body;
}

TEST(KafkaServerScenario, BadClientsAreDisconnectedOthersKeepConsuming) {
  auto p = StartNotify("ks_bad", {"--kafkaserver-partitions", "2"});
  ASSERT_TRUE(p);
  const std::string addr = KafkaAddr(*p);
  NotifyMany("ks_bad", 10);
  ASSERT_TRUE(WaitStored(*p, 10));

  // A healthy long-polling client stays connected throughout.
  RawClient idle(addr);
  ASSERT_TRUE(idle.ok());

  {
    RawClient garbage(addr);  // HTTP is not Kafka: "GET " is a 1.2 GB frame size
    ASSERT_TRUE(garbage.ok());
    garbage.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_TRUE(garbage.ReadUntilClosed());
  }
  {
    RawClient oversized(addr);
    oversized.Send(Be32(0x7fffffff));
    EXPECT_TRUE(oversized.ReadUntilClosed());
  }
  {
    RawClient negative(addr);
    negative.Send(Be32(0xfffffff0));
    EXPECT_TRUE(negative.ReadUntilClosed());
  }
  {
    RawClient unsupported(addr);
    unsupported.Send(RawRequest(1, 99, std::string(40, '\0')));  // Fetch v99
    EXPECT_TRUE(unsupported.ReadUntilClosed());
  }
  {
    RawClient unknown(addr);
    unknown.Send(RawRequest(999, 0, ""));
    EXPECT_TRUE(unknown.ReadUntilClosed());
  }
  {
    // ApiVersions of a future version: error 35 and the supported list.
    RawClient future(addr);
    // Body: compact client software name and version (empty), no tags.
    future.Send(RawRequest(18, 9, std::string("\x01\x01\x00", 3), true));
    const std::string resp = future.ReadFrame();
    ASSERT_GE(resp.size(), 10u);
    EXPECT_EQ(resp.substr(4, 4), Be32(42));  // correlation id
    EXPECT_EQ(resp.substr(8, 2), Be16(35));  // UNSUPPORTED_VERSION
  }
  // Each bad client is closed with its reason (the log line may reach us just
  // after the client saw the close).
  EXPECT_TRUE(p->WaitForStderr("closing connection", 10s, 4)) << p->Stderr();
  EXPECT_TRUE(p->WaitForStderr("Fetch v99 is not supported", 10s)) << p->Stderr();
  EXPECT_TRUE(p->WaitForStderr("unknown API key 999", 10s)) << p->Stderr();

  // The server still serves, and nothing was lost.
  NotifyMany("ks_bad", 10);
  ASSERT_TRUE(WaitStored(*p, 20));
  auto records = ConsumeAll(addr, "ks_bad");
  EXPECT_EQ(records.size(), 20u);
  auto bad_frames =
      ScrapeMetric(*p, "pgcdc_kafkaserver_protocol_errors_total{reason=\"bad_frame\"}");
  ASSERT_TRUE(bad_frames);
  EXPECT_EQ(*bad_frames, 3);
  EXPECT_TRUE(idle.ok());

  // A second pgcdc on the same port: a clear start-up error.
  auto second = Process::Start(
      {.args = {"listen", "--db", SharedCluster().Url(), "-c", "ks_bad", "--http-addr",
                "127.0.0.1:0", "-a", "kafkaserver", "--kafkaserver-addr", addr}});
  ASSERT_TRUE(second);
  auto code = second->Wait(20s);
  ASSERT_TRUE(code);
  EXPECT_NE(*code, 0);
  EXPECT_NE(second->Stderr().find("address already in use"), std::string::npos) << second->Stderr();
  Stop(*p);
}

TEST(KafkaServerScenario, LibrdkafkaGroupOfThreeSurvivesAKilledMember) {
  auto p = StartNotify("ks_group",
                       {"--kafkaserver-partitions", "6", "--kafkaserver-rebalance-delay", "1s"});
  ASSERT_TRUE(p);
  const std::string addr = KafkaAddr(*p);
  // Create the topic before the members subscribe.
  NotifyMany("ks_group", 1);
  ASSERT_TRUE(WaitStored(*p, 1));

  std::vector<std::unique_ptr<Process>> members;
  for (int i = 0; i < 3; ++i) {
    members.push_back(StartGroupMember(addr, "ks_group", "rdk-grp"));
    ASSERT_TRUE(members.back());
  }
  // Every member gets a share of the 6 partitions.
  auto assigned = [](Process& m) {
    for (const auto& line : m.StdoutLines()) {
      if (line.find("\"assigned\",\"partitions\":[") != std::string::npos &&
          line.find("[]") == std::string::npos) {
        return true;
      }
    }
    return false;
  };
  ASSERT_TRUE(Eventually(
      [&] { return assigned(*members[0]) && assigned(*members[1]) && assigned(*members[2]); }, 60s))
      << members[0]->Stderr() << p->Stderr();

  auto seen_keys = [&] {
    std::set<int64_t> keys;
    for (auto& m : members) {
      for (const auto& line : m->StdoutLines()) {
        auto v = ParseJson(line).as_object();
        if (v.at("event").as_string() != "message") continue;
        // Values are the envelope; keys are the event ids for NOTIFY payloads
        // without an id column, so count by (partition, offset) instead.
        keys.insert(v.at("p").as_int64() * 1'000'000 + v.at("o").as_int64());
      }
    }
    return keys;
  };
  NotifyMany("ks_group", 300);
  ASSERT_TRUE(Eventually([&] { return seen_keys().size() >= 100; }, 30s));
  // Kill one member mid-stream (no LeaveGroup: the session must expire).
  members[1]->Signal(SIGKILL);
  members[1]->Wait();
  NotifyMany("ks_group", 300);
  ASSERT_TRUE(WaitStored(*p, 601));
  // Within session timeout + rebalance every record is consumed by a survivor
  // (or was by the dead member before it died).
  ASSERT_TRUE(Eventually([&] { return seen_keys().size() == 601; }, 60s))
      << seen_keys().size() << "\n"
      << p->Stderr();
  EXPECT_NE(p->Stderr().find("rdk-grp"), std::string::npos);
  int rebalances = 0;
  for (const auto& line : members[0]->StdoutLines()) {
    if (line.find("\"assigned\"") != std::string::npos) ++rebalances;
  }
  EXPECT_GE(rebalances, 2) << "survivor 0 saw no rebalance";

  // Survivors leave cleanly (offsets committed record by record).
  members[0]->Signal(SIGTERM);
  members[2]->Signal(SIGTERM);
  EXPECT_EQ(members[0]->Wait(), 0);
  EXPECT_EQ(members[2]->Wait(), 0);

  // A restarted member resumes from the committed offsets: it gets only new
  // records.
  NotifyMany("ks_group", 12);
  ASSERT_TRUE(WaitStored(*p, 613));
  auto fresh = StartGroupMember(addr, "ks_group", "rdk-grp");
  ASSERT_TRUE(fresh);
  auto fresh_messages = [&] {
    std::vector<std::pair<int64_t, int64_t>> out;
    for (const auto& line : fresh->StdoutLines()) {
      auto v = ParseJson(line).as_object();
      if (v.at("event").as_string() == "message") {
        out.emplace_back(v.at("p").as_int64(), v.at("o").as_int64());
      }
    }
    return out;
  };
  ASSERT_TRUE(Eventually([&] { return fresh_messages().size() >= 12; }, 60s)) << p->Stderr();
  auto old = seen_keys();
  for (const auto& [part, off] : fresh_messages()) {
    EXPECT_FALSE(old.contains(part * 1'000'000 + off)) << "re-delivered " << part << "@" << off;
  }
  fresh->Signal(SIGTERM);
  EXPECT_EQ(fresh->Wait(), 0);
  Stop(*p);
}

TEST(KafkaServerScenario, WalSlotWaitsForTheSlowestCommittedGroup) {
  auto conn = Connect();
  ExecOrFail(conn, "DROP TABLE IF EXISTS ks_ack CASCADE");
  ExecOrFail(conn, "CREATE TABLE ks_ack (id int PRIMARY KEY)");
  ExecOrFail(conn, "DROP PUBLICATION IF EXISTS p_ksack");
  ExecOrFail(conn, "CREATE PUBLICATION p_ksack FOR TABLE ks_ack");
  (void)conn.Query("SELECT pg_drop_replication_slot('pgcdc_p_ksack')");
  // The table exists only once some pgcdc created it (not when this test runs alone).
  (void)conn.Query(
      "DELETE FROM pgcdc_checkpoints WHERE slot_name = 'pgcdc_p_ksack' OR "
      "slot_name LIKE 'kafka:%:pgcdc.ks_ack:%'");
  auto p = StartWal("p_ksack", {"--persistent-slot", "--kafkaserver-partitions", "2"});
  ASSERT_TRUE(p);
  const std::string addr = KafkaAddr(*p);
  ExecOrFail(conn, "INSERT INTO ks_ack SELECT generate_series(1, 10)");
  ASSERT_TRUE(WaitStored(*p, 10));
  // No group has committed on the topic yet: nothing is held.
  const int64_t after_first = CurrentLsn(conn);
  ASSERT_TRUE(
      Eventually([&] { return CheckpointLsn(conn, "pgcdc_p_ksack") >= after_first - 1000; }, 20s));
  ASSERT_EQ(ConsumeGroup(addr, "ack-grp", "pgcdc.ks_ack").size(), 10u);

  // New rows are held until the group has committed them.
  const int64_t before_second = CurrentLsn(conn);
  ExecOrFail(conn, "INSERT INTO ks_ack SELECT generate_series(11, 20)");
  const int64_t after_second = CurrentLsn(conn);
  ASSERT_TRUE(WaitStored(*p, 20));
  ASSERT_TRUE(Eventually(
      [&] {
        auto v = ScrapeMetric(*p, "pgcdc_kafkaserver_oldest_held_seq");
        return v && *v > 0;
      },
      10s));
  // (LSNs are insert positions: with synchronous_commit=off the write
  // position lags.) Several status intervals pass; the checkpoint stays before
  // the new rows'
  // commit. (It may move past `before_second`: other tests share the cluster,
  // and their transactions that committed before ours are rightly confirmed.)
  EXPECT_FALSE(Eventually([&] { return CheckpointLsn(conn, "pgcdc_p_ksack") >= after_second; }, 2s))
      << CheckpointLsn(conn, "pgcdc_p_ksack") << " vs " << before_second << ".." << after_second;
  ASSERT_EQ(ConsumeGroup(addr, "ack-grp", "pgcdc.ks_ack").size(), 10u);
  EXPECT_TRUE(
      Eventually([&] { return CheckpointLsn(conn, "pgcdc_p_ksack") >= after_second - 1000; }, 20s))
      << CheckpointLsn(conn, "pgcdc_p_ksack") << " vs " << after_second;
  Stop(*p);
  (void)conn.Query("SELECT pg_drop_replication_slot('pgcdc_p_ksack')");
}

TEST(KafkaServerScenario, DataDirKeepsRecordsAndOffsetsAcrossRestarts) {
  TempDir dir;
  const std::vector<std::string> extra = {"--kafkaserver-data-dir", dir.path,
                                          "--kafkaserver-partitions", "3"};
  auto p = StartNotify("ks_disk", extra);
  ASSERT_TRUE(p);
  std::string addr = KafkaAddr(*p);
  NotifyMany("ks_disk", 20);
  ASSERT_TRUE(WaitStored(*p, 20));
  ASSERT_EQ(ConsumeGroup(addr, "disk-grp", "ks_disk").size(), 20u);
  Stop(*p);

  p = StartNotify("ks_disk", extra);
  ASSERT_TRUE(p);
  addr = KafkaAddr(*p);
  // Records come back from the segment files...
  auto all = ConsumeAll(addr, "ks_disk");
  EXPECT_EQ(all.size(), 20u);
  NotifyMany("ks_disk", 5);
  ASSERT_TRUE(WaitStored(*p, 5));
  // ...offsets continue, and the group's committed offsets survived.
  auto next = ConsumeGroup(addr, "disk-grp", "ks_disk");
  ASSERT_EQ(next.size(), 5u);
  EXPECT_EQ(ConsumeAll(addr, "ks_disk").size(), 25u);
  Stop(*p);
}

// Self-signed certificate for 127.0.0.1 (openssl CLI).
bool MakeCert(const TempDir& dir) {
  auto r = RunCommand({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                       "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                       "-keyout", dir.path + "/key.pem", "-out", dir.path + "/cert.pem"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return r.exit_code == 0;
}

TEST(KafkaServerScenario, SaslPlainOverTls) {
  TempDir dir;
  ASSERT_TRUE(MakeCert(dir));
  auto p =
      StartNotify("ks_secure", {"--kafkaserver-sasl-user", "alice", "--kafkaserver-sasl-password",
                                "s3cret", "--kafkaserver-tls-cert", dir.path + "/cert.pem",
                                "--kafkaserver-tls-key", dir.path + "/key.pem"});
  ASSERT_TRUE(p);
  const std::string addr = KafkaAddr(*p);
  NotifyMany("ks_secure", 7);
  ASSERT_TRUE(WaitStored(*p, 7));
  const std::vector<std::string> tls = {"-X", "security.protocol=SASL_SSL",
                                        "-X", "sasl.mechanisms=PLAIN",
                                        "-X", "ssl.ca.location=" + dir.path + "/cert.pem"};
  auto creds = [&](const std::string& password) {
    auto v = tls;
    v.insert(v.end(), {"-X", "sasl.username=alice", "-X", "sasl.password=" + password});
    return v;
  };
  EXPECT_EQ(ConsumeAll(addr, "ks_secure", creds("s3cret")).size(), 7u);

  auto wrong = creds("wrong");
  std::vector<std::string> args = {"-b", addr, "-L", "-m", "5"};
  args.insert(args.end(), wrong.begin(), wrong.end());
  auto denied = Kcat(args);
  EXPECT_NE(denied.exit_code, 0);
  EXPECT_NE(denied.output.find("uthentication"), std::string::npos) << denied.output;
  EXPECT_TRUE(p->WaitForStderr("SASL authentication failed"));

  // Plain TCP to a TLS listener fails; TLS without SASL is refused after the handshake.
  auto plain = Kcat({"-b", addr, "-L", "-m", "3"});
  EXPECT_NE(plain.exit_code, 0);
  auto no_sasl = Kcat({"-b", addr, "-L", "-m", "3", "-X", "security.protocol=SSL", "-X",
                       "ssl.ca.location=" + dir.path + "/cert.pem"});
  EXPECT_NE(no_sasl.exit_code, 0);
  EXPECT_TRUE(p->WaitForStderr("before SASL authentication"));

  // kafkajs with SASL/PLAIN over TLS.
  auto js = StartNode("kafkajs_consume.js",
                      {"--brokers", addr, "--topic", "ks_secure", "--group", "sec-grp", "--expect",
                       "7", "--from-beginning", "--quiet", "--sasl-user", "alice",
                       "--sasl-password", "s3cret", "--ssl-ca", dir.path + "/cert.pem"});
  ASSERT_TRUE(js);
  ASSERT_TRUE(WaitFor(*js, "done", 60s)) << js->Stderr();
  EXPECT_EQ(LastWith(*js, "done")->at("count").as_int64(), 7);
  Stop(*p);
}

// kcat options: SASL/PLAIN (no TLS) as `user`.
std::vector<std::string> SaslAs(const std::string& user, const std::string& password) {
  return {"-X", "security.protocol=SASL_PLAINTEXT",
          "-X", "sasl.mechanisms=PLAIN",
          "-X", "sasl.username=" + user,
          "-X", "sasl.password=" + password};
}

// pgcdc with the accounts of `users_file` and one ACL `rule` (a bad one:
// pgcdc exits).
CommandResult ListenWithAcl(const std::string& users_file, const std::string& rule) {
  return RunCommand({PgcdcBinary(), "listen", "--db", SharedCluster().Url(), "-c", "x", "-a",
                     "kafkaserver", "--kafkaserver-users-file", users_file, "--kafkaserver-acl",
                     rule});
}

// Several SASL users from a file, per-topic ACLs: alice reads the events'
// topic, bob only his own; each Kafka client sees what the rules grant.
TEST(KafkaServerScenario, AclsGiveEachSaslUserItsOwnTopics) {
  TempDir dir;
  const std::string users = dir.path + "/users";
  std::ofstream(users) << "# kafkaserver accounts\nalice:a-pass\nbob:b-pass\n";
  auto p = StartNotify("ks_acl", {"--kafkaserver-users-file", users, "--kafkaserver-acl",
                                  "alice:read:ks_acl", "--kafkaserver-acl", "bob:all:bob.*"});
  ASSERT_TRUE(p);
  const std::string addr = KafkaAddr(*p);
  NotifyMany("ks_acl", 4);
  ASSERT_TRUE(WaitStored(*p, 4));
  EXPECT_EQ(ConsumeAll(addr, "ks_acl", SaslAs("alice", "a-pass")).size(), 4u);
  // Topic rules alone leave consumer groups open: alice consumes in one.
  auto grouped = KcatGroup(addr, "alice-grp", "ks_acl", SaslAs("alice", "a-pass"));
  EXPECT_EQ(grouped.exit_code, 0) << grouped.output;
  EXPECT_EQ(ParseKcatRecords(grouped.output).size(), 4u) << grouped.output;
  // alice may not write to the topic she reads.
  auto alice_args = SaslAs("alice", "a-pass");
  std::vector<std::string> produce = {"-b", addr, "-P", "-t", "ks_acl"};
  produce.insert(produce.end(), alice_args.begin(), alice_args.end());
  auto refused = Kcat(produce, "forged\n");
  EXPECT_NE(refused.exit_code, 0) << refused.output;
  EXPECT_NE(refused.output.find("uthorization"), std::string::npos) << refused.output;
  EXPECT_EQ(ConsumeAll(addr, "ks_acl", SaslAs("alice", "a-pass")).size(), 4u);

  // bob does not see the events' topic, and is refused when he asks for it...
  auto bob = SaslAs("bob", "b-pass");
  std::vector<std::string> list = {"-b", addr, "-L"};
  list.insert(list.end(), bob.begin(), bob.end());
  auto all = Kcat(list);
  EXPECT_EQ(all.exit_code, 0) << all.output;
  EXPECT_EQ(all.output.find("\"ks_acl\""), std::string::npos) << all.output;
  list.insert(list.end(), {"-t", "ks_acl"});
  auto one = Kcat(list);
  EXPECT_NE(one.output.find("uthorization"), std::string::npos) << one.output;
  // ...but writes and reads his own topics.
  std::vector<std::string> bob_produce = {"-b", addr, "-P", "-t", "bob.notes"};
  bob_produce.insert(bob_produce.end(), bob.begin(), bob.end());
  auto wrote = Kcat(bob_produce, "n1\nn2\n");
  EXPECT_EQ(wrote.exit_code, 0) << wrote.output;
  EXPECT_EQ(ConsumeAll(addr, "bob.notes", bob).size(), 2u);
  EXPECT_GE(ScrapeMetric(*p, "pgcdc_kafkaserver_authorization_denied_total{api=\"Metadata\"}")
                .value_or(0),
            1.0);
  Stop(*p);

  // A rule naming a user nobody configured is a configuration error.
  auto bad = ListenWithAcl(users, "carol:read:x");
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_NE(bad.output.find("user \"carol\" is not a SASL user"), std::string::npos) << bad.output;
}

// Group ACLs: both users read the topic, only alice may use the ks-team.*
// consumer groups. bob's kcat and kafkajs group consumers get "group
// authorization failed"; without a group bob still reads; a malformed rule is
// a configuration error.
TEST(KafkaServerScenario, GroupAclsRefuseConsumerGroupsNoRuleGrants) {
  TempDir dir;
  const std::string users = dir.path + "/users";
  std::ofstream(users) << "alice:a-pass\nbob:b-pass\n";
  auto p =
      StartNotify("ks_gacl", {"--kafkaserver-users-file", users, "--kafkaserver-acl",
                              "*:read:ks_gacl", "--kafkaserver-acl", "alice:read:group:ks-team.*"});
  ASSERT_TRUE(p);
  const std::string addr = KafkaAddr(*p);
  NotifyMany("ks_gacl", 5);
  ASSERT_TRUE(WaitStored(*p, 5));
  auto kcat_group = [&](const std::vector<std::string>& creds, const std::string& group) {
    return KcatGroup(addr, group, "ks_gacl", creds);
  };
  // alice consumes in her group (kcat -G, then kafkajs).
  auto alice = kcat_group(SaslAs("alice", "a-pass"), "ks-team.kcat");
  EXPECT_EQ(alice.exit_code, 0) << alice.output;
  EXPECT_EQ(ParseKcatRecords(alice.output).size(), 5u) << alice.output;
  auto js =
      StartNode("kafkajs_consume.js", {"--brokers", addr, "--topic", "ks_gacl", "--group",
                                       "ks-team.js", "--expect", "5", "--from-beginning", "--quiet",
                                       "--sasl-user", "alice", "--sasl-password", "a-pass"});
  ASSERT_TRUE(js);
  ASSERT_TRUE(WaitFor(*js, "done", 60s)) << js->Stderr();
  EXPECT_EQ(LastWith(*js, "done")->at("count").as_int64(), 5);

  // bob may read the topic, but not join the group: kcat -G fails...
  auto bob = kcat_group(SaslAs("bob", "b-pass"), "ks-team.kcat");
  EXPECT_NE(bob.exit_code, 0) << bob.output;
  EXPECT_TRUE(ParseKcatRecords(bob.output).empty()) << bob.output;
  EXPECT_NE(bob.output.find("roup authorization failed"), std::string::npos) << bob.output;
  // ...kafkajs fails: it reports "Failed to find group coordinator" and logs
  // the broker's error code it decoded (kafkajs_common.js --log-errors).
  auto bob_js = StartNode("kafkajs_consume.js",
                          {"--brokers", addr, "--topic", "ks_gacl", "--group", "ks-team.js",
                           "--expect", "5", "--from-beginning", "--quiet", "--timeout-ms", "20000",
                           "--sasl-user", "bob", "--sasl-password", "b-pass", "--log-errors"});
  ASSERT_TRUE(bob_js);
  ASSERT_TRUE(WaitFor(*bob_js, "error", 30s)) << bob_js->Stderr();
  const std::string js_error(LastWith(*bob_js, "error")->at("error").as_string());
  EXPECT_NE(js_error.find("group coordinator"), std::string::npos) << js_error;
  EXPECT_NE(bob_js->Stderr().find("Not authorized to access group"), std::string::npos)
      << bob_js->Stderr();
  EXPECT_FALSE(LastWith(*bob_js, "message"));
  bob_js->Signal(SIGTERM);
  bob_js->Wait();
  // ...and without a group he reads the topic.
  EXPECT_EQ(ConsumeAll(addr, "ks_gacl", SaslAs("bob", "b-pass")).size(), 5u);
  // alice's committed offsets are intact: her group resumes with nothing new.
  auto again = kcat_group(SaslAs("alice", "a-pass"), "ks-team.kcat");
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_TRUE(ParseKcatRecords(again.output).empty()) << again.output;

  EXPECT_GE(
      ScrapeMetric(*p, "pgcdc_kafkaserver_authorization_denied_total{api=\"FindCoordinator\"}")
          .value_or(0),
      2.0);
  EXPECT_TRUE(p->WaitForStderr("request refused by kafkaserver.acls")) << p->Stderr();
  EXPECT_NE(p->Stderr().find("user=bob"), std::string::npos) << p->Stderr();
  EXPECT_NE(p->Stderr().find("resource=group name=ks-team.kcat operation=describe"),
            std::string::npos)
      << p->Stderr();
  EXPECT_NE(p->Stderr().find("resource=group name=ks-team.js"), std::string::npos) << p->Stderr();
  Stop(*p);

  // A malformed group rule is a configuration error (exit 2).
  auto bad = ListenWithAcl(users, "alice:write:group:ks-team.*");
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_NE(bad.output.find("config validation:"), std::string::npos) << bad.output;
  EXPECT_NE(bad.output.find("kafkaserver.acls[0] \"alice:write:group:ks-team.*\": operation "
                            "\"write\" on a group: expected read, describe or all"),
            std::string::npos)
      << bad.output;
}

// Transactional-id ACLs: ingest writes inbound.* in transactions under
// ingest-* ids only; kafkajs reports the refusal of any other id.
TEST(KafkaServerScenario, TransactionalIdAclsLimitTransactionalProducers) {
  TempDir dir;
  const std::string users = dir.path + "/users";
  std::ofstream(users) << "ingest:i-pass\n";
  auto p = StartNotify(
      "ks_unused", {"--kafkaserver-users-file", users, "--kafkaserver-acl", "ingest:all:inbound.*",
                    "--kafkaserver-acl", "ingest:write:transactional_id:ingest-*"});
  ASSERT_TRUE(p);
  const std::string addr = KafkaAddr(*p);
  auto produce = [&](const std::string& txn_id) {
    auto js = StartNode("kafkajs_produce.js",
                        {"--brokers", addr, "--topic", "inbound.tx", "--count", "6", "--batch", "3",
                         "--transactional-id", txn_id, "--sasl-user", "ingest", "--sasl-password",
                         "i-pass", "--log-errors"});
    EXPECT_TRUE(js);
    if (js) js->Wait(60s);
    return js;
  };
  auto ok = produce("ingest-1");
  ASSERT_TRUE(ok);
  ASSERT_TRUE(LastWith(*ok, "produced")) << ok->Stderr();
  EXPECT_EQ(LastWith(*ok, "produced")->at("produced").as_int64(), 6);
  auto refused = produce("other-1");
  ASSERT_TRUE(refused);
  EXPECT_FALSE(LastWith(*refused, "produced"));
  ASSERT_TRUE(LastWith(*refused, "error")) << refused->Stderr();
  // kafkajs: "Failed to find group coordinator" (the transaction
  // coordinator), with the decoded broker error in its log.
  const std::string error(LastWith(*refused, "error")->at("error").as_string());
  EXPECT_NE(error.find("coordinator"), std::string::npos) << error;
  EXPECT_NE(refused->Stderr().find("Transactional Id authorization failed"), std::string::npos)
      << refused->Stderr();
  // Only the committed transactions are there (kcat reads read_committed).
  EXPECT_EQ(ConsumeAll(addr, "inbound.tx", SaslAs("ingest", "i-pass")).size(), 6u);
  EXPECT_GE(
      ScrapeMetric(*p, "pgcdc_kafkaserver_authorization_denied_total{api=\"FindCoordinator\"}")
              .value_or(0) +
          ScrapeMetric(*p, "pgcdc_kafkaserver_authorization_denied_total{api=\"InitProducerId\"}")
              .value_or(0),
      1.0);
  EXPECT_NE(p->Stderr().find("resource=transactional_id name=other-1"), std::string::npos)
      << p->Stderr();
  Stop(*p);
}

// Cluster ACLs with a real client: once a rule names the cluster, an
// idempotent producer needs cluster idempotent_write or write on some topic
// (Kafka's KIP-679 rule), so a read-only user's idempotent producer is
// refused with CLUSTER_AUTHORIZATION_FAILED while a writer's succeeds.
TEST(KafkaServerScenario, IdempotentProducersNeedAWriteOrIdempotentWriteRule) {
  TempDir dir;
  const std::string users = dir.path + "/users";
  std::ofstream(users) << "writer:w-pass\nreader:r-pass\n";
  auto p = StartNotify("ks_unused", {"--kafkaserver-users-file", users, "--kafkaserver-acl",
                                     "writer:all:idem.*", "--kafkaserver-acl", "reader:read:idem.*",
                                     "--kafkaserver-acl", "writer:describe:cluster"});
  ASSERT_TRUE(p);
  const std::string addr = KafkaAddr(*p);
  auto produce = [&](const std::string& user, const std::string& password) {
    auto js = StartNode("kafkajs_produce.js", {"--brokers", addr, "--topic", "idem.t", "--count",
                                               "4", "--batch", "2", "--idempotent", "--sasl-user",
                                               user, "--sasl-password", password, "--log-errors"});
    EXPECT_TRUE(js);
    if (js) js->Wait(60s);
    return js;
  };
  auto ok = produce("writer", "w-pass");
  ASSERT_TRUE(ok);
  ASSERT_TRUE(LastWith(*ok, "produced")) << ok->Stderr();
  auto refused = produce("reader", "r-pass");
  ASSERT_TRUE(refused);
  EXPECT_FALSE(LastWith(*refused, "produced"));
  ASSERT_TRUE(LastWith(*refused, "error")) << refused->Stderr();
  const std::string error(LastWith(*refused, "error")->at("error").as_string());
  EXPECT_TRUE(error.find("Cluster authorization failed") != std::string::npos ||
              refused->Stderr().find("Cluster authorization failed") != std::string::npos)
      << error << "\n"
      << refused->Stderr();
  EXPECT_GE(ScrapeMetric(*p, "pgcdc_kafkaserver_authorization_denied_total{api=\"InitProducerId\"}")
                .value_or(0),
            1.0);
  EXPECT_EQ(ConsumeAll(addr, "idem.t", SaslAs("writer", "w-pass")).size(), 4u);
  Stop(*p);
}

}  // namespace
}  // namespace pgcdc::testing
