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

// Applies the missing migrations; returns how many were applied.
Result<int> Migrate(Conn& conn);

}  // namespace pgcdc::pg
