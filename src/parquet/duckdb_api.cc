#include "parquet/duckdb_api.h"

#include <cstdlib>
#include <mutex>

#include "core/dynlib.h"
#include "core/escape.h"
#include "core/log.h"

namespace pgcdc::duckdb_api {
namespace {

struct Loaded {
  Functions functions;
  Status status = Ok();
};

Loaded LoadOnce() {
  Loaded out;
  const std::string what = "DuckDB's library (libduckdb.so: Parquet output, the duckdb sink)";
  constexpr const char* kEnv = "PGCDC_DUCKDB_LIBRARY";
  auto handle = dynlib::Open(
      what, dynlib::Candidates("libduckdb.so", kEnv, {PGCDC_DUCKDB_BUILD_LIBRARY}), kEnv);
  if (!handle) {
    out.status = Fail(handle.error());
    return out;
  }
#define PGCDC_DUCKDB_RESOLVE(name)                                                          \
  if (auto sym = dynlib::Symbol(*handle, "duckdb_" #name, what); !sym) {                    \
    out.status = Fail(sym.error());                                                         \
    return out;                                                                             \
  } else {                                                                                  \
    out.functions.name = reinterpret_cast<decltype(out.functions.name)>(*sym); /* NOLINT */ \
  }
  PGCDC_DUCKDB_FUNCTIONS(PGCDC_DUCKDB_RESOLVE)
#undef PGCDC_DUCKDB_RESOLVE
  return out;
}

const Loaded& Library() {
  static const Loaded loaded = LoadOnce();
  return loaded;
}

}  // namespace

Status Load() { return Library().status; }

const Functions& Duck() {
  const Loaded& l = Library();
  if (!l.status) {
    log::Error("duckdb: a DuckDB function was called although the library did not load",
               {{"error", l.status.error().message()}});
    std::abort();
  }
  return l.functions;
}

std::string QuoteIdent(std::string_view name) { return QuoteSql(name, '"'); }
std::string QuoteLiteral(std::string_view text) { return QuoteSql(text, '\''); }

Status Exec(duckdb_connection conn, const std::string& sql, std::string_view what) {
  duckdb_result result;
  const bool failed = Duck().query(conn, sql.c_str(), &result) == DuckDBError;
  std::string error = failed ? Duck().result_error(&result) : "";
  Duck().destroy_result(&result);
  if (failed) return Fail(ErrorCode::kIo, std::string(what) + ": " + error);
  return Ok();
}

std::string AppenderError(duckdb_appender appender) {
  duckdb_error_data data = Duck().appender_error_data(appender);
  std::string msg = data != nullptr && Duck().error_data_message(data) != nullptr
                        ? Duck().error_data_message(data)
                        : "unknown DuckDB appender error";
  Duck().destroy_error_data(&data);
  return msg;
}

Result<duckdb_database> Open(const std::string& path,
                             const std::vector<std::pair<std::string, std::string>>& settings,
                             std::string_view who) {
  if (Status loaded = Load(); !loaded) return Fail(loaded.error().Wrap(who));
  duckdb_config config = nullptr;
  if (Duck().create_config(&config) == DuckDBError) {
    return Fail(ErrorCode::kIo, std::string(who) + ": cannot create a DuckDB configuration");
  }
  std::vector<std::pair<std::string, std::string>> all = {{"autoinstall_known_extensions", "false"},
                                                          {"autoload_known_extensions", "false"}};
  all.insert(all.end(), settings.begin(), settings.end());
  for (const auto& [key, value] : all) {
    if (Duck().set_config(config, key.c_str(), value.c_str()) == DuckDBError) {
      Duck().destroy_config(&config);
      return Fail(ErrorCode::kIo,
                  std::string(who) + ": DuckDB setting " + key + "=" + value + " refused");
    }
  }
  duckdb_database db = nullptr;
  char* err = nullptr;
  const char* file = path.empty() || path == ":memory:" ? nullptr : path.c_str();
  const bool failed = Duck().open_ext(file, &db, config, &err) == DuckDBError;
  std::string msg = err != nullptr ? err : "?";
  if (err != nullptr) Duck().free(err);
  Duck().destroy_config(&config);
  if (failed) {
    return Fail(ErrorCode::kIo, std::string(who) + ": cannot open DuckDB " +
                                    (file != nullptr ? path : ":memory:") + ": " + msg);
  }
  return db;
}

}  // namespace pgcdc::duckdb_api
