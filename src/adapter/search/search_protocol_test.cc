#include "adapter/search/search_protocol.h"

#include <gtest/gtest.h>

namespace pgcdc::adapter::search {
namespace {

Event Ev(std::string op, std::string payload, std::string channel = "pgcdc:items") {
  return MakeEvent(std::move(channel), std::move(op), std::move(payload), "wal_replication");
}

TEST(SearchPlanTest, InsertBecomesAnUpsertOfTheRow) {
  auto d = PlanDocument(
      Engine::kMeilisearch, "id",
      Ev("INSERT", R"({"old":null,"op":"INSERT","row":{"id":7,"t":"a"},"table":"x"})"));
  EXPECT_EQ(d.kind, Document::Kind::kUpsert);
  EXPECT_EQ(d.id, "7");
  EXPECT_EQ(d.body, R"({"id":7,"t":"a"})");
  // Typesense ids must be strings.
  d = PlanDocument(
      Engine::kTypesense, "id",
      Ev("INSERT", R"({"old":null,"op":"INSERT","row":{"id":7,"t":"a"},"table":"x"})"));
  EXPECT_EQ(d.body, R"({"id":"7","t":"a"})");
  d = PlanDocument(
      Engine::kTypesense, "id",
      Ev("UPDATE", R"({"old":null,"op":"UPDATE","row":{"id":"7","t":"b"},"table":"x"})"));
  EXPECT_EQ(d.kind, Document::Kind::kUpsert);
  EXPECT_EQ(d.body, R"({"id":"7","t":"b"})");
  // Another id column: Typesense gets it as `id` too.
  d = PlanDocument(
      Engine::kTypesense, "sku",
      Ev("SNAPSHOT", R"({"old":null,"op":"SNAPSHOT","row":{"sku":"a/1","n":1},"table":"x"})"));
  EXPECT_EQ(d.kind, Document::Kind::kUpsert);
  EXPECT_EQ(d.id, "a/1");
  EXPECT_EQ(d.body, R"({"sku":"a/1","n":1,"id":"a/1"})");
}

TEST(SearchPlanTest, DeleteUsesTheOldRowId) {
  auto d = PlanDocument(
      Engine::kTypesense, "id",
      Ev("DELETE", R"({"old":null,"op":"DELETE","row":{"id":"9","t":null},"table":"x"})"));
  EXPECT_EQ(d.kind, Document::Kind::kDelete);
  EXPECT_EQ(d.id, "9");
  EXPECT_TRUE(d.body.empty());
}

TEST(SearchPlanTest, UnchangedToastColumnsMakeAPartialUpdateWithoutThem) {
  // The column list is a JSON array (upstream split it on commas and never
  // matched a column, overwriting the stored text with null).
  const std::string payload =
      R"({"_unchanged_toast_columns":["body","notes, more"],"old":null,"op":"UPDATE",)"
      R"("row":{"body":null,"id":"3","notes, more":null,"title":"new"},"table":"x"})";
  auto d = PlanDocument(Engine::kTypesense, "id", Ev("UPDATE", payload));
  EXPECT_EQ(d.kind, Document::Kind::kPartial);
  EXPECT_EQ(d.id, "3");
  EXPECT_EQ(d.body, R"({"id":"3","title":"new"})");
  EXPECT_EQ(ToastColumns(R"(["a","b,c"])"), (std::vector<std::string>{"a", "b,c"}));
  EXPECT_TRUE(ToastColumns("a,b").empty());
  // An empty list is a plain upsert.
  d = PlanDocument(
      Engine::kTypesense, "id",
      Ev("UPDATE", R"({"_unchanged_toast_columns":[],"op":"UPDATE","row":{"id":"3"}})"));
  EXPECT_EQ(d.kind, Document::Kind::kUpsert);
}

TEST(SearchPlanTest, NonRowEventsAreSkippedWithAReason) {
  auto reason = [](std::string op, std::string payload) {
    auto d = PlanDocument(Engine::kTypesense, "id", Ev(std::move(op), std::move(payload)));
    EXPECT_EQ(d.kind, Document::Kind::kSkip);
    return d.skip_reason;
  };
  EXPECT_EQ(reason("BEGIN", R"({"commit_time":"t","xid":1})"), "not_row");
  EXPECT_EQ(reason("SCHEMA_CHANGE", R"({"changes":[],"op":"SCHEMA_CHANGE","table":"x"})"),
            "not_row");
  EXPECT_EQ(reason("TRUNCATE", R"({"op":"TRUNCATE","row":null,"table":"x"})"), "truncate");
  EXPECT_EQ(reason("INSERT", R"({"op":"INSERT","row":{"name":"no id"}})"), "no_id");
  EXPECT_EQ(reason("INSERT", R"({"op":"INSERT","row":{"id":null}})"), "no_id");
  EXPECT_EQ(reason("INSERT", R"("just text")"), "not_row");
  EXPECT_EQ(reason("INSERT", R"({"op":"INSERT","row":null})"), "not_row");
}

TEST(SearchRequestTest, TypesenseShapes) {
  const std::string a = R"({"id":"1"})";
  const std::string b = R"({"id":"2"})";
  const std::string* docs[] = {&a, &b};
  auto r = UpsertRequest(Engine::kTypesense, "my items", docs);
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/collections/my%20items/documents/import?action=upsert");
  EXPECT_EQ(r.body, "{\"id\":\"1\"}\n{\"id\":\"2\"}");
  EXPECT_NE(RequestHead(Engine::kTypesense, r, "", "h", "").find("Content-Length: 21\r\n"),
            std::string::npos);
  r = PartialRequest(Engine::kTypesense, "items", "a/b", R"({"id":"a/b"})");
  EXPECT_EQ(r.method, "PATCH");
  EXPECT_EQ(r.target, "/collections/items/documents/a%2Fb");
  r = DeleteRequest(Engine::kTypesense, "items", "5");
  EXPECT_EQ(r.method, "DELETE");
  EXPECT_EQ(r.target, "/collections/items/documents/5");
  EXPECT_TRUE(r.body.empty());
  const std::string head = RequestHead(Engine::kTypesense, r, "/ts", "h:8108", "k3y");
  EXPECT_EQ(head,
            "DELETE /ts/collections/items/documents/5 HTTP/1.1\r\nHost: h:8108\r\nUser-Agent: "
            "pgcdc\r\nContent-Type: application/json\r\nContent-Length: 0\r\n"
            "X-TYPESENSE-API-KEY: k3y\r\n\r\n");
}

TEST(SearchRequestTest, MeilisearchShapes) {
  const std::string a = R"({"id":1})";
  const std::string b = R"({"id":2})";
  const std::string* docs[] = {&a, &b};
  auto r = UpsertRequest(Engine::kMeilisearch, "items", docs);
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/indexes/items/documents");
  EXPECT_EQ(r.body, R"([{"id":1},{"id":2}])");
  // Partial: PUT (add or update) keeps the fields left out.
  r = PartialRequest(Engine::kMeilisearch, "items", "1", R"({"id":1,"t":"x"})");
  EXPECT_EQ(r.method, "PUT");
  EXPECT_EQ(r.target, "/indexes/items/documents");
  EXPECT_EQ(r.body, R"([{"id":1,"t":"x"}])");
  r = DeleteRequest(Engine::kMeilisearch, "items", "1");
  EXPECT_EQ(r.target, "/indexes/items/documents/1");
  r = TaskRequest(42);
  EXPECT_EQ(r.target, "/tasks/42");
  const std::string head = RequestHead(Engine::kMeilisearch, r, "", "m", "secret");
  EXPECT_NE(head.find("Authorization: Bearer secret\r\n"), std::string::npos);
  EXPECT_EQ(head.find("Content-Length"), std::string::npos);  // a GET without body
  EXPECT_EQ(RequestHead(Engine::kMeilisearch, r, "", "m", "").find("Authorization"),
            std::string::npos);
}

TEST(SearchResponseTest, TypesenseImportLinesAreInspected) {
  auto r = ParseImportResults(
      "{\"success\":true}\n{\"success\":false,\"error\":\"Field `n` must be an int32.\","
      "\"document\":\"{}\"}\n{\"success\": true}",
      4);
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0], "");
  EXPECT_EQ(r[1], "Field `n` must be an int32.");
  EXPECT_EQ(r[2], "");
  EXPECT_EQ(r[3], "no result line for this document");
  r = ParseImportResults("garbage", 1);
  EXPECT_NE(r[0].find("unreadable import result"), std::string::npos);
}

