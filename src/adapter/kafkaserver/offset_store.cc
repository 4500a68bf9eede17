#include "adapter/kafkaserver/offset_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>
#include <system_error>

#include "adapter/kafkaserver/topic_store.h"
#include "core/json.h"
#include "core/json_dom.h"
#include "core/log.h"
#include "pg/checkpoint_store.h"

namespace pgcdc::adapter::kafkaserver {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kKeyPrefix = "kafka:";
constexpr size_t kMaxFileBytes = size_t{256} << 20;

// Strings that are not valid UTF-8 are stored as "<name>_hex" so they
// round-trip exactly (JSON strings cannot hold arbitrary bytes).
void WriteBytesField(json::Writer& w, std::string_view name, std::string_view value) {
  if (json::IsValidUtf8(value)) {
    w.StringField(name, value);
    return;
  }
  w.StringField(std::string(name) + "_hex", json::ToHex(value));
}

Result<std::string> ReadBytesField(const boost::json::object& o, std::string_view name,
                                   bool required) {
  if (const auto* v = o.if_contains(name)) {
    if (!v->is_string()) return Fail(ErrorCode::kParse, std::string(name) + " is not a string");
    const auto& s = v->get_string();
    return std::string(s.data(), s.size());
  }
  const std::string hex_name = std::string(name) + "_hex";
  if (const auto* v = o.if_contains(hex_name)) {
    if (!v->is_string() || v->get_string().size() % 2 != 0) {
      return Fail(ErrorCode::kParse, hex_name + " is not a hex string");
    }
    const auto& s = v->get_string();
    std::string out;
    out.reserve(s.size() / 2);
    for (size_t i = 0; i < s.size(); i += 2) {
      const int hi = json::HexValue(s[i]);
      const int lo = json::HexValue(s[i + 1]);
      if (hi < 0 || lo < 0) return Fail(ErrorCode::kParse, hex_name + " is not a hex string");
      out.push_back(static_cast<char>((hi << 4) | lo));
    }
    return out;
  }
  if (required) return Fail(ErrorCode::kParse, "missing " + std::string(name));
  return std::string();
}

Result<int64_t> ReadInt(const boost::json::object& o, std::string_view name, int64_t fallback,
                        bool required) {
  const auto* v = o.if_contains(name);
  if (v == nullptr) {
    if (required) return Fail(ErrorCode::kParse, "missing " + std::string(name));
    return fallback;
  }
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64() && v->get_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
    return static_cast<int64_t>(v->get_uint64());
  }
  return Fail(ErrorCode::kParse, std::string(name) + " is not an integer");
}

std::string ErrnoText() { return std::strerror(errno); }

// --- backends ---------------------------------------------------------------

class MemoryBackend final : public OffsetBackend {
 public:
  std::string_view name() const override { return "memory"; }
  Result<OffsetMap> Load() override { return OffsetMap{}; }
  Status Persist(const OffsetMap&, const std::vector<OffsetKey>&,
                 const std::vector<OffsetKey>&) override {
    return Ok();
  }
};

class FileBackend final : public OffsetBackend {
 public:
  explicit FileBackend(std::string dir)
      : dir_(std::move(dir)), path_((fs::path(dir_) / OffsetStore::kFileName).string()) {}
  std::string_view name() const override { return "file"; }

  Result<OffsetMap> Load() override {
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec) return Fail(ErrorCode::kIo, "create " + dir_ + ": " + ec.message());
    const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) return OffsetMap{};
      return Fail(ErrorCode::kIo, "open " + path_ + ": " + ErrnoText());
    }
    std::string text;
    char buf[65536];
    for (;;) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        const std::string err = ErrnoText();
        ::close(fd);
        return Fail(ErrorCode::kIo, "read " + path_ + ": " + err);
      }
      if (n == 0) break;
      text.append(buf, static_cast<size_t>(n));
      if (text.size() > kMaxFileBytes) {
        ::close(fd);
        return Fail(ErrorCode::kParse, path_ + " is larger than 256 MiB");
      }
    }
    ::close(fd);
    auto offsets = DecodeOffsetsJson(text);
    if (!offsets) return Fail(offsets.error().Wrap(path_));
    return offsets;
  }

  Status Persist(const OffsetMap& all, const std::vector<OffsetKey>&,
                 const std::vector<OffsetKey>&) override {
    const std::string text = EncodeOffsetsJson(all);
    const std::string tmp = path_ + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return Fail(ErrorCode::kIo, "create " + tmp + ": " + ErrnoText());
    size_t done = 0;
    while (done < text.size()) {
      const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        const std::string err = ErrnoText();
        ::close(fd);
        ::unlink(tmp.c_str());
        return Fail(ErrorCode::kIo, "write " + tmp + ": " + err);
      }
      done += static_cast<size_t>(n);
    }
    if (::fsync(fd) != 0) {
      const std::string err = ErrnoText();
      ::close(fd);
      ::unlink(tmp.c_str());
      return Fail(ErrorCode::kIo, "fsync " + tmp + ": " + err);
    }
    ::close(fd);
    if (::rename(tmp.c_str(), path_.c_str()) != 0) {
      const std::string err = ErrnoText();
      ::unlink(tmp.c_str());
      return Fail(ErrorCode::kIo, "rename " + tmp + ": " + err);
    }
    const int dfd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      (void)::fsync(dfd);
      ::close(dfd);
    }
    return Ok();
  }

 private:
  std::string dir_;
  std::string path_;
};

