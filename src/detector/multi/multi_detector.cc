#include "detector/multi/multi_detector.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <thread>
#include <utility>

#include "core/ack_poll.h"
#include "core/clock.h"
#include "core/enum_names.h"
#include "core/health.h"
#include "core/log.h"
#include "core/mutex.h"
#include "core/scope.h"
#include "core/sleep.h"
#include "detector/delivery.h"

namespace pgcdc::detector::multi {

constexpr EnumNames<Mode, Mode::kFailover> kModeNames({"parallel", "sequential", "failover"},
                                                      "parallel");

std::string_view ModeName(Mode mode) { return kModeNames(mode); }

std::optional<Mode> ParseMode(std::string_view text) { return kModeNames.Find(text); }

// ---------------------------------------------------------------------------
// ChildWatermark, IdWindow

void ChildWatermark::Map(uint64_t bus, uint64_t child) {
  MutexLock lock(mu_);
  if (!runs_.empty()) {
    Run& last = runs_.back();
    if (bus == last.bus_first + last.count && child == last.child_first + last.count) {
      ++last.count;
      return;
    }
  }
  runs_.push_back({bus, child, 1});
}

uint64_t ChildWatermark::DeliveredThrough() const {
  if (parent_ == nullptr) return 0;
  const uint64_t done = parent_->DeliveredThrough();
  MutexLock lock(mu_);
  while (!runs_.empty() && runs_.front().bus_first <= done) {
    Run& front = runs_.front();
    const uint64_t covered = std::min(front.count, done - front.bus_first + 1);
    through_ = front.child_first + covered - 1;
    if (covered < front.count) {
      front.bus_first += covered;
      front.child_first += covered;
      front.count -= covered;
      break;
    }
    runs_.pop_front();
  }
  return through_;
}

size_t ChildWatermark::pending_runs() const {
  MutexLock lock(mu_);
  return runs_.size();
}

size_t IdWindow::Hash::operator()(const Uuid& id) const {
  uint64_t hi = 0;
  uint64_t lo = 0;
  std::memcpy(&hi, id.bytes.data(), sizeof hi);
  std::memcpy(&lo, id.bytes.data() + sizeof hi, sizeof lo);
  return static_cast<size_t>(hi * 0x9E3779B97F4A7C15ULL ^ lo);
}

bool IdWindow::Seen(const Uuid& id) {
  if (capacity_ == 0) return false;
  if (ids_.contains(id)) return true;
  ids_.insert(id);
  order_.push_back(id);
  if (order_.size() > capacity_) {
    ids_.erase(order_.front());
    order_.pop_front();
  }
  return false;
}

// ---------------------------------------------------------------------------
// The composite

namespace {

struct Series {
  metrics::Family<metrics::Counter>& events =
      metrics::Default().AddCounter("pgcdc_detector_child_events_total",
                                    "Events each child of a multi-detector published.", {"child"});
  metrics::Family<metrics::Gauge>& running = metrics::Default().AddGauge(
      "pgcdc_detector_child_running", "1 while a child of a multi-detector runs.", {"child"});
  metrics::Counter& failovers =
      metrics::DefaultCounter("pgcdc_detector_failovers_total",
                              "Times a failover multi-detector moved on to its next child.");
  metrics::Counter& duplicates = metrics::DefaultCounter(
      "pgcdc_detector_duplicates_total",
      "Events a parallel multi-detector dropped because their id was seen within the dedup "
      "window.");
};

Series& S() { return metrics::Lazy<Series>(); }

}  // namespace

struct MultiDetector::State {
  RunContext* parent = nullptr;
  Mutex mu;
  uint64_t seq GUARDED_BY(mu) = 0;
  std::optional<IdWindow> dedup GUARDED_BY(mu);
  // The orderly stop of the whole composite: each running child that asks to
  // finish its deliveries waits until every running child has asked (or
  // returned), or a grace period passed; then one of them has the pipeline
  // close the bus and drain the sinks (the parent's finish_delivery), and all
  // share the result.
  CondVar cv;
  size_t running GUARDED_BY(mu) = 0;    // children inside Run()
  size_t finishing GUARDED_BY(mu) = 0;  // of those, waiting to finish
  bool closing GUARDED_BY(mu) = false;
  std::optional<bool> finished GUARDED_BY(mu);
};

namespace {

struct ChildRun {
  ChildRun(Child& c, const RunContext& parent)
      : child(&c),
        watermark(parent.acks),
        events(&S().events.With({c.name})),
        running(&S().running.With({c.name})) {}

