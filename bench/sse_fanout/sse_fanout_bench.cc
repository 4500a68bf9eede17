// SSE fan-out benchmark: one HttpServer + Broadcaster (the code the sse sink
// runs) in process, N real TCP clients on loopback read by one epoll thread.
// The publisher sends fixed-size frames in batches (as the sink's Deliver()
// does), keeping at most --window events ahead of the slowest client so no
// client is dropped; the result is the sustained rate at which every client
// received every event.
//
//   sse_fanout_bench [--clients 1000] [--events 20000] [--payload 300]
//                    [--batch 64] [--window 512]
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "bench_args.h"
#include "core/metrics.h"
#include "net/broadcaster.h"
#include "net/http_server.h"

using namespace pgcdc;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  const auto [clients, events, payload, batch, window] = bench::ParseFanoutArgs(argc, argv);

  bench::RaiseFileLimit();

  net::HttpServer server("bench");
  net::Broadcaster::Options bo;
  bo.name = "bench";
  bo.client_queue = static_cast<size_t>(window) * 2;
  auto b = std::make_shared<net::Broadcaster>(bo);
  server.HandleEventStream("/events", [b](const net::HttpRequest&) {
    return net::StreamDecision::Accept(b->Subscribe({}, {}));
  });
  auto bound = server.Start({"127.0.0.1", 0});
  if (!bound) {
    std::fprintf(stderr, "start: %s\n", bound.error().message().c_str());
    return 1;
  }
  const uint16_t port = static_cast<uint16_t>(std::stoi(bound->substr(bound->rfind(':') + 1)));

  // Clients: '#' appears exactly once per frame, so counting it counts events.
  const int ep = epoll_create1(0);
  std::vector<long> got(static_cast<size_t>(clients), 0);
  const std::string req = "GET /events HTTP/1.1\r\nHost: b\r\n\r\n";
  std::vector<int> fds = bench::ConnectClients(clients, port, req, ep);
  while (b->clients() < static_cast<size_t>(clients))
    std::this_thread::sleep_for(std::chrono::milliseconds(5));

  std::atomic<long> min_got{0};
  std::atomic<bool> stop{false};
  std::thread reader([&] {
    std::vector<epoll_event> evs(1024);
    std::vector<char> buf(256 * 1024);
    long done = 0;
    while (!stop.load() && done < clients) {
      const int n = epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), 100);
      for (int k = 0; k < n; ++k) {
        const size_t i = evs[k].data.u64;
        for (;;) {
          const ssize_t r = recv(fds[i], buf.data(), buf.size(), 0);
          if (r <= 0) break;
          const char* p = buf.data();
          const char* end = p + r;
          while (
              (p = static_cast<const char*>(std::memchr(p, '#', static_cast<size_t>(end - p))))) {
            ++got[i];
            ++p;
          }
        }
        if (got[i] == events) ++done;  // counted once: '#' never exceeds events
      }
      long m = events;
      for (long c : got) m = std::min(m, c);
      min_got.store(m);
    }
  });

  const std::string data = "{\"pad\":\"" + std::string(static_cast<size_t>(payload), 'x') + "#\"}";
  const auto t0 = Clock::now();
  std::vector<net::BroadcastFrame> frames;
  for (long sent = 0; sent < events;) {
    while (sent - min_got.load() > window) std::this_thread::yield();
    frames.clear();
    for (long j = 0; j < batch && sent < events; ++j, ++sent) {
      net::BroadcastFrame f;
      f.id = std::to_string(sent);
      f.channel = "bench";
      f.bytes = std::make_shared<const std::string>(net::EncodeSseEvent(f.id, f.channel, data));
      frames.push_back(std::move(f));
    }
    b->Publish(frames);
  }
  while (min_got.load() < events && Clock::now() - t0 < std::chrono::minutes(5)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  stop = true;
  reader.join();
  const std::string frame = net::EncodeSseEvent("0000", "bench", data);
  const double deliveries = static_cast<double>(events) * static_cast<double>(clients);
  std::printf(
      "clients=%ld events=%ld frame_bytes~%zu seconds=%.3f events_per_s_to_all=%.0f "
      "deliveries_per_s=%.0f MB_per_s=%.1f connected_at_end=%zu\n",
      clients, events, frame.size(), secs, static_cast<double>(events) / secs, deliveries / secs,
      deliveries * static_cast<double>(frame.size()) / secs / 1e6, b->clients());
  b->CloseAll();
  server.Stop();
  for (int fd : fds) close(fd);
  return min_got.load() == events ? 0 : 1;
}
