// Boost.Beast implementation of HttpServer.
//
// Threading: one io_context driven by one dedicated thread. Everything that
// touches the acceptor or a connection runs on that thread; Start()/Stop()
// talk to it through asio::post. Routes are guarded by a mutex so Handle()
// may be called at any time.
//
// Connection lifecycle (Session): read one request (with header/body limits
// and an idle/read timeout) -> dispatch -> write the response -> either read
// the next request (keep-alive) or shut the connection down. The server keeps
// weak references to live sessions so Stop() can close them.
//
// Streaming: when a request resolves to a stream route (SSE, or a WebSocket
// upgrade), the Session writes nothing itself; it releases the socket (with
// any bytes already read) to a StreamSession, which writes the response head
// or 101 handshake and then frames pushed from any thread through its bounded
// queue. StreamSessions register in Impl::sessions too, so Stop() ends them:
// queued frames are flushed, a WebSocket gets close 1000 "server shutting
// down", an SSE body its last chunk, all bounded by close_linger.

#include "net/http_server.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <deque>
#include <exception>
#include <future>
#include <list>
#include <optional>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/bytes.h"
#include "core/json.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/mutex.h"
#include "core/recovered.h"
#include "core/scope.h"
#include "net/tls_server.h"

namespace pgcdc::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

// One client connection, plain or TLS, usable with Asio/Beast composed
// operations (AsyncReadStream + AsyncWriteStream). Timeouts and closing go
// through Lowest(), the TCP stream under the TLS layer. Movable, so a request
// session can hand it to a streaming session.
class Transport {
 public:
  using executor_type = beast::tcp_stream::executor_type;

  Transport(tcp::socket socket, ssl::context* tls) {
    if (tls != nullptr) {
      tls_.emplace(beast::tcp_stream(std::move(socket)), *tls);
    } else {
      plain_.emplace(std::move(socket));
    }
  }

  bool tls() const { return tls_.has_value(); }
  beast::ssl_stream<beast::tcp_stream>& Tls() { return *tls_; }
  beast::tcp_stream& Lowest() { return tls_ ? tls_->next_layer() : *plain_; }
  executor_type get_executor() { return Lowest().get_executor(); }

  template <class Buffers, class Handler>
  void async_read_some(const Buffers& buffers, Handler&& handler) {
    if (tls_) {
      tls_->async_read_some(buffers, std::forward<Handler>(handler));
    } else {
      plain_->async_read_some(buffers, std::forward<Handler>(handler));
    }
  }
  template <class Buffers, class Handler>
  void async_write_some(const Buffers& buffers, Handler&& handler) {
    if (tls_) {
      tls_->async_write_some(buffers, std::forward<Handler>(handler));
    } else {
      plain_->async_write_some(buffers, std::forward<Handler>(handler));
    }
  }

 private:
  std::optional<beast::tcp_stream> plain_;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls_;
};

constexpr auto kWriteTimeout = std::chrono::seconds(30);
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(100);

std::string ErrorBody(std::string_view message) {
  // Messages are fixed ASCII strings chosen here; no escaping needed.
  std::string body = "{\"error\":\"";
  body += message;
  body += "\"}";
  return body;
}

HttpResponse JsonError(int status, std::string_view message) {
  HttpResponse r;
  r.status = status;
  r.body = ErrorBody(message);
  return r;
}

using json::HexValue;

// application/x-www-form-urlencoded decoding: '+' is a space, %XX a byte.
// Malformed escapes are kept literally.
std::string DecodeQueryComponent(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 && HexValue(s[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2]));
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

// Splits "a=1&b=2". Keys without '=' get an empty value; the first occurrence
// of a repeated key wins.
std::map<std::string, std::string> ParseQuery(std::string_view q) {
  std::map<std::string, std::string> out;
  while (!q.empty()) {
    const size_t amp = q.find('&');
    std::string_view pair = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    std::string key = DecodeQueryComponent(pair.substr(0, eq));
    std::string value =
        eq == std::string_view::npos ? std::string() : DecodeQueryComponent(pair.substr(eq + 1));
    out.emplace(std::move(key), std::move(value));
  }
  return out;
}

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string FormatEndpoint(const tcp::endpoint& ep) {
  const auto addr = ep.address();
  if (addr.is_v6()) return "[" + addr.to_string() + "]:" + std::to_string(ep.port());
  return addr.to_string() + ":" + std::to_string(ep.port());
}

std::string FormatHostPort(std::string_view host, uint16_t port) {
  std::string out;
  if (host.find(':') != std::string_view::npos) {
    out.append("[").append(host).append("]");
  } else {
    out.append(host);
  }
  out.append(":").append(std::to_string(port));
  return out;
}

// Series per server name ("http", "metrics", "sse", ...).
struct ServerMetrics {
  metrics::Family<metrics::Gauge>& open = metrics::Default().AddGauge(
      "pgcdc_http_connections", "Open HTTP connections (plain and streams)", {"server"});
  metrics::Family<metrics::Counter>& closed = metrics::Default().AddCounter(
      "pgcdc_http_connections_closed_total",
      "HTTP connections closed by a server limit (read_timeout, idle_timeout, evicted, "
      "rejected, header_too_large, body_too_large, bad_request)",
      {"server", "reason"});
  metrics::Family<metrics::Counter>& refused = metrics::Default().AddCounter(
      "pgcdc_http_requests_refused_total",
      "HTTP requests refused before their handler ran (unauthorized, host)", {"server", "reason"});
};

ServerMetrics& Metrics() { return metrics::Lazy<ServerMetrics>(); }

// Splits "Scheme credentials" (scheme compared case-insensitively).
bool TakeScheme(std::string_view& header, std::string_view scheme) {
  if (header.size() <= scheme.size() || header[scheme.size()] != ' ') return false;
  if (ToLower(header.substr(0, scheme.size())) != scheme) return false;
  header.remove_prefix(scheme.size() + 1);
  while (!header.empty() && header.front() == ' ') header.remove_prefix(1);
  return true;
}

}  // namespace

// ---------------------------------------------------------------------------

bool HttpAuthorized(const HttpAuth& auth, std::string_view authorization) {
  if (!auth.enabled()) return true;
  std::string_view cred = authorization;
  if (TakeScheme(cred, "bearer")) {
    return !auth.bearer_token.empty() && ConstantTimeEquals(cred, auth.bearer_token);
  }
  if (!TakeScheme(cred, "basic")) return false;
  const auto decoded = DecodeBase64(cred);
  if (!decoded) return false;
  const size_t colon = decoded->find(':');
  if (colon == std::string::npos) return false;
  const std::string_view user = std::string_view(*decoded).substr(0, colon);
  const std::string_view pass = std::string_view(*decoded).substr(colon + 1);
  if (!auth.basic_user.empty()) {
    // Both compared, always, so timing does not tell which one was wrong.
    const bool user_ok = ConstantTimeEquals(user, auth.basic_user);
    const bool pass_ok = ConstantTimeEquals(pass, auth.basic_password);
    return user_ok && pass_ok;
  }
  return ConstantTimeEquals(pass, auth.bearer_token);
}

