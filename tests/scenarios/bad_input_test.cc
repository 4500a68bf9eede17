// User journey: hostile or extreme data in the source — bytes that are not
// UTF-8 in a SQL_ASCII database, deeply nested JSON, huge values, a table at
// PostgreSQL's 1,600-column limit, NaN/±Infinity and 1,000-digit numerics —
// comes out as valid JSON events (escaped, typed or capped), is counted where
// it had to be changed, and never crashes or hangs pgcdc.
#include <gtest/gtest.h>

#include "harness.h"
#include "json_util.h"

namespace pgcdc::testing {
namespace {

// The value of counter `name` on pgcdc's /metrics (-1 when absent).
double Metric(Process& p, const std::string& name) {
  auto addr = p.HttpAddr();
  if (!addr) return -1;
  auto r = HttpGet(*addr, "/metrics");
  if (!r) return -1;
  const auto at = r->body.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return std::stod(r->body.substr(at + name.size() + 2));
}

// Every stdout line parses as JSON; returns the payloads on `channel`.
std::vector<boost::json::object> Payloads(Process& p, const std::string& channel) {
  std::vector<boost::json::object> out;
  for (const auto& l : p.StdoutLines()) {
    auto v = ParseJson(l);
    EXPECT_TRUE(v.is_object()) << l.substr(0, 200);
    if (!v.is_object()) continue;
    auto e = v.as_object();
    if (e["channel"].as_string() == channel) out.push_back(e["payload"].as_object());
  }
  return out;
}

TEST(BadInput, InvalidUtf8InASqlAsciiDatabaseIsEscaped) {
  auto conn = Connect();
  (void)conn.Exec("DROP DATABASE IF EXISTS bad_ascii");
  ExecOrFail(conn,
             "CREATE DATABASE bad_ascii ENCODING 'SQL_ASCII' TEMPLATE template0 LC_COLLATE 'C' "
             "LC_CTYPE 'C'");
  auto url = SharedCluster().Url("bad_ascii");
  auto db = pg::Conn::Open(url);
  ASSERT_TRUE(db) << db.error().message();
  ExecOrFail(*db, "CREATE TABLE t (id int PRIMARY KEY, v text, j json)");
  ExecOrFail(*db, "CREATE PUBLICATION p_ascii FOR TABLE t");
  std::vector<std::string> args = WalListenArgs("p_ascii");
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == "--db") args[i + 1] = url;
  }
  auto p = StartWalListen(args);
  ASSERT_TRUE(p);
  // Latin-1 é, a lone continuation byte, an overlong NUL encoding, a 0xFF.
  ExecOrFail(*db,
             "INSERT INTO t VALUES (1, E'caf\\xe9 \\x80 \\xc0\\x80 \\xff end', "
             "E'{\"k\": \"\\xe9\"}')");
  ExecOrFail(*db, "INSERT INTO t VALUES (2, 'plain', '{}')");
  ASSERT_TRUE(p->WaitForLines(2, 30s)) << p->Stderr();
  auto rows = Payloads(*p, "pgcdc:t");
  ASSERT_EQ(rows.size(), 2u);
  const auto& v = rows[0]["row"].as_object().at("v");
  ASSERT_TRUE(v.is_string());
  const std::string text(v.as_string());
  // Each invalid byte became U+FFFD; the value (and the json column) counted.
  EXPECT_EQ(text, "caf\xef\xbf\xbd \xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd end");
  EXPECT_GE(Metric(*p, "pgcdc_invalid_utf8_values_total"), 1);
  EXPECT_EQ(rows[1]["row"].as_object().at("v").as_string(), "plain");
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
  (void)db->Exec("DROP PUBLICATION p_ascii");
}

TEST(BadInput, DeeplyNestedJsonNeverCrashes) {
  auto conn = Connect();
  FreshPublishedTable(conn, "bad_nest", "id int PRIMARY KEY, j jsonb, t text", "p_nest");
  auto p = StartWalListen(WalListenArgs("p_nest"));
  ASSERT_TRUE(p);
  // jsonb as deep as the server accepts, and a text column holding 100,000
  // levels of brackets (not parsed by anyone but still carried).
  const int depth = 5000;
  const std::string nested = std::string(depth, '[') + std::string(depth, ']');
  const std::string huge = std::string(100000, '[') + std::string(100000, ']');
  auto r = conn.Query("INSERT INTO bad_nest VALUES (1, $1::jsonb, $2)", {nested, huge});
  ASSERT_TRUE(r) << r.error().message();
  ExecOrFail(conn, "INSERT INTO bad_nest VALUES (2, '[]', 'x')");
  ASSERT_TRUE(p->WaitForLines(2, 30s)) << p->Stderr();
  auto rows = Payloads(*p, "pgcdc:bad_nest");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0]["row"].as_object().at("t").as_string().size(), 200000u);
  // Deeper than the JSON writer nests (512): carried as its text, counted.
  const auto& j = rows[0]["row"].as_object().at("j");
  ASSERT_TRUE(j.is_string());
  EXPECT_EQ(j.as_string().size(), static_cast<size_t>(2 * depth));
  EXPECT_GE(Metric(*p, "pgcdc_wal_value_errors_total"), 1);
  EXPECT_EQ(rows[1]["row"].as_object().at("id").as_int64(), 2);

  // NOTIFY (listen_notify detector): payloads up to NOTIFY's 8,000-byte limit
  // of nesting, valid and unbalanced, arrive as events.
  auto l = Process::Start({.args = {"listen", "--db", SharedCluster().Url(), "-c", "bad_chan",
                                    "--http-addr", "127.0.0.1:0"}});
  ASSERT_TRUE(l && l->WaitForStderr("listening detector=listen_notify")) << l->Stderr();
  const std::string deep_notify = std::string(3999, '[') + std::string(3999, ']');
  const std::string open_notify = std::string(7999, '{');
  ASSERT_TRUE(conn.Query("SELECT pg_notify('bad_chan', $1)", {deep_notify}));
  ASSERT_TRUE(conn.Query("SELECT pg_notify('bad_chan', $1)", {open_notify}));
  ASSERT_TRUE(conn.Query("SELECT pg_notify('bad_chan', '{\"ok\":1}')"));
  ASSERT_TRUE(l->WaitForLines(3, 30s)) << l->Stderr();
  for (const auto& line : l->StdoutLines()) EXPECT_TRUE(ParseJson(line).is_object());
  l->Signal(SIGTERM);
  EXPECT_EQ(l->Wait(), 0) << l->Stderr();
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
}

