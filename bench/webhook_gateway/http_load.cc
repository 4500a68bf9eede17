// http_load: a keep-alive HTTP/1.1 load generator for the webhook gateway
// benchmark (bench/webhook_gateway/webhook_gateway_bench.sh). One thread
// drives `connections` keep-alive connections with poll(); each connection
// sends one request, waits for the whole answer, records its latency and
// sends the next (no pipelining), for `seconds`.
//
//   http_load HOST PORT METHOD PATH CONNECTIONS SECONDS [BODY] [Header: value]...
//
// Prints one line: requests, requests/s, p50/p99/max latency (ms) and the
// number of answers that were not 2xx.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Conn {
  int fd = -1;
  std::string in;
  Clock::time_point sent;
};

int Connect(const char* host, int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, host, &a.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    std::perror("connect");
    std::exit(1);
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

// Length of the first complete response in `in` (0 = incomplete) and its status.
size_t CompleteResponse(const std::string& in, int* status) {
  const size_t end = in.find("\r\n\r\n");
  if (end == std::string::npos) return 0;
  *status = std::atoi(in.c_str() + 9);
  size_t length = 0;
  for (size_t p = in.find("\r\n"); p < end; p = in.find("\r\n", p + 2)) {
    if (strncasecmp(in.c_str() + p + 2, "content-length:", 15) == 0) {
      length = std::strtoul(in.c_str() + p + 17, nullptr, 10);
    }
  }
  return in.size() >= end + 4 + length ? end + 4 + length : 0;
}

void Send(Conn& c, const std::string& request) {
  c.sent = Clock::now();
  if (::send(c.fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    std::perror("send");
    std::exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 7) {
    std::fprintf(stderr,
                 "usage: %s HOST PORT METHOD PATH CONNECTIONS SECONDS [BODY] [Header: v]...\n",
                 argv[0]);
    return 2;
  }
  const char* host = argv[1];
  const int port = std::atoi(argv[2]);
  const std::string method = argv[3];
  const std::string path = argv[4];
  const int connections = std::atoi(argv[5]);
  const double seconds = std::atof(argv[6]);
  const std::string body = argc > 7 ? argv[7] : "";
  std::string request = method + " " + path + " HTTP/1.1\r\nHost: " + host + "\r\n";
  for (int i = 8; i < argc; ++i) request += std::string(argv[i]) + "\r\n";
  if (method != "GET") {
    request +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  request += "\r\n" + body;

  std::vector<Conn> conns(static_cast<size_t>(connections));
  std::vector<pollfd> fds(conns.size());
  for (size_t i = 0; i < conns.size(); ++i) {
    conns[i].fd = Connect(host, port);
    fds[i] = {conns[i].fd, POLLIN, 0};
  }
  std::vector<double> latencies;
  latencies.reserve(1 << 20);
  size_t bad = 0;
  const auto start = Clock::now();
  const auto stop = start + std::chrono::duration<double>(seconds);
  for (auto& c : conns) Send(c, request);
  char buf[65536];
  size_t open = conns.size();
  while (open > 0) {
    if (::poll(fds.data(), fds.size(), 1000) < 0) break;
    for (size_t i = 0; i < conns.size(); ++i) {
      if (fds[i].fd < 0 || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      Conn& c = conns[i];
      const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
      if (n <= 0) {
        std::fprintf(stderr, "connection %zu closed\n", i);
        return 1;
      }
      c.in.append(buf, static_cast<size_t>(n));
      int status = 0;
      const size_t len = CompleteResponse(c.in, &status);
      if (len == 0) continue;
      const auto now = Clock::now();
      latencies.push_back(std::chrono::duration<double, std::milli>(now - c.sent).count());
      if (status < 200 || status > 299) ++bad;
      c.in.erase(0, len);
      if (now < stop) {
        Send(c, request);
      } else {
        ::close(c.fd);
        fds[i].fd = -1;
        --open;
      }
    }
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::sort(latencies.begin(), latencies.end());
  auto pct = [&](double p) {
    return latencies.empty() ? 0.0 : latencies[static_cast<size_t>(p * (latencies.size() - 1))];
  };
  std::printf("requests=%zu rps=%.0f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f non2xx=%zu\n",
              latencies.size(), static_cast<double>(latencies.size()) / elapsed, pct(0.50),
              pct(0.99), latencies.empty() ? 0.0 : latencies.back(), bad);
  return bad == 0 ? 0 : 1;
}
