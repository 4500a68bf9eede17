// RetryingAdapter: the part every sink that retries against a peer (exec,
// pg_table, redis) has in common, so a new one does not write it again:
//  - its registry name (Name()),
//  - the services from Attach(): the DLQ for events the peer rejects and the
//    process health it reports itself degraded in while the peer is away,
//  - the Backoff between attempts (reset after a success) and the Sleeper its
//    waits and poll() calls use; Interrupt() wakes the sleeper from any
//    thread, so a Deliver()/Flush() blocked in a retry returns kCancelled
//    promptly.
// Not copyable (the sleeper owns an eventfd). Everything except Interrupt()
// runs on the adapter worker, like the Adapter calls.
#pragma once

#include <string>
#include <string_view>

#include "adapter/adapter.h"
#include "core/backoff.h"
#include "core/health.h"
#include "core/sleep.h"

namespace pgcdc::adapter {

class RetryingAdapter : public Adapter {
 public:
  // `name` must outlive the adapter (a string literal or constant).
  RetryingAdapter(std::string_view name, const RetryPolicy& backoff)
      : name_(name), backoff_(backoff) {}
  RetryingAdapter(const RetryingAdapter&) = delete;
  RetryingAdapter& operator=(const RetryingAdapter&) = delete;

  std::string_view Name() const final { return name_; }
  // Keeps the DLQ and the health (either may be null outside a pipeline).
  Status Attach(const Services& services) override {
    dlq_ = services.dlq;
    health_ = services.health;
    skip_validation_ = services.skip_validation;
    return Ok();
  }
  void Interrupt() override { sleeper_.Interrupt(); }

 protected:
  bool interrupted() const { return sleeper_.woken(); }
  Sleeper& sleeper() { return sleeper_; }
  Backoff& backoff() { return backoff_; }
  dlq::DeadLetterQueue* dead_letters() const { return dlq_; }
  // --skip-validation: skip start-up checks of the target in Open().
  bool skip_validation() const { return skip_validation_; }

  // Reports the adapter degraded (`why`) in the health until Recovered().
  void Degraded(const std::string& why) {
    if (health_ != nullptr) health_->Set(std::string(name_), HealthStatus::kDegraded, why);
    degraded_ = true;
  }
  // After a success: up again if it was degraded.
  void Recovered() {
    if (degraded_ && health_ != nullptr) health_->Up(std::string(name_));
    degraded_ = false;
  }
  bool degraded() const { return degraded_; }

 private:
  std::string_view name_;
  dlq::DeadLetterQueue* dlq_ = nullptr;
  Health* health_ = nullptr;
  Sleeper sleeper_;
  Backoff backoff_;
  bool degraded_ = false;
  bool skip_validation_ = false;
};

}  // namespace pgcdc::adapter
