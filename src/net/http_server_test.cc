#include "net/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/bytes.h"
#include "core/metrics.h"
#include "net/test_socket.h"

namespace pgcdc::net {
namespace {

struct RawResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-cased names
  std::string body;
};

uint16_t PortOf(const std::string& hostport) {
  return static_cast<uint16_t>(std::stoi(hostport.substr(hostport.rfind(':') + 1)));
}

// Minimal blocking HTTP/1.1 client over a POSIX socket (5 s receive timeout).
class Client : public testing::LoopbackSocket {
 public:
  using LoopbackSocket::LoopbackSocket;

  std::optional<RawResponse> Read(bool head = false) {
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return std::nullopt;
    }
    RawResponse r;
    const std::string head_text = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    size_t line_end = head_text.find("\r\n");
    const std::string status_line = head_text.substr(0, line_end);
    r.status = std::stoi(status_line.substr(status_line.find(' ') + 1, 3));
    while (line_end != std::string::npos) {
      const size_t start = line_end + 2;
      line_end = head_text.find("\r\n", start);
      const std::string line = head_text.substr(start, line_end - start);
      const size_t colon = line.find(':');
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      // A repeated header keeps every value, one per line.
      auto [it, fresh] = r.headers.try_emplace(name, value);
      if (!fresh) it->second += "\n" + value;
    }
    size_t length = 0;
    if (!head && r.headers.contains("content-length")) {
      length = std::stoul(r.headers["content-length"]);
    }
    while (buf_.size() < length) {
      if (!Fill()) return std::nullopt;
    }
    r.body = buf_.substr(0, length);
    buf_.erase(0, length);
    return r;
  }

  // True when the server closes the connection (EOF or reset) within the
  // receive timeout.
  bool WaitClosed() {
    char c;
    const ssize_t n = recv(fd_, &c, 1, 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
  }

 private:
  bool Fill() {
    char tmp[4096];
    const ssize_t n = recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }

  std::string buf_;
};

std::optional<RawResponse> Roundtrip(uint16_t port, const std::string& request, bool head = false) {
  Client c(port);
  if (!c.connected() || !c.Send(request)) return std::nullopt;
  return c.Read(head);
}

// The answer to `request` on a new connection to `port`, after checking that
// one came and has `status` (an empty response when none came).
RawResponse Answer(uint16_t port, const std::string& request, int status) {
  auto r = Roundtrip(port, request);
  EXPECT_TRUE(r.has_value()) << request;
  if (!r) return {};
  EXPECT_EQ(r->status, status) << request;
  return std::move(*r);
}

std::string Get(std::string_view target, std::string_view extra_headers = "") {
  std::string r = "GET ";
  r.append(target).append(" HTTP/1.1\r\nHost: localhost\r\n").append(extra_headers).append("\r\n");
  return r;
}

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.Handle("GET", "/hello", [](const HttpRequest& req) {
      HttpResponse r;
      r.content_type = "text/plain; charset=utf-8";
      r.body = "hello";
      r.headers["X-Test"] = "yes";
      return r;
    });
    server_.Handle("GET", "/echo", [](const HttpRequest& req) {
      HttpResponse r;
      r.content_type = "text/plain";
      r.body = "method=" + req.method + "\npath=" + req.path + "\ntarget=" + req.target + "\n";
      for (const auto& [k, v] : req.query) r.body += "q:" + k + "=" + v + "\n";
      auto it = req.headers.find("x-custom-header");
      if (it != req.headers.end()) r.body += "h:" + it->second + "\n";
      r.body += "body=" + req.body;
      return r;
    });
    server_.Handle("POST", "/echo", [](const HttpRequest& req) {
      HttpResponse r;
      r.status = 201;
      r.body = "{\"len\":" + std::to_string(req.body.size()) + "}";
      return r;
    });
    server_.Handle("GET", "/throw",
                   [](const HttpRequest&) -> HttpResponse { throw std::runtime_error("boom"); });
    auto bound = server_.Start(ListenAddress{"127.0.0.1", 0});
    ASSERT_TRUE(bound.has_value()) << bound.error().message();
    address_ = *bound;
    port_ = PortOf(address_);
  }

  HttpServer server_{"test"};
  std::string address_;
  uint16_t port_ = 0;
};

