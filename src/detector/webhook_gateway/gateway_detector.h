// webhook_gateway detector (SPEC §2.8): receives webhooks on the main HTTP
// server (`POST /ingest/{source}[/{channel}]`) and turns each accepted
// request into an INSERT event (payload: the JSON body, or {"raw":"<text>"}).
//
// Threads: requests are checked on the HTTP I/O thread (route, size,
// signature, idempotency key) and queued; Run() (the detector thread) takes
// them in batches, publishes them (stamped with an increasing seq) and
// answers. With ack=delivered a request is answered 200 only once every
// adapter finished with its event (RunContext::acks), so a crash before that
// leaves the caller without a 200 and its retry re-delivers; a delivery that
// does not finish within ack_timeout, or a stop, answers 503. With
// ack=enqueued the answer follows the publish (SPEC).
//
// Answers never block the I/O thread: they go through the server's deferred
// replies (net::HttpReply).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "core/event.h"
#include "core/mutex.h"
#include "detector/detector.h"
#include "detector/webhook_gateway/idempotency.h"
#include "detector/webhook_gateway/ingest.h"
#include "net/http_server.h"

namespace pgcdc::detector::webhook_gateway {

enum class AckMode { kDelivered, kEnqueued };

// Also the connector's config struct (webhook_gateway.* parameters).
struct Options {
  std::vector<std::string> cli_sources;  // name[:secret=…,secret2=…,header=…,prefix=…,scheme=…]
  std::string sources_yaml;              // webhook_gateway.sources (YAML text)
  int64_t max_body_size = 1048576;
  AckMode ack = AckMode::kDelivered;
  std::chrono::milliseconds ack_timeout{30000};
  std::chrono::milliseconds timestamp_tolerance{300000};
  std::chrono::milliseconds idempotency_window{std::chrono::hours(24)};
  int64_t idempotency_max_keys = 100000;
  int64_t max_pending = 10000;
  // Set by the factory: the parsed sources, and from the core settings.
  std::vector<Source> sources;
  std::chrono::milliseconds stop_grace{2500};
  size_t max_inflight = 0;  // published, unconfirmed events at most (0 = no bound)
};

class WebhookGatewayDetector : public Detector {
 public:
  explicit WebhookGatewayDetector(Options options);
  ~WebhookGatewayDetector() override;
  std::string_view Name() const override { return "webhook_gateway"; }
  Status AttachHttp(net::HttpServer* http) override;
  Status Run(RunContext& ctx) override;

  struct SourceState;

 private:
  // A request accepted by the I/O thread, waiting for Run().
  struct Item {
    Event event;  // moved into the published batch
    std::string event_id;
    uint64_t seq = 0;      // for ack=delivered
    std::string idem_key;  // empty = none
    net::HttpReply reply;
    SourceState* source = nullptr;
    std::chrono::steady_clock::time_point deadline;  // for ack=delivered
  };

  void OnRequest(net::HttpRequest&& req, const net::HttpReply& reply);  // I/O thread
  // OnRequest's steps after routing: the event, then queueing it.
  void Accept(SourceState& src, const net::HttpRequest& req, const std::string& path_channel,
              Scheme scheme, const net::HttpReply& reply);
  void Enqueue(Item item);
  void OnBodyTooLarge(const std::string& path);  // I/O thread

  // Run()'s steps.
  // Publishes queued requests (as many as fit): how many, or -1 when the
  // bus no longer accepts events. `track`: wait for delivery (ack=delivered).
  int PublishQueued(RunContext& ctx, std::deque<Item>& inflight, bool track, uint64_t* seq);
  void AnswerDelivered(RunContext& ctx, std::deque<Item>& inflight);
  // Published events not yet confirmed by every adapter (ack=delivered).
  static size_t Unconfirmed(const RunContext& ctx, uint64_t seq);
  // Until there is something to publish or a stop; at most `pause` while
  // answers are outstanding (`inflight`) or the unconfirmed cap is reached.
  void WaitForWork(size_t inflight, size_t unconfirmed, std::chrono::microseconds pause);
  void Drain(RunContext& ctx, std::deque<Item>& inflight);
  // Answers an item (and its idempotent retries) and counts it.
  void Finish(Item& item, bool ok, std::string_view error = {});

  Options options_;
  std::vector<std::unique_ptr<SourceState>> sources_;
  IdempotencyCache idempotency_;

  Mutex mu_;
  CondVar cv_;
  std::deque<Item> queue_ GUARDED_BY(mu_);
  bool accepting_ GUARDED_BY(mu_) = true;  // false once Run() is stopping
  bool stop_ GUARDED_BY(mu_) = false;
};

}  // namespace pgcdc::detector::webhook_gateway
