#include "net/http1_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "net/http_server.h"

namespace pgcdc::net {
namespace {

using namespace std::chrono_literals;

TEST(Http1Url, ParsesHostPortAndTarget) {
  struct Case {
    const char* url;
    bool tls;
    const char* host;
    int port;
    const char* target;
    const char* host_header;
  };
  for (const Case& c : {
           Case{"http://example.com/hook?x=1#frag", false, "example.com", 80, "/hook?x=1",
                "example.com"},
           Case{"HTTPS://[::1]:8443", true, "::1", 8443, "/", "[::1]:8443"},
           Case{"http://h:8080?q", false, "h", 8080, "/?q", "h:8080"},
       }) {
    auto u = ParseHttp1Url(c.url);
    ASSERT_TRUE(u) << c.url << ": " << u.error().message();
    EXPECT_EQ(u->tls, c.tls) << c.url;
    EXPECT_EQ(u->host, c.host) << c.url;
    EXPECT_EQ(u->port, c.port) << c.url;
    EXPECT_EQ(u->target, c.target) << c.url;
    EXPECT_EQ(u->host_header, c.host_header) << c.url;
  }
}

TEST(Http1Url, RejectsWhatItCannotSend) {
  for (const char* bad : {"ftp://h/", "h/path", "http:///x", "http://h:0/", "http://h:70000/",
                          "http://user:pw@h/", "http://[::1/", "http://h/a b"}) {
    auto u = ParseHttp1Url(bad);
    EXPECT_FALSE(u) << bad;
    if (!u) {
      EXPECT_NE(u.error().message().find("invalid URL"), std::string::npos);
    }
  }
}

// Feeds `text` to a parser in pieces of `step` bytes.
std::vector<Http1Response> ParseAll(std::string_view text, size_t step, Status* status = nullptr) {
  Http1ResponseParser p(8);
  std::vector<Http1Response> out;
  for (size_t i = 0; i < text.size(); i += step) {
    auto st = p.Feed(text.substr(i, step), out);
    if (!st) {
      if (status) *status = st;
      return out;
    }
  }
  if (status) *status = Ok();
  return out;
}

TEST(Http1ResponseParser, ParsesPipelinedResponsesAtEveryByteBoundary) {
  const std::string text =
      "HTTP/1.1 100 Continue\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
      "HTTP/1.1 503 Busy\r\nRetry-After: 7\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3;ext=1\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nX-Trailer: 1\r\n\r\n"
      "HTTP/1.1 204 No Content\r\n\r\n"
      "HTTP/1.1 400 Bad\r\ncontent-length: 0\r\nConnection: close\r\n\r\n";
  for (size_t step : {1, 2, 3, 7, 64, 4096}) {
    auto out = ParseAll(text, step);
    ASSERT_EQ(out.size(), 4u) << "step " << step;
    EXPECT_EQ(out[0].status, 200);
    EXPECT_EQ(out[0].body, "hello");
    EXPECT_FALSE(out[0].close);
    EXPECT_EQ(out[1].status, 503);
    EXPECT_EQ(out[1].retry_after, "7");
    EXPECT_EQ(out[1].body, "abc01234");  // kept up to max_body (8)
    EXPECT_EQ(out[2].status, 204);
    EXPECT_EQ(out[3].status, 400);
    EXPECT_TRUE(out[3].close);
  }
}

TEST(Http1ResponseParser, BodyUntilCloseCompletesAtEof) {
  Http1ResponseParser p;
  std::vector<Http1Response> out;
  ASSERT_TRUE(p.Feed("HTTP/1.0 200 OK\r\n\r\npartial body", out));
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(p.Eof(out));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].body, "partial body");
  EXPECT_TRUE(out[0].close);
}