TEST_F(HttpServerTest, ReportsBoundAddress) {
  EXPECT_TRUE(address_.starts_with("127.0.0.1:")) << address_;
  EXPECT_NE(port_, 0);
}

TEST_F(HttpServerTest, GetRoute) {
  auto r = Answer(port_, Get("/hello"), 200);
  EXPECT_EQ(r.body, "hello");
  EXPECT_EQ(r.headers["content-type"], "text/plain; charset=utf-8");
  EXPECT_EQ(r.headers["content-length"], "5");
  EXPECT_EQ(r.headers["x-test"], "yes");
}

TEST_F(HttpServerTest, HeadLikeGetWithoutBody) {
  Client c(port_);
  ASSERT_TRUE(c.Send("HEAD /hello HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  auto r = c.Read(/*head=*/true);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->headers["content-length"], "5");
  // No body bytes follow: the next response on the connection starts at once.
  ASSERT_TRUE(c.Send(Get("/hello")));
  auto r2 = c.Read();
  ASSERT_TRUE(r2.has_value());
  EXPECT_EQ(r2->status, 200);
  EXPECT_EQ(r2->body, "hello");
}

TEST_F(HttpServerTest, NotFound) {
  auto r = Answer(port_, Get("/nope"), 404);
  EXPECT_EQ(r.body, "{\"error\":\"not found\"}");
  EXPECT_EQ(r.headers["content-type"], "application/json");
}

TEST_F(HttpServerTest, MethodNotAllowed) {
  auto r = Answer(port_, "DELETE /echo HTTP/1.1\r\nHost: localhost\r\n\r\n", 405);
  EXPECT_EQ(r.headers["allow"], "GET, POST, HEAD");
  EXPECT_EQ(r.body, "{\"error\":\"method not allowed\"}");

  auto r2 =
      Answer(port_, "POST /hello HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n", 405);
  EXPECT_EQ(r2.headers["allow"], "GET, HEAD");
}

TEST_F(HttpServerTest, QueryHeadersAndBody) {
  auto r = Answer(port_,
                  Get("/echo?a=1&b=hello+world&c=%2F%3D%26&d&e=%zz&a=2", "X-Custom-Header: v1\r\n"),
                  200);
  EXPECT_EQ(r.body,
            "method=GET\npath=/echo\ntarget=/echo?a=1&b=hello+world&c=%2F%3D%26&d&e=%zz&a=2\n"
            "q:a=1\nq:b=hello world\nq:c=/=&\nq:d=\nq:e=%zz\nh:v1\nbody=");

  auto p = Answer(port_,
                  "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 11\r\n\r\nhello world",
                  201);
  EXPECT_EQ(p.body, "{\"len\":11}");
}

TEST_F(HttpServerTest, KeepAliveTwoRequestsOneConnection) {
  Client c(port_);
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.Send(Get("/hello")));
  auto r1 = c.Read();
  ASSERT_TRUE(r1.has_value());
  EXPECT_EQ(r1->status, 200);
  ASSERT_TRUE(c.Send(Get("/echo?x=y")));
  auto r2 = c.Read();
  ASSERT_TRUE(r2.has_value());
  EXPECT_EQ(r2->status, 200);
  EXPECT_NE(r2->body.find("q:x=y"), std::string::npos);
}

TEST_F(HttpServerTest, PipelinedRequests) {
  Client c(port_);
  ASSERT_TRUE(c.Send(Get("/hello") + Get("/nope")));
  auto r1 = c.Read();
  auto r2 = c.Read();
  ASSERT_TRUE(r1.has_value() && r2.has_value());
  EXPECT_EQ(r1->status, 200);
  EXPECT_EQ(r2->status, 404);
}

TEST_F(HttpServerTest, ConnectionCloseHonoured) {
  Client c(port_);
  ASSERT_TRUE(c.Send(Get("/hello", "Connection: close\r\n")));
  auto r = c.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->headers["connection"], "close");
  EXPECT_TRUE(c.WaitClosed());
}

TEST_F(HttpServerTest, HandlerExceptionBecomes500) {
  auto& recovered = metrics::Default()
                        .AddCounter("pgcdc_panics_recovered_total", "", {"component"})
                        .With({"http"});
  const uint64_t before = recovered.Value();
  auto r = Answer(port_, Get("/throw"), 500);
  EXPECT_EQ(r.body, "{\"error\":\"internal server error\"}");
  EXPECT_EQ(recovered.Value(), before + 1);  // counted as a recovered failure
  // The server still works afterwards.
  Answer(port_, Get("/hello"), 200);
}

