// GraphQL subscription fan-out vs the ws sink: the real adapters (their
// Deliver() with real events) on one in-process HttpServer, N real loopback
// WebSocket clients read by one epoll thread. graphql clients speak
// graphql-transport-ws (connection_init + one subscription each, selecting
// `id operation payload { pad }`); ws clients take every envelope. Each
// event's payload holds one '#': a client counts the text frames holding
// one (frames are parsed, so a length byte that happens to be '#' does not
// count).
// The publisher delivers batches and stays at most --window events ahead of
// the slowest client (nobody is dropped); the result is the sustained rate
// at which every client received every event.
//
//   graphql_fanout_bench --sink graphql|ws [--clients 1000] [--events 20000]
//                        [--payload 300] [--batch 64] [--window 512]
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
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "adapter/graphql/graphql_adapter.h"
#include "adapter/stream/broadcast_sink.h"
#include "bench_args.h"
#include "net/broadcaster.h"
#include "net/http_server.h"

using namespace pgcdc;
using bench::StrArg;
using Clock = std::chrono::steady_clock;

namespace {

// A masked client text frame (payload < 64 KiB).
std::string Masked(std::string_view text) {
  std::string f(1, static_cast<char>(0x81));
  if (text.size() < 126) {
    f += static_cast<char>(0x80 | text.size());
  } else {
    f += static_cast<char>(0x80 | 126);
    f += static_cast<char>(text.size() >> 8);
    f += static_cast<char>(text.size() & 0xFF);
  }
  const char mask[4] = {0x5a, 0x13, 0x77, 0x21};
  f.append(mask, 4);
  for (size_t i = 0; i < text.size(); ++i) f += static_cast<char>(text[i] ^ mask[i % 4]);
  return f;
}

std::string Handshake(bool graphql) {
  std::string r = std::string("GET ") + (graphql ? "/graphql" : "/ws") +
                  " HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: "
                  "Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: "
                  "dGhlIHNhbXBsZSBub25jZQ==\r\n";
  if (!graphql) return r + "\r\n";
  r += "Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n";
  r += Masked(R"({"type":"connection_init"})");
  r += Masked(
      R"({"id":"1","type":"subscribe","payload":{"query":"subscription { events { id operation payload { pad } } }"}})");
  return r;
}

adapter::AdapterPtr MakeSink(bool graphql, long window) {
  if (graphql) {
    adapter::graphql::Options o;
    // Counts the batch being written too (up to 512 frames) where the ws
    // queue does not: twice the ws bound keeps both sinks from dropping.
    o.buffer_size = static_cast<size_t>(window) * 4;
    return std::make_unique<adapter::graphql::GraphqlAdapter>(o);
  }
  streamsink::Options o;
  o.name = "ws";
  o.path = "/ws";
  o.route = streamsink::Route::kWebSocket;
  o.encode = [](const Event& e, net::BroadcastFrame& f) {
    f.bytes = std::make_shared<const std::string>(net::EncodeWebSocketText(e.Json()));
  };
  o.client_queue = static_cast<size_t>(window) * 2;
  o.replay_buffer = 0;
  return std::make_unique<streamsink::BroadcastSink>(o);
}

// Counts the complete text frames holding a '#' in `buf` (server frames are
// unmasked), consuming them; a partial frame stays for the next read.
long CountEvents(std::string& buf) {
  long n = 0;
  size_t pos = 0;
  for (;;) {
    if (buf.size() - pos < 2) break;
    const auto b0 = static_cast<uint8_t>(buf[pos]);
    uint64_t len = static_cast<uint8_t>(buf[pos + 1]) & 0x7F;
    size_t hdr = 2;
    if (len == 126) {
      if (buf.size() - pos < 4) break;
      len = (static_cast<uint64_t>(static_cast<uint8_t>(buf[pos + 2])) << 8) |
            static_cast<uint8_t>(buf[pos + 3]);
      hdr = 4;
    } else if (len == 127) {
      if (buf.size() - pos < 10) break;
      len = 0;
      for (size_t k = 2; k < 10; ++k) len = (len << 8) | static_cast<uint8_t>(buf[pos + k]);
      hdr = 10;
    }
    if (buf.size() - pos < hdr + len) break;
    if ((b0 & 0x0F) == 0x1 && std::memchr(buf.data() + pos + hdr, '#', len) != nullptr) ++n;
    pos += hdr + len;
  }
  buf.erase(0, pos);
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  const bool graphql = StrArg(argc, argv, "--sink", "graphql") == "graphql";
  const auto [clients, events, payload, batch, window] = bench::ParseFanoutArgs(argc, argv);

  bench::RaiseFileLimit();

  net::HttpServer server("bench");
  auto sink = MakeSink(graphql, window);
  adapter::Services services;
  services.http = &server;
  if (!sink->Attach(services) || !sink->Open()) return 1;
  auto bound = server.Start({"127.0.0.1", 0});
  if (!bound) return 1;
  const uint16_t port = static_cast<uint16_t>(std::stoi(bound->substr(bound->rfind(':') + 1)));

  const int ep = epoll_create1(0);
  std::vector<int> fds = bench::ConnectClients(clients, port, Handshake(graphql), ep);
  while (sink->Subscribers().value_or(0) < static_cast<size_t>(clients)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }

  std::vector<long> got(static_cast<size_t>(clients), 0);
  std::vector<std::string> pending(static_cast<size_t>(clients));
  std::vector<char> upgraded(static_cast<size_t>(clients), 0);
  std::atomic<long> min_got{0};
  std::atomic<bool> stop{false};
  std::thread reader([&] {
    std::vector<epoll_event> evs(1024);
    std::vector<char> buf(256 * 1024);
    while (!stop.load()) {
      const int n = epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), 100);
      for (int k = 0; k < n; ++k) {
        const size_t i = evs[k].data.u64;
        for (ssize_t r; (r = recv(fds[i], buf.data(), buf.size(), 0)) > 0;) {
          std::string& in = pending[i];
          in.append(buf.data(), static_cast<size_t>(r));
          if (!upgraded[i]) {  // skip the 101 response head
            const size_t head = in.find("\r\n\r\n");
            if (head == std::string::npos) continue;
            in.erase(0, head + 4);
            upgraded[i] = true;
          }
          got[i] += CountEvents(in);
        }
      }
      long m = events;
      for (long c : got) m = std::min(m, c);
      min_got.store(m);
    }
  });

  const std::string data = "{\"pad\":\"" + std::string(static_cast<size_t>(payload), 'x') + "#\"}";
  std::vector<Event> pool;
  for (long j = 0; j < events; ++j) pool.push_back(MakeEvent("bench", "INSERT", data, "bench"));
  std::vector<const Event*> ptrs;
  const auto t0 = Clock::now();
  for (long sent = 0; sent < events;) {
    while (sent - min_got.load() > window) std::this_thread::yield();
    ptrs.clear();
    for (long j = 0; j < batch && sent < events; ++j, ++sent) ptrs.push_back(&pool[sent]);
    if (!sink->Deliver(ptrs)) return 1;
  }
  while (min_got.load() < events && Clock::now() - t0 < std::chrono::minutes(5)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  stop = true;
  reader.join();
  const double deliveries = static_cast<double>(events) * static_cast<double>(clients);
  std::printf(
      "sink=%s clients=%ld events=%ld seconds=%.3f events_per_s_to_all=%.0f "
      "messages_per_s=%.0f subscribers_at_end=%zu\n",
      graphql ? "graphql" : "ws", clients, events, secs, static_cast<double>(events) / secs,
      deliveries / secs, sink->Subscribers().value_or(0));
  sink->Close();
  server.Stop();
  for (int fd : fds) close(fd);
  return min_got.load() == events ? 0 : 1;
}
