#include "adapter/middleware/middleware.h"

#include <algorithm>
#include <atomic>
#include <functional>
#include <limits>
#include <optional>
#include <thread>
#include <vector>

#include "adapter/middleware/flow.h"
#include "core/backoff.h"
#include "core/enum_names.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/mutex.h"
#include "core/scope.h"
#include "core/sleep.h"
#include "core/time.h"
#include "core/trace_context.h"
#include "dlq/dlq.h"

namespace pgcdc::middleware {

namespace {
using std::chrono::duration_cast;
using std::chrono::milliseconds;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Smallest retry delay (unless backoff_base is smaller).
constexpr milliseconds kFloor{100};
// Writing to the DLQ: a few tries, then the adapter fails (the source keeps
// the event).
constexpr RetryPolicy kDlqRetry{
    .base = milliseconds(200), .cap = milliseconds(5000), .floor = kFloor, .max_attempts = 5};
}  // namespace

int RateBurst(const Options& o) {
  if (o.rate_burst) return *o.rate_burst;
  return static_cast<int>(std::clamp<int64_t>(o.rate_limit, 1, std::numeric_limits<int>::max()));
}

RetryPolicy Options::Retry() const {
  return RetryPolicy{
      .base = backoff_base,
      .cap = backoff_cap,
      .floor = std::max(milliseconds::zero(), std::min({backoff_base, backoff_cap, kFloor})),
      .max_attempts = static_cast<uint32_t>(std::max(max_attempts, 0)),
  };
}

std::vector<std::string> Validate(const Options& o, std::string_view prefix) {
  std::vector<std::string> errors;
  const std::string p(prefix);
  if (o.concurrency < 1) errors.push_back(p + "concurrency: must be >= 1");
  if (o.batch_size < 1) errors.push_back(p + "batch_size: must be >= 1");
  if (o.max_attempts < 1) errors.push_back(p + "max_retries: must be >= 1 (total attempts)");
  if (o.attempt_timeout <= milliseconds::zero()) errors.push_back(p + "timeout: must be > 0");
  for (auto& e : o.Retry().Validate(p)) errors.push_back(std::move(e));
  for (auto& e : ValidateFlow(o, prefix)) errors.push_back(std::move(e));
  return errors;
}

std::vector<std::string> ValidateFlow(const Options& o, std::string_view prefix) {
  std::vector<std::string> errors;
  const std::string p(prefix);
  if (o.breaker_failures < 0) errors.push_back(p + "cb_max_failures: must be >= 0");
  if (o.breaker_failures > 0 && o.breaker_reset <= milliseconds::zero()) {
    errors.push_back(p + "cb_reset_timeout: must be > 0 when the circuit breaker is on");
  }
  if (o.rate_limit < 0) errors.push_back(p + "rate_limit: must be >= 0");
  if (o.rate_limit > 0 && RateBurst(o) < 1) {
    errors.push_back(p +
                     "rate_limit_burst: must be >= 1 when a rate limit is set (a burst of 0 "
                     "would never admit an event)");
  }
  return errors;
}

// ---- CircuitBreaker -------------------------------------------------------

CircuitBreaker::CircuitBreaker(int failures, Clock::duration reset)
    : failures_(failures), reset_(reset) {}

CircuitBreaker::Permit CircuitBreaker::Acquire(Clock::time_point now) {
  if (failures_ <= 0) return {.allowed = true};
  switch (state_) {
    case State::kClosed:
      return {.allowed = true};
    case State::kOpen:
      if (now - opened_at_ < reset_) {
        return {.allowed = false, .wait = reset_ - (now - opened_at_)};
      }
      state_ = State::kHalfOpen;
      probe_in_flight_ = true;
      return {.allowed = true, .probe = true};
    case State::kHalfOpen:
      if (!probe_in_flight_) {
        probe_in_flight_ = true;
        return {.allowed = true, .probe = true};
      }
      // Another lane is probing; check back soon.
      return {.allowed = false, .wait = std::min<Clock::duration>(reset_, milliseconds(50))};
  }
  return {.allowed = true};
}

void CircuitBreaker::OnSuccess(bool probe) {
  if (failures_ <= 0) return;
  consecutive_ = 0;
  if (probe) probe_in_flight_ = false;
  // Any success (a probe, or a lane that was already in flight) proves the
  // peer answers again.
  state_ = State::kClosed;
}

void CircuitBreaker::OnFailure(bool probe, Clock::time_point now) {
  if (failures_ <= 0) return;
  if (probe) probe_in_flight_ = false;
  if (state_ == State::kHalfOpen && probe) {
    state_ = State::kOpen;
    opened_at_ = now;
    return;
  }
  if (state_ == State::kOpen) {
    opened_at_ = now;  // an attempt already in flight failed: restart the timer
    return;
  }
  if (state_ == State::kClosed && ++consecutive_ >= failures_) {
    state_ = State::kOpen;
    opened_at_ = now;
    consecutive_ = 0;
  }
}

constexpr EnumNames<CircuitBreaker::State, CircuitBreaker::State::kHalfOpen> kBreakerStateNames(
    {"closed", "open", "half_open"}, "closed");

std::string_view BreakerStateName(CircuitBreaker::State state) { return kBreakerStateNames(state); }

// ---- TokenBucket ----------------------------------------------------------

TokenBucket::TokenBucket(double rate, int burst)
    : rate_(rate), burst_(std::max(1, burst)), tokens_(std::max(1, burst)) {}

Clock::duration TokenBucket::Take(Clock::time_point now) {
  if (rate_ <= 0) return Clock::duration::zero();
  if (!started_) {
    started_ = true;
    last_ = now;
  }
  if (now > last_) {
    tokens_ = std::min(burst_, tokens_ + Seconds(now - last_) * rate_);
    last_ = now;
  }
  tokens_ -= 1.0;
  if (tokens_ >= 0) return Clock::duration::zero();
  return duration_cast<Clock::duration>(std::chrono::duration<double>(-tokens_ / rate_));
}

// ---- ReliableAdapter ------------------------------------------------------

struct ReliableAdapter::Impl {
  Impl(std::string adapter_name, Options opts, DelivererPtr del)
      : name(std::move(adapter_name)), o(opts), deliverer(std::move(del)), flow(name, o) {
    auto& reg = metrics::Default();
    attempts =
        &metrics::AdapterCounter("pgcdc_delivery_attempts_total",
                                 "Send attempts made by an adapter's delivery middleware.", name);
    retries =
        &metrics::AdapterCounter("pgcdc_delivery_retries_total",
                                 "Send attempts that were retries of a failed attempt.", name);
    auto& failures_family =
        reg.AddCounter("pgcdc_delivery_failures_total",
                       "Failed send attempts by kind (retryable: network, timeout, 408/429/5xx; "
                       "permanent: rejected content).",
                       {"adapter", "kind"});
    failed_retryable = &failures_family.With({name, "retryable"});
    failed_permanent = &failures_family.With({name, "permanent"});
    sent = &metrics::AdapterCounter(
        "pgcdc_delivery_events_sent_total",
        "Events the peer accepted (dead-lettered events are not counted).", name);
    dead_lettered =
        &metrics::AdapterCounter("pgcdc_delivery_events_dead_lettered_total",
                                 "Events an adapter gave up on and sent to the DLQ.", name);
    duration = &metrics::AdapterHistogram("pgcdc_middleware_delivery_duration_seconds",
                                          "Duration of one send attempt.",
                                          metrics::DefaultBuckets(), name);
    lag = &metrics::AdapterHistogram(
        "pgcdc_event_delivery_lag_seconds", "Time from event creation to acceptance by the peer.",
        {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120, 600}, name);
  }