TEST_F(HttpServerTest, BodyTooLarge) {
  Answer(port_, "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2000000\r\n\r\n", 413);
}

TEST_F(HttpServerTest, MalformedRequestIs400) { Answer(port_, "THIS IS NOT HTTP\r\n\r\n", 400); }

TEST_F(HttpServerTest, StartTwiceFails) {
  auto again = server_.Start(ListenAddress{"127.0.0.1", 0});
  EXPECT_FALSE(again.has_value());
}

TEST_F(HttpServerTest, BindErrorWhenPortInUse) {
  HttpServer other("other");
  auto r = other.Start(ListenAddress{"127.0.0.1", port_});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kIo);
  EXPECT_EQ(r.error().message(),
            "http: bind 127.0.0.1:" + std::to_string(port_) + ": Address already in use");
}

TEST_F(HttpServerTest, StopWithIdleConnectionIsPrompt) {
  Client idle(port_);
  ASSERT_TRUE(idle.connected());
  Client kept(port_);
  ASSERT_TRUE(kept.Send(Get("/hello")));
  ASSERT_TRUE(kept.Read().has_value());  // keep-alive connection now idle too
  const auto t0 = std::chrono::steady_clock::now();
  server_.Stop();
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(elapsed, std::chrono::seconds(1));
  EXPECT_TRUE(idle.WaitClosed());
  EXPECT_TRUE(kept.WaitClosed());
  server_.Stop();  // idempotent
  // The port is released.
  Client refused(port_);
  EXPECT_FALSE(refused.connected());
}

TEST_F(HttpServerTest, RestartAfterStop) {
  server_.Stop();
  auto bound = server_.Start(ListenAddress{"127.0.0.1", 0});
  ASSERT_TRUE(bound.has_value()) << bound.error().message();
  Answer(PortOf(*bound), Get("/hello"), 200);
}

TEST(HttpServerStandaloneTest, StopBeforeStartAndDestructor) {
  HttpServer s("x");
  s.Stop();
  s.Stop();
}

TEST(HttpServerStandaloneTest, AllInterfacesAndRoutesAddedAfterStart) {
  HttpServer s("x");
  auto bound = s.Start(ListenAddress{"", 0});
  ASSERT_TRUE(bound.has_value()) << bound.error().message();
  EXPECT_TRUE(bound->starts_with("0.0.0.0:")) << *bound;
  s.Handle("GET", "/late", [](const HttpRequest&) {
    HttpResponse r;
    r.body = "{}";
    return r;
  });
  auto r = Answer(PortOf(*bound), Get("/late"), 200);
  EXPECT_EQ(r.body, "{}");
}

TEST(HttpServerStandaloneTest, ResolvesHostNames) {
  HttpServer s("x");
  s.Handle("GET", "/", [](const HttpRequest&) { return HttpResponse{}; });
  auto bound = s.Start(ListenAddress{"localhost", 0});
  ASSERT_TRUE(bound.has_value()) << bound.error().message();
  EXPECT_TRUE(bound->starts_with("127.0.0.1:")) << *bound;
  Answer(PortOf(*bound), Get("/"), 200);

  HttpServer bad("y");
  auto err = bad.Start(ListenAddress{"no-such-host.invalid", 0});
  ASSERT_FALSE(err.has_value());
  EXPECT_EQ(err.error().code(), ErrorCode::kIo);
  EXPECT_TRUE(err.error().message().starts_with("http: resolve no-such-host.invalid:0: "))
      << err.error().message();
}

TEST(HttpServerStandaloneTest, StopFromHandler) {
  HttpServer s("x");
  std::atomic<bool> called{false};
  s.Handle("POST", "/quit", [&](const HttpRequest&) {
    called = true;
    s.Stop();
    return HttpResponse{};
  });
  auto bound = s.Start(ListenAddress{"127.0.0.1", 0});
  ASSERT_TRUE(bound.has_value());
  Client c(PortOf(*bound));
  ASSERT_TRUE(c.Send("POST /quit HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n"));
  c.Read();  // may or may not arrive; must not hang past the timeout
  EXPECT_TRUE(called);
  // Destructor joins the I/O thread.
}

