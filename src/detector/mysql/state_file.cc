#include "detector/mysql/state_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/json.h"
#include "core/json_dom.h"
#include "core/time.h"

namespace pgcdc::detector::mysql {

namespace {

Error IoError(const std::string& what) {
  return Error(ErrorCode::kIo, "mysql state file: " + what + ": " + std::strerror(errno));
}

Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Fail(IoError("write " + path));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Ok();
}

std::string Directory(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

Result<std::optional<StoredPosition>> LoadState(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return std::optional<StoredPosition>{};
    return Fail(IoError("open " + path));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  auto doc = json::ParseDom(ss.str());
  if (!doc || !doc->is_object()) {
    return Fail(ErrorCode::kParse, "mysql state file " + path + " is not a JSON object");
  }
  const auto& o = doc->as_object();
  StoredPosition s;
  const auto* file = o.if_contains("file");
  const auto* pos = o.if_contains("pos");
  if (file == nullptr || !file->is_string() || pos == nullptr || !pos->is_number()) {
    return Fail(ErrorCode::kParse, "mysql state file " + path + " lacks \"file\" and \"pos\"");
  }
  s.position.file = std::string(file->as_string());
  s.position.pos = pos->to_number<uint64_t>();
  if (const auto* g = o.if_contains("gtid"); g != nullptr && g->is_string()) {
    s.position.gtid = std::string(g->as_string());
  }
  if (const auto* a = o.if_contains("addr"); a != nullptr && a->is_string()) {
    s.addr = std::string(a->as_string());
  }
  return std::optional<StoredPosition>(std::move(s));
}

Status SaveState(const std::string& path, const StoredPosition& state) {
  std::string text;
  json::Writer w(text);
  w.BeginObject();
  w.StringField("addr", state.addr);
  w.StringField("file", state.position.file);
  w.StringField("gtid", state.position.gtid);
  w.UintField("pos", state.position.pos);
  std::string now;
  AppendRfc3339Nano(NowUnixNanos(), now);
  w.StringField("updated_at", now);
  w.EndObject();
  text.push_back('\n');

  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Fail(IoError("create " + tmp));
  Status st = WriteAll(fd, text, tmp);
  if (st && ::fsync(fd) != 0) st = Fail(IoError("fsync " + tmp));
  ::close(fd);
  if (!st) return st;
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Fail(IoError("rename to " + path));
  const std::string dir = Directory(path);
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    const int rc = ::fsync(dfd);
    ::close(dfd);
    if (rc != 0) return Fail(IoError("fsync " + dir));
  }
  return Ok();
}

}  // namespace pgcdc::detector::mysql