bool WebSocketOriginAllowed(const std::vector<std::string>& origins, const HttpRequest& req) {
  auto o = req.headers.find("origin");
  if (o == req.headers.end()) return true;
  if (auto h = req.headers.find("host"); h != req.headers.end()) {
    if (o->second == "http://" + h->second || o->second == "https://" + h->second) return true;
  }
  return std::find(origins.begin(), origins.end(), "*") != origins.end() ||
         std::find(origins.begin(), origins.end(), o->second) != origins.end();
}

bool IsLoopbackHost(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    const size_t close = host.find(']');
    return close != std::string_view::npos && host.substr(1, close - 1) == "::1";
  }
  if (const size_t colon = host.rfind(':'); colon != std::string_view::npos) {
    host = host.substr(0, colon);
  }
  const std::string h = ToLower(host);
  if (h == "localhost" || (h.size() > 10 && h.ends_with(".localhost"))) return true;
  beast::error_code ec;
  const auto addr = asio::ip::make_address_v4(h, ec);
  return !ec && addr.is_loopback();
}

Result<ListenAddress> ParseListenAddress(std::string_view addr) {
  auto fail = [&](std::string_view why) {
    return Fail(ErrorCode::kConfig,
                "invalid listen address \"" + std::string(addr) + "\": " + std::string(why));
  };
  if (addr.empty()) return fail("empty");
  ListenAddress out;
  std::string_view port;
  if (addr.front() == '[') {
    const size_t close = addr.find(']');
    if (close == std::string_view::npos) return fail("missing ']'");
    out.host = std::string(addr.substr(1, close - 1));
    if (out.host.empty()) return fail("empty IPv6 host");
    const std::string_view rest = addr.substr(close + 1);
    if (rest.empty() || rest.front() != ':') return fail("missing port");
    port = rest.substr(1);
  } else {
    const size_t colon = addr.rfind(':');
    if (colon == std::string_view::npos) return fail("missing port");
    const std::string_view host = addr.substr(0, colon);
    if (host.find(':') != std::string_view::npos) {
      return fail("IPv6 addresses must be written as [addr]:port");
    }
    out.host = std::string(host);
    port = addr.substr(colon + 1);
  }
  if (port.empty()) return fail("missing port");
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size()) return fail("invalid port");
  if (value > 65535) return fail("port out of range");
  out.port = static_cast<uint16_t>(value);
  return out;
}

// ---------------------------------------------------------------------------

struct HttpServer::Impl {
  class Session;
  class StreamSession;

  // Anything Stop() must end: plain sessions close at once, streams get a
  // bounded graceful close.
  class Conn {
   public:
    virtual ~Conn() = default;
    virtual void Shutdown() = 0;  // I/O thread
  };

  struct Route {
    std::map<std::string, HttpHandler> methods;
    StreamHandler stream;  // GET opens a stream when set
    StreamKind stream_kind = StreamKind::kEventStream;
    bool is_public = false;                            // served without options.auth
    std::map<std::string, AsyncHttpHandler> deferred;  // answered through an HttpReply
  };

  // What a request resolved to.
  struct Dispatched {
    HttpResponse response;
    bool stream = false;
    StreamKind kind = StreamKind::kEventStream;
    StreamSpec spec;
    AsyncHttpHandler deferred;  // set: call it instead of writing `response`
  };

