// Reading back what the DuckDB-based sinks wrote, independently of pgcdc:
// DuckDB's C API on a database file (duckdb sink) or on Parquet files with
// read_parquet (iceberg), and tests/tools/iceberg_read.js for an Iceberg
// table's metadata and manifests (npm avsc). Only in test binaries built with
// DuckDB (tests/scenarios/CMakeLists.txt defines PGCDC_TEST_DUCKDB_API there).
#pragma once

#include <boost/json.hpp>
#include <map>
#include <string>
#include <vector>

#include "parquet/duckdb_api.h"

namespace pgcdc::testing {

// One DuckDB database opened for the duration of the object.
class DuckReader {
 public:
  // `path` empty: in memory; else the database file, read-only by default
  // (a read-only open fails while another process has the file open).
  explicit DuckReader(const std::string& path = {}, bool read_only = true);
  ~DuckReader();
  DuckReader(const DuckReader&) = delete;
  DuckReader& operator=(const DuckReader&) = delete;

  // Empty when open; else why not.
  const std::string& error() const { return error_; }
  // Rows of `sql` as maps column -> text (NULL -> ""). On failure: no rows
  // and `error` gets DuckDB's message.
  std::vector<std::map<std::string, std::string>> Query(const std::string& sql, std::string& error);

 private:
  duckdb_database db_ = nullptr;
  duckdb_connection conn_ = nullptr;
  std::string error_;
};

// iceberg_read.js's document for the table at `dir` (an {"error"} object when
// it cannot be read yet); `map` is its --map from=to.
boost::json::object ReadIcebergTable(const std::string& dir, const std::string& map = {});

}  // namespace pgcdc::testing
