#include "wasm/http_host.h"

#include <algorithm>
#include <cctype>

#include "core/json.h"
#include "core/json_dom.h"
#include "core/log.h"
#include "net/http1_client.h"

namespace pgcdc::wasm {

namespace {

constexpr size_t kMaxBody = size_t{10} << 20;  // SPEC §10.1

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

bool Lower(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string Failure(std::string_view why) { return HttpResponseJson(0, why); }

}  // namespace

Result<HttpRequest> ParseHttpRequest(std::string_view json) {
  auto dom = json::ParseDom(json);
  if (!dom || !dom->is_object()) {
    return Fail(ErrorCode::kInvalidArgument, "the request is not a JSON object");
  }
  HttpRequest r;
  const auto& obj = dom->as_object();
  auto str = [&](const char* key, std::string& out) -> Status {
    const auto* v = obj.if_contains(key);
    if (v == nullptr || v->is_null()) return Ok();
    if (!v->is_string())
      return Fail(ErrorCode::kInvalidArgument, std::string(key) + ": not a string");
    out = std::string(v->as_string());
    return Ok();
  };
  for (auto [key, out] : {std::pair{"method", &r.method}, {"url", &r.url}, {"body", &r.body}}) {
    if (auto st = str(key, *out); !st) return Fail(st.error());
  }
  if (r.method.empty()) r.method = "GET";
  if (!IsToken(r.method)) return Fail(ErrorCode::kInvalidArgument, "method: not an HTTP method");
  std::transform(r.method.begin(), r.method.end(), r.method.begin(), [](char c) {
    return static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  });
  if (r.method == "HEAD" || r.method == "CONNECT") {
    return Fail(ErrorCode::kInvalidArgument, "method " + r.method + " is not supported");
  }
  if (r.url.empty()) return Fail(ErrorCode::kInvalidArgument, "url: required");
  const auto* h = obj.if_contains("headers");
  if (h == nullptr) h = obj.if_contains("header");  // Extism's hosts accept both
  if (h != nullptr && !h->is_null()) {
    if (!h->is_object()) return Fail(ErrorCode::kInvalidArgument, "headers: not an object");
    for (const auto& kv : h->as_object()) {
      const std::string name(kv.key());
      if (!IsToken(name) || !kv.value().is_string()) {
        return Fail(ErrorCode::kInvalidArgument, "headers: " + name + " is not a header");
      }
      std::string value(kv.value().as_string());
      if (value.find_first_of("\r\n") != std::string::npos) {
        return Fail(ErrorCode::kInvalidArgument, "headers: " + name + " holds a line break");
      }
      for (const char* own : {"host", "content-length", "transfer-encoding", "connection"}) {
        if (Lower(name, own)) {
          return Fail(ErrorCode::kInvalidArgument, "headers: " + name + " is set by pgcdc");
        }
      }
      r.headers.emplace_back(name, std::move(value));
    }
  }
  return r;
}

bool HttpAllowed(std::string_view url, const std::vector<std::string>& allow) {
  auto u = net::ParseHttp1Url(url);
  if (!u) return false;
  for (const auto& origin : allow) {
    if (origin == "*") return true;
    auto o = net::ParseHttp1Url(origin);
    if (o && o->tls == u->tls && o->port == u->port && Lower(o->host, u->host) &&
        (o->target == "/" || u->target.starts_with(o->target))) {
      return true;
    }
  }
  return false;
}

std::string HttpResponseJson(int status, std::string_view body) {
  std::string out;
  json::Writer w(out);
  w.BeginObject();
  w.IntField("status", status);
  w.Key("headers");
  w.BeginObject();
  w.EndObject();
  // A JSON string must be valid UTF-8: other bytes are replaced (U+FFFD).
  if (json::IsValidUtf8(body)) {
    w.StringField("body", body);
  } else {
    std::string clean;
    for (size_t i = 0; i < body.size();) {
      const size_t n = json::Utf8Length(body, i);
      if (n == 0) {
        clean += "\xEF\xBF\xBD";
        ++i;
      } else {
        clean.append(body.substr(i, n));
        i += n;
      }
    }
    w.StringField("body", clean);
  }
  w.EndObject();
  return out;
}

HttpCall MakeHttpHost(std::vector<std::string> allow, std::chrono::milliseconds timeout) {
  return [allow = std::move(allow), timeout](const HttpRequest& req) -> HttpReply {
    if (!HttpAllowed(req.url, allow)) {
      return {.body = req.url + " is not allowed (plugins.http_allow / --plugin-http-allow)"};
    }
    auto url = net::ParseHttp1Url(req.url);
    if (!url) return {.body = url.error().message()};
    std::string head =
        req.method + " " + url->target + " HTTP/1.1\r\nHost: " + url->host_header +
        "\r\nConnection: close\r\nContent-Length: " + std::to_string(req.body.size()) + "\r\n";
    for (const auto& [k, v] : req.headers) head += k + ": " + v + "\r\n";
    head += "\r\n";
    net::Http1Connection conn(*url, net::Http1TlsOptions{}, kMaxBody);
    const net::Http1Connection::Request one{.head = head, .body = req.body};
    std::vector<net::Http1Response> responses;
    auto st =
        conn.Exchange(std::span(&one, 1), responses, std::chrono::steady_clock::now() + timeout);
    if (!st || responses.empty()) {
      return {.body = st ? std::string("no response") : st.error().message()};
    }
    return {.status = responses.front().status, .body = std::move(responses.front().body)};
  };
}

std::string HttpJsonCall(const HttpCall& call, std::string_view request_json) {
  auto req = ParseHttpRequest(request_json);
  if (!req) return Failure("pgcdc_http_request: " + req.error().message());
  HttpReply reply = call(*req);
  if (reply.status == 0) return Failure("pgcdc_http_request: " + reply.body);
  return HttpResponseJson(reply.status, reply.body);
}

}  // namespace pgcdc::wasm
