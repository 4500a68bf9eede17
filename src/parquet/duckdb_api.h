// Small helpers on DuckDB's C API shared by the modules that use it (the
// Parquet writer here, the duckdb sink): SQL quoting, running a statement,
// opening a database with network extension loading off, error texts.
//
// This header includes duckdb.h: only .cc files of modules that link
// pgcdc_duckdb_api (built when cmake/DuckDB.cmake found DuckDB) include it;
// never include it from another header.
#pragma once

#include <duckdb.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"

namespace pgcdc::duckdb_api {

// "name" with embedded quotes doubled (an identifier never read as SQL).
std::string QuoteIdent(std::string_view name);
// 'text' with embedded quotes doubled.
std::string QuoteLiteral(std::string_view text);

// Runs one statement; kIo "<what>: <DuckDB's message>" on failure.
[[nodiscard]] Status Exec(duckdb_connection conn, const std::string& sql, std::string_view what);

// The appender's last error ("unknown DuckDB appender error" when none).
std::string AppenderError(duckdb_appender appender);

// Opens `path` (empty or ":memory:" = an in-memory database) with extension
// auto-install/auto-load off plus `settings` (DuckDB configuration options,
// applied at open). kIo "<who>: cannot open DuckDB …" on failure.
[[nodiscard]] Result<duckdb_database> Open(
    const std::string& path, const std::vector<std::pair<std::string, std::string>>& settings,
    std::string_view who);

}  // namespace pgcdc::duckdb_api