  Impl(std::string n, HttpServerOptions o)
      : name(std::move(n)),
        options(std::move(o)),
        open_gauge(&Metrics().open.With({name})),
        body_limit(options.max_body_bytes) {}
  // Handlers may own streams (an adapter's state captured by its stream
  // handler): they go while the io_context their timers and sockets belong to
  // still exists (the members below would destroy ioc first).
  ~Impl() {
    std::map<std::string, Route, std::less<>> gone, gone_prefix;
    {
      MutexLock lock(routes_mu);
      gone.swap(routes);
      gone_prefix.swap(prefix_routes);
    }
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  // Resolves a request to a response or a stream (never throws).
  Dispatched Dispatch(const HttpRequest& req);

  // What a request's path and method matched, copied out of the route tables
  // so handlers run without routes_mu.
  struct Match {
    bool path_known = false;
    HttpHandler handler;        // set: the handler for the method
    AsyncHttpHandler deferred;  // set: the deferred handler for the method
    StreamHandler stream;       // set: a GET on a stream route
    StreamKind kind = StreamKind::kEventStream;
    std::string allow;  // neither set: the methods the path accepts (Allow header)
    bool is_public = false;
  };
  // Dispatch()'s steps.
  Match MatchRoute(const HttpRequest& req);  // takes routes_mu
  // The exact route for `path`, else the longest matching prefix route.
  const Route* FindRoute(const std::string& path) const REQUIRES(routes_mu);
  // The route for `path` (exact or prefix), created when new; public once any
  // registration on it says so.
  Route& AddRoute(std::string path, bool prefix, RouteOptions options) REQUIRES(routes_mu) {
    Route& route = prefix ? prefix_routes[std::move(path)] : routes[std::move(path)];
    route.is_public = route.is_public || options.public_route;
    return route;
  }
  // The response refusing a request before its route runs (DNS rebinding
  // Host check, authentication), if any.
  std::optional<HttpResponse> Refusal(const HttpRequest& req, const Match& match);
  // Checks the upgrade, then asks the stream handler to accept the stream.
  Dispatched OpenStream(const HttpRequest& req, const Match& match);
  // Runs a plain handler; a 500 response when it throws.
  HttpResponse CallHandler(const HttpHandler& handler, const HttpRequest& req);
  // Runs a deferred handler; answers 500 through `reply` when it throws.
  void CallDeferred(const AsyncHttpHandler& handler, HttpRequest&& req, const HttpReply& reply);
  void DoAccept();
  // A new connection when `max_connections` are open: close the oldest one
  // waiting for a request; false when none is (the new one is refused).
  bool MakeRoom();
  void CloseAll();  // I/O thread only
  // Connection bookkeeping (I/O thread).
  void Register(Conn* c, std::weak_ptr<Conn> weak) {
    sessions.emplace(c, std::move(weak));
    conn_count.store(sessions.size());
    open_gauge->Set(static_cast<double>(sessions.size()));
  }
  void Unregister(Conn* c) {
    sessions.erase(c);
    conn_count.store(sessions.size());
    open_gauge->Set(static_cast<double>(sessions.size()));
  }
  void CountClosed(std::string_view reason) { Metrics().closed.With({name, reason}).Inc(); }

  const std::string name;
  const HttpServerOptions options;

  Mutex routes_mu;
  std::map<std::string, Route, std::less<>> routes GUARDED_BY(routes_mu);         // exact path
  std::map<std::string, Route, std::less<>> prefix_routes GUARDED_BY(routes_mu);  // path prefix

  Mutex lifecycle_mu;  // serialises Start()/Stop()
  bool running GUARDED_BY(lifecycle_mu) = false;
  std::atomic<size_t> stream_count{0};
  std::atomic<size_t> conn_count{0};
  metrics::Gauge* open_gauge;
  // Set by Start() before the I/O thread runs: the listener is on loopback.
  bool loopback_only = false;
  // The largest request body accepted: options.max_body_bytes, raised by
  // RaiseBodyLimit() (e.g. --webhookgw-max-body).
  std::atomic<uint64_t> body_limit{0};
  std::function<void(const std::string&)> on_body_too_large GUARDED_BY(routes_mu);

  // I/O-thread state. Declared before io_context so it outlives handlers that
  // the io_context destroys (sessions unregister in their destructors).
  std::unordered_map<Conn*, std::weak_ptr<Conn>> sessions;
  // Plain sessions waiting for (or reading) a request, oldest first.
  std::list<std::weak_ptr<Session>> waiting;
  std::atomic<bool> closing{false};

  asio::io_context ioc{1};
  std::unique_ptr<ssl::context> tls;  // when options.tls_cert_file is set
  std::optional<tcp::acceptor> acceptor;
  std::optional<asio::steady_timer> accept_retry;
  std::thread thread;
};

namespace {

bool HeaderHasToken(const std::map<std::string, std::string>& headers, const std::string& name,
                    std::string_view token) {
  auto it = headers.find(name);
  if (it == headers.end()) return false;
  const std::string value = ToLower(it->second);
  size_t start = 0;
  while (start <= value.size()) {
    size_t comma = value.find(',', start);
    if (comma == std::string::npos) comma = value.size();
    std::string_view part(value.data() + start, comma - start);
    while (!part.empty() && (part.front() == ' ' || part.front() == '\t')) part.remove_prefix(1);
    while (!part.empty() && (part.back() == ' ' || part.back() == '\t')) part.remove_suffix(1);
    if (part == token) return true;
    start = comma + 1;
  }
  return false;
}

// The Allow header for a path with these methods (and a GET stream when
// `has_stream`), for a request whose method it does not handle.
std::string AllowedMethods(const std::map<std::string, HttpHandler>& methods, bool has_stream) {
  std::string allow;
  bool has_head = false;
  bool has_get = has_stream;
  for (const auto& [method, h] : methods) {
    if (!allow.empty()) allow += ", ";
    allow += method;
    if (method == "HEAD") has_head = true;
    if (method == "GET") has_get = true;
  }
  if (has_stream && !methods.contains("GET")) {
    allow += allow.empty() ? "GET" : ", GET";
  } else if (!has_head && has_get) {
    allow += ", HEAD";
  }
  return allow;
}

// For a WebSocket stream route: the error response when `req` is not a
// version-13 WebSocket upgrade with a key, nothing when it is one.
std::optional<HttpResponse> WebSocketUpgradeError(const HttpRequest& req) {
  if (!HeaderHasToken(req.headers, "upgrade", "websocket")) {
    HttpResponse r = JsonError(426, "websocket upgrade required");
    r.headers["Upgrade"] = "websocket";
    r.headers["Connection"] = "Upgrade";
    return r;
  }
  auto version = req.headers.find("sec-websocket-version");
  if (version == req.headers.end() || version->second != "13") {
    HttpResponse r = JsonError(426, "unsupported websocket version");
    r.headers["Sec-WebSocket-Version"] = "13";
    return r;
  }
  auto key = req.headers.find("sec-websocket-key");
  if (key == req.headers.end() || key->second.empty()) {
    return JsonError(400, "missing Sec-WebSocket-Key");
  }
  return std::nullopt;
}

void AppendHeaderLine(std::string& out, std::string_view name, std::string_view value) {
  for (char c : name) out += (c == '\r' || c == '\n' || c == ':') ? '-' : c;
  out += ": ";
  for (char c : value) out += (c == '\r' || c == '\n') ? ' ' : c;
  out += "\r\n";
}

}  // namespace

// ---------------------------------------------------------------------------
// Request/response session.

class HttpServer::Impl::Session : public Conn, public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Impl* server)
      : stream_(std::move(socket), server->tls.get()), server_(server) {}

  ~Session() override {
    SetWaiting(false);
    server_->Unregister(static_cast<Conn*>(this));
  }

  void Start() {
    server_->Register(static_cast<Conn*>(this), weak_from_this());
    if (!stream_.tls()) {
      ReadRequest();  // the first request must arrive within read_timeout
      return;
    }
    // The handshake and the first request share read_timeout.
    SetWaiting(true);
    stream_.Lowest().expires_after(server_->options.read_timeout);
    stream_.Tls().async_handshake(ssl::stream_base::server,
                                  [self = shared_from_this()](beast::error_code ec) {
                                    if (!ec) {
                                      self->ReadRequest();
                                      return;
                                    }
                                    self->SetWaiting(false);
                                    self->server_->CountClosed("tls_handshake");
                                    self->Close();
                                  });
  }

  void Shutdown() override { Close(); }

  // I/O thread only. Aborts pending operations; their handlers see errors and
  // drop the last references.
  void Close() {
    SetWaiting(false);
    beast::error_code ec;
    stream_.Lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.Lowest().close();
  }

  // Closed to make room for a new connection (MakeRoom).
  void Evict() {
    evicted_ = true;
    Close();
  }

 private:
  // Membership in server_->waiting (eviction candidates).
  void SetWaiting(bool on) {
    if (on == waiting_.has_value()) return;
    if (on) {
      waiting_ = server_->waiting.insert(server_->waiting.end(), weak_from_this());
    } else {
      server_->waiting.erase(*waiting_);
      waiting_.reset();
    }
  }

  // Kept-alive connection: wait up to idle_timeout for the next request's
  // first bytes, then read it within read_timeout.
  void DoRead() {
    if (buffer_.size() > 0) {
      ReadRequest();
      return;
    }
    SetWaiting(true);
    idle_wait_ = true;
    stream_.Lowest().expires_after(server_->options.idle_timeout);
    stream_.async_read_some(buffer_.prepare(4096),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              if (ec) {
                                self->OnRead(ec);
                                return;
                              }
                              self->idle_wait_ = false;
                              self->buffer_.commit(n);
                              self->ReadRequest();
                            });
  }

  void ReadRequest() {
    SetWaiting(true);
    parser_.emplace();
    parser_->body_limit(server_->body_limit.load(std::memory_order_relaxed));
    parser_->header_limit(
        static_cast<uint32_t>(std::min<size_t>(server_->options.max_header_bytes, UINT32_MAX)));
    stream_.Lowest().expires_after(server_->options.read_timeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec);

  // Answers a request that broke a limit, then closes; counted as `reason`.
  void WriteError(int status, std::string_view message, std::string_view reason) {
    server_->CountClosed(reason);
    Write(JsonError(status, message), 11, /*keep_alive=*/false, /*head=*/false);
  }

  void Write(HttpResponse r, unsigned version, bool keep_alive, bool head) {
    auto res = std::make_shared<http::response<http::string_body>>();
    res->version(version);
    res->result(static_cast<unsigned>(r.status));
    res->set(http::field::server, "pgcdc");
    if (!r.content_type.empty()) res->set(http::field::content_type, r.content_type);
    for (const auto& [k, v] : r.headers) {
      // A value with newlines is one header line per part (HttpResponse).
      size_t start = 0;
      for (size_t nl; (nl = v.find('\n', start)) != std::string::npos; start = nl + 1) {
        res->insert(k, v.substr(start, nl - start));
      }
      if (start == 0) {
        res->set(k, v);
      } else {
        res->insert(k, v.substr(start));
      }
    }
    res->keep_alive(keep_alive);
    // 1xx, 204 and 304 carry no body (Beast refuses to serialise one).
    const bool no_body = r.status < 200 || r.status == 204 || r.status == 304;
    if (no_body) {
      r.body.clear();
      res->erase(http::field::content_type);
    } else if (head) {
      // Same headers as GET, no body.
      res->content_length(r.body.size());
    } else {
      res->body() = std::move(r.body);
      res->prepare_payload();
    }
    const bool close = !res->keep_alive();
    stream_.Lowest().expires_after(kWriteTimeout);
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res, close](beast::error_code ec, size_t) {
                        self->OnWrite(ec, close);
                      });
  }

  void OnWrite(beast::error_code ec, bool close) {
    if (ec || close || server_->closing) {
      Close();
      return;
    }
    DoRead();
  }

  Transport stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Impl* server_;
  std::optional<std::list<std::weak_ptr<Session>>::iterator> waiting_;
  bool idle_wait_ = false;  // waiting for a kept-alive connection's next request
  bool evicted_ = false;
};

