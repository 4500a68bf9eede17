#include "schema/http.h"

#include <charconv>
#include <optional>
#include <string>
#include <string_view>

#include "core/json.h"
#include "net/http_server.h"
#include "schema/store.h"

namespace pgcdc::schema {

namespace {

constexpr std::string_view kRoot = "/api/v1/schemas";
constexpr std::string_view kVersions = "/versions/";

net::HttpResponse JsonError(int status, std::string_view message) {
  net::HttpResponse r;
  r.status = status;
  std::string body;
  json::Writer w(body);
  w.BeginObject();
  w.StringField("error", message);
  w.EndObject();
  r.body = std::move(body);
  return r;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX escapes of a path segment ("public.my%20table"); nullopt when malformed.
std::optional<std::string> DecodeSegment(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    const int hi = HexValue(s[i + 1]);
    const int lo = HexValue(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

net::HttpResponse VersionResponse(const Result<std::optional<Version>>& v,
                                  const std::string& subject) {
  if (!v) return JsonError(500, v.error().message());
  if (!v->has_value()) return JsonError(404, "unknown schema subject or version: " + subject);
  net::HttpResponse r;
  r.body = VersionJson(**v);
  return r;
}

net::HttpResponse List(Store& store) {
  auto subjects = store.Subjects();
  if (!subjects) return JsonError(500, subjects.error().message());
  std::string body;
  json::Writer w(body);
  w.BeginObject();
  w.StringField("store", store.type());
  w.Key("subjects");
  w.BeginArray();
  for (const auto& s : *subjects) {
    w.BeginObject();
    w.StringField("subject", s.subject);
    w.IntField("latest_version", s.latest_version);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  net::HttpResponse r;
  r.body = std::move(body);
  return r;
}

// <subject> or <subject>/versions/<n> (the path after "/api/v1/schemas/").
net::HttpResponse One(Store& store, std::string_view rest) {
  std::string_view subject_part = rest;
  std::optional<int> version;
  if (size_t pos = rest.find(kVersions); pos != std::string_view::npos) {
    subject_part = rest.substr(0, pos);
    const std::string_view n = rest.substr(pos + kVersions.size());
    int parsed = 0;
    auto [end, ec] = std::from_chars(n.data(), n.data() + n.size(), parsed);
    if (ec != std::errc() || end != n.data() + n.size() || parsed < 1) {
      return JsonError(400, "version must be a positive integer");
    }
    version = parsed;
  }
  auto subject = DecodeSegment(subject_part);
  if (!subject || subject->empty() || subject->find('/') != std::string::npos) {
    return JsonError(404, "no such schema resource");
  }
  if (version) return VersionResponse(store.Get(*subject, *version), *subject);
  return VersionResponse(store.Latest(*subject), *subject);
}

}  // namespace

void MountApi(net::HttpServer& server, const std::shared_ptr<Store>& store) {
  server.Handle("GET", std::string(kRoot),
                [store](const net::HttpRequest&) { return List(*store); });
  server.HandlePrefix("GET", std::string(kRoot) + "/", [store](const net::HttpRequest& req) {
    return One(*store, std::string_view(req.path).substr(kRoot.size() + 1));
  });
}

}  // namespace pgcdc::schema
