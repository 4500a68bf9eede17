#include "adapter/s3/s3_adapter.h"

#include <gtest/gtest.h>

#include "core/mutex.h"
#include "net/http_server.h"
#include "registry/test_util.h"
#include "s3/client.h"

namespace pgcdc::adapter::s3 {
namespace {

Event At(std::string channel, uint64_t seq, uint64_t lsn, int64_t created_ns) {
  Event e = MakeEvent(std::move(channel), "INSERT", "{\"id\":" + std::to_string(seq) + "}", "wal");
  e.seq = seq;
  e.lsn = lsn;
  e.created_at_ns = created_ns;
  return e;
}

constexpr int64_t kMarchFifthTwentyTwentySix =
    1772712000LL * 1'000'000'000;  // 2026-03-05T12:00:00Z

TEST(S3Keys, HiveLayoutNamedByTheFirstEvent) {
  Partition p{.first_lsn = 0x16B3748,
              .first_id = "0190a0d8-0000-8000-8000-000000000001",
              .first_created_ns = kMarchFifthTwentyTwentySix};
  EXPECT_EQ(ObjectKey("cdc/", "pgcdc:public.orders", p, ".jsonl"),
            "cdc/channel=pgcdc_public.orders/year=2026/month=03/day=05/"
            "00000000016b3748-0190a0d8-0000-8000-8000-000000000001.jsonl");
  EXPECT_EQ(ObjectKey("", "orders", p, ".jsonl.gz"),
            "channel=orders/year=2026/month=03/day=05/"
            "00000000016b3748-0190a0d8-0000-8000-8000-000000000001.jsonl.gz");
  EXPECT_EQ(Extension("jsonl", "none"), ".jsonl");
  EXPECT_EQ(Extension("jsonl", "gzip"), ".jsonl.gz");
  EXPECT_EQ(Extension("jsonl", "zstd"), ".jsonl.zst");
  EXPECT_EQ(Extension("parquet", "zstd"), ".parquet");
}

std::shared_ptr<const RowSchema> Orders() {
  auto s = std::make_shared<RowSchema>();
  s->namespace_name = "public";
  s->table = "orders";
  s->columns = {{"id", 23, true}, {"amount", 1700}, {"at", 1184}, {"_pgcdc_lsn", 20}};
  return s;
}

TEST(S3Parquet, TypedColumnsMapTypesAndAvoidNameClashes) {
  const auto cols = parquet::TypedColumns(*Orders());
  ASSERT_EQ(cols.size(), 8u);
  EXPECT_EQ(cols[0].name, "_pgcdc_event_id");
  EXPECT_EQ(cols[4].name, "id");
  EXPECT_EQ(cols[4].type, parquet::Type::kInt32);
  EXPECT_EQ(cols[5].type, parquet::Type::kString);  // numeric stays exact text
  EXPECT_EQ(cols[6].type, parquet::Type::kTimestampTz);
  EXPECT_EQ(cols[7].name, "_pgcdc_lsn_2");
  EXPECT_EQ(parquet::TypeForPgOid(3802), parquet::Type::kJson);
  EXPECT_EQ(parquet::TypeForPgOid(1007), parquet::Type::kString);  // int4[]: unmapped → string
}

TEST(S3Parquet, BatchWritesTypedRowsPerTableAndEnvelopesForTheRest) {
  if (!parquet::Available()) GTEST_SKIP() << parquet::UnavailableReason();
  Batch b(Layout{.parquet = true, .typed = true});
  Event row = At("pgcdc:orders", 1, 0x10, kMarchFifthTwentyTwentySix);
  row.schema = Orders();
  row.payload =
      R"({"old":null,"op":"INSERT","row":{"id":1,"amount":"12.50","at":"2025-06-15T12:00:00+00:00","_pgcdc_lsn":5},"table":"orders"})";
  Event bad = At("pgcdc:orders", 2, 0x11, kMarchFifthTwentyTwentySix);
  bad.schema = row.schema;
  bad.payload = R"({"op":"INSERT","row":{"id":"x","amount":null,"at":"later"},"table":"orders"})";
  Event notify = At("pgcdc:orders", 3, 0, kMarchFifthTwentyTwentySix);  // no schema: envelope
  AppendStats stats;
  ASSERT_TRUE(b.Add(row, &stats));
  EXPECT_EQ(stats.unconverted, 0u);
  ASSERT_TRUE(b.Add(bad, &stats));
  EXPECT_EQ(stats.unconverted, 2u);
  EXPECT_NE(stats.first_error.find("\"id\" (INTEGER)"), std::string::npos) << stats.first_error;
  ASSERT_TRUE(b.Add(notify));
  ASSERT_EQ(b.partitions().size(), 2u);
  EXPECT_EQ(b.events(), 3u);
  {
    // ALTER TABLE: a new table version starts its own file.
    Batch altered(Layout{.parquet = true, .typed = true});
    Event after = row;
    auto v2 = std::make_shared<RowSchema>(*row.schema);
    v2->columns.push_back({"extra", 25});
    after.schema = v2;
    ASSERT_TRUE(altered.Add(row));
    ASSERT_TRUE(altered.Add(after));
    ASSERT_EQ(altered.partitions().size(), 2u);
    size_t widths = 0;
    for (auto& [key, p] : altered.partitions()) widths += p.rows->columns().size();
    EXPECT_EQ(widths, 8u + 9u);
  }
  EXPECT_EQ(b.OldestSeq(), std::optional<uint64_t>(1));
  for (auto& [key, p] : b.partitions()) {
    EXPECT_EQ(p.channel, "pgcdc:orders");
    EXPECT_EQ(p.rows->columns().size(), key == "pgcdc:orders" ? 6u : 8u) << key;
    ASSERT_TRUE(b.Encode(p));
    EXPECT_TRUE(p.body.starts_with("PAR1"));
    const std::string once = p.body;
    ASSERT_TRUE(b.Encode(p));  // encoded once: a retry sends the same bytes
    EXPECT_EQ(p.body, once);
  }
  b.Erase(b.partitions().begin());
  b.Erase(b.partitions().begin());
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.bytes(), 0u);
}

TEST(S3Batch, PartitionsByChannelAndHoldsTheOldestSeq) {
  Batch b;
  EXPECT_TRUE(b.empty());
  EXPECT_FALSE(b.OldestSeq());
  Event e1 = At("pgcdc:a", 5, 100, kMarchFifthTwentyTwentySix);
  Event e2 = At("pgcdc:b", 6, 101, kMarchFifthTwentyTwentySix);
  Event e3 = At("pgcdc:a", 7, 102, kMarchFifthTwentyTwentySix);
  ASSERT_TRUE(b.Add(e1));
  ASSERT_TRUE(b.Add(e2));
  ASSERT_TRUE(b.Add(e3));
  EXPECT_EQ(b.events(), 3u);
  EXPECT_EQ(b.bytes(), e1.Json().size() + e2.Json().size() + e3.Json().size() + 3);
  ASSERT_EQ(b.partitions().size(), 2u);
  const Partition& a = b.partitions().at("pgcdc:a");
  EXPECT_EQ(a.events, 2u);
  EXPECT_EQ(a.first_seq, 5u);
  EXPECT_EQ(a.first_lsn, 100u);
  EXPECT_EQ(a.first_id, e1.id.ToString());
  EXPECT_EQ(a.body, e1.Json() + "\n" + e3.Json() + "\n");
  EXPECT_EQ(b.OldestSeq(), std::optional<uint64_t>(5));
  // Channel a uploaded: only b's events are still held.
  b.Erase(b.partitions().find("pgcdc:a"));
  EXPECT_EQ(b.OldestSeq(), std::optional<uint64_t>(6));
  EXPECT_EQ(b.events(), 1u);
  EXPECT_EQ(b.bytes(), e2.Json().size() + 1);
  b.Erase(b.partitions().begin());
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.bytes(), 0u);
}

