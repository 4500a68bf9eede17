// User journey: `pgcdc snapshot --table t -a <adapter>` exports every row
// into each adapter that exists, through the same pipeline assembly as
// `listen` (adapters, DLQ, transforms, HTTP): file, pg_table, webhook, sse,
// ws, grpc, kafkaserver, redis, kafka, nats and s3. Serving adapters wait for a first client before
// the export starts. Failure paths: a sink that rejects rows dead-letters them (nothing lost, exit
// 0), a misconfigured adapter is a usage error.
#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <sstream>

#include "harness.h"
#include "http_receiver.h"
#include "json_util.h"
#include "kafka_clients.h"
#include "nats_server.h"
#include "redis_server.h"
#include "s3_server.h"
#include "stream_clients.h"

namespace pgcdc::testing {
namespace {

constexpr int kRows = 300;

// (Re)creates `table` with kRows rows (id 1..kRows).
void MakeTable(const std::string& table) {
  auto conn = Connect();
  ExecOrFail(conn, "DROP TABLE IF EXISTS " + table);
  ExecOrFail(conn, "CREATE TABLE " + table + " (id int PRIMARY KEY, name text)");
  ExecOrFail(conn, "INSERT INTO " + table + " SELECT g, 'row ' || g FROM generate_series(1, " +
                       std::to_string(kRows) + ") g");
}

std::unique_ptr<Process> StartSnapshot(const std::string& table,
                                       const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"snapshot", "--db", SharedCluster().Url(), "--table", table};
  for (const auto& a : extra) args.push_back(a);
  return Process::Start({.args = std::move(args)});
}

// Row ids found in event JSON documents (payload.row.id), as a set.
std::set<int64_t> RowIds(const std::vector<std::string>& events) {
  std::set<int64_t> ids;
  for (const auto& e : events) {
    auto v = ParseJson(e).as_object();
    EXPECT_EQ(v["operation"].as_string(), "SNAPSHOT") << e;
    ids.insert(v["payload"].as_object()["row"].as_object()["id"].as_int64());
  }
  return ids;
}

void ExpectAllRows(const std::set<int64_t>& ids, size_t events) {
  EXPECT_EQ(events, static_cast<size_t>(kRows)) << "every row exactly once";
  EXPECT_EQ(ids.size(), static_cast<size_t>(kRows));
  if (!ids.empty()) {
    EXPECT_EQ(*ids.begin(), 1);
    EXPECT_EQ(*ids.rbegin(), kRows);
  }
}

TEST(SnapshotAdapters, File) {
  MakeTable("snap_a_file");
  TempDir d;
  const std::string path = d.path + "/rows.jsonl";
  auto p = StartSnapshot("snap_a_file", {"-a", "file", "--file-path", path});
  ASSERT_TRUE(p);
  ASSERT_EQ(p->Wait(60s), 0) << p->Stderr();
  auto lines = ReadFileLines(path);
  ExpectAllRows(RowIds(lines), lines.size());
}

// SPEC's snapshot --drop-columns / --filter-operations: the same transforms
// as listen (a filter that keeps only INSERTs drops every SNAPSHOT row).
TEST(SnapshotAdapters, TransformFlagsApply) {
  MakeTable("snap_a_tx");
  TempDir d;
  const std::string path = d.path + "/rows.jsonl";
  auto p =
      StartSnapshot("snap_a_tx", {"-a", "file", "--file-path", path, "--drop-columns", "name"});
  ASSERT_TRUE(p);
  ASSERT_EQ(p->Wait(60s), 0) << p->Stderr();
  auto lines = ReadFileLines(path);
  ExpectAllRows(RowIds(lines), lines.size());
  for (const auto& l : lines) {
    ASSERT_FALSE(
        ParseJson(l).as_object()["payload"].as_object()["row"].as_object().contains("name"))
        << l;
  }
  const std::string none = d.path + "/none.jsonl";
  p = StartSnapshot("snap_a_tx",
                    {"-a", "file", "--file-path", none, "--filter-operations", "INSERT"});
  ASSERT_TRUE(p);
  ASSERT_EQ(p->Wait(60s), 0) << p->Stderr();
  EXPECT_TRUE(ReadFileLines(none).empty());
}

TEST(SnapshotAdapters, Exec) {
  MakeTable("snap_a_exec");
  TempDir d;
  const std::string path = d.path + "/exec.jsonl";
  auto p = StartSnapshot("snap_a_exec", {"-a", "exec", "--exec-command", "cat >> " + path});
  ASSERT_TRUE(p);
  ASSERT_EQ(p->Wait(60s), 0) << p->Stderr();
  auto lines = ReadFileLines(path);
  ExpectAllRows(RowIds(lines), lines.size());
}

TEST(SnapshotAdapters, NullCountsEveryRow) {
  MakeTable("snap_a_null");
  auto p = StartSnapshot("snap_a_null", {"-a", "null"});
  ASSERT_TRUE(p);
  ASSERT_EQ(p->Wait(60s), 0) << p->Stderr();
  EXPECT_NE(p->Stderr().find("null adapter closed events=" + std::to_string(kRows)),
            std::string::npos)
      << p->Stderr();
}

TEST(SnapshotAdapters, PgTable) {
  MakeTable("snap_a_pg");
  auto conn = Connect();
  ExecOrFail(conn, "DROP TABLE IF EXISTS snap_a_sink");
  auto init =
      RunCommand({PgcdcBinary(), "init", "--adapter", "pg_table", "--table", "snap_a_sink"});
  ASSERT_EQ(init.exit_code, 0) << init.output;
  ExecOrFail(conn, init.output);
  auto p = StartSnapshot("snap_a_pg", {"-a", "pg_table", "--pg-table-name", "snap_a_sink"});
  ASSERT_TRUE(p);
  ASSERT_EQ(p->Wait(60s), 0) << p->Stderr();
  auto rows = conn.Query("SELECT payload::text FROM snap_a_sink");
  ASSERT_TRUE(rows) << rows.error().message();
  std::set<int64_t> ids;
  for (auto& r : *rows) {
    ids.insert(ParseJson(r[0].value_or("")).as_object()["row"].as_object()["id"].as_int64());
  }
  ExpectAllRows(ids, rows->size());
}

TEST(SnapshotAdapters, RedisSync) {
  MakeTable("snap_a_redis");
  RedisServer redis;
  auto p = StartSnapshot("snap_a_redis", {"-a", "redis", "--redis-url", redis.Url(), "--redis-mode",
                                          "sync", "--redis-key-prefix", "row:"});
  ASSERT_TRUE(p);
  ASSERT_EQ(p->Wait(60s), 0) << p->Stderr();
  EXPECT_EQ(redis.CliInt({"DBSIZE"}), kRows);
  std::set<int64_t> ids;
  for (int id = 1; id <= kRows; ++id) {
    auto v = ParseJson(redis.Cli({"GET", "row:" + std::to_string(id)})).as_object();
    ids.insert(v["id"].as_int64());
    EXPECT_EQ(v["name"].as_string(), "row " + std::to_string(id));
  }
  ExpectAllRows(ids, static_cast<size_t>(redis.CliInt({"DBSIZE"})));
}

// The sink acknowledges rows only once their object is stored, and the export
// waits for that: it ends with the first flush (here the 1 s interval), and
// every row is in the bucket.
TEST(SnapshotAdapters, S3) {
  MakeTable("snap_a_s3");
  S3Server s3;
  auto p =
      StartSnapshot("snap_a_s3", {"-a", "s3", "--s3-bucket", "bkt", "--s3-endpoint", s3.Endpoint(),
                                  "--s3-access-key-id", "S3RVER", "--s3-secret-access-key",
                                  "S3RVER", "--s3-flush-interval", "1s"});
  ASSERT_TRUE(p);
  ASSERT_EQ(p->Wait(60s), 0) << p->Stderr();
  EXPECT_EQ(s3.Objects().size(), 1u) << "one flush";
  std::vector<std::string> events;
  for (const auto& [key, body] : s3.Objects()) {
    EXPECT_TRUE(key.starts_with("channel=pgcdc_snap_a_s3/year=")) << key;
    std::istringstream in(body);
    for (std::string line; std::getline(in, line);) events.push_back(line);
  }
  ExpectAllRows(RowIds(events), events.size());
}

// Every row lands in the JetStream stream (read back by our own consumer),
// once, with its event id as Nats-Msg-Id.
TEST(SnapshotAdapters, Nats) {
  MakeTable("snap_a_nats");
  NatsServer nats;
  auto p = StartSnapshot("snap_a_nats", {"-a", "nats", "--nats-url", nats.Url(), "--nats-stream",
                                         "SNAP", "--nats-subject", "snap"});
  ASSERT_TRUE(p);
  ASSERT_EQ(p->Wait(60s), 0) << p->Stderr();
  std::vector<std::string> events;
  for (const auto& m : nats.ReadStream("SNAP")) {
    EXPECT_EQ(m.subject, "snap.pgcdc.snap_a_nats");
    EXPECT_EQ(m.msg_id, ParseJson(m.data).as_object()["id"].as_string());
    events.push_back(m.data);
  }
  ExpectAllRows(RowIds(events), events.size());
}

// Regression: `snapshot -a webhook` used to fail with "no dead letter queue
// attached" (snapshot assembled its pipeline without the DLQ).
TEST(SnapshotAdapters, Webhook) {
  MakeTable("snap_a_hook");
  HttpReceiver hook;
  ASSERT_TRUE(hook.ok());
  auto p = StartSnapshot("snap_a_hook", {"-a", "webhook", "--url", hook.Url()});
  ASSERT_TRUE(p);
  ASSERT_EQ(p->Wait(60s), 0) << p->Stderr();
  std::vector<std::string> bodies;
  for (const auto& r : hook.Requests()) {
    // One event per request, or a JSON array batch.
    auto v = ParseJson(r.body);
    if (v.is_array()) {
      for (const auto& e : v.as_array()) bodies.push_back(boost::json::serialize(e));
    } else {
      bodies.push_back(r.body);
    }
  }
  ExpectAllRows(RowIds(bodies), bodies.size());
}

// Failure path: the receiver rejects every row; each is dead-lettered after
// its retries (nothing lost: stderr DLQ carries every row) and the export
// still completes.
TEST(SnapshotAdapters, WebhookRejectingRowsDeadLettersThem) {
  MakeTable("snap_a_hook_bad");
  HttpReceiver hook;
  ASSERT_TRUE(hook.ok());
  hook.SetResponder(
      [](const HttpReceiver::Request&) { return HttpReceiver::Reply{.status = 400}; });
  auto p =
      StartSnapshot("snap_a_hook_bad", {"-a", "webhook", "--url", hook.Url(), "--retries", "1"});
  ASSERT_TRUE(p);
  ASSERT_EQ(p->Wait(60s), 0) << p->Stderr();
  std::vector<std::string> dead;
  std::string err = p->Stderr();
  for (size_t pos = 0, nl; (nl = err.find('\n', pos)) != std::string::npos; pos = nl + 1) {
    const std::string line = err.substr(pos, nl - pos);
    if (line.starts_with("{") && line.find("\"event\"") != std::string::npos) {
      dead.push_back(boost::json::serialize(ParseJson(line).as_object()["event"]));
    }
  }
  ExpectAllRows(RowIds(dead), dead.size());
}

TEST(SnapshotAdapters, MisconfiguredAdapterIsAUsageError) {
  auto p = StartSnapshot("snap_a_file", {"-a", "webhook"});
  ASSERT_TRUE(p);
  EXPECT_EQ(p->Wait(20s), 2);
  EXPECT_NE(p->Stderr().find("webhook.url"), std::string::npos) << p->Stderr();
}

// Serving adapters: the export waits for a client, then every row reaches it.
std::unique_ptr<Process> StartServing(const std::string& table, const std::string& adapter,
                                      const std::vector<std::string>& extra = {}) {
  MakeTable(table);
  std::vector<std::string> args = {"-a", adapter, "--http-addr", "127.0.0.1:0"};
  for (const auto& a : extra) args.push_back(a);
  auto p = StartSnapshot(table, args);
  if (p && !p->WaitForStderr("waiting for a client", 20s)) {
    ADD_FAILURE() << p->Stderr();
    return nullptr;
  }
  return p;
}

void ExpectClientGotAllRows(Process& client, Process& snapshot) {
  ASSERT_TRUE(WaitFor(client, "done", 60s)) << client.Stderr() << snapshot.Stderr();
  auto done = LastWith(client, "done");
  ASSERT_TRUE(done);
  std::vector<std::string> events;
  if (const auto* sse = done->if_contains("events")) {
    for (const auto& v : sse->as_array()) {
      const auto& e = v.as_object();
      if (const auto* data = e.if_contains("data")) {  // sse_clients.js: {id, event, data}
        events.emplace_back(data->as_string());
        continue;
      }
      // grpc_clients.js: the Event message's fields, payload as JSON text.
      events.push_back(R"({"operation":)" + boost::json::serialize(e.at("operation")) +
                       R"(,"payload":)" + std::string(e.at("payload").as_string()) + "}");
    }
  } else {  // ws_clients.js: message texts; graphql_clients.js: {"events":{envelope}}
    for (const auto& m : done->at("messages").as_array()) {
      events.push_back(m.is_string() ? std::string(m.as_string())
                                     : boost::json::serialize(m.as_object().at("events")));
    }
  }
  ExpectAllRows(RowIds(events), events.size());
  EXPECT_EQ(snapshot.Wait(60s), 0) << snapshot.Stderr();
}

TEST(SnapshotAdapters, Sse) {
  auto p = StartServing("snap_a_sse", "sse");
  ASSERT_TRUE(p);
  auto addr = p->HttpAddr();
  ASSERT_TRUE(addr) << p->Stderr();
  auto client =
      StartNode("sse_clients.js", {"--url", "http://" + *addr + "/events", "--channels",
                                   "pgcdc:snap_a_sse", "--expect", std::to_string(kRows), "--keep",
                                   std::to_string(kRows), "--timeout-ms", "60000"});
  ASSERT_TRUE(client);
  ExpectClientGotAllRows(*client, *p);
}

TEST(SnapshotAdapters, WebSocket) {
  auto p = StartServing("snap_a_ws", "ws");
  ASSERT_TRUE(p);
  auto addr = p->HttpAddr();
  ASSERT_TRUE(addr) << p->Stderr();
  auto client = StartNode("ws_clients.js",
                          {"--url", "ws://" + *addr + "/ws", "--expect", std::to_string(kRows),
                           "--keep", std::to_string(kRows), "--timeout-ms", "60000"});
  ASSERT_TRUE(client);
  ExpectClientGotAllRows(*client, *p);
}

TEST(SnapshotAdapters, Grpc) {
  auto p = StartServing("snap_a_grpc", "grpc", {"--grpc-addr", "127.0.0.1:0"});
  ASSERT_TRUE(p);
  const std::string addr = GrpcAddr(*p);
  ASSERT_FALSE(addr.empty()) << p->Stderr();
  auto client =
      StartNode("grpc_clients.js", {"--addr", addr, "--expect", std::to_string(kRows), "--keep",
                                    std::to_string(kRows), "--timeout-ms", "60000"});
  ASSERT_TRUE(client);
  ExpectClientGotAllRows(*client, *p);
}

TEST(SnapshotAdapters, Graphql) {
  auto p = StartServing("snap_a_gql", "graphql", {"--graphql-buffer-size", std::to_string(kRows)});
  ASSERT_TRUE(p);
  auto addr = p->HttpAddr();
  ASSERT_TRUE(addr) << p->Stderr();
  auto client =
      StartNode("graphql_clients.js", {"--url", "ws://" + *addr + "/graphql", "--query",
                                       "subscription { events }", "--expect", std::to_string(kRows),
                                       "--keep", std::to_string(kRows), "--timeout-ms", "60000"});
  ASSERT_TRUE(client);
  ExpectClientGotAllRows(*client, *p);
}

// kafkaserver keeps the rows until the consumer group committed them: the
// command exits only after the group has read everything.
TEST(SnapshotAdapters, KafkaServer) {
  auto p = StartServing("snap_a_ks", "kafkaserver", {"--kafkaserver-addr", "127.0.0.1:0"});
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->WaitForStderr("kafkaserver listening")) << p->Stderr();
  std::smatch m;
  const std::string err = p->Stderr();
  ASSERT_TRUE(std::regex_search(err, m, std::regex("kafkaserver listening addr=([^ ]+)")));
  const std::optional<std::string> addr = m[1].str();
  auto consumer =
      StartNode("kafkajs_consume.js",
                {"--brokers", *addr, "--topic", "pgcdc.snap_a_ks", "--group", "snap-grp",
                 "--expect", std::to_string(kRows), "--from-beginning", "--timeout-ms", "60000"});
  ASSERT_TRUE(consumer);
  ASSERT_TRUE(WaitFor(*consumer, "done", 90s)) << consumer->Stderr() << p->Stderr();
  std::vector<std::string> events;
  for (const auto& line : consumer->StdoutLines()) {
    auto v = ParseJson(line).as_object();
    if (!v.contains("message")) continue;
    events.emplace_back(v.at("message").as_object().at("value").as_string());
  }
  ExpectAllRows(RowIds(events), events.size());
  EXPECT_EQ(p->Wait(60s), 0) << p->Stderr();
}

// Into Kafka (the librdkafka mock cluster), envelope values so RowIds can
// read them; the snapshot ends only once the brokers confirmed every row.
TEST(SnapshotAdapters, Kafka) {
  MakeTable("snap_a_kafka");
  auto mock = MockKafka::Start();
  ASSERT_TRUE(mock);
  auto p = StartSnapshot("snap_a_kafka", {"-a", "kafka", "--kafka-brokers", mock->bootstrap(),
                                          "--kafka-value", "envelope"});
  ASSERT_TRUE(p);
  ASSERT_EQ(p->Wait(60s), 0) << p->Stderr();
  std::vector<std::string> events;
  for (const auto& r : ConsumeAll(mock->bootstrap(), "pgcdc.snap_a_kafka")) {
    events.push_back(r.value);
  }
  ExpectAllRows(RowIds(events), events.size());
}

}  // namespace
}  // namespace pgcdc::testing
