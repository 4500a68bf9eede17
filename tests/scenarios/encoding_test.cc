// User journey: Avro and Protobuf values with a Schema Registry in the
// messaging sinks (docs/encodings.md). The registry is a FAKE one in this
// test process (src/adapter/encoding/fake_registry.h; none is packaged); the
// bytes pgcdc produced are decoded by the independent npm libraries avsc and
// protobufjs (tests/tools), with the schema pgcdc registered.
//  - WAL rows of many column types → kafka (librdkafka mock cluster) as
//    Avro records with the Confluent header; every typed value decodes back;
//  - the registry failing (HTTP 500) holds the events (health degraded,
//    errors counted) and they all arrive once it answers; a value Avro
//    cannot hold and a schema the registry refuses go to the DLQ;
//  - a registry that does not answer at start is a clear start-up error;
//  - WAL rows → nats (nats-server -js) as pgcdc.plugin.v1.Event protobuf
//    messages; a registry outage holds them (no NATS reconnect), a refused
//    schema is dead-lettered.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <set>

#include "adapter/encoding/fake_registry.h"
#include "adapter/encoding/node_decode.h"
#include "adapter/encoding/protobuf.h"
#include "core/json.h"
#include "harness.h"
#include "json_util.h"
#include "kafka_clients.h"
#include "nats_server.h"

namespace pgcdc::testing {
namespace {

using encoding::testing::FakeRegistry;

double Metric(Process& p, const std::string& series) {
  return ScrapeMetric(p, series).value_or(-1);
}

void Stop(Process& p) {
  p.Signal(SIGTERM);
  EXPECT_EQ(p.Wait(30s), 0) << p.Stderr();
}

// The schema id of a Confluent wire-format value (magic byte 0).
uint32_t SchemaId(const std::string& value) {
  EXPECT_GE(value.size(), 5u);
  EXPECT_EQ(value[0], '\0') << "magic byte";
  uint32_t id = 0;
  for (size_t i = 1; i < 5 && i < value.size(); ++i) {
    id = (id << 8) | static_cast<unsigned char>(value[i]);
  }
  return id;
}

std::vector<boost::json::object> JsonLines(const std::string& text) {
  std::vector<boost::json::object> out;
  for (const auto& line : Split(text, '\n')) {
    if (!line.empty()) out.push_back(ParseJson(line).as_object());
  }
  return out;
}

// The DLQ records pgcdc wrote to stderr (the default DLQ).
std::vector<boost::json::object> DeadLetters(Process& p) {
  std::vector<boost::json::object> out;
  for (const auto& line : Split(p.Stderr(), '\n')) {
    if (line.rfind("{\"event\":", 0) == 0) out.push_back(ParseJson(line).as_object());
  }
  return out;
}

// Avro decimal(38,18) of units × 10^-scale: big-endian two's complement,
// shortest form, as hex (what avsc prints for bytes).
std::string DecimalHex(int64_t units, int scale) {
  __int128 v = units;
  for (int i = scale; i < 18; ++i) v *= 10;
  std::string bytes;
  for (;;) {
    bytes.insert(bytes.begin(), static_cast<char>(static_cast<uint8_t>(v & 0xff)));
    v >>= 8;
    const bool negative = (static_cast<uint8_t>(bytes.front()) & 0x80) != 0;
    if ((v == 0 && !negative) || (v == -1 && negative)) break;
  }
  return json::ToHex(bytes);
}

std::vector<std::string> KafkaArgs(const std::string& publication, const std::string& brokers,
                                   const FakeRegistry& registry, std::vector<std::string> extra) {
  std::vector<std::string> sink = {"-a",
                                   "kafka",
                                   "--kafka-brokers",
                                   brokers,
                                   "--kafka-encoding",
                                   "avro",
                                   "--schema-registry-url",
                                   registry.url(),
                                   "--kafka-backoff-base",
                                   "100ms",
                                   "--kafka-backoff-cap",
                                   "500ms"};
  sink.insert(sink.end(), extra.begin(), extra.end());
  return WalListenArgs(publication, sink);
}

bool WaitKafkaDelivered(Process& p, double n) {
  return Eventually([&] { return Metric(p, "pgcdc_kafka_records_delivered_total") >= n; }, 30s);
}

// Decodes every record of `records` (Confluent-framed Avro) with avsc, using
// the schema the registry holds under each record's id; in record order.
std::vector<boost::json::object> DecodeAvroRecords(const std::vector<KRecord>& records,
                                                   FakeRegistry& registry) {
  std::vector<boost::json::object> out;
  for (const auto& r : records) {
    const std::string schema = registry.schema(SchemaId(r.value));
    EXPECT_FALSE(schema.empty()) << "schema id " << SchemaId(r.value) << " is registered";
    auto decoded = JsonLines(encoding::testing::DecodeAvro(schema, r.value.substr(5)));
    EXPECT_EQ(decoded.size(), 1u);
    if (!decoded.empty()) out.push_back(std::move(decoded.front()));
  }
  return out;
}

// ---------------------------------------------------------------------------

TEST(EncodingScenario, KafkaAvroRecordsDecodeWithAvscAndTheRegisteredSchema) {
  FakeRegistry registry;
  auto mock = MockKafka::Start();
  ASSERT_TRUE(mock);
  auto conn = Connect();
  FreshPublishedTable(conn, "e_avro",
                      "id int PRIMARY KEY, flag bool, big bigint, price numeric(12,2), f8 float8, "
                      "name text, born date, at timestamptz, u uuid, doc jsonb, blob bytea",
                      "p_eavro");
  auto p = StartWalListen(KafkaArgs("p_eavro", mock->bootstrap(), registry, {}));
  ASSERT_TRUE(p);
  EXPECT_EQ(registry.checks(), 1) << "the registry was checked at start";
  ExecOrFail(conn,
             "INSERT INTO e_avro VALUES (1, true, 9007199254740993, 1234.56, -2.25, 'h\u00e9llo', "
             "'2000-03-01', '2024-05-06 07:08:09.123456+00', "
             "'0195b3c2-7a10-7c3e-9f11-2b3c4d5e6f70', '{\"k\": [1, \"x\"]}', '\\x00ff10')");
  ExecOrFail(conn,
             "INSERT INTO e_avro (id, price, f8) SELECT g, -g * 1.5, g FROM generate_series(2, 20) "
             "g");
  ExecOrFail(conn, "UPDATE e_avro SET name = 'changed', flag = false WHERE id = 2");
  ExecOrFail(conn, "DELETE FROM e_avro WHERE id = 3");
  constexpr size_t kEvents = 20 + 1 + 1;
  ASSERT_TRUE(WaitKafkaDelivered(*p, kEvents)) << p->Stderr();

  auto records = ConsumeAllBinary(mock->bootstrap(), "pgcdc.e_avro");
  ASSERT_EQ(records.size(), kEvents);
  std::sort(records.begin(), records.end(), [](const KRecord& a, const KRecord& b) {
    return std::tie(a.partition, a.offset) < std::tie(b.partition, b.offset);
  });
  const uint32_t id = SchemaId(records.front().value);
  for (const auto& r : records) {
    EXPECT_EQ(r.headers.at("content-type"), "application/avro");
    EXPECT_EQ(SchemaId(r.value), id) << "one schema for the table";
  }
  // Registered once, under the channel's subject, as AVRO.
  const auto requests = registry.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].path, "/prefix/subjects/pgcdc.e_avro-value/versions");
  EXPECT_NE(requests[0].body.find("\"schemaType\":\"AVRO\""), std::string::npos);

