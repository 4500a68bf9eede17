#include "adapter/encoding/encoder.h"

#include <gtest/gtest.h>

#include "adapter/encoding/fake_registry.h"
#include "adapter/encoding/protobuf.h"

namespace pgcdc::encoding {
namespace {

Event RowEvent() {
  auto table = std::make_shared<RowSchema>();
  table->namespace_name = "public";
  table->table = "orders";
  table->columns = {{"id", 23, true}};
  Event e = MakeEvent("pgcdc:orders", "INSERT", R"({"op":"INSERT","row":{"id":1}})", "wal");
  e.schema = table;
  return e;
}

TEST(EncoderTest, JsonPassesTheBytesThrough) {
  auto enc = Encoder::Open(Format::kJson, {});
  ASSERT_TRUE(enc);
  std::string out;
  ASSERT_TRUE((*enc)->Encode(RowEvent(), "{\"x\":1}", out));
  EXPECT_EQ(out, "{\"x\":1}");
  EXPECT_EQ((*enc)->content_type(), "application/json");
}

TEST(EncoderTest, AvroWithARegistryGetsTheConfluentHeader) {
  testing::FakeRegistry fake;
  auto enc = Encoder::Open(Format::kAvro, {.url = fake.url()});
  ASSERT_TRUE(enc);
  const Event e = RowEvent();
  std::string out;
  ASSERT_TRUE((*enc)->Encode(e, e.payload, out));
  ASSERT_GT(out.size(), 5u);
  EXPECT_EQ(out.substr(0, 5), std::string("\0\0\0\0\1", 5));
  std::string raw;
  ASSERT_TRUE(avro::Encode(e, *avro::TableSchema(*e.schema), raw));
  EXPECT_EQ(out.substr(5), raw);
  EXPECT_EQ(fake.schema(1), avro::TableSchema(*e.schema)->json);
  EXPECT_EQ(fake.requests()[0].path, "/prefix/subjects/pgcdc.orders-value/versions");
  EXPECT_EQ((*enc)->content_type(), "application/avro");

  // An opaque event (no table) carries the given bytes.
  const Event plain = MakeEvent("c", "NOTIFY", "42", "listen_notify");
  out.clear();
  ASSERT_TRUE((*enc)->Encode(plain, "envelope", out));
  EXPECT_EQ(out.substr(0, 5), std::string("\0\0\0\0\2", 5));
  EXPECT_EQ(out.substr(5),
            "\x10"
            "envelope");

  // Registry down: a retryable error, nothing written.
  fake.set_status(503);
  out = "keep";
  const Event other = MakeEvent("other", "NOTIFY", "1", "listen_notify");
  auto st = (*enc)->Encode(other, "1", out);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), ErrorCode::kConnection);
  EXPECT_EQ(out, "keep");
}

TEST(EncoderTest, ProtobufWithAndWithoutRegistry) {
  const Event e = RowEvent();
  auto raw = Encoder::Open(Format::kProtobuf, {});
  ASSERT_TRUE(raw);
  std::string out;
  ASSERT_TRUE((*raw)->Encode(e, e.payload, out));
  std::string expect;
  protobuf::Encode(e, e.payload, expect);
  EXPECT_EQ(out, expect);
  testing::FakeRegistry fake;
  auto reg = Encoder::Open(Format::kProtobuf, {.url = fake.url()});
  ASSERT_TRUE(reg);
  out.clear();
  ASSERT_TRUE((*reg)->Encode(e, e.payload, out));
  EXPECT_EQ(out.substr(0, 6), std::string("\0\0\0\0\1\0", 6));
  EXPECT_EQ(out.substr(6), expect);
  EXPECT_EQ(fake.schema(1), protobuf::EventProto());
  EXPECT_EQ((*reg)->content_type(), "application/x-protobuf");
}

}  // namespace
}  // namespace pgcdc::encoding
