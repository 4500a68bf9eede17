// HTTP for plugins, in two forms over one client:
//
// pgcdc_http_request (SPEC §10.1): a plugin sends
//   {"method": "GET", "url": "...", "headers": {"k": "v"}, "body": "..."}
// and gets back
//   {"status": 200, "headers": {}, "body": "..."}
// or, when the request cannot be made (refused URL, connection error,
// timeout), {"status": 0, "body": "<why>"}. Bodies are JSON strings: bytes
// that are not UTF-8 are replaced by U+FFFD.
//
// Extism's http_request(request, body) -> body: the same request JSON without
// "body", the body as raw bytes, the response body as raw bytes and its
// status from http_status_code() (binary-safe).
//
// What a plugin can reach is an allow-list of origins (scheme://host[:port],
// `plugins.http_allow`); nothing by default. Requests use net's HTTP/1.1
// client (one connection per request, "Connection: close"), time out after
// `timeout`, keep at most 10 MiB of the response body and never follow
// redirects. Response headers are not passed on (always {}; Extism's
// http_headers() gives 0, as Extism does when they are not enabled).
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace pgcdc::wasm {

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// Parses and checks a request JSON (method a token, header names tokens and
// values without CR/LF).
Result<HttpRequest> ParseHttpRequest(std::string_view json);

// True when `url` (absolute http/https) is under one of `allow`'s origins
// ("*" allows everything). Scheme and host compare case-insensitively; the
// port defaults to 80/443.
bool HttpAllowed(std::string_view url, const std::vector<std::string>& allow);

// {"status":N,"headers":{},"body":"..."}
std::string HttpResponseJson(int status, std::string_view body);

// An answer, or status 0 with the reason in `body` when nothing was answered
// (not allowed, connection error, timeout).
struct HttpReply {
  int status = 0;
  std::string body;
};
using HttpCall = std::function<HttpReply(const HttpRequest&)>;

// The PluginOptions::http function for `allow` and `timeout`.
HttpCall MakeHttpHost(std::vector<std::string> allow, std::chrono::milliseconds timeout);

// pgcdc_http_request: the request JSON through `call`, the response JSON back.
std::string HttpJsonCall(const HttpCall& call, std::string_view request_json);

}  // namespace pgcdc::wasm