  // Sleeps up to `d`; false when interrupted or aborted.
  bool Sleep(Clock::duration d) { return sleeper.SleepFor(d); }
  bool Stopping() const { return interrupted.load() || aborted.load(); }

  Status DeadLetter(std::span<const Event* const> unit, const std::string& why) {
    if (dlq == nullptr) {
      return Fail(ErrorCode::kUnknown, "no dead letter queue configured for adapter " + name);
    }
    for (const Event* e : unit) {
      // A DLQ that cannot take the record means we may not acknowledge the
      // event: retry a few times, then fail the adapter (the source keeps it).
      Backoff backoff(kDlqRetry);
      for (;;) {
        auto st = dlq->Record(*e, name, why);
        if (st) break;
        // Paused by the nack window and shutting down: nothing to retry.
        if (st.error().code() == ErrorCode::kCancelled) return Fail(st.error());
        const auto delay = backoff.Next();
        if (backoff.exhausted() || Stopping()) {
          return Fail(st.error().Wrap("adapter " + name + ": dead letter queue"));
        }
        log::Warn("dead letter queue write failed, retrying",
                  {{"adapter", name}, {"error", st.error().message()}});
        if (!Sleep(delay)) return Fail(ErrorCode::kCancelled, "interrupted");
      }
      log::Warn("event sent to the dead letter queue",
                {{"adapter", name}, {"event_id", e->id.ToString()}, {"error", why}});
    }
    dead_lettered->Inc(unit.size());
    return Ok();
  }

