#include "adapter/clickhouse/clickhouse_protocol.h"

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <charconv>
#include <set>

#include "core/escape.h"
#include "core/json.h"
#include "core/json_dom.h"
#include "net/server_url.h"

namespace pgcdc::adapter::clickhouse {

namespace {

Error Bad(std::string why) {
  return Error(ErrorCode::kConfig, "clickhouse.dsn: " + std::move(why));
}

constexpr std::string_view kHttpForm = "http://user:password@host:8123/database";

// A DSN of the native protocol: the message names the HTTP URL to use.
Error NativeDsn(const net::ServerUrl& u) {
  std::string suggestion = "http://";
  if (u.has_user_info) suggestion += (u.user.empty() ? "default" : u.user) + ":xxx@";
  suggestion += (u.host.find(':') != std::string::npos ? "[" + u.host + "]" : u.host) + ":8123";
  if (!u.path.empty()) suggestion += "/" + u.path;
  return Bad("the " + u.scheme +
             ":// DSN is ClickHouse's native TCP protocol (port 9000), which pgcdc does not "
             "speak: pgcdc writes through ClickHouse's HTTP interface only; use " +
             suggestion + " (https://…:8443 for TLS)");
}

bool HasControl(std::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

bool IsSettingName(std::string_view key) {
  return !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

}  // namespace

Result<Dsn> ParseDsn(std::string_view text) {
  if (text.empty()) return Fail(Bad("required (" + std::string(kHttpForm) + ")"));
  if (text.find_first_of("?#") != std::string_view::npos) {
    return Fail(Bad("query parameters are not supported: put the database in the path (" +
                    std::string(kHttpForm) +
                    ") and settings in clickhouse.settings "
                    "(--clickhouse-setting k=v)"));
  }
  auto u = net::ParseServerUrl(text);
  if (!u) return Fail(Bad(u.error().message() + " (expected " + std::string(kHttpForm) + ")"));
  if (u->scheme == "clickhouse" || u->scheme == "clickhouses" || u->scheme == "tcp") {
    return Fail(NativeDsn(*u));
  }
  if (u->scheme != "http" && u->scheme != "https") {
    return Fail(Bad("unsupported scheme \"" + u->scheme + "://\" (expected http:// or https://, " +
                    std::string(kHttpForm) + ")"));
  }
  Dsn dsn;
  dsn.url.tls = u->scheme == "https";
  dsn.url.host = u->host;
  dsn.url.port = u->port.value_or(dsn.url.tls ? 8443 : 8123);
  dsn.url.target = "/";
  const bool v6 = u->host.find(':') != std::string::npos;
  dsn.url.host_header = (v6 ? "[" + u->host + "]" : u->host) + ":" + std::to_string(dsn.url.port);
  if (u->lone_secret) {
    return Fail(Bad("write the credentials as user:password@ (a lone \"" +
                    std::string(u->password.empty() ? "" : "xxx") + "@\" is ambiguous)"));
  }
  dsn.user = u->user;
  dsn.password = u->password;
  if (HasControl(dsn.user) || HasControl(dsn.password)) {
    return Fail(Bad("the user or password contains a control character"));
  }
  std::string db = u->path;
  while (db.ends_with('/')) db.pop_back();
  if (db.find_first_of("/%") != std::string::npos || HasControl(db)) {
    return Fail(Bad("the path must be one database name (" + std::string(kHttpForm) + ")"));
  }
  if (!db.empty()) dsn.database = db;
  dsn.redacted = net::RedactServerUrl(text);
  return dsn;
}

std::string QuoteIdentifier(std::string_view name) {
  std::string out = "\"";
  for (const char c : name) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (const char letter = EscapeLetter(c); letter != 0) {
      out.push_back('\\');
      out.push_back(letter);
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      const auto u = static_cast<unsigned char>(c);
      out += "\\x";
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

std::string QualifiedTable(std::string_view database, std::string_view table) {
  return QuoteIdentifier(database) + "." + QuoteIdentifier(table);
}

std::string CreateTableStatement(std::string_view database, std::string_view table) {
  return "CREATE TABLE IF NOT EXISTS " + QualifiedTable(database, table) +
         " (\"id\" String, \"channel\" LowCardinality(String), \"operation\" "
         "LowCardinality(String), \"source\" LowCardinality(String), \"payload\" String, \"lsn\" "
         "UInt64, \"created_at\" DateTime64(3), \"_version\" UInt64) ENGINE = "
         "ReplacingMergeTree(_version) ORDER BY (channel, id)";
}

std::string InsertStatement(std::string_view database, std::string_view table) {
  std::string out = "INSERT INTO " + QualifiedTable(database, table) + " (";
  for (size_t i = 0; i < std::size(kColumns); ++i) {
    if (i > 0) out += ", ";
    out += QuoteIdentifier(kColumns[i]);
  }
  out += ") FORMAT JSONEachRow";
  return out;
}

std::string_view ColumnsQuery() {
  return "SELECT name, type FROM system.columns WHERE database = {db:String} AND table = "
         "{tbl:String} FORMAT JSONEachRow";
}

std::map<std::string, std::string> ColumnsQueryParams(std::string_view database,
                                                      std::string_view table) {
  return {{"param_db", std::string(database)}, {"param_tbl", std::string(table)}};
}

std::vector<std::string> ParseColumnNames(std::string_view body) {
  std::vector<std::string> out;
  while (!body.empty()) {
    const size_t nl = std::min(body.find('\n'), body.size());
    const std::string_view line = body.substr(0, nl);
    body.remove_prefix(std::min(nl + 1, body.size()));
    auto v = json::ParseDom(line);
    if (!v || !v->is_object()) continue;
    const auto* name = v->as_object().if_contains("name");
    if (name != nullptr && name->is_string()) out.emplace_back(name->as_string());
  }
  return out;
}

void AppendRow(const Event& event, uint64_t version_ms, std::string& out) {
  json::Writer w(out);
  w.BeginObject();
  w.Key("id");
  std::string id;
  event.id.AppendTo(id);
  w.String(id);
  w.StringField("channel", event.channel);
  w.StringField("operation", event.operation);
  w.StringField("source", event.source);
  w.StringField("payload", event.payload);
  w.UintField("lsn", event.lsn);
  w.IntField("created_at", event.created_at_ns / 1'000'000);
  w.UintField("_version", version_ms);
  w.EndObject();
  out.push_back('\n');
}

std::vector<size_t> FirstOccurrences(std::span<const Uuid> ids) {
  std::set<Uuid> seen;
  std::vector<size_t> keep;
  keep.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    if (seen.insert(ids[i]).second) keep.push_back(i);
  }
  return keep;
}

Result<std::map<std::string, std::string>> MergeSettings(
    bool async_insert, const std::map<std::string, std::vector<std::string>>& user) {
  std::map<std::string, std::string> out;
  if (async_insert) {
    out["async_insert"] = "1";
    out["wait_for_async_insert"] = "1";
  }
  for (const auto& [key, values] : user) {
    if (!IsSettingName(key)) {
      return Fail(ErrorCode::kConfig, "clickhouse.settings: \"" + key +
                                          "\" is not a setting name (letters, digits and _)");
    }
    if (key == "query" || key == "database" || key == "user" || key == "password" ||
        key.starts_with("param_")) {
      return Fail(ErrorCode::kConfig, "clickhouse.settings: \"" + key +
                                          "\" is set by pgcdc itself (DSN, table) and cannot be "
                                          "given as a setting");
    }
    std::string joined;
    for (const auto& v : values) joined += (joined.empty() ? "" : ",") + v;
    out[key] = std::move(joined);
  }
  return out;
}

std::string Target(std::string_view query, const std::map<std::string, std::string>& params) {
  std::string out = "/?query=" + PercentEncode(query);
  for (const auto& [k, v] : params) out += "&" + PercentEncode(k) + "=" + PercentEncode(v);
  return out;
}

std::string RequestHead(const Dsn& dsn, std::string_view target, size_t body_size) {
  std::string head;
  head.reserve(200 + target.size());
  head.append("POST ").append(target).append(" HTTP/1.1\r\nHost: ");
  head.append(dsn.url.host_header).append("\r\nUser-Agent: pgcdc\r\n");
  if (!dsn.user.empty()) head.append("X-ClickHouse-User: ").append(dsn.user).append("\r\n");
  if (!dsn.password.empty()) head.append("X-ClickHouse-Key: ").append(dsn.password).append("\r\n");
  head.append("Content-Type: text/plain; charset=utf-8\r\nContent-Length: ")
      .append(std::to_string(body_size))
      .append("\r\n\r\n");
  return head;
}

std::string PingHead(const Dsn& dsn) {
  return "GET /ping HTTP/1.1\r\nHost: " + dsn.url.host_header + "\r\nUser-Agent: pgcdc\r\n\r\n";
}

namespace {

// Exception codes (ClickHouse's src/Common/ErrorCodes.cpp) that mean the
// rows themselves were refused: the batch is split to find them.
constexpr std::array kDataCodes = {6,  25,  26,  27,  32,  33,  38,  41,  53,  69, 70,
                                   72, 117, 130, 131, 321, 349, 376, 441, 469, 691};
// Credentials and rights.
constexpr std::array kAuthCodes = {192, 193, 194, 195, 291, 497, 516};
// The table, a column or the statement is wrong: no row can succeed.
constexpr std::array kStatementCodes = {8,  10, 16,  46,  47,  50,  60,  62,
                                        73, 81, 115, 164, 167, 168, 223, 229};

template <size_t N>
bool In(const std::array<int, N>& codes, int code) {
  return std::find(codes.begin(), codes.end(), code) != codes.end();
}

int ParseCode(std::string_view body) {
  while (!body.empty() && (body.front() == ' ' || body.front() == '\n')) body.remove_prefix(1);
  if (!body.starts_with("Code: ")) return 0;
  body.remove_prefix(6);
  int code = 0;
  auto [p, ec] = std::from_chars(body.data(), body.data() + body.size(), code);
  return ec == std::errc() ? code : 0;
}

std::string Message(int status, std::string_view body) {
  constexpr size_t kMax = 2000;
  std::string out;
  for (const char c : body.substr(0, kMax)) out.push_back(c == '\n' || c == '\r' ? ' ' : c);
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (body.size() > kMax) out += "…";
  if (out.empty()) out = "HTTP " + std::to_string(status);
  return out;
}

Verdict VerdictFor(int status, int code) {
  const bool success = status >= 200 && status < 300;
  if (success && code == 0) return Verdict::kOk;
  // An exception after a 200 (ClickHouse had started the answer): a server error.
  if (success) status = 500;
  if (In(kDataCodes, code)) return Verdict::kReject;
  const bool operator_error =
      In(kAuthCodes, code) || In(kStatementCodes, code) || status == 401 || status == 403;
  if (operator_error) return Verdict::kFatal;
  if (status == 408 || status == 429 || status >= 500) return Verdict::kRetry;
  return status == 400 ? Verdict::kReject : Verdict::kFatal;
}

}  // namespace

Answer Classify(int status, std::string_view body) {
  Answer a;
  a.code = ParseCode(body);
  a.message = Message(status, body);
  a.verdict = VerdictFor(status, a.code);
  return a;
}

}  // namespace pgcdc::adapter::clickhouse
