#include "bus/bus.h"

#include "core/log.h"
#include "core/metrics.h"
#include "core/scope.h"
#include "core/time.h"

namespace pgcdc::bus {

namespace {
constexpr int64_t kDropLogIntervalNs = 1'000'000'000;  // rate limit for drop warnings
constexpr std::chrono::milliseconds kDispatchWait{200};
}  // namespace

Result<Mode> ParseMode(std::string_view name) {
  if (name == "fast" || name.empty()) return Mode::kFast;
  if (name == "reliable") return Mode::kReliable;
  return Fail(ErrorCode::kConfig,
              "unknown bus mode: \"" + std::string(name) + "\" (expected fast or reliable)");
}

std::string_view ModeName(Mode mode) { return mode == Mode::kFast ? "fast" : "reliable"; }

Bus::Bus(Options options) : options_(options), ingest_(options.buffer_size) {
  received_ =
      &metrics::DefaultCounter("pgcdc_events_received_total", "Events received by the bus.");
}

Bus::~Bus() {
  CloseIngest();
  Join();
}

BatchQueue& Bus::Subscribe(std::string name) {
  auto sub = std::make_unique<Subscriber>();
  sub->dropped = &metrics::AdapterCounter(
      "pgcdc_events_dropped_total",
      "Events dropped for a subscriber whose queue was full (fast mode).", name);
  sub->backpressure = &metrics::AdapterCounter(
      "pgcdc_bus_backpressure_total",
      "Times the dispatcher waited for a full subscriber (reliable mode).", name);
  sub->name = std::move(name);
  sub->queue = std::make_unique<BatchQueue>(options_.buffer_size);
  subscribers_.push_back(std::move(sub));
  metrics::DefaultGauge("pgcdc_bus_subscribers", "Number of bus subscribers.")
      .Set(static_cast<double>(subscribers_.size()));
  return *subscribers_.back()->queue;
}

void Bus::Start() {
  if (started_.exchange(true)) return;
  // Fast mode never waits for a subscriber, so the publisher offers batches
  // itself (one thread hop less per batch: lower latency and fewer wake-ups
  // for a trickle of small batches). Reliable mode keeps the dispatcher so a
  // full subscriber blocks it, not the publisher's shutdown path.
  if (options_.mode == Mode::kReliable)
    dispatcher_ = std::thread(scope::Bind([this] { Dispatch(); }));
}

bool Bus::Publish(EventBatch batch) {
  if (batch.events.empty()) return true;
  return Publish(std::make_shared<const EventBatch>(std::move(batch)));
}

bool Bus::Publish(BatchPtr batch) {
  if (!batch || batch->events.empty()) return true;
  if (options_.mode == Mode::kFast) {
    MutexLock lock(inline_mu_);
    if (ingest_closed_) return false;
    const BatchSlice slice = BatchSlice::Whole(std::move(batch));
    received_->Inc(slice.size());
    for (auto& sub : subscribers_) Offer(*sub, slice);
    return true;
  }
  return ingest_.Push(BatchSlice::Whole(std::move(batch)));
}

void Bus::CloseIngest() {
  {
    // Taking the lock waits for an inline publish in progress; after it no
    // publisher can add to the subscriber queues, which may then close
    // (subscribers still drain what they hold).
    MutexLock lock(inline_mu_);
    ingest_closed_ = true;
    if (started_ && options_.mode == Mode::kFast) {
      for (auto& s : subscribers_) s->queue->Close();
    }
  }
  ingest_.Close();
}

void Bus::Join() {
  if (dispatcher_.joinable()) dispatcher_.join();
  if (!started_) {
    for (auto& s : subscribers_) s->queue->Close();
  }
}

void Bus::Offer(Subscriber& sub, const BatchSlice& slice) {
  if (options_.mode == Mode::kReliable) {
    bool waited = false;
    if (!sub.queue->Push(slice, &waited)) return;  // subscriber closed its queue
    if (waited) sub.backpressure->Inc();
    return;
  }
  const size_t admitted = sub.queue->TryPushPartial(slice);
  if (admitted == slice.size() || sub.queue->closed()) return;
  const uint64_t dropped = slice.size() - admitted;
  sub.dropped->Inc(dropped);
  sub.dropped_since_log += dropped;
  const int64_t now = NowUnixNanos();
  if (now - sub.last_drop_log_ns >= kDropLogIntervalNs) {
    log::Warn("subscriber queue full, dropping events",
              {{"adapter", sub.name}, {"dropped", sub.dropped_since_log}});
    sub.dropped_since_log = 0;
    sub.last_drop_log_ns = now;
  }
}

void Bus::Dispatch() {
  std::vector<BatchSlice> pending;
  while (true) {
    pending.clear();
    const bool open = ingest_.PopAll(pending, kDispatchWait);
    for (const auto& slice : pending) {
      received_->Inc(slice.size());
      for (auto& sub : subscribers_) Offer(*sub, slice);
    }
    if (!open) break;
  }
  for (auto& s : subscribers_) s->queue->Close();
}

}  // namespace pgcdc::bus