class PostgresBackend final : public OffsetBackend {
 public:
  explicit PostgresBackend(std::unique_ptr<pg::CheckpointStore> store) : store_(std::move(store)) {}
  std::string_view name() const override { return "postgres"; }

  Result<OffsetMap> Load() override {
    auto rows = store_->LoadPrefix(std::string(kKeyPrefix));
    if (!rows) return Fail(rows.error());
    OffsetMap out;
    for (const auto& [key, value] : *rows) {
      auto k = ParseOffsetCheckpointKey(key);
      if (!k) {
        log::Warn("kafkaserver: ignoring malformed offset checkpoint key", {{"key", key}});
        continue;
      }
      CommittedOffset c;
      c.offset = value;
      out[std::move(*k)] = std::move(c);
    }
    return out;
  }

  Status Persist(const OffsetMap& all, const std::vector<OffsetKey>& changed,
                 const std::vector<OffsetKey>& removed) override {
    if (!changed.empty()) {
      std::vector<std::pair<std::string, int64_t>> values;
      values.reserve(changed.size());
      for (const auto& k : changed) values.emplace_back(OffsetCheckpointKey(k), all.at(k).offset);
      if (auto st = store_->SaveValues(values); !st) return st;
    }
    if (!removed.empty()) {
      std::vector<std::string> keys;
      keys.reserve(removed.size());
      for (const auto& k : removed) keys.push_back(OffsetCheckpointKey(k));
      if (auto st = store_->DeleteValues(keys); !st) return st;
    }
    return Ok();
  }

 private:
  std::unique_ptr<pg::CheckpointStore> store_;
};

}  // namespace

// --- encoding ----------------------------------------------------------------

std::string EncodeOffsetsJson(const OffsetMap& offsets) {
  std::string out = "{\"version\":1,\"offsets\":[";
  bool first = true;
  for (const auto& [k, v] : offsets) {
    out += first ? "\n" : ",\n";
    first = false;
    json::Writer w(out);
    w.BeginObject();
    WriteBytesField(w, "group", k.group);
    WriteBytesField(w, "topic", k.topic);
    w.IntField("partition", k.partition);
    w.IntField("offset", v.offset);
    w.IntField("leader_epoch", v.leader_epoch);
    WriteBytesField(w, "metadata", v.metadata);
    w.IntField("commit_timestamp", v.commit_timestamp_ms);
    w.EndObject();
  }
  out += "\n]}\n";
  return out;
}

