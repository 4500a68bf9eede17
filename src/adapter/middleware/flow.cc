#include "adapter/middleware/flow.h"

#include "core/log.h"

namespace pgcdc::middleware {

namespace {

metrics::Counter& Transitions(const std::string& adapter, const char* state) {
  return metrics::Default()
      .AddCounter("pgcdc_circuit_breaker_transitions_total",
                  "Circuit breaker state changes by the state entered.", {"adapter", "state"})
      .With({adapter, state});
}

}  // namespace

FlowControl::FlowControl(std::string adapter, const Options& options)
    : adapter_(std::move(adapter)),
      reset_(options.breaker_reset),
      rate_limited_(options.rate_limit > 0),
      breaker_(options.breaker_failures, options.breaker_reset),
      bucket_(static_cast<double>(options.rate_limit), RateBurst(options)),
      state_gauge_(metrics::AdapterGauge("pgcdc_circuit_breaker_state",
                                         "Circuit breaker state: 0 closed, 1 open, 2 half-open.",
                                         adapter_)),
      to_open_(Transitions(adapter_, "open")),
      trips_(metrics::AdapterCounter("pgcdc_circuit_breaker_trips_total",
                                     "Times the circuit breaker opened.", adapter_)),
      to_half_open_(Transitions(adapter_, "half_open")),
      to_closed_(Transitions(adapter_, "closed")),
      rate_waits_(metrics::AdapterCounter("pgcdc_rate_limit_waits_total",
                                          "Events that waited for the adapter's rate limit.",
                                          adapter_)),
      rate_wait_seconds_(
          metrics::AdapterHistogram("pgcdc_rate_limit_wait_duration_seconds",
                                    "Time a delivery waited for the adapter's rate limit.",
                                    {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1}, adapter_)) {}

Clock::duration FlowControl::TakeTokens(size_t events, Clock::time_point now) {
  if (!rate_limited_) return Clock::duration::zero();
  Clock::duration wait{};
  for (size_t i = 0; i < events; ++i) wait = bucket_.Take(now);
  if (wait > Clock::duration::zero()) {
    rate_waits_.Inc(events);
    rate_wait_seconds_.Observe(std::chrono::duration<double>(wait).count());
  }
  return wait;
}

CircuitBreaker::Permit FlowControl::Acquire(Clock::time_point now) {
  const auto before = breaker_.state();
  auto permit = breaker_.Acquire(now);
  Note(before);
  return permit;
}

void FlowControl::OnSuccess(bool probe) {
  const auto before = breaker_.state();
  breaker_.OnSuccess(probe);
  Note(before);
}

void FlowControl::OnFailure(bool probe, Clock::time_point now) {
  const auto before = breaker_.state();
  breaker_.OnFailure(probe, now);
  Note(before);
}

void FlowControl::Note(CircuitBreaker::State before) {
  const auto after = breaker_.state();
  if (before == after) return;
  state_gauge_.Set(static_cast<double>(after));
  switch (after) {
    case CircuitBreaker::State::kOpen:
      to_open_.Inc();
      trips_.Inc();
      log::Warn("circuit breaker open: holding deliveries",
                {{"adapter", adapter_},
                 {"reset_after_ms",
                  static_cast<uint64_t>(
                      std::chrono::duration_cast<std::chrono::milliseconds>(reset_).count())}});
      break;
    case CircuitBreaker::State::kHalfOpen:
      to_half_open_.Inc();
      break;
    case CircuitBreaker::State::kClosed:
      to_closed_.Inc();
      log::Info("circuit breaker closed: deliveries resumed", {{"adapter", adapter_}});
      break;
  }
}

}  // namespace pgcdc::middleware
