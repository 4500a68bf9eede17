#include "adapter/encoding/registry.h"

#include <charconv>
#include <vector>

#include "core/json.h"
#include "net/http1_client.h"

namespace pgcdc::encoding {

namespace {

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

Result<uint32_t> SchemaRegistry::Register(const std::string& subject, const std::string& schema,
                                          std::string_view schema_type) {
  auto key = std::make_pair(subject, schema);
  if (auto it = ids_.find(key); it != ids_.end()) return it->second;
  std::string body = "{\"schema\":";
  json::AppendString(body, schema);
  body += ",\"schemaType\":";
  json::AppendString(body, schema_type);
  body += "}";
  const std::string head = "POST " + base_path_ + "/subjects/" + PathSegment(subject) +
                           "/versions HTTP/1.1\r\nHost: " + host_header_ +
                           "\r\nContent-Type: application/vnd.schemaregistry.v1+json\r\n"
                           "Accept: application/vnd.schemaregistry.v1+json\r\n" +
                           auth_header_ + "Content-Length: " + std::to_string(body.size()) +
                           "\r\n\r\n";
  const net::Http1Connection::Request req{head, body};
  std::vector<net::Http1Response> responses;
  ++requests_;
  const std::string what = "schema registry: register subject " + subject;
  if (auto st = conn_->Exchange(std::span(&req, 1), responses,
                                net::Http1Connection::Clock::now() + options_.timeout);
      !st) {
    const ErrorCode code =
        st.error().code() == ErrorCode::kCancelled ? ErrorCode::kCancelled : ErrorCode::kConnection;
    return Fail(code, what + ": " + st.error().message());
  }
  const net::Http1Response& r = responses.front();
  if (r.status >= 200 && r.status < 300) {
    auto id = IdOf(r.body);
    if (!id) return Fail(ErrorCode::kProtocol, what + ": no id in the answer: " + r.body);
    ids_.emplace(std::move(key), *id);
    return *id;
  }
  const ErrorCode code = r.status >= 400 && r.status < 500 && r.status != 408 && r.status != 429
                             ? ErrorCode::kInvalidArgument
                             : ErrorCode::kConnection;
  return Fail(code, what + ": HTTP " + std::to_string(r.status) + ": " + r.body);
}

}  // namespace pgcdc::encoding