  Child* child;
  MultiDetector::State* state = nullptr;
  ChildWatermark watermark;
  std::atomic<uint64_t> last_seq{0};  // the newest tracked event, in the child's numbering
  std::stop_source stop;
  RunContext ctx;
  metrics::Counter* events;
  metrics::Gauge* running;
};

// Renumbers the batch's tracked events onto the bus's seq and publishes it,
// all under the lock: bus order is seq order, which the AckTracker needs.
bool Publish(MultiDetector::State& s, ChildRun& c, EventBatch&& batch) {
  MutexLock lock(s.mu);
  for (Event& e : batch.events) {
    if (s.dedup && !e.filtered && s.dedup->Seen(e.id)) {
      e.filtered = true;
      S().duplicates.Inc();
    }
    if (e.seq != 0) {
      c.last_seq.store(e.seq, std::memory_order_relaxed);
      const uint64_t bus = ++s.seq;
      c.watermark.Map(bus, e.seq);
      e.seq = bus;
    }
  }
  c.events->Inc(batch.events.size());
  return s.parent->publish(std::move(batch));
}

// At a stop of the whole composite: waits for the other running children
// (bounded by kStopGrace), then the pipeline closes the bus and drains the
// sinks once for all of them (see State).
bool FinishTogether(MultiDetector::State& s) {
  bool close = false;
  {
    MutexLock lock(s.mu);
    ++s.finishing;
    s.cv.NotifyAll();
    const auto until = std::chrono::steady_clock::now() + kStopGrace;
    while (!s.finished && !s.closing && s.finishing < s.running) {
      if (!s.cv.WaitUntil(s.mu, until)) break;  // a child that never comes
    }
    if (!s.finished && !s.closing) {
      s.closing = true;
      close = true;
    }
  }
  if (close) {
    const bool ok = s.parent->finish_delivery();
    MutexLock lock(s.mu);
    s.finished = ok;
    s.cv.NotifyAll();
    return ok;
  }
  MutexLock lock(s.mu);
  while (!s.finished) s.cv.Wait(s.mu);
  return *s.finished;
}

// A child's finish_delivery. When the whole composite stops (and the pipeline
// offers it), the children finish together through the pipeline; when only
// this child stops (failover, a sibling's error), the bus goes on, so it
// waits up to kStopGrace for the sinks to finish what it published.
bool FinishChild(MultiDetector::State& s, ChildRun& c) {
  if (s.parent->stop.stop_requested() && s.parent->finish_delivery) return FinishTogether(s);
  const uint64_t seq = c.last_seq.load(std::memory_order_relaxed);
  if (seq == 0) return true;
  return AwaitAcks(c.watermark, seq, RealClock(), kStopGrace);
}

void Wire(MultiDetector::State& s, ChildRun& c) {
  const RunContext& parent = *s.parent;
  c.state = &s;
  c.ctx.stop = c.stop.get_token();
  c.ctx.publish = [&s, &c](EventBatch&& batch) { return Publish(s, c, std::move(batch)); };
  c.ctx.health = parent.health;
  c.ctx.health_name = "detector:" + c.child->name;
  c.ctx.acks = parent.acks != nullptr ? &c.watermark : nullptr;
  c.ctx.backpressure = nullptr;  // per-source lag needs a single wal detector
  c.ctx.dlq = parent.dlq;
  if (parent.acks != nullptr) c.ctx.finish_delivery = [&s, &c] { return FinishChild(s, c); };
}

Status RunChild(ChildRun& c) {
  log::Info("detector child starting",
            {{"child", c.child->name}, {"detector", c.child->detector->Name()}});
  // Registered (down until it connects) only once it runs: a failover
  // child waiting its turn must not make the process look down.
  if (c.ctx.health != nullptr) c.ctx.health->Register(c.ctx.health_name);
  c.running->Set(1);
  {
    MutexLock lock(c.state->mu);
    ++c.state->running;
  }
  Status st = c.child->detector->Run(c.ctx);
  {
    MutexLock lock(c.state->mu);
    --c.state->running;
    c.state->cv.NotifyAll();  // one fewer to wait for at a stop
  }
  c.running->Set(0);
  if (c.ctx.health != nullptr) {
    if (st) {
      c.ctx.health->Up(c.ctx.health_name);  // finished or stopped cleanly
    } else {
      c.ctx.health->Down(c.ctx.health_name, st.error().message());
    }
  }
  if (!st) return Fail(st.error().Wrap("detector " + c.child->name));
  return Ok();
}

using Runs = std::vector<std::unique_ptr<ChildRun>>;

void StopAll(Runs& runs) {
  for (auto& r : runs) r->stop.request_stop();
}

Status RunParallel(const RunContext& ctx, Runs& runs) {
  Mutex mu;
  std::optional<Error> first;
  std::vector<std::thread> threads;
  threads.reserve(runs.size());
  for (auto& r : runs) {
    threads.emplace_back(scope::Bind([&, run = r.get()] {
      Status st = RunChild(*run);
      if (st) {
        if (!ctx.stop.stop_requested()) {
          log::Info("detector child finished", {{"child", run->child->name}});
        }
        return;
      }
      MutexLock lock(mu);
      if (!first) first = st.error();
      StopAll(runs);
    }));
  }
  for (auto& t : threads) t.join();
  MutexLock lock(mu);
  if (first) return Fail(*first);
  return Ok();
}

Status RunSequential(const RunContext& ctx, Runs& runs) {
  for (auto& r : runs) {
    if (ctx.stop.stop_requested()) return Ok();
    if (Status st = RunChild(*r); !st) return st;
  }
  return Ok();
}

// Runs one failover child while watching its health: a child that is not up
// for `timeout` in a row is stopped and reported as failed.
Status RunWatched(const RunContext& ctx, ChildRun& c, const Options& options) {
  std::atomic<bool> done = false;
  Status result = Ok();
  std::thread t(scope::Bind([&] {
    result = RunChild(c);
    done.store(true);
  }));
  Sleeper sleeper(ctx.stop);
  std::optional<Clock::TimePoint> down_since;
  std::string why;
  while (!done.load() && !ctx.stop.stop_requested()) {
    const auto state = ctx.health != nullptr ? ctx.health->Get(c.ctx.health_name) : std::nullopt;
    const Clock::TimePoint now = sleeper.clock().Now();
    if (state && state->status == HealthStatus::kUp) {
      down_since.reset();
    } else if (!down_since) {
      down_since = now;
    } else if (now - *down_since >= options.failover_timeout) {
      why = state && !state->last_error.empty() ? state->last_error : "never connected";
      c.stop.request_stop();
      break;
    }
    (void)sleeper.SleepFor(options.poll_interval);
  }
  t.join();
  if (!why.empty()) {
    return Fail(ErrorCode::kConnection,
                "detector " + c.child->name + ": not up for " +
                    std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                       options.failover_timeout)
                                       .count()) +
                    " ms (" + why + ")");
  }
  return result;
}