TEST(S3Batch, TheSameEventsGiveTheSameKeys) {
  // A replay after a crash re-buffers the same events: same first event, same key.
  Event e = At("pgcdc:t", 1, 0x2000, kMarchFifthTwentyTwentySix);
  Batch first, replay;
  ASSERT_TRUE(first.Add(e));
  ASSERT_TRUE(replay.Add(e));
  ASSERT_TRUE(replay.Add(At("pgcdc:t", 2, 0x2001, kMarchFifthTwentyTwentySix)));
  EXPECT_EQ(ObjectKey("", "pgcdc:t", first.partitions().begin()->second, ".jsonl"),
            ObjectKey("", "pgcdc:t", replay.partitions().begin()->second, ".jsonl"));
}

// A FAKE S3 endpoint (net::HttpServer in process, not a real store): records
// each request and answers 200, or the statuses queued in `fail`.
class FakeS3 {
 public:
  FakeS3() {
    auto handler = [this](const net::HttpRequest& r) {
      MutexLock lock(mu_);
      requests_.push_back(r);
      net::HttpResponse out;
      out.content_type = "application/xml";
      if (!fail_.empty()) {
        out.status = fail_.front();
        fail_.erase(fail_.begin());
        out.body = "<Error><Code>Fake</Code><Message>injected</Message></Error>";
      }
      return out;
    };
    server_.HandlePrefix("HEAD", "/bkt", handler);
    server_.HandlePrefix("PUT", "/bkt", handler);
    auto bound = server_.Start(net::ListenAddress{"127.0.0.1", 0});
    EXPECT_TRUE(bound.has_value());
    if (bound) endpoint_ = "http://" + *bound;
  }
  void Fail(std::vector<int> statuses) {
    MutexLock lock(mu_);
    fail_ = std::move(statuses);
  }
  std::vector<net::HttpRequest> Puts() {
    MutexLock lock(mu_);
    std::vector<net::HttpRequest> out;
    for (const auto& r : requests_) {
      if (r.method == "PUT") out.push_back(r);
    }
    return out;
  }
  Options Config() const {
    Options o;
    o.bucket = "bkt";
    o.endpoint = endpoint_;
    o.access_key_id = "AKIDTEST";
    o.secret_access_key = "not-logged";
    o.flush_size = 3;
    o.flush_interval = std::chrono::hours(1);
    o.backoff = {std::chrono::milliseconds(1), std::chrono::milliseconds(5),
                 std::chrono::milliseconds(1)};
    return o;
  }

