// Tests for the Kafka wire primitives, FrameSplitter and Murmur2.
#include "codec/kafka/wire.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <limits>
#include <optional>
#include <string>

#include "codec/kafka/frame.h"
#include "codec/kafka/murmur2.h"

namespace pgcdc::codec::kafka {
namespace {

std::string Bytes(std::initializer_list<int> v) {
  std::string s;
  for (int b : v) s.push_back(static_cast<char>(b));
  return s;
}

// --- Reader / Writer ---------------------------------------------------------

TEST(KafkaWire, FixedWidthBigEndian) {
  Writer w;
  w.Int8(-2);
  w.Int16(0x0102);
  w.Int32(-2);
  w.Int64(0x0102030405060708);
  w.UInt32(0xdeadbeef);
  w.Bool(true);
  EXPECT_EQ(w.buffer(), Bytes({0xfe, 0x01, 0x02, 0xff, 0xff, 0xff, 0xfe, 0x01, 0x02, 0x03,
                               0x04, 0x05, 0x06, 0x07, 0x08, 0xde, 0xad, 0xbe, 0xef, 0x01}));
  Reader r(w.buffer());
  EXPECT_EQ(r.Int8(), -2);
  EXPECT_EQ(r.Int16(), 0x0102);
  EXPECT_EQ(r.Int32(), -2);
  EXPECT_EQ(r.Int64(), 0x0102030405060708);
  EXPECT_EQ(r.UInt32(), 0xdeadbeefu);
  EXPECT_TRUE(r.Bool());
  EXPECT_TRUE(r.ok());
  EXPECT_TRUE(r.AtEnd());
}

TEST(KafkaWire, TruncationIsStickyAndNamed) {
  const std::string data = Bytes({0x00, 0x01, 0x02});
  Reader r(data);
  EXPECT_EQ(r.Int16(), 1);
  EXPECT_EQ(r.Int32(), 0);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "truncated int32 at offset 2");
  // Sticky: the remaining byte is not consumed by later reads.
  EXPECT_EQ(r.Int8(), 0);
  EXPECT_EQ(r.position(), 2u);
  auto s = r.status("Fetch v4");
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code(), ErrorCode::kParse);
  EXPECT_EQ(s.error().message(), "Fetch v4: truncated int32 at offset 2");
}

// Writes `v` with `write`, expects `bytes` (when given) and the size `size`
// predicts, and reads `v` back with `read`.
template <class T>
void ExpectVarintRoundTrip(T v, const std::optional<std::string>& bytes, void (Writer::*write)(T),
                           size_t (*size)(T), T (Reader::*read)()) {
  Writer w;
  (w.*write)(v);
  if (bytes) {
    EXPECT_EQ(w.buffer(), *bytes) << v;
  }
  EXPECT_EQ(size(v), w.size()) << v;
  Reader r(w.buffer());
  EXPECT_EQ((r.*read)(), v);
  EXPECT_TRUE(r.ok() && r.AtEnd()) << v;
}

// A value and its known encoding.
template <class T>
struct KnownEncoding {
  T v;
  std::string bytes;
};

TEST(KafkaWire, UnsignedVarIntKnownEncodings) {
  // Protobuf-style base-128 varints.
  for (const auto& c : std::initializer_list<KnownEncoding<uint32_t>>{
           {0, Bytes({0x00})},
           {1, Bytes({0x01})},
           {127, Bytes({0x7f})},
           {128, Bytes({0x80, 0x01})},
           {300, Bytes({0xac, 0x02})},
           {16384, Bytes({0x80, 0x80, 0x01})},
           {0xffffffffu, Bytes({0xff, 0xff, 0xff, 0xff, 0x0f})},
       }) {
    ExpectVarintRoundTrip(c.v, c.bytes, &Writer::UnsignedVarInt, UnsignedVarIntSize,
                          &Reader::UnsignedVarInt);
  }
}

TEST(KafkaWire, ZigZagVarIntAndVarLong) {
  // Zigzag: 0->0, -1->1, 1->2, -2->3, 2147483647->4294967294, -2147483648->4294967295.
  for (const auto& c : std::initializer_list<KnownEncoding<int32_t>>{
           {0, Bytes({0x00})},
           {-1, Bytes({0x01})},
           {1, Bytes({0x02})},
           {-2, Bytes({0x03})},
           {63, Bytes({0x7e})},
           {-64, Bytes({0x7f})},
           {64, Bytes({0x80, 0x01})},
           {std::numeric_limits<int32_t>::max(), Bytes({0xfe, 0xff, 0xff, 0xff, 0x0f})},
           {std::numeric_limits<int32_t>::min(), Bytes({0xff, 0xff, 0xff, 0xff, 0x0f})},
       }) {
    ExpectVarintRoundTrip(c.v, c.bytes, &Writer::VarInt, VarIntSize, &Reader::VarInt);
  }
  for (int64_t v : {int64_t{0}, int64_t{-1}, int64_t{1} << 40, -(int64_t{1} << 40),
                    std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min()}) {
    ExpectVarintRoundTrip(v, std::nullopt, &Writer::VarLong, VarLongSize, &Reader::VarLong);
  }
  Writer w;
  w.VarLong(std::numeric_limits<int64_t>::min());
  EXPECT_EQ(w.buffer(), Bytes({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}));
}

