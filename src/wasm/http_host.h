// pgcdc_http_request (SPEC §10.1): a plugin sends
//   {"method": "GET", "url": "...", "headers": {"k": "v"}, "body": "..."}
// and gets back
//   {"status": 200, "headers": {}, "body": "..."}
// or, when the request cannot be made (refused URL, connection error,
// timeout), {"status": 0, "body": "<why>"}.
//
// What a plugin can reach is an allow-list of origins (scheme://host[:port],
// `plugins.http_allow`); nothing by default. Requests use net's HTTP/1.1
// client (one connection per request, "Connection: close"), time out after
// `timeout`, keep at most 10 MiB of the response body and never follow
// redirects. Response headers are not passed on (always {}).
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

// The PluginOptions::http function for `allow` and `timeout`.
std::function<std::string(std::string_view)> MakeHttpHost(std::vector<std::string> allow,
                                                          std::chrono::milliseconds timeout);

}  // namespace pgcdc::wasm