 private:
  net::HttpServer server_{"fake-s3"};
  std::string endpoint_;
  Mutex mu_;
  std::vector<net::HttpRequest> requests_ GUARDED_BY(mu_);
  std::vector<int> fail_ GUARDED_BY(mu_);
};

TEST(S3Adapter, HoldsEventsUntilTheObjectIsStoredAndRetries5xx) {
  FakeS3 s3;
  S3Adapter a(s3.Config());
  ASSERT_TRUE(a.Open());
  Event e1 = At("pgcdc:t", 1, 0x10, kMarchFifthTwentyTwentySix);
  Event e2 = At("pgcdc:t", 2, 0x11, kMarchFifthTwentyTwentySix);
  Event e3 = At("pgcdc:t", 3, 0x12, kMarchFifthTwentyTwentySix);
  const Event* first[] = {&e1, &e2};
  ASSERT_TRUE(a.Deliver(first));
  ASSERT_TRUE(a.Flush());  // the interval has not passed: nothing uploaded
  EXPECT_TRUE(s3.Puts().empty());
  EXPECT_EQ(a.OldestHeldSeq(), std::optional<uint64_t>(1)) << "not acknowledged yet";
  s3.Fail({503});
  const Event* third[] = {&e3};
  ASSERT_TRUE(a.Deliver(third));  // flush_size reached: uploaded, 503 retried
  EXPECT_FALSE(a.OldestHeldSeq());
  const auto puts = s3.Puts();
  ASSERT_EQ(puts.size(), 2u);
  const net::HttpRequest& put = puts[1];
  EXPECT_EQ(put.body, e1.Json() + "\n" + e2.Json() + "\n" + e3.Json() + "\n");
  EXPECT_TRUE(put.path.starts_with("/bkt/channel%3Dpgcdc_t/year%3D2026/")) << put.path;
  EXPECT_EQ(put.headers.at("x-amz-content-sha256"), pgcdc::s3::Sha256Hex(put.body));
  EXPECT_TRUE(put.headers.at("authorization").starts_with("AWS4-HMAC-SHA256 Credential=AKIDTEST/"));
  EXPECT_EQ(put.headers.at("content-type"), "application/x-ndjson");
  a.Close();
}

TEST(S3Adapter, RejectedCredentialsAreAClearErrorAndNothingIsAcknowledged) {
  FakeS3 s3;
  S3Adapter a(s3.Config());
  ASSERT_TRUE(a.Open());
  s3.Fail({403});
  Event e1 = At("pgcdc:t", 7, 0, kMarchFifthTwentyTwentySix);
  Event e2 = At("pgcdc:t", 8, 0, kMarchFifthTwentyTwentySix);
  Event e3 = At("pgcdc:u", 9, 0, kMarchFifthTwentyTwentySix);
  const Event* all[] = {&e1, &e2, &e3};
  auto st = a.Deliver(all);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message().find("HTTP 403"), std::string::npos) << st.error().message();
  EXPECT_NE(st.error().message().find("access denied"), std::string::npos);
  EXPECT_EQ(st.error().message().find("not-logged"), std::string::npos) << "secret in the error";
  EXPECT_EQ(a.OldestHeldSeq(), std::optional<uint64_t>(7));
}

