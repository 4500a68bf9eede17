# DuckDB's C library (SERVICES.md "DuckDB"): the header from npm `duckdb` and
# libduckdb.so from npm `@duckdb/node-bindings-linux-x64`, both installed into
# tests/tools/node_modules by scripts/bootstrap (`npm ci`) before the build.
# When both are there: DuckDB::headers (the header only: pgcdc never links the
# library, src/parquet/duckdb_api.cc loads it at run time when a configuration
# uses it), DuckDB::duckdb (the library file, for packaging), the library's
# path in PGCDC_DUCKDB_LIBRARY_PATH and PGCDC_HAVE_DUCKDB=ON. Otherwise the
# build still works; src/parquet then reports that this build has no Parquet
# support.
set(PGCDC_DUCKDB_DIR "${PROJECT_SOURCE_DIR}/tests/tools/node_modules" CACHE PATH
  "node_modules folder holding duckdb (header) and @duckdb/node-bindings-linux-x64 (libduckdb.so); empty = build without DuckDB")

set(PGCDC_HAVE_DUCKDB OFF)
set(_duckdb_header "${PGCDC_DUCKDB_DIR}/duckdb/src/duckdb/src/include/duckdb.h")
set(_duckdb_library "${PGCDC_DUCKDB_DIR}/@duckdb/node-bindings-linux-x64/libduckdb.so")
if(PGCDC_DUCKDB_DIR AND EXISTS "${_duckdb_header}" AND EXISTS "${_duckdb_library}")
  get_filename_component(_duckdb_include "${_duckdb_header}" DIRECTORY)
  add_library(DuckDB::duckdb SHARED IMPORTED GLOBAL)
  # The include folder is a system one: DuckDB's header is not ours to lint.
  set_target_properties(DuckDB::duckdb PROPERTIES
    IMPORTED_LOCATION "${_duckdb_library}"
    IMPORTED_SONAME libduckdb.so
    INTERFACE_SYSTEM_INCLUDE_DIRECTORIES "${_duckdb_include}"
    INTERFACE_INCLUDE_DIRECTORIES "${_duckdb_include}")
  add_library(DuckDB::headers INTERFACE IMPORTED GLOBAL)
  set_target_properties(DuckDB::headers PROPERTIES
    INTERFACE_SYSTEM_INCLUDE_DIRECTORIES "${_duckdb_include}"
    INTERFACE_INCLUDE_DIRECTORIES "${_duckdb_include}")
  set(PGCDC_DUCKDB_LIBRARY_PATH "${_duckdb_library}")
  set(PGCDC_HAVE_DUCKDB ON)
  message(STATUS "DuckDB: ${_duckdb_library} (Parquet output enabled)")
else()
  message(STATUS "DuckDB: not found under PGCDC_DUCKDB_DIR=\"${PGCDC_DUCKDB_DIR}\" "
    "(run scripts/bootstrap, or cd tests/tools && npm ci --ignore-scripts); building without Parquet output")
endif()
