// User journey: archive a table's changes to S3 as Parquet files, against the
// real s3rver (npm) started on a free port; every uploaded object is read
// back with the independent npm reader hyparquet (tests/tools/parquet_read.mjs),
// never with DuckDB, which writes them.
//  - envelope schema (SPEC): every row once, SPEC's six columns, Snappy;
//  - typed schema: one file per table per flush, PostgreSQL types mapped
//    (unmapped types such as int[] fall back to a string column);
//  - s3rver stopped for a while: the encoded files wait, nothing is lost;
//  - bad options are a clear usage error (exit 2).
#include <gtest/gtest.h>

#include <set>

#include "harness.h"
#include "json_util.h"
#include "parquet/writer.h"
#include "s3_server.h"
#include "stream_clients.h"

namespace pgcdc::testing {
namespace {

namespace bj = boost::json;

// The s3 sink writing Parquet, then `extra`.
std::vector<std::string> S3Sink(const S3Server& s3, std::vector<std::string> extra) {
  extra.insert(extra.begin(), {"--s3-format", "parquet"});
  return S3SinkArgs(s3, extra);
}

// hyparquet's reading of every object: key -> the parquet_read.mjs document
// ({"error":…} for an object it cannot read, e.g. one s3rver is still writing).
std::map<std::string, bj::object> ReadParquet(const std::map<std::string, std::string>& objects) {
  std::map<std::string, bj::object> out;
  if (objects.empty()) return out;
  TempDir dir;
  std::vector<std::string> args = {"/usr/bin/node", ToolsDir() + "/parquet_read.mjs"};
  std::map<std::string, std::string> key_of;
  for (const auto& [key, body] : objects) {
    const std::string path = dir.Write(std::to_string(key_of.size()) + ".parquet", body);
    key_of[path] = key;
    args.push_back(path);
  }
  const CommandResult r = RunCommand(args);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  std::istringstream in(r.output);
  for (std::string line; std::getline(in, line);) {
    boost::system::error_code ec;
    auto v = bj::parse(line, ec);
    if (ec || !v.is_object()) {
      ADD_FAILURE() << "hyparquet: " << line;
      continue;
    }
    out[key_of[std::string(v.as_object()["file"].as_string())]] = v.as_object();
  }
  return out;
}

bool AllRead(const std::map<std::string, bj::object>& files) {
  for (const auto& [key, doc] : files) {
    if (doc.contains("error")) {
      ADD_FAILURE() << key << ": " << doc.at("error");
      return false;
    }
  }
  return true;
}

// Row id -> how many times it is in the envelope files (ids from `payload`).
std::map<int64_t, int> EnvelopeRowIds(const std::map<std::string, bj::object>& files) {
  std::map<int64_t, int> ids;
  for (const auto& [key, doc] : files) {
    if (doc.contains("error")) continue;
    for (const auto& row : doc.at("rows").as_array()) {
      auto payload = bj::parse(row.at("payload").as_string());
      ++ids[payload.at("row").at("id").to_number<int64_t>()];
    }
  }
  return ids;
}

std::vector<std::string> ColumnNames(const bj::object& doc) {
  std::vector<std::string> names;
  for (const auto& c : doc.at("columns").as_array()) {
    names.emplace_back(c.at("name").as_string());
  }
  return names;
}

class S3ParquetScenario : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!parquet::Available()) GTEST_SKIP() << parquet::UnavailableReason();
  }
};

TEST_F(S3ParquetScenario, EnvelopeFilesReadBackWithHyparquet) {
  S3Server s3;
  auto conn = Connect();
  FreshPublishedTable(conn, "s3pq_rows", "id int PRIMARY KEY, v text", "p_s3pq");
  auto p = StartWalListen(WalListenArgs(
      "p_s3pq", S3Sink(s3, {"--s3-prefix", "pq", "--s3-flush-size", "700", "--tx-markers"})));
  ASSERT_TRUE(p);
  ExecOrFail(conn, "INSERT INTO s3pq_rows SELECT g, 'v' || g FROM generate_series(1, 3000) g");
  std::map<std::string, bj::object> files;
  ASSERT_TRUE(Eventually(
      [&] {
        files = ReadParquet(s3.Objects());
        return EnvelopeRowIds(files).size() == 3000;
      },
      30s))
      << EnvelopeRowIds(files).size() << "\n"
      << p->Stderr();
  ASSERT_TRUE(AllRead(files));
  for (const auto& [id, n] : EnvelopeRowIds(files)) EXPECT_EQ(n, 1) << "row " << id;
  EXPECT_GE(files.size(), 5u) << "flushes of at most 700 events";
  for (const auto& [key, doc] : files) {
    EXPECT_TRUE(key.starts_with("pq/channel=pgcdc_s3pq_rows/year=")) << key;
    EXPECT_TRUE(key.ends_with(".parquet")) << key;
    EXPECT_EQ(ColumnNames(doc), (std::vector<std::string>{"event_id", "operation", "timestamp",
                                                          "channel", "source", "payload"}));
    EXPECT_EQ(doc.at("codec"), "SNAPPY");
    const auto& ts = doc.at("columns").as_array()[2];
    EXPECT_EQ(ts.at("logical"), "TIMESTAMP");
    EXPECT_EQ(ts.at("utc"), true);
    const auto& row = doc.at("rows").as_array()[0];
    EXPECT_EQ(row.at("operation"), "INSERT");
    EXPECT_EQ(row.at("channel"), "pgcdc:s3pq_rows");
    EXPECT_EQ(row.at("source"), "wal_replication");
    EXPECT_EQ(row.at("event_id").as_string().size(), 36u);
    EXPECT_TRUE(row.at("timestamp").as_string().ends_with("Z"));
  }
  // Transaction markers are not written (no pgcdc__txn channel), but counted.
  EXPECT_GE(ScrapeMetric(*p, "pgcdc_s3_skipped_total").value_or(0), 2);
  EXPECT_GE(ScrapeMetric(*p, "pgcdc_s3_objects_uploaded_total").value_or(0), 5);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0);
}