TEST(Http1ResponseParser, RejectsMalformedResponses) {
  for (const char* bad :
       {"HTTP/2 200 OK\r\n\r\n", "SMTP ready\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "HTTP/1.1 101 Switching\r\n\r\n"}) {
    Status st = Ok();
    ParseAll(bad, 5, &st);
    EXPECT_FALSE(st) << bad;
    if (!st) {
      EXPECT_NE(st.error().message().find("HTTP response"), std::string::npos);
    }
  }
  // An endless header line is cut off instead of buffered.
  Http1ResponseParser p;
  std::vector<Http1Response> out;
  const std::string line(70 * 1024, 'x');
  EXPECT_FALSE(p.Feed("HTTP/1.1 200 OK\r\nX: " + line, out));
}

std::string Post(const Http1Url& u, const std::string& body, std::string& head) {
  head = "POST " + u.target + " HTTP/1.1\r\nHost: " + u.host_header +
         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n";
  return body;
}

TEST(Http1Connection, PipelinesManyRequestsToARealServerInOrder) {
  HttpServer server("test");
  std::mutex mu;
  std::vector<std::string> seen;
  server.Handle("POST", "/hook", [&](const HttpRequest& r) {
    std::lock_guard lock(mu);
    seen.push_back(r.body);
    HttpResponse resp;
    resp.status = r.body == "\"bad\"" ? 400 : 200;
    resp.body = r.body;
    return resp;
  });
  auto addr = server.Start({"127.0.0.1", 0});
  ASSERT_TRUE(addr) << addr.error().message();
  auto u = ParseHttp1Url("http://" + *addr + "/hook");
  ASSERT_TRUE(u);
  Http1Connection conn(*u, {});
  for (int round = 0; round < 3; ++round) {
    std::vector<std::string> heads(64), bodies(64);
    std::vector<Http1Connection::Request> reqs;
    for (int i = 0; i < 64; ++i) {
      bodies[i] = i == 10 ? "\"bad\"" : "{\"n\":" + std::to_string(round * 100 + i) + "}";
      Post(*u, bodies[i], heads[i]);
    }
    for (int i = 0; i < 64; ++i) reqs.push_back({heads[i], bodies[i]});
    std::vector<Http1Response> out;
    auto st = conn.Exchange(reqs, out, Http1Connection::Clock::now() + 5s);
    ASSERT_TRUE(st) << st.error().message();
    ASSERT_EQ(out.size(), 64u);
    for (int i = 0; i < 64; ++i) {
      EXPECT_EQ(out[i].status, i == 10 ? 400 : 200);
      EXPECT_EQ(out[i].body, bodies[i].substr(0, 256));
    }
  }
  EXPECT_EQ(conn.connects(), 1u);  // one keep-alive connection for all rounds
  std::lock_guard lock(mu);
  ASSERT_EQ(seen.size(), 192u);
  EXPECT_EQ(seen[0], "{\"n\":0}");
  EXPECT_EQ(seen[191], "{\"n\":263}");
  server.Stop();
}

// A scripted one-connection-at-a-time server: `script` gets the request
// bytes read so far and returns what to write (and whether to close).
class ScriptedServer {
 public:
  using Script = std::function<bool(int fd, int connection)>;
  explicit ScriptedServer(Script script) : script_(std::move(script)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) ADD_FAILURE() << "bind";
    ::listen(fd_, 8);
    socklen_t len = sizeof sa;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len);
    port_ = ntohs(sa.sin_port);
    thread_ = std::thread([this] {
      for (int n = 0;; ++n) {
        const int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        const bool keep = script_(c, n);
        ::close(c);
        if (!keep) return;
      }
    });
  }
  ~ScriptedServer() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/x"; }

  // Reads until `count` requests (by counting "\r\n\r\n" + empty bodies).
  static void ReadRequests(int fd, int count) {
    std::string buf;
    char tmp[4096];
    auto complete = [&] {
      int n = 0;
      for (size_t p = buf.find("\r\n\r\n"); p != std::string::npos; p = buf.find("\r\n\r\n", p + 4))
        ++n;
      return n;
    };
    while (complete() < count) {
      const ssize_t r = ::recv(fd, tmp, sizeof tmp, 0);
      if (r <= 0) return;
      buf.append(tmp, static_cast<size_t>(r));
    }
  }
  static void Write(int fd, std::string_view s) { ::send(fd, s.data(), s.size(), MSG_NOSIGNAL); }

 private:
  Script script_;
  int fd_;
  uint16_t port_ = 0;
  std::thread thread_;
};