  const auto decoded = DecodeAvroRecords(records, registry);
  ASSERT_EQ(decoded.size(), kEvents);
  std::map<std::string, std::vector<boost::json::object>> by_key;
  for (size_t i = 0; i < records.size(); ++i) by_key[records[i].key].push_back(decoded[i]);

  // Row 1: every type, as PostgreSQL sent it.
  ASSERT_EQ(by_key["1"].size(), 1u);
  auto& r1 = by_key["1"][0];
  EXPECT_EQ(r1["op"].as_string(), "INSERT");
  EXPECT_EQ(r1["table"].as_string(), "e_avro");
  EXPECT_EQ(r1["schema"].as_string(), "public");
  EXPECT_TRUE(r1["old"].is_null());
  auto& row = r1["row"].as_object();
  EXPECT_EQ(row["id"].to_number<int64_t>(), 1);
  EXPECT_EQ(row["flag"].as_bool(), true);
  EXPECT_EQ(row["big"].as_string(), "9007199254740993") << "int8 exact (long)";
  EXPECT_EQ(row["price"].as_string(), DecimalHex(123456, 2));
  EXPECT_EQ(row["f8"].to_number<double>(), -2.25);
  EXPECT_EQ(row["name"].as_string(), "h\u00e9llo");
  using namespace std::chrono;
  EXPECT_EQ(row["born"].to_number<int64_t>(),
            sys_days{year{2000} / March / 1}.time_since_epoch().count());
  const auto at =
      sys_days{year{2024} / May / 6} + hours(7) + minutes(8) + seconds(9) + microseconds(123456);
  // (avsc reads a long with a logical type as a number; this one is below 2^53.)
  EXPECT_EQ(row["at"].to_number<int64_t>(),
            duration_cast<microseconds>(at.time_since_epoch()).count());
  EXPECT_EQ(row["u"].as_string(), "0195b3c2-7a10-7c3e-9f11-2b3c4d5e6f70");
  EXPECT_EQ(row["doc"].as_string(), R"({"k":[1,"x"]})");
  EXPECT_EQ(row["blob"].as_string(), "00ff10");