// ---------------------------------------------------------------------------
// Streaming session (SSE or WebSocket) that took over a connection.
//
// Threads: Push*/Close/queued() from any thread (they take mu_ and post to the
// I/O thread); everything else runs on the I/O thread. kick_pending_ is true
// while a write is in flight or a kick is posted, so producers post at most
// once per idle->busy transition. Each write sends every queued frame (up to a
// batch cap) in one gathered write; SSE frames are wrapped in one HTTP chunk.

class HttpServer::Impl::StreamSession final : public Stream,
                                              public Conn,
                                              public std::enable_shared_from_this<StreamSession> {
 public:
  static constexpr size_t kMaxBatchFrames = 512;
  static constexpr size_t kMaxBatchBytes = 1 << 20;

  StreamSession(Impl* server, Transport transport, StreamKind kind, StreamSpec spec, bool chunked)
      : server_(server),
        socket_(std::move(transport)),
        kind_(kind),
        spec_(std::move(spec)),
        chunked_(chunked),
        capacity_(std::max<size_t>(1, spec_.queue_capacity)),
        keepalive_timer_(server->ioc),
        write_timer_(server->ioc),
        linger_timer_(server->ioc) {
    beast::error_code ec;
    const auto ep = Socket().remote_endpoint(ec);
    peer_ = ec ? std::string("?") : FormatEndpoint(ep);
    if (server->options.stream_send_buffer > 0) {
      Socket().set_option(asio::socket_base::send_buffer_size(server->options.stream_send_buffer),
                          ec);
    }
  }

  void Start(std::string head, std::string leftover) {
    server_->Register(static_cast<Conn*>(this), weak_from_this());
    server_->stream_count.fetch_add(1);
    head_ = std::move(head);
    if (kind_ == StreamKind::kWebSocket) rx_ = std::move(leftover);
    writing_ = true;
    ArmWriteTimer();
    asio::async_write(
        socket_, asio::buffer(head_),
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeadWritten(ec); });
  }

  // Stream
  PushResult Push(SharedFrame frame) override { return Enqueue(std::move(frame), true); }
  PushResult PushUnbounded(SharedFrame frame) override { return Enqueue(std::move(frame), false); }
  PushResult PushMany(std::span<const SharedFrame> frames, size_t& queued) override {
    bool kick = false;
    {
      MutexLock lock(mu_);
      queued = 0;
      if (closing_) return PushResult::kClosed;
      if (FullLocked()) return PushResult::kFull;
      queue_.insert(queue_.end(), frames.begin(), frames.end());
      for (const auto& f : frames) queued_bytes_ += f->size();
      if (!frames.empty() && !kick_pending_) kick = kick_pending_ = true;
    }
    if (kick) PostKick();
    queued = frames.size();
    return PushResult::kQueued;
  }
  void Close(uint16_t code, std::string_view reason, bool drop_queued) override {
    {
      MutexLock lock(mu_);
      if (closing_) return;
      closing_ = true;
      if (drop_queued) {
        queue_.clear();
        queued_bytes_ = 0;
      }
      close_code_ = code;
      close_reason_ = std::string(reason);
    }
    asio::post(server_->ioc, [weak = weak_from_this()] {
      if (auto self = weak.lock()) self->OnCloseRequested();
    });
  }
  StreamKind kind() const override { return kind_; }
  const std::string& peer() const override { return peer_; }
  size_t queued() const override {
    MutexLock lock(mu_);
    return queue_.size();
  }

  // Conn
  void Shutdown() override { Close(kWsCloseNormal, "server shutting down", false); }

 private:
  // The queue holds `queue_capacity` frames or the byte cap.
  bool FullLocked() const REQUIRES(mu_) {
    const size_t cap = server_->options.stream_max_buffered_bytes;
    return queue_.size() >= capacity_ || (cap > 0 && queued_bytes_ >= cap);
  }

  PushResult Enqueue(SharedFrame frame, bool bounded) {
    bool kick = false;
    {
      MutexLock lock(mu_);
      if (closing_) return PushResult::kClosed;
      if (bounded && FullLocked()) return PushResult::kFull;
      queued_bytes_ += frame->size();
      queue_.push_back(std::move(frame));
      if (!kick_pending_) kick = kick_pending_ = true;
    }
    if (kick) PostKick();
    return PushResult::kQueued;
  }

  void PostKick() {
    asio::post(server_->ioc, [weak = weak_from_this()] {
      if (auto self = weak.lock()) self->StartWrite();
    });
  }

  void OnHeadWritten(beast::error_code ec) {
    writing_ = false;
    write_timer_.cancel();
    if (terminated_) return;
    if (ec) {
      Terminate(StreamEnd::kClientClosed);
      return;
    }
    auto self = shared_from_this();
    if (spec_.on_open) spec_.on_open(self);
    DoRead();
    if (kind_ == StreamKind::kWebSocket && !rx_.empty()) ParseFrames();
    ArmKeepalive();
    StartWrite();
  }

  void OnCloseRequested() {
    if (terminated_) return;
    if (server_->options.close_linger.count() > 0) {
      linger_timer_.expires_after(server_->options.close_linger);
      linger_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
        if (!ec) self->Terminate(self->end_reason_);
      });
    }
    StartWrite();
  }

  void StartWrite() {
    if (writing_ || terminated_) return;
    bool finish = false;
    {
      MutexLock lock(mu_);
      if (queue_.empty()) {
        kick_pending_ = false;
        finish = closing_;
      } else {
        size_t bytes = 0;
        while (!queue_.empty() && inflight_.size() < kMaxBatchFrames && bytes < kMaxBatchBytes) {
          bytes += queue_.front()->size();
          queued_bytes_ -= queue_.front()->size();
          inflight_.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
    }
    if (inflight_.empty()) {
      if (finish) FinishClose();
      return;
    }
    bufs_.clear();
    if (chunked_) {
      size_t total = 0;
      for (const auto& f : inflight_) total += f->size();
      char hex[24];
      const int n = std::snprintf(hex, sizeof hex, "%zx\r\n", total);
      chunk_head_.assign(hex, static_cast<size_t>(n));
      bufs_.emplace_back(chunk_head_.data(), chunk_head_.size());
    }
    for (const auto& f : inflight_) bufs_.emplace_back(f->data(), f->size());
    if (chunked_) bufs_.emplace_back("\r\n", 2);
    writing_ = true;
    ArmWriteTimer();
    asio::async_write(socket_, bufs_, [self = shared_from_this()](beast::error_code ec, size_t) {
      self->OnWrite(ec);
    });
  }

  void OnWrite(beast::error_code ec) {
    writing_ = false;
    write_timer_.cancel();
    inflight_.clear();
    if (terminated_) return;
    if (ec) {
      Terminate(final_started_ ? end_reason_ : StreamEnd::kClientClosed);
      return;
    }
    wrote_since_keepalive_ = true;
    StartWrite();
  }

  // Queue drained while closing: send the final bytes, then end.
  void FinishClose() {
    if (final_started_ || terminated_) return;
    final_started_ = true;
    keepalive_timer_.cancel();
    if (kind_ == StreamKind::kWebSocket) {
      if (!peer_closed_) {
        MutexLock lock(mu_);
        final_ = EncodeWebSocketClose(close_code_, close_reason_);
      } else {
        // Echo the client's close (RFC 6455 §5.5.1).
        final_ = EncodeWebSocketClose(peer_close_code_, "");
      }
    } else if (chunked_) {
      final_ = "0\r\n\r\n";
    }
    if (final_.empty()) {
      Terminate(end_reason_);
      return;
    }
    writing_ = true;
    ArmWriteTimer();
    asio::async_write(socket_, asio::buffer(final_),
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        self->writing_ = false;
                        self->write_timer_.cancel();
                        if (self->terminated_) return;
                        if (ec || self->kind_ != StreamKind::kWebSocket || self->peer_closed_) {
                          self->Terminate(self->end_reason_);
                          return;
                        }
                        // Wait (bounded by the linger) for the client's close
                        // frame or EOF; stop sending.
                        beast::error_code ignored;
                        self->Socket().shutdown(tcp::socket::shutdown_send, ignored);
                      });
  }

  void Terminate(StreamEnd why) {
    if (terminated_) return;
    terminated_ = true;
    {
      MutexLock lock(mu_);
      closing_ = true;
      queue_.clear();
      queued_bytes_ = 0;
    }
    beast::error_code ec;
    Socket().shutdown(tcp::socket::shutdown_both, ec);
    Socket().close(ec);
    keepalive_timer_.cancel();
    write_timer_.cancel();
    linger_timer_.cancel();
    server_->Unregister(static_cast<Conn*>(this));
    server_->stream_count.fetch_sub(1);
    auto on_close = std::move(spec_.on_close);
    spec_.on_close = nullptr;
    spec_.on_open = nullptr;
    spec_.on_message = nullptr;
    if (on_close) on_close(shared_from_this(), why);
  }

  void ArmWriteTimer() {
    const auto timeout = server_->options.stream_write_timeout;
    if (timeout.count() <= 0) return;
    const uint64_t gen = ++write_gen_;
    write_timer_.expires_after(timeout);
    write_timer_.async_wait([self = shared_from_this(), gen](beast::error_code ec) {
      if (!ec && self->writing_ && self->write_gen_ == gen) self->Terminate(StreamEnd::kSlowClient);
    });
  }

  void ArmKeepalive() {
    if (spec_.keepalive.count() <= 0 || terminated_) return;
    keepalive_timer_.expires_after(spec_.keepalive);
    keepalive_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec && !self->terminated_ && !self->final_started_) self->OnKeepalive();
    });
  }

  void OnKeepalive() {
    static const SharedFrame kSseComment = std::make_shared<const std::string>(": keep-alive\n\n");
    static const SharedFrame kPing =
        std::make_shared<const std::string>(EncodeWebSocketFrame(0x9, ""));
    if (kind_ == StreamKind::kWebSocket) {
      if (awaiting_pong_ && !rx_since_ping_) {
        // No pong and nothing else since the last ping: the peer is gone or
        // not reading (then our ping is stuck behind unsent data).
        Terminate(writing_ ? StreamEnd::kSlowClient : StreamEnd::kError);
        return;
      }
      awaiting_pong_ = true;
      rx_since_ping_ = false;
      Enqueue(kPing, false);
    } else {
      if (!wrote_since_keepalive_) Enqueue(kSseComment, false);
      wrote_since_keepalive_ = false;
    }
    ArmKeepalive();
  }

  void DoRead() {
    socket_.async_read_some(
        asio::buffer(rbuf_),
        [self = shared_from_this()](beast::error_code ec, size_t n) { self->OnRead(ec, n); });
  }

  void OnRead(beast::error_code ec, size_t n) {
    if (terminated_) return;
    if (ec) {
      Terminate(final_started_ ? end_reason_ : StreamEnd::kClientClosed);
      return;
    }
    rx_since_ping_ = true;
    if (kind_ == StreamKind::kWebSocket && !discard_input_) {
      rx_.append(rbuf_.data(), n);
      ParseFrames();
      if (terminated_) return;
    }
    DoRead();
  }

  void ProtocolError(uint16_t code, std::string_view reason) {
    discard_input_ = true;
    rx_.clear();
    end_reason_ = StreamEnd::kError;
    log::Warn("http: websocket protocol error",
              {{"server", server_->name}, {"peer", peer_}, {"error", reason}});
    Close(code, reason, true);
  }

  // Joins data frames into messages for spec_.on_message; false after a
  // protocol error.
  bool OnDataFrame(uint8_t opcode, bool fin, std::string&& payload) {
    if ((opcode == 0x0) != msg_active_) {
      ProtocolError(kWsCloseProtocol, opcode == 0x0 ? "unexpected continuation frame"
                                                    : "new message inside a fragmented one");
      return false;
    }
    if (opcode != 0x0) {
      msg_binary_ = opcode == 0x2;
      msg_.clear();
    }
    if (msg_.size() + payload.size() > server_->options.ws_max_client_frame) {
      ProtocolError(kWsCloseTooBig, "client message too large");
      return false;
    }
    msg_.append(payload);
    msg_active_ = !fin;
    if (fin) {
      spec_.on_message(shared_from_this(), std::move(msg_), msg_binary_);
      msg_.clear();
    }
    return !terminated_ && !discard_input_;
  }

  // Handles every complete client frame in rx_.
  void ParseFrames() {
    const size_t max_frame = server_->options.ws_max_client_frame;
    while (!discard_input_ && !terminated_) {
      if (rx_.size() < 2) return;
      const auto b0 = static_cast<uint8_t>(rx_[0]);
      const auto b1 = static_cast<uint8_t>(rx_[1]);
      const uint8_t opcode = b0 & 0x0F;
      const bool fin = (b0 & 0x80) != 0;
      uint64_t len = b1 & 0x7F;
      size_t hdr = 2;
      if (len == 126) {
        if (rx_.size() < 4) return;
        len = (static_cast<uint64_t>(static_cast<uint8_t>(rx_[2])) << 8) |
              static_cast<uint8_t>(rx_[3]);
        hdr = 4;
      } else if (len == 127) {
        if (rx_.size() < 10) return;
        len = 0;
        for (size_t i = 2; i < 10; ++i) len = (len << 8) | static_cast<uint8_t>(rx_[i]);
        hdr = 10;
      }
      if ((b1 & 0x80) == 0) return ProtocolError(kWsCloseProtocol, "unmasked client frame");
      if ((b0 & 0x70) != 0) return ProtocolError(kWsCloseProtocol, "reserved bits set");
      if ((opcode & 0x8) != 0 && (!fin || len > 125)) {
        return ProtocolError(kWsCloseProtocol, "invalid control frame");
      }
      if (len > max_frame) return ProtocolError(kWsCloseTooBig, "client frame too large");
      if (rx_.size() < hdr + 4 + len) return;
      const char* mask = rx_.data() + hdr;
      std::string payload(rx_.data() + hdr + 4, static_cast<size_t>(len));
      for (size_t i = 0; i < payload.size(); ++i) {
        payload[i] = static_cast<char>(payload[i] ^ mask[i % 4]);
      }
      rx_.erase(0, hdr + 4 + static_cast<size_t>(len));
      switch (opcode) {
        case 0x8: {  // close
          peer_closed_ = true;
          peer_close_code_ = payload.size() >= 2
                                 ? static_cast<uint16_t>((static_cast<uint8_t>(payload[0]) << 8) |
                                                         static_cast<uint8_t>(payload[1]))
                                 : kWsCloseNormal;
          if (peer_close_code_ < 1000 || peer_close_code_ == 1005 || peer_close_code_ == 1006) {
            peer_close_code_ = kWsCloseNormal;
          }
          if (final_started_) {
            Terminate(end_reason_);
            return;
          }
          end_reason_ = StreamEnd::kClientClosed;
          discard_input_ = true;
          Close(peer_close_code_, "", true);
          return;
        }
        case 0x9:  // ping
          Enqueue(std::make_shared<const std::string>(EncodeWebSocketFrame(0xA, payload)), false);
          break;
        case 0xA:  // pong
          awaiting_pong_ = false;
          break;
        case 0x0:
        case 0x1:
        case 0x2:
          if (!spec_.on_message) break;  // client messages are ignored
          if (!OnDataFrame(opcode, fin, std::move(payload))) return;
          break;
        default:
          return ProtocolError(kWsCloseProtocol, "unknown opcode");
      }
    }
  }

  Impl* const server_;
  // The connection (plain or TLS); Socket() is its TCP socket.
  Transport socket_;
  tcp::socket& Socket() { return socket_.Lowest().socket(); }
  const StreamKind kind_;
  StreamSpec spec_;
  const bool chunked_;
  const size_t capacity_;
  std::string peer_;

  mutable Mutex mu_;
  std::deque<SharedFrame> queue_ GUARDED_BY(mu_);
  size_t queued_bytes_ GUARDED_BY(mu_) = 0;
  bool kick_pending_ GUARDED_BY(mu_) = false;
  bool closing_ GUARDED_BY(mu_) = false;
  uint16_t close_code_ GUARDED_BY(mu_) = kWsCloseNormal;
  std::string close_reason_ GUARDED_BY(mu_);

  // I/O thread only.
  asio::steady_timer keepalive_timer_;
  asio::steady_timer write_timer_;
  asio::steady_timer linger_timer_;
  uint64_t write_gen_ = 0;
  bool writing_ = false;
  bool terminated_ = false;
  bool final_started_ = false;
  bool wrote_since_keepalive_ = false;
  bool awaiting_pong_ = false;
  bool rx_since_ping_ = false;
  std::string msg_;  // a fragmented client message being joined
  bool msg_active_ = false;
  bool msg_binary_ = false;
  bool peer_closed_ = false;
  bool discard_input_ = false;
  uint16_t peer_close_code_ = kWsCloseNormal;
  StreamEnd end_reason_ = StreamEnd::kServerClosed;
  std::string head_;
  std::string final_;
  std::string chunk_head_;
  std::vector<SharedFrame> inflight_;
  std::vector<asio::const_buffer> bufs_;
  std::array<char, 4096> rbuf_{};
  std::string rx_;
};

