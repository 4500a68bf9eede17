// Small helpers on DuckDB's C API shared by the modules that use it (the
// Parquet writer here, the duckdb sink): SQL quoting, running a statement,
// opening a database with network extension loading off, error texts, and
// the library itself: libduckdb.so is loaded at run time (dlopen, on the
// first Open() or Load()), never linked, so processes that do not use DuckDB
// do not map its ~60 MiB. Call its functions through Duck():
// `Duck().query(conn, sql, &result)` is duckdb_query(conn, sql, &result).
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

// The DuckDB C API functions pgcdc calls (without their duckdb_ prefix).
#define PGCDC_DUCKDB_FUNCTIONS(X) \
  X(append_bool)                  \
  X(append_double)                \
  X(append_int64)                 \
  X(append_null)                  \
  X(append_timestamp)             \
  X(append_varchar_length)        \
  X(appender_create)              \
  X(appender_create_ext)          \
  X(appender_destroy)             \
  X(appender_end_row)             \
  X(appender_error_data)          \
  X(appender_flush)               \
  X(bind_int64)                   \
  X(bind_null)                    \
  X(bind_varchar_length)          \
  X(close)                        \
  X(column_count)                 \
  X(column_name)                  \
  X(column_type)                  \
  X(connect)                      \
  X(create_config)                \
  X(data_chunk_get_size)          \
  X(data_chunk_get_vector)        \
  X(destroy_config)               \
  X(destroy_data_chunk)           \
  X(destroy_error_data)           \
  X(destroy_extracted)            \
  X(destroy_prepare)              \
  X(destroy_result)               \
  X(disconnect)                   \
  X(error_data_error_type)        \
  X(error_data_message)           \
  X(execute_prepared)             \
  X(execute_prepared_streaming)   \
  X(extract_statements)           \
  X(extract_statements_error)     \
  X(fetch_chunk)                  \
  X(free)                         \
  X(interrupt)                    \
  X(nparams)                      \
  X(open_ext)                     \
  X(prepare)                      \
  X(prepare_error)                \
  X(prepare_extracted_statement)  \
  X(prepared_statement_type)      \
  X(query)                        \
  X(result_error)                 \
  X(result_error_type)            \
  X(row_count)                    \
  X(rows_changed)                 \
  X(set_config)                   \
  X(string_t_data)                \
  X(string_t_length)              \
  X(value_int64)                  \
  X(value_is_null)                \
  X(value_varchar)                \
  X(vector_get_data)

struct Functions {
// NOLINTNEXTLINE(bugprone-macro-parentheses): declares a member named `name`.
#define PGCDC_DUCKDB_MEMBER(name) decltype(&::duckdb_##name) name = nullptr;
  PGCDC_DUCKDB_FUNCTIONS(PGCDC_DUCKDB_MEMBER)
#undef PGCDC_DUCKDB_MEMBER
};

// Loads libduckdb.so once (thread-safe; later calls return the first
// outcome): $PGCDC_DUCKDB_LIBRARY, else /usr/lib/pgcdc (the package), else the
// library the build found. kNotFound with every path tried when it fails.
[[nodiscard]] Status Load();
// The loaded functions. Only after Load() (or Open()) succeeded.
const Functions& Duck();

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
