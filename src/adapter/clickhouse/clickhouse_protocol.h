// The ClickHouse HTTP interface as the clickhouse sink uses it (pure code,
// unit-tested): the DSN, identifier quoting, the statements, the
// JSONEachRow rows, the request head and how an answer is classified.
//
// Only the HTTP interface (port 8123, 8443 with TLS) is spoken. A native
// protocol DSN (clickhouse://host:9000, tcp://…) is refused with a message
// that names the HTTP form to use instead.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/event.h"
#include "net/http1_client.h"

namespace pgcdc::adapter::clickhouse {

// http(s)://[user[:password]@]host[:port][/database]
struct Dsn {
  net::Http1Url url;  // target "/"; port 8123 (http) or 8443 (https) when not given
  std::string user;   // empty: ClickHouse's `default` user, no credential headers
  std::string password;
  std::string database = "default";
  std::string redacted;  // the DSN with the password replaced, for logs and errors
};

// Parses clickhouse.dsn. Errors never contain the password.
Result<Dsn> ParseDsn(std::string_view dsn);

// A ClickHouse identifier in double quotes; `\` and `"` escaped with a
// backslash, control characters as \n-style or \xHH escapes.
std::string QuoteIdentifier(std::string_view name);
// "db"."table"
std::string QualifiedTable(std::string_view database, std::string_view table);

// The columns every row carries, in insert order (SPEC §5.20).
inline constexpr std::string_view kColumns[] = {"id",      "channel", "operation",  "source",
                                                "payload", "lsn",     "created_at", "_version"};

// CREATE TABLE IF NOT EXISTS … ENGINE = ReplacingMergeTree(_version) ORDER BY (channel, id)
std::string CreateTableStatement(std::string_view database, std::string_view table);
// INSERT INTO "db"."t" ("id", …) FORMAT JSONEachRow
std::string InsertStatement(std::string_view database, std::string_view table);
// The query that lists the table's columns (name, type) as JSONEachRow; the
// database and table are bound as query parameters (ColumnsQueryParams).
std::string_view ColumnsQuery();
std::map<std::string, std::string> ColumnsQueryParams(std::string_view database,
                                                      std::string_view table);
// The names of the JSONEachRow answer of ColumnsQuery() (malformed lines skipped).
std::vector<std::string> ParseColumnNames(std::string_view body);

// Appends one JSONEachRow line (with its '\n') for `event`; `version_ms` is
// the _version column (insert time in milliseconds). The payload is the
// event's JSON text stored as a string; created_at is written as Unix
// milliseconds, which DateTime64(3) reads as UTC ticks.
void AppendRow(const Event& event, uint64_t version_ms, std::string& out);

// The indexes of `ids` to keep: the first occurrence of each id (a
// redelivered event inside one batch is sent once).
std::vector<size_t> FirstOccurrences(std::span<const Uuid> ids);

// The settings sent as URL parameters: async_insert=1 and
// wait_for_async_insert=1 when `async_insert`, then `user` on top (each
// value list joined with ','). Errors name a key that is not a setting name.
Result<std::map<std::string, std::string>> MergeSettings(
    bool async_insert, const std::map<std::string, std::vector<std::string>>& user);

// The origin-form target "/?query=…&database=…&k=v…", percent-encoded.
std::string Target(std::string_view query, const std::map<std::string, std::string>& params);

// A POST request head with the credential headers (X-ClickHouse-User/Key).
std::string RequestHead(const Dsn& dsn, std::string_view target, size_t body_size);
// GET /ping.
std::string PingHead(const Dsn& dsn);

// How the sink treats an answer.
enum class Verdict {
  kOk,      // 2xx (without an exception text)
  kRetry,   // 408, 429, 5xx without a data error code: hold the batch, back off, send again
  kReject,  // the rows were refused (a data error code, or 400 without a known code): split
  kFatal,   // credentials, missing table/column, statement errors: an operator must act
};
struct Answer {
  Verdict verdict = Verdict::kRetry;
  int code = 0;         // the "Code: N." of ClickHouse's exception text, 0 when none
  std::string message;  // the server's text (first line, trimmed), or "HTTP <status>"
};
Answer Classify(int status, std::string_view body);

}  // namespace pgcdc::adapter::clickhouse