void HttpServer::Impl::Session::OnRead(beast::error_code ec) {
  SetWaiting(false);
  if (ec == beast::error::timeout) {
    server_->CountClosed(idle_wait_ ? "idle_timeout" : "read_timeout");
    Close();
    return;
  }
  if (ec == http::error::end_of_stream || ec == asio::error::operation_aborted ||
      ec == asio::error::connection_reset || ec == asio::error::eof || evicted_) {
    if (evicted_) server_->CountClosed("evicted");
    Close();
    return;
  }
  if (ec == http::error::body_limit) {
    std::function<void(const std::string&)> observer;
    {
      MutexLock lock(server_->routes_mu);
      observer = server_->on_body_too_large;
    }
    if (observer) {
      const std::string target(parser_->get().target());
      observer(target.substr(0, target.find('?')));
    }
    WriteError(413, "request body too large", "body_too_large");
    return;
  }
  if (ec == http::error::header_limit) {
    WriteError(431, "request header fields too large", "header_too_large");
    return;
  }
  if (ec) {
    if (server_->closing) {
      Close();
      return;
    }
    // Malformed request or transport error: answer 400 if we can, then close.
    WriteError(400, "bad request", "bad_request");
    return;
  }

  const auto& msg = parser_->get();
  HttpRequest req;
  req.method = std::string(msg.method_string());
  req.target = std::string(msg.target());
  const size_t qpos = req.target.find('?');
  req.path = req.target.substr(0, qpos);
  if (qpos != std::string::npos)
    req.query = ParseQuery(std::string_view(req.target).substr(qpos + 1));
  for (const auto& field : msg) {
    std::string name = ToLower(field.name_string());
    auto [it, inserted] = req.headers.emplace(std::move(name), std::string(field.value()));
    if (!inserted) it->second.append(", ").append(field.value());
  }
  req.body = msg.body();

  const bool head = msg.method() == http::verb::head;
  Dispatched d = server_->Dispatch(req);
  if (d.deferred) {
    // The reply may come from any thread; the write happens on this one.
    auto done = std::make_shared<std::atomic<bool>>(false);
    HttpReply reply = [self = shared_from_this(), version = msg.version(),
                       keep_alive = msg.keep_alive(), done](HttpResponse r) {
      if (done->exchange(true)) return;
      asio::post(self->server_->ioc, [self, r = std::move(r), version, keep_alive]() mutable {
        self->Write(std::move(r), version, keep_alive, /*head=*/false);
      });
    };
    server_->CallDeferred(d.deferred, std::move(req), reply);
    return;
  }
  if (!d.stream) {
    Write(std::move(d.response), msg.version(), msg.keep_alive(), head);
    return;
  }

  // Hand the connection to a streaming session.
  std::string head_bytes;
  bool chunked = false;
  if (d.kind == StreamKind::kWebSocket) {
    head_bytes =
        "HTTP/1.1 101 Switching Protocols\r\nServer: pgcdc\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\n";
    AppendHeaderLine(head_bytes, "Sec-WebSocket-Accept",
                     WebSocketAcceptKey(req.headers["sec-websocket-key"]));
  } else {
    chunked = msg.version() >= 11;
    head_bytes = chunked ? "HTTP/1.1 200 OK\r\n" : "HTTP/1.0 200 OK\r\n";
    head_bytes +=
        "Server: pgcdc\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
        "X-Accel-Buffering: no\r\n";
    head_bytes += chunked ? "Connection: keep-alive\r\nTransfer-Encoding: chunked\r\n"
                          : "Connection: close\r\n";
  }
  for (const auto& [k, v] : d.spec.headers) AppendHeaderLine(head_bytes, k, v);
  head_bytes += "\r\n";

  std::string leftover(static_cast<const char*>(buffer_.data().data()), buffer_.size());
  buffer_.clear();
  stream_.Lowest().expires_never();
  SetWaiting(false);
  auto s = std::make_shared<StreamSession>(server_, std::move(stream_), d.kind, std::move(d.spec),
                                           chunked);
  s->Start(std::move(head_bytes), std::move(leftover));
}