  // Row 2: insert, then update; NULL columns decode as null.
  ASSERT_EQ(by_key["2"].size(), 2u);
  auto& ins = by_key["2"][0]["row"].as_object();
  EXPECT_EQ(ins["price"].as_string(), DecimalHex(-300, 2));
  EXPECT_TRUE(ins["name"].is_null());
  EXPECT_TRUE(ins["flag"].is_null());
  EXPECT_EQ(by_key["2"][1]["op"].as_string(), "UPDATE");
  EXPECT_EQ(by_key["2"][1]["row"].as_object()["name"].as_string(), "changed");
  EXPECT_EQ(by_key["2"][1]["row"].as_object()["flag"].as_bool(), false);
  // Row 3: insert, then delete (the key only).
  ASSERT_EQ(by_key["3"].size(), 2u);
  EXPECT_EQ(by_key["3"][1]["op"].as_string(), "DELETE");
  EXPECT_EQ(by_key["3"][1]["row"].as_object()["id"].to_number<int64_t>(), 3);
  EXPECT_TRUE(by_key["3"][1]["row"].as_object()["f8"].is_null());
  for (int k = 4; k <= 20; ++k) {
    const auto& v = by_key[std::to_string(k)];
    ASSERT_EQ(v.size(), 1u) << k;
    EXPECT_EQ(v[0].at("row").as_object().at("f8").to_number<double>(), k);
  }
  EXPECT_EQ(Metric(*p, "pgcdc_encoding_encoded_total{adapter=\"kafka\"}"), kEvents);
  EXPECT_EQ(Metric(*p, "pgcdc_schema_registry_registrations_total"), 1);
  Stop(*p);
}

// Avro with exactly-once transactions (--kafka-transactional-id) into the
// built-in broker: a read_committed consumer decodes every row once, with
// the schema registered for the channel.
TEST(EncodingScenario, KafkaAvroWithTransactionsDecodesForReadCommittedConsumers) {
  FakeRegistry registry;
  std::string addr;
  auto broker = StartKafkaServerBroker(addr);
  ASSERT_TRUE(broker);
  auto conn = Connect();
  FreshPublishedTable(conn, "e_avro_tx", "id int PRIMARY KEY, name text", "p_eavrotx",
                      "pgcdc_p_eavrotx");
  auto p = StartWalListen(KafkaArgs("p_eavrotx", addr, registry,
                                    {"--persistent-slot", "--kafka-transactional-id", "avro-eos",
                                     "--kafka-transaction-max-events", "40"}));
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->WaitForStderr("kafka exactly-once: transactional producer ready")) << p->Stderr();
  constexpr int kRows = 150;
  ExecOrFail(conn, "INSERT INTO e_avro_tx SELECT g, 'n' || g FROM generate_series(1, " +
                       std::to_string(kRows) + ") g");
  std::vector<KRecord> records;
  ASSERT_TRUE(Eventually(
      [&] {
        records =
            ConsumeAllBinary(addr, "pgcdc.e_avro_tx", {"-X", "isolation.level=read_committed"});
        return records.size() >= static_cast<size_t>(kRows);
      },
      60s))
      << records.size() << "\n"
      << p->Stderr();
  EXPECT_EQ(records.size(), static_cast<size_t>(kRows)) << "each row once";
  const auto decoded = DecodeAvroRecords(records, registry);
  std::set<int64_t> ids;
  for (auto d : decoded) {
    auto& row = d["row"].as_object();
    const int64_t id = row["id"].to_number<int64_t>();
    ids.insert(id);
    EXPECT_EQ(row["name"].as_string(), "n" + std::to_string(id));
    EXPECT_EQ(d["op"].as_string(), "INSERT");
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(kRows));
  // The position went into the same transactions.
  EXPECT_FALSE(
      ConsumeAll(addr, "__pgcdc_offsets", {"-X", "isolation.level=read_committed"}).empty());
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
  broker->Signal(SIGTERM);
  (void)broker->Wait();
  (void)conn.Query("SELECT pg_drop_replication_slot('pgcdc_p_eavrotx')");
}

// One table's records per row key, each key's records in order (a key's
// records share a partition), with the store version of the schema each was
// written with and its avsc decoding (only of the keys `decode` accepts, when
// given: each decoding runs node once).
struct KeyedRecord {
  uint32_t schema_id = 0;
  int64_t store_version = 0;
  boost::json::object decoded;
};
int64_t StoreVersionOf(const std::string& avro_schema);
std::map<std::string, std::vector<KeyedRecord>> ByKey(
    const std::string& bootstrap, const std::string& topic, FakeRegistry& registry, size_t* count,
    const std::function<bool(const std::string&)>& decode = nullptr) {
  auto records = ConsumeAllBinary(bootstrap, topic);
  std::sort(records.begin(), records.end(), [](const KRecord& a, const KRecord& b) {
    return std::tie(a.partition, a.offset) < std::tie(b.partition, b.offset);
  });
  *count = records.size();
  std::map<std::string, std::vector<KeyedRecord>> out;
  for (const auto& r : records) {
    const uint32_t id = SchemaId(r.value);
    KeyedRecord k{id, StoreVersionOf(registry.schema(id)), {}};
    if (!decode || decode(r.key)) {
      auto decoded = DecodeAvroRecords({r}, registry);
      if (!decoded.empty()) k.decoded = std::move(decoded.front());
    }
    out[r.key].push_back(std::move(k));
  }
  return out;
}

