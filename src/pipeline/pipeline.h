// Pipeline: wires one detector, the bus and N adapters, runs them on their
// own threads and shuts them down in order (DESIGN "Lifecycle").
//
// Threads: Run() is called on the owner's thread and blocks; it starts the
// detector thread, the bus dispatcher and one worker per adapter.
//
// Shutdown (stop requested, detector failure or a sink closing):
//   1. the detector is asked to stop and joined (its last batch reaches the bus);
//   2. the bus ingest closes, the dispatcher forwards what is queued;
//   3. adapter workers deliver what is left and flush, bounded by
//      shutdown_timeout. If the deadline passes, Run() returns kTimeout with the
//      number of undelivered events. Workers still inside a sink are not
//      interrupted; the destructor waits for them, so a process that must end
//      now should exit without destroying the Pipeline (the CLI does).
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <stop_token>
#include <string>
#include <vector>

#include "adapter/adapter.h"
#include "bus/bus.h"
#include "core/error.h"
#include "core/metrics.h"
#include "core/mutex.h"
#include "detector/detector.h"
#include "pipeline/ack_tracker.h"
#include "pipeline/backpressure.h"
#include "pipeline/inspector.h"
#include "pipeline/nack_window.h"
#include "transform/transform.h"

namespace pgcdc {
class Health;
namespace dlq {
class DeadLetterQueue;
}
}  // namespace pgcdc

namespace pgcdc::pipeline {

struct Options {
  bus::Options bus;
  std::chrono::nanoseconds shutdown_timeout{std::chrono::seconds(5)};
  // adapter name -> channels it receives; adapters without an entry get everything.
  std::map<std::string, std::vector<std::string>> routes;
  // How long an adapter worker waits for events before checking for shutdown.
  std::chrono::milliseconds poll_interval{100};
  // Under continuous load an adapter's queue may never run empty; flush (and
  // acknowledge) at least this often anyway.
  std::chrono::milliseconds max_flush_interval{200};
  // Optional source-aware backpressure: the detector updates it, adapters
  // with a priority below `critical` are shed by zone.
  std::shared_ptr<BackpressureController> backpressure;
  std::map<std::string, Priority> priorities;
  // Optional event taps for /inspect (after the detector, before each adapter).
  std::shared_ptr<Inspector> inspector;
  // Transform chains: the global one runs once per event before fan-out (on
  // the detector thread), each adapter's own chain on a private copy in that
  // adapter's worker, so one adapter's transforms never change what another
  // sees.
  transform::ChainSet transforms;
  // Where events a transform fails on are recorded (may be null: log only).
  dlq::DeadLetterQueue* dlq = nullptr;
  // Optional nack window (--dlq-window-size): adapters wait here while paused
  // and report what they hand to their sink; `dlq` (and the adapters' DLQ)
  // must then be its WindowedDlq.
  std::shared_ptr<NackWindows> nack_windows;
};

class Pipeline {
 public:
  Pipeline(Options options, detector::DetectorPtr detector,
           std::vector<adapter::AdapterPtr> adapters, Health& health);
  ~Pipeline();
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // Blocks until `stop` is requested (Ok), a sink closes (Ok), or a
  // component fails (its error).
  Status Run(const std::stop_token& stop);

  // True while events flow (after start-up, before shutdown begins).
  bool ready() const { return ready_.load(); }

  // Replaces the route filters and transform chains of running adapters
  // atomically (SIGHUP). Each event is handled by exactly one snapshot — the
  // old or the new one — so nothing is lost or delivered twice. Adapters not
  // named in `routes` receive everything; names of adapters that do not exist
  // are ignored. Thread-safe.
  void Reconfigure(const std::map<std::string, std::vector<std::string>>& routes,
                   const transform::ChainSet& transforms);

  // Publishes a batch an adapter derived (adapter::Services::publish) onto
  // the bus. The global chain is not applied (its transforms may keep state
  // and run on the detector thread only); each adapter's own chain is.
  // False before Run() started the bus and once its ingest closed.
  // Thread-safe.
  bool Inject(EventBatch&& batch);
  // The highest Event::seq every adapter other than `adapter` has finished
  // with (AckTracker::DeliveredThroughExcept); 0 before Run() started the
  // bus or for an unknown name. Thread-safe.
  uint64_t DeliveredByOthers(std::string_view adapter) const;

  // Per-adapter counters for the web console and /api/stats:
  // {"adapters":[{"name","delivered","skipped","failed","shed","queue_depth"}]}.
  std::string StatsJson() const;

