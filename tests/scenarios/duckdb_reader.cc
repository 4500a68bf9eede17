#include "duckdb_reader.h"

#include "harness.h"
#include "stream_clients.h"

namespace pgcdc::testing {

DuckReader::DuckReader(const std::string& path, bool read_only) {
  std::vector<std::pair<std::string, std::string>> settings;
  if (!path.empty() && read_only) settings.emplace_back("access_mode", "READ_ONLY");
  auto db = duckdb_api::Open(path, settings, "test");
  if (!db) {
    error_ = db.error().message();
    return;
  }
  db_ = *db;
  if (duckdb_connect(db_, &conn_) != DuckDBSuccess) {
    conn_ = nullptr;
    error_ = "duckdb: cannot connect";
  }
}

DuckReader::~DuckReader() {
  if (conn_ != nullptr) duckdb_disconnect(&conn_);
  if (db_ != nullptr) duckdb_close(&db_);
}

std::vector<std::map<std::string, std::string>> DuckReader::Query(const std::string& sql,
                                                                  std::string& error) {
  std::vector<std::map<std::string, std::string>> out;
  if (conn_ == nullptr) {
    error = error_;
    return out;
  }
  duckdb_result res;
  if (duckdb_query(conn_, sql.c_str(), &res) != DuckDBSuccess) {
    error = duckdb_result_error(&res);
    duckdb_destroy_result(&res);
    return out;
  }
  const idx_t cols = duckdb_column_count(&res);
  const idx_t rows = duckdb_row_count(&res);
  for (idx_t r = 0; r < rows; ++r) {
    std::map<std::string, std::string> row;
    for (idx_t c = 0; c < cols; ++c) {
      char* v = duckdb_value_varchar(&res, c, r);
      row[duckdb_column_name(&res, c)] = v != nullptr ? v : "";
      duckdb_free(v);
    }
    out.push_back(std::move(row));
  }
  duckdb_destroy_result(&res);
  return out;
}

boost::json::object ReadIcebergTable(const std::string& dir, const std::string& map) {
  std::vector<std::string> args = {"/usr/bin/node", ToolsDir() + "/iceberg_read.js", dir};
  if (!map.empty()) args.insert(args.end(), {"--map", map});
  const CommandResult r = RunCommand(args);
  boost::system::error_code ec;
  auto v = boost::json::parse(r.output, ec);
  if (ec || !v.is_object()) return {{"error", r.output}};
  return v.as_object();
}

}  // namespace pgcdc::testing
