// null adapter: accepts and acknowledges every event without writing it
// anywhere, counting them (pgcdc_null_events_total). For benchmarks (the
// pipeline's own cost without a sink's), dry runs and smoke tests. Added as
// the proof that a connector is one folder plus one line in
// src/connectors.cmake (docs/adding-a-connector.md).
#pragma once

#include <atomic>
#include <cstdint>

#include "adapter/adapter.h"
#include "registry/registry.h"

namespace pgcdc::adapter::null {

struct Options {
  // Log a progress line every this many events (0 = never).
  int64_t log_every = 0;
};

class NullAdapter : public Adapter {
 public:
  explicit NullAdapter(Options options);
  std::string_view Name() const override { return "null"; }
  Status Deliver(std::span<const Event* const> events) override;
  void Close() override;
  uint64_t delivered() const { return delivered_.load(std::memory_order_relaxed); }

 private:
  Options options_;
  std::atomic<uint64_t> delivered_{0};
};

ConnectorInfo Connector();

}  // namespace pgcdc::adapter::null
