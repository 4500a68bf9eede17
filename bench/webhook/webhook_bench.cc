// Webhook delivery throughput: the real webhook adapter (WebhookDeliverer
// behind middleware::ReliableAdapter, libcurl keep-alive) POSTs events to a
// receiver on 127.0.0.1, per event at several concurrencies and batched.
// Reports events/s and requests/s for each configuration.
//
// Receivers:
//   raw   (default) a minimal HTTP/1.1 keep-alive responder, one thread per
//         connection, that parses just enough (headers + Content-Length) and
//         answers 200 with an empty body; it keeps the measurement about the
//         client side.
//   beast the project's net::HttpServer (one I/O thread), as used by the
//         scenario tests' receiver.
//
// Usage: webhook_bench [--events N] [--receiver raw|beast] [--deliver-size N]
//                      [--only c1|c4|c16|b100|b100c4|p32|p32c4|p64c16]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "adapter/middleware/middleware.h"
#include "adapter/webhook/webhook_adapter.h"
#include "core/event.h"
#include "core/log.h"
#include "dlq/dlq.h"
#include "net/http_server.h"
#include "raw_http_receiver.h"

namespace {

using Clock = std::chrono::steady_clock;

// --- benchmark -----------------------------------------------------------------

struct Config {
  const char* label;
  size_t concurrency;
  size_t batch;
  size_t pipeline = 1;
};

struct Result {
  double events_per_s = 0;
  double requests_per_s = 0;
  uint64_t requests = 0;
};

Result Run(const std::string& url, const Config& c, const std::vector<const pgcdc::Event*>& all,
           size_t deliver_size, const std::function<uint64_t()>& received) {
  pgcdc::middleware::Options mo;
  mo.concurrency = c.concurrency;
  mo.batch_size = c.batch;
  pgcdc::adapter::webhook::Options wo;
  wo.url = url;
  wo.signing_key = "bench-signing-key";  // include the HMAC cost
  wo.batch = c.batch > 1;
  wo.pipeline = c.pipeline;
  auto dlq = pgcdc::dlq::Make({.type = "none"});
  pgcdc::middleware::ReliableAdapter adapter(
      "webhook", mo, std::make_unique<pgcdc::adapter::webhook::WebhookDeliverer>(wo));
  pgcdc::adapter::Services services;
  services.dlq = dlq->get();
  if (!adapter.Attach(services) || !adapter.Open()) {
    std::fprintf(stderr, "cannot open the adapter\n");
    std::exit(1);
  }
  const uint64_t before = received();
  const auto start = Clock::now();
  for (size_t off = 0; off < all.size(); off += deliver_size) {
    const size_t n = std::min(deliver_size, all.size() - off);
    auto st = adapter.Deliver(std::span<const pgcdc::Event* const>(all.data() + off, n));
    if (!st) {
      std::fprintf(stderr, "deliver failed: %s\n", st.error().message().c_str());
      std::exit(1);
    }
  }
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  adapter.Close();
  Result r;
  r.requests = received() - before;
  r.events_per_s = static_cast<double>(all.size()) / secs;
  r.requests_per_s = static_cast<double>(r.requests) / secs;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  size_t events = 200'000;
  size_t deliver_size = 1024;  // events per Deliver() call (a bus batch)
  std::string receiver = "raw";
  std::string only;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--events")
      events = std::stoul(argv[i + 1]);
    else if (flag == "--deliver-size")
      deliver_size = std::stoul(argv[i + 1]);
    else if (flag == "--receiver")
      receiver = argv[i + 1];
    else if (flag == "--only")
      only = argv[i + 1];
  }
  pgcdc::log::Configure(pgcdc::log::Level::kWarn, pgcdc::log::Format::kText);

  // Events on 64 channels (lanes are chosen by channel), ~250-byte envelopes,
  // encoded up front (the pipeline encodes each event once, elsewhere).
  std::vector<pgcdc::Event> storage;
  storage.reserve(events);
  for (size_t i = 0; i < events; ++i) {
    storage.push_back(
        pgcdc::MakeEvent("pgcdc:orders_" + std::to_string(i % 64), "INSERT",
                         R"({"op":"INSERT","table":"orders","row":{"id":)" + std::to_string(i) +
                             R"(,"customer":"c-42","amount":12.5,"status":"new"},"old":null})",
                         "bench"));
    (void)storage.back().Json();
  }
  std::vector<const pgcdc::Event*> all;
  for (auto& e : storage) all.push_back(&e);

  std::unique_ptr<pgcdc::bench::RawReceiver> raw;
  std::unique_ptr<pgcdc::net::HttpServer> beast;
  std::atomic<uint64_t> beast_requests{0};
  std::string url;
  std::function<uint64_t()> received;
  if (receiver == "beast") {
    beast = std::make_unique<pgcdc::net::HttpServer>("bench");
    beast->Handle("POST", "/hook", [&](const pgcdc::net::HttpRequest&) {
      beast_requests.fetch_add(1, std::memory_order_relaxed);
      pgcdc::net::HttpResponse r;
      r.status = 200;
      return r;
    });
    auto addr = beast->Start({"127.0.0.1", 0});
    if (!addr) return 1;
    url = "http://" + *addr + "/hook";
    received = [&] { return beast_requests.load(); };
  } else {
    raw = std::make_unique<pgcdc::bench::RawReceiver>();
    url = "http://127.0.0.1:" + std::to_string(raw->port()) + "/hook";
    received = [&] { return raw->requests(); };
  }

  const Config configs[] = {{"c1", 1, 1},        {"c4", 4, 1},         {"c16", 16, 1},
                            {"b100", 1, 100},    {"b100c4", 4, 100},   {"p32", 1, 1, 32},
                            {"p32c4", 4, 1, 32}, {"p64c16", 16, 1, 64}};
  std::printf("receiver=%s events=%zu deliver_size=%zu\n", receiver.c_str(), events, deliver_size);
  std::printf("%-8s %12s %6s %14s %14s\n", "config", "concurrency", "batch", "events/s",
              "requests/s");
  for (const auto& c : configs) {
    if (!only.empty() && only != c.label) continue;
    Result r = Run(url, c, all, deliver_size, received);
    std::printf("%-8s %12zu %6zu %14.0f %14.0f\n", c.label, c.concurrency, c.batch, r.events_per_s,
                r.requests_per_s);
    std::fflush(stdout);
  }
  if (beast) beast->Stop();
  return 0;
}
