#include "adapter/encoding/registry.h"

#include <charconv>
#include <vector>

#include "core/json.h"
#include "core/metrics.h"
#include "net/http1_client.h"

namespace pgcdc::encoding {

namespace {

struct Metrics {
  metrics::Counter& registrations = metrics::DefaultCounter(
      "pgcdc_schema_registry_registrations_total",
      "Schemas registered with the schema registry (once per subject and schema per process).");
  metrics::Counter& errors = metrics::DefaultCounter(
      "pgcdc_schema_registry_errors_total",
      "Schema registry requests that failed (unreachable, refused or malformed answers).");
};
Metrics& M() { return metrics::Lazy<Metrics>(); }

// Percent-encodes everything but RFC 3986 unreserved characters.
std::string PathSegment(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

// The "id" of a {"id":N,…} answer.
std::optional<uint32_t> IdOf(std::string_view body) {
  const size_t key = body.find("\"id\"");
  if (key == std::string_view::npos) return std::nullopt;
  size_t pos = body.find(':', key);
  if (pos == std::string_view::npos) return std::nullopt;
  ++pos;
  while (pos < body.size() && body[pos] == ' ') ++pos;
  uint32_t id = 0;
  auto [p, ec] = std::from_chars(body.data() + pos, body.data() + body.size(), id);
  if (ec != std::errc()) return std::nullopt;
  return id;
}

}  // namespace

std::string SubjectFor(std::string_view channel) {
  std::string s(channel);
  for (char& c : s) {
    if (c == ':') c = '.';
  }
  return s + "-value";
}

Result<std::unique_ptr<SchemaRegistry>> SchemaRegistry::Open(RegistryOptions options) {
  auto url = net::ParseHttp1Url(options.url);
  if (!url) return Fail(ErrorCode::kConfig, "schema registry URL: " + url.error().message());
  if (url->target.find('?') != std::string::npos) {
    return Fail(ErrorCode::kConfig, "schema registry URL: no query string expected");
  }
  std::unique_ptr<SchemaRegistry> r(new SchemaRegistry());
  r->base_path_ = url->target;
  while (!r->base_path_.empty() && r->base_path_.back() == '/') r->base_path_.pop_back();
  r->host_header_ = url->host_header;
  if (!options.username.empty() || !options.password.empty()) {
    std::string b64;
    json::AppendBase64(b64, options.username + ":" + options.password);
    r->auth_header_ = "Authorization: Basic " + b64 + "\r\n";
  }
  r->conn_ =
      std::make_unique<net::Http1Connection>(*url, net::TlsOptions{.ca_file = options.ca_file});
  r->options_ = std::move(options);
  return r;
}

SchemaRegistry::~SchemaRegistry() = default;

void SchemaRegistry::Interrupt() { conn_->Interrupt(); }

Result<net::Http1Response> SchemaRegistry::Exchange(std::string_view method,
                                                    const std::string& path, std::string_view body,
                                                    const std::string& what) {
  std::string head = std::string(method) + " " + base_path_ + path +
                     " HTTP/1.1\r\nHost: " + host_header_ +
                     "\r\nAccept: application/vnd.schemaregistry.v1+json\r\n" + auth_header_;
  if (!body.empty()) {
    head += "Content-Type: application/vnd.schemaregistry.v1+json\r\nContent-Length: " +
            std::to_string(body.size()) + "\r\n";
  }
  head += "\r\n";
  const net::Http1Connection::Request req{head, body};
  std::vector<net::Http1Response> responses;
  ++requests_;
  if (auto st = conn_->Exchange(std::span(&req, 1), responses,
                                net::Http1Connection::Clock::now() + options_.timeout);
      !st) {
    M().errors.Inc();
    const ErrorCode code =
        st.error().code() == ErrorCode::kCancelled ? ErrorCode::kCancelled : ErrorCode::kConnection;
    return Fail(code, what + ": " + st.error().message());
  }
  return std::move(responses.front());
}

Result<uint32_t> SchemaRegistry::Register(const std::string& subject, const std::string& schema,
                                          std::string_view schema_type) {
  auto key = std::make_pair(subject, schema);
  if (auto it = ids_.find(key); it != ids_.end()) return it->second;
  std::string body = "{\"schema\":";
  json::AppendString(body, schema);
  body += ",\"schemaType\":";
  json::AppendString(body, schema_type);
  body += "}";
  const std::string what = "schema registry: register subject " + subject;
  auto r = Exchange("POST", "/subjects/" + PathSegment(subject) + "/versions", body, what);
  if (!r) return Fail(r.error());
  if (r->status >= 200 && r->status < 300) {
    auto id = IdOf(r->body);
    if (!id) {
      M().errors.Inc();
      return Fail(ErrorCode::kProtocol, what + ": no id in the answer: " + r->body);
    }
    ids_.emplace(std::move(key), *id);
    M().registrations.Inc();
    return *id;
  }
  M().errors.Inc();
  const ErrorCode code = r->status >= 400 && r->status < 500 && r->status != 408 && r->status != 429
                             ? ErrorCode::kInvalidArgument
                             : ErrorCode::kConnection;
  return Fail(code, what + ": HTTP " + std::to_string(r->status) + ": " + r->body);
}

Status SchemaRegistry::Check(std::string_view schema_type) {
  const std::string what = "schema registry at " + host_header_ + base_path_;
  auto r = Exchange("GET", "/schemas/types", {}, what);
  if (!r) return Fail(r.error());
  if (r->status < 200 || r->status >= 300) {
    M().errors.Inc();
    const std::string hint = r->status == 401 || r->status == 403
                                 ? " (check encoding.schema_registry_username/password)"
                             : r->status == 404 ? " (is this a Confluent Schema Registry URL?)"
                                                : "";
    return Fail(r->status >= 500 ? ErrorCode::kConnection : ErrorCode::kConfig,
                what + ": GET /schemas/types: HTTP " + std::to_string(r->status) + hint);
  }
  if (r->body.find("\"" + std::string(schema_type) + "\"") == std::string::npos) {
    return Fail(ErrorCode::kConfig, what + " does not accept " + std::string(schema_type) +
                                        " schemas (it supports " + r->body + ")");
  }
  return Ok();
}

}  // namespace pgcdc::encoding
