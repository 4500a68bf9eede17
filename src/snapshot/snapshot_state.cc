#include "snapshot/snapshot_state.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/json.h"
#include "core/json_dom.h"

namespace pgcdc::snapshot {

namespace {

constexpr int64_t kVersion = 1;
constexpr size_t kMaxFileBytes = size_t{16} << 20;

std::string Errno() { return std::strerror(errno); }

Status ParseError(std::string_view what) {
  return Fail(ErrorCode::kParse, "not a snapshot state file: " + std::string(what));
}

Result<std::string> StringField(const boost::json::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr || !v->is_string())
    return Fail(ParseError(std::string(key) + " missing").error());
  return std::string(v->as_string());
}

Result<uint64_t> UintField(const boost::json::value* v, const std::string& what) {
  if (v != nullptr && v->is_uint64()) return v->as_uint64();
  if (v != nullptr && v->is_int64() && v->as_int64() >= 0) {
    return static_cast<uint64_t>(v->as_int64());
  }
  return Fail(ParseError(what + " is not a non-negative integer").error());
}

Result<std::vector<PageRange>> DecodeDone(const boost::json::value* v) {
  if (v == nullptr || !v->is_array()) return Fail(ParseError("done is not an array").error());
  std::vector<PageRange> out;
  for (const auto& item : v->as_array()) {
    if (!item.is_array() || item.as_array().size() != 2) {
      return Fail(ParseError("done entries must be [begin, end]").error());
    }
    const auto& pair = item.as_array();
    auto begin = UintField(&pair[0], "done begin");
    if (!begin) return Fail(begin.error());
    PageRange r{*begin, kOpenEnd};
    if (!pair[1].is_null()) {
      auto end = UintField(&pair[1], "done end");
      if (!end) return Fail(end.error());
      if (*end <= *begin) return Fail(ParseError("done range ends before it begins").error());
      r.end = *end;
    }
    out.push_back(r);
  }
  return out;
}

// Writes `text` to `path` through a temporary file and a rename.
Status ReplaceFile(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Fail(ErrorCode::kIo, "create " + tmp + ": " + Errno());
  std::string_view rest = text;
  bool ok = true;
  while (ok && !rest.empty()) {
    const ssize_t n = ::write(fd, rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) rest.remove_prefix(static_cast<size_t>(n));
  }
  ok = ok && ::fsync(fd) == 0;
  const std::string err = ok ? std::string() : Errno();
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string msg = ok ? Errno() : err;
    ::unlink(tmp.c_str());
    return Fail(ErrorCode::kIo, "write " + path + ": " + msg);
  }
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  const std::string dir = parent.empty() ? "." : parent.string();
  if (const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
  return Ok();
}

}  // namespace

Result<SnapshotIdentity> ReadIdentity(pg::Conn& conn) {
  auto rows = conn.Query(
      "SELECT current_database()::text, "
      "(SELECT system_identifier::text FROM pg_control_system())");
  if (!rows) return Fail(rows.error().Wrap("read the database identity"));
  SnapshotIdentity id;
  if (!rows->empty() && rows->front().size() == 2) {
    id.database = rows->front()[0].value_or("");
    id.system_id = rows->front()[1].value_or("");
  }
  return id;
}

bool SnapshotState::Covers(const PageRange& range) const {
  for (const auto& d : done) {
    if (d.begin <= range.begin && range.end <= d.end) return true;
  }
  return false;
}

void SnapshotState::MarkDone(const PageRange& range) {
  done.push_back(range);
  std::sort(done.begin(), done.end(),
            [](const PageRange& a, const PageRange& b) { return a.begin < b.begin; });
  std::vector<PageRange> merged;
  for (const auto& r : done) {
    if (!merged.empty() && r.begin <= merged.back().end) {
      merged.back().end = std::max(merged.back().end, r.end);
    } else {
      merged.push_back(r);
    }
  }
  done = std::move(merged);
}

std::string SnapshotState::Encode() const {
  std::string out;
  json::Writer w(out);
  w.BeginObject();
  w.IntField("version", kVersion);
  w.StringField("table", identity.table);
  w.StringField("where", identity.where);
  w.StringField("system_id", identity.system_id);
  w.StringField("database", identity.database);
  w.UintField("table_oid", identity.table_oid);
  w.UintField("chunk_pages", chunk_pages);
  w.Key("done");
  w.BeginArray();
  for (const auto& r : done) {
    w.BeginArray();
    w.Uint(r.begin);
    if (r.end == kOpenEnd) {
      w.Null();
    } else {
      w.Uint(r.end);
    }
    w.EndArray();
  }
  w.EndArray();
  w.EndObject();
  out.push_back('\n');
  return out;
}

Result<SnapshotState> SnapshotState::Decode(std::string_view text) {
  auto dom = json::ParseDom(text);
  if (!dom) return Fail(ParseError(dom.error().message()).error());
  if (!dom->is_object()) return Fail(ParseError("not a JSON object").error());
  const auto& o = dom->as_object();
  const auto* version = o.if_contains("version");
  if (version == nullptr || !version->is_int64() || version->as_int64() != kVersion) {
    return Fail(ParseError("unknown version (expected 1)").error());
  }
  SnapshotState s;
  for (auto [key, field] : {std::pair{"table", &s.identity.table},
                            {"where", &s.identity.where},
                            {"system_id", &s.identity.system_id},
                            {"database", &s.identity.database}}) {
    auto v = StringField(o, key);
    if (!v) return Fail(v.error());
    *field = std::move(*v);
  }
  auto oid = UintField(o.if_contains("table_oid"), "table_oid");
  if (!oid || *oid > UINT32_MAX) return Fail(ParseError("table_oid is not an OID").error());
  s.identity.table_oid = static_cast<uint32_t>(*oid);
  auto pages = UintField(o.if_contains("chunk_pages"), "chunk_pages");
  if (!pages || *pages == 0) return Fail(ParseError("chunk_pages must be positive").error());
  s.chunk_pages = *pages;
  auto done = DecodeDone(o.if_contains("done"));
  if (!done) return Fail(done.error());
  for (const auto& r : *done) s.MarkDone(r);
  return s;
}

Result<std::optional<SnapshotState>> LoadSnapshotState(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec) && !ec) return std::optional<SnapshotState>{};
  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail(ErrorCode::kIo, "open " + path + ": " + Errno());
  std::ostringstream buf;
  buf << in.rdbuf();
  const std::string text = buf.str();
  if (text.size() > kMaxFileBytes) {
    return Fail(ErrorCode::kParse, path + ": not a snapshot state file (larger than 16 MiB)");
  }
  auto state = SnapshotState::Decode(text);
  if (!state) return Fail(state.error().Wrap(path));
  return std::optional<SnapshotState>(std::move(*state));
}

Status SaveSnapshotState(const std::string& path, const SnapshotState& state) {
  return ReplaceFile(path, state.Encode());
}

Status RemoveSnapshotState(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return Fail(ErrorCode::kIo, "remove " + path + ": " + Errno());
  }
  return Ok();
}

std::string DefaultStatePath(std::string_view table) {
  std::string name = "pgcdc-snapshot-";
  for (char c : table) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == '-';
    name.push_back(keep ? c : '_');
  }
  return name + ".json";
}

}  // namespace pgcdc::snapshot