 private:
  struct Worker;
  struct WorkerConfig;
  static std::shared_ptr<const WorkerConfig> MakeWorkerConfig(
      const std::map<std::string, std::vector<std::string>>& routes,
      const transform::ChainSet& transforms, const std::string& name);
  // Where a chain's outcomes are counted: "global" or an adapter name, with
  // its counters looked up once (not per event).
  struct ChainScope {
    explicit ChainScope(std::string name);
    std::string name;
    metrics::Counter* dropped;
    metrics::Counter* errors;
  };
  // Runs a chain on `event`; false when the event is to be skipped (dropped,
  // or failed and dead-lettered).
  bool ApplyChain(const transform::Chain& chain, Event& event, const ChainScope& scope);
  void RunWorker(Worker& w);

  // RunWorker()'s steps (worker thread). Those returning bool return false
  // when the worker is to stop (abandoned at the deadline, or the sink failed).
  bool DeliverSlices(Worker& w);  // w.slices, each through DeliverSlice()
  bool DeliverSlice(Worker& w, const bus::BatchSlice& slice);
  // Fills w.events with the slice's events this adapter receives (route
  // filter, then its own chain on private copies in w.owned).
  void SelectEvents(Worker& w, const bus::BatchSlice& slice);
  // Updates the depth gauge; flushes when the queue ran empty or the last
  // flush is max_flush_interval old.
  bool FlushIfDue(Worker& w);
  // Flushes the sink, then acknowledges what it no longer holds.
  bool FlushWorker(Worker& w);
  // A Deliver/Flush error: a closed sink stops the pipeline, anything else fails it.
  void WorkerFailed(Worker& w, const Error& e);
  // The pipeline stopped while the nack window held the adapter paused with
  // `events` in hand: logged, counted as undelivered, not a failure.
  void StoppedWhilePaused(Worker& w, size_t events);
  // Drops the batches it holds, closes its queue and adapter, reports it done.
  void FinishWorker(Worker& w);

  // Run()'s steps (owner thread), in order.
  Status OpenAdapters();
  void CreateWorkers() EXCLUDES(mu_);  // bus, ack tracker and one Worker per adapter
  std::unique_ptr<Worker> MakeWorker(adapter::Adapter& adapter) REQUIRES(mu_);
  // The workers, for the owner thread's loops that must not hold mu_ (they
  // join threads or wait). Workers are never removed before destruction.
  std::vector<Worker*> Workers() const EXCLUDES(mu_);
  detector::RunContext MakeRunContext();
  // ctx.publish (detector thread): inspector tap, global chain, bus.
  bool Publish(EventBatch&& batch);
  // The detector thread's body; sets detector_done_ when it returns.
  void RunDetector(detector::RunContext& ctx) EXCLUDES(mu_);
  // True when every worker finished by `deadline`; otherwise abandons the
  // rest (interrupts adapters, closes queues) and gives them a last 500 ms.
  bool WaitForWorkers(std::chrono::steady_clock::time_point deadline) EXCLUDES(mu_);
  // Joins the workers and turns failures and undelivered events into Run()'s result.
  Status ShutdownResult(bool drained) EXCLUDES(mu_);
  void RecordFailure(Error error) EXCLUDES(mu_);
  // Requests the internal stop and wakes Run() (takes mu_, see there).
  void RequestStop() EXCLUDES(mu_);

  // Constant after construction, except routes and transforms: those move to
  // routes_ and transforms_ (Reconfigure() replaces them).
  Options options_;
  detector::DetectorPtr detector_;
  std::vector<adapter::AdapterPtr> adapters_;
  Health& health_;
  std::unique_ptr<bus::Bus> bus_;
  std::unique_ptr<AckTracker> acks_;
  std::atomic<std::shared_ptr<const transform::Chain>> global_chain_;
  ChainScope global_scope_{"global"};
  std::stop_source internal_stop_;
  std::atomic<bool> ready_{false};
  std::atomic<bool> bus_started_{false};  // Inject() may publish (bus_ lives until destruction)
  std::atomic<bool> abandon_{false};
  mutable Mutex mu_;
  // Signalled (under mu_) when a stop is requested, the detector returns or a
  // worker finishes.
  CondVar cv_;
  std::map<std::string, std::vector<std::string>> routes_ GUARDED_BY(mu_);
  transform::ChainSet transforms_ GUARDED_BY(mu_);
  // Created once by Run() (Reconfigure() and StatsJson() may run meanwhile).
  std::vector<std::unique_ptr<Worker>> workers_ GUARDED_BY(mu_);
  std::optional<Error> failure_ GUARDED_BY(mu_);
  size_t workers_done_ GUARDED_BY(mu_) = 0;
  bool detector_done_ GUARDED_BY(mu_) = false;
};

}  // namespace pgcdc::pipeline