TEST(HttpServerStandaloneTest, DeferredRepliesFromAnotherThread) {
  HttpServer s("x");
  std::vector<std::thread> repliers;  // I/O thread only until Stop()
  s.HandlePrefixAsync("POST", "/later/", [&](HttpRequest&& req, const HttpReply& reply) {
    repliers.emplace_back([path = req.path, size = req.body.size(), reply] {
      HttpResponse r;
      r.status = 202;
      r.body = path + " " + std::to_string(size);
      reply(r);
      reply(HttpResponse{});  // a second reply is ignored
    });
  });
  s.RaiseBodyLimit(2 << 20);
  s.RaiseBodyLimit(1);                 // never lowers it
  std::vector<std::string> too_large;  // I/O thread only until Stop()
  s.OnBodyTooLarge([&](const std::string& path) { too_large.push_back(path); });
  auto bound = s.Start(ListenAddress{"127.0.0.1", 0});
  ASSERT_TRUE(bound.has_value());
  const uint16_t port = PortOf(*bound);
  {
    // Keep-alive: the next request is read once the deferred reply was written.
    Client c(port);
    for (const char* path : {"/later/a", "/later/b"}) {
      ASSERT_TRUE(c.Send(std::string("POST ") + path +
                         " HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\n\r\nabc"));
      auto r = c.Read();
      ASSERT_TRUE(r.has_value());
      EXPECT_EQ(r->status, 202);
      EXPECT_EQ(r->body, std::string(path) + " 3");
    }
  }
  auto get = Answer(port, "GET /later/a HTTP/1.1\r\nHost: localhost\r\n\r\n", 405);
  EXPECT_EQ(get.headers["allow"], "POST");
  const std::string big(1536 * 1024, 'x');  // above the default 1 MiB, below the raised limit
  auto r = Answer(port,
                  "POST /later/big HTTP/1.1\r\nHost: localhost\r\nContent-Length: " +
                      std::to_string(big.size()) + "\r\n\r\n" + big,
                  202);
  EXPECT_EQ(r.body, "/later/big " + std::to_string(big.size()));
  Answer(port,
         "POST /later/huge?x=1 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3000000\r\n\r\n",
         413);
  s.Stop();
  for (auto& t : repliers) t.join();
  EXPECT_EQ(too_large, std::vector<std::string>{"/later/huge"});
}

TEST(ParseListenAddressTest, Valid) {
  struct Case {
    const char* text;
    const char* host;
    int port;
  } cases[] = {
      {":8080", "", 8080},
      {"127.0.0.1:0", "127.0.0.1", 0},
      {"[::1]:9000", "::1", 9000},
      {"localhost:80", "localhost", 80},
      {"0.0.0.0:65535", "0.0.0.0", 65535},
  };
  for (const Case& c : cases) {
    auto a = ParseListenAddress(c.text);
    ASSERT_TRUE(a.has_value()) << c.text;
    EXPECT_EQ(a->host, c.host) << c.text;
    EXPECT_EQ(a->port, c.port) << c.text;
  }
}

TEST(ParseListenAddressTest, Invalid) {
  for (const char* bad :
       {"", "8080", "localhost", "localhost:", ":", "host:abc", "host:80x", "host:-1", "host:65536",
        "host:99999999999", "::1:9000", "[::1]", "[::1]9000", "[::1:9000", "[]:80", "[::1]:"}) {
    auto r = ParseListenAddress(bad);
    EXPECT_FALSE(r.has_value()) << bad;
    if (!r.has_value()) {
      EXPECT_NE(r.error().message().find("invalid listen address"), std::string::npos) << bad;
    }
  }
}

TEST(HttpServerIpv6Test, BindsLoopbackV6) {
  HttpServer s("v6");
  auto bound = s.Start(ListenAddress{"::1", 0});
  if (!bound.has_value()) GTEST_SKIP() << "no IPv6 loopback: " << bound.error().message();
  EXPECT_TRUE(bound->starts_with("[::1]:")) << *bound;
}

// ---------------------------------------------------------------------------
// Hardening: authentication, Host check, limits.

