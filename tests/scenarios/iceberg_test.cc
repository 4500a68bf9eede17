// User journeys of the iceberg sink against the real PostgreSQL and s3rver,
// each table read back independently of pgcdc: tests/tools/iceberg_read.js
// parses the metadata and decodes the Avro manifest list and manifests with
// npm avsc; DuckDB's read_parquet (C API) reads the data and delete files the
// manifests list, and this file applies the equality deletes as a reader
// would (a delete applies to data of a lower sequence number).
//  - WAL → local warehouse: every row once, the snapshot chain, field ids;
//  - upsert: updates and deletes leave the newest row per key;
//  - S3 warehouse on s3rver;
//  - kill -9 with a persistent slot: nothing lost;
//  - bad configuration exits 2; an unwritable warehouse degrades health and
//    holds the events, which all arrive once it is fixed.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "harness.h"
#include "json_util.h"
#ifdef PGCDC_TEST_DUCKDB_API
#include "duckdb_reader.h"
#endif
#include "s3_server.h"
#include "stream_clients.h"

namespace pgcdc::testing {
namespace {

namespace bj = boost::json;
namespace fs = std::filesystem;

struct Live {
  // event_id, operation, channel, payload (+ key columns) of every live row.
  std::vector<std::map<std::string, std::string>> rows;
  int64_t data_records = 0;  // rows in data files (before deletes)
  std::string error;
};

#ifdef PGCDC_TEST_DUCKDB_API
// The table's live rows: data files read with read_parquet, equality deletes applied.
Live LiveRows(const bj::object& table, std::map<std::string, int>* field_ids = nullptr) {
  Live live;
  DuckReader duck;
  if (!duck.error().empty()) {
    live.error = duck.error();
    return live;
  }
  // key (joined) -> highest delete sequence number
  std::map<std::string, int64_t> deleted_at;
  std::vector<std::string> key_names;
  if (const auto* ids = table.at("metadata")
                            .at("schemas")
                            .as_array()[0]
                            .as_object()
                            .if_contains("identifier-field-ids")) {
    for (const auto& f : table.at("metadata").at("schemas").as_array()[0].at("fields").as_array()) {
      for (const auto& id : ids->as_array()) {
        if (f.at("id") == id) key_names.emplace_back(f.at("name").as_string());
      }
    }
  }
  auto key_of = [&](const std::map<std::string, std::string>& row) {
    std::string k;
    for (const auto& n : key_names) k += row.at(n) + "\x1f";
    return k;
  };
  for (const auto& f : table.at("files").as_array()) {
    const std::string path(f.at("local").as_string());
    const int64_t seq = std::stoll(std::string(f.at("sequence_number").as_string()));
    const int64_t content = f.at("content").to_number<int64_t>();
    if (content != 2) continue;
    for (const auto& row : duck.Query(
             "SELECT * FROM read_parquet(" + duckdb_api::QuoteLiteral(path) + ")", live.error)) {
      int64_t& at = deleted_at[key_of(row)];
      at = std::max(at, seq);
    }
  }
  for (const auto& f : table.at("files").as_array()) {
    const std::string path(f.at("local").as_string());
    const int64_t seq = std::stoll(std::string(f.at("sequence_number").as_string()));
    if (f.at("content").to_number<int64_t>() != 0) continue;
    auto rows = duck.Query("SELECT * FROM read_parquet(" + duckdb_api::QuoteLiteral(path) + ")",
                           live.error);
    live.data_records += static_cast<int64_t>(rows.size());
    for (auto& row : rows) {
      auto it = key_names.empty() ? deleted_at.end() : deleted_at.find(key_of(row));
      if (it != deleted_at.end() && it->second > seq) continue;
      live.rows.push_back(std::move(row));
    }
    if (field_ids != nullptr && field_ids->empty()) {
      for (const auto& r :
           duck.Query("SELECT name, field_id FROM parquet_schema(" +
                          duckdb_api::QuoteLiteral(path) + ") WHERE field_id IS NOT NULL",
                      live.error)) {
        (*field_ids)[r.at("name")] = std::stoi(r.at("field_id"));
      }
    }
  }
  return live;
}

// Row id (payload row.id, or old.id) -> how many live rows carry it.
std::map<int64_t, int> RowIds(const Live& live) {
  std::map<int64_t, int> ids;
  for (const auto& row : live.rows) {
    auto p = bj::parse(row.at("payload"));
    const auto& o = p.as_object();
    const auto* image = o.if_contains("row");
    if (image == nullptr || image->is_null()) image = o.if_contains("old");
    ++ids[image->at("id").to_number<int64_t>()];
  }
  return ids;
}

std::vector<std::string> IcebergArgs(const std::string& warehouse, std::vector<std::string> extra) {
  std::vector<std::string> a = {"-a",
                                "iceberg",
                                "--iceberg-warehouse",
                                warehouse,
                                "--iceberg-table",
                                "events",
                                "--iceberg-flush-interval",
                                "300ms",
                                "--iceberg-backoff-base",
                                "100ms",
                                "--iceberg-backoff-cap",
                                "500ms",
                                "--bus-mode",
                                "reliable"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

TEST(IcebergScenario, WalToALocalWarehouseHasEveryRowAndAFullSnapshotChain) {
  TempDir dir;
  auto conn = Connect();
  FreshPublishedTable(conn, "ice_rows", "id int PRIMARY KEY, v text", "p_ice");
  auto p = StartWalListen(WalListenArgs(
      "p_ice", IcebergArgs(dir.path, {"--iceberg-flush-size", "500", "--iceberg-namespace",
                                      "cdc.prod", "--tx-markers"})));
  ASSERT_TRUE(p);
  for (int i = 0; i < 3; ++i) {
    ExecOrFail(conn, "INSERT INTO ice_rows SELECT g, 'v' || g FROM generate_series(" +
                         std::to_string(i * 400 + 1) + ", " + std::to_string(i * 400 + 400) +
                         ") g");
  }
  const std::string table_dir = dir.path + "/cdc/prod/events";
  bj::object table;
  Live live;
  ASSERT_TRUE(Eventually(
      [&] {
        if (!fs::exists(table_dir + "/metadata/version-hint.text")) return false;
        table = ReadIcebergTable(table_dir);
        if (table.contains("error")) return false;
        live = LiveRows(table);
        return RowIds(live).size() == 1200;
      },
      60s))
      << bj::serialize(table).substr(0, 2000) << "\n"
      << live.error << "\n"
      << p->Stderr();
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0);
  table = ReadIcebergTable(table_dir);
  ASSERT_FALSE(table.contains("error")) << bj::serialize(table);
  std::map<std::string, int> field_ids;
  live = LiveRows(table, &field_ids);
  EXPECT_TRUE(live.error.empty()) << live.error;
  for (const auto& [id, n] : RowIds(live)) EXPECT_EQ(n, 1) << "row " << id;
  EXPECT_EQ(RowIds(live).size(), 1200u);
  EXPECT_TRUE(table.at("chain_errors").as_array().empty()) << table.at("chain_errors");
  const auto& md = table.at("metadata").as_object();
  EXPECT_EQ(md.at("format-version"), 2);
  const auto& snaps = md.at("snapshots").as_array();
  EXPECT_GE(snaps.size(), 3u) << "flushes of at most 500 events";
  EXPECT_EQ(table.at("version").to_number<int64_t>(), static_cast<int64_t>(snaps.size()) + 1);
  EXPECT_EQ(table.at("hint"), table.at("version"));
  EXPECT_EQ(snaps.back().at("summary").at("total-records"), "1200");
  EXPECT_EQ(snaps.back().at("summary").at("operation"), "append");
  // Every flush's data file is referenced by the current snapshot.
  EXPECT_EQ(table.at("files").as_array().size(), snaps.size());
  int64_t manifest_records = 0;
  for (const auto& f : table.at("files").as_array()) {
    const int64_t n = std::stoll(std::string(f.at("record_count").as_string()));
    manifest_records += n;
    EXPECT_EQ(f.at("content"), 0);
    EXPECT_EQ(f.at("value_counts").at("1").as_string(), std::to_string(n));
    EXPECT_EQ(f.at("null_value_counts").at("6").as_string(), "0");
    EXPECT_EQ(f.at("lower_bounds").at("3").as_string().size(), 16u);  // 8 bytes, hex
    EXPECT_TRUE(std::string(f.at("path").as_string()).starts_with(table_dir + "/data/"));
  }
  EXPECT_EQ(manifest_records, 1200);
  EXPECT_EQ(live.data_records, 1200);
  EXPECT_EQ(field_ids, (std::map<std::string, int>{{"event_id", 1},
                                                   {"operation", 2},
                                                   {"timestamp", 3},
                                                   {"channel", 4},
                                                   {"source", 5},
                                                   {"payload", 6}}));
  for (const auto& row : live.rows) {
    EXPECT_EQ(row.at("operation"), "INSERT");
    EXPECT_EQ(row.at("channel"), "pgcdc:ice_rows");
    EXPECT_EQ(row.at("event_id").size(), 36u);
  }
}

TEST(IcebergScenario, UpsertLeavesTheNewestRowPerKey) {
  TempDir dir;
  auto conn = Connect();
  FreshPublishedTable(conn, "ice_up", "id int PRIMARY KEY, v text", "p_iceup");
  auto p = StartWalListen(
      WalListenArgs("p_iceup", IcebergArgs(dir.path, {"--iceberg-mode", "upsert", "--iceberg-pk",
                                                      "id", "--iceberg-flush-size", "30"})));
  ASSERT_TRUE(p);
  ExecOrFail(conn, "INSERT INTO ice_up SELECT g, 'v' || g FROM generate_series(1, 100) g");
  ExecOrFail(conn, "UPDATE ice_up SET v = 'u' || id WHERE id <= 50");
  ExecOrFail(conn, "DELETE FROM ice_up WHERE id > 90");
  ExecOrFail(conn, "UPDATE ice_up SET v = 'w' || id WHERE id <= 5");
  const std::string table_dir = dir.path + "/pgcdc/events";
  bj::object table;
  Live live;
  auto expected = [&] {
    std::map<std::string, std::string> want;
    for (int id = 1; id <= 90; ++id) {
      want[std::to_string(id)] = (id <= 5 ? "w" : id <= 50 ? "u" : "v") + std::to_string(id);
    }
    return want;
  }();
  std::map<std::string, std::string> got;
  ASSERT_TRUE(Eventually(
      [&] {
        if (!fs::exists(table_dir + "/metadata/version-hint.text")) return false;
        table = ReadIcebergTable(table_dir);
        if (table.contains("error")) return false;
        live = LiveRows(table);
        got.clear();
        for (const auto& row : live.rows) {
          auto payload = bj::parse(row.at("payload"));
          got[row.at("id")] = std::string(payload.at("row").at("v").as_string());
        }
        return got == expected && live.rows.size() == 90;
      },
      60s))
      << got.size() << " live rows\n"
      << live.error << "\n"
      << p->Stderr();
  EXPECT_TRUE(table.at("chain_errors").as_array().empty()) << table.at("chain_errors");
  const auto& schema = table.at("metadata").at("schemas").as_array()[0];
  EXPECT_EQ(schema.at("identifier-field-ids"), bj::array({7}));
  bool saw_delete_file = false;
  for (const auto& f : table.at("files").as_array()) {
    if (f.at("content") == 2) {
      saw_delete_file = true;
      EXPECT_EQ(f.at("equality_ids"), bj::array({7}));
    }
  }
  EXPECT_TRUE(saw_delete_file);
  EXPECT_EQ(table.at("metadata").at("snapshots").as_array().back().at("summary").at("operation"),
            "overwrite");
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0);
}

TEST(IcebergScenario, S3WarehouseOnS3rver) {
  S3Server s3;
  auto conn = Connect();
  FreshPublishedTable(conn, "ice_s3", "id int PRIMARY KEY, v text", "p_ices3");
  auto p = StartWalListen(WalListenArgs(
      "p_ices3",
      IcebergArgs("s3://bkt/wh",
                  {"--iceberg-s3-endpoint", s3.Endpoint(), "--iceberg-s3-access-key-id", "S3RVER",
                   "--iceberg-s3-secret-access-key", "S3RVER", "--iceberg-flush-size", "200"})));
  ASSERT_TRUE(p);
  ExecOrFail(conn, "INSERT INTO ice_s3 SELECT g, 'v' || g FROM generate_series(1, 500) g");
  TempDir copy;
  bj::object table;
  Live live;
  ASSERT_TRUE(Eventually(
      [&] {
        // The bucket as files, so the reader can open them.
        for (const auto& [key, body] : s3.Objects()) {
          fs::create_directories(fs::path(copy.path + "/" + key).parent_path());
          std::ofstream(copy.path + "/" + key, std::ios::binary) << body;
        }
        if (!fs::exists(copy.path + "/wh/pgcdc/events/metadata/version-hint.text")) return false;
        table = ReadIcebergTable(copy.path + "/wh/pgcdc/events", "s3://bkt/=" + copy.path + "/");
        if (table.contains("error")) return false;
        live = LiveRows(table);
        return RowIds(live).size() == 500;
      },
      60s))
      << bj::serialize(table).substr(0, 2000) << "\n"
      << live.error << "\n"
      << p->Stderr();
  EXPECT_TRUE(table.at("chain_errors").as_array().empty()) << table.at("chain_errors");
  EXPECT_EQ(table.at("metadata").at("location"), "s3://bkt/wh/pgcdc/events");
  for (const auto& f : table.at("files").as_array()) {
    EXPECT_TRUE(
        std::string(f.at("path").as_string()).starts_with("s3://bkt/wh/pgcdc/events/data/"));
  }
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0);
}

TEST(IcebergScenario, KillNineWithAPersistentSlotLosesNothing) {
  TempDir dir;
  auto conn = Connect();
  FreshPublishedTable(conn, "ice_crash", "id int PRIMARY KEY, v int", "p_icecrash",
                      "pgcdc_p_icecrash");
  const auto args = WalListenArgs(
      "p_icecrash", IcebergArgs(dir.path, {"--persistent-slot", "--iceberg-flush-size", "2000",
                                           "--iceberg-flush-interval", "1500ms",
                                           "--detector-status-interval", "200ms"}));
  constexpr int kRows = 20000;
  RunKillNineRounds(SinkKillNineRun("ice_crash", kRows, /*seed=*/19), args, [&](Process& p) {
    return ScrapeMetric(p, "pgcdc_events_received_total").value_or(0);
  });
  if (HasFailure()) return;
  auto p = StartStreaming(args);
  ASSERT_TRUE(p);
  const std::string table_dir = dir.path + "/pgcdc/events";
  Live live;
  ASSERT_TRUE(Eventually(
      [&] {
        auto table = ReadIcebergTable(table_dir);
        if (table.contains("error")) return false;
        live = LiveRows(table);
        return RowIds(live).size() == static_cast<size_t>(kRows);
      },
      120s))
      << RowIds(live).size() << " of " << kRows << "\n"
      << p->Stderr();
  // Replays after a kill may add a row twice (at-least-once); none is missing.
  const auto ids = RowIds(live);
  EXPECT_EQ(ids.begin()->first, 1);
  EXPECT_EQ(ids.rbegin()->first, kRows);
  auto table = ReadIcebergTable(table_dir);
  EXPECT_TRUE(table.at("chain_errors").as_array().empty()) << table.at("chain_errors");
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0);
  (void)conn.Query("SELECT pg_drop_replication_slot('pgcdc_p_icecrash')");
}

