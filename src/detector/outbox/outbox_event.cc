#include "detector/outbox/outbox_event.h"

#include <utility>

#include "core/json.h"
#include "core/uuid.h"
#include "pg/conn.h"

namespace pgcdc::detector::outbox {

namespace {

constexpr size_t kMaxIdentifierBytes = 63;

void WriteOptionalString(json::Writer& w, const std::optional<std::string>& s) {
  if (s.has_value()) {
    w.String(*s);
  } else {
    w.Null();
  }
}

}  // namespace

Result<std::string> QuoteTableName(std::string_view name) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t dot = name.find('.', start);
    parts.push_back(name.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  const std::string shown = "\"" + std::string(name) + "\"";
  if (parts.size() > 2) {
    return Fail(ErrorCode::kConfig, "outbox table " + shown + ": expected table or schema.table");
  }
  std::string quoted;
  for (auto part : parts) {
    if (part.empty()) {
      return Fail(ErrorCode::kConfig,
                  "outbox table " + shown + ": empty name (expected table or schema.table)");
    }
    if (part.size() > kMaxIdentifierBytes) {
      return Fail(ErrorCode::kConfig, "outbox table " + shown + ": \"" + std::string(part) +
                                          "\" is longer than PostgreSQL's 63-byte limit");
    }
    if (part.find('"') != std::string_view::npos || part.find('\0') != std::string_view::npos) {
      return Fail(ErrorCode::kConfig,
                  "outbox table " + shown +
                      ": do not quote the name, pgcdc quotes each part itself (names are "
                      "case-sensitive)");
    }
    if (!quoted.empty()) quoted.push_back('.');
    quoted += pg::QuoteIdentifier(part);
  }
  return quoted;
}

OutboxSql MakeOutboxSql(const std::string& quoted_table, bool keep_processed) {
  OutboxSql sql;
  sql.select =
      "SELECT id, channel, operation, payload::text FROM " + quoted_table +
      " WHERE processed_at IS NULL ORDER BY created_at, id LIMIT $1 FOR UPDATE SKIP LOCKED";
  sql.finish = keep_processed
                   ? "UPDATE " + quoted_table +
                         " SET processed_at = clock_timestamp() WHERE id = ANY($1::uuid[])"
                   : "DELETE FROM " + quoted_table + " WHERE id = ANY($1::uuid[])";
  sql.exists = "SELECT to_regclass($1) IS NOT NULL";
  return sql;
}

std::string UuidArrayLiteral(const std::vector<std::string>& ids) {
  std::string out = "{";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i != 0) out.push_back(',');
    out += ids[i];
  }
  out.push_back('}');
  return out;
}

RowEvent MakeOutboxEvent(const OutboxRow& row, std::string_view table, int64_t now_ns) {
  RowEvent out;
  Event& e = out.event;
  // The row's own id: a row redelivered after a crash (claimed but not yet
  // deleted) arrives with the id of its first delivery.
  const std::optional<Uuid> row_id = ParseUuid(row.id);
  e.id = row_id ? *row_id : NewUuidV7();
  e.source = kSource;
  e.created_at_ns = now_ns;

  std::string payload;
  std::string parse_error;
  if (!row.payload.has_value()) {
    payload = "null";
  } else if (auto info = json::Compact(*row.payload, payload); !info) {
    parse_error = info.error().message();
  }

  if (!row.channel.has_value()) {
    out.invalid_reason = "channel is NULL";
  } else if (row.channel->empty()) {
    out.invalid_reason = "channel is empty";
  } else if (!row.operation.has_value()) {
    out.invalid_reason = "operation is NULL";
  } else if (row.operation->empty()) {
    out.invalid_reason = "operation is empty";
  } else if (!parse_error.empty()) {
    out.invalid_reason = "payload is not valid JSON: " + parse_error;
  }

  if (out.invalid_reason.empty()) {
    e.channel = *row.channel;
    e.operation = *row.operation;
    e.payload = std::move(payload);
    return out;
  }

  e.channel = kInvalidChannel;
  e.operation = kInvalidOperation;
  std::string body;
  json::Writer w(body);
  w.BeginObject();
  w.Key("outbox_id");
  w.String(row.id);
  w.Key("table");
  w.String(table);
  w.Key("reason");
  w.String(out.invalid_reason);
  w.Key("channel");
  WriteOptionalString(w, row.channel);
  w.Key("operation");
  WriteOptionalString(w, row.operation);
  w.Key("payload");
  if (parse_error.empty()) {
    w.Raw(payload);
  } else {
    w.String(*row.payload);  // not JSON: carried as a string
  }
  w.EndObject();
  e.payload = std::move(body);
  return out;
}

}  // namespace pgcdc::detector::outbox
