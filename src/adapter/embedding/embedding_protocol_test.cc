#include "adapter/embedding/embedding_protocol.h"

#include <gtest/gtest.h>

namespace pgcdc::adapter::embedding {
namespace {

PlanOptions Opts(bool skip_unchanged = false) {
  return {.columns = {"title", "body"},
          .id_column = "id",
          .model = "m",
          .skip_unchanged = skip_unchanged};
}

Event Ev(std::string op, std::string payload) {
  return MakeEvent("pgcdc:docs", std::move(op), std::move(payload), "wal");
}

TEST(EmbeddingPlan, JoinsTheTextColumnsOfARow) {
  auto it = PlanItem(
      Opts(),
      Ev("INSERT",
         R"({"op":"INSERT","table":"docs","row":{"id":7,"title":"Hello","body":"world","n":1}})"));
  ASSERT_EQ(it.kind, Item::Kind::kUpsert) << it.reason;
  EXPECT_EQ(it.source_id, "7");
  EXPECT_EQ(it.source_table, "docs");
  EXPECT_EQ(it.content, "Hello world");
  EXPECT_EQ(it.hash, ContentHash("m", "Hello world"));
  // Nulls are left out; a number is its text.
  it = PlanItem(Opts(),
                Ev("SNAPSHOT", R"({"table":"docs","row":{"id":"a","title":null,"body":12}})"));
  ASSERT_EQ(it.kind, Item::Kind::kUpsert);
  EXPECT_EQ(it.content, "12");
}

TEST(EmbeddingPlan, DeletesSkipsAndRejections) {
  auto del = PlanItem(Opts(), Ev("DELETE", R"({"op":"DELETE","table":"docs","row":{"id":3}})"));
  EXPECT_EQ(del.kind, Item::Kind::kDelete);
  EXPECT_EQ(del.source_id, "3");
  EXPECT_EQ(PlanItem(Opts(), Ev("BEGIN", R"({"xid":1})")).reason, "not_row");
  EXPECT_EQ(PlanItem(Opts(), Ev("TRUNCATE", R"({"table":"docs"})")).reason, "truncate");
  EXPECT_EQ(PlanItem(Opts(), Ev("INSERT", R"({"row":{"title":"x"}})")).reason, "no_id");
  EXPECT_EQ(PlanItem(Opts(), Ev("INSERT", R"({"row":{"id":1,"title":null,"body":""}})")).reason,
            "empty_content");
  // Bad input: none of the columns → rejected (DLQ), not silently skipped.
  auto bad = PlanItem(Opts(), Ev("INSERT", R"({"row":{"id":1,"other":"x"}})"));
  EXPECT_EQ(bad.kind, Item::Kind::kReject);
  EXPECT_NE(bad.reason.find("none of the embedding columns (title, body)"), std::string::npos);
  auto nul = PlanItem(Opts(), Ev("INSERT", R"({"row":{"id":1,"title":"a\u0000b"}})"));
  EXPECT_EQ(nul.kind, Item::Kind::kReject);
}

TEST(EmbeddingPlan, UnchangedTextByOldImageOrToast) {
  const std::string same =
      R"({"row":{"id":1,"title":"t","body":"b","n":2},"old":{"id":1,"title":"t","body":"b","n":1}})";
  EXPECT_EQ(PlanItem(Opts(true), Ev("UPDATE", same)).reason, "unchanged");
  EXPECT_EQ(PlanItem(Opts(false), Ev("UPDATE", same)).kind, Item::Kind::kUpsert);
  const std::string changed =
      R"({"row":{"id":1,"title":"t2","body":"b"},"old":{"id":1,"title":"t","body":"b"}})";
  EXPECT_EQ(PlanItem(Opts(true), Ev("UPDATE", changed)).kind, Item::Kind::kUpsert);
  // Every text column an unchanged TOAST value: nothing to embed.
  EXPECT_EQ(
      PlanItem(Opts(), Ev("UPDATE",
                          R"({"row":{"id":1,"n":3},"_unchanged_toast_columns":["title","body"]})"))
          .reason,
      "unchanged");
  // Only one of them: the text cannot be rebuilt → DLQ with the fix.
  auto part = PlanItem(
      Opts(),
      Ev("UPDATE", R"({"row":{"id":1,"title":"new"},"_unchanged_toast_columns":["body"]})"));
  EXPECT_EQ(part.kind, Item::Kind::kReject);
  EXPECT_NE(part.reason.find("REPLICA IDENTITY FULL"), std::string::npos);
}

TEST(EmbeddingProtocol, HashDependsOnModelAndText) {
  EXPECT_EQ(ContentHash("m", "x").size(), 64u);
  EXPECT_EQ(ContentHash("m", "x"), ContentHash("m", "x"));
  EXPECT_NE(ContentHash("m", "x"), ContentHash("m2", "x"));
  EXPECT_NE(ContentHash("m", "x"), ContentHash("m", "y"));
  EXPECT_NE(ContentHash("ab", "c"), ContentHash("a", "bc"));
  // SHA-256 of the single separator byte (python: hashlib.sha256(b"\0")).
  EXPECT_EQ(ContentHash("", ""),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
}

TEST(EmbeddingProtocol, RequestShape) {
  const std::string a = "hi \"there\"";
  const std::string b = "two";
  EXPECT_EQ(RequestBody("text-embedding-3-small", {&a, &b}),
            R"({"model":"text-embedding-3-small","input":["hi \"there\"","two"]})");
  EXPECT_EQ(EmbeddingsPath("/"), "/embeddings");
  EXPECT_EQ(EmbeddingsPath("/v1"), "/v1/embeddings");
  EXPECT_EQ(EmbeddingsPath("/v1/embeddings"), "/v1/embeddings");
  EXPECT_EQ(EmbeddingsPath("/v1/?x=1"), "/v1/embeddings");
  const std::string head = RequestHead("/v1/embeddings", "api:8080", "k", 12);
  EXPECT_EQ(head,
            "POST /v1/embeddings HTTP/1.1\r\nHost: api:8080\r\nUser-Agent: pgcdc\r\nContent-Type: "
            "application/json\r\nContent-Length: 12\r\nAuthorization: Bearer k\r\n\r\n");
  EXPECT_EQ(RequestHead("/e", "h", "", 1).find("Authorization"), std::string::npos);
}

TEST(EmbeddingProtocol, ParsesAnswersInIndexOrder) {
  auto r = ParseResponse(
      R"({"data":[{"index":1,"embedding":[3,4]},{"index":0,"embedding":[1.5,-2]}],"usage":{"total_tokens":9}})",
      2);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->tokens, 9u);
  EXPECT_EQ(r->vectors[0], (std::vector<float>{1.5F, -2.0F}));
  EXPECT_EQ(r->vectors[1], (std::vector<float>{3.0F, 4.0F}));
  // No index: input order.
  r = ParseResponse(R"({"data":[{"embedding":[1]},{"embedding":[2]}]})", 2);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->vectors[1][0], 2.0F);
  for (const char* bad : {"not json", "{}", R"({"data":{}})", R"({"data":[{"embedding":[1]}]})",
                          R"({"data":[{"embedding":[1]},{"embedding":["x"]}]})",
                          R"({"data":[{"index":0,"embedding":[1]},{"index":0,"embedding":[2]}]})",
                          R"({"data":[{"index":5,"embedding":[1]},{"embedding":[2]}]})",
                          R"({"data":[{"embedding":[1e300]},{"embedding":[2]}]})"}) {
    EXPECT_FALSE(ParseResponse(bad, 2)) << bad;
  }
  EXPECT_EQ(ApiErrorMessage(R"({"error":{"message":"too long","type":"x"}})"), "too long");
  EXPECT_EQ(ApiErrorMessage(R"({"message":"m"})"), "m");
  EXPECT_EQ(ApiErrorMessage("plain"), "plain");
}

