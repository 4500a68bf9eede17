// OffsetStore: committed consumer-group offsets of the built-in broker
// (OffsetCommit / OffsetFetch), per (group, topic, partition).
//
// An in-memory map in front of one persistence backend:
//  - memory only (nothing survives a restart);
//  - a JSON file `<data_dir>/__consumer_offsets.json`, rewritten atomically
//    (write temp file, fsync, rename, fsync dir) on every commit;
//  - PostgreSQL: rows of `pgcdc_checkpoints` keyed
//    `kafka:<group>:<topic>:<partition>` (pg::CheckpointStore). Only the
//    offset is stored there: metadata and leader epoch come back as "" / -1
//    after a restart.
// A commit is applied to memory only after the backend stored it, so a
// failed commit (error status; the server answers with an error code) is not
// visible to OffsetFetch. Offset 0 is a real committed value; "no committed
// offset" is std::nullopt (-1 on the wire).
//
// Thread-safety: all methods are thread-safe; Commit and DeleteGroup block on
// the backend's I/O (file write / database round trip) while holding the
// store's mutex.
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/mutex.h"

namespace pgcdc::adapter::kafkaserver {

struct OffsetKey {
  std::string group;
  std::string topic;
  int32_t partition = 0;
  auto operator<=>(const OffsetKey&) const = default;
};

struct CommittedOffset {
  int64_t offset = -1;
  int32_t leader_epoch = -1;
  std::string metadata;
  int64_t commit_timestamp_ms = -1;
};

struct OffsetCommit {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  int32_t leader_epoch = -1;
  std::string metadata;
};

using OffsetMap = std::map<OffsetKey, CommittedOffset>;

// Persistence behind OffsetStore (public so tests can inject failures).
class OffsetBackend {
 public:
  virtual ~OffsetBackend() = default;
  virtual std::string_view name() const = 0;
  virtual Result<OffsetMap> Load() = 0;
  // `all` is the complete state after the change; `changed` / `removed`
  // list what differs from the previous state.
  virtual Status Persist(const OffsetMap& all, const std::vector<OffsetKey>& changed,
                         const std::vector<OffsetKey>& removed) = 0;
};

class OffsetStore {
 public:
  // Kafka's offset.metadata.max.bytes default; longer metadata is rejected.
  static constexpr size_t kMaxMetadataBytes = 4096;
  static constexpr const char* kFileName = "__consumer_offsets.json";

  static std::unique_ptr<OffsetStore> InMemory();
  // Loads <data_dir>/__consumer_offsets.json if present (kParse if corrupt).
  static Result<std::unique_ptr<OffsetStore>> OpenFile(const std::string& data_dir);
  // Connects, applies migrations and loads every "kafka:" row.
  static Result<std::unique_ptr<OffsetStore>> OpenPostgres(const std::string& url);
  static Result<std::unique_ptr<OffsetStore>> Open(std::unique_ptr<OffsetBackend> backend);

  // Stores all `commits` of `group` (all or nothing). kInvalidArgument for an
  // invalid topic name, a negative partition or metadata over
  // kMaxMetadataBytes; the backend's error when it cannot persist.
  Status Commit(std::string_view group, const std::vector<OffsetCommit>& commits, int64_t now_ms);
  std::optional<CommittedOffset> Fetch(std::string_view group, std::string_view topic,
                                       int32_t partition) const;
  // Every committed partition of `group`, ordered by topic and partition.
  std::vector<std::pair<OffsetKey, CommittedOffset>> FetchGroup(std::string_view group) const;
  // Groups with at least one committed offset, sorted.
  std::vector<std::string> Groups() const;
  OffsetMap Snapshot() const;

  // Records that `group` consumes `topic` (it asked for its committed
  // offsets there) before it has committed anything: from then on the group
  // holds the topic's records from offset 0 until it commits (so a consumer
  // that joined early is never overtaken by acknowledgements). In memory
  // only; a consumer asks again after a restart.
  void NoteConsumer(std::string_view group, std::string_view topic);
  // Distinct groups noted by NoteConsumer() (thread-safe).
  size_t ConsumerGroupCount() const;

  // Acknowledgement helper: the smallest committed offset for (topic,
  // partition) over every group that has committed anything for `topic` or
  // was noted as its consumer (a group without a commit for this partition
  // counts as 0); nullopt when no group consumes the topic.
  std::optional<int64_t> MinCommitted(std::string_view topic, int32_t partition) const;

  // Forgets every offset of `group` (in the backend too).
  Status DeleteGroup(std::string_view group);

  std::string_view backend_name() const { return backend_->name(); }

 private:
  explicit OffsetStore(std::unique_ptr<OffsetBackend> backend, OffsetMap offsets = {})
      : backend_(std::move(backend)), offsets_(std::move(offsets)) {}

  std::unique_ptr<OffsetBackend> backend_;
  mutable Mutex mu_;
  OffsetMap offsets_ GUARDED_BY(mu_);
  std::set<std::pair<std::string, std::string>, std::less<>> consumers_
      GUARDED_BY(mu_);  // (group, topic)
};

using OffsetStorePtr = std::unique_ptr<OffsetStore>;

// Exposed for tests: the JSON document the file backend writes, and its parser.
std::string EncodeOffsetsJson(const OffsetMap& offsets);
Result<OffsetMap> DecodeOffsetsJson(std::string_view text);
// "kafka:<group>:<topic>:<partition>" and back (the topic never contains ':').
std::string OffsetCheckpointKey(const OffsetKey& key);
std::optional<OffsetKey> ParseOffsetCheckpointKey(std::string_view key);

}  // namespace pgcdc::adapter::kafkaserver
