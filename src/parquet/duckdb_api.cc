#include "parquet/duckdb_api.h"

#include "core/escape.h"

namespace pgcdc::duckdb_api {

std::string QuoteIdent(std::string_view name) { return QuoteSql(name, '"'); }
std::string QuoteLiteral(std::string_view text) { return QuoteSql(text, '\''); }

Status Exec(duckdb_connection conn, const std::string& sql, std::string_view what) {
  duckdb_result result;
  const bool failed = duckdb_query(conn, sql.c_str(), &result) == DuckDBError;
  std::string error = failed ? duckdb_result_error(&result) : "";
  duckdb_destroy_result(&result);
  if (failed) return Fail(ErrorCode::kIo, std::string(what) + ": " + error);
  return Ok();
}

std::string AppenderError(duckdb_appender appender) {
  duckdb_error_data data = duckdb_appender_error_data(appender);
  std::string msg = data != nullptr && duckdb_error_data_message(data) != nullptr
                        ? duckdb_error_data_message(data)
                        : "unknown DuckDB appender error";
  duckdb_destroy_error_data(&data);
  return msg;
}

Result<duckdb_database> Open(const std::string& path,
                             const std::vector<std::pair<std::string, std::string>>& settings,
                             std::string_view who) {
  duckdb_config config = nullptr;
  if (duckdb_create_config(&config) == DuckDBError) {
    return Fail(ErrorCode::kIo, std::string(who) + ": cannot create a DuckDB configuration");
  }
  std::vector<std::pair<std::string, std::string>> all = {{"autoinstall_known_extensions", "false"},
                                                          {"autoload_known_extensions", "false"}};
  all.insert(all.end(), settings.begin(), settings.end());
  for (const auto& [key, value] : all) {
    if (duckdb_set_config(config, key.c_str(), value.c_str()) == DuckDBError) {
      duckdb_destroy_config(&config);
      return Fail(ErrorCode::kIo,
                  std::string(who) + ": DuckDB setting " + key + "=" + value + " refused");
    }
  }
  duckdb_database db = nullptr;
  char* err = nullptr;
  const char* file = path.empty() || path == ":memory:" ? nullptr : path.c_str();
  const bool failed = duckdb_open_ext(file, &db, config, &err) == DuckDBError;
  std::string msg = err != nullptr ? err : "?";
  if (err != nullptr) duckdb_free(err);
  duckdb_destroy_config(&config);
  if (failed) {
    return Fail(ErrorCode::kIo, std::string(who) + ": cannot open DuckDB " +
                                    (file != nullptr ? path : ":memory:") + ": " + msg);
  }
  return db;
}

}  // namespace pgcdc::duckdb_api
