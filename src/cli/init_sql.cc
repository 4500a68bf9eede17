#include "cli/init_sql.h"

#include <initializer_list>
#include <regex>
#include <string_view>
#include <utility>
#include <vector>

#include "pg/conn.h"
#include "pg/migrations.h"

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

// `text` with each ${name} replaced by its value in `vars`.
std::string Fill(std::string_view text,
                 std::initializer_list<std::pair<std::string_view, std::string_view>> vars) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    const size_t at = text.find("${", i);
    out.append(text.substr(i, at == std::string_view::npos ? at : at - i));
    if (at == std::string_view::npos) break;
    const size_t end = text.find('}', at);
    const std::string_view name = text.substr(at + 2, end - at - 2);
    for (const auto& [key, value] : vars) {
      if (key == name) out.append(value);
    }
    i = end + 1;
  }
  return out;
}

// A table script being generated: the table it creates and the text so far.
struct Script {
  std::string quoted;  // the table, quoted and qualified
  std::string last;    // its unqualified name (for index names)
  std::string out;
};

// Starts a script for `table` (`default_name` when empty) with what it
// creates, for the command line that uses it (`flag` naming the table unless
// it is the default).
Result<Script> BeginScript(const std::string& table, std::string_view default_name,
                           std::string_view what, std::string_view command, std::string_view flag) {
  const std::string name = table.empty() ? std::string(default_name) : table;
  auto parts = QualifiedTableParts(name);
  if (!parts) return Fail(parts.error());
  Script s{.quoted = QuoteParts(*parts), .last = parts->back()};
  s.out = "-- pgcdc: " + std::string(what) + "\n--   " + std::string(command);
  if (name != default_name) s.out += " " + std::string(flag) + " " + name;
  s.out += "\n";
  return s;
}

}  // namespace

Result<std::string> GenerateOutboxSql(const std::string& table) {
  // No default name: --table is required.
  auto script = BeginScript(table, "", "transactional outbox table for",
                            "pgcdc listen --detector outbox", "--outbox-table");
  if (!script) return Fail(script.error());
  const std::string& quoted = script->quoted;
  const std::string index = pg::QuoteIdentifier(script->last + "_pending_idx");
  std::string& out = script->out;
  out += Fill(R"(-- Write each event in the same transaction as the change it describes, so it
-- exists exactly when that change commits:
--
--   BEGIN;
--   UPDATE orders SET status = 'paid' WHERE id = 42;
--   INSERT INTO ${table} (channel, operation, payload)
--     VALUES ('pgcdc:orders', 'UPDATE', '{"id": 42, "status": "paid"}');
--   COMMIT;
--
-- pgcdc emits one event per row (channel, operation and payload as stored) in
-- created_at order and deletes the row once every adapter has delivered it
-- (--outbox-keep-processed sets processed_at instead).
)",
              {{"table", quoted}});
  out += "CREATE TABLE IF NOT EXISTS " + quoted +
         " (id UUID PRIMARY KEY DEFAULT gen_random_uuid(), channel TEXT NOT NULL, operation TEXT "
         "NOT NULL DEFAULT 'NOTIFY', payload JSONB NOT NULL, created_at TIMESTAMPTZ NOT NULL "
         "DEFAULT now(), processed_at TIMESTAMPTZ);\n";
  out += "-- Pending rows in poll order.\n";
  out += "CREATE INDEX IF NOT EXISTS " + index + " ON " + quoted +
         " (created_at, id) WHERE processed_at IS NULL;\n";
  return std::move(out);
}

Result<std::string> GenerateSignalSql(const std::string& table) {
  auto script = BeginScript(table, "pgcdc_signals", "signal table for incremental snapshots",
                            "pgcdc listen --detector wal --publication P --incremental-snapshot",
                            "--snapshot-signal-table");
  if (!script) return Fail(script.error());
  const std::string& quoted = script->quoted;
  std::string& out = script->out;
  out += Fill(R"(-- Add it to the publication the detector streams, e.g.
--   ALTER PUBLICATION P ADD TABLE ${table};
-- (not needed for a FOR ALL TABLES publication).
--
-- Start a chunked snapshot of a table (schema.table allowed; snapshot_id is
-- optional, a UUIDv7 is generated otherwise):
--   INSERT INTO ${table} (signal, payload)
--     VALUES ('execute-snapshot', '{"table": "public.orders"}');
-- Stop it (it stays stopped, also across restarts):
--   INSERT INTO ${table} (signal, payload)
--     VALUES ('stop-snapshot', '{"table": "public.orders"}');
-- Signals act once their transaction commits; progress is kept in
-- pgcdc_snapshot_progress.
)",
              {{"table", quoted}});
  out += "CREATE TABLE IF NOT EXISTS " + quoted +
         " (id UUID PRIMARY KEY DEFAULT gen_random_uuid(), signal TEXT NOT NULL, payload JSONB "
         "NOT NULL DEFAULT '{}', created_at TIMESTAMPTZ NOT NULL DEFAULT now());\n";
  return std::move(out);
}

