// Adapter: a sink. The pipeline runs one worker thread per adapter that pops
// batches from the adapter's bus queue, applies the route filter and calls
// Deliver(); Flush() is called whenever the queue runs empty, and once more
// before Close() at shutdown. All calls come from that one worker thread,
// except Attach() (before Open, on the owner's thread) and Interrupt().
//
// Acknowledgement contract: when Deliver() and the following Flush() return
// Ok, the adapter is completely done with those events (delivered, or
// dead-lettered through the DLQ from Services). The pipeline then confirms
// them to the source (checkpoint). An adapter that cannot deliver an event
// and cannot dead-letter it must return an error: the event is then never
// confirmed and is replayed after a restart (no silent loss).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

#include "core/error.h"
#include "core/event.h"

namespace pgcdc {
class Health;
namespace net {
class HttpServer;
struct HttpServerOptions;
}  // namespace net
namespace dlq {
class DeadLetterQueue;
}
}  // namespace pgcdc

namespace pgcdc::adapter {

// Shared services the pipeline hands to every adapter before Open().
struct Services {
  // Where events that can never be delivered go (never null; the "none"
  // backend discards and counts). Thread-safe.
  dlq::DeadLetterQueue* dlq = nullptr;
  // The main HTTP server (--http-addr) for adapters that serve clients (sse,
  // ws, inspector); null when disabled. Routes must be added in Attach(),
  // before the server starts.
  net::HttpServer* http = nullptr;
  // Limits and credentials for an adapter's own HTTP listener (the same as
  // the main server's); null = HttpServerOptions defaults.
  const net::HttpServerOptions* http_options = nullptr;
  // The process's health (/healthz). An adapter may report its own component
  // (its Name()) degraded while its peer is unreachable and up again after;
  // the pipeline sets it up when the adapter starts and down when it fails.
  // Null in tools that run an adapter outside a pipeline.
  Health* health = nullptr;
  // Publishes events the adapter derives (e.g. the view adapter's
  // VIEW_RESULTs) into the bus ingest: every adapter receives them (the
  // publisher too, which must ignore its own), through its own transform
  // chain; the global chain, which runs on the detector thread, does not
  // apply. Blocks while the ingest is full (reliable mode),
  // so never call it from Deliver()/Flush(): the adapter's own queue may be
  // what is full. Returns false once the pipeline stopped taking events or
  // before it runs. Thread-safe; null in tools without a pipeline.
  std::function<bool(EventBatch&&)> publish;
  // The highest Event::seq that every *other* adapter has finished with
  // (delivered and flushed): lets an adapter that publishes derived events
  // hold its source events (OldestHeldSeq) until what it published after
  // them was delivered too. The argument is the adapter's Name(). 0 while
  // unknown; null in tools without a pipeline. Thread-safe.
  std::function<uint64_t(std::string_view adapter)> delivered_by_others;
  // --skip-validation: an adapter that checks its target in Open() (the
  // search index, the S3 bucket) skips that check; problems then show on the
  // first delivery, retried like any other failure.
  bool skip_validation = false;
};

class Adapter {
 public:
  virtual ~Adapter() = default;
  // Registry name; keys routes, metrics labels and health.
  virtual std::string_view Name() const = 0;
  // Receives the shared services; called once, before Open(). Adapters that
  // need HTTP routes mount them here and may fail when `http` is null.
  virtual Status Attach(const Services& services) { return Ok(); }
  // Acquire resources before events flow (a failure aborts start-up).
  virtual Status Open() { return Ok(); }
  // Delivers events in order. The events are only guaranteed to live until
  // this call returns: a sink that buffers until Flush() keeps copies (or
  // the encoded bytes). An error with code kClosed means the sink went
  // away for good (e.g. stdout closed) and ends the pipeline cleanly; any
  // other error stops the pipeline with that error.
  virtual Status Deliver(std::span<const Event* const> events) = 0;
  virtual Status Flush() { return Ok(); }
  // Deferred acknowledgement (optional). An adapter that still needs events
  // after Deliver()+Flush() returned Ok — the Kafka-protocol server keeps
  // them until every consumer group has committed past them — returns the
  // lowest Event::seq it still holds (0 is never a valid seq). The pipeline
  // then confirms to the source only the events below it. nullopt (the
  // default) = nothing held. Called on the worker thread after every
  // Flush(), which happens at least every poll interval while idle.
  virtual std::optional<uint64_t> OldestHeldSeq() const { return std::nullopt; }
  // Serving adapters (sse, ws, kafkaserver) deliver only to attached
  // clients: they report how many are attached; nullopt (the default) = not
  // a serving adapter. Called from any thread (e.g. `pgcdc snapshot` waits
  // for a first client before exporting); must be thread-safe.
  virtual std::optional<size_t> Subscribers() const { return std::nullopt; }
  // Called from another thread when shutdown gives up waiting (the shutdown
  // timeout passed): a Deliver() blocked in a retry/backoff/breaker wait
  // should return kCancelled promptly. Must be thread-safe and idempotent.
  virtual void Interrupt() {}
  virtual void Close() {}
};
using AdapterPtr = std::unique_ptr<Adapter>;

}  // namespace pgcdc::adapter