HttpServer::Impl::Dispatched HttpServer::Impl::Dispatch(const HttpRequest& req) {
  const Match match = MatchRoute(req);
  if (auto refusal = Refusal(req, match)) return {.response = std::move(*refusal)};
  if (!match.path_known) return {.response = JsonError(404, "not found")};
  if (match.stream) return OpenStream(req, match);
  if (match.deferred) return {.deferred = match.deferred};
  if (!match.handler) {
    Dispatched out{.response = JsonError(405, "method not allowed")};
    out.response.headers["Allow"] = match.allow;
    return out;
  }
  return {.response = CallHandler(match.handler, req)};
}

HttpServer::Impl::Match HttpServer::Impl::MatchRoute(const HttpRequest& req) {
  Match match;
  MutexLock lock(routes_mu);
  const Route* route = FindRoute(req.path);
  if (route == nullptr) return match;
  match.path_known = true;
  match.is_public = route->is_public;
  if (route->stream && req.method == "GET") {
    match.stream = route->stream;
    match.kind = route->stream_kind;
    return match;
  }
  const auto& methods = route->methods;
  auto m = methods.find(req.method);
  if (m == methods.end() && req.method == "HEAD" && !route->stream) m = methods.find("GET");
  if (m != methods.end()) {
    match.handler = m->second;
  } else if (auto d = route->deferred.find(req.method); d != route->deferred.end()) {
    match.deferred = d->second;
  } else {
    match.allow = AllowedMethods(methods, route->stream != nullptr);
    for (const auto& [method, h] : route->deferred) {
      match.allow += (match.allow.empty() ? "" : ", ") + method;
    }
  }
  return match;
}