TEST(SearchResponseTest, MeilisearchTasks) {
  auto uid = ParseTaskUid(R"({"taskUid":12,"indexUid":"items","status":"enqueued"})");
  ASSERT_TRUE(uid);
  EXPECT_EQ(*uid, 12u);
  EXPECT_EQ(*ParseTaskUid(R"({"uid":3})"), 3u);
  EXPECT_FALSE(ParseTaskUid("{}"));
  auto s = ParseTaskState(R"({"uid":12,"status":"processing"})");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->status, TaskState::Status::kPending);
  s = ParseTaskState(R"({"status":"succeeded"})");
  EXPECT_EQ(s->status, TaskState::Status::kSucceeded);
  s = ParseTaskState(
      R"({"status":"failed","error":{"message":"bad id","code":"invalid_document_id"}})");
  EXPECT_EQ(s->status, TaskState::Status::kFailed);
  EXPECT_EQ(s->error, "task failed: bad id (invalid_document_id)");
  EXPECT_FALSE(ParseTaskState("[]"));
}

TEST(SearchResponseTest, StatusClassesAndMessages) {
  EXPECT_EQ(ClassifyStatus(200), Outcome::kOk);
  EXPECT_EQ(ClassifyStatus(202), Outcome::kOk);
  EXPECT_EQ(ClassifyStatus(401), Outcome::kAuth);
  EXPECT_EQ(ClassifyStatus(403), Outcome::kAuth);
  EXPECT_EQ(ClassifyStatus(429), Outcome::kRetry);
  EXPECT_EQ(ClassifyStatus(503), Outcome::kRetry);
  EXPECT_EQ(ClassifyStatus(400), Outcome::kReject);
  EXPECT_EQ(ClassifyStatus(404), Outcome::kReject);
  EXPECT_EQ(ErrorMessage(R"({"message":"Not Found"})"), "Not Found");
  EXPECT_EQ(ErrorMessage("plain\ntext"), "plain text");
  EXPECT_EQ(EscapePathSegment("a b/ü~"), "a%20b%2F%C3%BC~");
}

}  // namespace
}  // namespace pgcdc::adapter::search
