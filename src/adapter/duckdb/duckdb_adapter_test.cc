#include "adapter/duckdb/duckdb_adapter.h"

#include <gtest/gtest.h>

#include "adapter/duckdb/query.h"
#include "adapter/duckdb/store.h"

namespace pgcdc::adapter::duckdb {
namespace {

using std::chrono::milliseconds;
using Kind = QueryOutcome::Kind;

constexpr milliseconds kDefault{30'000};
constexpr milliseconds kMax{300'000};

TEST(DuckdbQueryRequest, ParsesSqlParamsAndTimeout) {
  auto r = ParseQueryRequest(R"({"sql":"SELECT ?","params":["a",1,true,null],"timeout":"2s"})",
                             kDefault, kMax);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->sql, "SELECT ?");
  ASSERT_EQ(r->params.size(), 4u);
  EXPECT_EQ(*r->params[0], "a");
  EXPECT_EQ(*r->params[1], "1");
  EXPECT_EQ(*r->params[2], "true");
  EXPECT_FALSE(r->params[3].has_value());
  EXPECT_EQ(r->timeout, milliseconds(2000));
  auto d = ParseQueryRequest(R"({"sql":"SELECT 1"})", kDefault, kMax);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->timeout, kDefault);
}

TEST(DuckdbQueryRequest, RefusesBadBodies) {
  for (const char* body : {"not json", "[]", "{}", R"({"sql":""})", R"({"sql":1})",
                           R"({"sql":"x","params":"a"})", R"({"sql":"x","params":[{}]})",
                           R"({"sql":"x","timeout":"soon"})", R"({"sql":"x","timeout":5})",
                           R"({"sql":"x","timeout":"0s"})", R"({"sql":"x","timeout":"1h"})"}) {
    auto r = ParseQueryRequest(body, kDefault, kMax);
    ASSERT_FALSE(r) << body;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument) << body;
  }
}

TEST(DuckdbSql, RowPointerEscapes) {
  EXPECT_EQ(RowPointer("id"), "/row/id");
  EXPECT_EQ(RowPointer("a/b~c"), "/row/a~1b~0c");
}

TEST(DuckdbSql, JsonRowsWrapsAndDropsTrailingSemicolons) {
  EXPECT_EQ(JsonRowsSql("SELECT 1 ;\n"),
            "SELECT to_json(pgcdc_q)::VARCHAR FROM (SELECT 1\n) AS pgcdc_q");
}

TEST(DuckdbSql, RetentionInterval) {
  EXPECT_EQ(RetentionInterval(std::chrono::hours(1)), milliseconds(360'000));
  EXPECT_EQ(RetentionInterval(milliseconds(500)), milliseconds(1000));
}

// ---- the store on a real in-memory DuckDB ----------------------------------------

Event RowEvent(int id, const std::string& status, std::shared_ptr<const RowSchema> schema) {
  Event e = MakeEvent("pgcdc:orders", "INSERT",
                      R"({"op":"INSERT","table":"orders","row":{"id":)" + std::to_string(id) +
                          R"(,"status":")" + status +
                          R"(","placed_at":"2025-06-15 12:00:00+00"},"old":null})",
                      "wal_replication");
  e.schema = std::move(schema);
  return e;
}

std::shared_ptr<const RowSchema> Orders() {
  auto s = std::make_shared<RowSchema>();
  s->namespace_name = "public";
  s->table = "orders";
  s->columns = {{"id", 23, true}, {"status", 25, false}, {"placed_at", 1184, false}};
  return s;
}

std::unique_ptr<Store> OpenStore(bool readonly = true, size_t max_bytes = 1u << 20) {
  StoreOptions o;
  o.readonly_queries = readonly;
  o.max_result_bytes = max_bytes;
  auto s = Store::Open(o);
  if (!s) {
    ADD_FAILURE() << s.error().message();
    return nullptr;
  }
  return std::move(*s);
}