const HttpServer::Impl::Route* HttpServer::Impl::FindRoute(const std::string& path) const {
  if (auto it = routes.find(path); it != routes.end()) return &it->second;
  const Route* route = nullptr;
  size_t best = 0;
  for (const auto& [prefix, r] : prefix_routes) {
    if (prefix.size() >= best && path.size() >= prefix.size() &&
        path.compare(0, prefix.size(), prefix) == 0) {
      best = prefix.size();
      route = &r;
    }
  }
  return route;
}

std::optional<HttpResponse> HttpServer::Impl::Refusal(const HttpRequest& req, const Match& match) {
  if (loopback_only && options.loopback_host_check) {
    auto host = req.headers.find("host");
    if (host != req.headers.end() && !IsLoopbackHost(host->second)) {
      Metrics().refused.With({name, "host"}).Inc();
      return JsonError(403, "host not allowed: this server listens on loopback only");
    }
  }
  if (match.is_public || !options.auth.enabled()) return std::nullopt;
  // CORS preflight carries no credentials.
  if (req.method == "OPTIONS" && match.handler) return std::nullopt;
  auto authz = req.headers.find("authorization");
  if (HttpAuthorized(options.auth,
                     authz == req.headers.end() ? std::string_view() : authz->second)) {
    return std::nullopt;
  }
  Metrics().refused.With({name, "unauthorized"}).Inc();
  HttpResponse r = JsonError(401, "unauthorized");
  // One challenge per header line: browsers (Chromium) read only the first
  // challenge of a line, and Basic is the one they can answer.
  std::string challenge = "Basic realm=\"pgcdc\", charset=\"UTF-8\"";
  if (!options.auth.bearer_token.empty()) challenge += "\nBearer realm=\"pgcdc\"";
  r.headers["WWW-Authenticate"] = challenge;
  return r;
}

HttpServer::Impl::Dispatched HttpServer::Impl::OpenStream(const HttpRequest& req,
                                                          const Match& match) {
  if (match.kind == StreamKind::kWebSocket) {
    if (auto error = WebSocketUpgradeError(req)) return {.response = std::move(*error)};
  }
  if (closing) return {.response = JsonError(503, "server shutting down")};
  try {
    StreamDecision decision = match.stream(req);
    if (!decision.accept) return {.response = std::move(decision.response)};
    return {.stream = true, .kind = match.kind, .spec = std::move(decision.spec)};
  } catch (const std::exception& e) {
    CountRecovered("http");
    log::Error("http: stream handler threw",
               {{"server", name}, {"path", req.path}, {"error", e.what()}});
  } catch (...) {
    CountRecovered("http");
    log::Error("http: stream handler threw",
               {{"server", name}, {"path", req.path}, {"error", "unknown"}});
  }
  return {.response = JsonError(500, "internal server error")};
}

HttpResponse HttpServer::Impl::CallHandler(const HttpHandler& handler, const HttpRequest& req) {
  try {
    return handler(req);
  } catch (const std::exception& e) {
    CountRecovered("http");
    log::Error("http: handler threw",
               {{"server", name}, {"method", req.method}, {"path", req.path}, {"error", e.what()}});
  } catch (...) {
    CountRecovered("http");
    log::Error(
        "http: handler threw",
        {{"server", name}, {"method", req.method}, {"path", req.path}, {"error", "unknown"}});
  }
  return JsonError(500, "internal server error");
}

void HttpServer::Impl::CallDeferred(const AsyncHttpHandler& handler, HttpRequest&& req,
                                    const HttpReply& reply) {
  const std::string method = req.method;
  const std::string path = req.path;
  try {
    handler(std::move(req), reply);
    return;
  } catch (const std::exception& e) {
    CountRecovered("http");
    log::Error("http: handler threw",
               {{"server", name}, {"method", method}, {"path", path}, {"error", e.what()}});
  } catch (...) {
    CountRecovered("http");
    log::Error("http: handler threw",
               {{"server", name}, {"method", method}, {"path", path}, {"error", "unknown"}});
  }
  reply(JsonError(500, "internal server error"));
}

void HttpServer::Impl::DoAccept() {
  acceptor->async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (closing || ec == asio::error::operation_aborted) return;
    if (ec) {
      // E.g. EMFILE: back off briefly instead of spinning.
      log::Warn("http: accept failed", {{"server", name}, {"error", ec.message()}});
      accept_retry.emplace(ioc, kAcceptRetryDelay);
      accept_retry->async_wait([this](beast::error_code wec) {
        if (!wec && !closing) DoAccept();
      });
      return;
    }
    if (options.max_connections > 0 && sessions.size() >= options.max_connections && !MakeRoom()) {
      CountClosed("rejected");
      beast::error_code ignored;
      socket.close(ignored);
      DoAccept();
      return;
    }
    beast::error_code opt_ec;
    socket.set_option(tcp::no_delay(true), opt_ec);
    std::make_shared<Session>(std::move(socket), this)->Start();
    DoAccept();
  });
}

