// Embedded HTTP/1.1 server (Boost.Beast) for health, readiness, metrics and
// streaming sinks (SSE, WebSocket) that share the listener.
//
// Lifecycle: construct, add routes, Start() (binds, then serves on its own
// I/O thread), Stop() (closes the listener and open connections, ends every
// stream with a bounded linger, joins). Handlers run on the I/O thread and
// must not block.
// Beast/Asio headers stay inside http_server.cc (pimpl) to keep builds fast.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "net/stream.h"

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

// Per-route settings.
struct RouteOptions {
  // Served without HttpServerOptions::auth (health probes; routes that check
  // their own credentials, e.g. a webhook gateway verifying signatures).
  bool public_route = false;
};

// A deferred answer: a handler that must not block the I/O thread (it waits
// for other threads, e.g. the webhook gateway until its sinks delivered)
// keeps the reply and calls it once, from any thread. The connection reads
// no further request until then. A reply after Stop() is dropped.
using HttpReply = std::function<void(HttpResponse)>;
using AsyncHttpHandler = std::function<void(HttpRequest&&, HttpReply)>;

// A stream route's decision for one request: accept (StreamSpec) or refuse
// with a normal response (e.g. 400 for a bad filter). Runs on the I/O thread.
struct StreamDecision {
  bool accept = false;
  StreamSpec spec;        // when accept
  HttpResponse response;  // when !accept
  static StreamDecision Accept(StreamSpec s) {
    StreamDecision d;
    d.accept = true;
    d.spec = std::move(s);
    return d;
  }
  static StreamDecision Refuse(HttpResponse r) {
    StreamDecision d;
    d.response = std::move(r);
    return d;
  }
};
using StreamHandler = std::function<StreamDecision(const HttpRequest&)>;

// Credentials every non-public route asks for (RouteOptions::public_route).
// Nothing set = no authentication. A bearer token is checked against
// "Authorization: Bearer <token>"; basic credentials against
// "Authorization: Basic"; with only a token, Basic with any user name and
// the token as the password is accepted too (so a browser can log in to the
// console). Comparisons are constant-time.
struct HttpAuth {
  std::string bearer_token;
  std::string basic_user;
  std::string basic_password;
  bool enabled() const { return !bearer_token.empty() || !basic_user.empty(); }
};

// Whether `authorization` (the header's value, may be empty) satisfies `auth`.
bool HttpAuthorized(const HttpAuth& auth, std::string_view authorization);
// Whether a Host header names this machine's loopback interface
// ("localhost", "*.localhost", 127.x.y.z, [::1]; any port).
bool IsLoopbackHost(std::string_view host_header);

// A WebSocket upgrade's Origin is acceptable: absent (not a browser), the
// server's own (scheme://Host) or listed in `origins` ("*" = any). Browsers
// do not apply CORS to WebSockets, so this check is what keeps other sites'
// pages out.
bool WebSocketOriginAllowed(const std::vector<std::string>& origins, const HttpRequest& req);

struct HttpServerOptions {
  // Open connections (plain and streams). When full, the oldest connection
  // that is waiting for a request is closed to make room; when none is
  // waiting, the new connection is closed. 0 = unlimited.
  size_t max_connections = 1024;
  // Request line + headers, and request body caps (431 / 413).
  size_t max_header_bytes = 16 * 1024;
  size_t max_body_bytes = 1 << 20;
  // A request must arrive completely within this time (from the connection's
  // accept, or from its first byte on a kept-alive connection): slow-loris.
  std::chrono::milliseconds read_timeout{std::chrono::seconds(10)};
  // A kept-alive connection waits this long for its next request.
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(60)};
  // Bytes queued for one stream beyond which Push() reports kFull (the
  // owner then disconnects the slow consumer). 0 = no byte cap.
  size_t stream_max_buffered_bytes = 16u << 20;
  HttpAuth auth;
  // TLS (>= 1.2) with this PEM certificate chain and key when both are set.
  std::string tls_cert_file;
  std::string tls_key_file;
  // When listening on a loopback address, refuse (403) requests whose Host
  // header is not a loopback name: a page on another site that rebinds its
  // DNS name to 127.0.0.1 cannot read the endpoints.
  bool loopback_host_check = true;
  // A stream write that makes no progress for this long ends the stream as a
  // slow client.
  std::chrono::milliseconds stream_write_timeout{std::chrono::seconds(30)};
  // Upper bound for ending a stream (flush queued frames, close handshake);
  // Stop() waits at most about this long for streams.
  std::chrono::milliseconds close_linger{std::chrono::seconds(1)};
  // SO_SNDBUF for stream sockets (0 = kernel default, which autotunes up to
  // net.ipv4.tcp_wmem max, 4 MiB). Bounding it caps kernel memory per client
  // and lets a stalled client's own queue fill, so it is detected as slow.
  int stream_send_buffer = 128 * 1024;
  // Largest client WebSocket frame accepted (client messages are ignored).
  size_t ws_max_client_frame = 64 * 1024;
};

// Parses "HOST:PORT", ":PORT" (all interfaces) or "[v6]:PORT".
struct ListenAddress {
  std::string host;  // empty = all interfaces
  uint16_t port = 0;
};
Result<ListenAddress> ParseListenAddress(std::string_view addr);

class HttpServer {
 public:
  explicit HttpServer(std::string name, HttpServerOptions options = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Exact-path route. Unknown paths answer 404; a known path with another
  // method answers 405.
  void Handle(std::string method, std::string path, HttpHandler handler, RouteOptions route = {});
  // Route for every path that starts with `prefix` (e.g. "/events/"). Exact
  // routes win; among prefixes the longest wins.
  void HandlePrefix(std::string method, std::string prefix, HttpHandler handler,
                    RouteOptions route = {});
  // A prefix route answered later through its HttpReply (see AsyncHttpHandler).
  void HandlePrefixAsync(std::string method, std::string prefix, AsyncHttpHandler handler,
                         RouteOptions route = {});

  // Raises the largest request body accepted (HttpServerOptions::max_body_bytes) to `bytes`
  // for every route; never lowers it. Larger bodies are answered 413.
  void RaiseBodyLimit(uint64_t bytes);
  // Called (on the I/O thread) with the path of every request the server
  // refused itself with 413 because its body was too large, before any
  // handler saw it (a route's owner counts those).
  void OnBodyTooLarge(std::function<void(const std::string& path)> observer);

  // GET on `path` (or any path under it when `prefix`) opens a Server-Sent
  // Events stream (text/event-stream, chunked) or a WebSocket. A WebSocket
  // route answers 426 to a GET without an upgrade. Streams are refused with
  // 503 once Stop() has begun. May be added before or after Start().
  // A route is public when any registration of its path says so.
  // Unauthenticated requests to other routes get 401 with WWW-Authenticate;
  // an OPTIONS request to a route with an OPTIONS handler (CORS preflight)
  // needs no credentials.
  void HandleEventStream(std::string path, StreamHandler handler, bool prefix = false,
                         RouteOptions route = {});
  void HandleWebSocket(std::string path, StreamHandler handler, bool prefix = false,
                       RouteOptions route = {});

  // Binds and starts serving. Returns the bound "host:port" (useful with
  // port 0).
  Result<std::string> Start(const ListenAddress& addr);
  void Stop();

  // Open streams (SSE + WebSocket), for tests and diagnostics.
  size_t StreamCount() const;
  // Registered exact and prefix routes (an owner can tell whether anyone
  // mounted something after its own routes).
  size_t RouteCount() const;
  // Open connections (plain and streams).
  size_t ConnectionCount() const;
  const HttpServerOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pgcdc::net