std::vector<Http1Connection::Request> EmptyPosts(const Http1Url& u, int n,
                                                 std::vector<std::string>& heads) {
  heads.assign(n, "");
  std::vector<Http1Connection::Request> reqs;
  for (int i = 0; i < n; ++i) {
    Post(*&u, "", heads[i]);
    reqs.push_back({heads[i], ""});
  }
  return reqs;
}

// A connection to `url` with `n` empty POSTs ready to send.
struct PostingClient {
  PostingClient(const std::string& url, int n)
      : parsed(ParseHttp1Url(url).value()), conn(parsed, {}), reqs(EmptyPosts(parsed, n, heads)) {}

  Status Exchange(Http1Connection::Clock::time_point deadline) {
    return conn.Exchange(reqs, out, deadline);
  }

  Http1Url parsed;
  Http1Connection conn;
  std::vector<std::string> heads;
  std::vector<Http1Connection::Request> reqs;
  std::vector<Http1Response> out;
};

TEST(Http1Connection, ConnectionCloseMidPipelineReportsTheAnsweredPrefix) {
  ScriptedServer server([](int fd, int conn) {
    ScriptedServer::ReadRequests(fd, 5);
    ScriptedServer::Write(fd,
                          "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
                          "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    return conn == 0;  // serve a second connection too
  });
  PostingClient c(server.Url(), 5);
  auto st = c.Exchange(Http1Connection::Clock::now() + 5s);
  ASSERT_FALSE(st);
  EXPECT_EQ(c.out.size(), 2u);
  EXPECT_NE(st.error().message().find("3 of 5 requests unanswered"), std::string::npos)
      << st.error().message();
  EXPECT_FALSE(c.conn.connected());
  // The next exchange reconnects.
  st = c.Exchange(Http1Connection::Clock::now() + 5s);
  EXPECT_FALSE(st);
  EXPECT_EQ(c.conn.connects(), 2u);
}

TEST(Http1Connection, SilentServerTimesOutAndInterruptIsPrompt) {
  std::atomic<bool> release{false};
  ScriptedServer server([&](int fd, int) {
    ScriptedServer::ReadRequests(fd, 1);
    while (!release) std::this_thread::sleep_for(5ms);
    return false;
  });
  PostingClient c(server.Url(), 1);
  auto st = c.Exchange(Http1Connection::Clock::now() + 200ms);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), ErrorCode::kTimeout) << st.error().message();

  // Interrupt from another thread ends a long wait early.
  std::thread t([&] {
    std::this_thread::sleep_for(100ms);
    c.conn.Interrupt();
  });
  const auto start = Http1Connection::Clock::now();
  st = c.Exchange(start + 30s);
  t.join();
  ASSERT_FALSE(st);
  EXPECT_LT(Http1Connection::Clock::now() - start, 10s);
  release = true;
}

// A peer that never stops sending (a body that runs until close) must not
// keep Exchange() past its deadline.
TEST(Http1Connection, EndlessResponseStopsAtTheDeadline) {
  std::atomic<bool> stop{false};
  ScriptedServer server([&](int fd, int) {
    ScriptedServer::ReadRequests(fd, 1);
    ScriptedServer::Write(fd, "HTTP/1.1 200 OK\r\n\r\n");
    const std::string chunk(16 * 1024, 'z');
    while (!stop) {
      if (::send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL) < 0) break;
    }
    return false;
  });
  PostingClient c(server.Url(), 1);
  const auto start = Http1Connection::Clock::now();
  auto st = c.Exchange(start + 300ms);
  const auto took = Http1Connection::Clock::now() - start;
  stop = true;
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), ErrorCode::kTimeout) << st.error().message();
  EXPECT_LT(took, 5s);
  EXPECT_FALSE(c.conn.connected());
}

TEST(Http1Connection, UnreachablePeerIsAConnectionError) {
  // Bind a port, then close it so nothing listens there.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) ADD_FAILURE() << "bind";
  socklen_t len = sizeof sa;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  ::close(fd);
  PostingClient c("http://127.0.0.1:" + std::to_string(ntohs(sa.sin_port)) + "/", 1);
  auto st = c.Exchange(Http1Connection::Clock::now() + 2s);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), ErrorCode::kConnection);
  EXPECT_NE(st.error().message().find("cannot connect"), std::string::npos);
}

}  // namespace
}  // namespace pgcdc::net
