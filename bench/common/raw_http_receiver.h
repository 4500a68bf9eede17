// Bench-only: a minimal HTTP/1.1 keep-alive receiver on 127.0.0.1 (one
// thread per connection) that parses just enough (headers + Content-Length),
// answers 200 with an empty body, and answers every complete request in its
// read buffer with one write, as servers do with pipelined requests. It keeps
// measurements about the client side.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace pgcdc::bench {

class RawReceiver {
 public:
  // Called on the connection's thread with each request body (may be empty).
  using OnBody = std::function<void(std::string_view body)>;
  explicit RawReceiver(OnBody on_body = {}) : on_body_(std::move(on_body)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
        ::listen(listen_fd_, 128) != 0) {
      std::perror("bind/listen");
      std::exit(1);
    }
    socklen_t len = sizeof sa;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&sa), &len);
    port_ = ntohs(sa.sin_port);
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }
  ~RawReceiver() {
    stopping_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    ::close(listen_fd_);
    acceptor_.join();
    std::lock_guard lock(mu_);
    for (int fd : conns_) ::shutdown(fd, SHUT_RDWR);
    for (auto& t : workers_) t.join();
  }
  uint16_t port() const { return port_; }
  uint64_t requests() const { return requests_.load(); }

 private:
  void AcceptLoop() {
    while (!stopping_) {
      const int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) break;
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      std::lock_guard lock(mu_);
      conns_.push_back(fd);
      workers_.emplace_back([this, fd] { Serve(fd); });
    }
  }
  // Answers every complete request in the buffer, then writes all their
  // responses at once (as servers do with pipelined requests).
  void Serve(int fd) {
    static constexpr std::string_view kReply =
        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n";
    std::string buf;
    std::string out;
    char chunk[65536];
    size_t pos = 0;  // start of the next unparsed request in buf
    while (true) {
      const ssize_t n = ::read(fd, chunk, sizeof chunk);
      if (n <= 0) return Done(fd);
      buf.append(chunk, static_cast<size_t>(n));
      out.clear();
      while (true) {
        const size_t head_end = buf.find("\r\n\r\n", pos);
        if (head_end == std::string::npos) break;
        size_t length = 0;
        for (const char* name : {"Content-Length:", "content-length:"}) {
          const size_t p = buf.find(name, pos);
          if (p != std::string::npos && p < head_end) {
            length = std::strtoul(buf.c_str() + p + std::strlen(name), nullptr, 10);
          }
        }
        const size_t total = head_end + 4 + length;
        if (buf.size() < total) break;
        if (on_body_) on_body_(std::string_view(buf).substr(head_end + 4, length));
        pos = total;
        requests_.fetch_add(1, std::memory_order_relaxed);
        out.append(kReply);
      }
      buf.erase(0, pos);
      pos = 0;
      if (!out.empty() && ::write(fd, out.data(), out.size()) != static_cast<ssize_t>(out.size())) {
        return Done(fd);
      }
    }
  }
  void Done(int fd) { ::close(fd); }

  OnBody on_body_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> requests_{0};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<int> conns_;
  std::vector<std::thread> workers_;
};

}  // namespace pgcdc::bench
