#include "cli/init_sql.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace pgcdc::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(InitSqlTest, TriggerForTable) {
  auto sql = GenerateInitSql({.table = "orders"});
  ASSERT_TRUE(sql) << sql.error().message();
  EXPECT_THAT(*sql, HasSubstr("CREATE OR REPLACE FUNCTION \"pgcdc_notify_orders\"()"));
  EXPECT_THAT(*sql, HasSubstr("pg_notify('pgcdc:orders', json_build_object("));
  EXPECT_THAT(*sql, HasSubstr("AFTER INSERT OR UPDATE OR DELETE ON \"orders\""));
  EXPECT_THAT(*sql, HasSubstr("CREATE TRIGGER \"pgcdc_orders_trigger\""));
}

TEST(InitSqlTest, CustomChannel) {
  auto sql = GenerateInitSql({.table = "orders", .channel = "shop.orders-v2"});
  ASSERT_TRUE(sql);
  EXPECT_THAT(*sql, HasSubstr("pg_notify('shop.orders-v2',"));
}

TEST(InitSqlTest, RejectsBadNames) {
  EXPECT_FALSE(GenerateInitSql({.table = "orders; DROP TABLE x"}));
  EXPECT_FALSE(GenerateInitSql({.table = "1orders"}));
  EXPECT_FALSE(GenerateInitSql({.table = ""}));
  EXPECT_FALSE(GenerateInitSql({.table = "orders", .channel = "bad'channel"}));
  EXPECT_FALSE(GenerateInitSql({.table = std::string(64, 'a')}));
  auto e = GenerateInitSql({.table = "a b"});
  ASSERT_FALSE(e);
  EXPECT_THAT(e.error().message(), HasSubstr("invalid table name \"a b\""));
}

TEST(InitSqlTest, WalPublication) {
  auto sql = GenerateInitSql({.table = "orders", .detector = "wal"});
  ASSERT_TRUE(sql);
  EXPECT_THAT(*sql, HasSubstr("CREATE PUBLICATION \"pgcdc_orders\" FOR TABLE \"orders\";"));
  sql = GenerateInitSql({.detector = "wal", .all_tables = true});
  ASSERT_TRUE(sql);
  EXPECT_THAT(*sql, HasSubstr("CREATE PUBLICATION \"all\" FOR ALL TABLES;"));
  EXPECT_FALSE(GenerateInitSql({.all_tables = true}));  // needs wal
}

TEST(InitSqlTest, StateTablesForSkipMigrations) {
  auto sql = GenerateInitSql({.adapter = "state"});
  ASSERT_TRUE(sql) << sql.error().message();
  EXPECT_THAT(*sql, HasSubstr("CREATE TABLE IF NOT EXISTS pgcdc_schema_migrations"));
  EXPECT_THAT(*sql, HasSubstr("CREATE TABLE IF NOT EXISTS pgcdc_checkpoints"));
  EXPECT_THAT(*sql, HasSubstr("CREATE TABLE IF NOT EXISTS pgcdc_snapshot_progress"));
  EXPECT_THAT(*sql, HasSubstr("CREATE TABLE IF NOT EXISTS pgcdc_schemas"));
  EXPECT_THAT(*sql, HasSubstr("CREATE INDEX IF NOT EXISTS idx_pgcdc_schemas_subject"));
  // Each migration is recorded, so a later pgcdc without --skip-migrations
  // does not apply it again.
  EXPECT_THAT(*sql, HasSubstr("INSERT INTO pgcdc_schema_migrations (version, name) VALUES (2, "
                              "'snapshot_progress') ON CONFLICT DO NOTHING;"));
  EXPECT_THAT(*sql, HasSubstr("BEGIN;"));
  EXPECT_THAT(*sql, HasSubstr("COMMIT;"));
}

TEST(InitSqlTest, OutboxTable) {
  auto sql = GenerateInitSql({.table = "pgcdc_outbox", .adapter = "outbox"});
  ASSERT_TRUE(sql) << sql.error().message();
  EXPECT_THAT(*sql,
              HasSubstr("CREATE TABLE IF NOT EXISTS \"pgcdc_outbox\" (id UUID PRIMARY KEY DEFAULT "
                        "gen_random_uuid(), channel TEXT NOT NULL, operation TEXT NOT NULL DEFAULT "
                        "'NOTIFY', payload JSONB NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT "
                        "now(), processed_at TIMESTAMPTZ);\n"));
  EXPECT_THAT(*sql, HasSubstr("CREATE INDEX IF NOT EXISTS \"pgcdc_outbox_pending_idx\" ON "
                              "\"pgcdc_outbox\" (created_at, id) WHERE processed_at IS NULL;\n"));
  // Usage comment: the application inserts inside its own transaction.
  EXPECT_THAT(*sql, HasSubstr("--   BEGIN;\n"));
  EXPECT_THAT(*sql, HasSubstr("--   INSERT INTO \"pgcdc_outbox\" (channel, operation, payload)\n"));
  // No trigger or publication: --detector is irrelevant with --adapter.
  EXPECT_THAT(*sql, Not(HasSubstr("TRIGGER")));
  EXPECT_THAT(*sql, Not(HasSubstr("PUBLICATION")));
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
  EXPECT_THAT(*sql, HasSubstr("CREATE TABLE IF NOT EXISTS \"app\".\"Events\" (id UUID"));
  EXPECT_THAT(*sql,
              HasSubstr("CREATE INDEX IF NOT EXISTS \"Events_pending_idx\" ON \"app\".\"Events\""));
}