QueryOutcome Exec(Store& s, std::string sql, std::vector<std::optional<std::string>> params = {},
                  milliseconds timeout = milliseconds(10'000)) {
  return s.Query(0, QueryRequest{std::move(sql), std::move(params), timeout});
}

TEST(DuckdbStore, CommitsAndQueriesAsJsonRows) {
  auto s = OpenStore();
  ASSERT_TRUE(s);
  Event a = RowEvent(1, "new", Orders());
  Event b = RowEvent(2, "paid", Orders());
  ASSERT_TRUE(s->Append(a));
  ASSERT_TRUE(s->Append(b));
  EXPECT_EQ(Exec(*s, "SELECT count(*) AS n FROM cdc_events").body, R"([{"n":0}])");
  ASSERT_TRUE(s->Commit());
  EXPECT_EQ(s->staged(), 0u);
  auto out = Exec(*s, "SELECT payload->>'$.row.status' AS s FROM cdc_events WHERE id = $1",
                  {b.id.ToString()});
  EXPECT_EQ(out.kind, Kind::kOk) << out.body;
  EXPECT_EQ(out.body, R"([{"s":"paid"}])");
  EXPECT_EQ(Exec(*s, "SELECT 1 WHERE false").body, "[]");
  // JSON columns come back as JSON, not as strings.
  EXPECT_EQ(Exec(*s, "SELECT payload->'$.row.id' AS id FROM cdc_events ORDER BY 1").body,
            R"([{"id":1},{"id":2}])");
  auto tables = Exec(*s, TablesSql());
  EXPECT_EQ(tables.body, R"([{"channel":"pgcdc:orders","count":2}])");
}

// The JSON shape docs/duckdb.md documents.
TEST(DuckdbStore, ResultShapeIsToJsonOfEachRow) {
  auto s = OpenStore();
  ASSERT_TRUE(s);
  auto out = Exec(*s,
                  "SELECT 1 AS id, 2 AS id, 1830.50::DECIMAL(12,2) AS d, 'x' AS s, NULL AS n, "
                  "true AS b, TIMESTAMP '2025-06-15 12:00:00' AS t, [1, 2] AS l, {'k': 'v'} AS o, "
                  "'{\"a\":1}'::JSON AS j, 1.5::DOUBLE AS f");
  EXPECT_EQ(out.kind, Kind::kOk) << out.body;
  EXPECT_EQ(out.body,
            R"([{"id":1,"id_1":2,"d":1830.5,"s":"x","n":null,"b":true,"t":"2025-06-15 12:00:00",)"
            R"("l":[1,2],"o":{"k":"v"},"j":{"a":1},"f":1.5}])");
}

TEST(DuckdbStore, ReplayedIdsReplaceTheirCopy) {
  auto s = OpenStore();
  ASSERT_TRUE(s);
  Event a = RowEvent(1, "new", nullptr);
  ASSERT_TRUE(s->Append(a));
  ASSERT_TRUE(s->Append(a));  // the same id twice in one batch
  ASSERT_TRUE(s->Commit());
  ASSERT_TRUE(s->Append(a));  // and again in a later one
  ASSERT_TRUE(s->Commit());
  EXPECT_EQ(*s->RowCount(), 1u);
}

// A batch refused by the direct flush and then by the slow path stays
// staged: a later Commit() must not report it committed (it once did: the
// new, empty appender flushed "successfully" and the rows were dropped, and
// the events acknowledged; the chaos suite's full disk lost 496 of them).
TEST(DuckdbStore, ARefusedBatchStaysStagedUntilACommitStoresIt) {
  auto s = OpenStore(/*readonly=*/false);
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->Append(RowEvent(1, "new", nullptr)));
  ASSERT_TRUE(s->Commit());
  // Every further row of the channel is refused, by both paths.
  ASSERT_EQ(Exec(*s, "CREATE UNIQUE INDEX one_per_channel ON cdc_events (channel)").kind,
            Kind::kOk);
  ASSERT_TRUE(s->Append(RowEvent(2, "new", nullptr)));
  EXPECT_FALSE(s->Commit());
  EXPECT_EQ(s->staged(), 1u);
  EXPECT_FALSE(s->Commit()) << "reported committed, but not stored";
  EXPECT_EQ(s->staged(), 1u);
  ASSERT_TRUE(s->Append(RowEvent(3, "new", nullptr)));
  EXPECT_FALSE(s->Commit());
  EXPECT_EQ(*s->RowCount(), 1u);
  ASSERT_EQ(Exec(*s, "DROP INDEX one_per_channel").kind, Kind::kOk);
  ASSERT_TRUE(s->Commit());
  EXPECT_EQ(s->staged(), 0u);
  EXPECT_EQ(*s->RowCount(), 3u);
  // And the direct path works again.
  ASSERT_TRUE(s->Append(RowEvent(4, "new", nullptr)));
  ASSERT_TRUE(s->Commit());
  EXPECT_EQ(*s->RowCount(), 4u);
}

// SPEC: a payload that is not JSON is stored as NULL (events always carry
// JSON; this is the guard).
TEST(DuckdbStore, InvalidPayloadIsStoredAsNull) {
  auto s = OpenStore();
  ASSERT_TRUE(s);
  Event good = RowEvent(1, "new", nullptr);
  Event bad = RowEvent(2, "new", nullptr);
  bad.payload = "{not json";
  ASSERT_TRUE(s->Append(good));
  ASSERT_TRUE(s->Append(bad));
  ASSERT_TRUE(s->Commit());
  EXPECT_EQ(Exec(*s, "SELECT count(*) AS n, count(payload) AS p FROM cdc_events").body,
            R"([{"n":2,"p":1}])");
}