TEST(KafkaWire, OverlongVarintsFail) {
  {
    const std::string six = Bytes({0x80, 0x80, 0x80, 0x80, 0x80, 0x01});
    Reader r(six);
    r.UnsignedVarInt();
    EXPECT_FALSE(r.ok());
  }
  {
    // Fifth byte carries bits beyond 32.
    const std::string big = Bytes({0xff, 0xff, 0xff, 0xff, 0x1f});
    Reader r(big);
    r.UnsignedVarInt();
    EXPECT_FALSE(r.ok());
  }
  {
    const std::string eleven(11, '\x80');
    Reader r(eleven);
    r.VarLong();
    EXPECT_FALSE(r.ok());
  }
  {
    const std::string unterminated = Bytes({0x80, 0x80});
    Reader r(unterminated);
    r.VarInt();
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.error(), "truncated varint at offset 2");
  }
}

TEST(KafkaWire, ClassicAndCompactStrings) {
  Writer w;
  w.String("ab");
  w.NullableString(std::nullopt);
  w.NullableString(std::string("x"));
  w.CompactString("ab");
  w.CompactNullableString(std::nullopt);
  w.CompactNullableString(std::string_view(""));
  EXPECT_EQ(w.buffer(),
            Bytes({0x00, 0x02, 'a', 'b', 0xff, 0xff, 0x00, 0x01, 'x', 0x03, 'a', 'b', 0x00, 0x01}));
  Reader r(w.buffer());
  EXPECT_EQ(r.String(), "ab");
  EXPECT_EQ(r.NullableString(), std::nullopt);
  EXPECT_EQ(r.NullableString(), std::optional<std::string_view>("x"));
  EXPECT_EQ(r.CompactString(), "ab");
  EXPECT_EQ(r.CompactNullableString(), std::nullopt);
  EXPECT_EQ(r.CompactNullableString(), std::optional<std::string_view>(""));
  EXPECT_TRUE(r.ok() && r.AtEnd());
}

TEST(KafkaWire, NullWhereNotAllowedFails) {
  {
    const std::string null16 = Bytes({0xff, 0xff});
    Reader r(null16);
    r.String();
    EXPECT_FALSE(r.ok());
  }
  {
    const std::string compact_null = Bytes({0x00});
    Reader r(compact_null);
    r.CompactString();
    EXPECT_FALSE(r.ok());
  }
  {
    const std::string null32 = Bytes({0xff, 0xff, 0xff, 0xff});
    Reader r(null32);
    r.Bytes();
    EXPECT_FALSE(r.ok());
  }
  {
    const std::string neg = Bytes({0xff, 0xfe});
    Reader r(neg);
    EXPECT_EQ(r.NullableString(), std::nullopt);
    EXPECT_FALSE(r.ok());
  }
}

TEST(KafkaWire, BytesForms) {
  Writer w;
  w.Bytes(std::string_view("\x00\x01", 2));
  w.NullableBytes(std::nullopt);
  w.CompactBytes("z");
  w.CompactNullableBytes(std::nullopt);
  EXPECT_EQ(w.buffer(), Bytes({0, 0, 0, 2, 0, 1, 0xff, 0xff, 0xff, 0xff, 0x02, 'z', 0x00}));
  Reader r(w.buffer());
  EXPECT_EQ(r.Bytes(), std::string_view("\x00\x01", 2));
  EXPECT_EQ(r.NullableBytes(), std::nullopt);
  EXPECT_EQ(r.CompactBytes(), "z");
  EXPECT_EQ(r.CompactNullableBytes(), std::nullopt);
  EXPECT_TRUE(r.ok() && r.AtEnd());
}

