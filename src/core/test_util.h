// Test helpers: events with given fields, waiting for a condition another
// thread makes true (polled through PollUntil, core/ack_poll.h, on the real
// clock) and reading a series of the process-wide metrics registry.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/ack_poll.h"
#include "core/clock.h"
#include "core/event.h"
#include "core/metrics.h"
#include "core/sleep.h"
#include "core/uuid.h"

namespace pgcdc::testing {

// The id of events whose encoding tests compare byte for byte:
// 0195b3c2-7a10-7c3e-9f11-2b3c4d5e6f70.
inline Uuid SampleEventId() { return MakeUuidV7(0x0195b3c27a10, 0xc3e, 0x1f112b3c4d5e6f70); }

struct EventFields {
  std::string channel;
  std::string operation;
  std::string payload = "null";
  std::string_view source;  // static storage, as Event::source
  Uuid id{};
  int64_t created_at_ns = 0;
};

inline Event MakeEvent(EventFields f) {
  Event e;
  e.id = f.id;
  e.channel = std::move(f.channel);
  e.operation = std::move(f.operation);
  e.payload = std::move(f.payload);
  e.source = f.source;
  e.created_at_ns = f.created_at_ns;
  return e;
}

// True once `done` holds (it is checked a last time at the deadline); false
// when `timeout` passes first.
inline bool Eventually(const std::function<bool()>& done,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const Sleeper sleeper;
  const PollOptions options{.max_pause = std::chrono::milliseconds(5),
                            .deadline = RealClock().Now() + timeout};
  return PollUntil(done, sleeper, options) == WaitResult::kDone;
}

// The value of `series` (name plus labels as exposed, e.g.
// `pgcdc_dlq_records_total{adapter="webhook"}`) in metrics::Default(); -1
// when it is not exposed.
inline double MetricValue(const std::string& series) {
  const std::string text = metrics::Default().Expose();
  const size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

}  // namespace pgcdc::testing
