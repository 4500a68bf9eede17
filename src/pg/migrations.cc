#include "pg/migrations.h"

#include "core/log.h"

namespace pgcdc::pg {

namespace {
// Arbitrary constant identifying pgcdc's migration lock.
constexpr const char* kLockKey = "7242019340517";
}  // namespace

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
  };
  return migrations;
}

Result<int> Migrate(Conn& conn) {
  auto fail = [&](const Error& e) -> Result<int> {
    (void)conn.Exec("ROLLBACK");
    return Fail(e.Wrap("migrate"));
  };
  if (auto st = conn.Exec("BEGIN"); !st) return Fail(st.error().Wrap("migrate"));
  if (auto r = conn.Query(std::string("SELECT pg_advisory_xact_lock(") + kLockKey + ")"); !r) {
    return fail(r.error());
  }
  if (auto st =
          conn.Exec("CREATE TABLE IF NOT EXISTS pgcdc_schema_migrations (version INT PRIMARY KEY, "
                    "name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())");
      !st) {
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
