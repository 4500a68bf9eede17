// Shared by the plain (non-Google-Benchmark) load programs: `--name value`
// arguments and the file-descriptor limit raised for many client sockets.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace pgcdc::bench {

inline const char* ArgText(int argc, char** argv, const char* name) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
  }
  return nullptr;
}

inline long Arg(int argc, char** argv, const char* name, long def) {
  const char* v = ArgText(argc, argv, name);
  return v != nullptr ? std::atol(v) : def;
}

inline std::string StrArg(int argc, char** argv, const char* name, const char* def) {
  const char* v = ArgText(argc, argv, name);
  return v != nullptr ? v : def;
}

// Raises the soft open-files limit to the hard one.
inline void RaiseFileLimit() {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
}

// The fan-out programs' common arguments (sse_fanout, graphql_fanout).
struct FanoutArgs {
  long clients, events, payload, batch, window;
};

inline FanoutArgs ParseFanoutArgs(int argc, char** argv) {
  return {.clients = Arg(argc, argv, "--clients", 1000),
          .events = Arg(argc, argv, "--events", 20000),
          .payload = Arg(argc, argv, "--payload", 300),
          .batch = Arg(argc, argv, "--batch", 64),
          .window = Arg(argc, argv, "--window", 512)};
}

// Connects `n` non-blocking loopback clients to `port`, sends each `hello`
// (the HTTP request or WebSocket handshake) and registers it with epoll `ep`
// (data = its index). Exits the program when one cannot connect.
inline std::vector<int> ConnectClients(long n, uint16_t port, const std::string& hello, int ep) {
  std::vector<int> fds;
  for (long i = 0; i < n; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
        send(fd, hello.data(), hello.size(), 0) != static_cast<ssize_t>(hello.size())) {
      std::perror("connect");
      std::exit(1);
    }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = static_cast<uint64_t>(i);
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    fds.push_back(fd);
  }
  return fds;
}

}  // namespace pgcdc::bench