TEST(HttpAuthTest, BearerBasicAndConstantTimeCompare) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("secret", "secret"));
  EXPECT_FALSE(ConstantTimeEquals("secret", "secreT"));
  EXPECT_FALSE(ConstantTimeEquals("secret", "secret2"));
  EXPECT_FALSE(ConstantTimeEquals("", "x"));

  HttpAuth none;
  EXPECT_TRUE(HttpAuthorized(none, ""));
  HttpAuth token{.bearer_token = "s3cret"};
  EXPECT_TRUE(HttpAuthorized(token, "Bearer s3cret"));
  EXPECT_TRUE(HttpAuthorized(token, "bearer  s3cret"));
  EXPECT_FALSE(HttpAuthorized(token, "Bearer s3cre"));
  EXPECT_FALSE(HttpAuthorized(token, "Bearer "));
  EXPECT_FALSE(HttpAuthorized(token, ""));
  EXPECT_FALSE(HttpAuthorized(token, "s3cret"));
  // Basic with any user and the token as the password ("u:s3cret", ":s3cret").
  EXPECT_TRUE(HttpAuthorized(token, "Basic dTpzM2NyZXQ="));
  EXPECT_TRUE(HttpAuthorized(token, "Basic OnMzY3JldA=="));
  EXPECT_FALSE(HttpAuthorized(token, "Basic dTp3cm9uZw=="));  // u:wrong
  EXPECT_FALSE(HttpAuthorized(token, "Basic !!!"));
  EXPECT_FALSE(HttpAuthorized(token, "Basic dQ=="));  // "u": no colon

  HttpAuth basic{.basic_user = "admin", .basic_password = "pw"};
  EXPECT_TRUE(HttpAuthorized(basic, "Basic YWRtaW46cHc="));   // admin:pw
  EXPECT_FALSE(HttpAuthorized(basic, "Basic dXNlcjpwdw=="));  // user:pw
  EXPECT_FALSE(HttpAuthorized(basic, "Bearer pw"));
}

TEST(HttpAuthTest, LoopbackHostNames) {
  for (const char* ok : {"localhost", "LOCALHOST:8080", "app.localhost", "127.0.0.1", "127.0.0.1:9",
                         "127.1.2.3:80", "[::1]", "[::1]:8080"}) {
    EXPECT_TRUE(IsLoopbackHost(ok)) << ok;
  }
  for (const char* bad : {"", "evil.example", "evil.example:8080", "localhost.evil.example",
                          "10.0.0.1:8080", "[::2]:80", "[::1", "128.0.0.1", "xlocalhost"}) {
    EXPECT_FALSE(IsLoopbackHost(bad)) << bad;
  }
}

HttpResponse Text(std::string body) {
  HttpResponse r;
  r.content_type = "text/plain";
  r.body = std::move(body);
  return r;
}

TEST(HttpServerHardeningTest, AuthPublicRoutesPreflightAndHostCheck) {
  HttpServer s("auth", {.auth = {.bearer_token = "tok"}});
  s.Handle("GET", "/private", [](const HttpRequest&) { return Text("private"); });
  s.Handle("GET", "/open", [](const HttpRequest&) { return Text("open"); }, {.public_route = true});
  s.Handle("OPTIONS", "/private", [](const HttpRequest&) { return Text("preflight"); });
  auto bound = s.Start(ListenAddress{"127.0.0.1", 0});
  ASSERT_TRUE(bound.has_value());
  const uint16_t port = PortOf(*bound);

  auto r = Answer(port, Get("/private"), 401);
  // One challenge per line, Basic first: browsers read only a line's first challenge.
  EXPECT_EQ(r.headers["www-authenticate"],
            "Basic realm=\"pgcdc\", charset=\"UTF-8\"\nBearer realm=\"pgcdc\"");
  Answer(port, Get("/private", "Authorization: Bearer nope\r\n"), 401);
  EXPECT_EQ(Answer(port, Get("/private", "Authorization: Bearer tok\r\n"), 200).body, "private");
  EXPECT_EQ(Answer(port, Get("/open"), 200).body, "open");
  // Unknown paths do not tell whether they exist.
  Answer(port, Get("/nothing"), 401);
  Answer(port, Get("/nothing", "Authorization: Bearer tok\r\n"), 404);
  EXPECT_EQ(Answer(port, "OPTIONS /private HTTP/1.1\r\nHost: localhost\r\n\r\n", 200).body,
            "preflight");

  // DNS rebinding: a loopback listener only answers loopback Host names.
  auto host = Answer(port, "GET /open HTTP/1.1\r\nHost: evil.example:8080\r\n\r\n", 403);
  EXPECT_NE(host.body.find("host not allowed"), std::string::npos) << host.body;
  Answer(port, "GET /open HTTP/1.1\r\nHost: 127.0.0.1:1\r\n\r\n", 200);
  Answer(port, "GET /open HTTP/1.0\r\n\r\n", 200);  // no Host at all

  HttpServer off("off", {.loopback_host_check = false});
  off.Handle("GET", "/", [](const HttpRequest&) { return Text("x"); });
  auto off_bound = off.Start(ListenAddress{"127.0.0.1", 0});
  ASSERT_TRUE(off_bound.has_value());
  Answer(PortOf(*off_bound), "GET / HTTP/1.1\r\nHost: proxy.example\r\n\r\n", 200);
}

