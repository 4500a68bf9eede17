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
// Extension point for streaming: Session::OnRead() is where, after the
// request head is known, a WebSocket upgrade (beast::websocket::is_upgrade)
// or a streaming (SSE) route would take ownership of the tcp_stream and the
// leftover read buffer and hand them to a different session type, instead of
// the request/response cycle below. Such long-lived sessions should register
// with Impl::sessions the same way so Stop() closes them.

#include "net/http_server.h"

#include <algorithm>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <chrono>
#include <exception>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/log.h"

namespace pgcdc::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr uint64_t kBodyLimit = 1 << 20;                 // 1 MiB
constexpr uint32_t kHeaderLimit = 16 * 1024;             // request line + headers
constexpr auto kReadTimeout = std::chrono::seconds(30);  // idle keep-alive / slow client
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

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

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

}  // namespace

// ---------------------------------------------------------------------------

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

  explicit Impl(std::string n) : name(std::move(n)) {}

  // Returns the response for a parsed request (never throws).
  HttpResponse Dispatch(const HttpRequest& req);
  void DoAccept();
  void CloseAll();  // I/O thread only

  const std::string name;

  std::mutex routes_mu;
  // path -> method -> handler
  std::map<std::string, std::map<std::string, HttpHandler>, std::less<>> routes;

  std::mutex lifecycle_mu;  // serialises Start()/Stop()
  bool running = false;

  // I/O-thread state. Declared before io_context so it outlives handlers that
  // the io_context destroys (sessions unregister in their destructors).
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;
  bool closing = false;

  asio::io_context ioc{1};
  std::optional<tcp::acceptor> acceptor;
  std::optional<asio::steady_timer> accept_retry;
  std::thread thread;
};

class HttpServer::Impl::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Impl* server) : stream_(std::move(socket)), server_(server) {}

  ~Session() { server_->sessions.erase(this); }

  void Start() {
    server_->sessions.emplace(this, weak_from_this());
    DoRead();
  }

  // I/O thread only. Aborts pending operations; their handlers see errors and
  // drop the last references.
  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
  }

 private:
  void DoRead() {
    parser_.emplace();
    parser_->body_limit(kBodyLimit);
    parser_->header_limit(kHeaderLimit);
    stream_.expires_after(kReadTimeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == asio::error::operation_aborted ||
        ec == beast::error::timeout || ec == asio::error::connection_reset ||
        ec == asio::error::eof) {
      Close();
      return;
    }
    if (ec == http::error::body_limit) {
      WriteError(413, "request body too large");
      return;
    }
    if (ec == http::error::header_limit) {
      WriteError(431, "request header fields too large");
      return;
    }
    if (ec) {
      if (server_->closing) {
        Close();
        return;
      }
      // Malformed request or transport error: answer 400 if we can, then close.
      WriteError(400, "bad request");
      return;
    }

    // (Streaming/WebSocket hook: inspect parser_->get() here, see file comment.)
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
    HttpResponse res = server_->Dispatch(req);
    Write(std::move(res), msg.version(), msg.keep_alive(), head);
  }

  void WriteError(int status, std::string_view message) {
    Write(JsonError(status, message), 11, /*keep_alive=*/false, /*head=*/false);
  }

  void Write(HttpResponse r, unsigned version, bool keep_alive, bool head) {
    auto res = std::make_shared<http::response<http::string_body>>();
    res->version(version);
    res->result(static_cast<unsigned>(r.status));
    res->set(http::field::server, "pgcdc");
    if (!r.content_type.empty()) res->set(http::field::content_type, r.content_type);
    for (const auto& [k, v] : r.headers) res->set(k, v);
    res->keep_alive(keep_alive);
    if (head) {
      // Same headers as GET, no body.
      res->content_length(r.body.size());
    } else {
      res->body() = std::move(r.body);
      res->prepare_payload();
    }
    const bool close = !res->keep_alive();
    stream_.expires_after(kWriteTimeout);
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

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Impl* server_;
};

HttpResponse HttpServer::Impl::Dispatch(const HttpRequest& req) {
  HttpHandler handler;
  std::string allow;
  bool path_known = false;
  {
    std::lock_guard lock(routes_mu);
    auto it = routes.find(req.path);
    if (it != routes.end()) {
      path_known = true;
      const auto& methods = it->second;
      auto m = methods.find(req.method);
      if (m == methods.end() && req.method == "HEAD") m = methods.find("GET");
      if (m != methods.end()) {
        handler = m->second;
      } else {
        bool has_head = false;
        for (const auto& [method, h] : methods) {
          if (!allow.empty()) allow += ", ";
          allow += method;
          if (method == "HEAD") has_head = true;
        }
        if (!has_head && methods.contains("GET")) allow += ", HEAD";
      }
    }
  }
  if (!path_known) return JsonError(404, "not found");
  if (!handler) {
    HttpResponse r = JsonError(405, "method not allowed");
    r.headers["Allow"] = allow;
    return r;
  }
  try {
    return handler(req);
  } catch (const std::exception& e) {
    log::Error("http: handler threw",
               {{"server", name}, {"method", req.method}, {"path", req.path}, {"error", e.what()}});
  } catch (...) {
    log::Error(
        "http: handler threw",
        {{"server", name}, {"method", req.method}, {"path", req.path}, {"error", "unknown"}});
  }
  return JsonError(500, "internal server error");
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
    beast::error_code opt_ec;
    socket.set_option(tcp::no_delay(true), opt_ec);
    std::make_shared<Session>(std::move(socket), this)->Start();
    DoAccept();
  });
}

void HttpServer::Impl::CloseAll() {
  closing = true;
  beast::error_code ec;
  if (acceptor) acceptor->close(ec);
  if (accept_retry) accept_retry->cancel();
  // Hold strong references while closing so the map cannot change under us.
  std::vector<std::shared_ptr<Session>> live;
  live.reserve(sessions.size());
  for (auto& [ptr, weak] : sessions) {
    if (auto s = weak.lock()) live.push_back(std::move(s));
  }
  for (auto& s : live) s->Close();
}

// ---------------------------------------------------------------------------

HttpServer::HttpServer(std::string name) : impl_(std::make_unique<Impl>(std::move(name))) {}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Handle(std::string method, std::string path, HttpHandler handler) {
  std::lock_guard lock(impl_->routes_mu);
  impl_->routes[std::move(path)][std::move(method)] = std::move(handler);
}

Result<std::string> HttpServer::Start(const ListenAddress& addr) {
  Impl& im = *impl_;
  std::lock_guard lock(im.lifecycle_mu);
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

  im.DoAccept();
  im.running = true;
  im.thread = std::thread([&im] {
    // Handlers catch their own exceptions; this guards against surprises so
    // the process is never terminated by the I/O thread.
    for (;;) {
      try {
        im.ioc.run();
        break;
      } catch (const std::exception& e) {
        log::Error("http: I/O thread exception", {{"server", im.name}, {"error", e.what()}});
      }
    }
  });
  return FormatEndpoint(bound);
}

void HttpServer::Stop() {
  Impl& im = *impl_;
  std::lock_guard lock(im.lifecycle_mu);
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