// The "pgcdc.schema_version" attribute of a registered Avro schema (0: none).
int64_t StoreVersionOf(const std::string& avro_schema) {
  const auto parsed = ParseJson(avro_schema);
  const auto& o = parsed.as_object();
  if (!o.contains("pgcdc.schema_version")) return 0;
  // The subject is the table's: "public.<record name>".
  EXPECT_EQ(std::string(o.at("pgcdc.schema_subject").as_string()),
            "public." + std::string(o.at("name").as_string()));
  return o.at("pgcdc.schema_version").as_int64();
}

// --schema-store with Avro (docs/schema-store.md): each store version of a
// table is one Avro schema, tagged with the subject and version; a column
// added mid-stream (and a type change Avro maps to the same type) gives a new
// registry schema in step with the store, and the records on either side of
// it decode with avsc under the schema their id names.
TEST(EncodingScenario, KafkaAvroSchemasFollowTheSchemaStoreVersions) {
  FakeRegistry registry;
  auto mock = MockKafka::Start();
  ASSERT_TRUE(mock);
  auto conn = Connect();
  FreshPublishedTable(conn, "e_avro_ss", "id int PRIMARY KEY, v text", "p_eavross");
  auto p = StartWalListen(KafkaArgs("p_eavross", mock->bootstrap(), registry, {"--schema-store"}));
  ASSERT_TRUE(p);
  ExecOrFail(conn, "INSERT INTO e_avro_ss VALUES (1, 'a'), (2, 'b')");
  ASSERT_TRUE(WaitKafkaDelivered(*p, 2)) << p->Stderr();
  ExecOrFail(conn, "ALTER TABLE e_avro_ss ADD COLUMN extra bigint");
  ExecOrFail(conn, "INSERT INTO e_avro_ss VALUES (3, 'c', 9007199254740993)");
  ExecOrFail(conn, "UPDATE e_avro_ss SET extra = 7 WHERE id = 1");
  ASSERT_TRUE(WaitKafkaDelivered(*p, 4)) << p->Stderr();
  // text -> varchar: a new store version; Avro still says "string", but the
  // version attribute makes it a new schema too.
  ExecOrFail(conn, "ALTER TABLE e_avro_ss ALTER COLUMN v TYPE varchar(20)");
  ExecOrFail(conn, "INSERT INTO e_avro_ss VALUES (4, 'd', 4)");
  ASSERT_TRUE(WaitKafkaDelivered(*p, 5)) << p->Stderr();

  size_t count = 0;
  auto keys = ByKey(mock->bootstrap(), "pgcdc.e_avro_ss", registry, &count);
  ASSERT_EQ(count, 5u);
  ASSERT_EQ(keys["1"].size(), 2u);
  ASSERT_EQ(keys["2"].size(), 1u);
  ASSERT_EQ(keys["3"].size(), 1u);
  ASSERT_EQ(keys["4"].size(), 1u);
  // Before the ALTER: version 1, no `extra`; after: version 2 with it.
  const auto& before = keys["1"][0];
  EXPECT_EQ(before.store_version, 1);
  EXPECT_EQ(keys["2"][0].store_version, 1);
  EXPECT_EQ(keys["2"][0].schema_id, before.schema_id);
  EXPECT_EQ(before.decoded.at("row").as_object().at("v").as_string(), "a");
  EXPECT_FALSE(before.decoded.at("row").as_object().contains("extra")) << "version 1 has no extra";
  const auto& added = keys["3"][0];
  EXPECT_EQ(added.store_version, 2);
  EXPECT_NE(added.schema_id, before.schema_id);
  EXPECT_EQ(added.decoded.at("row").as_object().at("extra").as_string(), "9007199254740993");
  const auto& updated = keys["1"][1];
  EXPECT_EQ(updated.store_version, 2);
  EXPECT_EQ(updated.schema_id, added.schema_id);
  EXPECT_EQ(updated.decoded.at("op").as_string(), "UPDATE");
  EXPECT_EQ(updated.decoded.at("row").as_object().at("extra").as_string(), "7");
  const auto& retyped = keys["4"][0];
  EXPECT_EQ(retyped.store_version, 3);
  EXPECT_NE(retyped.schema_id, added.schema_id);
  EXPECT_EQ(retyped.decoded.at("row").as_object().at("v").as_string(), "d");
  // Three registrations under the channel's subject, one per store version.
  const auto requests = registry.requests();
  ASSERT_EQ(requests.size(), 3u);
  for (const auto& r : requests) {
    EXPECT_EQ(r.path, "/prefix/subjects/pgcdc.e_avro_ss-value/versions");
  }

  // The store agrees: version 3 is the latest, with the varchar column.
  auto addr = p->HttpAddr();
  ASSERT_TRUE(addr);
  auto latest = HttpSend(*addr, "GET", "/api/v1/schemas/public.e_avro_ss");
  ASSERT_TRUE(latest);
  ASSERT_EQ(latest->status, 200) << latest->body;
  EXPECT_EQ(ParseJson(latest->body).as_object().at("version").as_int64(), 3);
  EXPECT_NE(latest->body.find(R"("type_name":"varchar")"), std::string::npos) << latest->body;
  Stop(*p);
}

