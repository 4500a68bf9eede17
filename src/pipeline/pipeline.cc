#include "pipeline/pipeline.h"

#include <algorithm>
#include <deque>
#include <optional>
#include <thread>

#include "core/health.h"
#include "core/json.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/scope.h"
#include "core/time.h"
#include "core/trace_context.h"
#include "dlq/dlq.h"
#include "tracing/tracer.h"

namespace pgcdc::pipeline {

// What a worker applies to each event; swapped as a whole on reload.
struct Pipeline::WorkerConfig {
  bool routed = false;
  std::vector<std::string> channels;  // sorted, when routed
  transform::ChainPtr chain;          // the adapter's own chain; null = none
};

struct Pipeline::Worker {
  size_t index = 0;
  adapter::Adapter* adapter = nullptr;
  std::string name;
  bus::BatchQueue* queue = nullptr;
  std::atomic<std::shared_ptr<const WorkerConfig>> config;
  std::thread thread;
  // The process-wide series (shared by every pipeline with an adapter of
  // this name, under `serve`) and this pipeline's own count (StatsJson).
  struct Tally {
    metrics::Counter* global = nullptr;
    std::atomic<uint64_t> own{0};
    void Inc(uint64_t n = 1) {
      global->Inc(n);
      own.fetch_add(n, std::memory_order_relaxed);
    }
    uint64_t Value() const { return own.load(std::memory_order_relaxed); }
  };
  Tally delivered, skipped, failed, shed;
  std::unique_ptr<ChainScope> chain_scope;  // counters of the adapter's own chain
  std::optional<Priority> priority;         // set: may be shed under backpressure
  metrics::Gauge* depth = nullptr;
  uint64_t undelivered = 0;

