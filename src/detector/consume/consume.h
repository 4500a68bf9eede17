// Shared by the sources that consume a log (detector/kafka_consumer,
// detector/nats_consumer; docs/kafka_consumer.md, docs/nats_consumer.md):
//
//  - MessageEvent(): one consumed message → one event (SPEC §1.5.12): the
//    payload is the message when it is JSON (whitespace removed, key order
//    kept), otherwise the source's raw form; with `metadata` the payload is
//    instead an object describing the message (its coordinates, key,
//    headers) whose "value" member holds that payload.
//  - With unwrap, a message that is a pgcdc event envelope (what the
//    stdout, file, nats and kafka --kafka-value envelope sinks write)
//    becomes that event again: same id, channel, operation, payload,
//    source, created_at and transaction.
//  - DeliveryQueue: the source positions of published events, released in
//    publish order once every adapter finished with them (RunContext::acks),
//    so offsets are committed / messages acked only after delivery.
//
// Pure apart from RecordUnusable() (the run's dead letter queue); the
// detector thread.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/core_params.h"
#include "core/error.h"
#include "core/event.h"
#include "core/metrics.h"
#include "core/retry_policy.h"
#include "core/sleep.h"
#include "core/supervisor.h"
#include "core/uuid.h"
#include "detector/detector.h"

namespace pgcdc::detector::consume {

// How a message that is not JSON appears in the payload.
enum class RawForm {
  kBase64Object,  // {"raw":"<base64>"} (Kafka)
  kString,        // the data as a JSON string (NATS; invalid UTF-8 → {"raw":"<base64>"})
};

// The SPEC payload of `data`.
std::string PayloadOf(std::string_view data, RawForm form);

struct Header {
  std::string name;
  std::string value;
};

// Where a message came from, for the metadata payload: its coordinates as
// (name, JSON value) pairs in order, e.g. {"topic","\"orders\""},
// {"partition","0"}, {"offset","17"}.
struct MessageInfo {
  std::vector<std::pair<std::string, std::string>> coordinates;
  std::string key;  // empty: none
  bool has_key = false;
  std::vector<Header> headers;
};

// {<coordinates...>,"key":…|null,"headers":{name:value,…},"value":<payload>}
// (a header seen twice keeps its last value; values that are not UTF-8
// text are base64 {"raw":…} objects).
std::string MetadataPayload(const MessageInfo& info, std::string_view payload);

// The event inside a pgcdc envelope, or a kParse error saying why `data` is
// none (not JSON, not an object, a key missing or mistyped).
Result<Event> Unwrap(std::string_view data);

// The event of one consumed message, before unwrapping.
struct EventParts {
  std::string channel;
  std::string_view operation;  // static storage
  std::string payload;
  std::string_view source;  // static storage
  int64_t created_at_ns = 0;
  Uuid id;
  std::string key;
};

// A consumed message's event; with unwrap the pgcdc event inside `data`
// (keeping the message's key), or `unusable` says why there is none (the
// event of `parts` is then returned, for the dead letter queue).
struct Converted {
  Event event;
  std::string unusable;
};
Converted ConsumedEvent(EventParts parts, std::string_view data, bool unwrap);

// The id of the message at `position` of the log `scope` ("kafka:<topic>/
// <partition>", "nats:<stream>"): the same message read again has the same id.
Uuid PositionId(std::string_view scope, uint64_t position);

// Records an event that cannot be delivered as it is (unwrap failed) in the
// run's dead letter queue under `source`, counts it and logs a warning. An
// error means it could not be recorded: the caller must not finish the
// message.
Status RecordUnusable(const RunContext& ctx, const Event& event, std::string_view source,
                      std::string_view reason, metrics::Counter& counter);

// How far every adapter has finished (by seq): everything when the run
// tracks no deliveries.
uint64_t DeliveredThrough(const RunContext& ctx, uint64_t last_seq);

// Runs `cycle` (connect and consume) under the run's Supervisor: with
// `errors` as its failure counter and kConfig errors fatal until the source
// was up once.
Status Supervise(RunContext& ctx, std::string_view source, metrics::Counter& errors,
                 const RetryPolicy& backoff, const Supervisor::ServeFn& cycle);

// A failure to reach the source on the very first attempt of a source that
// never ran is a configuration mistake (kConfig, exit 2, naming `hint`);
// later it is an outage, retried.
Error AtStart(const Supervisor::Session& session, uint64_t next_seq, const Error& error,
              std::string_view source, std::string_view hint);

// At shutdown: waits (up to `grace`) until the events through `last_seq`
// are delivered; logs and returns false when they were not.
bool FinishInFlight(const RunContext& ctx, const Sleeper& sleeper, uint64_t last_seq,
                    std::chrono::milliseconds grace, std::string_view source);

// The rules every log consumer adds to its own: the reliable bus (a fast
// bus would drop events whose position is then `finished` as delivered).
void ValidateCore(const config::CoreSettings& core, std::string_view detector,
                  std::string_view finished, std::vector<std::string>& errors);

// The detector D for options O, with stop_grace from shutdown_timeout.
template <class D, class O>
Result<DetectorPtr> MakeConsumer(O o, const config::CoreSettings& core) {
  o.stop_grace = std::chrono::duration_cast<std::chrono::milliseconds>(core.shutdown_timeout) / 2;
  return std::make_unique<D>(std::move(o));
}

// Positions of published events by seq, in publish order. Push() with
// non-decreasing seq; an entry for a message that produced no event (dead
// lettered, skipped) takes the seq of the last published event, so it is
// released with it.
template <class T>
class DeliveryQueue {
 public:
  void Push(uint64_t seq, T item) { items_.emplace_back(seq, std::move(item)); }
  // Calls fn(T&&) for each entry with seq <= through, oldest first, and
  // removes it; returns how many.
  template <class F>
  size_t Release(uint64_t through, F&& fn) {
    size_t n = 0;
    while (!items_.empty() && items_.front().first <= through) {
      fn(std::move(items_.front().second));
      items_.pop_front();
      ++n;
    }
    return n;
  }
  // Removes (without releasing) every entry pred(const T&) accepts.
  template <class P>
  size_t Drop(P&& pred) {
    return std::erase_if(items_, [&](const auto& e) { return pred(e.second); });
  }
  // The highest seq among entries pred accepts (0: none).
  template <class P>
  uint64_t LastSeq(P&& pred) const {
    for (auto it = items_.rbegin(); it != items_.rend(); ++it) {
      if (pred(it->second)) return it->first;
    }
    return 0;
  }
  template <class F>
  void ForEach(F&& fn) {
    for (auto& e : items_) fn(e.second);
  }
  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }

 private:
  std::deque<std::pair<uint64_t, T>> items_;
};

}  // namespace pgcdc::detector::consume