// The store's database goes away mid-stream: the change is still delivered
// (no loss) and decodes, without a store version, and the failure is a clear
// warning and a counted error; once the database is back, a later change of
// the table registers the shape in use (no DDL or reconnect needed), and the
// next table definition is registered too.
TEST(EncodingScenario, KafkaAvroWhileTheSchemaStoreIsDownLosesNothing) {
  constexpr const char* kStoreDb = "pgcdc_ss_down";
  FakeRegistry registry;
  auto mock = MockKafka::Start();
  ASSERT_TRUE(mock);
  auto conn = Connect();
  (void)conn.Exec(std::string("ALTER DATABASE ") + kStoreDb + " ALLOW_CONNECTIONS true");
  (void)conn.Exec(std::string("DROP DATABASE IF EXISTS ") + kStoreDb + " WITH (FORCE)");
  ExecOrFail(conn, std::string("CREATE DATABASE ") + kStoreDb);
  FreshPublishedTable(conn, "e_ss_down", "id int PRIMARY KEY, v text", "p_essdown");
  auto p = StartWalListen(KafkaArgs("p_essdown", mock->bootstrap(), registry,
                                    {"--schema-store", "--schema-store-type", "pg", "--schema-db",
                                     SharedCluster().Url(kStoreDb)}));
  ASSERT_TRUE(p);
  ExecOrFail(conn, "INSERT INTO e_ss_down VALUES (1, 'a')");
  ASSERT_TRUE(WaitKafkaDelivered(*p, 1)) << p->Stderr();

  ExecOrFail(conn, std::string("ALTER DATABASE ") + kStoreDb + " ALLOW_CONNECTIONS false");
  ExecOrFail(conn, std::string("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                               "WHERE datname = '") +
                       kStoreDb + "'");
  ExecOrFail(conn, "ALTER TABLE e_ss_down ADD COLUMN a int");
  ExecOrFail(conn, "INSERT INTO e_ss_down VALUES (2, 'b', 2)");
  ASSERT_TRUE(WaitKafkaDelivered(*p, 2)) << p->Stderr();
  EXPECT_TRUE(p->WaitForStderr("cannot register the table schema")) << p->Stderr();
  EXPECT_GE(Metric(*p, "pgcdc_schema_store_errors_total"), 1);

  ExecOrFail(conn, std::string("ALTER DATABASE ") + kStoreDb + " ALLOW_CONNECTIONS true");
  auto store = pg::Conn::Open(SharedCluster().Url(kStoreDb));
  ASSERT_TRUE(store) << store.error().message();
  // Rows of the unchanged table until one of them, after the retry delay,
  // gets the shape registered as version 2.
  int retry_rows = 0;
  ASSERT_TRUE(Eventually(
      [&] {
        ExecOrFail(conn, "INSERT INTO e_ss_down VALUES (" + std::to_string(100 + retry_rows++) +
                             ", 'r', 0)");
        auto v = store->Query(
            "SELECT 1 FROM pgcdc_schemas WHERE subject = 'public.e_ss_down' AND version = 2");
        return v && !v->empty();
      },
      30s))
      << p->Stderr();
  ExecOrFail(conn, "INSERT INTO e_ss_down VALUES (99, 'z', 0)");
  ExecOrFail(conn, "ALTER TABLE e_ss_down ADD COLUMN b int");
  ExecOrFail(conn, "INSERT INTO e_ss_down VALUES (3, 'c', 3, 3)");
  const size_t total = 4 + retry_rows;
  ASSERT_TRUE(WaitKafkaDelivered(*p, total)) << p->Stderr();
  Stop(*p);

  size_t count = 0;
  // The retried rows are checked by their schema's version only.
  auto keys = ByKey(mock->bootstrap(), "pgcdc.e_ss_down", registry, &count,
                    [](const std::string& key) { return key.size() == 1; });
  ASSERT_EQ(count, total);
  for (const char* k : {"1", "2", "3", "99"}) ASSERT_EQ(keys[k].size(), 1u) << k;
  // The rows sent while the store was down, or before the retry, carry no
  // version; from the successful retry on, the shape's version 2.
  EXPECT_EQ(keys["1"][0].store_version, 1);
  EXPECT_EQ(keys["2"][0].store_version, 0);
  EXPECT_EQ(keys["99"][0].store_version, 2) << "registered by a retry, without DDL";
  EXPECT_EQ(keys["3"][0].store_version, 3);
  int unversioned = 0;
  for (int i = 100; i < 100 + retry_rows; ++i) {
    const auto& k = keys[std::to_string(i)];
    ASSERT_EQ(k.size(), 1u) << i;
    EXPECT_TRUE(k[0].store_version == 0 || k[0].store_version == 2) << k[0].store_version;
    if (k[0].store_version == 0) ++unversioned;
    if (i > 100 && keys[std::to_string(i - 1)][0].store_version == 2) {
      EXPECT_EQ(k[0].store_version, 2) << "versioned once registered";
    }
  }
  EXPECT_LT(unversioned, retry_rows) << "the retry came before the last of these rows";
  EXPECT_EQ(keys["1"][0].decoded.at("row").as_object().at("v").as_string(), "a");
  EXPECT_EQ(keys["2"][0].decoded.at("row").as_object().at("a").to_number<int64_t>(), 2);
  EXPECT_EQ(keys["3"][0].decoded.at("row").as_object().at("b").to_number<int64_t>(), 3);
  auto rows = store->Query(
      "SELECT version::text, jsonb_array_length(columns)::text FROM pgcdc_schemas "
      "WHERE subject = 'public.e_ss_down' ORDER BY version");
  ASSERT_TRUE(rows) << rows.error().message();
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ((*rows)[0][1], "2");
  EXPECT_EQ((*rows)[1][1], "3");
  EXPECT_EQ((*rows)[2][1], "4");
}

TEST(EncodingScenario, KafkaRegistryOutageHoldsEventsAndBadValuesGoToTheDlq) {
  FakeRegistry registry;
  auto mock = MockKafka::Start();
  ASSERT_TRUE(mock);
  auto conn = Connect();
  FreshPublishedTable(conn, "e_hold", "id int PRIMARY KEY, v numeric", "p_ehold");
  ExecOrFail(conn, "DROP TABLE IF EXISTS e_hold2, e_refused");
  ExecOrFail(conn, "CREATE TABLE e_hold2 (id int PRIMARY KEY)");
  // The fake registry refuses a schema with this text in it (HTTP 409).
  ExecOrFail(conn, "CREATE TABLE e_refused (id int PRIMARY KEY, \"INCOMPATIBLE\" text)");
  ExecOrFail(conn, "ALTER PUBLICATION p_ehold ADD TABLE e_hold2, e_refused");
  auto p = StartWalListen(KafkaArgs("p_ehold", mock->bootstrap(), registry, {}));
  ASSERT_TRUE(p);
  ExecOrFail(conn, "INSERT INTO e_hold SELECT g, g FROM generate_series(1, 10) g");
  ASSERT_TRUE(WaitKafkaDelivered(*p, 10)) << p->Stderr();

  // The registry fails: e_hold2's schema cannot be registered. Its event
  // and everything after it wait.
  registry.set_status(500);
  ExecOrFail(conn, "INSERT INTO e_hold2 VALUES (1)");
  ExecOrFail(conn, "INSERT INTO e_hold SELECT g, g FROM generate_series(11, 20) g");
  ASSERT_TRUE(Eventually([&] {
    return Metric(*p, "pgcdc_encoding_errors_total{adapter=\"kafka\"}") >= 2;
  })) << p->Stderr();
  ASSERT_TRUE(Eventually([&] {
    return Healthz(*p).find(R"("kafka":{"status":"degraded")") != std::string::npos;
  })) << Healthz(*p);
  EXPECT_EQ(Metric(*p, "pgcdc_kafka_records_delivered_total"), 10) << "held, not skipped";
  registry.set_status(200);
  ASSERT_TRUE(WaitKafkaDelivered(*p, 21)) << p->Stderr();
  ASSERT_TRUE(Eventually([&] {
    return Healthz(*p).find(R"("kafka":{"status":"up")") != std::string::npos;
  })) << Healthz(*p);

  // A numeric Avro's decimal(38,18) cannot hold, and a schema the registry
  // refuses: both dead-lettered with the reason; the rows after them arrive.
  ExecOrFail(conn, "INSERT INTO e_hold VALUES (21, 'NaN')");
  ExecOrFail(conn, "INSERT INTO e_refused VALUES (1, 'x')");
  ExecOrFail(conn, "INSERT INTO e_hold VALUES (22, 22)");
  ASSERT_TRUE(WaitKafkaDelivered(*p, 22)) << p->Stderr();
  ASSERT_TRUE(Eventually([&] {
    return Metric(*p, "pgcdc_kafka_records_dead_lettered_total") == 2;
  })) << p->Stderr();
  Stop(*p);
  const auto dead = DeadLetters(*p);
  ASSERT_EQ(dead.size(), 2u) << p->Stderr();
  const std::string nan_error(dead[0].at("error").as_string());
  EXPECT_NE(nan_error.find("avro encoding: avro: column \"v\": numeric"), std::string::npos)
      << nan_error;
  EXPECT_EQ(
      dead[0].at("event").as_object().at("payload").as_object().at("row").as_object().at("id"), 21);
  const std::string refused_error(dead[1].at("error").as_string());
  EXPECT_NE(refused_error.find("HTTP 409"), std::string::npos) << refused_error;
  EXPECT_EQ(dead[1].at("event").as_object().at("channel").as_string(), "pgcdc:e_refused");

  // Kafka has every other row, each once, typed.
  std::map<std::string, int> ids;
  for (const auto& topic : {"pgcdc.e_hold", "pgcdc.e_hold2"}) {
    const auto records = ConsumeAllBinary(mock->bootstrap(), topic);
    for (const auto& d : DecodeAvroRecords(records, registry)) {
      ++ids[std::string(d.at("table").as_string()) + ":" +
            std::to_string(d.at("row").as_object().at("id").to_number<int64_t>())];
    }
  }
  EXPECT_EQ(ids.size(), 22u);
  for (int i = 1; i <= 22; ++i) {
    if (i != 21) {
      EXPECT_EQ(ids["e_hold:" + std::to_string(i)], 1) << i;
    }
  }
  EXPECT_EQ(ids["e_hold2:1"], 1);
}

TEST(EncodingScenario, ARegistryThatDoesNotAnswerAtStartIsAClearError) {
  FakeRegistry registry;
  registry.set_status(503);
  auto mock = MockKafka::Start();
  ASSERT_TRUE(mock);
  auto [code, err] =
      RunAdapterToExit("kafka", {"--kafka-brokers", mock->bootstrap(), "--kafka-encoding",
                                 "protobuf", "--schema-registry-url", registry.url()});
  EXPECT_EQ(code, 1) << err;
  EXPECT_NE(err.find("kafka: schema registry at 127.0.0.1:"), std::string::npos) << err;
  EXPECT_NE(err.find("GET /schemas/types: HTTP 503"), std::string::npos) << err;

  NatsServer nats;
  std::tie(code, err) = RunAdapterToExit(
      "nats", {"--nats-url", nats.Url(), "--nats-encoding", "avro", "--schema-registry-url",
               "http://127.0.0.1:" + std::to_string(FreeTcpPort())});
  EXPECT_EQ(code, 1) << err;
  EXPECT_NE(err.find("nats: schema registry at 127.0.0.1:"), std::string::npos) << err;
}

std::vector<std::string> NatsArgs(const std::string& publication, const NatsServer& nats,
                                  const std::string& stream, const FakeRegistry& registry) {
  return WalListenArgs(publication,
                       {"-a", "nats", "--nats-url", nats.Url(), "--nats-stream", stream,
                        "--nats-encoding", "protobuf", "--schema-registry-url", registry.url(),
                        "--nats-backoff-base", "50ms", "--nats-backoff-cap", "300ms"});
}

// The pgcdc.plugin.v1.Event in a NATS message (Confluent protobuf framing:
// magic, schema id, message index 0), decoded by protobufjs with the .proto
// text the registry holds.
boost::json::object DecodeEventMessage(const NatsServer::Message& m, FakeRegistry& registry) {
  EXPECT_EQ(m.content_type, "application/x-protobuf");
  const std::string proto = registry.schema(SchemaId(m.data));
  EXPECT_NE(proto.find("package pgcdc.plugin.v1;"), std::string::npos) << proto;
  EXPECT_GE(m.data.size(), 6u);
  EXPECT_EQ(m.data[5], '\0') << "message index: the first message";
  return ParseJson(encoding::testing::DecodeProtobuf(
                       proto, std::string(encoding::protobuf::kEventMessage), m.data.substr(6)))
      .as_object();
}

// The envelope JSON an Event message's payload holds (hex from protobufjs).
boost::json::object Envelope(const boost::json::object& event) {
  std::string hex(event.at("payload").as_string());
  std::string bytes;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    bytes.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return ParseJson(bytes).as_object();
}

TEST(EncodingScenario, NatsProtobufMessagesDecodeWithProtobufjs) {
  FakeRegistry registry;
  NatsServer nats;
  auto conn = Connect();
  FreshPublishedTable(conn, "e_pb", "id int PRIMARY KEY, v text", "p_epb");
  auto p = StartWalListen(NatsArgs("p_epb", nats, "EPB", registry));
  ASSERT_TRUE(p);
  ExecOrFail(conn, "INSERT INTO e_pb SELECT g, 'v' || g FROM generate_series(1, 30) g");
  ExecOrFail(conn, "UPDATE e_pb SET v = 'changed' WHERE id = 7");
  ASSERT_TRUE(Eventually([&] { return nats.StreamMessages("EPB") == 31; }, 30s))
      << nats.StreamMessages("EPB") << "\n"
      << p->Stderr();
  const auto messages = nats.ReadStream("EPB");
  ASSERT_EQ(messages.size(), 31u);
  for (size_t i = 0; i < messages.size(); ++i) {
    const auto& m = messages[i];
    EXPECT_EQ(m.subject, "pgcdc.e_pb");
    auto event = DecodeEventMessage(m, registry);
    EXPECT_EQ(event["id"].as_string(), m.msg_id);
    EXPECT_EQ(event["channel"].as_string(), "pgcdc:e_pb");
    EXPECT_EQ(event["source"].as_string(), "wal_replication");
    EXPECT_EQ(event["operation"].as_string(), i < 30 ? "INSERT" : "UPDATE");
    EXPECT_FALSE(event["created_at_unix_ns"].as_string().empty());
    // The payload is the envelope JSON mode would send.
    auto envelope = Envelope(event);
    EXPECT_EQ(envelope["id"].as_string(), m.msg_id);
    auto& row = envelope["payload"].as_object()["row"].as_object();
    EXPECT_EQ(row["id"].to_number<int64_t>(), i < 30 ? static_cast<int64_t>(i + 1) : 7);
    EXPECT_EQ(row["v"].as_string(), i < 30 ? "v" + std::to_string(i + 1) : "changed");
  }
  const auto requests = registry.requests();
  ASSERT_EQ(requests.size(), 1u) << "one schema, registered once";
  EXPECT_NE(requests[0].body.find("\"schemaType\":\"PROTOBUF\""), std::string::npos);
  Stop(*p);
}

TEST(EncodingScenario, NatsHoldsMessagesWhileTheRegistryFailsAndDeadLettersRefusals) {
  FakeRegistry registry;
  NatsServer nats;
  auto conn = Connect();
  FreshPublishedTable(conn, "e_nhold", "id int PRIMARY KEY", "p_enhold");
  ExecOrFail(conn, "DROP TABLE IF EXISTS e_nother");
  ExecOrFail(conn, "CREATE TABLE e_nother (id int PRIMARY KEY)");
  ExecOrFail(conn, "ALTER PUBLICATION p_enhold ADD TABLE e_nother");
  auto p = StartWalListen(NatsArgs("p_enhold", nats, "ENHOLD", registry));
  ASSERT_TRUE(p);
  // Down before the first event: its schema cannot be registered.
  registry.set_status(500);
  ExecOrFail(conn, "INSERT INTO e_nhold SELECT generate_series(1, 50)");
  ASSERT_TRUE(Eventually([&] {
    return Metric(*p, "pgcdc_encoding_errors_total{adapter=\"nats\"}") >= 2;
  })) << p->Stderr();
  EXPECT_NE(Healthz(*p).find(R"("nats":{"status":"degraded")"), std::string::npos);
  EXPECT_EQ(nats.StreamMessages("ENHOLD"), 0);
  registry.set_status(200);
  ASSERT_TRUE(Eventually([&] { return nats.StreamMessages("ENHOLD") == 50; }, 30s))
      << nats.StreamMessages("ENHOLD") << "\n"
      << p->Stderr();
  ASSERT_TRUE(Eventually([&] {
    return Healthz(*p).find(R"("nats":{"status":"up")") != std::string::npos;
  })) << Healthz(*p);
  EXPECT_EQ(Metric(*p, "pgcdc_nats_reconnects_total"), 0) << "the NATS connection was kept";

  // The registry refuses e_nother's subject (4xx): dead-lettered, the rest
  // goes on.
  registry.set_status(422);
  ExecOrFail(conn, "INSERT INTO e_nother VALUES (1)");
  ASSERT_TRUE(Eventually([&] { return Metric(*p, "pgcdc_nats_dead_lettered_total") == 1; }))
      << p->Stderr();
  registry.set_status(200);
  ExecOrFail(conn, "INSERT INTO e_nhold VALUES (51)");
  ASSERT_TRUE(Eventually([&] { return nats.StreamMessages("ENHOLD") == 51; })) << p->Stderr();
  Stop(*p);
  const auto dead = DeadLetters(*p);
  ASSERT_EQ(dead.size(), 1u) << p->Stderr();
  EXPECT_EQ(dead[0].at("adapter").as_string(), "nats");
  EXPECT_NE(std::string(dead[0].at("error").as_string()).find("HTTP 422"), std::string::npos)
      << dead[0].at("error");

  // In order, each once.
  const auto messages = nats.ReadStream("ENHOLD");
  ASSERT_EQ(messages.size(), 51u);
  for (size_t i = 0; i < messages.size(); ++i) {
    auto envelope = Envelope(DecodeEventMessage(messages[i], registry));
    EXPECT_EQ(envelope["payload"].as_object()["row"].as_object()["id"].to_number<int64_t>(),
              static_cast<int64_t>(i + 1));
  }
}

}  // namespace
}  // namespace pgcdc::testing