bool HttpServer::Impl::MakeRoom() {
  if (waiting.empty()) return false;
  // Evict() takes the session off `waiting` (a session leaves the list in its
  // destructor at the latest, so every entry is alive here).
  auto oldest = waiting.front().lock();
  if (!oldest) return false;
  oldest->Evict();
  return true;
}

void HttpServer::Impl::CloseAll() {
  closing = true;
  beast::error_code ec;
  if (acceptor) acceptor->close(ec);
  if (accept_retry) accept_retry->cancel();
  // Hold strong references while closing so the map cannot change under us.
  std::vector<std::shared_ptr<Conn>> live;
  live.reserve(sessions.size());
  for (auto& [ptr, weak] : sessions) {
    if (auto s = weak.lock()) live.push_back(std::move(s));
  }
  for (auto& s : live) s->Shutdown();
}

// ---------------------------------------------------------------------------

HttpServer::HttpServer(std::string name, HttpServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(name), std::move(options))) {}

HttpServer::~HttpServer() {
  // Only the mutex or a thread join can throw (std::system_error); a destructor
  // has nobody to report that to.
  try {
    Stop();
  } catch (...) {  // NOLINT(bugprone-empty-catch): see above
  }
}

void HttpServer::Handle(std::string method, std::string path, HttpHandler handler,
                        RouteOptions options) {
  MutexLock lock(impl_->routes_mu);
  impl_->AddRoute(std::move(path), false, options).methods[std::move(method)] = std::move(handler);
}

void HttpServer::HandlePrefix(std::string method, std::string prefix, HttpHandler handler,
                              RouteOptions options) {
  MutexLock lock(impl_->routes_mu);
  impl_->AddRoute(std::move(prefix), true, options).methods[std::move(method)] = std::move(handler);
}

void HttpServer::HandlePrefixAsync(std::string method, std::string prefix, AsyncHttpHandler handler,
                                   RouteOptions options) {
  MutexLock lock(impl_->routes_mu);
  impl_->AddRoute(std::move(prefix), true, options).deferred[std::move(method)] =
      std::move(handler);
}

void HttpServer::RaiseBodyLimit(uint64_t bytes) {
  uint64_t cur = impl_->body_limit.load();
  while (bytes > cur && !impl_->body_limit.compare_exchange_weak(cur, bytes)) {
  }
}

void HttpServer::OnBodyTooLarge(std::function<void(const std::string& path)> observer) {
  MutexLock lock(impl_->routes_mu);
  impl_->on_body_too_large = std::move(observer);
}

void HttpServer::HandleEventStream(std::string path, StreamHandler handler, bool prefix,
                                   RouteOptions options) {
  MutexLock lock(impl_->routes_mu);
  auto& route = impl_->AddRoute(std::move(path), prefix, options);
  route.stream = std::move(handler);
  route.stream_kind = StreamKind::kEventStream;
}

void HttpServer::HandleWebSocket(std::string path, StreamHandler handler, bool prefix,
                                 RouteOptions options) {
  MutexLock lock(impl_->routes_mu);
  auto& route = impl_->AddRoute(std::move(path), prefix, options);
  route.stream = std::move(handler);
  route.stream_kind = StreamKind::kWebSocket;
}

size_t HttpServer::ConnectionCount() const { return impl_->conn_count.load(); }

const HttpServerOptions& HttpServer::options() const { return impl_->options; }

size_t HttpServer::StreamCount() const { return impl_->stream_count.load(); }

size_t HttpServer::RouteCount() const {
  MutexLock lock(impl_->routes_mu);
  return impl_->routes.size() + impl_->prefix_routes.size();
}

Result<std::string> HttpServer::Start(const ListenAddress& addr) {
  Impl& im = *impl_;
  MutexLock lock(im.lifecycle_mu);
  if (im.running) return Fail(ErrorCode::kInvalidArgument, "http: server already started");

  const std::string host = addr.host.empty() ? "0.0.0.0" : addr.host;
  const std::string shown = FormatHostPort(host, addr.port);

  beast::error_code ec;
  tcp::endpoint endpoint;
  const auto ip = asio::ip::make_address(host, ec);
  if (!ec) {
    endpoint = tcp::endpoint(ip, addr.port);
  } else {
    tcp::resolver resolver(im.ioc);
    auto results = resolver.resolve(host, std::to_string(addr.port),
                                    tcp::resolver::passive | tcp::resolver::numeric_service, ec);
    if (ec || results.empty()) {
      return Fail(ErrorCode::kIo,
                  "http: resolve " + shown + ": " + (ec ? ec.message() : "no addresses"));
    }
    // Prefer IPv4 for names like "localhost" that resolve to both.
    endpoint = results.begin()->endpoint();
    for (const auto& entry : results) {
      if (entry.endpoint().address().is_v4()) {
        endpoint = entry.endpoint();
        break;
      }
    }
  }

  if (!im.options.tls_cert_file.empty() || !im.options.tls_key_file.empty()) {
    auto ctx = LoadServerTls(im.options.tls_cert_file, im.options.tls_key_file);
    if (!ctx) return Fail(ctx.error().code(), "http: " + ctx.error().message());
    im.tls = std::move(*ctx);
  }
  // A previous Stop() issued from a handler leaves the thread to be joined.
  if (im.thread.joinable()) im.thread.join();
  // io_context may have been run and stopped by a previous Start()/Stop().
  im.ioc.restart();
  im.closing = false;
  tcp::acceptor& acc = im.acceptor.emplace(im.ioc);
  auto fail_io = [&](std::string_view what) {
    beast::error_code ignored;
    acc.close(ignored);
    im.acceptor.reset();
    return Fail(ErrorCode::kIo, "http: " + std::string(what) + " " + shown + ": " + ec.message());
  };
  acc.open(endpoint.protocol(), ec);
  if (ec) return fail_io("open");
  acc.set_option(asio::socket_base::reuse_address(true), ec);
  if (ec) return fail_io("setsockopt");
  acc.bind(endpoint, ec);
  if (ec) return fail_io("bind");
  acc.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail_io("listen");
  const tcp::endpoint bound = acc.local_endpoint(ec);
  if (ec) return fail_io("getsockname");
  im.loopback_only = bound.address().is_loopback();

  im.DoAccept();
  im.running = true;
  im.thread = std::thread(scope::Bind([&im] {
    // Handlers catch their own exceptions; this guards against surprises so
    // the process is never terminated by the I/O thread.
    for (;;) {
      try {
        im.ioc.run();
        break;
      } catch (const std::exception& e) {
        CountRecovered("http");
        log::Error("http: I/O thread exception", {{"server", im.name}, {"error", e.what()}});
      }
    }
  }));
  return FormatEndpoint(bound);
}

void HttpServer::Stop() {
  Impl& im = *impl_;
  MutexLock lock(im.lifecycle_mu);
  if (std::this_thread::get_id() == im.thread.get_id()) {
    // Called from a handler on the I/O thread: close everything; run() then
    // returns on its own and the destructor (on another thread) joins.
    if (im.running) im.CloseAll();
    im.running = false;
    return;
  }
  if (im.running) asio::post(im.ioc, [&im] { im.CloseAll(); });
  im.running = false;
  if (!im.thread.joinable()) return;
  im.thread.join();
  im.acceptor.reset();
  im.accept_retry.reset();
}

}  // namespace pgcdc::net