  // Takes rate-limit tokens for `events` events and waits for them.
  Status RateLimit(size_t events) {
    if (o.rate_limit <= 0) return Ok();
    Clock::duration wait{};
    {
      MutexLock lock(state_mu);
      wait = flow.TakeTokens(events, Clock::now());
    }
    if (wait > Clock::duration::zero() && !Sleep(wait)) {
      return Fail(ErrorCode::kCancelled, "interrupted");
    }
    return Ok();
  }

  // Bookkeeping for a unit the peer accepted.
  void PeerAnswered(bool probe) {
    MutexLock lock(state_mu);
    flow.OnSuccess(probe);
  }
  void Delivered(std::span<const Event* const> unit, bool probe) {
    PeerAnswered(probe);
    sent->Inc(unit.size());
    const int64_t now_ns = NowUnixNanos();
    for (const Event* e : unit) {
      if (e->created_at_ns > 0) lag->Observe(static_cast<double>(now_ns - e->created_at_ns) / 1e9);
    }
  }

  // The whole chain for one unit (1..batch_size events of one lane). With
  // `first_failure`, the unit's first attempt already happened (pipelined)
  // and failed retryably: the chain continues with its retries.
  // The caller has taken the unit's rate-limit tokens.
  Status SendUnit(size_t lane, std::span<const Event* const> unit,
                  std::optional<SendError> first_failure = std::nullopt) {
    // Log records of this unit carry its (first) event's trace_id/span_id.
    const trace::ScopedSpan current_span(*unit.front(), name);
    // Built on the first retry only: seeding its generator is not free and
    // almost every unit succeeds at once.
    std::optional<Backoff> backoff;
    int attempts = 0;  // attempts that count against the retry budget
    bool retrying = false;
    std::string last_error;
    // After a retryable failure: count it (unless a probe), give up to the
    // DLQ when the budget is spent, else wait (backoff or Retry-After).
    // Returns a status when SendUnit must return it.
    auto after_failure = [&](const SendError& err, bool counts) -> std::optional<Status> {
      if (counts) ++attempts;
      last_error = err.message;
      if (attempts >= o.max_attempts) {
        return DeadLetter(unit, "gave up after " + std::to_string(attempts) +
                                    (attempts == 1 ? " attempt: " : " attempts: ") + last_error);
      }
      if (!retrying) {
        log::Warn(
            "delivery failed, will retry",
            {{"adapter", name}, {"event_id", unit.front()->id.ToString()}, {"error", err.message}});
      }
      retrying = true;
      if (!backoff) backoff.emplace(o.Retry());
      Clock::duration delay = backoff->Next();
      if (err.retry_after) delay = std::min<Clock::duration>(*err.retry_after, o.max_retry_after);
      if (!Sleep(delay)) return Status(Fail(ErrorCode::kCancelled, "interrupted"));
      return std::nullopt;
    };
    // The pipelined caller already updated the breaker and failure counters.
    if (first_failure) {
      if (auto st = after_failure(*first_failure, true)) return *st;
    }
    while (true) {
      if (Stopping()) return Fail(ErrorCode::kCancelled, "interrupted");
      CircuitBreaker::Permit permit;
      {
        MutexLock lock(state_mu);
        permit = flow.Acquire(Clock::now());
      }
      if (!permit.allowed) {
        if (!Sleep(permit.wait)) return Fail(ErrorCode::kCancelled, "interrupted");
        continue;
      }
      if (retrying) retries->Inc();
      attempts_total_inc();
      const auto start = Clock::now();
      SendResult r = deliverer->Send(lane, unit, start + o.attempt_timeout);
      const auto end = Clock::now();
      duration->Observe(Seconds(end - start));
      if (r) {
        Delivered(unit, permit.probe);
        return Ok();
      }
      const SendError& err = r.error();
      if (err.kind == SendError::Kind::kPermanent) {
        failed_permanent->Inc();
        PeerAnswered(permit.probe);  // it is up, whatever it thought of this content
        return DeadLetter(unit, "rejected: " + err.message);
      }
      failed_retryable->Inc();
      {
        MutexLock lock(state_mu);
        flow.OnFailure(permit.probe, end);
      }
      // Probes measure the peer, not this event: they do not use its budget.
      if (auto st = after_failure(err, !permit.probe)) return *st;
    }
  }
  void attempts_total_inc() { attempts->Inc(); }

