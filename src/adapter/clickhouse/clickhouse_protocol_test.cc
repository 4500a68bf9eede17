#include "adapter/clickhouse/clickhouse_protocol.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "core/json_dom.h"

namespace pgcdc::adapter::clickhouse {
namespace {

TEST(ClickHouseDsnTest, HttpFormsAndDefaults) {
  auto d = ParseDsn("http://alice:p%40ss@db.example:8124/analytics");
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_FALSE(d->url.tls);
  EXPECT_EQ(d->url.host, "db.example");
  EXPECT_EQ(d->url.port, 8124);
  EXPECT_EQ(d->url.host_header, "db.example:8124");
  EXPECT_EQ(d->user, "alice");
  EXPECT_EQ(d->password, "p@ss");
  EXPECT_EQ(d->database, "analytics");
  EXPECT_EQ(d->redacted.find("p%40ss"), std::string::npos) << d->redacted;

  d = ParseDsn("https://ch.internal");
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->url.tls);
  EXPECT_EQ(d->url.port, 8443);
  EXPECT_EQ(d->database, "default");
  EXPECT_TRUE(d->user.empty());

  d = ParseDsn("http://[::1]/db/");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->url.port, 8123);
  EXPECT_EQ(d->url.host_header, "[::1]:8123");
  EXPECT_EQ(d->database, "db");
}

TEST(ClickHouseDsnTest, NativeAndBadFormsAreClearErrors) {
  auto d = ParseDsn("clickhouse://bob:secret@ch1:9000/events");
  ASSERT_FALSE(d);
  const std::string msg = d.error().message();
  EXPECT_NE(msg.find("native TCP protocol"), std::string::npos) << msg;
  EXPECT_NE(msg.find("HTTP interface only"), std::string::npos) << msg;
  EXPECT_NE(msg.find("http://bob:xxx@ch1:8123/events"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("secret"), std::string::npos) << msg;
  EXPECT_FALSE(ParseDsn("tcp://ch1:9000"));
  for (const char* bad : {"", "ch1:8123", "ftp://ch1", "http://ch1:99999", "http://ch1/a/b",
                          "http://ch1/db?database=x", "http://secret@ch1"}) {
    auto r = ParseDsn(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_TRUE(r.error().message().starts_with("clickhouse.dsn: ")) << r.error().message();
    EXPECT_EQ(r.error().message().find("secret"), std::string::npos) << r.error().message();
  }
}

TEST(ClickHouseSqlTest, IdentifiersAreQuotedWithClickHouseRules) {
  EXPECT_EQ(QuoteIdentifier("events"), "\"events\"");
  EXPECT_EQ(QuoteIdentifier("we\"ird\\name"), "\"we\\\"ird\\\\name\"");
  EXPECT_EQ(QuoteIdentifier("a\nb\tc"), "\"a\\nb\\tc\"");
  EXPECT_EQ(QuoteIdentifier(std::string_view("x\0y\x1f", 4)), "\"x\\x00y\\x1f\"");
  EXPECT_EQ(QualifiedTable("db", "t\"1"), "\"db\".\"t\\\"1\"");
  EXPECT_EQ(InsertStatement("db", "pgcdc_events"),
            "INSERT INTO \"db\".\"pgcdc_events\" (\"id\", \"channel\", \"operation\", "
            "\"source\", \"payload\", \"lsn\", \"created_at\", \"_version\") FORMAT JSONEachRow");
  const std::string ddl = CreateTableStatement("db", "t");
  EXPECT_TRUE(ddl.starts_with("CREATE TABLE IF NOT EXISTS \"db\".\"t\" (\"id\" String, ")) << ddl;
  EXPECT_NE(ddl.find("\"created_at\" DateTime64(3), \"_version\" UInt64)"), std::string::npos);
  EXPECT_TRUE(ddl.ends_with("ENGINE = ReplacingMergeTree(_version) ORDER BY (channel, id)"));
}

TEST(ClickHouseSqlTest, TargetCarriesQueryAndSettingsPercentEncoded) {
  auto s = MergeSettings(true, {{"max_insert_threads", {"4"}},
                                {"wait_for_async_insert", {"0"}},
                                {"format_csv_delimiter", {"a", "b"}}});
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->at("async_insert"), "1");
  EXPECT_EQ(s->at("wait_for_async_insert"), "0");  // the user's setting wins
  EXPECT_EQ(s->at("format_csv_delimiter"), "a,b");
  EXPECT_EQ(Target("SELECT 1", {{"database", "my db"}, {"x", "a&b"}}),
            "/?query=SELECT%201&database=my%20db&x=a%26b");
  EXPECT_FALSE(MergeSettings(false, {{"bad-name", {"1"}}}));
  EXPECT_FALSE(MergeSettings(false, {{"query", {"1"}}}));
  EXPECT_FALSE(MergeSettings(false, {{"param_db", {"1"}}}));
  EXPECT_TRUE(MergeSettings(false, {})->empty());
}

TEST(ClickHouseSqlTest, RequestHeadSendsCredentialHeaders) {
  auto d = ParseDsn("http://u:k@h:1/db");
  ASSERT_TRUE(d);
  const std::string head = RequestHead(*d, "/?query=x", 12);
  EXPECT_TRUE(head.starts_with("POST /?query=x HTTP/1.1\r\nHost: h:1\r\n")) << head;
  EXPECT_NE(head.find("X-ClickHouse-User: u\r\n"), std::string::npos);
  EXPECT_NE(head.find("X-ClickHouse-Key: k\r\n"), std::string::npos);
  EXPECT_NE(head.find("Content-Length: 12\r\n\r\n"), std::string::npos);
  auto anon = ParseDsn("http://h/db");
  ASSERT_TRUE(anon);
  EXPECT_EQ(RequestHead(*anon, "/", 0).find("X-ClickHouse"), std::string::npos);
}

TEST(ClickHouseRowTest, JsonEachRowCarriesTypedValues) {
  Event e;
  e.id = *ParseUuid("0190a4b2-1c3d-7e4f-8a5b-6c7d8e9f0a1b");
  e.channel = "pgcdc:public.orders";
  e.operation = "INSERT";
  e.payload = R"({"row":{"id":1,"note":"a \"quoted\"\nline"}})";
  e.source = "wal";
  e.lsn = 0xFFFFFFFFFFFFFFF0ULL;  // above 2^53: must stay exact
  e.created_at_ns = 1'700'000'000'123'456'789;
  std::string out;
  AppendRow(e, 1'700'000'001'000, out);
  ASSERT_TRUE(out.ends_with("\n"));
  EXPECT_NE(out.find("\"lsn\":18446744073709551600,"), std::string::npos) << out;
  EXPECT_NE(out.find("\"created_at\":1700000000123,"), std::string::npos) << out;
  auto v = json::ParseDom(std::string_view(out).substr(0, out.size() - 1));
  ASSERT_TRUE(v);
  const auto& o = v->as_object();
  EXPECT_EQ(o.at("id").as_string(), "0190a4b2-1c3d-7e4f-8a5b-6c7d8e9f0a1b");
  EXPECT_EQ(o.at("channel").as_string(), "pgcdc:public.orders");
  EXPECT_EQ(o.at("operation").as_string(), "INSERT");
  EXPECT_EQ(o.at("source").as_string(), "wal");
  EXPECT_EQ(o.at("payload").as_string(), e.payload);  // the JSON text, as a string
  EXPECT_EQ(o.at("_version").as_int64(), 1'700'000'001'000);
  EXPECT_EQ(o.size(), std::size(kColumns));
}

