#include "core/supervisor.h"

#include <chrono>

#include "core/health.h"
#include "core/log.h"

namespace pgcdc {

namespace {

Backoff MakeBackoff(const SupervisorOptions& o) {
  return o.seed ? Backoff(o.retry, *o.seed) : Backoff(o.retry);
}

}  // namespace

std::function<bool(const Error&, bool)> FatalBeforeUp(ErrorCode code) {
  return [code](const Error& error, bool ever_up) { return !ever_up && error.code() == code; };
}

Supervisor::Supervisor(SupervisorOptions options, std::stop_token stop)
    : options_(std::move(options)),
      clock_(options_.clock != nullptr ? *options_.clock : RealClock()),
      sleeper_(std::move(stop), &clock_),
      backoff_(MakeBackoff(options_)) {
  if (options_.registry == nullptr) return;
  auto& r = *options_.registry;
  const std::string& p = options_.metric_prefix;
  const std::vector<std::string> labels{options_.label};
  reconnects_metric_ =
      &r.AddCounter(p + "_reconnects_total", "Reconnections after a lost connection.", labels)
           .With({options_.component});
  connected_metric_ =
      &r.AddGauge(p + "_connected", "1 while the component holds a live connection.", labels)
           .With({options_.component});
  backoff_metric_ = &r.AddGauge(p + "_backoff_seconds",
                                "Delay of the current (or last) reconnect wait; 0 while "
                                "connected.",
                                labels)
                         .With({options_.component});
}

void Supervisor::Session::Up() {
  if (up_) return;
  up_ = true;
  up_since_ = owner_.clock_.Now();
  owner_.MarkUp(*this);
}

void Supervisor::MarkUp(Session& session) {
  if (ever_up_) {
    ++reconnects_;
    if (reconnects_metric_ != nullptr) reconnects_metric_->Inc();
  }
  ever_up_ = true;
  if (connected_metric_ != nullptr) connected_metric_->Set(1);
  if (backoff_metric_ != nullptr) backoff_metric_->Set(0);
  if (options_.health != nullptr) options_.health->Up(options_.health_name);
}

Status Supervisor::Run(const ServeFn& serve) {
  for (;;) {
    if (sleeper_.woken()) return Ok();
    Session session(*this);
    Status st = serve(session);
    if (session.up() && connected_metric_ != nullptr) connected_metric_->Set(0);
    if (st || sleeper_.woken() || st.error().code() == ErrorCode::kCancelled) return Ok();
    if (auto done = OnFailure(st.error(), session)) return *done;
  }
}

std::optional<Status> Supervisor::OnFailure(const Error& error, const Session& session) {
  if (options_.health != nullptr) options_.health->Down(options_.health_name, error.message());
  if (options_.is_fatal && options_.is_fatal(error, ever_up_)) return Fail(error);
  if (options_.failures != nullptr) options_.failures->Inc();
  if (session.up() && clock_.Now() - session.up_since_ >= options_.retry.healthy_reset) {
    backoff_.Reset();
  }
  const std::chrono::milliseconds delay = backoff_.Next();
  if (backoff_.exhausted()) {
    return Fail(error.Wrap("gave up after " + std::to_string(backoff_.attempt()) +
                           (backoff_.attempt() == 1 ? " attempt" : " attempts")));
  }
  if (backoff_metric_ != nullptr) {
    backoff_metric_->Set(std::chrono::duration<double>(delay).count());
  }
  if (log::Enabled(log::Level::kWarn)) {
    std::vector<log::Field> fields{{options_.label, options_.component},
                                   {"error", error.message()},
                                   {"attempt", backoff_.attempt()},
                                   {"retry_in_ms", static_cast<int64_t>(delay.count())}};
    for (const auto& [k, v] : options_.log_fields) fields.emplace_back(k, v);
    log::Write(log::Level::kWarn, options_.log_message, fields);
  }
  if (!sleeper_.SleepFor(delay)) return Status(Ok());
  return std::nullopt;
}

}  // namespace pgcdc