  // End of the unit that starts at `j`: at most batch_size events and, with
  // batch_bytes, at most that many bytes of envelope JSON (at least one event).
  size_t UnitEnd(std::span<const Event* const> all, size_t j) const {
    const size_t max_end = j + std::min(o.batch_size, all.size() - j);
    if (o.batch_bytes == 0) return max_end;
    size_t end = j;
    size_t bytes = 0;
    while (end < max_end) {
      bytes += all[end]->Json().size();
      if (end > j && bytes > o.batch_bytes) break;
      ++end;
    }
    return end;
  }

  Status RunLane(size_t lane, const std::vector<const Event*>& work) {
    std::span<const Event* const> all(work);
    const size_t depth = deliverer->PipelineDepth();
    std::vector<std::span<const Event* const>> units;
    std::vector<SendResult> results;
    for (size_t i = 0; i < all.size();) {
      units.clear();
      size_t j = i;
      while (j < all.size() && units.size() < std::max<size_t>(1, depth)) {
        units.push_back(all.subspan(j, UnitEnd(all, j) - j));
        j += units.back().size();
      }
      if (units.size() == 1) {
        if (auto st = RateLimit(units[0].size()); !st) return st;
        if (auto st = SendUnit(lane, units[0]); !st) return st;
      } else if (auto st = SendWindow(lane, units, results); !st) {
        return st;
      }
      i = j;
    }
    return Ok();
  }

  // Pipelined: several units in flight at once while the breaker is closed.
  Status SendWindow(size_t lane, std::span<const std::span<const Event* const>> units,
                    std::vector<SendResult>& results) {
    size_t events = 0;
    for (auto u : units) events += u.size();
    if (auto st = RateLimit(events); !st) return st;
    if (Stopping()) return Fail(ErrorCode::kCancelled, "interrupted");
    bool closed;
    {
      MutexLock lock(state_mu);
      closed = flow.state() == CircuitBreaker::State::kClosed;
    }
    if (!closed) {
      // Open or probing: one unit at a time through the breaker gate (their
      // rate-limit tokens were taken above).
      for (auto u : units) {
        if (auto st = SendUnit(lane, u); !st) return st;
      }
      return Ok();
    }
    attempts->Inc(units.size());
    const auto start = Clock::now();
    deliverer->SendPipelined(lane, units, start + o.attempt_timeout, results);
    const auto end = Clock::now();
    for (size_t k = 0; k < units.size(); ++k) {
      duration->Observe(Seconds(end - start));
      if (k >= results.size()) {
        results.push_back(
            std::unexpected(SendError::Retryable("deliverer returned no result for this unit")));
      }
      SendResult& r = results[k];
      if (r) {
        Delivered(units[k], false);
        continue;
      }
      if (r.error().kind == SendError::Kind::kPermanent) {
        failed_permanent->Inc();
        PeerAnswered(false);  // it is up, whatever it thought of this content
        if (auto st = DeadLetter(units[k], "rejected: " + r.error().message); !st) return st;
        continue;
      }
      failed_retryable->Inc();
      {
        MutexLock lock(state_mu);
        flow.OnFailure(false, end);
      }
      if (auto st = SendUnit(lane, units[k], std::move(r.error())); !st) return st;
    }
    return Ok();
  }

  // Lane threads (lanes 1..concurrency-1; lane 0 runs on the caller).
  // `has_work` and `result` change under pool_mu. `work` belongs to
  // Deliver() while has_work is false and to the lane's thread while it is
  // true, so neither locks it.
  struct Lane {
    std::vector<const Event*> work;
    Status result;
    bool has_work = false;
  };
  void LaneLoop(size_t index) EXCLUDES(pool_mu) {
    Lane& l = lanes[index];
    MutexLock lock(pool_mu);
    while (true) {
      while (!quit && !l.has_work) pool_cv.Wait(pool_mu);
      if (quit && !l.has_work) return;
      lock.Unlock();
      Status st = RunLane(index, l.work);
      if (!st) {
        aborted = true;  // let the other lanes stop waiting
        sleeper.Interrupt();
      }
      lock.Lock();
      l.result = std::move(st);
      l.has_work = false;
      --busy;
      done_cv.NotifyAll();
    }
  }

  std::string name;
  Options o;
  DelivererPtr deliverer;
  dlq::DeadLetterQueue* dlq = nullptr;

  Mutex state_mu;
  FlowControl flow GUARDED_BY(state_mu);