TEST(EmbeddingProtocol, VectorAndArrayText) {
  EXPECT_EQ(VectorText({0.1F, -2.0F, 3.5e-7F}), "[0.1,-2,3.5e-07]");
  EXPECT_EQ(VectorText({}), "[]");
  EXPECT_EQ(TextArray({}), "{}");
  EXPECT_EQ(TextArray({"a", "b\"c", "d\\e", "NULL", ""}), R"({"a","b\"c","d\\e","NULL",""})");
}

TEST(EmbeddingProtocol, SqlBindsEveryValue) {
  EXPECT_EQ(LookupSql("\"s\".\"t\""),
            "SELECT source_id, content_hash FROM \"s\".\"t\" WHERE source_id = ANY($1::text[])");
  EXPECT_EQ(WriteSql("\"t\"", 0), "DELETE FROM \"t\" WHERE source_id = ANY($1::text[])");
  const std::string two = WriteSql("\"t\"", 2);
  EXPECT_TRUE(
      two.starts_with("WITH gone AS (DELETE FROM \"t\" WHERE source_id = ANY($1::text[])) "
                      "INSERT INTO \"t\" (source_id, source_table, content, embedding, "
                      "event_id, content_hash, updated_at) VALUES ($2, $3, $4, $5::vector, "
                      "$6, $7, now()), ($8, $9, $10, $11::vector, $12, $13, now()) ON "
                      "CONFLICT (source_id) DO UPDATE SET"))
      << two;
  EXPECT_NE(two.find("content_hash = EXCLUDED.content_hash"), std::string::npos);
}

TEST(EmbeddingProtocol, StatusClasses) {
  EXPECT_EQ(ClassifyStatus(200), Outcome::kOk);
  EXPECT_EQ(ClassifyStatus(401), Outcome::kAuth);
  EXPECT_EQ(ClassifyStatus(403), Outcome::kAuth);
  EXPECT_EQ(ClassifyStatus(429), Outcome::kRetry);
  EXPECT_EQ(ClassifyStatus(408), Outcome::kRetry);
  EXPECT_EQ(ClassifyStatus(503), Outcome::kRetry);
  EXPECT_EQ(ClassifyStatus(400), Outcome::kReject);
  EXPECT_EQ(ClassifyStatus(404), Outcome::kReject);
}

}  // namespace
}  // namespace pgcdc::adapter::embedding