TEST(InitSqlTest, OutboxRejectsBadInput) {
  EXPECT_FALSE(GenerateInitSql({.adapter = "outbox"}));  // --table required
  for (const char* bad : {"a.b.c", ".t", "s.", "a b", "s.1t", "t;drop", "\"t\""}) {
    auto e = GenerateInitSql({.table = bad, .adapter = "outbox"});
    ASSERT_FALSE(e) << bad;
    EXPECT_THAT(e.error().message(), HasSubstr("invalid table name"));
  }
  EXPECT_FALSE(GenerateInitSql({.table = std::string(64, 'a'), .adapter = "outbox"}));
  EXPECT_FALSE(GenerateInitSql({.table = "t", .all_tables = true, .adapter = "outbox"}));
  auto e = GenerateInitSql({.table = "t", .adapter = "kafka"});
  ASSERT_FALSE(e);
  EXPECT_THAT(e.error().message(),
              HasSubstr("--adapter must be outbox, signal, pg_table, embedding or state"));
  // Plain capture still refuses schema-qualified names.
  EXPECT_FALSE(GenerateInitSql({.table = "app.t"}));
}

TEST(InitSqlTest, SignalTableDefaults) {
  auto sql = GenerateInitSql({.adapter = "signal"});
  ASSERT_TRUE(sql) << sql.error().message();
  EXPECT_THAT(*sql,
              HasSubstr("CREATE TABLE IF NOT EXISTS \"pgcdc_signals\" (id UUID PRIMARY KEY DEFAULT "
                        "gen_random_uuid(), signal TEXT NOT NULL, payload JSONB NOT NULL DEFAULT "
                        "'{}', created_at TIMESTAMPTZ NOT NULL DEFAULT now());\n"));
  EXPECT_THAT(*sql, HasSubstr("'execute-snapshot'"));
  EXPECT_THAT(*sql, HasSubstr("'stop-snapshot'"));
  EXPECT_THAT(*sql, HasSubstr("ALTER PUBLICATION P ADD TABLE \"pgcdc_signals\""));
}

TEST(InitSqlTest, PgTableEventsTable) {
  auto sql = GenerateInitSql({.adapter = "pg_table"});
  ASSERT_TRUE(sql) << sql.error().message();
  EXPECT_THAT(
      *sql, HasSubstr("CREATE TABLE IF NOT EXISTS \"pgcdc_events\" (id TEXT PRIMARY KEY, channel "
                      "TEXT NOT NULL, operation TEXT NOT NULL, payload JSONB NOT NULL, source TEXT "
                      "NOT NULL, created_at TIMESTAMPTZ NOT NULL);\n"));
  EXPECT_THAT(*sql, HasSubstr("\"pgcdc_events_channel_idx\" ON \"pgcdc_events\" (channel)"));
}

TEST(InitSqlTest, EmbeddingTable) {
  auto sql = GenerateInitSql({.table = "docs_vec", .adapter = "embedding", .dimension = 3});
  ASSERT_TRUE(sql) << sql.error().message();
  EXPECT_THAT(*sql, HasSubstr("CREATE EXTENSION IF NOT EXISTS vector;\n"));
  EXPECT_THAT(*sql, HasSubstr("CREATE TABLE IF NOT EXISTS \"docs_vec\" (source_id TEXT PRIMARY "
                              "KEY, source_table TEXT NOT NULL, content TEXT NOT NULL, embedding "
                              "vector(3), event_id TEXT NOT NULL, content_hash TEXT,"));
  EXPECT_THAT(*sql, HasSubstr("\"idx_docs_vec_embedding\" ON \"docs_vec\" USING hnsw (embedding "
                              "vector_cosine_ops)"));
  EXPECT_THAT(*sql, HasSubstr("--embedding-table docs_vec"));
  auto d = GenerateInitSql({.adapter = "embedding"});
  ASSERT_TRUE(d);
  EXPECT_THAT(*d, HasSubstr("\"pgcdc_embeddings\""));
  EXPECT_THAT(*d, HasSubstr("vector(1536)"));
  EXPECT_FALSE(GenerateInitSql({.adapter = "embedding", .dimension = 0}));
}

// The tables of --adapter signal and pg_table may be schema-qualified: the
// DDL quotes both parts and the usage hint passes the name on.
TEST(InitSqlTest, SignalAndPgTableTakeQualifiedNames) {
  struct Case {
    const char* adapter;
    const char* table;
    const char* ddl;
    const char* usage;
  };
  for (const Case& c :
       {Case{"signal", "ops.sig", "CREATE TABLE IF NOT EXISTS \"ops\".\"sig\" (id UUID",
             "--snapshot-signal-table ops.sig"},
        Case{"pg_table", "audit.events", "CREATE TABLE IF NOT EXISTS \"audit\".\"events\" (id TEXT",
             "--pg-table-name audit.events"}}) {
    auto sql = GenerateInitSql({.table = c.table, .adapter = c.adapter});
    ASSERT_TRUE(sql) << c.adapter << ": " << sql.error().message();
    EXPECT_THAT(*sql, HasSubstr(c.ddl));
    EXPECT_THAT(*sql, HasSubstr(c.usage));
    for (const char* bad : {"a.b.c", "t;x", "x;y"}) {
      EXPECT_FALSE(GenerateInitSql({.table = bad, .adapter = c.adapter}))
          << c.adapter << " " << bad;
    }
  }
}

}  // namespace
}  // namespace pgcdc::cli
