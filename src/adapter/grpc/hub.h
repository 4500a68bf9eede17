// The gRPC sink's fan-out, independent of gRPC: subscribers with channel
// filters and bounded queues, a bounded replay buffer for resumes, and the
// end-of-stream decisions (slow client, shutdown, client gone).
//
// Publish() runs on the adapter worker and appends to the clients' bounded
// queues. When a client's queue is full it waits for room (half the queue)
// at most `slow_timeout` per Publish() call — a burst (a large transaction)
// slows the pipeline a little instead of cutting a client that keeps up on
// average — then ends that client with kSlow (the transport answers
// RESOURCE_EXHAUSTED), counted: a client is never silently skipped.
// slow_timeout 0 = end it at once, never wait. CloseAll() ends every client
// with kShutdown (waking a waiting Publish) and refuses new ones.
//
// Transport contract (one per client, implemented by the gRPC stream): Send()
// is called with the next event when the client is idle; the transport calls
// WriteDone() once that write completed and gets the next one (never two
// writes in flight). Close() is called exactly once, possibly while a write
// is in flight. Both are called with the client's lock held, so they must not
// call back into the client; Detach() (the stream is done) guarantees no
// further calls.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/mutex.h"

namespace pgcdc::adapter::grpc {

// One event, encoded once and shared by every client's queue.
struct Item {
  std::string id;
  std::string channel;
  std::shared_ptr<const std::string> bytes;
};

enum class EndReason { kNone, kSlow, kShutdown, kGone };

class Transport {
 public:
  virtual ~Transport() = default;
  // `more`: other items are queued behind this one (the transport may
  // buffer it and complete the write before it reaches the socket).
  virtual void Send(const Item& item, bool more) = 0;
  virtual void Close(EndReason reason) = 0;
};

// Channel filter of a subscription: empty = every channel. Fails on empty
// names, control characters, names over 256 bytes or more than 64 channels.
[[nodiscard]] Result<std::vector<std::string>> NormalizeChannels(std::vector<std::string> channels);

class Client {
 public:
  // `active` counts the hub's clients that have not ended yet.
  Client(std::vector<std::string> channels, size_t limit, Transport* transport,
         std::shared_ptr<std::atomic<size_t>> active);
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool Wants(std::string_view channel) const;
  struct Offered {
    size_t consumed = 0;  // items handled: queued or not wanted
    size_t queued = 0;
  };
  // Queues the wanted items in order until the queue is full (consumed <
  // items.size()) ; consumes everything once the client ended.
  Offered Offer(std::span<const Item> items) EXCLUDES(mu_);
  // Waits until the queue is at most half full or the client ended: false
  // when `deadline` passed first.
  bool WaitForRoom(std::chrono::steady_clock::time_point deadline) EXCLUDES(mu_);
  // The transport's write completed (ok=false: the client is gone).
  void WriteDone(bool ok) EXCLUDES(mu_);
  // Ends the stream (once; later calls are ignored).
  void End(EndReason reason) EXCLUDES(mu_);
  // The transport is going away: no more calls into it.
  void Detach() EXCLUDES(mu_);
  EndReason ended() const EXCLUDES(mu_);
  size_t queued() const EXCLUDES(mu_);

 private:
  void EndLocked(EndReason reason) REQUIRES(mu_);
  void StartNextLocked() REQUIRES(mu_);

  const std::vector<std::string> channels_;  // sorted, unique; empty = all
  const size_t limit_;
  const std::shared_ptr<std::atomic<size_t>> active_;
  mutable Mutex mu_;
  CondVar room_;  // signalled when the queue drained to half, or at the end
  bool waiting_ GUARDED_BY(mu_) = false;
  Transport* transport_ GUARDED_BY(mu_);
  std::deque<Item> queue_ GUARDED_BY(mu_);
  bool writing_ GUARDED_BY(mu_) = false;
  EndReason ended_ GUARDED_BY(mu_) = EndReason::kNone;
};

class Hub {
 public:
  struct Options {
    size_t client_queue = 256;   // events per client
    size_t replay_capacity = 0;  // recent events kept for resume_from; 0 = off
    size_t max_clients = 1000;
    std::chrono::milliseconds slow_timeout{0};  // see above
  };
  enum class Refusal { kNone, kShuttingDown, kTooManyClients, kResumeMiss, kBadChannel };
  struct Subscription {
    std::shared_ptr<Client> client;  // null when refused
    Refusal refusal = Refusal::kNone;
    std::string message;  // why, for the status
  };

  explicit Hub(Options options);

  // A new client. `resume_from` non-empty: first the buffered events after
  // that id that match the filter (its queue limit grows by their number);
  // an id no longer (or never) in the buffer is refused with kResumeMiss.
  Subscription Subscribe(std::vector<std::string> channels, const std::string& resume_from,
                         Transport* transport) EXCLUDES(mu_);
  // Forgets a client whose stream is done.
  void Remove(const Client* client) EXCLUDES(mu_);
  // Only one thread publishes at a time (the adapter worker).
  void Publish(std::span<const Item> items) EXCLUDES(mu_);
  void CloseAll() EXCLUDES(mu_);
  // Blocks until a client is subscribed (true) or CloseAll() (false).
  bool WaitForClient() EXCLUDES(mu_);
  // Clients not ended yet.
  size_t clients() const;

 private:
  // Queues `items` to one client, waiting for room until `deadline` (set on
  // the first wait of this Publish); returns how many were queued.
  size_t OfferTo(Client& client, std::span<const Item> items,
                 std::optional<std::chrono::steady_clock::time_point>& deadline);

  const Options options_;
  const std::shared_ptr<std::atomic<size_t>> active_ = std::make_shared<std::atomic<size_t>>(0);
  mutable Mutex mu_;
  std::vector<std::shared_ptr<Client>> clients_ GUARDED_BY(mu_);
  std::deque<Item> replay_ GUARDED_BY(mu_);
  bool closed_ GUARDED_BY(mu_) = false;
  CondVar subscribed_;  // a client subscribed, or CloseAll()
};

}  // namespace pgcdc::adapter::grpc