TEST(BadInput, DeeplyNestedWebhookBodiesAreCarriedAsText) {
  auto p = Process::Start({.args = {"listen", "--detector", "webhook_gateway", "--webhookgw-source",
                                    "deep", "--http-addr", "127.0.0.1:0"}});
  ASSERT_TRUE(p);
  auto addr = p->HttpAddr();
  ASSERT_TRUE(addr) << p->Stderr();
  const std::string arrays = std::string(100000, '[') + std::string(100000, ']');
  std::string objects;
  for (int i = 0; i < 50000; ++i) objects += "{\"a\":";
  objects += "1" + std::string(50000, '}');
  for (const auto& body : {arrays, objects}) {
    auto r = HttpSend(*addr, "POST", "/ingest/deep", {"Content-Type: application/json"}, body);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
  }
  ASSERT_TRUE(p->WaitForLines(2, 30s)) << p->Stderr();
  auto events = Payloads(*p, "pgcdc:deep");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0]["raw"].as_string(), arrays);
  EXPECT_EQ(events[1]["raw"].as_string(), objects);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
}

TEST(BadInput, ExtremeNumbersAndAWideTable) {
  auto conn = Connect();
  std::string cols = "id int PRIMARY KEY";
  for (int i = 1; i < 1600; ++i) cols += ", c" + std::to_string(i) + " int";
  FreshPublishedTable(conn, "bad_wide", cols, "p_extreme");
  ExecOrFail(conn, "DROP TABLE IF EXISTS bad_num");
  ExecOrFail(conn,
             "CREATE TABLE bad_num (id int PRIMARY KEY, f float8, r real, n numeric, big numeric)");
  ExecOrFail(conn, "ALTER PUBLICATION p_extreme ADD TABLE bad_num");
  auto p = StartWalListen(WalListenArgs("p_extreme"));
  ASSERT_TRUE(p);
  ExecOrFail(conn, "INSERT INTO bad_wide (id, c1599) VALUES (1, 1599)");
  ExecOrFail(conn,
             "INSERT INTO bad_num VALUES (1, 'NaN', 'Infinity', 'NaN', ('1' || repeat('0', 999))"
             "::numeric), (2, '-Infinity', '-Infinity', '-1e-1000', -1.5)");
  ASSERT_TRUE(p->WaitForLines(3, 30s)) << p->Stderr();
  auto wide = Payloads(*p, "pgcdc:bad_wide");
  ASSERT_EQ(wide.size(), 1u);
  EXPECT_EQ(wide[0]["row"].as_object().size(), 1600u);
  EXPECT_EQ(wide[0]["row"].as_object().at("c1599").as_int64(), 1599);
  auto nums = Payloads(*p, "pgcdc:bad_num");
  ASSERT_EQ(nums.size(), 2u);
  // Non-finite values cannot be JSON numbers: they are strings.
  EXPECT_EQ(nums[0]["row"].as_object().at("f").as_string(), "NaN");
  EXPECT_EQ(nums[0]["row"].as_object().at("r").as_string(), "Infinity");
  EXPECT_EQ(nums[1]["row"].as_object().at("f").as_string(), "-Infinity");
  // 1,000 digits are kept exactly (as a number or as a string).
  const auto& big = nums[0]["row"].as_object().at("big");
  const std::string big_text =
      big.is_string() ? std::string(big.as_string()) : boost::json::serialize(big);
  EXPECT_EQ(big_text.size(), 1000u) << big_text.substr(0, 40);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
}

TEST(BadInput, AHugeValueIsDeliveredWhole) {
  auto conn = Connect();
  FreshPublishedTable(conn, "bad_huge", "id int PRIMARY KEY, v text", "p_huge");
  auto p = StartWalListen(WalListenArgs("p_huge"));
  ASSERT_TRUE(p);
  // 64 MiB in one value by default; PGCDC_TEST_HUGE_MB=1023 tries close to
  // PostgreSQL's 1 GB limit (minutes, several GB of memory in the test).
  const char* env = std::getenv("PGCDC_TEST_HUGE_MB");
  const size_t mb = env != nullptr ? std::strtoul(env, nullptr, 10) : 64;
  ExecOrFail(conn, "INSERT INTO bad_huge VALUES (1, repeat('v', " + std::to_string(mb) +
                       " * 1024 * 1024))");
  ExecOrFail(conn, "INSERT INTO bad_huge VALUES (2, 'after')");
  const auto wait = 60s + std::chrono::seconds(mb);  // ~1 s per MiB under load, at worst
  ASSERT_TRUE(p->WaitForLines(2, wait)) << p->Stderr();
  auto rows = Payloads(*p, "pgcdc:bad_huge");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0]["row"].as_object().at("v").as_string().size(), mb * 1024 * 1024);
  EXPECT_EQ(rows[1]["row"].as_object().at("v").as_string(), "after");
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
}

}  // namespace
}  // namespace pgcdc::testing
