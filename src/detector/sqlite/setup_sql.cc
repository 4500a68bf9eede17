#include "detector/sqlite/setup_sql.h"

#include <algorithm>

#include "detector/sqlite/change_row.h"
#include "detector/sqlite/sqlite_db.h"

namespace pgcdc::detector::sqlite {

namespace {

// Columns per json_object call: SQLite's default limit is 127 arguments.
constexpr size_t kColumnsPerObject = 60;

// The JSON value of column `c` of row image `image` (NEW or OLD).
std::string ValueExpr(const std::string& image, const std::string& column) {
  const std::string v = image + "." + QuoteIdent(column);
  return "CASE typeof(" + v + ") WHEN 'blob' THEN json_object('" + std::string(kBlobMarker) +
         "', hex(" + v + ")) WHEN 'real' THEN CASE WHEN abs(" + v +
         ") <= 1.7976931348623157e308 THEN " + v + " WHEN " + v +
         " > 0 THEN 'Infinity' ELSE '-Infinity' END ELSE " + v + " END";
}

std::string ObjectExpr(const std::string& image, const std::vector<std::string>& columns,
                       size_t begin, size_t end) {
  std::string out = "json_object(";
  for (size_t i = begin; i < end; ++i) {
    if (i != begin) out += ",\n      ";
    out += QuoteLiteral(columns[i]) + ", " + ValueExpr(image, columns[i]);
  }
  return out + ")";
}

// The row image as one JSON object text.
std::string RowExpr(const std::string& image, const std::vector<std::string>& columns) {
  if (columns.size() <= kColumnsPerObject) return ObjectExpr(image, columns, 0, columns.size());
  // Several objects, each without its braces, joined inside one pair.
  std::string out = "'{'";
  for (size_t begin = 0; begin < columns.size(); begin += kColumnsPerObject) {
    const size_t end = std::min(columns.size(), begin + kColumnsPerObject);
    const std::string piece = ObjectExpr(image, columns, begin, end);
    if (begin != 0) out += " || ','";
    out += " || substr(" + piece + ", 2, length(" + piece + ") - 2)";
  }
  return out + " || '}'";
}

std::string Trigger(const std::string& table, const std::string& event, const std::string& values,
                    const std::string& columns) {
  std::string lower = event;
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  const std::string name = QuoteIdent("pgcdc_" + table + "_" + lower);
  return "DROP TRIGGER IF EXISTS " + name + ";\nCREATE TRIGGER " + name + " AFTER " + event +
         " ON " + QuoteIdent(table) + "\nBEGIN\n  INSERT INTO " + std::string(kChangeTable) +
         " (table_name, operation, " + columns + ")\n  VALUES (" + QuoteLiteral(table) + ", '" +
         event + "', " + values + ");\nEND;\n";
}

}  // namespace

std::string ChangeTableSql() {
  return "CREATE TABLE IF NOT EXISTS " + std::string(kChangeTable) +
         " (\n"
         "  rowid INTEGER PRIMARY KEY AUTOINCREMENT,\n"
         "  table_name TEXT NOT NULL,\n"
         "  operation TEXT NOT NULL,\n"
         "  row_data TEXT,\n"
         "  old_data TEXT,\n"
         "  created_at TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),\n"
         "  processed INTEGER DEFAULT 0\n"
         ");\n"
         "CREATE INDEX IF NOT EXISTS pgcdc_changes_pending ON " +
         std::string(kChangeTable) + " (processed) WHERE processed = 0;\n";
}

Result<std::string> TriggerSql(const std::string& table, const std::vector<std::string>& columns) {
  if (table.empty()) return Fail(ErrorCode::kInvalidArgument, "name a table (--table)");
  if (table == kChangeTable) {
    return Fail(ErrorCode::kInvalidArgument, "the change table itself cannot be captured");
  }
  if (columns.empty()) {
    return Fail(ErrorCode::kInvalidArgument, "table " + table + " has no columns");
  }
  const std::string row = RowExpr("NEW", columns);
  const std::string old = RowExpr("OLD", columns);
  return Trigger(table, "INSERT", row, "row_data") +
         Trigger(table, "UPDATE", row + ",\n    " + old, "row_data, old_data") +
         Trigger(table, "DELETE", old, "old_data");
}

Result<std::string> SetupScript(const std::string& db_path, const std::string& table,
                                const std::vector<std::string>& columns) {
  auto triggers = TriggerSql(table, columns);
  if (!triggers) return Fail(triggers.error());
  return "-- pgcdc change capture for table " + table + " in " + db_path +
         " (pgcdc init --detector sqlite).\n"
         "-- Run it again after ALTER TABLE so the triggers record the new columns.\n"
         "PRAGMA journal_mode = WAL;\n"
         "BEGIN IMMEDIATE;\n" +
         ChangeTableSql() + *triggers + "COMMIT;\n";
}

}  // namespace pgcdc::detector::sqlite