TEST(ClickHouseRowTest, DedupKeepsTheFirstOfEachId) {
  Uuid a, b, c;
  a.bytes[0] = 1;
  b.bytes[0] = 2;
  c.bytes[0] = 3;
  const std::vector<Uuid> ids = {a, b, a, c, b, a};
  EXPECT_EQ(FirstOccurrences(ids), (std::vector<size_t>{0, 1, 3}));
  EXPECT_TRUE(FirstOccurrences({}).empty());
}

TEST(ClickHouseAnswerTest, ClassifiesByExceptionCodeThenStatus) {
  EXPECT_EQ(Classify(200, "").verdict, Verdict::kOk);
  EXPECT_EQ(Classify(200, "{\"name\":\"id\"}\n").verdict, Verdict::kOk);
  // An exception written after the 200 status line was sent.
  EXPECT_EQ(Classify(200, "Code: 241. DB::Exception: Memory limit").verdict, Verdict::kRetry);
  EXPECT_EQ(Classify(200, "Code: 27. DB::Exception: Cannot parse input").verdict, Verdict::kReject);
  auto a = Classify(400,
                    "Code: 27. DB::Exception: Cannot parse input: expected '\"' before: '1}':\n"
                    "(at row 3). (CANNOT_PARSE_INPUT_ASSERTION_FAILED)\n");
  EXPECT_EQ(a.verdict, Verdict::kReject);
  EXPECT_EQ(a.code, 27);
  EXPECT_EQ(a.message.find('\n'), std::string::npos);
  EXPECT_TRUE(a.message.starts_with("Code: 27. DB::Exception: Cannot parse input")) << a.message;
  // A data error is a rejection even when the server says 500.
  EXPECT_EQ(Classify(500, "Code: 691. DB::Exception: Unknown element 'X' for enum").verdict,
            Verdict::kReject);
  EXPECT_EQ(Classify(401, "Code: 516. DB::Exception: default: Authentication failed").verdict,
            Verdict::kFatal);
  EXPECT_EQ(Classify(404, "Code: 60. DB::Exception: Table db.t does not exist").verdict,
            Verdict::kFatal);
  EXPECT_EQ(Classify(400, "Code: 62. DB::Exception: Syntax error").verdict, Verdict::kFatal);
  EXPECT_EQ(Classify(500, "Code: 241. DB::Exception: Memory limit exceeded").verdict,
            Verdict::kRetry);
  EXPECT_EQ(Classify(503, "").verdict, Verdict::kRetry);
  EXPECT_EQ(Classify(503, "").message, "HTTP 503");
  EXPECT_EQ(Classify(429, "slow down").verdict, Verdict::kRetry);
  EXPECT_EQ(Classify(400, "bad row").verdict, Verdict::kReject);
  EXPECT_EQ(Classify(404, "").verdict, Verdict::kFatal);
}

TEST(ClickHouseAnswerTest, ColumnNamesFromJsonEachRow) {
  EXPECT_EQ(ParseColumnNames("{\"name\":\"id\",\"type\":\"String\"}\n"
                             "garbage\n{\"name\":\"lsn\",\"type\":\"UInt64\"}\n"),
            (std::vector<std::string>{"id", "lsn"}));
  EXPECT_TRUE(ParseColumnNames("").empty());
  const auto params = ColumnsQueryParams("db", "t");
  EXPECT_EQ(params.at("param_db"), "db");
  EXPECT_EQ(params.at("param_tbl"), "t");
  EXPECT_NE(ColumnsQuery().find("{db:String}"), std::string_view::npos);
}

}  // namespace
}  // namespace pgcdc::adapter::clickhouse