  // RunWorker()'s state; only the worker thread touches it.
  std::vector<bus::BatchSlice> slices;
  std::vector<const Event*> events;  // the slice's events this adapter receives
  std::deque<Event> owned;           // per-adapter transformed copies (stable addresses)
  // Highest Event::seq handled since the last flush; acknowledged once the
  // sink has flushed (only then is the data really out of our hands).
  uint64_t pending_ack = 0;
  uint64_t pending_lsn = 0;  // highest WAL position among them (0: none)
  metrics::Gauge* ack_position = nullptr;
  std::chrono::steady_clock::time_point last_flush;
};

Pipeline::Pipeline(Options options, detector::DetectorPtr detector,
                   std::vector<adapter::AdapterPtr> adapters, Health& health)
    : options_(std::move(options)),
      detector_(std::move(detector)),
      adapters_(std::move(adapters)),
      health_(health),
      routes_(std::move(options_.routes)),
      transforms_(std::move(options_.transforms)) {
  health_.Register("detector");
  health_.Register("bus");
  for (const auto& a : adapters_) health_.Register(std::string(a->Name()));
}

std::shared_ptr<const Pipeline::WorkerConfig> Pipeline::MakeWorkerConfig(
    const std::map<std::string, std::vector<std::string>>& routes,
    const transform::ChainSet& transforms, const std::string& name) {
  auto cfg = std::make_shared<WorkerConfig>();
  cfg->chain = transforms.ForAdapter(name);
  if (cfg->chain && cfg->chain->empty()) cfg->chain = nullptr;
  if (auto it = routes.find(name); it != routes.end()) {
    cfg->routed = true;
    cfg->channels = it->second;
    std::sort(cfg->channels.begin(), cfg->channels.end());
  }
  return cfg;
}

void Pipeline::Reconfigure(const std::map<std::string, std::vector<std::string>>& routes,
                           const transform::ChainSet& transforms) {
  MutexLock lock(mu_);
  routes_ = routes;
  transforms_ = transforms;
  global_chain_.store(transforms.global);
  for (auto& w : workers_) w->config.store(MakeWorkerConfig(routes, transforms, w->name));
}

Pipeline::ChainScope::ChainScope(std::string scope_name) : name(std::move(scope_name)) {
  dropped = &metrics::AdapterCounter("pgcdc_transform_dropped_total",
                                     "Events a transform chain dropped.", name);
  errors = &metrics::AdapterCounter("pgcdc_transform_errors_total",
                                    "Events a transform failed on (sent to the DLQ, then skipped).",
                                    name);
}

bool Pipeline::ApplyChain(const transform::Chain& chain, Event& event, const ChainScope& scope) {
  auto r = chain.Apply(event);
  if (r && *r == transform::Verdict::kKeep) return true;
  if (r) {
    scope.dropped->Inc();
    return false;
  }
  scope.errors->Inc();
  log::Warn(
      "transform failed; event sent to the dead letter queue",
      {{"adapter", scope.name}, {"event_id", event.id.ToString()}, {"error", r.error().message()}});
  if (options_.dlq != nullptr) {
    if (auto st = options_.dlq->Record(event, scope.name, "transform: " + r.error().message());
        !st) {
      log::Error("dead letter queue write failed for a transform error",
                 {{"adapter", scope.name}, {"error", st.error().message()}});
    }
  }
  return false;
}

std::string Pipeline::StatsJson() const {
  std::string out;
  json::Writer w(out);
  w.BeginObject();
  w.BoolField("ready", ready_.load());
  w.Key("adapters");
  w.BeginArray();
  MutexLock lock(mu_);
  for (const auto& wk : workers_) {
    w.BeginObject();
    w.StringField("name", wk->name);
    w.UintField("delivered", wk->delivered.Value());
    w.UintField("skipped", wk->skipped.Value());
    w.UintField("failed", wk->failed.Value());
    w.UintField("shed", wk->shed.Value());
    w.Key("dead_lettered");
    w.Uint(dlq::RecordsFor(wk->name).Value());
    w.UintField("queue_depth", wk->queue->size_events());
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return out;
}

Pipeline::~Pipeline() {
  // Normally everything is joined by Run(); this covers early returns and,
  // after a shutdown timeout, waits for workers still inside a sink.
  RequestStop();
  if (bus_) bus_->CloseIngest();
  for (Worker* w : Workers()) {
    w->queue->Close();
    if (w->thread.joinable()) w->thread.join();
  }
}

std::vector<Pipeline::Worker*> Pipeline::Workers() const {
  MutexLock lock(mu_);
  std::vector<Worker*> out;
  out.reserve(workers_.size());
  for (const auto& w : workers_) out.push_back(w.get());
  return out;
}

void Pipeline::RequestStop() {
  // Stop callbacks (detectors' sleepers) run here, without mu_.
  internal_stop_.request_stop();
  // Adapters held by the nack window give up their events.
  if (options_.nack_windows) options_.nack_windows->Release();
  // Run() checks stop_requested() under mu_ and then blocks. Notifying under
  // mu_ orders this wake-up after that check: without the lock it could fall
  // between the check and the wait and be lost (a shutdown hang).
  MutexLock lock(mu_);
  cv_.NotifyAll();
}

void Pipeline::RecordFailure(Error error) {
  {
    MutexLock lock(mu_);
    if (!failure_) failure_ = std::move(error);
  }
  RequestStop();
}

void Pipeline::RunWorker(Worker& w) {
  health_.Up(w.name);
  w.last_flush = std::chrono::steady_clock::now();
  bool ok = true;
  while (ok) {
    w.slices.clear();
    const bool open = w.queue->PopAll(w.slices, options_.poll_interval);
    if (abandon_.load()) {
      for (const auto& slice : w.slices) w.undelivered += slice.size();
      break;
    }
    ok = DeliverSlices(w);
    if (!ok) break;
    if (!FlushIfDue(w)) break;
    if (!open) break;
  }
  if (ok && !abandon_.load()) FlushWorker(w);
  FinishWorker(w);
}

bool Pipeline::DeliverSlices(Worker& w) {
  for (size_t si = 0; si < w.slices.size(); ++si) {
    if (abandon_.load()) {
      for (size_t r = si; r < w.slices.size(); ++r) w.undelivered += w.slices[r].size();
      return false;
    }
    if (!DeliverSlice(w, w.slices[si])) return false;
  }
  return true;
}

bool Pipeline::DeliverSlice(Worker& w, const bus::BatchSlice& slice) {
  w.events.clear();
  NackWindows* windows = options_.nack_windows.get();
  // Paused by the nack window: hold the slice (unacknowledged) until resumed.
  if (windows != nullptr && !windows->WaitWhilePaused(w.name)) {
    StoppedWhilePaused(w, slice.size());
    return false;
  }
  // Shed under backpressure: skip (and acknowledge) the whole slice.
  if (w.priority && options_.backpressure && options_.backpressure->ShouldShed(*w.priority)) {
    for (const Event& e : slice.events()) {
      if (e.seq > w.pending_ack) w.pending_ack = e.seq;
      if (e.lsn > w.pending_lsn) w.pending_lsn = e.lsn;
    }
    w.shed.Inc(slice.size());
    return true;
  }
  SelectEvents(w, slice);
  if (w.events.empty()) return true;
  if (options_.inspector && options_.inspector->enabled()) {
    // Serves both post-transform and pre-adapter (the same events).
    options_.inspector->Record(TapPoint::kPreAdapter, w.name, w.events);
  }
  if (windows != nullptr) windows->BeginDeliver(w.name, w.events);
  // pgcdc.adapter.deliver spans: one per event, over this Deliver call.
  const int64_t trace_start = trace::Enabled() ? NowUnixNanos() : 0;
  const Status delivered = w.adapter->Deliver(w.events);
  if (trace_start != 0) {
    tracing::RecordDeliver(w.name, w.events, trace_start, delivered ? nullptr : &delivered.error());
  }
  if (windows != nullptr) windows->EndDeliver(w.name);
  if (!delivered) {
    WorkerFailed(w, delivered.error());
    return false;
  }
  w.delivered.Inc(w.events.size());
  return true;
}

void Pipeline::SelectEvents(Worker& w, const bus::BatchSlice& slice) {
  // One snapshot per slice: every event sees exactly one configuration.
  const std::shared_ptr<const WorkerConfig> cfg = w.config.load();
  w.owned.clear();
  for (const Event& e : slice.events()) {
    if (e.seq > w.pending_ack) w.pending_ack = e.seq;
    if (e.lsn > w.pending_lsn) w.pending_lsn = e.lsn;
    if (e.filtered) continue;  // dropped by the global chain (counted there)
    if (cfg->routed && !std::binary_search(cfg->channels.begin(), cfg->channels.end(), e.channel)) {
      w.skipped.Inc();
      continue;
    }
    if (cfg->chain) {
      // The adapter's own chain works on a private copy: other adapters
      // share `e` and must never see this adapter's changes.
      Event& copy = w.owned.emplace_back(e);
      if (ApplyChain(*cfg->chain, copy, *w.chain_scope)) {
        w.events.push_back(&copy);
      } else {
        w.owned.pop_back();
      }
      continue;
    }
    w.events.push_back(&e);
  }
}

bool Pipeline::FlushIfDue(Worker& w) {
  const size_t depth = w.queue->size_events();
  w.depth->Set(static_cast<double>(depth));
  if (depth == 0 ||
      std::chrono::steady_clock::now() - w.last_flush >= options_.max_flush_interval) {
    return FlushWorker(w);
  }
  return true;
}

bool Pipeline::FlushWorker(Worker& w) {
  if (auto st = w.adapter->Flush(); !st) {
    w.events.clear();
    WorkerFailed(w, st.error());
    return false;
  }
  w.last_flush = std::chrono::steady_clock::now();
  uint64_t ack = w.pending_ack;
  // Events the adapter still holds (deferred acknowledgement) stay unconfirmed.
  const auto held = w.adapter->OldestHeldSeq();
  if (held && *held <= ack) {
    ack = *held - 1;
  } else if (w.pending_lsn != 0) {
    // Everything handled so far is acknowledged: its newest WAL position too.
    w.ack_position->Set(static_cast<double>(w.pending_lsn));
  }
  if (ack != 0) acks_->Ack(w.index, ack);
  return true;
}

void Pipeline::WorkerFailed(Worker& w, const Error& e) {
  if (e.code() == ErrorCode::kCancelled && options_.nack_windows &&
      options_.nack_windows->Paused(w.name) && internal_stop_.stop_requested()) {
    StoppedWhilePaused(w, w.events.size());
    return;
  }
  if (e.code() == ErrorCode::kClosed) {
    log::Info("sink closed, stopping pipeline", {{"adapter", w.name}, {"reason", e.message()}});
    RequestStop();
  } else {
    w.failed.Inc(w.events.size());
    health_.Down(w.name, e.message());
    RecordFailure(e.Wrap("adapter " + w.name));
  }
}

void Pipeline::StoppedWhilePaused(Worker& w, size_t events) {
  // Not a failure: the events stay unacknowledged (a persistent slot
  // delivers them again after a restart).
  log::Warn(
      "adapter stopped while paused by the nack window; its unacknowledged events stay with the "
      "source",
      {{"adapter", w.name}});
  w.undelivered += events;
}

void Pipeline::FinishWorker(Worker& w) {
  // Release the batches (and transformed copies) the worker still references.
  w.slices.clear();
  w.events.clear();
  w.owned.clear();
  // Stop receiving: the dispatcher skips a closed queue instead of blocking on it.
  w.queue->Close();
  w.undelivered += w.queue->size_events();
  w.adapter->Close();
  health_.Down(w.name);
  MutexLock lock(mu_);
  ++workers_done_;
  cv_.NotifyAll();
}

Status Pipeline::Run(const std::stop_token& stop) {
  if (auto st = OpenAdapters(); !st) return st;
  CreateWorkers();

  std::stop_callback forward(stop, [this] { RequestStop(); });
  bus_->Start();
  bus_started_ = true;
  health_.Up("bus");
  for (Worker* w : Workers()) {
    w->thread = std::thread(scope::Bind([this, w] { RunWorker(*w); }));
  }

  detector::RunContext ctx = MakeRunContext();
  std::thread detector_thread(scope::Bind([this, &ctx] { RunDetector(ctx); }));

  ready_ = true;
  std::string adapter_names;
  for (const auto& a : adapters_) {
    adapter_names += (adapter_names.empty() ? "" : ",") + std::string(a->Name());
  }
  log::Info("pipeline started", {{"detector", detector_->Name()},
                                 {"adapters", adapter_names},
                                 {"bus_mode", bus::ModeName(options_.bus.mode)}});
  {
    MutexLock lock(mu_);
    while (!internal_stop_.stop_requested()) cv_.Wait(mu_);
  }
  ready_ = false;
  const auto deadline = std::chrono::steady_clock::now() + options_.shutdown_timeout;
  log::Info("shutting down",
            {{"timeout", std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            options_.shutdown_timeout)
                                            .count()) +
                             "ms"}});

