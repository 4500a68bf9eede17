// Delivery middleware (SPEC §4.1, fixed): turns a Deliverer — something that
// can send one event, or a small batch, to a remote system and say how it
// went — into a reliable Adapter.
//
// Per unit (one event, or up to batch_size events of one lane, and at most
// batch_bytes of their JSON):
//   rate limit (token bucket, one token per event)
//   -> circuit breaker gate (open: wait for the reset timeout, then one probe)
//   -> attempt with a per-attempt deadline
//   -> retryable failure: full-jitter exponential backoff (or the peer's
//      Retry-After) and try again, up to max_attempts real attempts
//   -> permanent failure or attempts exhausted: every event of the unit goes to
//      the DLQ, and is then handled (acknowledged)
//   -> metrics at every step.
// Unlike upstream, failures reach the breaker and the retry loop (the DLQ is
// the last resort, not a layer that hides failures), a burst of 0 is a
// configuration error, and DLQ'd events are not counted as delivered.
//
// Outages vs poison events: attempts rejected by an open breaker, and
// half-open probes, do not use up an event's retry budget. With a breaker
// (breaker_failures < max_attempts) an outage therefore holds events back —
// the bus applies backpressure and the source keeps them — instead of
// dead-lettering them; only events the peer rejects (permanent errors) or
// that fail while the peer otherwise answers go to the DLQ.
//
// Concurrency: events are assigned to `concurrency` lanes by a hash of their
// channel, so per-channel order is kept while different channels are sent in
// parallel. Lane 0 runs on the adapter's worker thread, the others on lane
// threads owned by this object; Deliver() returns when every lane finished
// its share (or one failed fatally), so the acknowledgement contract of
// adapter.h holds. A Deliverer's Send() is called concurrently for different
// lanes, never concurrently for the same lane.
//
// Pipelining: a Deliverer with PipelineDepth() > 1 gets up to that many units
// of a lane at once (SendPipelined) while the breaker is closed; their
// results are then handled one by one in order. A unit that fails retryably
// is retried (backoff, breaker, DLQ as above) before the results of the
// units after it are handled, but those units were already sent: a retried
// event can therefore arrive after later events of its channel. With a depth
// of 1 per-channel order is strict.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "adapter/adapter.h"
#include "core/error.h"
#include "core/retry_policy.h"

namespace pgcdc::middleware {

using Clock = std::chrono::steady_clock;

struct SendError {
  enum class Kind {
    kRetryable,  // network error, timeout, 408/429/5xx: try again later
    kPermanent,  // the peer rejected this content (e.g. 400): dead-letter it
  };
  Kind kind = Kind::kRetryable;
  std::string message;
  // Peer asked to wait this long (HTTP Retry-After); overrides the backoff.
  std::optional<std::chrono::milliseconds> retry_after;