TEST(KafkaWire, ArrayLengthsAreBoundedByInput) {
  {
    Writer w;
    w.ArrayLength(-1);
    w.CompactArrayLength(-1);
    w.ArrayLength(2);
    w.CompactArrayLength(2);
    EXPECT_EQ(w.buffer(), Bytes({0xff, 0xff, 0xff, 0xff, 0x00, 0, 0, 0, 2, 0x03}));
    Reader r(std::string_view(w.buffer()).substr(0, 5));
    EXPECT_EQ(r.ArrayLength(), -1);
    EXPECT_EQ(r.CompactArrayLength(), -1);
    EXPECT_TRUE(r.ok());
  }
  {
    // Claims 1 billion int32 elements in 4 bytes.
    Writer w;
    w.ArrayLength(1000000000);
    w.Int32(0);
    Reader r(w.buffer());
    EXPECT_EQ(r.ArrayLength(4), 0);
    EXPECT_FALSE(r.ok());
    EXPECT_NE(r.error().find("exceeds the remaining"), std::string::npos);
  }
  {
    Writer w;
    w.CompactArrayLength(3);
    w.Int8(0);
    w.Int8(0);
    Reader r(w.buffer());
    EXPECT_EQ(r.CompactArrayLength(1), 0);
    EXPECT_FALSE(r.ok());
  }
  {
    const std::string neg = Bytes({0xff, 0xff, 0xff, 0xfe});
    Reader r(neg);
    r.ArrayLength();
    EXPECT_FALSE(r.ok());
  }
}

TEST(KafkaWire, TaggedFieldsSkipped) {
  Writer w;
  w.UnsignedVarInt(2);  // two fields
  w.UnsignedVarInt(0);  // tag 0
  w.UnsignedVarInt(3);
  w.Raw("abc");
  w.UnsignedVarInt(5);  // tag 5
  w.UnsignedVarInt(0);
  w.Int8(42);
  Reader r(w.buffer());
  r.SkipTaggedFields();
  EXPECT_EQ(r.Int8(), 42);
  EXPECT_TRUE(r.ok() && r.AtEnd());

  // Out-of-order tags and truncated field data fail.
  const std::string out_of_order = Bytes({0x02, 0x05, 0x00, 0x01, 0x00});
  Reader r2(out_of_order);
  r2.SkipTaggedFields();
  EXPECT_FALSE(r2.ok());
  const std::string truncated = Bytes({0x01, 0x00, 0x05, 'a'});
  Reader r3(truncated);
  r3.SkipTaggedFields();
  EXPECT_FALSE(r3.ok());
}

TEST(KafkaWire, FlexibleHelpersPickTheForm) {
  Writer a;
  a.Str("k", false);
  a.ArrayLen(1, false);
  a.Tags(false);
  Writer b;
  b.Str("k", true);
  b.ArrayLen(1, true);
  b.Tags(true);
  EXPECT_EQ(a.buffer(), Bytes({0x00, 0x01, 'k', 0, 0, 0, 1}));
  EXPECT_EQ(b.buffer(), Bytes({0x02, 'k', 0x02, 0x00}));
}

TEST(KafkaWire, UuidRoundTripAndString) {
  Uuid id{};
  for (size_t i = 0; i < id.size(); ++i) id[i] = static_cast<uint8_t>(i);
  Writer w;
  w.WriteUuid(id);
  ASSERT_EQ(w.size(), 16u);
  Reader r(w.buffer());
  EXPECT_EQ(r.ReadUuid(), id);
  // java.util.Base64 URL encoder without padding of bytes 00 01 .. 0f.
  EXPECT_EQ(UuidToString(id), "AAECAwQFBgcICQoLDA0ODw");
  EXPECT_EQ(UuidToString(kZeroUuid), "AAAAAAAAAAAAAAAAAAAAAA");
}

TEST(KafkaWire, PatchInt32) {
  Writer w;
  w.Int32(0);
  w.Int8(7);
  w.PatchInt32(0, 0x01020304);
  EXPECT_EQ(w.buffer(), Bytes({1, 2, 3, 4, 7}));
}

// --- FrameSplitter -----------------------------------------------------------

TEST(KafkaFrame, SplitsAcrossArbitraryChunks) {
  const std::string stream =
      FrameWithSize("hello") + FrameWithSize("") + FrameWithSize(std::string(300, 'x'));
  // Feed one byte at a time.
  FrameSplitter s;
  std::vector<std::string> frames;
  for (char c : stream) {
    s.Append(std::string_view(&c, 1));
    while (true) {
      auto f = s.Next();
      ASSERT_TRUE(f.has_value());
      if (!f->has_value()) break;
      frames.push_back(**f);
    }
  }
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(frames[0], "hello");
  EXPECT_EQ(frames[1], "");
  EXPECT_EQ(frames[2], std::string(300, 'x'));
  EXPECT_EQ(s.buffered(), 0u);
}