TEST(DuckdbStore, TypedViewHasTheRowColumns) {
  auto s = OpenStore();
  ASSERT_TRUE(s);
  Event a = RowEvent(7, "new", Orders());
  ASSERT_TRUE(s->Append(a));
  ASSERT_TRUE(s->Commit());
  ASSERT_TRUE(s->CreateView(*Orders(), "pgcdc:orders"));
  auto out =
      Exec(*s,
           "SELECT id, status, epoch(placed_at)::BIGINT AS at, _operation, typeof(id) AS t FROM "
           "\"public.orders\"");
  EXPECT_EQ(out.kind, Kind::kOk) << out.body;
  EXPECT_EQ(out.body,
            R"([{"id":7,"status":"new","at":1749988800,"_operation":"INSERT","t":"INTEGER"}])");
}

TEST(DuckdbStore, ReadOnlyRefusesWritesAndFiles) {
  auto s = OpenStore();
  ASSERT_TRUE(s);
  for (const char* sql :
       {"DROP TABLE cdc_events", "DELETE FROM cdc_events", "ATTACH ':memory:' AS x",
        "INSTALL httpfs", "LOAD httpfs", "SET threads = 1", "PRAGMA enable_profiling",
        "CREATE TABLE t (a INT)", "CALL pragma_version()"}) {
    auto out = Exec(*s, sql);
    EXPECT_EQ(out.kind, Kind::kRefused) << sql << ": " << out.body;
  }
  EXPECT_NE(Exec(*s, "SELECT 1; DROP TABLE cdc_events").kind, Kind::kOk);
  // DuckDB itself refuses file access from a SELECT.
  auto file = Exec(*s, "SELECT * FROM read_csv('/etc/passwd')");
  EXPECT_EQ(file.kind, Kind::kSqlError) << file.body;
  EXPECT_EQ(Exec(*s, "SELECT count(*) AS n FROM cdc_events").kind, Kind::kOk);
}

TEST(DuckdbStore, ReadWriteModeRunsAnyStatement) {
  auto s = OpenStore(false);
  ASSERT_TRUE(s);
  EXPECT_EQ(Exec(*s, "CREATE TABLE t (a INT)").kind, Kind::kOk);
  auto ins = Exec(*s, "INSERT INTO t VALUES (1), (2)");
  EXPECT_EQ(ins.kind, Kind::kOk) << ins.body;
  EXPECT_EQ(ins.body, R"([{"Count":2}])");
}

TEST(DuckdbStore, SqlErrorsCarryDuckdbsMessage) {
  auto s = OpenStore();
  ASSERT_TRUE(s);
  auto out = Exec(*s, "SELEC 1");
  EXPECT_EQ(out.kind, Kind::kSqlError);
  EXPECT_NE(out.body.find("syntax error"), std::string::npos) << out.body;
  auto missing = Exec(*s, "SELECT * FROM nope");
  EXPECT_NE(missing.body.find("nope"), std::string::npos) << missing.body;
  auto params = Exec(*s, "SELECT $1");
  EXPECT_EQ(params.kind, Kind::kSqlError);
}

TEST(DuckdbStore, TimeoutInterruptsTheQuery) {
  auto s = OpenStore();
  ASSERT_TRUE(s);
  const auto start = std::chrono::steady_clock::now();
  auto out = Exec(*s, "SELECT count(*) FROM range(1000000000000) a", {}, milliseconds(200));
  EXPECT_EQ(out.kind, Kind::kTimeout) << out.body;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_EQ(Exec(*s, "SELECT 1 AS x").body, R"([{"x":1}])");  // the connection still works
}

TEST(DuckdbStore, LargeResultsAreRefused) {
  auto s = OpenStore(true, 4096);
  ASSERT_TRUE(s);
  auto out = Exec(*s, "SELECT range AS n FROM range(100000)");
  EXPECT_EQ(out.kind, Kind::kTooLarge);
  EXPECT_NE(out.body.find("--duckdb-query-max-bytes"), std::string::npos);
}

TEST(DuckdbStore, RetentionDeletesOldRows) {
  auto s = OpenStore();
  ASSERT_TRUE(s);
  Event old = RowEvent(1, "new", nullptr);
  old.created_at_ns = 1'000'000'000;  // 1970
  Event fresh = RowEvent(2, "new", nullptr);
  ASSERT_TRUE(s->Append(old));
  ASSERT_TRUE(s->Append(fresh));
  ASSERT_TRUE(s->Commit());
  auto deleted = s->DeleteBefore(2'000'000);
  ASSERT_TRUE(deleted);
  EXPECT_EQ(*deleted, 1u);
  EXPECT_EQ(*s->RowCount(), 1u);
}

}  // namespace
}  // namespace pgcdc::adapter::duckdb