Result<std::string> GeneratePgTableSql(const std::string& table) {
  auto script = BeginScript(table, "pgcdc_events", "events table for", "pgcdc listen -a pg_table",
                            "--pg-table-name");
  if (!script) return Fail(script.error());
  const std::string& quoted = script->quoted;
  std::string& out = script->out;
  out += "CREATE TABLE IF NOT EXISTS " + quoted +
         " (id TEXT PRIMARY KEY, channel TEXT NOT NULL, operation TEXT NOT NULL, payload JSONB "
         "NOT NULL, source TEXT NOT NULL, created_at TIMESTAMPTZ NOT NULL);\n";
  out += "CREATE INDEX IF NOT EXISTS " + pg::QuoteIdentifier(script->last + "_channel_idx") +
         " ON " + quoted + " (channel);\n";
  out += "CREATE INDEX IF NOT EXISTS " + pg::QuoteIdentifier(script->last + "_created_at_idx") +
         " ON " + quoted + " (created_at);\n";
  return std::move(out);
}

Result<std::string> GenerateEmbeddingSql(const std::string& table, int dimension) {
  if (dimension < 1 || dimension > 16000) {
    return Fail(ErrorCode::kConfig,
                "--dimension must be between 1 and 16000 (got " + std::to_string(dimension) + ")");
  }
  auto script = BeginScript(table, "pgcdc_embeddings", "pgvector table for",
                            "pgcdc listen -a embedding", "--embedding-table");
  if (!script) return Fail(script.error());
  const std::string& quoted = script->quoted;
  std::string& out = script->out;
  out += "CREATE EXTENSION IF NOT EXISTS vector;\n";
  out += "CREATE TABLE IF NOT EXISTS " + quoted +
         " (source_id TEXT PRIMARY KEY, source_table TEXT NOT NULL, content TEXT NOT NULL, "
         "embedding vector(" +
         std::to_string(dimension) +
         "), event_id TEXT NOT NULL, content_hash TEXT, created_at TIMESTAMPTZ NOT NULL DEFAULT "
         "now(), updated_at TIMESTAMPTZ NOT NULL DEFAULT now());\n";
  out += "-- A table made for an older version: ALTER TABLE " + quoted +
         " ADD COLUMN IF NOT EXISTS content_hash TEXT;\n";
  out += "CREATE INDEX IF NOT EXISTS " + pg::QuoteIdentifier("idx_" + script->last + "_embedding") +
         " ON " + quoted + " USING hnsw (embedding vector_cosine_ops);\n";
  out += "CREATE INDEX IF NOT EXISTS " + pg::QuoteIdentifier(script->last + "_source_table_idx") +
         " ON " + quoted + " (source_table);\n";
  return std::move(out);
}

Result<std::string> GenerateInitSql(const InitOptions& o) {
  using pg::QuoteIdentifier;
  using pg::QuoteLiteral;
  if (!o.adapter.empty()) {
    if (o.adapter == "state") return pg::MigrationsScript();
    if (o.adapter != "outbox" && o.adapter != "signal" && o.adapter != "pg_table" &&
        o.adapter != "embedding") {
      return Fail(ErrorCode::kConfig,
                  "--adapter must be outbox, signal, pg_table, embedding or state (got \"" +
                      o.adapter + "\")");
    }
    if (o.all_tables) return Fail(ErrorCode::kConfig, "--all-tables cannot be used with --adapter");
    if (o.adapter == "pg_table") return GeneratePgTableSql(o.table);
    if (o.adapter == "embedding") return GenerateEmbeddingSql(o.table, o.dimension);
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
  out += Fill(R"(-- pgcdc: LISTEN/NOTIFY capture for table ${name} on channel ${channel}
-- Each row change sends {"op","table","row","old"} as JSON (payload limit 8000 bytes).
CREATE OR REPLACE FUNCTION ${fn}() RETURNS trigger
LANGUAGE plpgsql AS $pgcdc$
BEGIN
  PERFORM pg_notify(${channel_literal}, json_build_object(
    'op', TG_OP,
    'table', TG_TABLE_NAME,
    'row', CASE WHEN TG_OP = 'DELETE' THEN row_to_json(OLD) ELSE row_to_json(NEW) END,
    'old', CASE WHEN TG_OP = 'UPDATE' THEN row_to_json(OLD) ELSE NULL END
  )::text);
  RETURN COALESCE(NEW, OLD);
END;
$pgcdc$;

DROP TRIGGER IF EXISTS ${trigger} ON ${table};
CREATE TRIGGER ${trigger}
  AFTER INSERT OR UPDATE OR DELETE ON ${table}
  FOR EACH ROW EXECUTE FUNCTION ${fn}();
)",
              {{"name", o.table},
               {"channel", channel},
               {"channel_literal", QuoteLiteral(channel)},
               {"fn", QuoteIdentifier("pgcdc_notify_" + o.table)},
               {"trigger", QuoteIdentifier("pgcdc_" + o.table + "_trigger")},
               {"table", QuoteIdentifier(o.table)}});
  return out;
}

}  // namespace pgcdc::cli
