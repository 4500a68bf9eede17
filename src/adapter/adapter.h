// Adapter: a sink. The pipeline runs one worker thread per adapter that pops
// batches from the adapter's bus queue, applies the route filter and calls
// Deliver(); Flush() is called whenever the queue runs empty, and once more
// before Close() at shutdown. All calls come from that one worker thread.
#pragma once

#include <memory>
#include <span>
#include <string_view>

#include "core/error.h"
#include "core/event.h"

namespace pgcdc::adapter {

class Adapter {
 public:
  virtual ~Adapter() = default;
  // Registry name; keys routes, metrics labels and health.
  virtual std::string_view Name() const = 0;
  // Acquire resources before events flow (a failure aborts start-up).
  virtual Status Open() { return Ok(); }
  // Delivers events in order. An error with code kClosed means the sink went
  // away for good (e.g. stdout closed) and ends the pipeline cleanly; any
  // other error stops the pipeline with that error.
  virtual Status Deliver(std::span<const Event* const> events) = 0;
  virtual Status Flush() { return Ok(); }
  virtual void Close() {}
};
using AdapterPtr = std::unique_ptr<Adapter>;

}  // namespace pgcdc::adapter