TEST(KafkaFrame, ManyFramesInOneAppend) {
  FrameSplitter s;
  s.Append(FrameWithSize("a") + FrameWithSize("bc") + std::string("\x00\x00", 2));
  EXPECT_EQ(**s.Next(), "a");
  EXPECT_EQ(**s.Next(), "bc");
  auto partial = s.Next();
  ASSERT_TRUE(partial.has_value());
  EXPECT_FALSE(partial->has_value());
  EXPECT_EQ(s.buffered(), 2u);
  s.Append(std::string("\x00\x01z", 3));
  EXPECT_EQ(s.pending_frame_size(), 1u);
  EXPECT_EQ(**s.Next(), "z");
}

TEST(KafkaFrame, NegativeSizeIsStickyProtocolError) {
  FrameSplitter s;
  s.Append(std::string("\xff\xff\xff\xfe", 4));
  auto f = s.Next();
  ASSERT_FALSE(f.has_value());
  EXPECT_EQ(f.error().code(), ErrorCode::kProtocol);
  EXPECT_NE(f.error().message().find("negative frame size -2"), std::string::npos);
  s.Append(FrameWithSize("ok"));
  EXPECT_FALSE(s.Next().has_value());
}

TEST(KafkaFrame, OversizeRejectedBeforeBodyArrives) {
  FrameSplitter s(1024);
  s.Append(std::string("\x00\x00\x04\x01", 4));  // 1025
  auto f = s.Next();
  ASSERT_FALSE(f.has_value());
  EXPECT_NE(f.error().message().find("exceeds the limit of 1024"), std::string::npos);
  FrameSplitter ok(1024);
  ok.Append(FrameWithSize(std::string(1024, 'a')));
  auto g = ok.Next();
  ASSERT_TRUE(g.has_value() && g->has_value());
  EXPECT_EQ((*g)->size(), 1024u);
  // Default cap is Kafka's socket.request.max.bytes (100 MiB).
  FrameSplitter d;
  d.Append(std::string("\x06\x40\x00\x01", 4));  // 100 MiB + 1
  EXPECT_FALSE(d.Next().has_value());
}

// --- Murmur2 -----------------------------------------------------------------

// Expected values computed with kafkajs 2.2.4's murmur2 (a port of Java's
// Utils.murmur2) and cross-checked against librdkafka 2.0.2's
// rd_kafka_msg_partitioner_murmur2 (which returns murmur2 & 0x7fffffff; see
// testdata/README.md). The "21", "foobar", "a-little-bit-long-string",
// "a-little-bit-longer-string", "lkjh..." and "abc" values are also those of
// Kafka's own partitioner tests.
TEST(KafkaMurmur2, MatchesJavaClient) {
  struct Case {
    const char* key;
    int32_t hash;
  } cases[] = {
      {"", 275646681},
      {"a", -1563381124},
      {"ab", 316155434},
      {"abc", 479470107},
      {"abcd", -1323649548},
      {"abcde", 461995741},
      {"21", -973932308},
      {"foobar", -790332482},
      {"a-little-bit-long-string", -985981536},
      {"a-little-bit-longer-string", -1486304829},
      {"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
      {"pgcdc", -1558130212},
      {"public.users", 342046946},
      {"\xc3\xa9t\xc3\xa9", -2101193575},  // "été" in UTF-8 (bytes >= 0x80)
      {"1", -1993445489},
      {"42", 417700972},
      {"key-1", 193331640},
      {"key-2", 852269702},
      {"key-3", -1839136101},
  };
  for (const Case& c : cases) EXPECT_EQ(Murmur2(c.key), c.hash) << c.key;
}

TEST(KafkaMurmur2, DefaultPartitionMatchesClients) {
  // (hash & 0x7fffffff) % 3, as kafkajs and librdkafka (murmur2 partitioner)
  // place these keys in a 3-partition topic.
  EXPECT_EQ(DefaultPartition("a", 3), 1);
  EXPECT_EQ(DefaultPartition("abcd", 3), 2);
  EXPECT_EQ(DefaultPartition("foobar", 3), 0);
  EXPECT_EQ(DefaultPartition("pgcdc", 3), 1);
  EXPECT_EQ(DefaultPartition("key-2", 3), 2);
  EXPECT_EQ(DefaultPartition("key-3", 3), 2);
  EXPECT_EQ(DefaultPartition("1", 8), 7);
  EXPECT_EQ(DefaultPartition("anything", 1), 0);
  EXPECT_EQ(DefaultPartition("anything", 0), 0);
}

}  // namespace
}  // namespace pgcdc::codec::kafka
