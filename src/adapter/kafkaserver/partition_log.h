// PartitionLog: one Kafka topic-partition of the built-in broker.
//
// Stores encoded RecordBatch v2 bytes exactly as they go on the wire, so a
// Fetch is a copy of stored batches (as in real Kafka). Append assigns
// offsets by patching each batch's baseOffset.
//
// Storage:
//  - an in-memory cache of the newest batches, capped in records (and
//    optionally bytes); whole batches are evicted oldest first, but the newest
//    batch always stays, even when it alone exceeds the cap;
//  - optionally, append-only segment files in `dir`
//    (`<base_offset:020>.log`, raw batches back to back, like Kafka's .log
//    files). On Open the segments are scanned to rebuild the index: a torn or
//    corrupt tail (short header, bad length, offset gap or CRC32C mismatch) is
//    truncated away, and any later segment is deleted. Segments roll at
//    `segment_bytes`; the oldest segments are deleted while the partition's
//    files exceed `retention_bytes`. Batches evicted from memory but still on
//    disk are read back from the files.
//  Without `dir` the memory cache is the whole log (its cap is the retention).
//
// Besides the batch bytes the log keeps per batch: offsets, max timestamp and
// an opaque 64-bit tag supplied by the appender (the adapter passes the pgcdc
// event seq of the batch's last record; TagBefore turns a committed Kafka
// offset back into "events consumed"). Tags are not persisted: batches
// recovered from disk have tag 0.
//
// Thread-safety: every method may be called from any thread (one mutex per
// partition). Disk reads happen outside the mutex. Waiter callbacks run on the
// appending thread after the mutex is released.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/mutex.h"

namespace pgcdc::adapter::kafkaserver {

struct PartitionLogOptions {
  // Directory of this partition's segment files; empty = memory only.
  std::string dir;
  // In-memory cache capacity in records (offsets). Without `dir` this is the
  // retention. Values < 1 are treated as 1 (the newest batch always stays).
  int64_t buffer_records = 10000;
  // Optional in-memory byte cap (0 = none).
  int64_t buffer_bytes = 0;
  // Roll to a new segment when the active one would grow beyond this.
  int64_t segment_bytes = 64ll << 20;
  // Delete the oldest segments while all segments together exceed this
  // (0 = keep everything). The active segment is never deleted.
  int64_t retention_bytes = 0;
  // Largest batch accepted by Append and by recovery (anything larger found
  // on disk counts as corruption).
  size_t max_batch_bytes = size_t{100} << 20;
  // fdatasync the segment after every append (and the directory on roll).
  bool fsync = false;
  // >= 0: stamped into each appended batch's partitionLeaderEpoch; < 0: the
  // batch keeps whatever the producer wrote.
  int32_t leader_epoch = -1;
};

struct ReadInfo {
  int64_t high_watermark = 0;
  int64_t log_start_offset = 0;
  // The requested offset is below LogStartOffset() or above HighWatermark():
  // nothing was read (Kafka: OFFSET_OUT_OF_RANGE).
  bool out_of_range = false;
  // Total size of the batches appended to `out`.
  size_t bytes = 0;
};

// ListOffsets answer; offset -1 / timestamp -1 when unknown.
struct OffsetAndTimestamp {
  int64_t offset = -1;
  int64_t timestamp = -1;
};

struct PartitionLogStats {
  int64_t log_start_offset = 0;
  int64_t high_watermark = 0;
  int64_t batches = 0;         // batches in the log (memory + disk)
  int64_t memory_batches = 0;  // batches whose bytes are cached in memory
  int64_t memory_records = 0;
  int64_t memory_bytes = 0;
  int64_t disk_bytes = 0;
  int64_t segments = 0;
  int64_t truncated_bytes = 0;  // torn/corrupt bytes dropped by recovery
  size_t waiters = 0;
};

class PartitionLog {
 public:
  // Special ListOffsets timestamps.
  static constexpr int64_t kLatest = -1;
  static constexpr int64_t kEarliest = -2;
  static constexpr int64_t kMaxTimestamp = -3;

  // Opens (and with `dir`, creates or recovers) a partition log.
  static Result<std::unique_ptr<PartitionLog>> Open(PartitionLogOptions options);
  ~PartitionLog();
  PartitionLog(const PartitionLog&) = delete;
  PartitionLog& operator=(const PartitionLog&) = delete;

  // Appends one whole RecordBatch v2 (`batch` must be exactly one batch with
  // magic 2, and `records` must equal its lastOffsetDelta + 1). Patches the
  // base offset (and leader epoch, see options), stores it and returns the
  // assigned base offset. `max_timestamp` indexes the batch for ListOffsets;
  // pass the header's maxTimestamp (recovery reads that one back). `tag` is
  // the opaque value returned by TagBefore. Errors: kInvalidArgument for a
  // malformed batch, kIo when the segment write fails (nothing is appended).
  // The CRC is not verified here (the codec checks produced batches).
  Result<int64_t> Append(std::string batch, int32_t records, int64_t max_timestamp,
                         uint64_t tag = 0);