  // 1. Detector: give it until the deadline to return (it may be blocked
  //    handing a batch to a full bus, or in finish_delivery waiting for the
  //    adapters); then close the ingest to unblock it.
  {
    MutexLock lock(mu_);
    while (!detector_done_) {
      if (!cv_.WaitUntil(mu_, deadline)) break;
    }
  }
  bus_->CloseIngest();
  detector_thread.join();

  // 2./3. Bus drains into adapter queues; workers finish.
  const bool drained = WaitForWorkers(deadline);
  bus_->Join();
  health_.Down("bus");
  return ShutdownResult(drained);
}

Status Pipeline::OpenAdapters() {
  for (auto& a : adapters_) {
    const auto start = std::chrono::steady_clock::now();
    Status st = a->Open();
    metrics::AdapterHistogram("pgcdc_validation_duration_seconds",
                              "Time an adapter took to open and check its target at start-up "
                              "(connection, pre-flight requests).",
                              metrics::DefaultBuckets(), a->Name())
        .Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    if (!st) {
      return Fail(st.error().Wrap("adapter " + std::string(a->Name()) + ": open"));
    }
  }
  return Ok();
}

void Pipeline::CreateWorkers() {
  bus_ = std::make_unique<bus::Bus>(options_.bus);
  acks_ = std::make_unique<AckTracker>(adapters_.size());
  MutexLock lock(mu_);  // Reconfigure() may run concurrently
  global_chain_.store(transforms_.global);
  for (auto& a : adapters_) workers_.push_back(MakeWorker(*a));
}

