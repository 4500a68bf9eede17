#include "cli/init_sql.h"

#include <regex>
#include <vector>

#include "pg/conn.h"

namespace pgcdc::cli {

namespace {
const std::regex& TableRe() {
  static const std::regex re("^[A-Za-z_][A-Za-z0-9_]*$");
  return re;
}
const std::regex& ChannelRe() {
  static const std::regex re(R"(^[A-Za-z_][A-Za-z0-9_:.\-]*$)");
  return re;
}

// Splits and validates "table" or "schema.table"; returns the parts.
Result<std::vector<std::string>> QualifiedTableParts(const std::string& table) {
  if (table.empty()) return Fail(ErrorCode::kConfig, "--table is required");
  std::vector<std::string> parts;
  for (size_t start = 0;;) {
    const size_t dot = table.find('.', start);
    parts.push_back(table.substr(start, dot == std::string::npos ? dot : dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  for (const auto& part : parts) {
    if (parts.size() > 2 || !std::regex_match(part, TableRe()) || part.size() > 63) {
      return Fail(ErrorCode::kConfig, "invalid table name \"" + table +
                                          "\" (table or schema.table; use letters, digits and "
                                          "_, not starting with a digit, at most 63 bytes each)");
    }
  }
  return parts;
}

std::string QuoteParts(const std::vector<std::string>& parts) {
  std::string quoted;
  for (const auto& part : parts) {
    quoted += (quoted.empty() ? "" : ".") + pg::QuoteIdentifier(part);
  }
  return quoted;
}

}  // namespace

Result<std::string> GenerateOutboxSql(const std::string& table) {
  auto split = QualifiedTableParts(table);
  if (!split) return Fail(split.error());
  const std::vector<std::string>& parts = *split;
  const std::string quoted = QuoteParts(parts);
  const std::string index = pg::QuoteIdentifier(parts.back() + "_pending_idx");

  std::string out;
  out += "-- pgcdc: transactional outbox table for\n";
  out += "--   pgcdc listen --detector outbox --outbox-table " + table + "\n";
  out += "-- Write each event in the same transaction as the change it describes, so it\n";
  out += "-- exists exactly when that change commits:\n";
  out += "--\n";
  out += "--   BEGIN;\n";
  out += "--   UPDATE orders SET status = 'paid' WHERE id = 42;\n";
  out += "--   INSERT INTO " + quoted + " (channel, operation, payload)\n";
  out += "--     VALUES ('pgcdc:orders', 'UPDATE', '{\"id\": 42, \"status\": \"paid\"}');\n";
  out += "--   COMMIT;\n";
  out += "--\n";
  out += "-- pgcdc emits one event per row (channel, operation and payload as stored) in\n";
  out += "-- created_at order and deletes the row once every adapter has delivered it\n";
  out += "-- (--outbox-keep-processed sets processed_at instead).\n";
  out += "CREATE TABLE IF NOT EXISTS " + quoted +
         " (id UUID PRIMARY KEY DEFAULT gen_random_uuid(), channel TEXT NOT NULL, operation TEXT "
         "NOT NULL DEFAULT 'NOTIFY', payload JSONB NOT NULL, created_at TIMESTAMPTZ NOT NULL "
         "DEFAULT now(), processed_at TIMESTAMPTZ);\n";
  out += "-- Pending rows in poll order.\n";
  out += "CREATE INDEX IF NOT EXISTS " + index + " ON " + quoted +
         " (created_at, id) WHERE processed_at IS NULL;\n";
  return out;
}

Result<std::string> GenerateSignalSql(const std::string& table) {
  const std::string name = table.empty() ? "pgcdc_signals" : table;
  auto parts = QualifiedTableParts(name);
  if (!parts) return Fail(parts.error());
  const std::string quoted = QuoteParts(*parts);
  std::string out;
  out += "-- pgcdc: signal table for incremental snapshots\n";
  out += "--   pgcdc listen --detector wal --publication P --incremental-snapshot";
  out += name == "pgcdc_signals" ? "\n" : " --snapshot-signal-table " + name + "\n";
  out += "-- Add it to the publication the detector streams, e.g.\n";
  out += "--   ALTER PUBLICATION P ADD TABLE " + quoted + ";\n";
  out += "-- (not needed for a FOR ALL TABLES publication).\n";
  out += "--\n";
  out += "-- Start a chunked snapshot of a table (schema.table allowed; snapshot_id is\n";
  out += "-- optional, a UUIDv7 is generated otherwise):\n";
  out += "--   INSERT INTO " + quoted + " (signal, payload)\n";
  out += "--     VALUES ('execute-snapshot', '{\"table\": \"public.orders\"}');\n";
  out += "-- Stop it (it stays stopped, also across restarts):\n";
  out += "--   INSERT INTO " + quoted + " (signal, payload)\n";
  out += "--     VALUES ('stop-snapshot', '{\"table\": \"public.orders\"}');\n";
  out += "-- Signals act once their transaction commits; progress is kept in\n";
  out += "-- pgcdc_snapshot_progress.\n";
  out += "CREATE TABLE IF NOT EXISTS " + quoted +
         " (id UUID PRIMARY KEY DEFAULT gen_random_uuid(), signal TEXT NOT NULL, payload JSONB "
         "NOT NULL DEFAULT '{}', created_at TIMESTAMPTZ NOT NULL DEFAULT now());\n";
  return out;
}

Result<std::string> GeneratePgTableSql(const std::string& table) {
  const std::string name = table.empty() ? "pgcdc_events" : table;
  auto parts = QualifiedTableParts(name);
  if (!parts) return Fail(parts.error());
  const std::string quoted = QuoteParts(*parts);
  std::string out;
  out += "-- pgcdc: events table for\n";
  out += "--   pgcdc listen -a pg_table";
  out += name == "pgcdc_events" ? "\n" : " --pg-table-name " + name + "\n";
  out += "CREATE TABLE IF NOT EXISTS " + quoted +
         " (id TEXT PRIMARY KEY, channel TEXT NOT NULL, operation TEXT NOT NULL, payload JSONB "
         "NOT NULL, source TEXT NOT NULL, created_at TIMESTAMPTZ NOT NULL);\n";
  out += "CREATE INDEX IF NOT EXISTS " + pg::QuoteIdentifier(parts->back() + "_channel_idx") +
         " ON " + quoted + " (channel);\n";
  out += "CREATE INDEX IF NOT EXISTS " + pg::QuoteIdentifier(parts->back() + "_created_at_idx") +
         " ON " + quoted + " (created_at);\n";
  return out;
}

Result<std::string> GenerateInitSql(const InitOptions& o) {
  using pg::QuoteIdentifier;
  using pg::QuoteLiteral;
  if (!o.adapter.empty()) {
    if (o.adapter != "outbox" && o.adapter != "signal" && o.adapter != "pg_table") {
      return Fail(ErrorCode::kConfig, "--adapter must be outbox, signal or pg_table (got \"" +
                                          o.adapter +
                                          "\"; the embedding table is not available yet)");
    }
    if (o.all_tables) return Fail(ErrorCode::kConfig, "--all-tables cannot be used with --adapter");
    if (o.adapter == "pg_table") return GeneratePgTableSql(o.table);
    return o.adapter == "signal" ? GenerateSignalSql(o.table) : GenerateOutboxSql(o.table);
  }
  if (o.detector != "listen_notify" && o.detector != "wal") {
    return Fail(ErrorCode::kConfig,
                "--detector must be listen_notify or wal (got \"" + o.detector + "\")");
  }
  if (o.all_tables) {
    if (o.detector != "wal") return Fail(ErrorCode::kConfig, "--all-tables needs --detector wal");
  } else if (o.table.empty()) {
    return Fail(ErrorCode::kConfig, "--table is required");
  }
  if (!o.table.empty() && (!std::regex_match(o.table, TableRe()) || o.table.size() > 63)) {
    return Fail(ErrorCode::kConfig, "invalid table name \"" + o.table +
                                        "\" (use letters, digits and _, not starting with a "
                                        "digit, at most 63 bytes)");
  }
  std::string out;
  if (o.detector == "wal") {
    std::string pub = o.publication;
    if (pub.empty()) pub = o.all_tables ? "all" : "pgcdc_" + o.table;
    if (!std::regex_match(pub, TableRe()) || pub.size() > 63) {
      return Fail(ErrorCode::kConfig, "invalid publication name \"" + pub + "\"");
    }
    out += "-- Prerequisites for the wal detector:\n";
    out += "--   wal_level = logical (postgresql.conf; restart required)\n";
    out += "--   max_replication_slots >= 1 and max_wal_senders >= 1\n";
    out += "--   a role with the REPLICATION attribute (or a superuser)\n";
    if (o.all_tables) {
      out += "CREATE PUBLICATION " + QuoteIdentifier(pub) + " FOR ALL TABLES;\n";
    } else {
      out += "CREATE PUBLICATION " + QuoteIdentifier(pub) + " FOR TABLE " +
             QuoteIdentifier(o.table) + ";\n";
    }
    return out;
  }
  const std::string channel = o.channel.empty() ? "pgcdc:" + o.table : o.channel;
  if (!std::regex_match(channel, ChannelRe()) || channel.size() > 63) {
    return Fail(ErrorCode::kConfig, "invalid channel name \"" + channel +
                                        "\" (use letters, digits, _ : . -, at most 63 bytes)");
  }
  const std::string fn = QuoteIdentifier("pgcdc_notify_" + o.table);
  const std::string trigger = QuoteIdentifier("pgcdc_" + o.table + "_trigger");
  out += "-- pgcdc: LISTEN/NOTIFY capture for table " + o.table + " on channel " + channel + "\n";
  out +=
      "-- Each row change sends {\"op\",\"table\",\"row\",\"old\"} as JSON (payload limit 8000 "
      "bytes).\n";
  out += "CREATE OR REPLACE FUNCTION " + fn + "() RETURNS trigger\n";
  out += "LANGUAGE plpgsql AS $pgcdc$\n";
  out += "BEGIN\n";
  out += "  PERFORM pg_notify(" + QuoteLiteral(channel) + ", json_build_object(\n";
  out += "    'op', TG_OP,\n";
  out += "    'table', TG_TABLE_NAME,\n";
  out += "    'row', CASE WHEN TG_OP = 'DELETE' THEN row_to_json(OLD) ELSE row_to_json(NEW) END,\n";
  out += "    'old', CASE WHEN TG_OP = 'UPDATE' THEN row_to_json(OLD) ELSE NULL END\n";
  out += "  )::text);\n";
  out += "  RETURN COALESCE(NEW, OLD);\n";
  out += "END;\n";
  out += "$pgcdc$;\n\n";
  out += "DROP TRIGGER IF EXISTS " + trigger + " ON " + QuoteIdentifier(o.table) + ";\n";
  out += "CREATE TRIGGER " + trigger + "\n";
  out += "  AFTER INSERT OR UPDATE OR DELETE ON " + QuoteIdentifier(o.table) + "\n";
  out += "  FOR EACH ROW EXECUTE FUNCTION " + fn + "();\n";
  return out;
}

}  // namespace pgcdc::cli
