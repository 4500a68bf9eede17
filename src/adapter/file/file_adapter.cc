#include "adapter/file/file_adapter.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "config/config.h"
#include "core/log.h"
#include "core/metrics.h"
#include "registry/define.h"

namespace pgcdc::adapter::file {

namespace {

Error Errno(const std::string& what) {
  return Error(ErrorCode::kIo, what + ": " + std::strerror(errno));
}

metrics::Counter& Rotations() {
  static metrics::Counter& c =
      metrics::DefaultCounter("pgcdc_file_rotations_total", "File adapter rotations.");
  return c;
}

metrics::Counter& CutLinesRemoved() {
  static metrics::Counter& c = metrics::DefaultCounter(
      "pgcdc_file_cut_lines_removed_total",
      "Partial last lines (cut by a crash mid-write) removed from the file at start.");
  return c;
}

// The size of the file up to and including its last newline (0: none):
// where a line cut by a crash begins.
Result<uint64_t> EndOfLastLine(int fd, uint64_t size) {
  constexpr uint64_t kChunk = 64 * 1024;
  std::string chunk;
  for (uint64_t end = size; end > 0;) {
    const uint64_t begin = end > kChunk ? end - kChunk : 0;
    chunk.resize(end - begin);
    const ssize_t n = ::pread(fd, chunk.data(), chunk.size(), static_cast<off_t>(begin));
    if (n != static_cast<ssize_t>(chunk.size())) return Fail(Errno("file: read"));
    if (const size_t at = chunk.rfind('\n'); at != std::string::npos) return begin + at + 1;
    end = begin;
  }
  return uint64_t{0};
}

}  // namespace

FileAdapter::FileAdapter(Options options) : options_(std::move(options)) {}

FileAdapter::~FileAdapter() { Close(); }

Status FileAdapter::Open() {
  const auto parent = std::filesystem::path(options_.path).parent_path();
  std::error_code ec;
  if (!parent.empty() && !std::filesystem::is_directory(parent, ec)) {
    return Fail(ErrorCode::kInvalidArgument,
                "file: directory " + parent.string() + " does not exist");
  }
  return OpenFile();
}

Status FileAdapter::OpenFile() {
  fd_ = ::open(options_.path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) return Fail(Errno("file: open " + options_.path));
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return Fail(Errno("file: stat " + options_.path));
  size_ = static_cast<uint64_t>(st.st_size);
  // A crash in the middle of a write (kill -9 between two pages of a write)
  // can leave a cut last line. Its events were never acknowledged (that
  // waits for the whole batch to be written and synced), so they come again:
  // the cut part is removed, and the file holds only whole lines.
  if (size_ > 0) {
    char last = '\n';
    if (::pread(fd_, &last, 1, static_cast<off_t>(size_ - 1)) != 1) {
      return Fail(Errno("file: read " + options_.path));
    }
    if (last != '\n') {
      auto end = EndOfLastLine(fd_, size_);
      if (!end) return Fail(end.error().Wrap(options_.path));
      if (::ftruncate(fd_, static_cast<off_t>(*end)) != 0) {
        return Fail(Errno("file: remove the cut last line of " + options_.path));
      }
      log::Warn("file: removed a cut last line left by a crash; its events come again",
                {{"path", options_.path}, {"bytes", static_cast<int64_t>(size_ - *end)}});
      CutLinesRemoved().Inc();
      size_ = *end;
    }
  }
  return Ok();
}

Status FileAdapter::Deliver(std::span<const Event* const> events) {
  for (const Event* e : events) {
    buffer_.append(e->Json());
    buffer_.push_back('\n');
    if (options_.fsync == FsyncPolicy::kAlways ||
        (options_.max_size > 0 && size_ + buffer_.size() >= options_.max_size)) {
      if (auto st = Flush(); !st) return st;
    } else if (buffer_.size() >= options_.buffer_bytes) {
      // Byte cap: write now; the fsync (and so the acknowledgement) still
      // waits for Flush().
      if (auto st = WriteBuffer(); !st) return st;
    }
  }
  return Ok();
}

Status FileAdapter::WriteBuffer() {
  size_t off = 0;
  while (off < buffer_.size()) {
    const ssize_t n = ::write(fd_, buffer_.data() + off, buffer_.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      Error error = Errno("file: write " + options_.path);
      // Cut off what this attempt wrote (a disk that filled up mid-buffer):
      // a retry then writes the buffer once, with no duplicate or cut line.
      if (off > 0 && ::ftruncate(fd_, static_cast<off_t>(size_)) != 0) {
        log::Warn("file: cannot remove a partly written batch; it stays as a cut line",
                  {{"path", options_.path}, {"error", Errno("ftruncate").message()}});
      }
      return Fail(std::move(error));
    }
    off += static_cast<size_t>(n);
  }
  size_ += buffer_.size();
  buffer_.clear();
  // One huge event must not pin its size for the rest of the run.
  if (buffer_.capacity() > 2 * options_.buffer_bytes) buffer_.shrink_to_fit();
  return Ok();
}

Status FileAdapter::Flush() {
  if (fd_ < 0) return Fail(ErrorCode::kIo, "file: not open");
  if (buffer_.empty()) return Ok();
  if (auto st = WriteBuffer(); !st) return st;
  if (options_.fsync != FsyncPolicy::kNever && ::fdatasync(fd_) != 0) {
    return Fail(Errno("file: fsync " + options_.path));
  }
  if (options_.max_size > 0 && size_ >= options_.max_size) return Rotate();
  return Ok();
}

Status FileAdapter::Rotate() {
  ::close(fd_);
  fd_ = -1;
  const std::string& p = options_.path;
  if (options_.max_files <= 0) {
    if (::unlink(p.c_str()) != 0 && errno != ENOENT) return Fail(Errno("file: remove " + p));
  } else {
    const std::string oldest = p + "." + std::to_string(options_.max_files);
    if (::unlink(oldest.c_str()) != 0 && errno != ENOENT) {
      return Fail(Errno("file: remove " + oldest));
    }
    for (int n = options_.max_files - 1; n >= 1; --n) {
      const std::string from = p + "." + std::to_string(n);
      const std::string to = p + "." + std::to_string(n + 1);
      if (::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) {
        return Fail(Errno("file: rename " + from));
      }
    }
    if (::rename(p.c_str(), (p + ".1").c_str()) != 0) return Fail(Errno("file: rename " + p));
  }
  Rotations().Inc();
  log::Info("file rotated", {{"path", p}});
  return OpenFile();
}

void FileAdapter::Close() {
  if (fd_ >= 0) {
    if (!buffer_.empty()) (void)WriteBuffer();
    ::close(fd_);
    fd_ = -1;
  }
}

ConnectorInfo Connector() {
  using O = Options;
  return DefineAdapter<Options>({
      .name = "file",
      .description = "Appends one JSON line per event to a file, rotated by size and count; "
                     "events are acknowledged after write + fsync.",
      .params =
          {
              Param("file.path", &O::path, "file to append to (its directory must exist)"),
              Param("file.max_size", &O::max_size,
                    "rotate when the file reaches this many bytes (0 = never)", {.min = 0}),
              Param("file.max_files", &O::max_files, "rotated files to keep (<path>.1 … <path>.N)",
                    {.min = 0}),
              ParamEnum("file.fsync", &O::fsync,
                        {{"flush", FsyncPolicy::kFlush},
                         {"always", FsyncPolicy::kAlways},
                         {"never", FsyncPolicy::kNever}},
                        "flush: fsync each written batch before acknowledging; always: after "
                        "every event; never: leave it to the OS"),
          },
      .validate =
          [](const O& o, const Context&, Errors& errors) {
            if (o.path.empty())
              errors.push_back("file.path: required for adapter file (--file-path)");
          },
      .make = [](O o, const Context&) -> Result<AdapterPtr> {
        return std::make_unique<FileAdapter>(std::move(o));
      },
  });
}

}  // namespace pgcdc::adapter::file

PGCDC_REGISTER_CONNECTOR(adapter, file, pgcdc::adapter::file::Connector)
