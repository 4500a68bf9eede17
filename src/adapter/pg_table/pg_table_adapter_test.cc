#include "adapter/pg_table/pg_table_adapter.h"

#include <gtest/gtest.h>

#include "config/config.h"
#include "registry/test_util.h"

namespace pgcdc::adapter::pg_table {
namespace {

TEST(PgTableSql, QuotesPlainAndSchemaQualifiedNames) {
  EXPECT_EQ(*QuoteTableName("pgcdc_events"), "\"pgcdc_events\"");
  EXPECT_EQ(*QuoteTableName("audit.Events"), "\"audit\".\"Events\"");
  EXPECT_EQ(*QuoteTableName("\"we\"\"ird\""), "\"we\"\"ird\"");
  EXPECT_EQ(*QuoteTableName("\"a.b\".t"), "\"a.b\".\"t\"");
  for (const char* bad : {"", ".t", "s.", "a.b.c", "s..t", "we\"ird"}) {
    auto q = QuoteTableName(bad);
    ASSERT_FALSE(q) << bad;
    EXPECT_NE(q.error().message().find("invalid table name"), std::string::npos);
  }
}

TEST(PgTableSql, MultiRowInsertBindsSixParametersPerRow) {
  EXPECT_EQ(InsertSql("\"t\"", 1),
            "INSERT INTO \"t\" (\"id\", \"channel\", \"operation\", \"payload\", \"source\", "
            "\"created_at\") VALUES ($1, $2, $3, $4, $5, $6)");
  const std::string two = InsertSql("\"s\".\"t\"", 2);
  EXPECT_NE(two.find("VALUES ($1, $2, $3, $4, $5, $6), ($7, $8, $9, $10, $11, $12)"),
            std::string::npos)
      << two;
  EXPECT_NE(InsertSql("\"t\"", 100).find("$600)"), std::string::npos);
}

TEST(PgTableSql, ClassifiesServerErrors) {
  // Connection trouble: reconnect and retry.
  EXPECT_EQ(ClassifyFailure("23505", /*connection_ok=*/false), Failure::kConnection);
  EXPECT_EQ(ClassifyFailure("", false), Failure::kConnection);
  EXPECT_EQ(ClassifyFailure("08006", true), Failure::kConnection);
  EXPECT_EQ(ClassifyFailure("57P01", true), Failure::kConnection);  // pg_terminate_backend
  EXPECT_EQ(ClassifyFailure("25006", true), Failure::kConnection);  // read-only (failover)
  // Row content: isolate and dead-letter.
  EXPECT_EQ(ClassifyFailure("23505", true), Failure::kRow);  // unique
  EXPECT_EQ(ClassifyFailure("23514", true), Failure::kRow);  // check
  EXPECT_EQ(ClassifyFailure("22P02", true), Failure::kRow);  // invalid text representation
  EXPECT_EQ(ClassifyFailure("22P05", true), Failure::kRow);  // \u0000 in jsonb
  EXPECT_EQ(ClassifyFailure("P0001", true), Failure::kRow);  // trigger RAISE
  EXPECT_EQ(ClassifyFailure("54000", true), Failure::kRow);  // index row too large
  // Everything else: retry later, do not blame the row.
  EXPECT_EQ(ClassifyFailure("42P01", true), Failure::kTransient);  // table dropped
  EXPECT_EQ(ClassifyFailure("42501", true), Failure::kTransient);  // privilege revoked
  EXPECT_EQ(ClassifyFailure("40001", true), Failure::kTransient);
  EXPECT_EQ(ClassifyFailure("53100", true), Failure::kTransient);  // disk full
  EXPECT_EQ(ClassifyFailure("", true), Failure::kTransient);
}

TEST(PgTableSql, RowValuesFollowTheEnvelope) {
  Event e = MakeEvent("pgcdc:orders", "INSERT", R"({"id":1})", "wal");
  e.created_at_ns = 1'750'000'000'123'456'789;
  auto v = RowValues(e);
  ASSERT_EQ(v.size(), 6u);
  EXPECT_EQ(v[0], e.id.ToString());
  EXPECT_EQ(v[1], "pgcdc:orders");
  EXPECT_EQ(v[2], "INSERT");
  EXPECT_EQ(v[3], R"({"id":1})");
  EXPECT_EQ(v[4], "wal");
  EXPECT_EQ(v[5], "2025-06-15T15:06:40.123456789Z");
}

testing::LoadedConfig Load(std::map<std::string, std::vector<std::string>> flags) {
  auto r = testing::LoadConnectorConfig(Connector(), std::move(flags));
  EXPECT_TRUE(r.errors.empty()) << r.errors[0];
  return r;
}

TEST(PgTableConnector, UrlDefaultsToDbAndTableNameIsValidated) {
  const ConnectorInfo info = Connector();
  auto errors = testing::Validate(info, Load({}));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("pg_table.url: required"), std::string::npos);

  errors = testing::Validate(
      info, Load({{"database_url", {"postgres://db"}}, {"pg_table.table", {"a.b.c"}}}));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("pg_table.table: invalid table name"), std::string::npos);

  errors = testing::Validate(info, Load({{"database_url", {"postgres://db"}},
                                         {"pg_table.backoff_base", {"5s"}},
                                         {"pg_table.backoff_cap", {"1s"}}}));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("backoff_cap"), std::string::npos);

  auto cfg = Load({{"database_url", {"postgres://db"}}});
  EXPECT_TRUE(testing::Validate(info, cfg).empty());
  EXPECT_EQ(cfg.values.GetString("pg_table.table"), "pgcdc_events");
  EXPECT_EQ(cfg.values.GetInt("pg_table.batch_size"), 100);
  auto adapter = info.make_adapter(cfg.values, cfg.core);
  ASSERT_TRUE(adapter);
  EXPECT_EQ((*adapter)->Name(), "pg_table");
}

TEST(PgTableAdapter, OpenFailsClearlyWhenTheDatabaseIsUnreachable) {
  PgTableAdapter a({.url = "postgresql://127.0.0.1:1/nothing?connect_timeout=2"});
  auto st = a.Open();
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message().find("pg_table (database postgresql://127.0.0.1:1/nothing"),
            std::string::npos)
      << st.error().message();
}

}  // namespace
}  // namespace pgcdc::adapter::pg_table
