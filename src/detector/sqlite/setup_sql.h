// The change capture setup `pgcdc init --detector sqlite --table T` prints or
// applies (pure; unit-tested against a real in-memory SQLite): the change
// table pgcdc_changes with a partial index on the pending rows (SPEC §2.4),
// and AFTER INSERT/UPDATE/DELETE triggers on T that record each row as
// json_object(...) of T's own columns — not json(NEW), which SQLite rejects.
//
// Values keep their SQLite types (integer, real, text, NULL); blobs are
// written as {"__pgcdc_blob":"<hex>"} (json_object refuses blobs, and SQLite
// has no base64) and become base64 strings in the detector; ±infinity (which
// SQLite would render as the invalid JSON `Inf`) becomes "Infinity" /
// "-Infinity". Tables wider than one json_object call allows are recorded in
// pieces joined as text. The triggers are dropped and created again, so
// running the setup again after ALTER TABLE picks up new columns.
#pragma once

#include <string>
#include <vector>

#include "core/error.h"

namespace pgcdc::detector::sqlite {

// The change table and its index (idempotent).
std::string ChangeTableSql();

// DROP + CREATE of the three triggers of `table` with these columns (in table
// order). Fails for an empty column list or the change table itself.
Result<std::string> TriggerSql(const std::string& table, const std::vector<std::string>& columns);

// The whole script with a header comment naming the database file.
Result<std::string> SetupScript(const std::string& db_path, const std::string& table,
                                const std::vector<std::string>& columns);

}  // namespace pgcdc::detector::sqlite
