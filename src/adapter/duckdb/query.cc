#include "adapter/duckdb/query.h"

#include <boost/json.hpp>

#include "config/config.h"
#include "core/escape.h"
#include "core/json_dom.h"
#include "parquet/writer.h"

namespace pgcdc::adapter::duckdb {

namespace {

std::string Ident(std::string_view name) { return QuoteSql(name, '"'); }
std::string Literal(std::string_view text) { return QuoteSql(text, '\''); }

std::unexpected<Error> BadRequest(std::string message) {
  return Fail(ErrorCode::kInvalidArgument, std::move(message));
}

Result<std::vector<std::optional<std::string>>> ParseParams(const boost::json::value* params) {
  std::vector<std::optional<std::string>> out;
  if (params == nullptr || params->is_null()) return out;
  if (!params->is_array()) return BadRequest("params: must be an array");
  for (const auto& p : params->as_array()) {
    if (p.is_string()) {
      out.emplace_back(std::string(p.as_string()));
    } else if (p.is_null()) {
      out.emplace_back(std::nullopt);
    } else if (p.is_number() || p.is_bool()) {
      out.emplace_back(json::SerializeDom(p));
    } else {
      return BadRequest("params: each parameter must be a string, number, boolean or null");
    }
  }
  return out;
}

Result<std::chrono::milliseconds> ParseTimeout(const boost::json::value* timeout,
                                               std::chrono::milliseconds default_timeout,
                                               std::chrono::milliseconds max_timeout) {
  if (timeout == nullptr || timeout->is_null()) return default_timeout;
  if (!timeout->is_string()) {
    return BadRequest("timeout: must be a duration string such as \"5s\"");
  }
  auto d = config::ParseDuration(timeout->as_string());
  if (!d) return BadRequest("timeout: " + d.error().message());
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(*d);
  if (ms <= std::chrono::milliseconds(0)) {
    return BadRequest("timeout: must be positive");
  }
  if (ms > max_timeout) {
    return BadRequest("timeout: at most " + config::FormatDuration(max_timeout) +
                      " (--duckdb-query-timeout)");
  }
  return ms;
}

}  // namespace

Result<QueryRequest> ParseQueryRequest(std::string_view body,
                                       std::chrono::milliseconds default_timeout,
                                       std::chrono::milliseconds max_timeout) {
  auto doc = json::ParseDom(body);
  if (!doc) return BadRequest("invalid JSON body: " + doc.error().message());
  if (!doc->is_object()) {
    return BadRequest("body must be a JSON object {\"sql\":\"…\"}");
  }
  const auto& obj = doc->as_object();
  QueryRequest req;
  const auto* sql = obj.if_contains("sql");
  if (sql == nullptr || !sql->is_string() || sql->as_string().empty()) {
    return BadRequest("missing sql: the body needs {\"sql\":\"SELECT …\"}");
  }
  req.sql = std::string(sql->as_string());
  auto params = ParseParams(obj.if_contains("params"));
  if (!params) return Fail(params.error());
  req.params = std::move(*params);
  auto timeout = ParseTimeout(obj.if_contains("timeout"), default_timeout, max_timeout);
  if (!timeout) return Fail(timeout.error());
  req.timeout = *timeout;
  return req;
}

std::string CreateTableSql() {
  return "CREATE TABLE IF NOT EXISTS cdc_events (id VARCHAR PRIMARY KEY, channel VARCHAR NOT "
         "NULL, operation VARCHAR NOT NULL, payload JSON, source VARCHAR, created_at TIMESTAMP "
         "NOT NULL)";
}

std::string CreateStageSql() {
  return "CREATE TEMP TABLE IF NOT EXISTS pgcdc_stage (id VARCHAR, channel VARCHAR, operation "
         "VARCHAR, payload VARCHAR, source VARCHAR, created_at TIMESTAMP)";
}

std::string ReplaceSql() {
  // The last copy of an id wins (DuckDB refuses the same key twice in one
  // INSERT OR REPLACE).
  return "INSERT OR REPLACE INTO cdc_events SELECT id, channel, operation, TRY_CAST(payload AS "
         "JSON), source, created_at FROM pgcdc_stage QUALIFY row_number() OVER (PARTITION BY id "
         "ORDER BY rowid DESC) = 1";
}

std::string ViewName(const RowSchema& schema) {
  return (schema.namespace_name.empty() ? std::string("public") : schema.namespace_name) + "." +
         schema.table;
}

std::string RowPointer(std::string_view column) {
  std::string out = "/row/";
  for (char c : column) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string ViewSql(const RowSchema& schema, std::string_view channel) {
  std::string sql = "CREATE OR REPLACE VIEW " + Ident(ViewName(schema)) + " AS SELECT ";
  for (const auto& c : schema.columns) {
    const parquet::Type type = parquet::TypeForPgOid(c.type_oid);
    const std::string path = Literal(RowPointer(c.name));
    if (type == parquet::Type::kJson) {
      sql += "json_extract(payload, " + path + ")";
    } else {
      sql += "TRY_CAST(json_extract_string(payload, " + path + ") AS " +
             std::string(parquet::TypeName(type)) + ")";
    }
    sql += " AS " + Ident(c.name) + ", ";
  }
  sql +=
      "operation AS _operation, created_at AS _created_at, id AS _event_id FROM cdc_events "
      "WHERE channel = " +
      Literal(channel);
  return sql;
}

std::string JsonRowsSql(std::string_view select) {
  while (!select.empty() &&
         (select.back() == ';' || select.back() == ' ' || select.back() == '\n' ||
          select.back() == '\t' || select.back() == '\r')) {
    select.remove_suffix(1);
  }
  return "SELECT to_json(pgcdc_q)::VARCHAR FROM (" + std::string(select) + "\n) AS pgcdc_q";
}

std::string TablesSql() {
  return "SELECT channel, count(*) AS count FROM cdc_events GROUP BY channel ORDER BY channel";
}

}  // namespace pgcdc::adapter::duckdb
