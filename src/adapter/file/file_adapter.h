// file adapter (SPEC §5.5): one compact JSON line per event appended to a
// file, rotated by size and count.
//
// Writes are buffered and written + fsync'ed in Flush(), which the pipeline
// calls whenever the adapter's queue runs empty (and at least every
// max_flush_interval). The buffer is also capped in bytes (buffer_bytes):
// past the cap it is written at once, without fsync, so a sustained burst
// never holds more than about buffer_bytes plus one event in memory. Events
// are acknowledged only after Flush() succeeded,
// so with --fsync flush (the default) every acknowledged event is on disk:
// a crash or power loss never loses an event the source was told about.
// --fsync always additionally syncs after every event (slower, no gain in
// what is acknowledged); --fsync never leaves it to the OS.
//
// Rotation happens between events once the file reached max_size:
// <path>.<max_files> is deleted, <path>.<n> -> <path>.<n+1>, <path> -> <path>.1.
// A line is never split across files. One worker thread uses it.
#pragma once

#include <cstdint>
#include <string>

#include "adapter/adapter.h"
#include "registry/registry.h"

namespace pgcdc::adapter::file {

enum class FsyncPolicy { kFlush, kAlways, kNever };

struct Options {
  std::string path;
  uint64_t max_size = 100u << 20;  // bytes; 0 = never rotate
  int max_files = 5;               // rotated files kept
  FsyncPolicy fsync = FsyncPolicy::kFlush;
  // Write (not sync) the buffer once it holds this many bytes.
  size_t buffer_bytes = 1u << 20;
};

class FileAdapter : public Adapter {
 public:
  explicit FileAdapter(Options options);
  ~FileAdapter() override;
  std::string_view Name() const override { return "file"; }
  Status Open() override;
  Status Deliver(std::span<const Event* const> events) override;
  Status Flush() override;
  void Close() override;

 private:
  Status OpenFile();
  Status WriteBuffer();
  Status Rotate();
  Options options_;
  int fd_ = -1;
  uint64_t size_ = 0;
  std::string buffer_;
};

ConnectorInfo Connector();

}  // namespace pgcdc::adapter::file
