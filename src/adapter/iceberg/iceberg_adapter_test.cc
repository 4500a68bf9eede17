#include "adapter/iceberg/iceberg_adapter.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <thread>

#include "adapter/encoding/avro_container.h"
#include "core/test_util.h"
#include "parquet/writer.h"
#include "registry/test_util.h"

namespace pgcdc::adapter::iceberg {
namespace {

namespace fs = std::filesystem;
namespace avro = encoding::avro;

struct TempDir {
  std::string path;
  TempDir() {
    std::string t = (fs::temp_directory_path() / "pgcdc-iceberg-XXXXXX").string();
    path = ::mkdtemp(t.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::string ReadAll(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<Field> Envelope() { return TableFields(Options{}); }

DataFile File(const std::string& name, int64_t records) {
  DataFile f{.path = "data/" + name, .records = records, .size = 100};
  f.stats[1] = {.values = records, .nulls = 0, .lower = "a", .upper = "z"};
  f.stats[3] = {.values = records, .lower = TimestampBound(1), .upper = TimestampBound(2)};
  return f;
}

TEST(IcebergAvro, ContainerRoundTripsAManifestEntry) {
  DataFile f = File("x.parquet", 7);
  f.content = DataFile::kEqualityDeletes;
  f.equality_ids = {7, 8};
  std::string rec;
  EncodeManifestEntry(f, "/w/t/data/x.parquet", 42, 3, rec);
  const std::string file =
      avro::ContainerFile(ManifestEntrySchema(), {{"content", "deletes"}},
                          std::vector<std::string>{rec, rec}, std::string(16, 'S'));
  auto c = avro::ReadContainer(file);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->metadata["content"], "deletes");
  ASSERT_EQ(c->records.size(), 2u);
  const auto& e = c->records[0].as_object();
  EXPECT_EQ(e.at("status").as_int64(), 1);
  EXPECT_EQ(e.at("snapshot_id").as_int64(), 42);
  EXPECT_EQ(e.at("sequence_number").as_int64(), 3);
  const auto& d = e.at("data_file").as_object();
  EXPECT_EQ(d.at("content").as_int64(), 2);
  EXPECT_EQ(d.at("file_path").as_string(), "/w/t/data/x.parquet");
  EXPECT_EQ(d.at("file_format").as_string(), "PARQUET");
  EXPECT_EQ(d.at("record_count").as_int64(), 7);
  EXPECT_EQ(d.at("equality_ids").as_array().size(), 2u);
  EXPECT_EQ(d.at("equality_ids").as_array()[1].as_int64(), 8);
  const auto& lower = d.at("lower_bounds").as_array();
  ASSERT_EQ(lower.size(), 2u);
  EXPECT_EQ(lower[0].as_object().at("key").as_int64(), 1);
  EXPECT_EQ(lower[0].as_object().at("value").as_string(), "a");
  EXPECT_EQ(lower[1].as_object().at("value").as_string(), TimestampBound(1));
}

TEST(IcebergAvro, ReaderRefusesBrokenInput) {
  std::string rec;
  EncodeManifestFile({.path = "p", .length = 1}, rec);
  const std::string good = avro::ContainerFile(ManifestFileSchema(), {},
                                               std::vector<std::string>{rec}, "0123456789abcdef");
  ASSERT_TRUE(avro::ReadContainer(good));
  for (size_t cut = 0; cut < good.size(); ++cut) {
    // Cut anywhere: an error, or (cut right after the header) a file without blocks.
    auto r = avro::ReadContainer(std::string_view(good).substr(0, cut));
    if (r) {
      EXPECT_TRUE(r->records.empty()) << cut;
    }
  }
  EXPECT_FALSE(avro::ReadContainer("not avro"));
}

TEST(IcebergTable, CommitsChainSnapshotsAndKeepEveryManifest) {
  TempDir dir;
  auto storage = MakeLocalStorage(dir.path + "/t");
  Table t(*storage, Envelope(), {}, {});
  ASSERT_TRUE(t.Load());
  EXPECT_FALSE(t.exists());
  ASSERT_TRUE(t.Create());
  EXPECT_EQ(t.version(), 1);
  EXPECT_EQ(ReadAll(dir.path + "/t/metadata/version-hint.text"), "1");
  auto c1 = t.Commit({File("a.parquet", 3)});
  ASSERT_TRUE(c1) << c1.error().message();
  auto c2 = t.Commit({File("b.parquet", 4)});
  ASSERT_TRUE(c2) << c2.error().message();
  EXPECT_EQ(c2->version, 3);
  EXPECT_EQ(c2->sequence_number, 2);
  EXPECT_EQ(ReadAll(dir.path + "/t/metadata/version-hint.text"), "3");
  ASSERT_EQ(t.manifests().size(), 2u);  // SPEC's quirk fixed: both flushes referenced

  // A fresh reader sees the same table.
  Table again(*storage, Envelope(), {}, {});
  ASSERT_TRUE(again.Load());
  EXPECT_EQ(again.version(), 3);
  ASSERT_EQ(again.manifests().size(), 2u);
  EXPECT_EQ(again.manifests()[0].added_rows, 4);
  EXPECT_EQ(again.manifests()[1].added_rows, 3);
  const auto& md = again.metadata();
  const auto& snaps = md.at("snapshots").as_array();
  ASSERT_EQ(snaps.size(), 2u);
  EXPECT_EQ(snaps[1].as_object().at("parent-snapshot-id").as_int64(),
            snaps[0].as_object().at("snapshot-id").as_int64());
  EXPECT_EQ(snaps[1].as_object().at("summary").as_object().at("total-records").as_string(), "7");
  EXPECT_EQ(md.at("metadata-log").as_array().size(), 2u);

  // A different schema is refused.
  Options upsert;
  upsert.mode = "upsert";
  upsert.primary_keys = {"id"};
  Table other(*storage, TableFields(upsert), {7}, {});
  auto st = other.Load();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), ErrorCode::kConfig);
  EXPECT_NE(st.error().message().find("another schema"), std::string::npos);
}

TEST(IcebergTable, ConcurrentCommitIsRebuiltOnTheWinner) {
  TempDir dir;
  auto storage = MakeLocalStorage(dir.path + "/t");
  Table a(*storage, Envelope(), {}, {});
  Table b(*storage, Envelope(), {}, {});
  ASSERT_TRUE(a.Load());
  ASSERT_TRUE(a.Create());
  ASSERT_TRUE(b.Load());
  ASSERT_TRUE(a.Commit({File("a.parquet", 1)}));
  auto rb = b.Commit({File("b.parquet", 2)});  // b is stale: v2 exists
  ASSERT_TRUE(rb) << rb.error().message();
  EXPECT_EQ(rb->attempts, 2);
  EXPECT_EQ(rb->version, 3);
  EXPECT_EQ(b.manifests().size(), 2u);
}

TEST(IcebergTable, LoadProbesPastAStaleHint) {
  TempDir dir;
  auto storage = MakeLocalStorage(dir.path + "/t");
  Table t(*storage, Envelope(), {}, {});
  ASSERT_TRUE(t.Load());
  ASSERT_TRUE(t.Create());
  ASSERT_TRUE(t.Commit({File("a.parquet", 1)}));
  ASSERT_TRUE(storage->Put("metadata/version-hint.text", "1"));  // as if the hint write was lost
  Table again(*storage, Envelope(), {}, {});
  ASSERT_TRUE(again.Load());
  EXPECT_EQ(again.version(), 2);
  EXPECT_EQ(again.manifests().size(), 1u);
}

TEST(IcebergStorage, PutIfAbsentIsExclusive) {
  TempDir dir;
  auto s = MakeLocalStorage(dir.path);
  ASSERT_TRUE(s->PutIfAbsent("metadata/v1.metadata.json", "one"));
  auto again = s->PutIfAbsent("metadata/v1.metadata.json", "two");
  ASSERT_FALSE(again);
  EXPECT_TRUE(IsExists(again.error()));
  auto got = s->Get("metadata/v1.metadata.json");
  ASSERT_TRUE(got && *got);
  EXPECT_EQ(**got, "one");
  auto missing = s->Get("nope");
  ASSERT_TRUE(missing);
  EXPECT_FALSE(*missing);
  EXPECT_EQ(s->Relative(s->Location("data/x")), std::optional<std::string>("data/x"));
  EXPECT_EQ(s->Relative("file:" + s->Location("data/x")), std::optional<std::string>("data/x"));
  EXPECT_FALSE(s->Relative("/elsewhere/data/x"));
}

TEST(IcebergKey, FromTheRowOrTheOldImage) {
  Event ins;
  ins.operation = "INSERT";
  ins.payload = R"({"op":"INSERT","row":{"id":5,"name":"a"},"old":null})";
  auto k = KeyOf(ins, {"id", "name"});
  ASSERT_TRUE(k);
  EXPECT_EQ(*k, (std::vector<std::string>{"5", "a"}));
  Event del;
  del.operation = "DELETE";
  del.payload = R"({"op":"DELETE","row":null,"old":{"id":5}})";
  EXPECT_EQ(*KeyOf(del, {"id"}), std::vector<std::string>{"5"});
  EXPECT_FALSE(KeyOf(del, {"name"}));
  Event notify;
  notify.operation = "INSERT";
  notify.payload = R"("hello")";
  EXPECT_FALSE(KeyOf(notify, {"id"}));
}

TEST(IcebergLocation, WarehousesAndNamespaces) {
  Options o;
  o.warehouse = "/w/";
  o.namespace_name = "a.b";
  o.table = "t";
  auto l = LocateTable(o);
  ASSERT_TRUE(l);
  EXPECT_EQ(l->root, "/w/a/b/t");
  o.warehouse = "s3://bucket/pre/";
  l = LocateTable(o);
  ASSERT_TRUE(l);
  EXPECT_TRUE(l->s3);
  EXPECT_EQ(l->bucket, "bucket");
  EXPECT_EQ(l->prefix, "pre/a/b/t");
  o.namespace_name = "a..b";
  EXPECT_FALSE(LocateTable(o));
  o.namespace_name = "pgcdc";
  o.warehouse = "gs://x";
  EXPECT_FALSE(LocateTable(o));
}

Event Row(uint64_t seq, const std::string& op, int id, const std::string& name) {
  Event e = testing::MakeEvent(
      {.channel = "pgcdc:t",
       .operation = op,
       .payload = op == "DELETE"
                      ? R"({"op":"DELETE","row":null,"old":{"id":)" + std::to_string(id) + "}}"
                      : R"({"op":")" + op + R"(","row":{"id":)" + std::to_string(id) +
                            R"(,"name":")" + name + R"("}})",
       .source = "wal",
       .id = NewUuidV7(),
       .created_at_ns = 1'700'000'000'000'000'000});
  e.seq = seq;
  return e;
}

TEST(IcebergAdapter, HoldsEventsUntilCommittedAndRetriesAnUnwritableWarehouse) {
  if (!parquet::Available()) GTEST_SKIP() << parquet::UnavailableReason();
  TempDir dir;
  // A file where the warehouse directory should be: nothing can be written.
  const std::string warehouse = dir.path + "/wh";
  std::ofstream(warehouse) << "x";
  Options o{.warehouse = warehouse, .table = "t", .flush_size = 2};
  o.backoff = {std::chrono::milliseconds(1), std::chrono::milliseconds(5),
               std::chrono::milliseconds(1)};
  IcebergAdapter a(o);
  ASSERT_TRUE(a.Open());  // degraded, not failed
  Event e1 = Row(1, "INSERT", 1, "a");
  const Event* one[] = {&e1};
  ASSERT_TRUE(a.Deliver(one));
  EXPECT_EQ(a.OldestHeldSeq(), std::optional<uint64_t>(1));
  // The next event fills the buffer: the commit retries until the warehouse is fixed.
  std::jthread fixer([&] {
    ASSERT_TRUE(testing::Eventually(
        [] { return testing::MetricValue("pgcdc_iceberg_flushes_total{status=\"error\"}") >= 3; }));
    fs::remove(warehouse);
  });
  Event e2 = Row(2, "INSERT", 2, "b");
  const Event* two[] = {&e2};
  ASSERT_TRUE(a.Deliver(two));
  fixer.join();
  EXPECT_EQ(a.OldestHeldSeq(), std::nullopt);
  ASSERT_NE(a.table(), nullptr);
  EXPECT_EQ(a.table()->version(), 2);
  a.Close();
}

TEST(IcebergAdapter, UpsertKeepsTheLastEventPerKeyAndDeletes) {
  if (!parquet::Available()) GTEST_SKIP() << parquet::UnavailableReason();
  TempDir dir;
  Options o{.warehouse = dir.path, .table = "t", .mode = "upsert", .primary_keys = {"id"}};
  IcebergAdapter a(o);
  ASSERT_TRUE(a.Open());
  Event e1 = Row(1, "INSERT", 1, "a");
  Event e2 = Row(2, "INSERT", 2, "b");
  Event e3 = Row(3, "UPDATE", 1, "a2");
  Event e4 = Row(4, "DELETE", 2, "");
  const Event* batch[] = {&e1, &e2, &e3, &e4};
  ASSERT_TRUE(a.Deliver(batch));
  EXPECT_EQ(a.buffered(), 2u);
  a.Close();
  ASSERT_EQ(a.table()->version(), 2);
  ASSERT_EQ(a.table()->manifests().size(), 2u);  // data + deletes
  const auto& ms = a.table()->manifests();
  EXPECT_EQ(ms[0].content, 0);
  EXPECT_EQ(ms[0].added_rows, 1);  // id 1 (a2); id 2 deleted
  EXPECT_EQ(ms[1].content, 1);
  EXPECT_EQ(ms[1].added_rows, 2);  // keys 1 and 2
}

TEST(IcebergConfig, ValidationErrors) {
  const ConnectorInfo info = Connector();
  auto [o, errors] = testing::BindForTest<Options>(info, {});
  EXPECT_TRUE(testing::HasError(errors, "iceberg.warehouse: required"));
  EXPECT_TRUE(testing::HasError(errors, "iceberg.table: required"));
  auto [u, uerrors] = testing::BindForTest<Options>(
      info, {{"iceberg.warehouse", "/w"}, {"iceberg.table", "t"}, {"iceberg.mode", "upsert"}});
  EXPECT_TRUE(testing::HasError(uerrors, "iceberg.primary_keys: required"));
}

}  // namespace
}  // namespace pgcdc::adapter::iceberg
