// Embedded HTTP/1.1 server (Boost.Beast) for health, readiness, metrics and,
// later, streaming sinks (SSE, WebSocket) that share the listener.
//
// Lifecycle: construct, add routes, Start() (binds, then serves on its own
// I/O thread), Stop() (closes the listener and open connections, joins).
// Handlers run on the I/O thread and must not block.
// Beast/Asio headers stay inside http_server.cc (pimpl) to keep builds fast.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "core/error.h"

namespace pgcdc::net {

struct HttpRequest {
  std::string method;                          // "GET", "POST", ...
  std::string target;                          // raw target including the query string
  std::string path;                            // target without the query string
  std::map<std::string, std::string> query;    // decoded query parameters
  std::map<std::string, std::string> headers;  // lower-cased names
  std::string body;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::map<std::string, std::string> headers;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

// Parses "HOST:PORT", ":PORT" (all interfaces) or "[v6]:PORT".
struct ListenAddress {
  std::string host;  // empty = all interfaces
  uint16_t port = 0;
};
Result<ListenAddress> ParseListenAddress(std::string_view addr);

class HttpServer {
 public:
  explicit HttpServer(std::string name);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Exact-path route. Unknown paths answer 404; a known path with another
  // method answers 405.
  void Handle(std::string method, std::string path, HttpHandler handler);

  // Binds and starts serving. Returns the bound "host:port" (useful with
  // port 0).
  Result<std::string> Start(const ListenAddress& addr);
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pgcdc::net
