// Tests for RecordBatch v2 encoding/decoding, CRC-32C and compression,
// including batches captured from kcat (librdkafka 2.0.2) and kafkajs 2.2.4
// (see testdata/README.md).
#include "codec/kafka/record_batch.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "codec/kafka/murmur2.h"
#include "codec/kafka/testdata.h"
#include "codec/kafka/wire.h"

namespace pgcdc::codec::kafka {
namespace {

using ::testing::HasSubstr;
using testing::ReadTestdata;

struct PartitionRecords {
  int32_t partition;
  std::string records;
};

// Extracts the records of every partition of the single topic in a captured
// Produce v3-v8 request frame, reading the header and body with the wire
// Reader only (independent of messages.cc).
std::vector<PartitionRecords> ProducePartitions(const std::string& frame) {
  Reader r(frame);
  EXPECT_EQ(r.Int16(), 0);  // api key
  const int16_t version = r.Int16();
  EXPECT_GE(version, 3);
  EXPECT_LE(version, 8);
  r.Int32();           // correlation id
  r.NullableString();  // client id
  r.NullableString();  // transactional id
  r.Int16();           // acks
  r.Int32();           // timeout
  EXPECT_EQ(r.ArrayLength(), 1);
  r.String();
  const int32_t n = r.ArrayLength();
  std::vector<PartitionRecords> out;
  for (int32_t i = 0; i < n; ++i) {
    const int32_t partition = r.Int32();
    auto records = r.NullableBytes();
    out.push_back({partition, records ? std::string(*records) : std::string()});
  }
  EXPECT_TRUE(r.ok()) << r.error();
  EXPECT_TRUE(r.AtEnd());
  return out;
}

// The records of a request with exactly one partition.
std::string ProduceRecords(const std::string& frame) {
  auto parts = ProducePartitions(frame);
  EXPECT_EQ(parts.size(), 1u);
  return parts.empty() ? std::string() : parts[0].records;
}

Record MakeRecord(int64_t ts, std::optional<std::string> key, std::optional<std::string> value,
                  std::vector<RecordHeader> headers = {}) {
  Record r;
  r.timestamp_ms = ts;
  r.key = std::move(key);
  r.value = std::move(value);
  r.headers = std::move(headers);
  return r;
}

// --- CRC-32C -----------------------------------------------------------------

TEST(KafkaCrc32c, StandardCheckValues) {
  // CRC-32C check value and the iSCSI (RFC 3720 B.4) test vectors.
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(Crc32c(std::string(32, '\xff')), 0x62A8AB43u);
  std::string ascending;
  for (int i = 0; i < 32; ++i) ascending.push_back(static_cast<char>(i));
  EXPECT_EQ(Crc32c(ascending), 0x46DD794Eu);
  EXPECT_EQ(Crc32c(""), 0u);
}

TEST(KafkaCrc32c, ContinuesAcrossChunks) {
  std::string data;
  for (int i = 0; i < 1000; ++i) data.push_back(static_cast<char>(i * 7));
  const uint32_t whole = Crc32c(data);
  for (size_t cut : {size_t{0}, size_t{1}, size_t{7}, size_t{8}, size_t{501}, data.size()}) {
    EXPECT_EQ(
        Crc32c(std::string_view(data).substr(cut), Crc32c(std::string_view(data).substr(0, cut))),
        whole)
        << cut;
  }
  // Running CRC over pieces equals the CRC of the whole (exercise the 8-byte path).
  const std::string long_text(1000, 'x');
  EXPECT_EQ(Crc32c(long_text.substr(300), Crc32c(long_text.substr(0, 300))), Crc32c(long_text));
}

// --- Encoding: exact bytes ---------------------------------------------------

TEST(KafkaRecordBatch, EncodesExactV2Layout) {
  std::vector<Record> records = {
      MakeRecord(1000, std::string("k"), std::string("v")),
      MakeRecord(1005, std::nullopt, std::nullopt, {{"h", std::string("x")}, {"n", std::nullopt}}),
  };
  std::string out;
  ASSERT_TRUE(EncodeRecordBatch(7, records, Compression::kNone, out).has_value());

  // Record 0: length 8 (zigzag 16), attributes 0, ts delta 0, offset delta 0,
  // key "k", value "v", 0 headers.
  const std::string rec0 = std::string("\x10\x00\x00\x00\x02k\x02v\x00", 9);
  // Record 1: length 13 (26), ts delta 5 (zigzag 10), offset delta 1 (2),
  // null key/value (-1 -> 1), 2 headers: "h"="x", "n"=null.
  const std::string rec1 = std::string("\x1a\x00\x0a\x02\x01\x01\x04\x02h\x02x\x02n\x01", 14);
  Writer expect;
  expect.Int64(7);                                        // base offset
  expect.Int32(49 + int32_t(rec0.size() + rec1.size()));  // batch length
  expect.Int32(-1);                                       // partition leader epoch
  expect.Int8(2);                                         // magic
  const size_t crc_at = expect.size();
  expect.UInt32(0);
  expect.Int16(0);     // attributes
  expect.Int32(1);     // last offset delta
  expect.Int64(1000);  // first timestamp
  expect.Int64(1005);  // max timestamp
  expect.Int64(-1);    // producer id
  expect.Int16(-1);    // producer epoch
  expect.Int32(-1);    // base sequence
  expect.Int32(2);     // records
  expect.Raw(rec0);
  expect.Raw(rec1);
  expect.PatchInt32(crc_at,
                    static_cast<int32_t>(Crc32c(std::string_view(expect.buffer()).substr(21))));
  EXPECT_EQ(out, expect.buffer());

  auto decoded = DecodeRecordBatches(out);
  ASSERT_TRUE(decoded.has_value()) << decoded.error().message();
  ASSERT_EQ(decoded->size(), 1u);
  const DecodedBatch& b = (*decoded)[0];
  EXPECT_TRUE(b.crc_ok);
  EXPECT_EQ(b.base_offset, 7);
  EXPECT_EQ(b.last_offset(), 8);
  EXPECT_EQ(b.record_count, 2);
  ASSERT_EQ(b.records.size(), 2u);
  EXPECT_EQ(b.records[0].offset, 7);
  EXPECT_EQ(b.records[1].offset, 8);
  EXPECT_EQ(b.records[1].timestamp_ms, 1005);
  records[0].offset = 7;
  records[1].offset = 8;
  EXPECT_EQ(b.records, records);
}

TEST(KafkaRecordBatch, EmptyRecordListIsAnError) {
  std::string out;
  auto s = EncodeRecordBatch(0, {}, Compression::kNone, out);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(out.empty());
}

TEST(KafkaRecordBatch, OptionsAreWritten) {
  BatchEncodeOptions o;
  o.log_append_time = true;
  o.transactional = true;
  o.producer_id = 99;
  o.producer_epoch = 3;
  o.base_sequence = 10;
  o.partition_leader_epoch = 4;
  std::vector<Record> records = {MakeRecord(50, std::nullopt, std::string("a")),
                                 MakeRecord(40, std::nullopt, std::string("b"))};
  std::string out;
  ASSERT_TRUE(EncodeRecordBatch(0, records, o, out).has_value());
  auto h = ParseBatchHeader(out);
  ASSERT_TRUE(h.has_value());
  EXPECT_TRUE(h->crc_ok);
  EXPECT_TRUE(h->log_append_time());
  EXPECT_TRUE(h->transactional());
  EXPECT_FALSE(h->control());
  EXPECT_EQ(h->producer_id, 99);
  EXPECT_EQ(h->producer_epoch, 3);
  EXPECT_EQ(h->base_sequence, 10);
  EXPECT_EQ(h->partition_leader_epoch, 4);
  EXPECT_EQ(h->first_timestamp, 50);
  EXPECT_EQ(h->max_timestamp, 50);  // max, not last
  // LogAppendTime: every record carries the batch's max timestamp.
  auto d = DecodeRecordBatches(out);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ((*d)[0].records[1].timestamp_ms, 50);
}

TEST(KafkaRecordBatch, PatchBaseOffsetKeepsCrcValid) {
  std::vector<Record> records = {MakeRecord(1, std::string("a"), std::string("b"))};
  std::string out;
  ASSERT_TRUE(EncodeRecordBatch(0, records, Compression::kNone, out).has_value());
  ASSERT_TRUE(PatchBaseOffset(out, 123456789012).has_value());
  ASSERT_TRUE(PatchPartitionLeaderEpoch(out, 5).has_value());
  auto d = DecodeRecordBatches(out);
  ASSERT_TRUE(d.has_value()) << d.error().message();
  EXPECT_EQ((*d)[0].base_offset, 123456789012);
  EXPECT_EQ((*d)[0].partition_leader_epoch, 5);
  EXPECT_EQ((*d)[0].records[0].offset, 123456789012);
  std::string tiny = "abc";
  EXPECT_FALSE(PatchBaseOffset(tiny, 1).has_value());
}

// --- Compression round trips ---------------------------------------------------

class KafkaCompression : public ::testing::TestWithParam<Compression> {};

TEST_P(KafkaCompression, BatchRoundTrip) {
  std::vector<Record> records;
  for (int i = 0; i < 200; ++i) {
    records.push_back(MakeRecord(1700000000000 + i, "key-" + std::to_string(i),
                                 R"({"id":)" + std::to_string(i) + R"(,"name":"user"})",
                                 {{"op", std::string("insert")}}));
  }
  std::string out;
  ASSERT_TRUE(EncodeRecordBatch(100, records, GetParam(), out).has_value());
  auto h = ParseBatchHeader(out);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->compression(), GetParam());
  auto d = DecodeRecordBatches(out);
  ASSERT_TRUE(d.has_value()) << d.error().message();
  ASSERT_EQ((*d)[0].records.size(), records.size());
  for (size_t i = 0; i < records.size(); ++i) records[i].offset = 100 + static_cast<int64_t>(i);
  EXPECT_EQ((*d)[0].records, records);
  if (GetParam() != Compression::kNone) {
    // Repetitive JSON must actually shrink.
    std::string plain;
    ASSERT_TRUE(EncodeRecordBatch(100, records, Compression::kNone, plain).has_value());
    EXPECT_LT(out.size(), plain.size() / 2);
  }
}

// Real codecs only (plain batches are capped by the frame size).
class KafkaCompressed : public ::testing::TestWithParam<Compression> {};

TEST_P(KafkaCompressed, DecompressionCapIsEnforced) {
  const std::string big(1 << 20, 'a');
  auto c = Compress(GetParam(), big);
  ASSERT_TRUE(c.has_value());
  auto ok = Decompress(GetParam(), *c, big.size());
  ASSERT_TRUE(ok.has_value()) << ok.error().message();
  EXPECT_EQ(*ok, big);
  auto capped = Decompress(GetParam(), *c, big.size() - 1);
  ASSERT_FALSE(capped.has_value());
  EXPECT_EQ(capped.error().code(), ErrorCode::kParse);
  EXPECT_NE(capped.error().message().find("exceeds the limit"), std::string::npos);

  // The batch decoder applies DecodeOptions::max_decompressed_bytes.
  std::vector<Record> records = {MakeRecord(0, std::nullopt, big)};
  std::string batch;
  ASSERT_TRUE(EncodeRecordBatch(0, records, GetParam(), batch).has_value());
  DecodeOptions opt;
  opt.max_decompressed_bytes = 4096;
  auto d = DecodeRecordBatches(batch, opt);
  EXPECT_FALSE(d.has_value());
}

TEST_P(KafkaCompressed, CorruptOrTruncatedInputFails) {
  std::string text;
  for (int i = 0; i < 2000; ++i) text += "row " + std::to_string(i) + "\n";
  auto c = Compress(GetParam(), text);
  ASSERT_TRUE(c.has_value());
  for (size_t cut : {size_t{0}, size_t{1}, c->size() / 2, c->size() - 1}) {
    auto d = Decompress(GetParam(), std::string_view(*c).substr(0, cut), 1 << 20);
    EXPECT_FALSE(d.has_value()) << CompressionName(GetParam()) << " cut " << cut;
  }
  std::string garbage(64, '\x5a');
  EXPECT_FALSE(Decompress(GetParam(), garbage, 1 << 20).has_value());
}

INSTANTIATE_TEST_SUITE_P(All, KafkaCompression,
                         ::testing::Values(Compression::kNone, Compression::kGzip,
                                           Compression::kSnappy, Compression::kLz4,
                                           Compression::kZstd),
                         [](const auto& info) { return std::string(CompressionName(info.param)); });
INSTANTIATE_TEST_SUITE_P(Codecs, KafkaCompressed,
                         ::testing::Values(Compression::kGzip, Compression::kSnappy,
                                           Compression::kLz4, Compression::kZstd),
                         [](const auto& info) { return std::string(CompressionName(info.param)); });

TEST(KafkaCompressionNames, ParseAndName) {
  EXPECT_EQ(*ParseCompression("zstd"), Compression::kZstd);
  EXPECT_EQ(*ParseCompression("none"), Compression::kNone);
  EXPECT_FALSE(ParseCompression("brotli").has_value());
  EXPECT_EQ(CompressionName(Compression::kLz4), "lz4");
}

TEST(KafkaCompressionSnappy, XerialFramingAccepted) {
  // snappy-java's stream format as Java producers write it: 8-byte magic,
  // int32 version 1, int32 compatible version 1, then [int32 length][raw block]*.
  const std::string part1(5000, 'x');
  const std::string part2 = "tail of the data";
  auto b1 = Compress(Compression::kSnappy, part1);
  auto b2 = Compress(Compression::kSnappy, part2);
  ASSERT_TRUE(b1 && b2);
  Writer w;
  w.Raw(std::string_view("\x82SNAPPY\x00", 8));
  w.Int32(1);
  w.Int32(1);
  w.Int32(static_cast<int32_t>(b1->size()));
  w.Raw(*b1);
  w.Int32(static_cast<int32_t>(b2->size()));
  w.Raw(*b2);
  auto d = Decompress(Compression::kSnappy, w.buffer(), 1 << 20);
  ASSERT_TRUE(d.has_value()) << d.error().message();
  EXPECT_EQ(*d, part1 + part2);
  // Truncated block length and block.
  EXPECT_FALSE(Decompress(Compression::kSnappy, w.buffer().substr(0, w.size() - 3), 1 << 20));
  EXPECT_FALSE(Decompress(Compression::kSnappy, w.buffer().substr(0, 18), 1 << 20));
  // The cap applies across blocks.
  EXPECT_FALSE(Decompress(Compression::kSnappy, w.buffer(), 5001));
}

TEST(KafkaCompressionGzip, ConcatenatedMembers) {
  auto a = Compress(Compression::kGzip, "hello ");
  auto b = Compress(Compression::kGzip, "world");
  ASSERT_TRUE(a && b);
  auto d = Decompress(Compression::kGzip, *a + *b, 100);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(*d, "hello world");
}

// --- Bad input -------------------------------------------------------------------

std::string SampleBatch() {
  std::vector<Record> records = {MakeRecord(10, std::string("k1"), std::string("v1")),
                                 MakeRecord(11, std::string("k2"), std::string("v2"))};
  std::string out;
  EXPECT_TRUE(EncodeRecordBatch(0, records, Compression::kNone, out).has_value());
  return out;
}

TEST(KafkaRecordBatch, RejectsBadCrc) {
  std::string b = SampleBatch();
  b[b.size() - 1] ^= 1;
  auto d = DecodeRecordBatches(b);
  ASSERT_FALSE(d.has_value());
  EXPECT_EQ(d.error().message(), "record batch at offset 0: CRC mismatch");
  DecodeOptions lax;
  lax.verify_crc = false;
  auto s = SplitRecordBatches(b, lax);
  ASSERT_TRUE(s.has_value());
  EXPECT_FALSE((*s)[0].header.crc_ok);
}

TEST(KafkaRecordBatch, RejectsOldMagic) {
  std::string b = SampleBatch();
  b[16] = 1;
  auto d = DecodeRecordBatches(b);
  ASSERT_FALSE(d.has_value());
  EXPECT_NE(d.error().message().find("unsupported magic 1"), std::string::npos);
}

TEST(KafkaRecordBatch, TruncationAndPartialTail) {
  const std::string one = SampleBatch();
  const std::string two = one + one;
  for (size_t cut = 1; cut < one.size(); ++cut) {
    auto d = DecodeRecordBatches(std::string_view(two).substr(0, one.size() + cut));
    EXPECT_FALSE(d.has_value()) << cut;
    DecodeOptions tail;
    tail.allow_partial_tail = true;
    auto t = DecodeRecordBatches(std::string_view(two).substr(0, one.size() + cut), tail);
    ASSERT_TRUE(t.has_value()) << cut;
    EXPECT_EQ(t->size(), 1u);
  }
  auto s = SplitRecordBatches(two);
  ASSERT_TRUE(s.has_value());
  ASSERT_EQ(s->size(), 2u);
  EXPECT_EQ((*s)[1].bytes.data(), two.data() + one.size());
  EXPECT_EQ((*s)[1].bytes.size(), one.size());
}

// Rebuilds the CRC after a test edits bytes behind it.
void FixCrc(std::string& b) {
  const uint32_t crc = Crc32c(std::string_view(b).substr(21));
  for (int i = 0; i < 4; ++i) b[17 + i] = static_cast<char>(crc >> (8 * (3 - i)));
}

TEST(KafkaRecordBatch, RejectsInconsistentCountsAndRecords) {
  // One byte of the sample batch changed (CRC rebuilt); `records`: only the
  // full decoder (which parses the records) can tell, else the splitter does.
  struct Case {
    size_t at;
    char byte;
    bool records;
    const char* error;  // part of the message, or ""
    const char* what;
  };
  for (const Case& c : {
           Case{60, 3, true, "", "record count 3, only 2 present"},
           Case{60, 1, true, "left after 1 records", "record count 1: bytes left over"},
           Case{57, '\x7f', false, "", "record count > 2^31 / bytes available"},
           Case{26, 0, false, "", "last offset delta 0 with two records"},
           Case{61, 0x7e, true, "", "first record claims 63 bytes"},
           Case{22, 6, false, "", "compression type 6"},
       }) {
    std::string b = SampleBatch();
    b[c.at] = c.byte;
    FixCrc(b);
    auto refused = [&](const auto& result) {
      ASSERT_FALSE(result.has_value()) << c.what;
      EXPECT_THAT(result.error().message(), HasSubstr(c.error)) << c.what;
    };
    if (c.records) {
      refused(DecodeRecordBatches(b));
    } else {
      refused(SplitRecordBatches(b));
    }
  }
}

TEST(KafkaRecordBatch, RejectsBatchLengthsOutsideTheData) {
  std::string b = SampleBatch();
  b[8] = '\x7f';  // batch length far beyond the data
  EXPECT_FALSE(SplitRecordBatches(b).has_value());
  b = SampleBatch();
  b[11] = 10;  // batch length below the header
  b[10] = 0;
  auto s = SplitRecordBatches(b);
  ASSERT_FALSE(s.has_value());
  EXPECT_THAT(s.error().message(), HasSubstr("below the 49-byte header"));
}

TEST(KafkaRecordBatch, EveryBitFlipFailsCleanly) {
  // Exhaustive single-byte corruption: decoding must never crash; with CRC
  // checking off it exercises the record parser on garbage.
  const std::string b = SampleBatch();
  DecodeOptions lax;
  lax.verify_crc = false;
  for (size_t i = 0; i < b.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string c = b;
      c[i] = static_cast<char>(c[i] ^ (1 << bit));
      (void)DecodeRecordBatches(c, lax);
      auto strict = DecodeRecordBatches(c);
      if (i >= 21 || i == 16) {
        EXPECT_FALSE(strict.has_value()) << i << ":" << bit;
      }
    }
  }
}

