#include "detector/outbox/outbox_event.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace pgcdc::detector::outbox {
namespace {

constexpr int64_t kNow = 1750000000123456000;
const std::string kId = "0195b3c2-7a10-7c3e-9f11-2b3c4d5e6f70";

OutboxRow Row(std::optional<std::string> channel, std::optional<std::string> operation,
              std::optional<std::string> payload) {
  return OutboxRow{.id = kId,
                   .channel = std::move(channel),
                   .operation = std::move(operation),
                   .payload = std::move(payload)};
}

TEST(OutboxTableNameTest, QuotesEachPart) {
  EXPECT_EQ(QuoteTableName("pgcdc_outbox").value(), "\"pgcdc_outbox\"");
  EXPECT_EQ(QuoteTableName("app.Outbox").value(), "\"app\".\"Outbox\"");
  EXPECT_EQ(QuoteTableName("odd name-1").value(), "\"odd name-1\"");
}

TEST(OutboxTableNameTest, RejectsMalformedNames) {
  for (const std::string& bad : std::vector<std::string>{
           "", ".t", "s.", "a.b.c", "a..b", std::string(64, 'x'), "\"quoted\"", "s.\"t\""}) {
    auto q = QuoteTableName(bad);
    ASSERT_FALSE(q) << bad;
    EXPECT_EQ(q.error().code(), ErrorCode::kConfig);
  }
  EXPECT_TRUE(QuoteTableName(std::string(63, 'x') + "." + std::string(63, 'y')));
  EXPECT_NE(QuoteTableName("\"x\"").error().message().find("do not quote"), std::string::npos);
}

TEST(OutboxSqlTest, DeleteMode) {
  const OutboxSql sql = MakeOutboxSql("\"app\".\"outbox\"", /*keep_processed=*/false);
  EXPECT_EQ(sql.select,
            "SELECT id, channel, operation, payload::text FROM \"app\".\"outbox\" WHERE "
            "processed_at IS NULL ORDER BY created_at, id LIMIT $1 FOR UPDATE SKIP LOCKED");
  EXPECT_EQ(sql.finish, "DELETE FROM \"app\".\"outbox\" WHERE id = ANY($1::uuid[])");
  EXPECT_EQ(sql.exists, "SELECT to_regclass($1) IS NOT NULL");
}

TEST(OutboxSqlTest, KeepProcessedMode) {
  const OutboxSql sql = MakeOutboxSql("\"pgcdc_outbox\"", /*keep_processed=*/true);
  EXPECT_EQ(sql.finish,
            "UPDATE \"pgcdc_outbox\" SET processed_at = clock_timestamp() WHERE id = "
            "ANY($1::uuid[])");
}

TEST(OutboxSqlTest, UuidArrayLiteral) {
  EXPECT_EQ(UuidArrayLiteral({}), "{}");
  EXPECT_EQ(UuidArrayLiteral({"a"}), "{a}");
  EXPECT_EQ(UuidArrayLiteral({"a", "b", "c"}), "{a,b,c}");
}

TEST(OutboxEventTest, RegularRowKeepsChannelOperationAndCompactsPayload) {
  const RowEvent re =
      MakeOutboxEvent(Row("orders", "order.created", R"({"b": 1, "a": [1, 2, {"x": "<&>"}]})"),
                      "pgcdc_outbox", kNow);
  EXPECT_TRUE(re.invalid_reason.empty());
  const Event& e = re.event;
  EXPECT_EQ(e.channel, "orders");
  EXPECT_EQ(e.operation, "order.created");
  EXPECT_EQ(e.payload, R"({"b":1,"a":[1,2,{"x":"<&>"}]})");
  EXPECT_EQ(e.source, "outbox");
  EXPECT_EQ(e.created_at_ns, kNow);
  EXPECT_EQ(e.lsn, 0u);
  EXPECT_EQ(e.seq, 0u);
  EXPECT_FALSE(e.transaction.has_value());
  EXPECT_EQ(e.id.ToString(), kId);  // the row's id: stable across redeliveries
}

TEST(OutboxEventTest, NonUuidRowIdGetsAFreshId) {
  OutboxRow row = Row("orders", "x", "{}");
  row.id = "42";
  const RowEvent re = MakeOutboxEvent(row, "t", kNow);
  EXPECT_EQ(re.event.id.bytes[6] >> 4, 7);  // UUID version 7
}

TEST(OutboxEventTest, ScalarAndNullPayloads) {
  EXPECT_EQ(MakeOutboxEvent(Row("c", "NOTIFY", "\"just text\""), "t", kNow).event.payload,
            "\"just text\"");
  EXPECT_EQ(MakeOutboxEvent(Row("c", "NOTIFY", "42"), "t", kNow).event.payload, "42");
  EXPECT_EQ(MakeOutboxEvent(Row("c", "NOTIFY", "null"), "t", kNow).event.payload, "null");
  // SQL NULL (possible only when the column allows it) is JSON null, not an error.
  const RowEvent re = MakeOutboxEvent(Row("c", "NOTIFY", std::nullopt), "t", kNow);
  EXPECT_TRUE(re.invalid_reason.empty());
  EXPECT_EQ(re.event.payload, "null");
}

TEST(OutboxEventTest, ARedeliveredRowKeepsItsId) {
  const auto row = Row("c", "NOTIFY", "{}");
  EXPECT_EQ(MakeOutboxEvent(row, "t", kNow).event.id, MakeOutboxEvent(row, "t", kNow).event.id);
}

TEST(OutboxEventTest, NullChannelGoesToInvalidChannelWithEverything) {
  const RowEvent re = MakeOutboxEvent(Row(std::nullopt, "INSERT", R"({"k": 1})"), "app.ob", kNow);
  EXPECT_EQ(re.invalid_reason, "channel is NULL");
  EXPECT_EQ(re.event.channel, "pgcdc:_outbox_invalid");
  EXPECT_EQ(re.event.operation, "INVALID");
  EXPECT_EQ(re.event.source, "outbox");
  EXPECT_EQ(re.event.payload,
            R"({"outbox_id":"0195b3c2-7a10-7c3e-9f11-2b3c4d5e6f70","table":"app.ob",)"
            R"("reason":"channel is NULL","channel":null,"operation":"INSERT","payload":{"k":1}})");
}

TEST(OutboxEventTest, EmptyChannelOrOperationIsInvalid) {
  EXPECT_EQ(MakeOutboxEvent(Row("", "INSERT", "1"), "t", kNow).invalid_reason, "channel is empty");
  EXPECT_EQ(MakeOutboxEvent(Row("c", std::nullopt, "1"), "t", kNow).invalid_reason,
            "operation is NULL");
  const RowEvent re = MakeOutboxEvent(Row("c", "", "1"), "t", kNow);
  EXPECT_EQ(re.invalid_reason, "operation is empty");
  EXPECT_EQ(re.event.payload,
            R"({"outbox_id":"0195b3c2-7a10-7c3e-9f11-2b3c4d5e6f70","table":"t",)"
            R"("reason":"operation is empty","channel":"c","operation":"","payload":1})");
}

TEST(OutboxEventTest, NonJsonPayloadIsCarriedAsString) {
  // Only possible when the payload column is text rather than jsonb.
  const RowEvent re = MakeOutboxEvent(Row("c", "NOTIFY", "not \"json\""), "t", kNow);
  EXPECT_EQ(re.invalid_reason.rfind("payload is not valid JSON: ", 0), 0u) << re.invalid_reason;
  EXPECT_EQ(re.event.channel, "pgcdc:_outbox_invalid");
  const std::string tail = R"("channel":"c","operation":"NOTIFY","payload":"not \"json\""})";
  ASSERT_GE(re.event.payload.size(), tail.size());
  EXPECT_EQ(re.event.payload.substr(re.event.payload.size() - tail.size()), tail)
      << re.event.payload;
}

TEST(OutboxEventTest, EnvelopeJson) {
  Event e = MakeOutboxEvent(Row("pgcdc:orders", "UPDATE", R"({"id": 1})"), "t", kNow).event;
  const std::string& json = e.Json();
  const std::string tail =
      R"(","channel":"pgcdc:orders","operation":"UPDATE","payload":{"id":1},"source":"outbox",)"
      R"("created_at":"2025-06-15T15:06:40.123456Z"})";
  ASSERT_GE(json.size(), tail.size());
  EXPECT_EQ(json.substr(json.size() - tail.size()), tail) << json;
}

}  // namespace
}  // namespace pgcdc::detector::outbox
