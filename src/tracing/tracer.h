// OpenTelemetry tracing (SPEC §9.3, docs/tracing.md): spans per event,
// batched on a thread of their own and exported as OTLP/HTTP protobuf (or as
// JSON lines on stderr with --otel-exporter stdout).
//
// Spans:
//   pgcdc.detect          producer; one per event, from the event's creation
//                         to its hand-over to the bus; child of an incoming
//                         traceparent (webhook gateway), else a root.
//   pgcdc.adapter.deliver consumer; one per event and adapter, covering the
//                         adapter's delivery of the batch holding it; child
//                         of (and linked to) the event's detect span.
// Ids come from core/trace_context.h (derived from the event id), so sinks
// put the matching traceparent into webhook/Kafka/NATS/gRPC messages.
//
// Cost: with tracing off every hook is behind trace::Enabled() (one relaxed
// load). On, a sampled span is copied into a preallocated ring slot under
// one lock per batch (no heap allocation per span); a full ring drops spans
// (pgcdc_tracing_spans_dropped_total{reason="queue_full"}), never events.
//
// Process-wide: one tracer per process, started by the CLI before pipelines
// run and stopped (flushed) after they end. Hooks may be called from any
// thread.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/event.h"
#include "core/mutex.h"
#include "core/trace_context.h"
#include "core/uuid.h"

namespace pgcdc::config {
class Config;
}

namespace pgcdc::tracing {

struct Settings {
  std::string exporter = "none";  // none | stdout | otlp
  // OTLP transport: "http/protobuf" or "grpc".
  std::string protocol = "http/protobuf";
  // Full URL the OTLP/HTTP requests go to (…/v1/traces); for grpc the
  // collector's http(s)://host:port.
  std::string endpoint = "http://localhost:4318/v1/traces";
  std::vector<std::pair<std::string, std::string>> headers;  // extra request headers
  double sample_ratio = 1.0;
  std::string service_name = "pgcdc";
  size_t queue_size = 2048;  // spans waiting for export
  size_t batch_size = 512;   // spans per export request
  std::chrono::milliseconds export_interval{5000};
  std::chrono::milliseconds export_timeout{10000};
  // The log warning for failed exports is written at most this often.
  std::chrono::milliseconds warn_interval{30000};

  bool enabled() const { return exporter != "none"; }
};

using Getenv = std::function<std::optional<std::string>(const std::string&)>;
// Settings from the otel.* keys, falling back to the standard OTEL_*
// variables for what the configuration does not set (docs/tracing.md).
// Errors name the key or variable at fault.
Result<Settings> SettingsFrom(const config::Config& cfg, const Getenv& getenv);
// Validation messages for the otel.* keys (config validate / listen).
std::vector<std::string> Validate(const config::Config& cfg);
// "a=b,c=d%20e" (OTEL_EXPORTER_OTLP_HEADERS syntax; values URL-decoded).
Result<std::vector<std::pair<std::string, std::string>>> ParseHeaderList(std::string_view text);
// The traces URL for an endpoint: "host:port" -> http://host:port/v1/traces;
// a URL without a path gets /v1/traces; a URL with a path is kept.
std::string TracesUrl(std::string_view endpoint);

// ---- span records and their queue (exposed for tests) ----

enum class SpanName : uint8_t { kDetect, kDeliver };

// Fixed-size text: longer values are cut (attributes are for humans).
template <size_t N>
struct FixedText {
  uint16_t size = 0;
  std::array<char, N> data;
  void Assign(std::string_view s) {
    size = static_cast<uint16_t>(std::min(s.size(), N));
    s.copy(data.data(), size);
  }
  std::string_view view() const { return {data.data(), size}; }
};

struct SpanRecord {
  trace::TraceId trace_id{};
  uint64_t span_id = 0;
  uint64_t parent_span_id = 0;  // 0 = root
  int64_t start_ns = 0;
  int64_t end_ns = 0;
  SpanName name = SpanName::kDetect;
  bool error = false;
  Uuid event_id;
  uint64_t lsn = 0;
  FixedText<128> channel;
  FixedText<16> operation;
  FixedText<32> source;
  FixedText<64> table;
  FixedText<48> adapter;
  FixedText<128> status_message;
  FixedText<256> tracestate;
};

std::string_view SpanNameText(SpanName name);

// Bounded ring of spans. Thread-safe.
class SpanQueue {
 public:
  explicit SpanQueue(size_t capacity);
  // Calls fill(slot) n times under one lock; a call returning true keeps
  // the span it wrote (false: nothing to record for that item). Returns the
  // number of spans that did not fit (dropped).
  template <class Fill>
  size_t Push(size_t n, Fill&& fill);
  // Moves up to `max` spans, oldest first, into `out` (appended).
  size_t PopUpTo(std::vector<SpanRecord>& out, size_t max);
  size_t size() const;
  size_t capacity() const { return ring_.size(); }

 private:
  mutable Mutex mu_;
  std::vector<SpanRecord> ring_;  // fixed size
  size_t head_ GUARDED_BY(mu_) = 0;
  size_t count_ GUARDED_BY(mu_) = 0;
};

template <class Fill>
size_t SpanQueue::Push(size_t n, Fill&& fill) {
  size_t dropped = 0;
  MutexLock lock(mu_);
  for (size_t i = 0; i < n; ++i) {
    if (count_ == ring_.size()) {
      // Full: what is left is dropped unless fill() declines it anyway.
      SpanRecord scratch;
      for (; i < n; ++i) {
        if (fill(scratch)) ++dropped;
      }
      break;
    }
    SpanRecord& slot = ring_[(head_ + count_) % ring_.size()];
    if (fill(slot)) ++count_;
  }
  return dropped;
}

// Sends a batch of spans somewhere; an error drops them (counted).
using ExportFn = std::function<Status(std::span<const SpanRecord>)>;

// The OTLP request body (ExportTraceServiceRequest, protobuf) for `spans`.
std::string EncodeOtlp(std::span<const SpanRecord> spans, std::string_view service_name);
// One JSON object per span (the stdout exporter's lines, without newline).
std::string SpanJson(const SpanRecord& span);

// The export thread: takes spans from the queue every export_interval (or
// sooner once batch_size are waiting) and hands them to `export_fn`.
class BatchProcessor {
 public:
  BatchProcessor(Settings settings, ExportFn export_fn);
  ~BatchProcessor();  // Stop()
  SpanQueue& queue() { return queue_; }
  // Wakes the thread when a batch is ready.
  void Notify(size_t queued);
  // Exports what is queued (up to export_timeout), then ends the thread.
  void Stop();
  // Counts (also exported as metrics).
  uint64_t exported() const;
  uint64_t dropped() const;
  void CountDropped(size_t n);  // spans that did not fit the queue

  struct Impl;

 private:
  Settings settings_;
  SpanQueue queue_;
  std::unique_ptr<Impl> impl_;
};

// ---- the process-wide tracer ----

// Starts tracing with `settings` (nothing when exporter is none). Call once,
// before events flow.
Status Start(const Settings& settings);
// Flushes and stops; tracing is off afterwards. Safe to call when not started.
void Shutdown();

// Hooks (callers check trace::Enabled() first).
// A batch handed from a detector to the bus; ends the events' detect spans.
void RecordDetect(std::span<const Event> events);
// `adapter` delivered `events` between start_ns and now; error = its failure.
void RecordDeliver(std::string_view adapter, std::span<const Event* const> events, int64_t start_ns,
                   const Error* error);

}  // namespace pgcdc::tracing
