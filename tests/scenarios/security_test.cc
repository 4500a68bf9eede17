// User journey: run pgcdc on a machine other people and other web pages can
// reach. By default its HTTP server listens on loopback only, the console and
// /inspect send no CORS headers, a token (when set) guards every endpoint but
// the health probes, a browser app on another origin may read /events only
// when listed (and gets its preflight answered), the /ws sink refuses foreign
// Origins, and hostile clients (idle floods, slow-loris, random bytes) do not
// keep good clients from their answers and events.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <random>
#include <thread>

#include "harness.h"
#include "test_certs.h"

namespace pgcdc::testing {
namespace {

std::vector<std::string> ListenArgs(std::vector<std::string> extra) {
  std::vector<std::string> args = {
      "listen", "--db", SharedCluster().Url(), "-c", "sec:ev",      "-a",         "stdout",
      "-a",     "sse",  "--sse-replay-buffer", "0",  "--http-addr", "127.0.0.1:0"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

std::unique_ptr<Process> Start(std::vector<std::string> args) {
  auto p = Process::Start({.args = std::move(args)});
  EXPECT_TRUE(p);
  if (p) {
    EXPECT_TRUE(p->WaitForStderr("listening detector=listen_notify")) << p->Stderr();
  }
  return p;
}

// A connected TCP socket to host:port (-1 when the connect fails).
int ConnectTcp(const std::string& host, uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  ::inet_pton(AF_INET, host.c_str(), &sa.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

uint16_t PortOf(const std::string& host_port) {
  return static_cast<uint16_t>(std::stoi(host_port.substr(host_port.rfind(':') + 1)));
}

bool HasHeader(const HttpResult& r, const std::string& line) {
  return r.headers.find(line) != std::string::npos;
}

// The first IPv4 address of this machine that is not loopback ("" if none).
std::string NonLoopbackAddress() {
  auto r = RunCommand({"hostname", "-I"});
  std::string word;
  for (char c : r.output + " ") {
    if (c != ' ' && c != '\n') {
      word += c;
      continue;
    }
    in_addr a{};
    if (!word.empty() && ::inet_pton(AF_INET, word.c_str(), &a) == 1 && !word.starts_with("127.")) {
      return word;
    }
    word.clear();
  }
  return {};
}

TEST(SecurityScenario, DefaultListenerIsLoopbackOnly) {
  // The documented default, as `describe` shows it.
  auto d = RunCommand({PgcdcBinary(), "describe", "--all", "-o", "markdown"});
  EXPECT_NE(d.output.find("127.0.0.1:8080"), std::string::npos) << d.output.substr(0, 2000);

  // Without --http-addr pgcdc serves on 127.0.0.1:8080, not on other addresses.
  auto p = Process::Start(
      {.args = {"listen", "--db", SharedCluster().Url(), "-c", "sec:ev", "-a", "stdout"},
       .own_http_addr = true});
  ASSERT_TRUE(p);
  auto addr = p->HttpAddr();
  if (!addr) {
    // Another process holds port 8080 on this machine: the bind error says
    // which address pgcdc tried.
    p->Wait(20s);
    ASSERT_NE(p->Stderr().find("127.0.0.1:8080"), std::string::npos) << p->Stderr();
    GTEST_SKIP() << "port 8080 busy; checked the address in the bind error only";
  }
  EXPECT_EQ(*addr, "127.0.0.1:8080");
  EXPECT_TRUE(Eventually([&] {
    auto h = HttpGet(*addr, "/healthz");
    return h && h->status == 200;
  }));
  const std::string other = NonLoopbackAddress();
  if (!other.empty()) {
    const int fd = ConnectTcp(other, 8080);
    EXPECT_LT(fd, 0) << "reachable on " << other;
    if (fd >= 0) ::close(fd);
  }
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0);
}

TEST(SecurityScenario, TokenGuardsEverythingButHealth) {
  TempDir dir;
  const std::string token_file = dir.Write("token", "s3cret-token\n");
  auto p = Start(ListenArgs({"--http-auth-token-file", token_file}));
  ASSERT_TRUE(p);
  auto addr = p->HttpAddr();
  ASSERT_TRUE(addr);
  for (const char* path :
       {"/inspect", "/metrics", "/", "/api/stats", "/events", "/debug/threads", "/debug/memory"}) {
    auto r = HttpExchange(*addr, "GET", path, "");
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 401) << path;
    EXPECT_TRUE(HasHeader(*r, "WWW-Authenticate: Bearer realm=\"pgcdc\"")) << r->headers;
  }
  auto wrong = HttpExchange(*addr, "GET", "/inspect", "Authorization: Bearer s3cret\r\n");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  auto ok = HttpExchange(*addr, "GET", "/inspect", "Authorization: Bearer s3cret-token\r\n");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
  // A browser's Basic login with the token as the password (user "me").
  auto basic = HttpExchange(*addr, "GET", "/", "Authorization: Basic bWU6czNjcmV0LXRva2Vu\r\n");
  ASSERT_TRUE(basic);
  EXPECT_EQ(basic->status, 200);
  auto health = HttpGet(*addr, "/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto ready = HttpGet(*addr, "/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  auto refused = ScrapeMetric(
      *p, "pgcdc_http_requests_refused_total{server=\"http\",reason=\"unauthorized\"}");
  EXPECT_FALSE(refused);  // /metrics itself needs the token
  auto m = HttpExchange(*addr, "GET", "/metrics", "Authorization: Bearer s3cret-token\r\n");
  ASSERT_TRUE(m);
  auto n = MetricValue(
      m->body, "pgcdc_http_requests_refused_total{server=\"http\",reason=\"unauthorized\"}");
  ASSERT_TRUE(n) << m->body.substr(0, 500);
  EXPECT_GE(*n, 6);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0);
}

TEST(SecurityScenario, CorsOnlyWhereConfiguredAndWebSocketOriginCheck) {
  auto p = Start(ListenArgs({"-a", "ws", "--sse-cors-origin", "https://app.example"}));
  ASSERT_TRUE(p);
  auto addr = p->HttpAddr();
  ASSERT_TRUE(addr);

  // Preflight for a resuming EventSource polyfill on the listed origin.
  auto pre = HttpExchange(*addr, "OPTIONS", "/events/sec:ev",
                          "Origin: https://app.example\r\n"
                          "Access-Control-Request-Method: GET\r\n"
                          "Access-Control-Request-Headers: last-event-id\r\n");
  ASSERT_TRUE(pre);
  EXPECT_EQ(pre->status, 204);
  EXPECT_TRUE(HasHeader(*pre, "Access-Control-Allow-Origin: https://app.example")) << pre->headers;
  EXPECT_TRUE(HasHeader(*pre, "Last-Event-ID")) << pre->headers;
  EXPECT_TRUE(HasHeader(*pre, "Access-Control-Allow-Methods: GET, OPTIONS")) << pre->headers;
  auto foreign = HttpExchange(*addr, "OPTIONS", "/events", "Origin: https://evil.example\r\n");
  ASSERT_TRUE(foreign);
  EXPECT_EQ(foreign->status, 204);
  EXPECT_FALSE(HasHeader(*foreign, "Access-Control-Allow-Origin")) << foreign->headers;
  // The stream itself echoes the listed origin.
  auto stream = HttpExchange(*addr, "GET", "/events", "Origin: https://app.example\r\n", 1s);
  ASSERT_TRUE(stream);
  EXPECT_TRUE(HasHeader(*stream, "Access-Control-Allow-Origin: https://app.example"))
      << stream->headers;

  // The inspector and console: no CORS at all.
  for (const char* path : {"/inspect", "/inspect/stream", "/api/stats", "/"}) {
    auto r = HttpExchange(*addr, "GET", path, "Origin: https://evil.example\r\n", 1s);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 200) << path;
    EXPECT_FALSE(HasHeader(*r, "Access-Control-Allow-Origin")) << path << "\n" << r->headers;
  }

  // WebSocket: a foreign page is refused, the server's own origin and
  // non-browser clients (no Origin) are let in.
  const std::string upgrade =
      "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
  auto evil = HttpExchange(*addr, "GET", "/ws", upgrade + "Origin: https://evil.example\r\n", 2s);
  ASSERT_TRUE(evil);
  EXPECT_EQ(evil->status, 403) << evil->headers << evil->body;
  auto same = HttpExchange(*addr, "GET", "/ws", upgrade + "Origin: http://" + *addr + "\r\n", 1s);
  ASSERT_TRUE(same);
  EXPECT_EQ(same->status, 101);
  auto tool = HttpExchange(*addr, "GET", "/ws", upgrade, 1s);
  ASSERT_TRUE(tool);
  EXPECT_EQ(tool->status, 101);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0);
}

TEST(SecurityScenario, HostileClientsDoNotStarveGoodOnes) {
  // The default --http-max-connections (1024) with ten times as many idle
  // connections (issue 17: 10 K; fewer where the open-files limit is lower),
  // a slow-loris and a random-bytes client.
  auto p = Start(ListenArgs({"--http-read-timeout", "2s"}));
  ASSERT_TRUE(p);
  auto addr = p->HttpAddr();
  ASSERT_TRUE(addr);
  const uint16_t port = PortOf(*addr);

  rlimit lim{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &lim), 0);
  const int idle_count = static_cast<int>(std::min<rlim_t>(10000, lim.rlim_cur - 200));
  ASSERT_GE(idle_count, 1100) << "open-files limit too low for this test: " << lim.rlim_cur;
  std::vector<int> idle;
  for (int i = 0; i < idle_count; ++i) {
    const int fd = ConnectTcp("127.0.0.1", port);
    if (fd >= 0) idle.push_back(fd);
  }
  EXPECT_EQ(static_cast<int>(idle.size()), idle_count);

