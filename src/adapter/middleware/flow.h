// FlowControl: the circuit breaker and the rate limiter of one adapter
// (middleware.h's CircuitBreaker and TokenBucket, configured from
// middleware::Options) together with their metrics and logs:
//
//   pgcdc_circuit_breaker_state{adapter}              0 closed, 1 open, 2 half-open
//   pgcdc_circuit_breaker_transitions_total{adapter,state}
//   pgcdc_rate_limit_waits_total{adapter}             events that waited for a token
//
// ReliableAdapter uses it for Deliverer sinks; sinks with their own delivery
// loop (kafka) use it directly. Not thread-safe: one owner thread, or the
// owner's lock. The caller passes the time.
#pragma once

#include <cstddef>
#include <string>

#include "adapter/middleware/middleware.h"
#include "core/metrics.h"

namespace pgcdc::middleware {

class FlowControl {
 public:
  // Uses options.breaker_failures / breaker_reset (0 failures = no breaker)
  // and options.rate_limit / RateBurst(options) (0 = no limit).
  FlowControl(std::string adapter, const Options& options);

  bool breaker_enabled() const { return breaker_.enabled(); }
  bool rate_limited() const { return rate_limited_; }

  // Takes rate-limit tokens for `events` events; returns how long the caller
  // must wait before sending them (zero when tokens were available).
  Clock::duration TakeTokens(size_t events, Clock::time_point now);

  // The breaker (see CircuitBreaker), with every state change counted and
  // logged.
  CircuitBreaker::Permit Acquire(Clock::time_point now);
  void OnSuccess(bool probe);
  void OnFailure(bool probe, Clock::time_point now);
  CircuitBreaker::State state() const { return breaker_.state(); }

 private:
  void Note(CircuitBreaker::State before);

  std::string adapter_;
  Clock::duration reset_;
  bool rate_limited_;
  CircuitBreaker breaker_;
  TokenBucket bucket_;
  metrics::Gauge& state_gauge_;
  metrics::Counter& to_open_;
  metrics::Counter& trips_;
  metrics::Counter& to_half_open_;
  metrics::Counter& to_closed_;
  metrics::Counter& rate_waits_;
  metrics::Histogram& rate_wait_seconds_;
};

}  // namespace pgcdc::middleware