Status RunFailover(const RunContext& ctx, Runs& runs, const Options& options) {
  std::optional<Error> last;
  for (size_t i = 0; i < runs.size(); ++i) {
    if (ctx.stop.stop_requested()) return Ok();
    ChildRun& c = *runs[i];
    if (last) {
      S().failovers.Inc();
      log::Warn("failing over to the next detector",
                {{"to", c.child->name}, {"error", last->message()}});
    }
    Status st = RunWatched(ctx, c, options);
    if (st) return Ok();  // stopped, or finished on its own
    last = st.error();
    if (ctx.health != nullptr) {
      ctx.health->Set(c.ctx.health_name, HealthStatus::kDegraded,
                      "failed over: " + st.error().message());
    }
  }
  return Fail(ErrorCode::kConnection,
              "all failover detectors exhausted (last: " + (last ? last->message() : "") + ")");
}

}  // namespace

MultiDetector::MultiDetector(std::vector<Child> children, Options options)
    : children_(std::move(children)), options_(options) {}

MultiDetector::~MultiDetector() = default;

Status MultiDetector::AttachHttp(net::HttpServer* http) {
  for (auto& c : children_) {
    if (Status st = c.detector->AttachHttp(http); !st) {
      return Fail(st.error().Wrap("detector " + c.name));
    }
  }
  return Ok();
}

Status MultiDetector::Run(RunContext& ctx) {
  State state;
  state.parent = &ctx;
  if (options_.mode == Mode::kParallel && options_.dedup_window > 0) {
    MutexLock lock(state.mu);
    state.dedup.emplace(options_.dedup_window);
  }
  Runs runs;
  for (auto& c : children_) {
    runs.push_back(std::make_unique<ChildRun>(c, ctx));
    Wire(state, *runs.back());
  }
  std::stop_callback on_stop(ctx.stop, [&runs] { StopAll(runs); });
  if (ctx.health != nullptr) ctx.health->Up(ctx.health_name);
  log::Info("multi-detector starting", {{"mode", ModeName(options_.mode)},
                                        {"children", static_cast<int64_t>(children_.size())}});
  switch (options_.mode) {
    case Mode::kParallel:
      return RunParallel(ctx, runs);
    case Mode::kSequential:
      return RunSequential(ctx, runs);
    case Mode::kFailover:
      return RunFailover(ctx, runs, options_);
  }
  return Ok();
}

}  // namespace pgcdc::detector::multi
