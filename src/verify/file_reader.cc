// file:PATH — JSON lines, the rotated files first (PATH.N … PATH.1, PATH).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "verify/sink_reader.h"

namespace pgcdc::verify {

namespace {

constexpr size_t kReadBytes = size_t{1} << 20;

Status OpenError(const std::string& path, int err) {
  const ErrorCode code = err == ENOENT ? ErrorCode::kNotFound : ErrorCode::kInvalidArgument;
  return Fail(code, "cannot read " + path + ": " + std::strerror(err));
}

// An open file descriptor, closed at scope exit.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

Status CheckReadable(const std::string& path) {
  Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (f.fd < 0) return OpenError(path, errno);
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) return OpenError(path, errno);
  if (!S_ISREG(st.st_mode)) return Fail(ErrorCode::kInvalidArgument, path + " is not a file");
  return Ok();
}

bool Blank(std::string_view line) {
  return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

class FileReader final : public SinkReader {
 public:
  explicit FileReader(std::vector<std::string> paths) : paths_(std::move(paths)) {}

  Status ReadAll(const RecordFn& fn) override {
    for (const auto& path : paths_) {
      if (auto st = ReadFile(path, fn); !st) return st;
    }
    return Ok();
  }

  std::string Describe() const override {
    std::string out;
    for (const auto& p : paths_) out.append(out.empty() ? "" : ", ").append(p);
    return out;
  }

 private:
  Status ReadFile(const std::string& path, const RecordFn& fn) {
    Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
    if (f.fd < 0) return OpenError(path, errno);
    std::string buffer;
    Location where{.name = path};
    size_t start = 0;  // first byte of the current line in buffer
    for (;;) {
      const size_t old = buffer.size();
      buffer.resize(old + kReadBytes);
      const ssize_t n = ::read(f.fd, buffer.data() + old, kReadBytes);
      if (n < 0 && errno == EINTR) {
        buffer.resize(old);
        continue;
      }
      if (n < 0) return Fail(ErrorCode::kIo, "read " + path + ": " + std::strerror(errno));
      buffer.resize(old + static_cast<size_t>(n));
      const bool eof = n == 0;
      size_t nl;
      while ((nl = buffer.find('\n', start)) != std::string::npos ||
             (eof && start < buffer.size())) {
        if (nl == std::string::npos) nl = buffer.size();
        ++where.position;
        const std::string_view line(buffer.data() + start, nl - start);
        if (!Blank(line)) fn(line, Hints{}, where);
        start = nl + 1;
      }
      if (eof) return Ok();
      buffer.erase(0, std::min(start, buffer.size()));
      start = 0;
    }
  }

  std::vector<std::string> paths_;
};

}  // namespace

Result<std::unique_ptr<SinkReader>> OpenFileSink(const std::string& path) {
  if (auto st = CheckReadable(path); !st) return Fail(st.error());
  std::vector<std::string> rotated;
  for (int i = 1;; ++i) {
    const std::string p = path + "." + std::to_string(i);
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) break;
    if (auto readable = CheckReadable(p); !readable) return Fail(readable.error());
    rotated.push_back(p);
  }
  std::vector<std::string> paths(rotated.rbegin(), rotated.rend());
  paths.push_back(path);
  return std::make_unique<FileReader>(std::move(paths));
}

}  // namespace pgcdc::verify