Result<OffsetMap> DecodeOffsetsJson(std::string_view text) {
  auto dom = json::ParseDom(text);
  if (!dom) return Fail(dom.error());
  if (!dom->is_object()) return Fail(ErrorCode::kParse, "offsets file is not a JSON object");
  const auto& root = dom->get_object();
  auto version = ReadInt(root, "version", 0, true);
  if (!version) return Fail(version.error());
  if (*version != 1) {
    return Fail(ErrorCode::kParse, "unsupported offsets file version " + std::to_string(*version));
  }
  const auto* list = root.if_contains("offsets");
  if (list == nullptr || !list->is_array()) {
    return Fail(ErrorCode::kParse, "offsets file has no \"offsets\" array");
  }
  OffsetMap out;
  size_t index = 0;
  for (const auto& item : list->get_array()) {
    const std::string where = "offsets[" + std::to_string(index++) + "]";
    if (!item.is_object()) return Fail(ErrorCode::kParse, where + " is not an object");
    const auto& o = item.get_object();
    OffsetKey k;
    CommittedOffset c;
    auto group = ReadBytesField(o, "group", true);
    auto topic = ReadBytesField(o, "topic", true);
    auto metadata = ReadBytesField(o, "metadata", false);
    auto partition = ReadInt(o, "partition", 0, true);
    auto offset = ReadInt(o, "offset", 0, true);
    auto epoch = ReadInt(o, "leader_epoch", -1, false);
    auto ts = ReadInt(o, "commit_timestamp", -1, false);
    for (const Error* e :
         {group ? nullptr : &group.error(), topic ? nullptr : &topic.error(),
          metadata ? nullptr : &metadata.error(), partition ? nullptr : &partition.error(),
          offset ? nullptr : &offset.error(), epoch ? nullptr : &epoch.error(),
          ts ? nullptr : &ts.error()}) {
      if (e != nullptr) return Fail(e->Wrap(where));
    }
    if (*partition < 0 || *partition > INT32_MAX || *epoch < INT32_MIN || *epoch > INT32_MAX) {
      return Fail(ErrorCode::kParse, where + ": partition or leader_epoch out of range");
    }
    k.group = std::move(*group);
    k.topic = std::move(*topic);
    k.partition = static_cast<int32_t>(*partition);
    c.offset = *offset;
    c.leader_epoch = static_cast<int32_t>(*epoch);
    c.metadata = std::move(*metadata);
    c.commit_timestamp_ms = *ts;
    out[std::move(k)] = std::move(c);
  }
  return out;
}

std::string OffsetCheckpointKey(const OffsetKey& key) {
  std::string out(kKeyPrefix);
  out += key.group;
  out += ':';
  out += key.topic;
  out += ':';
  out += std::to_string(key.partition);
  return out;
}

std::optional<OffsetKey> ParseOffsetCheckpointKey(std::string_view key) {
  if (!key.starts_with(kKeyPrefix)) return std::nullopt;
  key.remove_prefix(kKeyPrefix.size());
  const size_t last = key.rfind(':');
  if (last == std::string_view::npos || last == 0) return std::nullopt;
  const std::string_view digits = key.substr(last + 1);
  if (digits.empty() || digits.size() > 10 ||
      digits.find_first_not_of("0123456789") != std::string_view::npos) {
    return std::nullopt;
  }
  const int64_t partition = std::stoll(std::string(digits));
  if (partition > INT32_MAX) return std::nullopt;
  const std::string_view rest = key.substr(0, last);
  const size_t sep = rest.rfind(':');
  if (sep == std::string_view::npos) return std::nullopt;
  OffsetKey k;
  k.group = std::string(rest.substr(0, sep));
  k.topic = std::string(rest.substr(sep + 1));
  k.partition = static_cast<int32_t>(partition);
  if (!IsValidTopicName(k.topic)) return std::nullopt;
  return k;
}

// --- OffsetStore ---------------------------------------------------------------

std::unique_ptr<OffsetStore> OffsetStore::InMemory() {
  return std::unique_ptr<OffsetStore>(new OffsetStore(std::make_unique<MemoryBackend>()));
}

Result<std::unique_ptr<OffsetStore>> OffsetStore::Open(std::unique_ptr<OffsetBackend> backend) {
  auto loaded = backend->Load();
  if (!loaded) return Fail(loaded.error().Wrap("kafkaserver offsets"));
  return std::unique_ptr<OffsetStore>(new OffsetStore(std::move(backend), std::move(*loaded)));
}

Result<std::unique_ptr<OffsetStore>> OffsetStore::OpenFile(const std::string& data_dir) {
  return Open(std::make_unique<FileBackend>(data_dir));
}

Result<std::unique_ptr<OffsetStore>> OffsetStore::OpenPostgres(const std::string& url) {
  auto checkpoints = pg::CheckpointStore::Open(url);
  if (!checkpoints) return Fail(checkpoints.error().Wrap("kafkaserver offsets"));
  return Open(std::make_unique<PostgresBackend>(std::move(*checkpoints)));
}