TEST(HttpServerHardeningTest, SlowLorisAndIdleConnectionsAreClosed) {
  using std::chrono::milliseconds;
  HttpServer s("slow", {.read_timeout = milliseconds(300), .idle_timeout = milliseconds(600)});
  s.Handle("GET", "/", [](const HttpRequest&) { return Text("x"); });
  auto bound = s.Start(ListenAddress{"127.0.0.1", 0});
  ASSERT_TRUE(bound.has_value());
  const uint16_t port = PortOf(*bound);

  // A request trickling in never completes: closed after read_timeout
  // although bytes keep arriving.
  Client loris(port);
  ASSERT_TRUE(loris.Send("GET / HTTP/1.1\r\n"));
  const auto t0 = std::chrono::steady_clock::now();
  bool closed = false;
  while (!closed && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5)) {
    // One byte per 50 ms (the attack's pace); a send fails once the server
    // has closed the connection.
    std::this_thread::sleep_for(milliseconds(50));
    closed = !loris.Send("X");
  }
  EXPECT_TRUE(closed);
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(took, milliseconds(250));
  EXPECT_LT(took, std::chrono::seconds(3));

  // A kept-alive connection is closed after idle_timeout, not read_timeout.
  Client kept(port);
  ASSERT_TRUE(kept.Send(Get("/")));
  ASSERT_TRUE(kept.Read().has_value());
  const auto t1 = std::chrono::steady_clock::now();
  EXPECT_TRUE(kept.WaitClosed());
  const auto idle = std::chrono::steady_clock::now() - t1;
  EXPECT_GE(idle, milliseconds(500));
  EXPECT_LT(idle, milliseconds(3000));
}

TEST(HttpServerHardeningTest, FullServerEvictsTheOldestWaitingConnection) {
  HttpServer s("cap", {.max_connections = 4});
  s.Handle("GET", "/", [](const HttpRequest&) { return Text("x"); });
  auto bound = s.Start(ListenAddress{"127.0.0.1", 0});
  ASSERT_TRUE(bound.has_value());
  const uint16_t port = PortOf(*bound);
  std::vector<std::unique_ptr<Client>> idle;
  for (int i = 0; i < 4; ++i) {
    idle.push_back(std::make_unique<Client>(port));
    ASSERT_TRUE(idle.back()->connected());
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (s.ConnectionCount() < 4 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  ASSERT_EQ(s.ConnectionCount(), 4u);
  // A good client still gets its answer; the oldest idle one made room.
  EXPECT_EQ(Answer(port, Get("/"), 200).body, "x");
  EXPECT_TRUE(idle.front()->WaitClosed());
  EXPECT_LE(s.ConnectionCount(), 4u);
}

TEST(HttpServerHardeningTest, HeaderCapIsConfigurable) {
  HttpServer s("hdr", {.max_header_bytes = 2048, .max_body_bytes = 10});
  s.Handle("POST", "/", [](const HttpRequest&) { return Text("x"); });
  auto bound = s.Start(ListenAddress{"127.0.0.1", 0});
  ASSERT_TRUE(bound.has_value());
  const uint16_t port = PortOf(*bound);
  const std::string big(4096, 'a');
  Answer(port, "POST / HTTP/1.1\r\nHost: localhost\r\nX-Big: " + big + "\r\n\r\n", 431);
  Answer(port, "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 11\r\n\r\nhello world", 413);
  Answer(port, "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello", 200);
}

}  // namespace
}  // namespace pgcdc::net