TEST_F(S3ParquetScenario, TypedFilesHaveAColumnPerTableColumnAndAFilePerTable) {
  S3Server s3;
  auto conn = Connect();
  FreshPublishedTable(conn, "s3pq_typed",
                      "id int PRIMARY KEY, big bigint, amount numeric(12,2), flag bool, "
                      "at timestamptz, day date, doc jsonb, u uuid, tags int[], note text, "
                      "ratio float8",
                      "p_s3pq_typed");
  ExecOrFail(conn, "DROP TABLE IF EXISTS s3pq_other");
  ExecOrFail(conn, "CREATE TABLE s3pq_other (k text PRIMARY KEY, n smallint)");
  ExecOrFail(conn, "ALTER PUBLICATION p_s3pq_typed ADD TABLE s3pq_other");
  auto p = StartWalListen(WalListenArgs(
      "p_s3pq_typed", S3Sink(s3, {"--s3-parquet-schema", "typed", "--s3-flush-size", "100000",
                                  "--s3-compression", "gzip", "--s3-flush-interval", "3s"})));
  ASSERT_TRUE(p);
  ExecOrFail(conn,
             "INSERT INTO s3pq_typed VALUES (1, 9007199254740993, 12.50, true, "
             "'2025-06-15 12:00:00.25+02', '2000-03-01', '{\"k\":[1,\"x\"]}', "
             "'0195b3c2-7a10-7c3e-9f11-2b3c4d5e6f70', '{1,2}', 'h\u00e9 \"q\"', 0.5), "
             "(2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)");
  ExecOrFail(conn, "INSERT INTO s3pq_other VALUES ('a', 7)");
  ExecOrFail(conn, "UPDATE s3pq_typed SET note = 'changed' WHERE id = 2");
  ExecOrFail(conn, "DELETE FROM s3pq_typed WHERE id = 1");
  std::map<std::string, bj::object> files;
  auto rows_in = [&](std::string_view channel) {
    std::vector<bj::object> rows;
    for (const auto& [key, doc] : files) {
      if (key.find(channel) == std::string::npos || doc.contains("error")) continue;
      for (const auto& r : doc.at("rows").as_array()) rows.push_back(r.as_object());
    }
    return rows;
  };
  ASSERT_TRUE(Eventually(
      [&] {
        files = ReadParquet(s3.Objects());
        return rows_in("channel=pgcdc_s3pq_typed/").size() == 4 &&
               rows_in("channel=pgcdc_s3pq_other/").size() == 1;
      },
      30s))
      << files.size() << "\n"
      << p->Stderr();
  ASSERT_TRUE(AllRead(files));
  std::set<std::string> table_files;
  for (const auto& [key, doc] : files) {
    const std::string table = key.substr(0, key.find('/'));
    EXPECT_TRUE(table_files.insert(table).second) << "two files for " << table << " in one flush";
    EXPECT_EQ(doc.at("codec"), "GZIP") << key;
    if (table == "channel=pgcdc_s3pq_other") {
      EXPECT_EQ(ColumnNames(doc),
                (std::vector<std::string>{"_pgcdc_event_id", "_pgcdc_operation",
                                          "_pgcdc_created_at", "_pgcdc_lsn", "k", "n"}));
      continue;
    }
    const auto& cols = doc.at("columns").as_array();
    ASSERT_EQ(cols.size(), 15u) << key;
    auto col = [&](size_t i) { return cols[i].as_object(); };
    EXPECT_EQ(col(4).at("name"), "id");
    EXPECT_EQ(col(4).at("type"), "INT32");
    EXPECT_EQ(col(5).at("type"), "INT64");
    EXPECT_EQ(col(6).at("type"), "BYTE_ARRAY");  // numeric: exact text
    EXPECT_EQ(col(7).at("type"), "BOOLEAN");
    EXPECT_EQ(col(8).at("logical"), "TIMESTAMP");
    EXPECT_EQ(col(8).at("utc"), true);
    EXPECT_EQ(col(9).at("logical"), "DATE");
    EXPECT_EQ(col(10).at("logical"), "JSON");
    EXPECT_EQ(col(11).at("logical"), "UUID");
    EXPECT_EQ(col(12).at("type"), "BYTE_ARRAY");  // int[]: no mapping → string
    EXPECT_EQ(col(14).at("type"), "DOUBLE");
  }
  EXPECT_EQ(table_files.size(), 2u);
  const auto typed = rows_in("channel=pgcdc_s3pq_typed/");
  ASSERT_EQ(typed.size(), 4u);
  const bj::object& first = typed[0];
  EXPECT_EQ(first.at("_pgcdc_operation"), "INSERT");
  EXPECT_EQ(first.at("id"), 1);
  EXPECT_EQ(first.at("big"), "9007199254740993");
  EXPECT_EQ(first.at("amount"), "12.50");
  EXPECT_EQ(first.at("flag"), true);
  EXPECT_EQ(first.at("at"), "2025-06-15T10:00:00.250Z");
  EXPECT_EQ(first.at("day"), "2000-03-01T00:00:00.000Z");
  EXPECT_EQ(bj::serialize(first.at("doc")), R"({"k":[1,"x"]})");
  EXPECT_EQ(first.at("u"), "0195b3c2-7a10-7c3e-9f11-2b3c4d5e6f70");
  EXPECT_EQ(first.at("tags"), "[1,2]");
  EXPECT_EQ(first.at("note"), "h\u00e9 \"q\"");
  EXPECT_EQ(first.at("ratio").to_number<double>(), 0.5);
  EXPECT_GT(std::stoll(std::string(first.at("_pgcdc_lsn").as_string())), 0);
  const bj::object& nulls = typed[1];
  for (const char* c :
       {"big", "amount", "flag", "at", "day", "doc", "u", "tags", "note", "ratio"}) {
    EXPECT_TRUE(nulls.at(c).is_null()) << c;
  }
  EXPECT_EQ(typed[2].at("_pgcdc_operation"), "UPDATE");
  EXPECT_EQ(typed[2].at("note"), "changed");
  EXPECT_EQ(typed[3].at("_pgcdc_operation"), "DELETE");
  EXPECT_EQ(typed[3].at("id"), 1);
  EXPECT_TRUE(typed[3].at("note").is_null());  // DEFAULT identity: key columns only
  EXPECT_EQ(ScrapeMetric(*p, "pgcdc_s3_parquet_unconverted_total").value_or(0), 0);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0);
}

