#include "adapter/stdout/stdout_adapter.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "config/config.h"
#include "registry/define.h"

namespace pgcdc::adapter::stdout_sink {

StdoutAdapter::StdoutAdapter(int fd, size_t flush_bytes) : fd_(fd), flush_bytes_(flush_bytes) {
  buffer_.reserve(flush_bytes_ + 4096);
}

Status StdoutAdapter::Deliver(std::span<const Event* const> events) {
  for (const Event* e : events) {
    const std::string& json = e->Json();
    buffer_.append(json);
    buffer_.push_back('\n');
    if (buffer_.size() >= flush_bytes_) {
      if (auto st = Flush(); !st) return st;
    }
  }
  return Ok();
}

Status StdoutAdapter::Flush() {
  size_t off = 0;
  while (off < buffer_.size()) {
    ssize_t n = ::write(fd_, buffer_.data() + off, buffer_.size() - off);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      const int err = errno;
      buffer_.clear();
      if (err == EPIPE) return Fail(ErrorCode::kClosed, "stdout closed");
      return Fail(ErrorCode::kIo, std::string("write stdout: ") + std::strerror(err));
    }
    off += static_cast<size_t>(n);
  }
  buffer_.clear();
  // One huge event must not pin its size for the rest of the run.
  if (buffer_.capacity() > 2 * (flush_bytes_ + 4096)) {
    buffer_.shrink_to_fit();
    buffer_.reserve(flush_bytes_ + 4096);
  }
  return Ok();
}

namespace {
struct NoConfig {};
}  // namespace

ConnectorInfo Connector() {
  return DefineAdapter<NoConfig>({
      .name = "stdout",
      .description =
          "Writes each event as one compact JSON line to standard output (logs go to stderr).",
      .make = [](NoConfig, const Context&) -> Result<AdapterPtr> {
        return std::make_unique<StdoutAdapter>();
      },
  });
}

}  // namespace pgcdc::adapter::stdout_sink

PGCDC_REGISTER_CONNECTOR(adapter, stdout, pgcdc::adapter::stdout_sink::Connector)