std::unique_ptr<Pipeline::Worker> Pipeline::MakeWorker(adapter::Adapter& adapter) {
  auto w = std::make_unique<Worker>();
  w->index = workers_.size();
  w->adapter = &adapter;
  w->name = std::string(adapter.Name());
  w->queue = &bus_->Subscribe(w->name);
  w->config.store(MakeWorkerConfig(routes_, transforms_, w->name));
  w->delivered.global = &metrics::AdapterCounter(
      "pgcdc_events_delivered_total", "Events handed to an adapter successfully.", w->name);
  w->skipped.global = &metrics::AdapterCounter(
      "pgcdc_events_skipped_total", "Events not sent to an adapter because of its route.", w->name);
  w->failed.global = &metrics::AdapterCounter("pgcdc_events_failed_total",
                                              "Events an adapter failed to deliver.", w->name);
  w->shed.global =
      &metrics::AdapterCounter("pgcdc_backpressure_load_shed_total",
                               "Events an adapter skipped because backpressure shed it.", w->name);
  w->chain_scope = std::make_unique<ChainScope>(w->name);
  if (auto it = options_.priorities.find(w->name); it != options_.priorities.end()) {
    w->priority = it->second;
  }
  w->depth = &metrics::AdapterGauge("pgcdc_adapter_queue_depth",
                                    "Events waiting in an adapter's queue.", w->name);
  w->ack_position = &metrics::AdapterGauge(
      "pgcdc_ack_position",
      "WAL position (LSN) of the newest event the adapter acknowledged (WAL sources).", w->name);
  return w;
}