// --- Real client bytes -----------------------------------------------------------

TEST(KafkaRecordBatchCaptured, KcatUncompressedBatchIsByteIdenticalToOurEncoding) {
  const std::string records = ProduceRecords(ReadTestdata("kcat_produce_v7_none.bin"));
  auto d = DecodeRecordBatches(records);
  ASSERT_TRUE(d.has_value()) << d.error().message();
  ASSERT_EQ(d->size(), 1u);
  const DecodedBatch& b = (*d)[0];
  EXPECT_TRUE(b.crc_ok);
  EXPECT_EQ(b.compression(), Compression::kNone);
  ASSERT_EQ(b.records.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    const Record& r = b.records[static_cast<size_t>(i)];
    EXPECT_EQ(r.key, "key-" + std::to_string(i));
    ASSERT_TRUE(r.value.has_value());
    EXPECT_TRUE(r.value->starts_with(R"({"id":)" + std::to_string(i) + ","));
    ASSERT_EQ(r.headers.size(), 2u);
    EXPECT_EQ(r.headers[0], (RecordHeader{"trace", std::string("abc")}));
    EXPECT_EQ(r.headers[1], (RecordHeader{"empty", std::string("")}));
  }
  // Re-encode with the same header fields: identical bytes, CRC included.
  BatchEncodeOptions o;
  o.partition_leader_epoch = b.partition_leader_epoch;
  o.producer_id = b.producer_id;
  o.producer_epoch = b.producer_epoch;
  o.base_sequence = b.base_sequence;
  std::string again;
  ASSERT_TRUE(EncodeRecordBatch(b.base_offset, b.records, o, again).has_value());
  EXPECT_EQ(again, records);
}

