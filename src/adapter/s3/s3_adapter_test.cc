#include "adapter/s3/s3_adapter.h"

#include <gtest/gtest.h>

#include "adapter/s3/s3_client.h"
#include "registry/test_util.h"

namespace pgcdc::adapter::s3 {
namespace {

Event At(std::string channel, uint64_t seq, uint64_t lsn, int64_t created_ns) {
  Event e = MakeEvent(std::move(channel), "INSERT", "{\"id\":" + std::to_string(seq) + "}", "wal");
  e.seq = seq;
  e.lsn = lsn;
  e.created_at_ns = created_ns;
  return e;
}

constexpr int64_t kMarchFifth2026 = 1772712000LL * 1'000'000'000;  // 2026-03-05T12:00:00Z

TEST(S3Keys, HiveLayoutNamedByTheFirstEvent) {
  Partition p{.first_lsn = 0x16B3748,
              .first_id = "0190a0d8-0000-8000-8000-000000000001",
              .first_created_ns = kMarchFifth2026};
  EXPECT_EQ(ObjectKey("cdc/", "pgcdc:public.orders", p, ".jsonl"),
            "cdc/channel=pgcdc_public.orders/year=2026/month=03/day=05/"
            "00000000016b3748-0190a0d8-0000-8000-8000-000000000001.jsonl");
  EXPECT_EQ(ObjectKey("", "orders", p, ".jsonl.gz"),
            "channel=orders/year=2026/month=03/day=05/"
            "00000000016b3748-0190a0d8-0000-8000-8000-000000000001.jsonl.gz");
  EXPECT_EQ(Extension("jsonl", "none"), ".jsonl");
  EXPECT_EQ(Extension("jsonl", "gzip"), ".jsonl.gz");
  EXPECT_EQ(Extension("jsonl", "zstd"), ".jsonl.zst");
}

TEST(S3Batch, PartitionsByChannelAndHoldsTheOldestSeq) {
  Batch b;
  EXPECT_TRUE(b.empty());
  EXPECT_FALSE(b.OldestSeq());
  Event e1 = At("pgcdc:a", 5, 100, kMarchFifth2026);
  Event e2 = At("pgcdc:b", 6, 101, kMarchFifth2026);
  Event e3 = At("pgcdc:a", 7, 102, kMarchFifth2026);
  b.Add(e1);
  b.Add(e2);
  b.Add(e3);
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
  Event e = At("pgcdc:t", 1, 0x2000, kMarchFifth2026);
  Batch first, replay;
  first.Add(e);
  replay.Add(e);
  replay.Add(At("pgcdc:t", 2, 0x2001, kMarchFifth2026));
  EXPECT_EQ(ObjectKey("", "pgcdc:t", first.partitions().begin()->second, ".jsonl"),
            ObjectKey("", "pgcdc:t", replay.partitions().begin()->second, ".jsonl"));
}

TEST(S3Client, XmlValues) {
  const std::string xml =
      "<InitiateMultipartUploadResult><Bucket>b</Bucket><UploadId>abc-1</UploadId>"
      "</InitiateMultipartUploadResult>";
  EXPECT_EQ(XmlValue(xml, "UploadId"), "abc-1");
  EXPECT_EQ(XmlValue(xml, "Key"), "");
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
  ASSERT_EQ(parquet.size(), 1u);
  EXPECT_TRUE(testing::HasError(parquet, "parquet is not implemented"));
  auto [half, half_errors] =
      testing::BindForTest<Options>(info, {{"s3.bucket", "b"}, {"s3.access_key_id", "AKID"}});
  EXPECT_TRUE(testing::HasError(half_errors, "set both or neither"));
  auto [small, small_errors] =
      testing::BindForTest<Options>(info, {{"s3.bucket", "b"}, {"s3.part_size", "1000"}});
  EXPECT_FALSE(small_errors.empty());
}

}  // namespace
}  // namespace pgcdc::adapter::s3
