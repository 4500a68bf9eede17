// Detector: a change source. Runs on its own thread (client libraries block),
// turns source changes into EventBatches and hands them to the bus.
#pragma once

#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/event.h"
#include "core/metrics.h"
#include "core/retry_policy.h"
#include "core/supervisor.h"

namespace pgcdc {
class Health;
namespace dlq {
class DeadLetterQueue;
}  // namespace dlq
namespace net {
class HttpServer;
}  // namespace net
namespace pg {
class CheckpointBackend;
}  // namespace pg
namespace schema {
class Store;
}  // namespace schema
namespace pipeline {
class BackpressureController;
class DeliveryWatermark;
}  // namespace pipeline
}  // namespace pgcdc

namespace pgcdc::detector {

struct RunContext {
  std::stop_token stop;
  // Hands a batch to the bus; blocks under backpressure; false once the bus
  // no longer accepts events (shutting down).
  std::function<bool(EventBatch&&)> publish;
  Health* health = nullptr;  // component name "detector"
  // How far every adapter has finished (by Event::seq); for checkpointing.
  const pipeline::DeliveryWatermark* acks = nullptr;
  // Source-aware backpressure, when enabled: the detector reports lag to it
  // and throttles/pauses reading as it says.
  pipeline::BackpressureController* backpressure = nullptr;
  // Where a detector records source rows that cannot become events (may be
  // null: then it logs them in full).
  dlq::DeadLetterQueue* dlq = nullptr;
  std::string health_name = "detector";
  // For the orderly stop of a checkpointing detector, after its last publish
  // (detector::FinishAfterStop): closes the bus to new events and waits (up to
  // the shutdown timeout) until every adapter has delivered and flushed what it
  // was handed, so the final checkpoint covers all of it instead of leaving it
  // to be sent again after a restart. True when every adapter finished. Set by
  // the pipeline; a composite gives its children one that finishes them
  // together. Null in tests that track no deliveries.
  std::function<bool()> finish_delivery;
};

class Detector {
 public:
  virtual ~Detector() = default;
  virtual std::string_view Name() const = 0;
  // Runs until ctx.stop is requested (returns Ok) or a non-recoverable error
  // occurs. Recoverable errors (connection loss) are retried internally.
  // Contract: report ctx.health Up once the source is connected and Down
  // (with the error) while it is not; the pipeline marks it Down on return.
  virtual Status Run(RunContext& ctx) = 0;
  // Called once before the HTTP servers start, with the main server (null
  // when http_addr is empty): a detector that receives requests (the webhook
  // gateway) mounts its routes here. The server stops after Run() returned.
  virtual Status AttachHttp(net::HttpServer* /*http*/) { return Ok(); }
  // Keeps the detector's checkpoints in `backend` (a Wasm checkpoint store
  // plugin, --checkpoint-plugin) instead of the pgcdc_checkpoints table.
  // Called once before Run(); detectors without checkpoints refuse.
  // NOLINTNEXTLINE(performance-unnecessary-value-param): overrides keep it
  virtual Status UseCheckpointBackend(std::shared_ptr<pg::CheckpointBackend> /*backend*/) {
    return Fail(ErrorCode::kConfig, "detector " + std::string(Name()) +
                                        " keeps no checkpoints: --checkpoint-plugin needs "
                                        "--detector wal with --persistent-slot");
  }
  // Registers the column list of every table the detector sees in `store`
  // (--schema-store, src/schema). Called once before Run(); detectors that
  // see no table definitions refuse.
  // NOLINTNEXTLINE(performance-unnecessary-value-param): overrides keep it
  virtual Status UseSchemaStore(std::shared_ptr<schema::Store> /*store*/) {
    return Fail(ErrorCode::kConfig, "--schema-store needs --detector wal (detector " +
                                        std::string(Name()) + " registers no table schemas)");
  }
};
using DetectorPtr = std::unique_ptr<Detector>;

// What every reconnecting detector hands its Supervisor: the component name,
// its own failure counter (e.g. pgcdc_outbox_errors_total), its backoff, and
// the run's health reporting. Callers add is_fatal and the like.
inline SupervisorOptions SupervisorFor(const RunContext& ctx, std::string component,
                                       metrics::Counter& failures, const RetryPolicy& retry) {
  SupervisorOptions so;
  so.component = std::move(component);
  so.failures = &failures;
  so.retry = retry;
  so.health = ctx.health;
  so.health_name = ctx.health_name;
  return so;
}

}  // namespace pgcdc::detector