TEST(S3Adapter, DoctorChecksTheBucket) {
  FakeS3 s3;
  Options o = s3.Config();
  auto ok = CheckBucket(o);
  ASSERT_EQ(ok.size(), 1u);
  EXPECT_EQ(ok[0].level, CheckResult::Level::kOk) << ok[0].detail;
  s3.Fail({403});
  auto denied = CheckBucket(o);
  ASSERT_EQ(denied.size(), 1u);
  EXPECT_EQ(denied[0].level, CheckResult::Level::kFail);
  EXPECT_NE(denied[0].detail.find("access denied"), std::string::npos) << denied[0].detail;
  o.endpoint = "http://127.0.0.1:1";
  auto down = CheckBucket(o);
  ASSERT_EQ(down.size(), 1u);
  EXPECT_EQ(down[0].level, CheckResult::Level::kFail) << "an unreachable endpoint fails";
}

TEST(S3Client, XmlValues) {
  const std::string xml =
      "<InitiateMultipartUploadResult><Bucket>b</Bucket><UploadId>abc-1</UploadId>"
      "</InitiateMultipartUploadResult>";
  EXPECT_EQ(pgcdc::s3::XmlValue(xml, "UploadId"), "abc-1");
  EXPECT_EQ(pgcdc::s3::XmlValue(xml, "Key"), "");
  Reply r;
  EXPECT_TRUE(r.Retryable());  // no response
  r.status = 503;
  EXPECT_TRUE(r.Retryable());
  r.status = 403;
  EXPECT_FALSE(r.Retryable());
  r.status = 200;
  EXPECT_TRUE(r.ok());
}

TEST(S3Declaration, DefaultsAndValidation) {
  const ConnectorInfo info = Connector();
  auto [o, errors] = testing::BindForTest<Options>(info, {{"s3.bucket", "b"}});
  EXPECT_TRUE(errors.empty()) << errors[0];
  EXPECT_EQ(o.bucket, "b");
  EXPECT_EQ(o.region, "us-east-1");
  EXPECT_EQ(o.format, "jsonl");
  EXPECT_EQ(o.flush_size, 10000u);
  EXPECT_EQ(o.flush_interval, std::chrono::minutes(1));
  EXPECT_EQ(o.drain_timeout, std::chrono::seconds(30));
  EXPECT_EQ(o.backoff.base, std::chrono::seconds(5));
  EXPECT_EQ(o.backoff.cap, std::chrono::seconds(60));
  auto [none, missing] = testing::BindForTest<Options>(info, {});
  EXPECT_TRUE(testing::HasError(missing, "s3.bucket: required"));
  auto [pq, parquet] =
      testing::BindForTest<Options>(info, {{"s3.bucket", "b"}, {"s3.format", "parquet"}});
  if (parquet::Available()) {
    EXPECT_TRUE(parquet.empty()) << parquet[0];
  } else {
    EXPECT_TRUE(testing::HasError(parquet, "no Parquet support"));
  }
  EXPECT_EQ(pq.parquet_schema, "envelope");
  auto [typed, typed_jsonl] =
      testing::BindForTest<Options>(info, {{"s3.bucket", "b"}, {"s3.parquet_schema", "typed"}});
  EXPECT_TRUE(testing::HasError(typed_jsonl, "typed needs s3.format parquet"));
  auto [bad, bad_schema] = testing::BindForTest<Options>(
      info, {{"s3.bucket", "b"}, {"s3.format", "parquet"}, {"s3.parquet_schema", "wide"}});
  EXPECT_FALSE(bad_schema.empty());
  auto [half, half_errors] =
      testing::BindForTest<Options>(info, {{"s3.bucket", "b"}, {"s3.access_key_id", "AKID"}});
  EXPECT_TRUE(testing::HasError(half_errors, "set both or neither"));
  auto [small, small_errors] =
      testing::BindForTest<Options>(info, {{"s3.bucket", "b"}, {"s3.part_size", "1000"}});
  EXPECT_FALSE(small_errors.empty());
}

}  // namespace
}  // namespace pgcdc::adapter::s3