  std::atomic<bool> interrupted{false};
  std::atomic<bool> aborted{false};
  Sleeper sleeper;  // woken by Interrupt() and by a lane that failed (aborted)

  Mutex pool_mu;
  CondVar pool_cv;          // a lane has work, or quit
  CondVar done_cv;          // busy reached 0
  std::vector<Lane> lanes;  // sized by Open() before the threads start
  std::vector<std::thread> threads;
  size_t busy GUARDED_BY(pool_mu) = 0;  // lanes with has_work set
  bool quit GUARDED_BY(pool_mu) = false;
  bool opened = false;

  metrics::Counter* attempts;
  metrics::Counter* retries;
  metrics::Counter* failed_retryable;
  metrics::Counter* failed_permanent;
  metrics::Counter* sent;
  metrics::Counter* dead_lettered;
  metrics::Histogram* duration;
  metrics::Histogram* lag;
};

ReliableAdapter::ReliableAdapter(std::string name, Options options, DelivererPtr deliverer)
    : name_(name), impl_(std::make_unique<Impl>(std::move(name), options, std::move(deliverer))) {
  impl_->o.concurrency = std::max<size_t>(1, impl_->o.concurrency);
  impl_->o.batch_size = std::max<size_t>(1, impl_->o.batch_size);
  impl_->o.max_attempts = std::max(1, impl_->o.max_attempts);
}

ReliableAdapter::~ReliableAdapter() { Close(); }

Status ReliableAdapter::Attach(const adapter::Services& services) {
  impl_->dlq = services.dlq;
  return Ok();
}

Status ReliableAdapter::Open() {
  if (impl_->dlq == nullptr) {
    return Fail(ErrorCode::kConfig, "adapter " + name_ + ": no dead letter queue attached");
  }
  if (auto st = impl_->deliverer->Open(impl_->o.concurrency); !st) return st;
  impl_->lanes.resize(impl_->o.concurrency);
  for (size_t i = 1; i < impl_->o.concurrency; ++i) {
    impl_->threads.emplace_back(scope::Bind([this, i] { impl_->LaneLoop(i); }));
  }
  impl_->opened = true;
  return Ok();
}

Status ReliableAdapter::Deliver(std::span<const Event* const> events) {
  Impl& m = *impl_;
  if (events.empty()) return Ok();
  if (m.o.concurrency == 1) {
    m.lanes.resize(1);
    m.lanes[0].work.assign(events.begin(), events.end());
    return m.RunLane(0, m.lanes[0].work);
  }
  for (auto& l : m.lanes) l.work.clear();
  std::hash<std::string_view> hasher;
  for (const Event* e : events) {
    m.lanes[hasher(e->channel) % m.o.concurrency].work.push_back(e);
  }
  {
    MutexLock lock(m.pool_mu);
    for (size_t i = 1; i < m.lanes.size(); ++i) {
      if (m.lanes[i].work.empty()) continue;
      m.lanes[i].has_work = true;
      m.lanes[i].result = Ok();
      ++m.busy;
    }
  }
  m.pool_cv.NotifyAll();
  Status first = m.lanes[0].work.empty() ? Status(Ok()) : m.RunLane(0, m.lanes[0].work);
  if (!first) {
    m.aborted = true;
    m.sleeper.Interrupt();
  }
  {
    MutexLock lock(m.pool_mu);
    while (m.busy != 0) m.done_cv.Wait(m.pool_mu);
  }
  if (first) {
    for (size_t i = 1; i < m.lanes.size(); ++i) {
      if (!m.lanes[i].result) {
        first = m.lanes[i].result;
        break;
      }
    }
  }
  if (m.aborted.exchange(false)) {
    // Every lane is idle now. An Interrupt() racing with the reset is
    // re-applied (it set `interrupted` before waking the sleeper).
    m.sleeper.Reset();
    if (m.interrupted.load()) m.sleeper.Interrupt();
  }
  return first;
}

void ReliableAdapter::Interrupt() {
  impl_->interrupted = true;
  impl_->sleeper.Interrupt();
  impl_->deliverer->Interrupt();
}

void ReliableAdapter::Close() {
  Impl& m = *impl_;
  {
    MutexLock lock(m.pool_mu);
    m.quit = true;
  }
  m.pool_cv.NotifyAll();
  for (auto& t : m.threads) {
    if (t.joinable()) t.join();
  }
  m.threads.clear();
  if (m.opened) {
    m.opened = false;
    m.deliverer->Close();
  }
}

}  // namespace pgcdc::middleware
