// W3C trace context (https://www.w3.org/TR/trace-context/) as pgcdc carries
// it on events, plus the few pure helpers every module needs: traceparent
// parse/format, span ids of delivery spans, and the calling thread's
// current span (what log records name as trace_id/span_id).
//
// The tracer itself (sampling, span export) lives in src/tracing; core only
// holds what an Event and a log record need, so the hot path of a build or
// run without tracing pays one predictable branch (`valid()` is false).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pgcdc {
class Event;
struct Uuid;
}  // namespace pgcdc

namespace pgcdc::trace {

using TraceId = std::array<uint8_t, 16>;

// Flag bit of traceparent's trace-flags: the trace is sampled (recorded).
inline constexpr uint8_t kSampledFlag = 0x01;

// The trace identity of one event: its pgcdc.detect span.
struct TraceContext {
  TraceId trace_id{};
  uint64_t span_id = 0;         // the pgcdc.detect span; 0 = none (tracing off)
  uint64_t parent_span_id = 0;  // a remote parent (webhook gateway); 0 = root
  uint8_t flags = 0;            // kSampledFlag when recorded and exported

  bool valid() const { return span_id != 0; }
  bool sampled() const { return (flags & kSampledFlag) != 0; }
};

// A parsed traceparent header: version 00 form
// "00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>". Higher versions
// are read by their first four fields (the spec's forward compatibility).
struct ParsedTraceparent {
  TraceId trace_id{};
  uint64_t span_id = 0;
  uint8_t flags = 0;
};
// nullopt for anything malformed: wrong length or separators, upper-case or
// non-hex digits, version ff, all-zero trace or span id.
std::optional<ParsedTraceparent> ParseTraceparent(std::string_view header);

// The 55-character traceparent of (trace_id, span_id, flags).
inline constexpr size_t kTraceparentSize = 55;
void FormatTraceparent(const TraceId& trace_id, uint64_t span_id, uint8_t flags,
                       char (&out)[kTraceparentSize]);
std::string FormatTraceparent(const TraceId& trace_id, uint64_t span_id, uint8_t flags);

// A tracestate value we pass on: at most 512 characters of printable ASCII
// (the spec's limit; anything else is dropped, not forwarded).
bool ValidTracestate(std::string_view value);

// The span id of `adapter`'s pgcdc.adapter.deliver span for an event whose
// detect span is `detect_span_id`: derived, so the pipeline (which records
// the span) and the sink (which propagates it in headers) agree without
// sharing state. Never 0.
uint64_t DeliverSpanId(uint64_t detect_span_id, std::string_view adapter);

// ---- Process-wide tracing state (set by src/tracing when it starts) ----
//
// An event's ids are derived from its UUID (hashing its random bits): the
// detector, the pipeline and every sink compute the same context from the
// event alone, without storing anything on it or sharing state, and without
// a random number per span. Events that arrived with a traceparent (the
// webhook gateway) continue that trace: RememberRemoteParent() keeps their
// parent until they are delivered (a bounded table, see below).

namespace internal {
extern std::atomic<bool> g_enabled;
}  // namespace internal
// True while tracing is on. One relaxed load: the whole off path.
inline bool Enabled() { return internal::g_enabled.load(std::memory_order_relaxed); }
// Turns tracing on with a parent-based trace-id-ratio sampler (ratio in
// [0,1]), or off. Called once at start-up (and at exit).
void Configure(bool enabled, double sample_ratio);

// The event's context (invalid when tracing is off).
TraceContext ContextOf(const Event& event);
// The traceparent a sink sends for `event` on behalf of `adapter`: its
// pgcdc.adapter.deliver span as parent. False (nothing written) when
// tracing is off.
bool DeliveryTraceparent(const Event& event, std::string_view adapter,
                         char (&out)[kTraceparentSize]);
// The same as text ("" when tracing is off).
std::string DeliveryTraceparent(const Event& event, std::string_view adapter);
// The tracestate that arrived with the event ("" for most events).
std::string TracestateOf(const Event& event);
// The webhook gateway: `id`'s event continues the trace `parent` (with its
// sampling decision) and passes `tracestate` on. Only the latest
// kRemoteParentCapacity such events are remembered; older ones start a
// trace of their own (documented in docs/tracing.md).
inline constexpr size_t kRemoteParentCapacity = 65536;
void RememberRemoteParent(const Uuid& id, const ParsedTraceparent& parent, std::string tracestate);

// Lower-case hex of ids (log fields, tests).
std::string TraceIdHex(const TraceId& id);
std::string SpanIdHex(uint64_t id);

// The calling thread's current span (for log records): set for the
// duration of a scope. Only sampled contexts become current.
struct CurrentSpan {
  TraceId trace_id{};
  uint64_t span_id = 0;
};
// Null when no span is current on this thread.
const CurrentSpan* Current();

class ScopedSpan {
 public:
  // Makes (trace_id, span_id) current when `sampled`; otherwise nothing.
  ScopedSpan(const TraceId& trace_id, uint64_t span_id, bool sampled);
  // Makes `adapter`'s deliver span of `event` current (when traced).
  ScopedSpan(const Event& event, std::string_view adapter);
  ~ScopedSpan();
  ScopedSpan(const ScopedSpan&) = delete;
  ScopedSpan& operator=(const ScopedSpan&) = delete;

 private:
  bool active_ = false;
  CurrentSpan previous_{};
  bool had_previous_ = false;
};

}  // namespace pgcdc::trace
