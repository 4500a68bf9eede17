#include "cli/init_sql.h"

#include <gtest/gtest.h>

namespace pgcdc::cli {
namespace {

TEST(InitSqlTest, TriggerForTable) {
  auto sql = GenerateInitSql({.table = "orders"});
  ASSERT_TRUE(sql) << sql.error().message();
  EXPECT_NE(sql->find("CREATE OR REPLACE FUNCTION \"pgcdc_notify_orders\"()"), std::string::npos);
  EXPECT_NE(sql->find("pg_notify('pgcdc:orders', json_build_object("), std::string::npos);
  EXPECT_NE(sql->find("AFTER INSERT OR UPDATE OR DELETE ON \"orders\""), std::string::npos);
  EXPECT_NE(sql->find("CREATE TRIGGER \"pgcdc_orders_trigger\""), std::string::npos);
}

TEST(InitSqlTest, CustomChannel) {
  auto sql = GenerateInitSql({.table = "orders", .channel = "shop.orders-v2"});
  ASSERT_TRUE(sql);
  EXPECT_NE(sql->find("pg_notify('shop.orders-v2',"), std::string::npos);
}

TEST(InitSqlTest, RejectsBadNames) {
  EXPECT_FALSE(GenerateInitSql({.table = "orders; DROP TABLE x"}));
  EXPECT_FALSE(GenerateInitSql({.table = "1orders"}));
  EXPECT_FALSE(GenerateInitSql({.table = ""}));
  EXPECT_FALSE(GenerateInitSql({.table = "orders", .channel = "bad'channel"}));
  EXPECT_FALSE(GenerateInitSql({.table = std::string(64, 'a')}));
  auto e = GenerateInitSql({.table = "a b"});
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message().find("invalid table name \"a b\""), std::string::npos);
}

TEST(InitSqlTest, WalPublication) {
  auto sql = GenerateInitSql({.table = "orders", .detector = "wal"});
  ASSERT_TRUE(sql);
  EXPECT_NE(sql->find("CREATE PUBLICATION \"pgcdc_orders\" FOR TABLE \"orders\";"),
            std::string::npos);
  sql = GenerateInitSql({.detector = "wal", .all_tables = true});
  ASSERT_TRUE(sql);
  EXPECT_NE(sql->find("CREATE PUBLICATION \"all\" FOR ALL TABLES;"), std::string::npos);
  EXPECT_FALSE(GenerateInitSql({.all_tables = true}));  // needs wal
}

TEST(InitSqlTest, OutboxTable) {
  auto sql = GenerateInitSql({.table = "pgcdc_outbox", .adapter = "outbox"});
  ASSERT_TRUE(sql) << sql.error().message();
  EXPECT_NE(sql->find("CREATE TABLE IF NOT EXISTS \"pgcdc_outbox\" (id UUID PRIMARY KEY DEFAULT "
                      "gen_random_uuid(), channel TEXT NOT NULL, operation TEXT NOT NULL DEFAULT "
                      "'NOTIFY', payload JSONB NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT "
                      "now(), processed_at TIMESTAMPTZ);\n"),
            std::string::npos)
      << *sql;
  EXPECT_NE(sql->find("CREATE INDEX IF NOT EXISTS \"pgcdc_outbox_pending_idx\" ON "
                      "\"pgcdc_outbox\" (created_at, id) WHERE processed_at IS NULL;\n"),
            std::string::npos)
      << *sql;
  // Usage comment: the application inserts inside its own transaction.
  EXPECT_NE(sql->find("--   BEGIN;\n"), std::string::npos);
  EXPECT_NE(sql->find("--   INSERT INTO \"pgcdc_outbox\" (channel, operation, payload)\n"),
            std::string::npos);
  // No trigger or publication: --detector is irrelevant with --adapter.
  EXPECT_EQ(sql->find("TRIGGER"), std::string::npos);
  EXPECT_EQ(sql->find("PUBLICATION"), std::string::npos);
  // Every non-comment line is a complete statement.
  size_t pos = 0;
  while (pos < sql->size()) {
    const size_t end = sql->find('\n', pos);
    ASSERT_NE(end, std::string::npos) << "missing final newline";
    const std::string line = sql->substr(pos, end - pos);
    if (line.rfind("--", 0) != 0) {
      EXPECT_EQ(line.back(), ';') << line;
    }
    pos = end + 1;
  }
}

TEST(InitSqlTest, OutboxTableSchemaQualified) {
  auto sql = GenerateInitSql({.table = "app.Events", .detector = "wal", .adapter = "outbox"});
  ASSERT_TRUE(sql) << sql.error().message();
  EXPECT_NE(sql->find("CREATE TABLE IF NOT EXISTS \"app\".\"Events\" (id UUID"), std::string::npos);
  EXPECT_NE(sql->find("CREATE INDEX IF NOT EXISTS \"Events_pending_idx\" ON \"app\".\"Events\""),
            std::string::npos);
}

TEST(InitSqlTest, OutboxRejectsBadInput) {
  EXPECT_FALSE(GenerateInitSql({.adapter = "outbox"}));  // --table required
  for (const char* bad : {"a.b.c", ".t", "s.", "a b", "s.1t", "t;drop", "\"t\""}) {
    auto e = GenerateInitSql({.table = bad, .adapter = "outbox"});
    ASSERT_FALSE(e) << bad;
    EXPECT_NE(e.error().message().find("invalid table name"), std::string::npos);
  }
  EXPECT_FALSE(GenerateInitSql({.table = std::string(64, 'a'), .adapter = "outbox"}));
  EXPECT_FALSE(GenerateInitSql({.table = "t", .all_tables = true, .adapter = "outbox"}));
  auto e = GenerateInitSql({.table = "t", .adapter = "kafka"});
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message().find("--adapter must be outbox, signal or pg_table"),
            std::string::npos);
  // Plain capture still refuses schema-qualified names.
  EXPECT_FALSE(GenerateInitSql({.table = "app.t"}));
}