  std::atomic<bool> stop{false};
  std::atomic<bool> loris_closed{false};
  std::thread loris([&] {
    const int fd = ConnectTcp("127.0.0.1", port);
    const std::string req = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ";
    for (size_t i = 0; !stop && fd >= 0; ++i) {
      const char c = i < req.size() ? req[i] : 'a';
      if (::send(fd, &c, 1, MSG_NOSIGNAL) != 1) {
        loris_closed = true;
        break;
      }
      // One byte per second is the attack; the test waits on the outcome.
      for (int t = 0; t < 10 && !stop; ++t) std::this_thread::sleep_for(100ms);
    }
    if (fd >= 0) ::close(fd);
  });
  std::mt19937 rng(17);
  for (int i = 0; i < 5; ++i) {
    const int fd = ConnectTcp("127.0.0.1", port);
    ASSERT_GE(fd, 0);
    std::string junk(64 * 1024, '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    (void)::send(fd, junk.data(), junk.size(), MSG_NOSIGNAL);
    ::close(fd);
  }

  // Good clients: health answers and live events, while the flood is open.
  std::thread writer([&] {
    auto conn = Connect();
    for (int n = 0; !stop; ++n) {
      (void)conn.Query("SELECT pg_notify('sec:ev', $1)", {"{\"n\":" + std::to_string(n) + "}"});
      std::this_thread::sleep_for(50ms);  // a steady trickle of events
    }
  });
  int healthy = 0;
  for (int i = 0; i < 20; ++i) {
    auto h = HttpGet(*addr, "/healthz", 5s);
    if (h && h->status == 200) ++healthy;
  }
  EXPECT_EQ(healthy, 20);
  auto events = HttpExchange(*addr, "GET", "/events/sec:ev", "", 2s);
  ASSERT_TRUE(events);
  EXPECT_EQ(events->status, 200);
  EXPECT_NE(events->body.find("event: sec:ev"), std::string::npos) << events->body.substr(0, 300);
  EXPECT_TRUE(Eventually([&] { return loris_closed.load(); }, 20s));
  stop = true;
  loris.join();
  writer.join();

  auto closed = [&](const std::string& reason) {
    return ScrapeMetric(
               *p, "pgcdc_http_connections_closed_total{server=\"http\",reason=\"" + reason + "\"}")
        .value_or(0);
  };
  EXPECT_GE(closed("evicted"), idle_count - 1024);
  EXPECT_GE(closed("read_timeout"), 1);
  EXPECT_GE(closed("bad_request") + closed("header_too_large"), 5);
  for (int fd : idle) ::close(fd);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0);
}

TEST(SecurityScenario, TlsOnTheMainServer) {
  TestCertificates certs;
  ASSERT_TRUE(certs.Generate());
  auto p = Start(ListenArgs({"--sse-tls-cert", certs.dir + "/server.pem", "--sse-tls-key",
                             certs.dir + "/server.key", "--http-auth-token", "tok"}));
  ASSERT_TRUE(p);
  auto addr = p->HttpAddr();
  ASSERT_TRUE(addr);
  EXPECT_NE(p->Stderr().find("addr=" + *addr + " tls=true"), std::string::npos) << p->Stderr();
  const std::string base = "https://" + *addr;
  auto curl = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv = {"curl",       "-sS",
                                     "--max-time", "5",
                                     "--cacert",   certs.dir + "/ca.pem",
                                     "-o",         "/dev/null",
                                     "-w",         "%{http_code} %{ssl_verify_result}"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return RunCommand(argv);
  };
  auto health = curl({base + "/healthz"});
  EXPECT_EQ(health.output, "200 0") << health.output;
  auto denied = curl({base + "/inspect"});
  EXPECT_EQ(denied.output, "401 0") << denied.output;
  auto inspect = curl({"-H", "Authorization: Bearer tok", base + "/inspect"});
  EXPECT_EQ(inspect.output, "200 0") << inspect.output;
  // TLS 1.1 is refused.
  auto old = curl({"--tls-max", "1.1", "--tlsv1.1", base + "/healthz"});
  EXPECT_NE(old.exit_code, 0) << old.output;
  // An SSE stream over TLS delivers events.
  std::thread writer([] {
    auto conn = Connect();
    for (int n = 0; n < 30; ++n) {
      (void)conn.Query("SELECT pg_notify('sec:ev', $1)", {"{\"tls\":" + std::to_string(n) + "}"});
      std::this_thread::sleep_for(100ms);  // events spread over the stream's lifetime
    }
  });
  auto events =
      RunCommand({"curl", "-sS", "-N", "--max-time", "3", "--cacert", certs.dir + "/ca.pem", "-H",
                  "Authorization: Bearer tok", base + "/events/sec:ev"});
  writer.join();
  EXPECT_NE(events.output.find("event: sec:ev"), std::string::npos) << events.output;
  // Plain HTTP on the TLS port gets no answer, and the server keeps serving.
  auto plain = HttpGet(*addr, "/healthz", 2s);
  EXPECT_TRUE(!plain || plain->status != 200);
  EXPECT_EQ(curl({base + "/healthz"}).output, "200 0");
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0);
}

}  // namespace
}  // namespace pgcdc::testing
