#include "pg/migrations.h"

#include <atomic>

#include "core/log.h"

namespace pgcdc::pg {

namespace {
// Arbitrary constant identifying pgcdc's migration lock.
constexpr const char* kLockKey = "7242019340517";
constexpr const char* kVersionTable =
    "CREATE TABLE IF NOT EXISTS pgcdc_schema_migrations (version INT PRIMARY KEY, "
    "name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())";
std::atomic<bool> skipped{false};

// --skip-migrations: the tables must already be at the latest version.
Result<int> CheckMigrated(Conn& conn) {
  const int latest = Migrations().back().version;
  // to_regclass: a missing table reads as version 0 (not an error).
  auto exists = conn.Query("SELECT to_regclass('pgcdc_schema_migrations') IS NOT NULL");
  if (!exists) return Fail(exists.error().Wrap("migrate"));
  int current = 0;
  if (exists->at(0).at(0) == "t") {
    auto rows = conn.Query("SELECT COALESCE(max(version), 0)::text FROM pgcdc_schema_migrations");
    if (!rows) return Fail(rows.error().Wrap("migrate: reading pgcdc_schema_migrations"));
    current = std::stoi(rows->at(0).at(0).value_or("0"));
  }
  if (current >= latest) return 0;
  // kInvalidArgument: a start-up problem the operator must fix (not retried).
  return Fail(ErrorCode::kInvalidArgument,
              "pgcdc's own tables are at schema version " + std::to_string(current) + " of " +
                  std::to_string(latest) +
                  " and --skip-migrations is set: run `pgcdc init --adapter state` as a role "
                  "that may create tables (or start pgcdc once without --skip-migrations)");
}
}  // namespace

void SetMigrationsSkipped(bool skip) { skipped.store(skip); }

std::string MigrationsScript() {
  std::string out =
      "-- pgcdc's own tables (checkpoints, snapshot progress, schema store) at schema version " +
      std::to_string(Migrations().back().version) + ", for pgcdc --skip-migrations.\nBEGIN;\n" +
      std::string(kVersionTable) + ";\n";
  for (const auto& m : Migrations()) {
    out += m.sql + ";\n";
    out += "INSERT INTO pgcdc_schema_migrations (version, name) VALUES (" +
           std::to_string(m.version) + ", " + QuoteLiteral(m.name) + ") ON CONFLICT DO NOTHING;\n";
  }
  out += "COMMIT;\n";
  return out;
}

const std::vector<Migration>& Migrations() {
  static const std::vector<Migration> migrations = {
      {1, "checkpoints",
       "CREATE TABLE IF NOT EXISTS pgcdc_checkpoints (\n"
       "  slot_name TEXT PRIMARY KEY,\n"
       "  lsn BIGINT NOT NULL,\n"
       "  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()\n"
       ")"},
      {2, "snapshot_progress",
       "CREATE TABLE IF NOT EXISTS pgcdc_snapshot_progress (\n"
       "  snapshot_id TEXT PRIMARY KEY,\n"
       "  table_name TEXT NOT NULL,\n"
       "  last_pk JSONB,\n"
       "  rows_processed BIGINT NOT NULL DEFAULT 0,\n"
       "  status TEXT NOT NULL DEFAULT 'pending',\n"
       "  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()\n"
       ")"},
      // The pg schema store (src/schema, --schema-store-type pg).
      {3, "schemas",
       "CREATE TABLE IF NOT EXISTS pgcdc_schemas (\n"
       "  subject TEXT NOT NULL,\n"
       "  version INT NOT NULL,\n"
       "  columns JSONB NOT NULL,\n"
       "  hash TEXT NOT NULL,\n"
       "  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),\n"
       "  PRIMARY KEY (subject, version)\n"
       ");\n"
       "CREATE INDEX IF NOT EXISTS idx_pgcdc_schemas_subject ON pgcdc_schemas (subject, version "
       "DESC)"},
  };
  return migrations;
}

Result<int> Migrate(Conn& conn) {
  if (skipped.load()) return CheckMigrated(conn);
  auto fail = [&](const Error& e) -> Result<int> {
    (void)conn.Exec("ROLLBACK");
    return Fail(e.Wrap("migrate"));
  };
  if (auto st = conn.Exec("BEGIN"); !st) return Fail(st.error().Wrap("migrate"));
  if (auto r = conn.Query(std::string("SELECT pg_advisory_xact_lock(") + kLockKey + ")"); !r) {
    return fail(r.error());
  }
  if (auto st = conn.Exec(kVersionTable); !st) {
    return fail(st.error());
  }
  auto rows = conn.Query("SELECT COALESCE(max(version), 0)::text FROM pgcdc_schema_migrations");
  if (!rows) return fail(rows.error());
  const int current = std::stoi(rows->at(0).at(0).value_or("0"));
  int applied = 0;
  for (const auto& m : Migrations()) {
    if (m.version <= current) continue;
    if (auto st = conn.Exec(m.sql); !st) {
      return fail(st.error().Wrap("migration " + std::to_string(m.version) + " " + m.name));
    }
    auto ins = conn.Query("INSERT INTO pgcdc_schema_migrations (version, name) VALUES ($1, $2)",
                          {std::to_string(m.version), m.name});
    if (!ins) return fail(ins.error());
    ++applied;
  }
  if (auto st = conn.Exec("COMMIT"); !st) return Fail(st.error().Wrap("migrate"));
  if (applied > 0) log::Info("applied schema migrations", {{"count", applied}});
  return applied;
}

}  // namespace pgcdc::pg
