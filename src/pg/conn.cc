#include "pg/conn.h"

#include <libpq-fe.h>

#include <regex>

#include "core/log.h"

namespace pgcdc::pg {

namespace {

// `text` between `quote` characters, each `quote` inside doubled: SQL's rule
// for identifiers and for string literals alike.
std::string QuoteDoubling(std::string_view text, char quote) {
  std::string out(1, quote);
  for (char c : text) {
    if (c == quote) out.push_back(quote);
    out.push_back(c);
  }
  out.push_back(quote);
  return out;
}

}  // namespace

std::string QuoteIdentifier(std::string_view name) { return QuoteDoubling(name, '"'); }

std::string QuoteLiteral(std::string_view value) { return QuoteDoubling(value, '\''); }

std::string TrimMessage(const char* msg) {
  std::string s = msg == nullptr ? "" : msg;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

void AppendRows(const PGresult* r, std::vector<Row>& rows) {
  const int n = PQntuples(r), m = PQnfields(r);
  rows.reserve(rows.size() + n);
  for (int i = 0; i < n; ++i) {
    Row row;
    row.reserve(m);
    for (int j = 0; j < m; ++j) {
      if (PQgetisnull(r, i, j)) {
        row.emplace_back(std::nullopt);
      } else {
        row.emplace_back(std::string(PQgetvalue(r, i, j), PQgetlength(r, i, j)));
      }
    }
    rows.push_back(std::move(row));
  }
}

Result<PGconn*> ConnectRaw(const std::string& url, std::string_view what,
                           const ConnSettings& defaults, const ConnSettings& overrides) {
  // The expanded dbname overrides what comes before it, not what follows.
  std::vector<const char*> keys = {"keepalives", "keepalives_idle", "keepalives_interval",
                                   "keepalives_count"};
  std::vector<const char*> values = {"1", "30", "10", "3"};
  auto add = [&](const ConnSettings& settings) {
    for (const auto& [k, v] : settings) {
      keys.push_back(k);
      values.push_back(v);
    }
  };
  add(defaults);
  keys.push_back("dbname");
  values.push_back(url.c_str());
  add(overrides);
  keys.push_back(nullptr);
  values.push_back(nullptr);
  PGconn* c = PQconnectdbParams(keys.data(), values.data(), /*expand_dbname=*/1);
  if (c == nullptr) return Fail(ErrorCode::kConnection, std::string(what) + ": out of memory");
  if (PQstatus(c) != CONNECTION_OK) {
    std::string msg = TrimMessage(PQerrorMessage(c));
    PQfinish(c);
    return Fail(ErrorCode::kConnection, std::string(what) + ": " + msg);
  }
  return c;
}

namespace {

// Server NOTICE/WARNING messages go to the structured log instead of raw stderr.
void LogNotice(void*, const char* message) {
  log::Debug("postgres notice", {{"message", TrimMessage(message)}});
}
}  // namespace

Result<Conn> Conn::Open(const std::string& url) {
  // A connect timeout bounds a connection attempt to a host that silently
  // drops packets; settings in `url` win.
  auto c = ConnectRaw(url, "connect", {{"connect_timeout", "10"}});
  if (!c) return Fail(c.error());
  PQsetNoticeProcessor(*c, LogNotice, nullptr);
  return Conn(*c);
}

Conn::Conn(Conn&& other) noexcept : conn_(other.conn_) { other.conn_ = nullptr; }
Conn& Conn::operator=(Conn&& other) noexcept {
  if (this != &other) {
    if (conn_ != nullptr) PQfinish(conn_);
    conn_ = other.conn_;
    other.conn_ = nullptr;
  }
  return *this;
}
Conn::~Conn() {
  if (conn_ != nullptr) PQfinish(conn_);
}

bool Conn::ok() const { return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK; }
int Conn::socket() const { return conn_ == nullptr ? -1 : PQsocket(conn_); }
std::string Conn::ErrorMessage() const {
  return conn_ == nullptr ? "not connected" : TrimMessage(PQerrorMessage(conn_));
}

Status Conn::Exec(const std::string& sql) {
  if (conn_ == nullptr) return Fail(ErrorCode::kConnection, "not connected");
  PGresult* r = PQexec(conn_, sql.c_str());
  const auto st = PQresultStatus(r);
  std::string err =
      st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK
          ? std::string()
          : TrimMessage(r != nullptr ? PQresultErrorMessage(r) : PQerrorMessage(conn_));
  PQclear(r);
  if (!err.empty() || st == PGRES_FATAL_ERROR) {
    return Fail(ok() ? ErrorCode::kInvalidArgument : ErrorCode::kConnection, err);
  }
  return Ok();
}

Result<std::vector<Row>> Conn::Query(const std::string& sql,
                                     const std::vector<std::optional<std::string>>& params) {
  if (conn_ == nullptr) return Fail(ErrorCode::kConnection, "not connected");
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  PGresult* r = PQexecParams(conn_, sql.c_str(), static_cast<int>(params.size()), nullptr,
                             values.data(), nullptr, nullptr, 0);
  const auto st = PQresultStatus(r);
  if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
    std::string err = TrimMessage(r != nullptr ? PQresultErrorMessage(r) : PQerrorMessage(conn_));
    PQclear(r);
    return Fail(ok() ? ErrorCode::kInvalidArgument : ErrorCode::kConnection, err);
  }
  std::vector<Row> rows;
  AppendRows(r, rows);
  PQclear(r);
  return rows;
}

std::string RedactUrl(std::string_view url) {
  static const std::regex uri_password(R"(^([a-z]+://[^:/@]*:)[^@]*@)");
  static const std::regex kv_password(R"((password\s*=\s*)('[^']*'|\S+))");
  std::string s(url);
  s = std::regex_replace(s, uri_password, "$1***@");
  s = std::regex_replace(s, kv_password, "$1***");
  return s;
}

}  // namespace pgcdc::pg
