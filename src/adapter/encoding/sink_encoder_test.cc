#include "adapter/encoding/sink_encoder.h"

#include <gtest/gtest.h>

#include "adapter/encoding/fake_registry.h"

namespace pgcdc::encoding {
namespace {

Event Row(const std::string& amount) {
  auto table = std::make_shared<RowSchema>();
  table->namespace_name = "public";
  table->table = "orders";
  table->columns = {{"id", 23, true}, {"amount", 1700, false}};
  Event e = MakeEvent("pgcdc:orders", "INSERT",
                      R"({"op":"INSERT","row":{"id":1,"amount":)" + amount + "}}", "wal");
  e.schema = table;
  return e;
}

TEST(SinkEncoderTest, JsonIsAPassthrough) {
  SinkEncoder enc("test_json", {});
  EXPECT_TRUE(enc.passthrough());
  EXPECT_EQ(enc.content_type(), "application/json");
  EXPECT_TRUE(enc.Open()) << "no registry is contacted";
}

TEST(SinkEncoderTest, VerdictsDeadLetterRetryOrOk) {
  testing::FakeRegistry fake;
  SinkEncoder enc("test_avro", {.format = Format::kAvro, .registry = {.url = fake.url()}});
  EXPECT_FALSE(enc.passthrough());
  EXPECT_EQ(enc.content_type(), "application/avro");
  ASSERT_TRUE(enc.Open());
  EXPECT_EQ(fake.checks(), 1);

  std::string out = "old";
  const Event ok = Row("12.5");
  ASSERT_TRUE(enc.Encode(ok, ok.payload, out));
  EXPECT_EQ(out.substr(0, 5), std::string("\0\0\0\0\1", 5)) << "replaced, with the header";

  // A value the Avro type cannot hold: dead-letter, naming the column.
  const Event nan = Row(R"("NaN")");
  auto bad = enc.Encode(nan, nan.payload, out);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, EncodeFailure::Kind::kDeadLetter);
  EXPECT_NE(bad.error().message.find("avro encoding: "), std::string::npos) << bad.error().message;
  EXPECT_NE(bad.error().message.find("amount"), std::string::npos) << bad.error().message;

  // The registry fails (5xx) for a schema it has not seen: hold and retry.
  const Event other = MakeEvent("other", "NOTIFY", "1", "listen_notify");
  fake.set_status(500);
  auto down = enc.Encode(other, "1", out);
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().kind, EncodeFailure::Kind::kRetry);
  EXPECT_NE(down.error().message.find("HTTP 500"), std::string::npos) << down.error().message;
  // ... and refuses it (4xx): dead-letter.
  fake.set_status(422);
  auto refused = enc.Encode(other, "1", out);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, EncodeFailure::Kind::kDeadLetter);
  fake.set_status(200);
  EXPECT_TRUE(enc.Encode(other, "1", out));
  // The series the encoder counts in (looked up by name and label).
  EXPECT_EQ(metrics::AdapterCounter("pgcdc_encoding_errors_total", "", "test_avro").Value(), 3u);
  EXPECT_EQ(metrics::AdapterCounter("pgcdc_encoding_encoded_total", "", "test_avro").Value(), 2u);
}

TEST(SinkEncoderTest, StartUpCheckNamesTheRegistry) {
  testing::FakeRegistry fake;
  const Settings s{.format = Format::kProtobuf, .registry = {.url = fake.url()}};
  fake.set_status(401);
  auto st = SinkEncoder("test_pb", s).Open();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), ErrorCode::kConfig);
  EXPECT_NE(st.error().message().find("test_pb: schema registry at 127.0.0.1:"), std::string::npos)
      << st.error().message();
  EXPECT_NE(st.error().message().find("HTTP 401 (check encoding.schema_registry_username"),
            std::string::npos)
      << st.error().message();
  fake.set_status(503);
  st = SinkEncoder("test_pb", s).Open();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), ErrorCode::kConnection);
  fake.set_status(200);
  EXPECT_TRUE(SinkEncoder("test_pb", s).Open());

  auto nobody =
      SinkEncoder("test_pb", {.format = Format::kAvro, .registry = {.url = "http://127.0.0.1:1/"}});
  st = nobody.Open();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), ErrorCode::kConnection) << st.error().message();
}

TEST(SinkEncoderTest, SettingsValidation) {
  EXPECT_TRUE(ValidateSettings({}).empty());
  EXPECT_TRUE(ValidateSettings({.registry = {.url = "https://sr.example:8081/x"}}).empty());
  auto e = ValidateSettings({.registry = {.url = "sr.example:8081"}});
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].rfind("encoding.schema_registry_url: ", 0), 0u) << e[0];
  e = ValidateSettings({.registry = {.username = "u"}});
  ASSERT_EQ(e.size(), 1u);
  EXPECT_NE(e[0].find("needs encoding.schema_registry_url"), std::string::npos) << e[0];
}

}  // namespace
}  // namespace pgcdc::encoding
