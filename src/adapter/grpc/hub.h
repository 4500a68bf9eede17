// The gRPC sink's fan-out, independent of gRPC: subscribers with channel
// filters and bounded queues, a bounded replay buffer for resumes, and the
// end-of-stream decisions (slow client, shutdown, client gone).
//
// Publish() runs on the adapter worker and never blocks on a client: it only
// appends to queues. A client whose queue already holds `client_queue` events
// when more come is ended at once with kSlow (the transport answers
// RESOURCE_EXHAUSTED) and counted: it is never silently skipped. CloseAll()
// ends every client with kShutdown and refuses new ones.
//
// Transport contract (one per client, implemented by the gRPC stream): Send()
// is called with the next event when the client is idle; the transport calls
// WriteDone() once that write completed and gets the next one (never two
// writes in flight). Close() is called exactly once, possibly while a write
// is in flight. Both are called with the client's lock held, so they must not
// call back into the client; Detach() (the stream is done) guarantees no
// further calls.
#pragma once

#include <cstddef>
#include <deque>
#include <memory>
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
  virtual void Send(const Item& item) = 0;
  virtual void Close(EndReason reason) = 0;
};

// Channel filter of a subscription: empty = every channel. Fails on empty
// names, control characters, names over 256 bytes or more than 64 channels.
[[nodiscard]] Result<std::vector<std::string>> NormalizeChannels(std::vector<std::string> channels);

class Client {
 public:
  Client(std::vector<std::string> channels, size_t limit, Transport* transport);
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool Wants(std::string_view channel) const;
  // Queues the wanted items (in order); returns how many were queued, or
  // nothing once the client ended (it ends with kSlow here on overflow).
  size_t Offer(std::span<const Item> items) EXCLUDES(mu_);
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
  mutable Mutex mu_;
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
  void Publish(std::span<const Item> items) EXCLUDES(mu_);
  void CloseAll() EXCLUDES(mu_);
  size_t clients() const EXCLUDES(mu_);

 private:
  const Options options_;
  mutable Mutex mu_;
  std::vector<std::shared_ptr<Client>> clients_ GUARDED_BY(mu_);
  std::deque<Item> replay_ GUARDED_BY(mu_);
  bool closed_ GUARDED_BY(mu_) = false;
};

}  // namespace pgcdc::adapter::grpc
