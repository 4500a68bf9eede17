// Supervisor: the one reconnect loop. A component that holds a connection
// (detectors, snapshot threads) hands it a "connect and serve" callable; the
// supervisor runs it again and again:
//
//   serve(session) returns Ok              -> Run() returns Ok (a clean end)
//   stop requested / Interrupt()           -> Run() returns Ok, promptly (the
//                                             backoff sleep wakes at once)
//   error with code kCancelled             -> Run() returns Ok (pipeline stopping)
//   error that options.is_fatal accepts    -> Run() returns that error
//   any other error (retryable)            -> health Down(error), count it, log
//       "connection lost, reconnecting", wait a full-jitter backoff (capped),
//       run serve again; after retry.max_attempts failures in a row Run()
//       returns the last error ("gave up after N attempts: ...").
//
// The callable calls session.Up() once its connection works: health Up,
// `<prefix>_connected` 1, `<prefix>_reconnects_total` +1 unless it is the
// first time. A connection that stayed up for retry.healthy_reset (0: any
// time) starts the backoff over from retry.base when it fails.
// Metrics (families shared by every supervisor with the same prefix, one
// child per component): <prefix>_reconnects_total, <prefix>_connected,
// <prefix>_backoff_seconds (the delay of the current or last wait, 0 while up),
// all labelled {<label>="<component>"}; plus the connector's own failure
// counter when given.
//
// Owns the Sleeper of the loop (stop token + Interrupt(); poll its fd next to
// the connection's socket) and the Backoff. Run() is called on one thread,
// once at a time; Interrupt() may come from any thread. Time and jitter come
// from options.clock and options.seed, so tests run on a FakeClock.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <stop_token>
#include <string>
#include <utility>
#include <vector>

#include "core/backoff.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/metrics.h"
#include "core/retry_policy.h"
#include "core/sleep.h"

namespace pgcdc {

class Health;

struct SupervisorOptions {
  // What is supervised, e.g. "listen_notify": the log field and metric label
  // value.
  std::string component;
  // Log key and metric label name; metric families are <metric_prefix>_…
  std::string label = "detector";
  std::string metric_prefix = "pgcdc_detector";
  metrics::Registry* registry = &metrics::Default();  // nullptr: no metrics
  // The connector's own failure counter (e.g. pgcdc_outbox_errors_total),
  // incremented for every retried failure. Optional.
  metrics::Counter* failures = nullptr;
  RetryPolicy retry;
  Health* health = nullptr;  // optional
  std::string health_name = "detector";
  // True: the error cannot be fixed by retrying; Run() returns it. Called
  // with whether the connection was ever up (setup mistakes are usually only
  // fatal before that). Default: every error is retried.
  std::function<bool(const Error& error, bool ever_up)> is_fatal;
  std::string log_message = "connection lost, reconnecting";
  // Added to the log line of every failure (e.g. {"table", "orders"}).
  std::vector<std::pair<std::string, std::string>> log_fields;
  Clock* clock = nullptr;        // nullptr: RealClock()
  std::optional<uint64_t> seed;  // jitter; nullopt: std::random_device
};

// is_fatal for the common rule: `code` (e.g. kInvalidArgument: no such
// table, no permission) is fatal until the connection was up once; after
// that everything is retried.
std::function<bool(const Error&, bool)> FatalBeforeUp(ErrorCode code);

class Supervisor {
 public:
  // One connect-and-serve attempt; valid during the serve call only.
  class Session {
   public:
    // The connection works (see the file comment). Idempotent.
    void Up();
    bool up() const { return up_; }
    // Sleeps (poll_interval, throttling) and poll() wake-ups inside serve.
    const Sleeper& sleeper() const { return owner_.sleeper_; }
    bool stop_requested() const { return owner_.sleeper_.woken(); }
    // Failed attempts in a row before this one (0 after a healthy session).
    uint32_t failures() const { return owner_.backoff_.attempt(); }

   private:
    friend class Supervisor;
    explicit Session(Supervisor& owner) : owner_(owner) {}
    Supervisor& owner_;
    bool up_ = false;
    Clock::TimePoint up_since_{};
  };
  using ServeFn = std::function<Status(Session&)>;

  Supervisor(SupervisorOptions options, std::stop_token stop);
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Runs `serve` until it ends (see the file comment).
  [[nodiscard]] Status Run(const ServeFn& serve);
  // Wakes the loop from any thread; Run() then returns Ok.
  void Interrupt() { sleeper_.Interrupt(); }

  const Sleeper& sleeper() const { return sleeper_; }
  // Sessions that came up after the first one.
  uint64_t reconnects() const { return reconnects_; }
  // Failed attempts in a row so far.
  uint32_t attempt() const { return backoff_.attempt(); }

 private:
  void MarkUp(Session& session);
  // After a failed session: nullopt to try again, else what Run() returns.
  std::optional<Status> OnFailure(const Error& error, const Session& session);

  SupervisorOptions options_;
  Clock& clock_;
  Sleeper sleeper_;
  Backoff backoff_;
  bool ever_up_ = false;
  uint64_t reconnects_ = 0;
  metrics::Counter* reconnects_metric_ = nullptr;
  metrics::Gauge* connected_metric_ = nullptr;
  metrics::Gauge* backoff_metric_ = nullptr;
};

}  // namespace pgcdc