  static SendError Retryable(std::string msg) { return {Kind::kRetryable, std::move(msg), {}}; }
  static SendError Permanent(std::string msg) { return {Kind::kPermanent, std::move(msg), {}}; }
};
using SendResult = std::expected<void, SendError>;

// Something that sends events somewhere. Implementations keep per-lane state
// (a connection per lane) so lanes never share a connection.
class Deliverer {
 public:
  virtual ~Deliverer() = default;
  virtual std::string_view Name() const = 0;
  // Called once before events flow with the number of lanes that will be used.
  virtual Status Open(size_t lanes) { return Ok(); }
  // Sends 1..batch_size events in order as one unit. Must give up by
  // `deadline` (return a retryable error). Never throws.
  virtual SendResult Send(size_t lane, std::span<const Event* const> events,
                          Clock::time_point deadline) = 0;
  // How many units one lane may have in flight at once (HTTP/1.1 pipelining).
  // 1 (the default) means Send() only.
  virtual size_t PipelineDepth() const { return 1; }
  // Sends 2..PipelineDepth() units in order without waiting for each answer
  // and reports one result per unit, in order, in `results`. Only called when
  // PipelineDepth() > 1. The default sends them one by one.
  virtual void SendPipelined(size_t lane, std::span<const std::span<const Event* const>> units,
                             Clock::time_point deadline, std::vector<SendResult>& results) {
    results.clear();
    for (auto unit : units) results.push_back(Send(lane, unit, deadline));
  }
  // From another thread when shutdown gives up waiting: a Send() in flight
  // should return (retryable error) promptly. Thread-safe, idempotent.
  virtual void Interrupt() {}
  // Called at shutdown after the last Send.
  virtual void Close() {}
};
using DelivererPtr = std::unique_ptr<Deliverer>;

struct Options {
  size_t concurrency = 1;  // lanes (>= 1)
  size_t batch_size = 1;   // events per Send (>= 1)
  // Also end a unit before its events' envelope JSON passes this many bytes
  // (a unit always has at least one event); 0 = no byte cap. Bounds the
  // memory of one request body whatever the row width.
  size_t batch_bytes = 0;
  int max_attempts = 5;  // real attempts per unit, first one included (>= 1)
  std::chrono::milliseconds attempt_timeout{10'000};
  std::chrono::milliseconds backoff_base{1'000};
  std::chrono::milliseconds backoff_cap{32'000};
  // Upper bound for a peer's Retry-After.
  std::chrono::milliseconds max_retry_after{300'000};
  int breaker_failures = 0;  // consecutive failed attempts that open the breaker; 0 = off
  std::chrono::milliseconds breaker_reset{60'000};
  int64_t rate_limit = 0;  // events/s; 0 = unlimited
  // Bucket size; unset = max(1, rate_limit). Must be >= 1 when rate_limit > 0.
  std::optional<int> rate_burst;

  // The retry settings above as the shared RetryPolicy (floor: 100 ms, or
  // less when base or cap is smaller). Probes of an open breaker do not use
  // up max_attempts (see the file comment).
  RetryPolicy Retry() const;
};

// The token bucket size in effect: rate_burst, else max(1, rate_limit).
int RateBurst(const Options& options);

// Returns a message for each invalid option (empty when valid), prefixed with
// `prefix` (e.g. "webhook.").
std::vector<std::string> Validate(const Options& options, std::string_view prefix);
// Only the circuit breaker and rate limit settings (part of Validate): for
// sinks that use FlowControl (flow.h) without the rest of the chain.
std::vector<std::string> ValidateFlow(const Options& options, std::string_view prefix);

// Circuit breaker state machine (pure; the caller passes the time).
//   closed --(failures consecutive failures)--> open
//   open --(reset timeout elapsed)--> half_open: exactly one probe at a time
//   half_open --probe ok--> closed;  --probe failed--> open (timer restarts)
class CircuitBreaker {
 public:
  enum class State { kClosed = 0, kOpen = 1, kHalfOpen = 2 };
  struct Permit {
    bool allowed = false;
    bool probe = false;      // this attempt is the half-open probe
    Clock::duration wait{};  // when not allowed: time until a probe may start
  };
  CircuitBreaker(int failures, Clock::duration reset);
  Permit Acquire(Clock::time_point now);
  // Report the outcome of an allowed attempt.
  void OnSuccess(bool probe);
  void OnFailure(bool probe, Clock::time_point now);
  State state() const { return state_; }
  bool enabled() const { return failures_ > 0; }

 private:
  int failures_;
  Clock::duration reset_;
  State state_ = State::kClosed;
  int consecutive_ = 0;
  Clock::time_point opened_at_{};
  bool probe_in_flight_ = false;
};
std::string_view BreakerStateName(CircuitBreaker::State state);

// Token bucket (pure; the caller passes the time). Take() consumes one token
// and returns how long the caller must wait before using it (zero when a
// token was available). Tokens may go negative (reservations), so callers
// are served in order.
class TokenBucket {
 public:
  TokenBucket(double rate, int burst);
  Clock::duration Take(Clock::time_point now);

 private:
  double rate_;
  double burst_;
  double tokens_;
  Clock::time_point last_{};
  bool started_ = false;
};

// The Adapter that runs a Deliverer through the chain above.
class ReliableAdapter final : public adapter::Adapter {
 public:
  ReliableAdapter(std::string name, Options options, DelivererPtr deliverer);
  ~ReliableAdapter() override;
  std::string_view Name() const override { return name_; }
  Status Attach(const adapter::Services& services) override;
  Status Open() override;
  Status Deliver(std::span<const Event* const> events) override;
  void Interrupt() override;
  void Close() override;

  struct Impl;

 private:
  std::string name_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pgcdc::middleware