TEST(KafkaRecordBatchCaptured, KcatCompressedBatchesDecode) {
  const auto plain = DecodeRecordBatches(ProduceRecords(ReadTestdata("kcat_produce_v7_none.bin")));
  ASSERT_TRUE(plain.has_value());
  for (Compression c :
       {Compression::kGzip, Compression::kSnappy, Compression::kLz4, Compression::kZstd}) {
    const std::string name = "kcat_produce_v7_" + std::string(CompressionName(c)) + ".bin";
    auto d = DecodeRecordBatches(ProduceRecords(ReadTestdata(name)));
    ASSERT_TRUE(d.has_value()) << name << ": " << d.error().message();
    ASSERT_EQ(d->size(), 1u);
    EXPECT_EQ((*d)[0].compression(), c) << name;
    EXPECT_TRUE((*d)[0].crc_ok);
    ASSERT_EQ((*d)[0].records.size(), 5u);
    for (size_t i = 0; i < 5; ++i) {
      const Record& got = (*d)[0].records[i];
      const Record& want = (*plain)[0].records[i];
      EXPECT_EQ(got.key, want.key);
      EXPECT_EQ(got.value, want.value);
      EXPECT_EQ(got.headers, want.headers);
    }
  }
}

TEST(KafkaRecordBatchCaptured, KafkajsBatchesDecode) {
  // kafkajs: two keyed records, gzip, spread over the 3-partition topic by
  // kafkajs' DefaultPartitioner (murmur2): key-1 -> 0, key-2 -> 2. One has a
  // header, the other a null value.
  auto parts = ProducePartitions(ReadTestdata("kafkajs_produce_v7_gzip.bin"));
  ASSERT_EQ(parts.size(), 2u);
  std::vector<Record> all;
  for (const PartitionRecords& p : parts) {
    auto g = DecodeRecordBatches(p.records);
    ASSERT_TRUE(g.has_value()) << g.error().message();
    ASSERT_EQ(g->size(), 1u);
    EXPECT_EQ((*g)[0].compression(), Compression::kGzip);
    EXPECT_TRUE((*g)[0].crc_ok);
    for (const Record& r : (*g)[0].records) {
      ASSERT_TRUE(r.key.has_value());
      EXPECT_EQ(DefaultPartition(*r.key, 3), p.partition) << *r.key;
      all.push_back(r);
    }
  }
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].key, "key-1");
  EXPECT_EQ(all[0].value, "v1");
  ASSERT_EQ(all[0].headers.size(), 1u);
  EXPECT_EQ(all[0].headers[0], (RecordHeader{"h", std::string("x")}));
  EXPECT_EQ(all[1].key, "key-2");
  EXPECT_EQ(all[1].value, std::nullopt);

  auto n = DecodeRecordBatches(ProduceRecords(ReadTestdata("kafkajs_produce_v7_none.bin")));
  ASSERT_TRUE(n.has_value()) << n.error().message();
  ASSERT_EQ((*n)[0].records.size(), 1u);
  EXPECT_EQ((*n)[0].records[0].key, "key-3");
  EXPECT_EQ((*n)[0].records[0].value, "plain");
  EXPECT_EQ((*n)[0].records[0].timestamp_ms, 1700000000000);
  EXPECT_EQ(ProducePartitions(ReadTestdata("kafkajs_produce_v7_none.bin"))[0].partition,
            DefaultPartition("key-3", 3));
}

}  // namespace
}  // namespace pgcdc::codec::kafka
