#include "adapter/pgwire/query.h"

#include <gtest/gtest.h>

namespace pgcdc::adapter::pgwire {
namespace {

using Params = std::vector<std::optional<std::string>>;

constexpr int64_t kT0 = 1'767'323'045'123'456'000;  // 2026-01-02 03:04:05.123456 UTC

void Fill(Ring& ring) {
  std::vector<Row> rows;
  const char* channels[] = {"orders", "Orders", "pgcdc:users", "orders"};
  for (int i = 0; i < 4; ++i) {
    rows.push_back(Row{.id = "id" + std::to_string(i),
                       .channel = channels[i],
                       .operation = i == 2 ? "DELETE" : "INSERT",
                       .source = "wal",
                       .payload = "{\"n\":" + std::to_string(i) + "}",
                       .created_at_ns = kT0 + i,
                       .lsn = i == 0 ? 0 : 0x16B374D848ULL + static_cast<uint64_t>(i)});
  }
  (void)ring.Append(std::move(rows));
}

Statement PlanOne(const std::string& sql) {
  auto parsed = ParseSql(sql, "alice");
  EXPECT_TRUE(parsed) << sql << ": " << parsed.error().message;
  if (!parsed || parsed->statements.size() != 1) return {};
  EXPECT_TRUE(parsed->statements[0]) << sql << ": " << parsed->statements[0].error().message;
  return parsed->statements[0] ? *parsed->statements[0] : Statement{};
}

SqlError PlanError(const std::string& sql) {
  auto parsed = ParseSql(sql, "alice");
  if (!parsed) return parsed.error();
  EXPECT_EQ(parsed->statements.size(), 1u);
  EXPECT_FALSE(parsed->statements[0]) << sql;
  return parsed->statements[0] ? SqlError{} : parsed->statements[0].error();
}

ResultSet RunOk(const std::string& sql, const Params& params = {}) {
  Ring ring(10);
  Fill(ring);
  auto rs = Evaluate(PlanOne(sql), params, ring, kT0);
  EXPECT_TRUE(rs) << sql << ": " << rs.error().message;
  return rs ? *rs : ResultSet{};
}

std::vector<std::string> Column(const ResultSet& rs, size_t c) {
  std::vector<std::string> out;
  for (const auto& row : rs.rows) {
    out.push_back(row[c].kind == Cell::Kind::kInt ? std::to_string(row[c].number) : row[c].text);
  }
  return out;
}

TEST(PgwireQuery, SelectStarOldestFirst) {
  auto rs = RunOk("SELECT * FROM pgcdc_events");
  ASSERT_EQ(rs.fields.size(), 7u);
  EXPECT_EQ(rs.fields[5].name, "created_at");
  EXPECT_EQ(rs.fields[5].type_oid, kOidTimestamptz);
  EXPECT_EQ(Column(rs, 0), (std::vector<std::string>{"id0", "id1", "id2", "id3"}));
  EXPECT_EQ(rs.tag, "SELECT 4");
  EXPECT_EQ(rs.rows[0][6].text, "0/0");
  EXPECT_EQ(rs.rows[1][6].text, "16/B374D849");
  EXPECT_EQ(*EncodeCell(rs.rows[0][5], rs.fields[5]), "2026-01-02 03:04:05.123456+00");
}

TEST(PgwireQuery, ChannelFilterIsExactAndCaseSensitive) {
  EXPECT_EQ(Column(RunOk("SELECT id FROM pgcdc_events WHERE channel = 'orders'"), 0),
            (std::vector<std::string>{"id0", "id3"}));
  EXPECT_EQ(Column(RunOk("SELECT id FROM pgcdc_events WHERE channel = 'Orders'"), 0),
            (std::vector<std::string>{"id1"}));
  EXPECT_EQ(Column(RunOk("select id from pgcdc_events where 'pgcdc:users' = channel"), 0),
            (std::vector<std::string>{"id2"}));
  EXPECT_TRUE(RunOk("SELECT id FROM pgcdc_events WHERE channel = 'ORDERS'").rows.empty());
}

TEST(PgwireQuery, PredicatesOrderLimitAndParameters) {
  EXPECT_EQ(Column(RunOk("SELECT id FROM pgcdc_events WHERE channel = $1 OR operation = $2 "
                         "ORDER BY id DESC LIMIT $3",
                         {std::string("orders"), std::string("DELETE"), std::string("2")}),
                   0),
            (std::vector<std::string>{"id3", "id2"}));
  EXPECT_EQ(Column(RunOk("SELECT e.id AS x FROM pgcdc_events e WHERE e.id > 'id1' AND NOT "
                         "(channel LIKE 'pgcdc:%') ORDER BY 1 LIMIT 5 OFFSET 0"),
                   0),
            (std::vector<std::string>{"id3"}));
  EXPECT_EQ(
      Column(RunOk("SELECT id FROM pgcdc_events WHERE channel IN ('Orders', 'pgcdc:users')"), 0),
      (std::vector<std::string>{"id1", "id2"}));
  EXPECT_EQ(Column(RunOk("SELECT id FROM pgcdc_events LIMIT 2 OFFSET 1"), 0),
            (std::vector<std::string>{"id1", "id2"}));
  // A NULL parameter matches nothing (SQL's unknown), also under NOT.
  EXPECT_TRUE(RunOk("SELECT id FROM pgcdc_events WHERE channel = $1", {std::nullopt}).rows.empty());
  EXPECT_TRUE(
      RunOk("SELECT id FROM pgcdc_events WHERE NOT channel = $1", {std::nullopt}).rows.empty());
  EXPECT_EQ(Column(RunOk("SELECT count(*) FROM pgcdc_events WHERE channel <> 'orders'"), 0),
            (std::vector<std::string>{"2"}));
}

TEST(PgwireQuery, ParameterTypesAreInferred) {
  Statement s = PlanOne("SELECT * FROM pgcdc_channels WHERE event_count > $2 LIMIT $1");
  EXPECT_EQ(s.param_types, (std::vector<int32_t>{kOidInt8, kOidInt4}));
  Ring ring(10);
  Fill(ring);
  auto bad = Evaluate(s, {std::string("1"), std::string("abc")}, ring, kT0);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().sqlstate, "22P02");
  auto neg = Evaluate(s, {std::string("-1"), std::string("0")}, ring, kT0);
  ASSERT_FALSE(neg);
  EXPECT_EQ(neg.error().sqlstate, "2201W");
}

TEST(PgwireQuery, ChannelsAndStatus) {
  auto ch = RunOk("SELECT * FROM pgcdc_channels");
  EXPECT_EQ(Column(ch, 0), (std::vector<std::string>{"orders", "Orders", "pgcdc:users"}));
  EXPECT_EQ(Column(ch, 1), (std::vector<std::string>{"2", "1", "1"}));
  EXPECT_EQ(ch.fields[1].type_oid, kOidInt4);
  auto st = RunOk("SELECT key, value FROM pgcdc_status");
  EXPECT_EQ(Column(st, 0), (std::vector<std::string>{"adapter", "buffer_capacity", "buffer_used",
                                                     "events_total", "server_time"}));
  EXPECT_EQ(Column(st, 1)[2], "4");
  EXPECT_EQ(Column(st, 1)[4], "2026-01-02T03:04:05Z");
}

TEST(PgwireQuery, SessionStatements) {
  auto parsed = ParseSql(
      "SET search_path = x; SHOW server_version; SELECT version(), 1, "
      "current_user, -5 AS n; BEGIN; COMMIT; ;",
      "alice");
  ASSERT_TRUE(parsed);
  ASSERT_EQ(parsed->statements.size(), 5u);
  EXPECT_EQ(parsed->statements[0]->tag, "SET");
  Ring ring(10);
  Fill(ring);
  auto show = Evaluate(*parsed->statements[1], {}, ring, kT0);
  ASSERT_TRUE(show);
  EXPECT_EQ(show->rows[0][0].text, "17.0");
  auto values = Evaluate(*parsed->statements[2], {}, ring, kT0);
  ASSERT_TRUE(values);
  EXPECT_EQ(values->fields[0].name, "version");
  EXPECT_EQ(values->rows[0][1].number, 1);
  EXPECT_EQ(values->rows[0][2].text, "alice");
  EXPECT_EQ(values->fields[3].name, "n");
  EXPECT_EQ(values->rows[0][3].number, -5);
  EXPECT_EQ(parsed->statements[3]->transaction, 'B');
  EXPECT_EQ(parsed->statements[4]->transaction, 'C');
  EXPECT_EQ(PlanError("SHOW nonsense").sqlstate, "42704");
}

TEST(PgwireQuery, ErrorsCarrySqlstateAndPosition) {
  SqlError e = PlanError("SELECT * FROM nope");
  EXPECT_EQ(e.sqlstate, "42P01");
  EXPECT_EQ(e.position, 15);
  e = PlanError("SELECT idd FROM pgcdc_events");
  EXPECT_EQ(e.sqlstate, "42703");
  EXPECT_EQ(e.position, 8);
  e = PlanError("SELECT \"Channel\" FROM pgcdc_events");  // quoted: case-sensitive
  EXPECT_EQ(e.sqlstate, "42703");
  e = PlanError("SELECT * FROM other.pgcdc_events");
  EXPECT_EQ(e.sqlstate, "42P01");
  e = PlanError("DELETE FROM pgcdc_events");
  EXPECT_EQ(e.sqlstate, "0A000");
  e = PlanError("SELECT channel FROM pgcdc_events GROUP BY channel");
  EXPECT_EQ(e.sqlstate, "0A000");
  EXPECT_EQ(e.position, 43);  // the GROUP BY item
  e = PlanError("SELECT * FROM pgcdc_events a, pgcdc_status b");
  EXPECT_EQ(e.sqlstate, "0A000");
  e = PlanError("SELECT * FROM pgcdc_events ORDER BY 9");
  EXPECT_EQ(e.sqlstate, "42P10");
  e = PlanError("SELECT * FROM pgcdc_events WHERE created_at > '2020-01-01'");
  EXPECT_EQ(e.sqlstate, "0A000");
  e = PlanError("SELECT * FROM pgcdc_events_live ORDER BY id");
  EXPECT_EQ(e.sqlstate, "0A000");
  // Positions count characters, not bytes.
  e = PlanError("SELECT 'é', x FROM nope");
  EXPECT_EQ(e.position, 20);
  auto syntax = ParseSql("SELEC nonsense", "u");
  ASSERT_FALSE(syntax);
  EXPECT_EQ(syntax.error().sqlstate, "42601");
  EXPECT_EQ(syntax.error().position, 1);
}

TEST(PgwireQuery, EmptyQueryHasNoStatements) {
  auto parsed = ParseSql("  ; ", "u");
  ASSERT_TRUE(parsed);
  EXPECT_TRUE(parsed->statements.empty());
}

TEST(PgwireQuery, LiveTailMatchesAndProjects) {
  Statement s = PlanOne("SELECT id, channel FROM pgcdc_events_live WHERE channel = $1");
  Row r{.id = "x", .channel = "a"};
  EXPECT_EQ(Matches(s, {std::string("a")}, r), true);
  EXPECT_EQ(Matches(s, {std::string("b")}, r), false);
  CellRow cells = Project(s, r);
  ASSERT_EQ(cells.size(), 2u);
  EXPECT_EQ(cells[1].text, "a");
}

TEST(PgwireQuery, BinaryEncodingAndParameters) {
  EXPECT_EQ(*EncodeCell(Cell{.kind = Cell::Kind::kInt, .number = 258},
                        Field{.type_oid = kOidInt4, .format = 1}),
            std::string("\0\0\1\2", 4));
  // 2000-01-01 00:00:00.000001 UTC = 1 µs after PostgreSQL's epoch.
  EXPECT_EQ(*EncodeCell(Cell{.kind = Cell::Kind::kTime, .number = 946'684'800'000'001'000},
                        Field{.type_oid = kOidTimestamptz, .format = 1}),
            std::string("\0\0\0\0\0\0\0\1", 8));
  EXPECT_EQ(*BinaryParamToText(std::string("\0\0\0\7", 4), kOidInt4), "7");
  EXPECT_EQ(*BinaryParamToText("abc", kOidText), "abc");
  EXPECT_FALSE(BinaryParamToText("abc", kOidInt4));
  EXPECT_FALSE(BinaryParamToText("abc", kOidTimestamptz));
  EXPECT_EQ(FormatTimestamptz(946'684'800'000'000'000), "2000-01-01 00:00:00+00");
}

}  // namespace
}  // namespace pgcdc::adapter::pgwire