TEST(InitSqlTest, SignalTableDefaultsAndQualifiedNames) {
  auto sql = GenerateInitSql({.adapter = "signal"});
  ASSERT_TRUE(sql) << sql.error().message();
  EXPECT_NE(sql->find("CREATE TABLE IF NOT EXISTS \"pgcdc_signals\" (id UUID PRIMARY KEY DEFAULT "
                      "gen_random_uuid(), signal TEXT NOT NULL, payload JSONB NOT NULL DEFAULT "
                      "'{}', created_at TIMESTAMPTZ NOT NULL DEFAULT now());\n"),
            std::string::npos)
      << *sql;
  EXPECT_NE(sql->find("'execute-snapshot'"), std::string::npos);
  EXPECT_NE(sql->find("'stop-snapshot'"), std::string::npos);
  EXPECT_NE(sql->find("ALTER PUBLICATION P ADD TABLE \"pgcdc_signals\""), std::string::npos);
  auto q = GenerateInitSql({.table = "ops.sig", .adapter = "signal"});
  ASSERT_TRUE(q);
  EXPECT_NE(q->find("CREATE TABLE IF NOT EXISTS \"ops\".\"sig\" (id UUID"), std::string::npos);
  EXPECT_NE(q->find("--snapshot-signal-table ops.sig"), std::string::npos);
  EXPECT_FALSE(GenerateInitSql({.table = "a.b.c", .adapter = "signal"}));
  EXPECT_FALSE(GenerateInitSql({.table = "t;x", .adapter = "signal"}));
}

TEST(InitSqlTest, PgTableEventsTable) {
  auto sql = GenerateInitSql({.adapter = "pg_table"});
  ASSERT_TRUE(sql) << sql.error().message();
  EXPECT_NE(sql->find("CREATE TABLE IF NOT EXISTS \"pgcdc_events\" (id TEXT PRIMARY KEY, channel "
                      "TEXT NOT NULL, operation TEXT NOT NULL, payload JSONB NOT NULL, source TEXT "
                      "NOT NULL, created_at TIMESTAMPTZ NOT NULL);\n"),
            std::string::npos)
      << *sql;
  EXPECT_NE(sql->find("\"pgcdc_events_channel_idx\" ON \"pgcdc_events\" (channel)"),
            std::string::npos);
  auto q = GenerateInitSql({.table = "audit.events", .adapter = "pg_table"});
  ASSERT_TRUE(q);
  EXPECT_NE(q->find("\"audit\".\"events\""), std::string::npos);
  EXPECT_NE(q->find("--pg-table-name audit.events"), std::string::npos);
  EXPECT_FALSE(GenerateInitSql({.table = "x;y", .adapter = "pg_table"}));
}

}  // namespace
}  // namespace pgcdc::cli
