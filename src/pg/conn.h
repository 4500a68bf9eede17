// Thin RAII wrappers over libpq. Identifiers are quoted, values are always
// bound as parameters.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"

struct pg_conn;
struct pg_result;

namespace pgcdc::pg {

// Quotes an SQL identifier: "name" with embedded quotes doubled. Equivalent to
// PQescapeIdentifier for UTF-8 input; usable without a connection (e.g. for
// `pgcdc init`).
std::string QuoteIdentifier(std::string_view name);
// Quotes an SQL string literal ('it''s'); for generated scripts only —
// queries bind values as parameters instead.
std::string QuoteLiteral(std::string_view value);

using Row = std::vector<std::optional<std::string>>;

// A libpq message without its trailing newline (and spaces); "" for null.
std::string TrimMessage(const char* msg);

// The rows of a PGRES_TUPLES_OK result (text values, NULL as nullopt),
// appended to `rows`.
void AppendRows(const pg_result* result, std::vector<Row>& rows);

// libpq connection keywords and their values.
using ConnSettings = std::vector<std::pair<const char*, const char*>>;

// Connects with libpq (blocking) to `url` (a libpq URI or key=value
// string) with TCP keepalives, so a silently dead peer (no RST) is noticed
// in about a minute instead of the OS default of hours. `defaults` yield to
// the URL's own settings, `overrides` win over them. Errors (kConnection)
// start with `what` ("connect: ..."). The caller owns the connection.
Result<pg_conn*> ConnectRaw(const std::string& url, std::string_view what,
                            const ConnSettings& defaults, const ConnSettings& overrides = {});

class Conn {
 public:
  // Connects (blocking). `url` is a libpq URI or key=value string.
  static Result<Conn> Open(const std::string& url);
  // Takes ownership of a connection made by ConnectRaw (with settings other
  // than Open's, e.g. a replication connection).
  static Conn Adopt(pg_conn* c) { return Conn(c); }

  Conn() = default;
  Conn(Conn&& other) noexcept;
  Conn& operator=(Conn&& other) noexcept;
  ~Conn();

  // Runs one statement (or several, simple protocol) and discards results.
  Status Exec(const std::string& sql);
  // Runs one parameterised statement and returns rows as text.
  Result<std::vector<Row>> Query(const std::string& sql,
                                 const std::vector<std::optional<std::string>>& params = {});

  bool ok() const;
  int socket() const;
  pg_conn* raw() { return conn_; }
  // Last error message from libpq, trimmed.
  std::string ErrorMessage() const;

 private:
  explicit Conn(pg_conn* c) : conn_(c) {}
  pg_conn* conn_ = nullptr;
};

// Hides the password in a connection string for logs.
std::string RedactUrl(std::string_view url);

}  // namespace pgcdc::pg