  // Appends to `out` whole batches starting with the one containing `offset`,
  // while their total stays within `max_bytes` — but always at least one batch
  // when any exists at/after `offset`. The first batch may start before
  // `offset` (clients skip the records they did not ask for). Offset ==
  // HighWatermark() reads nothing; an offset outside [LogStartOffset(),
  // HighWatermark()] sets ReadInfo::out_of_range. Fails (kIo) only when a
  // segment read fails.
  Result<ReadInfo> Read(int64_t offset, int32_t max_bytes,
                        std::vector<std::shared_ptr<const std::string>>& out) const;

  // First offset still stored (== HighWatermark() when empty).
  int64_t LogStartOffset() const;
  // The next offset to be assigned (Kafka's log end offset / high watermark).
  int64_t HighWatermark() const;

  // ListOffsets: kLatest → {HighWatermark, -1}; kEarliest → {LogStartOffset,
  // -1}; kMaxTimestamp → the last offset of the batch with the largest
  // timestamp; otherwise the base offset (and max timestamp) of the first
  // batch whose max timestamp is >= `timestamp` (batch granularity: the
  // answer may be a few records early), or {-1, -1} when there is none.
  OffsetAndTimestamp ListOffsets(int64_t timestamp) const;
  // ListOffsets at record granularity, as Kafka answers it: for a timestamp
  // target, the first record whose timestamp is >= `timestamp`, with that
  // record's timestamp (decodes the batch found by ListOffsets; falls back to
  // the batch answer when it cannot be read). Special targets as ListOffsets.
  OffsetAndTimestamp ListOffsetsByRecord(int64_t timestamp) const;

  // Highest tag of the batches lying entirely below `offset` (0 if none).
  // Batches already removed count only while `offset` >= LogStartOffset()
  // (below that the answer is unknown and 0 is returned: conservative).
  uint64_t TagBefore(int64_t offset) const;
  // Highest tag of all batches removed from the log by eviction/retention.
  uint64_t RemovedTag() const;

  // Long-poll support: registers a one-shot callback run after an Append
  // makes HighWatermark() > `offset` (on the appending thread, outside the
  // lock; it must not block). If that already holds, returns 0 and never
  // calls `callback` (the caller reads instead). Otherwise returns an id > 0
  // for RemoveWaiter.
  uint64_t AddWaiter(int64_t offset, std::function<void()> callback);
  // Forgets a waiter; false if it already fired or never existed.
  bool RemoveWaiter(uint64_t id);
  // Runs and removes every waiter (e.g. at shutdown), on the calling thread.
  void WakeAllWaiters();

  PartitionLogStats Stats() const;
  const PartitionLogOptions& options() const { return options_; }

 private:
  struct SegmentFile;
  struct Segment;
  struct Entry;

  explicit PartitionLog(PartitionLogOptions options);
  Status Recover() REQUIRES(mu_);
  Status ScanSegment(Segment& segment, bool& torn) REQUIRES(mu_);
  Status RollSegment(int64_t base_offset) REQUIRES(mu_);
  Status WriteToActive(const std::string& bytes, int64_t& position) REQUIRES(mu_);
  Status LoadCacheFromDisk() REQUIRES(mu_);
  void EvictLocked() REQUIRES(mu_);
  void ApplyRetentionLocked() REQUIRES(mu_);
  void RemoveFrontEntryLocked() REQUIRES(mu_);
  int64_t LogStartOffsetLocked() const REQUIRES(mu_);
  size_t CachedBeginLocked() const REQUIRES(mu_);
  const Segment* SegmentForLocked(int64_t offset) const REQUIRES(mu_);
  std::vector<std::function<void()>> TakeReadyWaitersLocked() REQUIRES(mu_);

  const PartitionLogOptions options_;
  mutable Mutex mu_;
  std::deque<Entry> entries_ GUARDED_BY(mu_);     // every batch in the log, by offset
  size_t cached_count_ GUARDED_BY(mu_) = 0;       // the newest `cached_count_` entries hold bytes
  std::deque<Segment> segments_ GUARDED_BY(mu_);  // by base offset; back() is the active one
  int64_t next_offset_ GUARDED_BY(mu_) = 0;
  int64_t memory_records_ GUARDED_BY(mu_) = 0;
  int64_t memory_bytes_ GUARDED_BY(mu_) = 0;
  int64_t disk_bytes_ GUARDED_BY(mu_) = 0;
  int64_t truncated_bytes_ GUARDED_BY(mu_) = 0;
  uint64_t removed_tag_ GUARDED_BY(mu_) = 0;
  struct Waiter {
    int64_t offset;
    std::function<void()> callback;
  };
  std::map<uint64_t, Waiter> waiters_ GUARDED_BY(mu_);
  uint64_t next_waiter_id_ GUARDED_BY(mu_) = 1;
};

using PartitionLogPtr = std::unique_ptr<PartitionLog>;

}  // namespace pgcdc::adapter::kafkaserver