Status OffsetStore::Commit(std::string_view group, const std::vector<OffsetCommit>& commits,
                           int64_t now_ms) {
  for (const auto& c : commits) {
    if (!IsValidTopicName(c.topic)) {
      return Fail(ErrorCode::kInvalidArgument, "offset commit: invalid topic \"" + c.topic + "\"");
    }
    if (c.partition < 0) {
      return Fail(ErrorCode::kInvalidArgument, "offset commit: negative partition");
    }
    if (c.metadata.size() > kMaxMetadataBytes) {
      return Fail(ErrorCode::kInvalidArgument, "offset commit: metadata larger than 4096 bytes");
    }
  }
  if (commits.empty()) return Ok();
  MutexLock lock(mu_);
  // Apply in place, remembering the previous values to roll back on failure.
  std::vector<std::pair<OffsetKey, std::optional<CommittedOffset>>> previous;
  std::vector<OffsetKey> changed;
  for (const auto& c : commits) {
    OffsetKey k{std::string(group), c.topic, c.partition};
    auto it = offsets_.find(k);
    previous.emplace_back(
        k, it == offsets_.end() ? std::nullopt : std::optional<CommittedOffset>(it->second));
    CommittedOffset v;
    v.offset = c.offset;
    v.leader_epoch = c.leader_epoch;
    v.metadata = c.metadata;
    v.commit_timestamp_ms = now_ms;
    offsets_[k] = std::move(v);
    changed.push_back(std::move(k));
  }
  if (auto st = backend_->Persist(offsets_, changed, {}); !st) {
    for (auto it = previous.rbegin(); it != previous.rend(); ++it) {
      if (it->second) {
        offsets_[it->first] = *it->second;
      } else {
        offsets_.erase(it->first);
      }
    }
    return Fail(st.error().Wrap("offset commit"));
  }
  return Ok();
}

std::optional<CommittedOffset> OffsetStore::Fetch(std::string_view group, std::string_view topic,
                                                  int32_t partition) const {
  MutexLock lock(mu_);
  auto it = offsets_.find(OffsetKey{std::string(group), std::string(topic), partition});
  if (it == offsets_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::pair<OffsetKey, CommittedOffset>> OffsetStore::FetchGroup(
    std::string_view group) const {
  MutexLock lock(mu_);
  std::vector<std::pair<OffsetKey, CommittedOffset>> out;
  for (auto it = offsets_.lower_bound(OffsetKey{std::string(group), "", INT32_MIN});
       it != offsets_.end() && it->first.group == group; ++it) {
    out.emplace_back(it->first, it->second);
  }
  return out;
}

std::vector<std::string> OffsetStore::Groups() const {
  MutexLock lock(mu_);
  std::vector<std::string> out;
  for (const auto& [k, v] : offsets_) {
    if (out.empty() || out.back() != k.group) out.push_back(k.group);
  }
  return out;
}

OffsetMap OffsetStore::Snapshot() const {
  MutexLock lock(mu_);
  return offsets_;
}

void OffsetStore::NoteConsumer(std::string_view group, std::string_view topic) {
  MutexLock lock(mu_);
  consumers_.emplace(std::string(group), std::string(topic));
}

size_t OffsetStore::ConsumerGroupCount() const {
  MutexLock lock(mu_);
  std::set<std::string_view> groups;
  for (const auto& [group, topic] : consumers_) groups.insert(group);
  return groups.size();
}

std::optional<int64_t> OffsetStore::MinCommitted(std::string_view topic, int32_t partition) const {
  MutexLock lock(mu_);
  // group → its offset for `partition` (0 until seen) for groups on `topic`.
  std::map<std::string_view, int64_t> per_group;
  for (const auto& [group, t] : consumers_) {
    if (t == topic) per_group.try_emplace(group, 0);
  }
  for (const auto& [k, v] : offsets_) {
    if (k.topic != topic) continue;
    auto [it, inserted] = per_group.try_emplace(k.group, 0);
    if (k.partition == partition) it->second = std::max<int64_t>(v.offset, 0);
  }
  if (per_group.empty()) return std::nullopt;
  int64_t min = INT64_MAX;
  for (const auto& [g, o] : per_group) min = std::min(min, o);
  return min;
}

Status OffsetStore::DeleteGroup(std::string_view group) {
  MutexLock lock(mu_);
  std::erase_if(consumers_, [&](const auto& c) { return c.first == group; });
  std::vector<std::pair<OffsetKey, CommittedOffset>> removed_entries;
  for (auto it = offsets_.lower_bound(OffsetKey{std::string(group), "", INT32_MIN});
       it != offsets_.end() && it->first.group == group;) {
    removed_entries.emplace_back(it->first, std::move(it->second));
    it = offsets_.erase(it);
  }
  if (removed_entries.empty()) return Ok();
  std::vector<OffsetKey> removed;
  for (const auto& [k, v] : removed_entries) removed.push_back(k);
  if (auto st = backend_->Persist(offsets_, {}, removed); !st) {
    for (auto& [k, v] : removed_entries) offsets_[k] = std::move(v);
    return Fail(st.error().Wrap("delete group offsets"));
  }
  return Ok();
}

}  // namespace pgcdc::adapter::kafkaserver
