// Embedded, versioned schema migrations for pgcdc's own tables
// (pgcdc_checkpoints, …). Applied in order inside one transaction guarded by
// an advisory lock, recorded in pgcdc_schema_migrations(version, name,
// applied_at), so concurrent pgcdc processes and repeated starts are safe.
#pragma once

#include <string>
#include <vector>

#include "core/error.h"
#include "pg/conn.h"

namespace pgcdc::pg {

struct Migration {
  int version;
  std::string name;
  std::string sql;
};

// All migrations, ascending by version.
const std::vector<Migration>& Migrations();

// Applies the missing migrations; returns how many were applied. With
// migrations skipped (--skip-migrations) it applies nothing and fails, naming
// what to do, unless the database already has every migration.
Result<int> Migrate(Conn& conn);

// Process-wide: Migrate() only checks the schema version (for a role that may
// not create tables; the tables come from MigrationsScript(), run by an admin).
void SetMigrationsSkipped(bool skipped);

// The SQL that creates pgcdc's own tables and records their version, for
// `pgcdc init --adapter state` (idempotent).
std::string MigrationsScript();

}  // namespace pgcdc::pg
