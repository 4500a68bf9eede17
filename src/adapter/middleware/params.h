// The delivery middleware's parameters, declared once for every sink that
// runs through middleware::ReliableAdapter (SPEC's shared key names):
//
//   <sink>.max_retries       --<sink>-retries      Options::max_attempts
//   <sink>.timeout           --<sink>-timeout      Options::attempt_timeout
//   <sink>.backoff_base      --<sink>-backoff-base Options::backoff_base
//   <sink>.backoff_cap       --<sink>-backoff-cap  Options::backoff_cap
//   <sink>.cb_max_failures   --<sink>-cb-failures  Options::breaker_failures
//   <sink>.cb_reset_timeout  --<sink>-cb-reset     Options::breaker_reset
//   <sink>.rate_limit        --<sink>-rate-limit   Options::rate_limit
//   <sink>.rate_limit_burst  --<sink>-rate-burst   Options::rate_burst
//
// A sink keeps a middleware::Options member in its config struct and splices
// these in (see adapter/webhook). The defaults are that member's initial
// values, so a sink with other defaults initialises the member differently
// (e.g. `middleware::Options delivery{.max_attempts = 3}`). Lanes and batch
// size (Options::concurrency / batch_size) are the sink's own parameters.
// Cross-field checks stay in middleware::Validate. A sink with its own
// delivery loop takes only the breaker and rate limit keys (FlowParams) and
// runs them through FlowControl (flow.h; see adapter/kafka).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "adapter/middleware/middleware.h"
#include "registry/define.h"

namespace pgcdc::middleware {

// Only the circuit breaker and rate limit keys (the last four of DeliveryParams), for a
// sink with its own delivery loop that uses FlowControl (flow.h), e.g. kafka.
template <class Cfg, class Proj>
std::vector<ParamSpec> FlowParams(const std::string& sink, Proj options) {
  auto field = [options](auto member) { return Nested(options, member); };
  const std::string key = sink + ".";
  const std::string flag = sink + "-";
  return {
      ParamAt<Cfg>(key + "cb_max_failures", field(&Options::breaker_failures),
                   "consecutive failed attempts that open the circuit breaker (0 = off)",
                   {.flag = flag + "cb-failures", .min = 0}),
      ParamAt<Cfg>(key + "cb_reset_timeout", field(&Options::breaker_reset),
                   "how long the open breaker waits before a probe request",
                   {.flag = flag + "cb-reset", .min = 1}),
      ParamAt<Cfg>(key + "rate_limit", field(&Options::rate_limit),
                   "events per second (0 = unlimited)", {.flag = flag + "rate-limit", .min = 0}),
      ParamAt<Cfg>(
          key + "rate_limit_burst", field(&Options::rate_burst),
          "token bucket size for --" + flag + "rate-limit (default max(1, rate); must be >= 1)",
          {.flag = flag + "rate-burst", .min = 0}),
  };
}

// The wording that differs between sinks.
struct ParamText {
  std::string retries_flag;                      // empty = "<sink>-retries"
  std::string attempt = "one delivery attempt";  // what <sink>.timeout bounds
};

// The parameters above for sink `sink`, bound to the middleware::Options that
// `options` selects in Cfg (a member pointer or a callable Cfg& -> Options&).
template <class Cfg, class Proj>
std::vector<ParamSpec> DeliveryParams(const std::string& sink, Proj options,
                                      const ParamText& text = {}) {
  auto field = [options](auto member) { return Nested(options, member); };
  const std::string key = sink + ".";
  const std::string flag = sink + "-";
  std::vector<ParamSpec> params = {
      ParamAt<Cfg>(
          key + "max_retries", field(&Options::max_attempts),
          "total delivery attempts per event (or batch), the first included",
          {.flag = text.retries_flag.empty() ? flag + "retries" : text.retries_flag, .min = 1}),
      ParamAt<Cfg>(key + "timeout", field(&Options::attempt_timeout), "deadline of " + text.attempt,
                   {.flag = flag + "timeout", .min = 1}),
      ParamAt<Cfg>(key + "backoff_base", field(&Options::backoff_base),
                   "first retry backoff (full jitter, doubling up to backoff_cap)",
                   {.flag = flag + "backoff-base", .min = 1}),
      ParamAt<Cfg>(key + "backoff_cap", field(&Options::backoff_cap), "largest retry backoff",
                   {.flag = flag + "backoff-cap", .min = 1}),
  };
  for (auto& p : FlowParams<Cfg>(sink, options)) params.push_back(std::move(p));
  return params;
}

}  // namespace pgcdc::middleware