detector::RunContext Pipeline::MakeRunContext() {
  detector::RunContext ctx;
  ctx.stop = internal_stop_.get_token();
  ctx.publish = [this](EventBatch&& batch) { return Publish(std::move(batch)); };
  ctx.health = &health_;
  ctx.acks = acks_.get();
  ctx.finish_delivery = [this] {
    bus_->CloseIngest();
    return WaitForWorkers(std::chrono::steady_clock::now() + options_.shutdown_timeout);
  };
  ctx.backpressure = options_.backpressure.get();
  ctx.dlq = options_.dlq;
  return ctx;
}

bool Pipeline::Publish(EventBatch&& batch) {
  // Ends the events' pgcdc.detect spans (tracing on only).
  if (trace::Enabled()) tracing::RecordDetect(batch.events);
  if (options_.inspector && options_.inspector->enabled()) {
    options_.inspector->Record(TapPoint::kPostDetector, {}, std::span<const Event>(batch.events));
  }
  // The global chain runs once, in place, before the batch is shared.
  // Dropped events stay in the batch, marked, so their seq is still
  // acknowledged by every adapter (the checkpoint never stalls on them).
  if (auto chain = global_chain_.load(); chain && !chain->empty()) {
    bool any_tracked = false;
    size_t kept = 0;
    for (auto& e : batch.events) {
      if (ApplyChain(*chain, e, global_scope_)) {
        ++kept;
      } else {
        e.filtered = true;
        any_tracked = any_tracked || e.seq != 0;
      }
    }
    if (kept == 0 && !any_tracked) return true;  // nothing to deliver or acknowledge
  }
  return bus_->Publish(std::move(batch));
}

bool Pipeline::Inject(EventBatch&& batch) {
  if (!bus_started_.load()) return false;
  return bus_->Publish(std::move(batch));
}

uint64_t Pipeline::DeliveredByOthers(std::string_view adapter) const {
  if (!bus_started_.load()) return 0;
  for (size_t i = 0; i < adapters_.size(); ++i) {
    if (adapters_[i]->Name() == adapter) return acks_->DeliveredThroughExcept(i);
  }
  return 0;
}

void Pipeline::RunDetector(detector::RunContext& ctx) {
  Status st = detector_->Run(ctx);
  health_.Down("detector", st ? std::string() : st.error().message());
  if (!st) {
    RecordFailure(st.error().Wrap("detector " + std::string(detector_->Name())));
  } else if (!internal_stop_.stop_requested()) {
    log::Info("detector finished", {{"detector", detector_->Name()}});
    RequestStop();
  }
  MutexLock lock(mu_);
  detector_done_ = true;
  cv_.NotifyAll();
}

bool Pipeline::WaitForWorkers(std::chrono::steady_clock::time_point deadline) {
  {
    MutexLock lock(mu_);
    while (workers_done_ < workers_.size()) {
      if (!cv_.WaitUntil(mu_, deadline)) break;
    }
    if (workers_done_ == workers_.size()) return true;
  }
  abandon_ = true;
  // Wake adapters blocked in retry/backoff/breaker waits.
  for (auto& a : adapters_) a->Interrupt();
  for (Worker* w : Workers()) w->queue->Close();
  const auto last_chance = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
  MutexLock lock(mu_);
  while (workers_done_ < workers_.size()) {
    if (!cv_.WaitUntil(mu_, last_chance)) break;
  }
  return workers_done_ == workers_.size();
}

Status Pipeline::ShutdownResult(bool drained) {
  const std::vector<Worker*> workers = Workers();
  if (!drained) {
    uint64_t left = 0;
    for (Worker* w : workers) left += w->queue->size_events();
    return Fail(ErrorCode::kTimeout, "shutdown timeout exceeded with " + std::to_string(left) +
                                         " events not delivered (an adapter is stuck)");
  }
  uint64_t undelivered = 0;
  for (Worker* w : workers) {
    if (w->thread.joinable()) w->thread.join();
    undelivered += w->undelivered;
  }
  MutexLock lock(mu_);
  if (failure_) return Fail(*failure_);
  if (abandon_.load() && undelivered > 0) {
    return Fail(ErrorCode::kTimeout, "shutdown timeout exceeded with " +
                                         std::to_string(undelivered) + " events not delivered");
  }
  if (undelivered > 0) {
    log::Warn("events left undelivered after a sink closed",
              {{"events", static_cast<uint64_t>(undelivered)}});
  }
  return Ok();
}

}  // namespace pgcdc::pipeline
