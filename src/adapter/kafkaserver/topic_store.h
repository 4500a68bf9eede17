// TopicStore: the broker's topics (name → N partition logs).
//
// Topics are created on demand — by the adapter for the first event of a
// channel, or (when auto-create is on) by a Metadata/Produce request naming
// an unknown topic. A topic's partition count is fixed at creation. With a
// data dir, partition `p` of topic `t` lives in `<data_dir>/<t>-<p>/` and
// Open() re-creates every topic found there (partition count = highest
// partition directory + 1). The data dir is locked (flock on
// `<data_dir>/.lock`) so two processes cannot share it.
//
// Topic ids (Metadata v10+, Fetch v13) are derived from the name, so they are
// stable across restarts without being stored.
//
// Thread-safety: all methods are thread-safe; Topic and PartitionLog objects
// are shared and stay valid while referenced.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapter/kafkaserver/partition_log.h"
#include "codec/kafka/topic_name.h"
#include "core/error.h"
#include "core/mutex.h"
#include "core/uuid.h"

namespace pgcdc::adapter::kafkaserver {

// Kafka's topic name rule (shared with the kafka producer sink).
using codec::kafka::IsValidTopicName;

// Deterministic, non-zero topic id for a name (RFC 9562 version-8 layout).
Uuid TopicIdFor(std::string_view name);

class Topic {
 public:
  Topic(std::string name, std::vector<PartitionLogPtr> partitions);
  const std::string& name() const { return name_; }
  const Uuid& id() const { return id_; }
  int32_t partition_count() const { return static_cast<int32_t>(partitions_.size()); }
  // nullptr when `partition` is out of range.
  PartitionLog* partition(int32_t partition) const;

 private:
  std::string name_;
  Uuid id_;
  std::vector<PartitionLogPtr> partitions_;
};

struct TopicStoreOptions {
  // Empty = memory only.
  std::string data_dir;
  // Partition count for topics created without an explicit count.
  int32_t default_partitions = 8;
  // Upper bound for any requested partition count.
  int32_t max_partitions = 10000;
  // Whether Metadata/Produce requests for unknown topics create them
  // (FindOrAutoCreate). GetOrCreate always creates.
  bool auto_create = true;
  // Template for every partition (its `dir` is set by the store).
  PartitionLogOptions log;
};

class TopicStore {
 public:
  // Opens the store; with a data dir, locks it and recovers existing topics.
  static Result<std::unique_ptr<TopicStore>> Open(TopicStoreOptions options);
  ~TopicStore();
  TopicStore(const TopicStore&) = delete;
  TopicStore& operator=(const TopicStore&) = delete;

  // The topic, created with `partitions` (<= 0: the default) if absent. An
  // existing topic keeps its partition count whatever is asked. Errors:
  // kInvalidArgument for an invalid name or partition count, kIo when the
  // partition directories cannot be created.
  Result<std::shared_ptr<Topic>> GetOrCreate(std::string_view name, int32_t partitions = 0);
  // GetOrCreate when auto-create is on, else Find (then nullptr if absent).
  Result<std::shared_ptr<Topic>> FindOrAutoCreate(std::string_view name);
  // nullptr when absent.
  std::shared_ptr<Topic> Find(std::string_view name) const;
  std::shared_ptr<Topic> FindById(const Uuid& id) const;
  // All topics, sorted by name.
  std::vector<std::shared_ptr<Topic>> All() const;
  size_t size() const;

  const TopicStoreOptions& options() const { return options_; }

 private:
  explicit TopicStore(TopicStoreOptions options) : options_(std::move(options)) {}
  Status LockDataDir();
  Status Recover();
  Result<std::shared_ptr<Topic>> CreateLocked(const std::string& name, int32_t partitions)
      REQUIRES(mu_);

  const TopicStoreOptions options_;
  int lock_fd_ = -1;
  mutable Mutex mu_;
  std::map<std::string, std::shared_ptr<Topic>, std::less<>> topics_ GUARDED_BY(mu_);
};

using TopicStorePtr = std::unique_ptr<TopicStore>;

}  // namespace pgcdc::adapter::kafkaserver