TEST_F(S3ParquetScenario, AnOutageHoldsTheFilesUntilS3IsBack) {
  S3Server s3;
  auto conn = Connect();
  FreshPublishedTable(conn, "s3pq_outage", "id int PRIMARY KEY, v text", "p_s3pq_outage");
  auto p = StartWalListen(WalListenArgs("p_s3pq_outage", S3Sink(s3, {"--s3-flush-size", "50"})));
  ASSERT_TRUE(p);
  s3.Stop();
  ExecOrFail(conn, "INSERT INTO s3pq_outage SELECT g, 'v' FROM generate_series(1, 400) g");
  ASSERT_TRUE(Eventually([&] {
    return ScrapeMetric(*p, "pgcdc_s3_request_failures_total").value_or(0) >= 3;
  })) << p->Stderr();
  EXPECT_EQ(ScrapeMetric(*p, "pgcdc_s3_objects_uploaded_total").value_or(0), 0);
  ASSERT_TRUE(s3.Start());
  std::map<std::string, bj::object> files;
  std::map<int64_t, int> ids;
  ASSERT_TRUE(Eventually(
      [&] {
        files = ReadParquet(s3.Objects());
        ids = EnvelopeRowIds(files);
        return ids.size() == 400;
      },
      30s))
      << ids.size() << "\n"
      << p->Stderr();
  ASSERT_TRUE(AllRead(files));
  for (const auto& [id, n] : ids) EXPECT_EQ(n, 1) << "row " << id;
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0);
}

TEST(S3ParquetOptions, BadOptionsAreUsageErrors) {
  S3Server s3;
  auto run = [&](const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"--s3-endpoint",
                                     s3.Endpoint(),
                                     "--s3-bucket",
                                     "bkt",
                                     "--s3-access-key-id",
                                     "S3RVER",
                                     "--s3-secret-access-key",
                                     "S3RVER"};
    args.insert(args.end(), extra.begin(), extra.end());
    return RunAdapterToExit("s3", args);
  };
  auto [code, err] = run({"--s3-parquet-schema", "typed"});
  EXPECT_EQ(code, 2);
  EXPECT_NE(err.find("typed needs s3.format parquet"), std::string::npos) << err;
  std::tie(code, err) = run({"--s3-format", "parquet", "--s3-parquet-schema", "wide"});
  EXPECT_EQ(code, 2);
  EXPECT_NE(err.find("wide"), std::string::npos) << err;
  if (!parquet::Available()) {
    std::tie(code, err) = run({"--s3-format", "parquet"});
    EXPECT_EQ(code, 2);
    EXPECT_NE(err.find("no Parquet support"), std::string::npos) << err;
  }
}

}  // namespace
}  // namespace pgcdc::testing
