// stdout adapter (SPEC §5.1): one compact JSON document per line on standard
// output. Writes are buffered and flushed when the adapter's queue runs empty
// (or the buffer passes flush_bytes), so bursts cost few syscalls while an
// idle stream is still delivered immediately. A closed stdout (EPIPE) ends
// the pipeline cleanly.
#pragma once

#include <string>

#include "adapter/adapter.h"
#include "registry/registry.h"

// Namespace `stdout_sink`: `stdout` itself is a macro of <cstdio>.
namespace pgcdc::adapter::stdout_sink {

class StdoutAdapter : public Adapter {
 public:
  explicit StdoutAdapter(int fd = 1, size_t flush_bytes = 64 * 1024);
  std::string_view Name() const override { return "stdout"; }
  Status Deliver(std::span<const Event* const> events) override;
  Status Flush() override;

 private:
  int fd_;
  size_t flush_bytes_;
  std::string buffer_;
};

ConnectorInfo Connector();

}  // namespace pgcdc::adapter::stdout_sink
