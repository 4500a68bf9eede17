// User journey: analysts read recent row changes with an Arrow Flight client
// (pgcdc -a arrow). Real client: npm @grpc/grpc-js with
// proto/arrow/flight/flight.proto, record batches decoded by npm apache-arrow
// (tests/tools/flight_client.js); real PostgreSQL, WAL detector.
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "harness.h"
#include "stream_clients.h"
#include "test_certs.h"

namespace pgcdc::testing {
namespace {

constexpr int kInvalidArgument = 3;
constexpr int kOutOfRange = 11;
constexpr int kUnimplemented = 12;
constexpr int kUnauthenticated = 16;
constexpr int kUnavailable = 14;

std::unique_ptr<Process> StartArrow(const std::string& publication,
                                    std::vector<std::string> extra) {
  std::vector<std::string> args = {"-a", "arrow", "--arrow-addr", "127.0.0.1:0"};
  args.insert(args.end(), extra.begin(), extra.end());
  return StartWalListen(WalListenArgs(publication, args));
}

// Runs flight_client.js to completion and returns its done line.
boost::json::object Flight(std::vector<std::string> args) {
  auto c = StartNode("flight_client.js", std::move(args));
  if (!c || !WaitFor(*c, "done", 60s)) {
    std::string out;
    if (c) {
      for (const auto& line : c->StdoutLines()) out += line.substr(0, 300) + "\n";
    }
    ADD_FAILURE() << "flight client not done; stdout: " << out
                  << " stderr: " << (c ? c->Stderr() : std::string());
    return {};
  }
  return *LastWith(*c, "done");
}

int64_t StatusCode(const boost::json::object& done) {
  auto it = done.find("status");
  return it == done.end() ? 0 : it->value().as_object().at("code").as_int64();
}

std::string StatusDetails(const boost::json::object& done) {
  auto it = done.find("status");
  return it == done.end() ? std::string() : std::string(it->value().at("details").as_string());
}

std::string Ticket(const std::string& channel, int64_t offset) {
  return R"({"channel":")" + channel + R"(","offset":)" + std::to_string(offset) + "}";
}

bool Buffered(Process& p, double n) {
  return Eventually([&] { return ScrapeMetric(p, "pgcdc_arrow_buffered_events") == n; }, 30s);
}

void InsertTyped(int first, int last) {
  auto conn = Connect();
  ExecOrFail(conn,
             "INSERT INTO ar_types SELECT g, "
             "CASE WHEN g % 7 = 0 THEN NULL ELSE g END, "
             "CASE WHEN g % 7 = 0 THEN NULL ELSE g * 10000000000 END, "
             "CASE WHEN g % 7 = 0 THEN NULL ELSE g + 0.5 END, "
             "CASE WHEN g % 7 = 0 THEN NULL ELSE g + 0.25 END, "
             "CASE WHEN g % 7 = 0 THEN NULL ELSE g % 2 = 0 END, "
             "CASE WHEN g % 7 = 0 THEN NULL ELSE 'row é ' || g END, "
             "CASE WHEN g % 7 = 0 THEN NULL ELSE (g || '.50')::numeric END, "
             "CASE WHEN g % 7 = 0 THEN NULL ELSE "
             "  '2024-01-01'::timestamp + make_interval(secs => g + 0.123456) END, "
             "CASE WHEN g % 7 = 0 THEN NULL ELSE "
             "  '2024-01-01 00:00:00+02'::timestamptz + make_interval(secs => g) END, "
             "CASE WHEN g % 7 = 0 THEN NULL ELSE '2024-01-01'::date + g END, "
             "CASE WHEN g % 7 = 0 THEN NULL ELSE decode(lpad(to_hex(g), 4, '0'), 'hex') "
             "END, "
             "CASE WHEN g % 7 = 0 THEN NULL ELSE jsonb_build_object('i', g) END "
             "FROM generate_series(" +
                 std::to_string(first) + ", " + std::to_string(last) + ") g");
}

// Row i of ar_types as flight_client.js reports it (int64 and temporal
// values as the stored integers, bytea as hex).
void ExpectTypedRow(const boost::json::object& row, int64_t i) {
  ASSERT_EQ(row.at("id").as_int64(), i) << row;
  EXPECT_EQ(row.at("_pgcdc_operation").as_string(), "INSERT");
  EXPECT_EQ(row.at("_pgcdc_id").as_string().size(), 36u);
  if (i % 7 == 0) {
    for (const char* c : {"i2", "i8", "f4", "f8", "ok", "t", "n", "ts", "tstz", "d", "b", "j"}) {
      EXPECT_TRUE(row.at(c).is_null()) << c << " " << row;
    }
    return;
  }
  EXPECT_EQ(row.at("i2").as_int64(), i);
  EXPECT_EQ(row.at("i8").as_string(), std::to_string(i * 10'000'000'000));
  EXPECT_DOUBLE_EQ(row.at("f4").as_double(), i + 0.5);
  EXPECT_DOUBLE_EQ(row.at("f8").as_double(), i + 0.25);
  EXPECT_EQ(row.at("ok").as_bool(), i % 2 == 0);
  EXPECT_EQ(row.at("t").as_string(), "row \xc3\xa9 " + std::to_string(i));
  EXPECT_EQ(row.at("n").as_string(), std::to_string(i) + ".50");
  constexpr int64_t k2024 = 1'704'067'200;  // 2024-01-01T00:00:00Z
  EXPECT_EQ(row.at("ts").as_string(), std::to_string((k2024 + i) * 1'000'000 + 123'456));
  EXPECT_EQ(row.at("tstz").as_string(), std::to_string((k2024 - 7200 + i) * 1'000'000));
  EXPECT_EQ(row.at("d").as_string(), std::to_string(k2024 / 86'400 + i));
  char hex[8];
  std::snprintf(hex, sizeof hex, "%04llx", static_cast<long long>(i));
  EXPECT_EQ(row.at("b").as_string(), hex);
  EXPECT_EQ(row.at("j").as_string(), R"({"i":)" + std::to_string(i) + "}");
}

std::string FieldType(const boost::json::array& schema, const std::string& name) {
  for (const auto& f : schema) {
    if (f.at("name").as_string() == name) return std::string(f.at("type").as_string());
  }
  return "(missing)";
}

TEST(ArrowScenario, TypedColumnsEveryRowAndTheNextOffsetContinuesExactly) {
  auto conn = Connect();
  FreshPublishedTable(conn, "ar_types",
                      "id int PRIMARY KEY, i2 int2, i8 int8, f4 float4, f8 float8, ok bool, "
                      "t text, n numeric, ts timestamp, tstz timestamptz, d date, b bytea, j jsonb",
                      "p_arrow_types");
  auto p = StartArrow("p_arrow_types", {"--arrow-schema", "typed", "--arrow-buffer-size", "1000"});
  ASSERT_TRUE(p);
  const auto addr = GrpcAddr(*p, "arrow");
  ASSERT_FALSE(addr.empty()) << p->Stderr();
  InsertTyped(1, 300);
  ASSERT_TRUE(Buffered(*p, 300)) << p->Stderr();

  auto list = Flight({"--addr", addr, "--list"});
  const auto& flights = list["flights"].as_array();
  ASSERT_EQ(flights.size(), 1u) << list;
  const auto& f = flights[0].as_object();
  EXPECT_EQ(f.at("path").as_array()[0].as_string(), "pgcdc:ar_types");
  EXPECT_EQ(f.at("total_records").as_int64(), 300);
  EXPECT_EQ(f.at("total_bytes").as_int64(), -1);
  const auto ticket = std::string(f.at("ticket").as_array()[0].as_string());
  EXPECT_EQ(ticket, Ticket("pgcdc:ar_types", 0));
  const auto& schema = f.at("schema").as_array();
  EXPECT_EQ(FieldType(schema, "i2"), "Int16");
  EXPECT_EQ(FieldType(schema, "i8"), "Int64");
  EXPECT_EQ(FieldType(schema, "f4"), "Float32");
  EXPECT_EQ(FieldType(schema, "ok"), "Bool");
  EXPECT_EQ(FieldType(schema, "n"), "Utf8");
  EXPECT_EQ(FieldType(schema, "ts"), "Timestamp<MICROSECOND>");
  EXPECT_EQ(FieldType(schema, "tstz"), "Timestamp<MICROSECOND, UTC>");
  EXPECT_EQ(FieldType(schema, "d"), "Date32<DAY>");
  EXPECT_EQ(FieldType(schema, "b"), "Binary");

  auto first = Flight({"--addr", addr, "--get", ticket});
  ASSERT_EQ(StatusCode(first), 0) << first;
  const auto& rows = first["rows"].as_array();
  ASSERT_EQ(rows.size(), 300u);
  for (size_t i = 0; i < rows.size(); ++i)
    ExpectTypedRow(rows[i].as_object(), static_cast<int64_t>(1 + i));
  const auto& meta = first["app_metadata"].as_array();
  ASSERT_FALSE(meta.empty());
  const int64_t next = meta.back().at("next_offset").as_int64();
  EXPECT_EQ(next, 300);

  // More rows; the next absolute offset continues exactly where the first
  // read ended: nothing skipped, nothing repeated.
  InsertTyped(301, 500);
  ASSERT_TRUE(Buffered(*p, 500));
  auto second = Flight({"--addr", addr, "--get", Ticket("pgcdc:ar_types", next)});
  const auto& more = second["rows"].as_array();
  ASSERT_EQ(more.size(), 200u) << second;
  for (size_t i = 0; i < more.size(); ++i)
    ExpectTypedRow(more[i].as_object(), static_cast<int64_t>(301 + i));
  EXPECT_EQ(ScrapeMetric(*p, "pgcdc_arrow_rows_served_total"), 500);
  EXPECT_EQ(ScrapeMetric(*p, "pgcdc_arrow_flight_records_sent_total"), 500);  // SPEC's name
  EXPECT_EQ(ScrapeMetric(*p, "pgcdc_arrow_flight_clients_active"), 0);        // both streams ended
  EXPECT_EQ(ScrapeMetric(*p, "pgcdc_arrow_value_errors_total"), 0);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(10s), 0) << p->Stderr();
}

// --schema-store: a typed stream's Arrow schema names the store version of
// its table definition (custom_metadata pgcdc.schema_subject/_version, read
// by apache-arrow); after ALTER TABLE ADD COLUMN the next ticket's stream has
// the new column and version 2.
TEST(ArrowScenario, TypedSchemasCarryTheSchemaStoreVersion) {
  auto conn = Connect();
  FreshPublishedTable(conn, "ar_ss", "id int PRIMARY KEY, v text", "p_arrow_ss");
  auto p = StartArrow("p_arrow_ss", {"--arrow-schema", "typed", "--schema-store"});
  ASSERT_TRUE(p);
  const auto addr = GrpcAddr(*p, "arrow");
  ASSERT_FALSE(addr.empty()) << p->Stderr();
  ExecOrFail(conn, "INSERT INTO ar_ss VALUES (1, 'a'), (2, 'b')");
  ExecOrFail(conn, "ALTER TABLE ar_ss ADD COLUMN extra int8");
  ExecOrFail(conn, "INSERT INTO ar_ss VALUES (3, 'c', 30)");
  ASSERT_TRUE(Buffered(*p, 3)) << p->Stderr();

  auto info = Flight({"--addr", addr, "--info", "pgcdc:ar_ss"});
  ASSERT_EQ(info["flights"].as_array().size(), 1u) << info;
  const auto& flight = info["flights"].as_array()[0].as_object();
  ASSERT_TRUE(flight.contains("schema_metadata")) << flight;
  EXPECT_EQ(boost::json::serialize(flight.at("schema_metadata")),
            R"({"pgcdc.schema_subject":"public.ar_ss","pgcdc.schema_version":"1"})");

  auto first = Flight({"--addr", addr, "--get", Ticket("pgcdc:ar_ss", 0)});
  ASSERT_EQ(StatusCode(first), 0) << first;
  EXPECT_EQ(boost::json::serialize(first["metadata"]),
            R"({"pgcdc.schema_subject":"public.ar_ss","pgcdc.schema_version":"1"})");
  ASSERT_EQ(first["rows"].as_array().size(), 2u) << first;
  EXPECT_EQ(FieldType(first["schema"].as_array(), "extra"), "(missing)");
  const int64_t next = first["app_metadata"].as_array().back().at("next_offset").as_int64();
  ASSERT_EQ(next, 2);
  auto second = Flight({"--addr", addr, "--get", Ticket("pgcdc:ar_ss", next)});
  ASSERT_EQ(StatusCode(second), 0) << second;
  EXPECT_EQ(boost::json::serialize(second["metadata"]),
            R"({"pgcdc.schema_subject":"public.ar_ss","pgcdc.schema_version":"2"})");
  ASSERT_EQ(second["rows"].as_array().size(), 1u) << second;
  EXPECT_EQ(second["rows"].as_array()[0].at("extra").as_string(), "30");
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(10s), 0) << p->Stderr();
}

TEST(ArrowScenario, EvictedOffsetsBadTokensAndBadTicketsGetClearErrorsAndServingGoesOn) {
  auto conn = Connect();
  FreshPublishedTable(conn, "ar_ring", "id int PRIMARY KEY, pad text", "p_arrow_ring");
  auto p = StartArrow("p_arrow_ring", {"--arrow-buffer-size", "50", "--arrow-token", "s3cret"});
  ASSERT_TRUE(p);
  const auto addr = GrpcAddr(*p, "arrow");
  ASSERT_FALSE(addr.empty()) << p->Stderr();
  ExecOrFail(conn, "INSERT INTO ar_ring SELECT g, 'x' FROM generate_series(1, 120) g");
  ASSERT_TRUE(Eventually([&] { return ScrapeMetric(*p, "pgcdc_arrow_evicted_total") == 70; }))
      << p->Stderr();
  const std::string ch = "pgcdc:ar_ring";
  const std::vector<std::string> auth = {"--addr", addr, "--token", "s3cret"};
  auto with_auth = [&](std::vector<std::string> more) {
    auto args = auth;
    args.insert(args.end(), more.begin(), more.end());
    return Flight(args);
  };

  // Offset 0 was overwritten: refused, naming the oldest available offset.
  auto gone = with_auth({"--get", Ticket(ch, 0)});
  EXPECT_EQ(StatusCode(gone), kOutOfRange) << gone;
  EXPECT_NE(StatusDetails(gone).find("the oldest available offset is 70"), std::string::npos)
      << gone;
  auto ahead = with_auth({"--get", Ticket(ch, 121)});
  EXPECT_EQ(StatusCode(ahead), kOutOfRange) << ahead;
  EXPECT_EQ(ScrapeMetric(*p, R"(pgcdc_arrow_rejected_total{reason="out_of_range"})"), 2);

  for (const std::string& token : {std::string(), std::string("wrong")}) {
    auto refused = Flight({"--addr", addr, "--token", token, "--get", Ticket(ch, 70)});
    EXPECT_EQ(StatusCode(refused), kUnauthenticated) << refused;
  }
  auto refused_list = Flight({"--addr", addr, "--list"});
  EXPECT_EQ(StatusCode(refused_list), kUnauthenticated) << refused_list;
  EXPECT_EQ(ScrapeMetric(*p, R"(pgcdc_arrow_rejected_total{reason="unauthenticated"})"), 3);

  for (const std::string& bad : {std::string("garbage"), std::string(R"({"offset":1})"),
                                 R"({"channel":")" + ch + R"(","offset":-5})"}) {
    auto r = with_auth({"--get", bad});
    EXPECT_EQ(StatusCode(r), kInvalidArgument) << r;
    EXPECT_NE(StatusDetails(r).find("bad ticket"), std::string::npos) << r;
  }
  auto no_path = with_auth({"--info", ""});
  EXPECT_EQ(StatusCode(no_path), kInvalidArgument) << no_path;

  // Still serving: the listed ticket starts at the oldest offset and gives
  // the 50 newest rows, in order, with SPEC's envelope columns.
  auto list = with_auth({"--list"});
  ASSERT_EQ(list["flights"].as_array().size(), 1u) << list;
  const auto& f = list["flights"].as_array()[0].as_object();
  EXPECT_EQ(f.at("total_records").as_int64(), 50);
  const auto ticket = std::string(f.at("ticket").as_array()[0].as_string());
  EXPECT_EQ(ticket, Ticket(ch, 70));
  auto got = with_auth({"--get", ticket});
  const auto& rows = got["rows"].as_array();
  ASSERT_EQ(rows.size(), 50u) << got;
  std::vector<std::string> names;
  for (const auto& field : got["schema"].as_array()) {
    names.emplace_back(field.at("name").as_string());
  }
  EXPECT_EQ(names, (std::vector<std::string>{"id", "channel", "operation", "payload", "source",
                                             "created_at"}));
  EXPECT_EQ(FieldType(got["schema"].as_array(), "created_at"), "Timestamp<MICROSECOND, UTC>");
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& row = rows[i].as_object();
    EXPECT_EQ(row.at("channel").as_string(), ch);
    EXPECT_EQ(row.at("source").as_string(), "wal_replication");
    auto payload = boost::json::parse(row.at("payload").as_string()).as_object();
    EXPECT_EQ(payload["row"].as_object()["id"].as_int64(), static_cast<int64_t>(71 + i));
  }
  // The newest offset + 1: an empty batch, not an error.
  auto at_end = with_auth({"--get", Ticket(ch, 120)});
  EXPECT_EQ(StatusCode(at_end), 0) << at_end;
  EXPECT_EQ(at_end["rows"].as_array().size(), 0u);
  // Read-only: other Flight RPCs say what is served.
  auto actions = with_auth({"--list-actions"});
  EXPECT_EQ(StatusCode(actions), kUnimplemented) << actions;
  EXPECT_NE(StatusDetails(actions).find("serves ListFlights, GetFlightInfo"), std::string::npos);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(10s), 0) << p->Stderr();
}

TEST(ArrowScenario, Tls) {
  TestCertificates certs;
  ASSERT_TRUE(certs.Generate());
  auto conn = Connect();
  FreshPublishedTable(conn, "ar_tls", "id int PRIMARY KEY", "p_arrow_tls");
  auto p = StartArrow("p_arrow_tls", {"--arrow-tls-cert", certs.dir + "/server.pem",
                                      "--arrow-tls-key", certs.dir + "/server.key"});
  ASSERT_TRUE(p);
  const auto addr = GrpcAddr(*p, "arrow");
  ASSERT_FALSE(addr.empty()) << p->Stderr();
  ExecOrFail(conn, "INSERT INTO ar_tls SELECT g FROM generate_series(1, 5) g");
  ASSERT_TRUE(Buffered(*p, 5));
  auto got =
      Flight({"--addr", addr, "--ca", certs.dir + "/ca.pem", "--get", Ticket("pgcdc:ar_tls", 0)});
  EXPECT_EQ(got["rows"].as_array().size(), 5u) << got;
  auto plain = Flight({"--addr", addr, "--get", Ticket("pgcdc:ar_tls", 0)});
  EXPECT_EQ(StatusCode(plain), kUnavailable) << plain;
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(10s), 0) << p->Stderr();
}

}  // namespace
}  // namespace pgcdc::testing
