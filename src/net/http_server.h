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

struct HttpServerOptions {
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
  void Handle(std::string method, std::string path, HttpHandler handler);
  // Route for every path that starts with `prefix` (e.g. "/events/"). Exact
  // routes win; among prefixes the longest wins.
  void HandlePrefix(std::string method, std::string prefix, HttpHandler handler);
  // A prefix route answered later through its HttpReply (see AsyncHttpHandler).
  void HandlePrefixAsync(std::string method, std::string prefix, AsyncHttpHandler handler);

  // Raises the largest request body accepted (default 1 MiB) to `bytes`
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
  void HandleEventStream(std::string path, StreamHandler handler, bool prefix = false);
  void HandleWebSocket(std::string path, StreamHandler handler, bool prefix = false);

  // Binds and starts serving. Returns the bound "host:port" (useful with
  // port 0).
  Result<std::string> Start(const ListenAddress& addr);
  void Stop();

  // Open streams (SSE + WebSocket), for tests and diagnostics.
  size_t StreamCount() const;
  // Registered exact and prefix routes (an owner can tell whether anyone
  // mounted something after its own routes).
  size_t RouteCount() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pgcdc::net
