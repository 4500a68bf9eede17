#include "adapter/kafkaserver/topic_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "core/log.h"

namespace pgcdc::adapter::kafkaserver {

namespace fs = std::filesystem;

namespace {

uint64_t Fnv1a64(std::string_view s, uint64_t seed) {
  uint64_t h = seed;
  for (const char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ull;
  }
  return h;
}

// splitmix64 finaliser: spreads FNV's weak low bits.
uint64_t Mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace

Uuid TopicIdFor(std::string_view name) {
  const uint64_t hi = Mix(Fnv1a64(name, 0xcbf29ce484222325ull));
  const uint64_t lo = Mix(Fnv1a64(name, 0x84222325cbf29ce4ull) ^ 0x6b61666b61736572ull);
  Uuid id;
  for (int i = 0; i < 8; ++i) {
    id.bytes[i] = static_cast<uint8_t>(hi >> (56 - 8 * i));
    id.bytes[8 + i] = static_cast<uint8_t>(lo >> (56 - 8 * i));
  }
  id.bytes[6] = static_cast<uint8_t>((id.bytes[6] & 0x0F) | 0x80);  // version 8
  id.bytes[8] = static_cast<uint8_t>((id.bytes[8] & 0x3F) | 0x80);  // RFC variant
  return id;  // never all-zero nor Kafka's reserved 0...01 (version bits are set)
}

Topic::Topic(std::string name, std::vector<PartitionLogPtr> partitions)
    : name_(std::move(name)), id_(TopicIdFor(name_)), partitions_(std::move(partitions)) {}

PartitionLog* Topic::partition(int32_t partition) const {
  if (partition < 0 || static_cast<size_t>(partition) >= partitions_.size()) return nullptr;
  return partitions_[static_cast<size_t>(partition)].get();
}

Result<std::unique_ptr<TopicStore>> TopicStore::Open(TopicStoreOptions options) {
  if (options.default_partitions < 1) {
    return Fail(ErrorCode::kConfig, "kafkaserver: partition count must be at least 1");
  }
  if (options.max_partitions < options.default_partitions) {
    options.max_partitions = options.default_partitions;
  }
  std::unique_ptr<TopicStore> store(new TopicStore(std::move(options)));
  if (!store->options_.data_dir.empty()) {
    if (auto st = store->LockDataDir(); !st) return Fail(st.error());
    if (auto st = store->Recover(); !st) return Fail(st.error());
  }
  return store;
}

TopicStore::~TopicStore() {
  {
    MutexLock lock(mu_);
    topics_.clear();  // close segment files before releasing the lock
  }
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

Status TopicStore::LockDataDir() {
  const std::string& dir = options_.data_dir;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Fail(ErrorCode::kIo, "kafkaserver data dir " + dir + ": " + ec.message());
  const std::string path = (fs::path(dir) / ".lock").string();
  lock_fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) {
    return Fail(ErrorCode::kIo, "kafkaserver data dir lock " + path + ": " + std::strerror(errno));
  }
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    return Fail(ErrorCode::kIo, "kafkaserver data dir " + dir + " is in use by another process");
  }
  return Ok();
}

Status TopicStore::Recover() {
  std::error_code ec;
  std::map<std::string, int32_t> counts;  // topic → highest partition + 1
  for (const auto& de : fs::directory_iterator(options_.data_dir, ec)) {
    if (!de.is_directory()) continue;
    const std::string name = de.path().filename().string();
    const size_t dash = name.rfind('-');
    if (dash == std::string::npos || dash == 0 || dash + 1 == name.size()) continue;
    const std::string topic = name.substr(0, dash);
    const std::string digits = name.substr(dash + 1);
    if (!IsValidTopicName(topic) || digits.size() > 6 ||
        digits.find_first_not_of("0123456789") != std::string::npos) {
      log::Warn("kafkaserver: ignoring unexpected directory in data dir", {{"name", name}});
      continue;
    }
    const int32_t p = std::stoi(digits);
    if (p >= options_.max_partitions) {
      log::Warn("kafkaserver: ignoring partition beyond max_partitions", {{"name", name}});
      continue;
    }
    int32_t& count = counts[topic];
    count = std::max(count, p + 1);
  }
  if (ec) return Fail(ErrorCode::kIo, "list " + options_.data_dir + ": " + ec.message());
  MutexLock lock(mu_);
  for (const auto& [topic, count] : counts) {
    auto t = CreateLocked(topic, count);
    if (!t) return Fail(t.error());
    log::Info("kafkaserver: recovered topic",
              {{"topic", topic},
               {"partitions", count},
               {"high_watermark_p0", (*t)->partition(0)->HighWatermark()}});
  }
  return Ok();
}

Result<std::shared_ptr<Topic>> TopicStore::CreateLocked(const std::string& name,
                                                        int32_t partitions) {
  std::vector<PartitionLogPtr> logs;
  logs.reserve(static_cast<size_t>(partitions));
  for (int32_t p = 0; p < partitions; ++p) {
    PartitionLogOptions lo = options_.log;
    lo.dir = options_.data_dir.empty()
                 ? std::string()
                 : (fs::path(options_.data_dir) / (name + "-" + std::to_string(p))).string();
    auto log = PartitionLog::Open(std::move(lo));
    if (!log) return Fail(log.error().Wrap("topic " + name));
    logs.push_back(std::move(*log));
  }
  auto topic = std::make_shared<Topic>(name, std::move(logs));
  topics_.emplace(name, topic);
  return topic;
}

Result<std::shared_ptr<Topic>> TopicStore::GetOrCreate(std::string_view name, int32_t partitions) {
  MutexLock lock(mu_);
  if (auto it = topics_.find(name); it != topics_.end()) return it->second;
  if (!IsValidTopicName(name)) {
    return Fail(ErrorCode::kInvalidArgument,
                "invalid topic name \"" + std::string(name) +
                    "\" (1-249 characters of [a-zA-Z0-9._-], not \".\" or \"..\")");
  }
  if (partitions <= 0) partitions = options_.default_partitions;
  if (partitions > options_.max_partitions) {
    return Fail(ErrorCode::kInvalidArgument,
                "topic " + std::string(name) + ": " + std::to_string(partitions) +
                    " partitions exceed the maximum " + std::to_string(options_.max_partitions));
  }
  return CreateLocked(std::string(name), partitions);
}

Result<std::shared_ptr<Topic>> TopicStore::FindOrAutoCreate(std::string_view name) {
  if (!options_.auto_create) return Find(name);
  return GetOrCreate(name);
}

std::shared_ptr<Topic> TopicStore::Find(std::string_view name) const {
  MutexLock lock(mu_);
  auto it = topics_.find(name);
  return it == topics_.end() ? nullptr : it->second;
}

std::shared_ptr<Topic> TopicStore::FindById(const Uuid& id) const {
  MutexLock lock(mu_);
  for (const auto& [name, topic] : topics_) {
    if (topic->id() == id) return topic;
  }
  return nullptr;
}

std::vector<std::shared_ptr<Topic>> TopicStore::All() const {
  MutexLock lock(mu_);
  std::vector<std::shared_ptr<Topic>> out;
  out.reserve(topics_.size());
  for (const auto& [name, topic] : topics_) out.push_back(topic);
  return out;
}

size_t TopicStore::size() const {
  MutexLock lock(mu_);
  return topics_.size();
}

}  // namespace pgcdc::adapter::kafkaserver