TEST(IcebergScenario, AnUnwritableWarehouseHoldsTheEventsUntilFixed) {
  TempDir dir;
  const std::string warehouse = dir.path + "/wh";
  std::ofstream(warehouse) << "not a directory";  // nothing can be created below it
  auto conn = Connect();
  FreshPublishedTable(conn, "ice_broken", "id int PRIMARY KEY, v text", "p_icebroken",
                      "pgcdc_p_icebroken");
  const auto args = WalListenArgs(
      "p_icebroken",
      IcebergArgs(warehouse, {"--persistent-slot", "--detector-status-interval", "200ms"}));
  auto p = StartWalListen(args);
  ASSERT_TRUE(p);
  ExecOrFail(conn, "INSERT INTO ice_broken SELECT g, 'v' || g FROM generate_series(1, 300) g");
  ASSERT_TRUE(Eventually(
      [&] {
        return ScrapeMetric(*p, "pgcdc_iceberg_flushes_total{status=\"error\"}").value_or(0) >= 2;
      },
      30s))
      << p->Stderr();
  EXPECT_NE(Healthz(*p).find("degraded"), std::string::npos) << Healthz(*p);
  EXPECT_NE(p->Stderr().find("Not a directory"), std::string::npos) << p->Stderr();
  // Nothing was acknowledged: a crash now loses nothing.
  p->Signal(SIGKILL);
  (void)p->Wait();
  fs::remove(warehouse);
  auto again = StartWalListen(args);
  ASSERT_TRUE(again);
  Live live;
  ASSERT_TRUE(Eventually(
      [&] {
        auto table = ReadIcebergTable(warehouse + "/pgcdc/events");
        if (table.contains("error")) return false;
        live = LiveRows(table);
        return RowIds(live).size() == 300;
      },
      60s))
      << RowIds(live).size() << "\n"
      << again->Stderr();
  again->Signal(SIGTERM);
  EXPECT_EQ(again->Wait(), 0);
  (void)conn.Query("SELECT pg_drop_replication_slot('pgcdc_p_icebroken')");
}
#endif

TEST(IcebergScenario, BadConfigurationExitsTwo) {
  auto [code, err] = RunAdapterToExit("iceberg", {});
  EXPECT_EQ(code, 2) << err;
  EXPECT_NE(err.find("iceberg.warehouse: required"), std::string::npos) << err;
  EXPECT_NE(err.find("iceberg.table: required"), std::string::npos) << err;
  std::tie(code, err) = RunAdapterToExit(
      "iceberg",
      {"--iceberg-warehouse", "/tmp/x", "--iceberg-table", "t", "--iceberg-mode", "upsert"});
  EXPECT_EQ(code, 2) << err;
  EXPECT_NE(err.find("iceberg.primary_keys: required when iceberg.mode is upsert"),
            std::string::npos)
      << err;
  std::tie(code, err) =
      RunAdapterToExit("iceberg", {"--iceberg-warehouse", "gs://b", "--iceberg-table", "t"});
  EXPECT_EQ(code, 2) << err;
  EXPECT_NE(err.find("only local directories and s3://"), std::string::npos) << err;
}

}  // namespace
}  // namespace pgcdc::testing
