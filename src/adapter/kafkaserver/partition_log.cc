#include "adapter/kafkaserver/partition_log.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "adapter/kafkaserver/batch_format.h"
#include "codec/kafka/record_batch.h"
#include "core/log.h"

namespace pgcdc::adapter::kafkaserver {

namespace fs = std::filesystem;

struct PartitionLog::SegmentFile {
  int fd = -1;
  explicit SegmentFile(int f) : fd(f) {}
  ~SegmentFile() {
    if (fd >= 0) ::close(fd);
  }
  SegmentFile(const SegmentFile&) = delete;
  SegmentFile& operator=(const SegmentFile&) = delete;
};

struct PartitionLog::Segment {
  int64_t base_offset = 0;
  std::string path;
  std::shared_ptr<SegmentFile> file;  // shared with in-flight reads
  int64_t size = 0;
};

struct PartitionLog::Entry {
  int64_t base_offset = 0;
  int64_t last_offset = 0;
  int64_t max_timestamp = -1;
  int64_t file_position = -1;  // -1 = not on disk
  uint64_t tag_max = 0;        // max tag of this and every earlier batch
  int64_t size = 0;
  int64_t records = 0;
  std::shared_ptr<const std::string> bytes;  // null when evicted from memory
};

namespace {

std::string ErrnoText(int err) { return std::string(std::strerror(err)); }

std::string SegmentName(int64_t base_offset) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%020lld.log", static_cast<long long>(base_offset));
  return buf;
}

// "<20 digits>.log" → base offset.
bool ParseSegmentName(const std::string& name, int64_t* base) {
  if (name.size() != 24 || name.compare(20, 4, ".log") != 0) return false;
  int64_t v = 0;
  for (size_t i = 0; i < 20; ++i) {
    const char c = name[i];
    if (c < '0' || c > '9') return false;
    if (v > (INT64_MAX - (c - '0')) / 10) return false;
    v = v * 10 + (c - '0');
  }
  *base = v;
  return true;
}

Status FsyncDir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Fail(ErrorCode::kIo, "open " + dir + ": " + ErrnoText(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return Fail(ErrorCode::kIo, "fsync " + dir + ": " + ErrnoText(err));
  return Ok();
}

Status PreadAll(int fd, char* buf, size_t n, int64_t pos) {
  size_t done = 0;
  while (done < n) {
    const ssize_t r = ::pread(fd, buf + done, n - done, static_cast<off_t>(pos + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      return Fail(ErrorCode::kIo, "pread: " + ErrnoText(errno));
    }
    if (r == 0) return Fail(ErrorCode::kIo, "pread: unexpected end of segment file");
    done += static_cast<size_t>(r);
  }
  return Ok();
}

}  // namespace

PartitionLog::PartitionLog(PartitionLogOptions options) : options_(std::move(options)) {}

PartitionLog::~PartitionLog() = default;

Result<std::unique_ptr<PartitionLog>> PartitionLog::Open(PartitionLogOptions options) {
  if (options.buffer_records < 1) options.buffer_records = 1;
  if (options.segment_bytes < static_cast<int64_t>(kBatchHeaderSize)) {
    options.segment_bytes = kBatchHeaderSize;
  }
  if (options.max_batch_bytes < kBatchHeaderSize) options.max_batch_bytes = kBatchHeaderSize;
  std::unique_ptr<PartitionLog> log(new PartitionLog(std::move(options)));
  if (!log->options_.dir.empty()) {
    MutexLock lock(log->mu_);  // not shared yet; the lock is for the analysis
    if (auto st = log->Recover(); !st) {
      return Fail(st.error().Wrap("partition log " + log->options_.dir));
    }
  }
  return log;
}

// ---------------------------------------------------------------------------
// Recovery

Status PartitionLog::Recover() {
  const std::string& dir = options_.dir;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Fail(ErrorCode::kIo, "create " + dir + ": " + ec.message());

  std::vector<std::pair<int64_t, std::string>> files;
  for (const auto& de : fs::directory_iterator(dir, ec)) {
    if (!de.is_regular_file()) continue;
    int64_t base = 0;
    const std::string name = de.path().filename().string();
    if (ParseSegmentName(name, &base)) files.emplace_back(base, de.path().string());
  }
  if (ec) return Fail(ErrorCode::kIo, "list " + dir + ": " + ec.message());
  std::sort(files.begin(), files.end());

  bool torn = false;
  for (size_t i = 0; i < files.size(); ++i) {
    const auto& [base, path] = files[i];
    if (torn || (i > 0 && base < next_offset_)) {
      // Everything after a corrupt point (or overlapping it) is unusable.
      std::error_code rec;
      const auto size = static_cast<int64_t>(fs::file_size(path, rec));
      if (!rec) truncated_bytes_ += size;
      log::Warn("kafkaserver: deleting segment after corrupt point", {{"path", path}});
      if (::unlink(path.c_str()) != 0) {
        return Fail(ErrorCode::kIo, "unlink " + path + ": " + ErrnoText(errno));
      }
      torn = true;
      continue;
    }
    const int fd = ::open(path.c_str(), O_RDWR | O_APPEND | O_CLOEXEC);
    if (fd < 0) return Fail(ErrorCode::kIo, "open " + path + ": " + ErrnoText(errno));
    Segment seg;
    seg.base_offset = base;
    seg.path = path;
    seg.file = std::make_shared<SegmentFile>(fd);
    next_offset_ = base;
    if (auto st = ScanSegment(seg, torn); !st) return st;
    disk_bytes_ += seg.size;
    segments_.push_back(std::move(seg));
  }
  if (segments_.empty()) {
    if (auto st = RollSegment(next_offset_); !st) return st;
  }
  ApplyRetentionLocked();
  return LoadCacheFromDisk();
}

// Scans one segment, appending its batches to entries_. On a torn/corrupt
// batch the file is truncated there and `torn` is set.
Status PartitionLog::ScanSegment(Segment& seg, bool& torn) {
  struct stat st {};
  if (::fstat(seg.file->fd, &st) != 0) {
    return Fail(ErrorCode::kIo, "stat " + seg.path + ": " + ErrnoText(errno));
  }
  const auto file_size = static_cast<int64_t>(st.st_size);
  int64_t pos = 0;
  std::string reason;
  if (file_size > 0) {
    void* map =
        ::mmap(nullptr, static_cast<size_t>(file_size), PROT_READ, MAP_PRIVATE, seg.file->fd, 0);
    if (map == MAP_FAILED) {
      return Fail(ErrorCode::kIo, "mmap " + seg.path + ": " + ErrnoText(errno));
    }
    const std::string_view data(static_cast<const char*>(map), static_cast<size_t>(file_size));
    int64_t expected = seg.base_offset;
    while (pos < file_size) {
      const std::string_view rest = data.substr(static_cast<size_t>(pos));
      auto h = ParseBatchHeader(rest, options_.max_batch_bytes);
      if (!h) {
        reason = h.error().message();
        break;
      }
      if (h->size() > rest.size()) {
        reason = "batch extends past the end of the file";
        break;
      }
      if (h->base_offset != expected) {
        reason = "base offset " + std::to_string(h->base_offset) + " where " +
                 std::to_string(expected) + " was expected";
        break;
      }
      const std::string_view batch = rest.substr(0, h->size());
      if (!BatchCrcOk(batch)) {
        reason = "CRC32C mismatch";
        break;
      }
      Entry e;
      e.base_offset = h->base_offset;
      e.last_offset = h->base_offset + h->offset_span() - 1;
      e.max_timestamp = h->max_timestamp;
      e.file_position = pos;
      e.size = static_cast<int64_t>(batch.size());
      e.records = h->offset_span();
      e.tag_max = entries_.empty() ? removed_tag_ : entries_.back().tag_max;
      entries_.push_back(std::move(e));
      expected = h->base_offset + h->offset_span();
      pos += static_cast<int64_t>(batch.size());
    }
    ::munmap(map, static_cast<size_t>(file_size));
    next_offset_ = expected;
  }
  if (pos < file_size) {
    log::Warn("kafkaserver: truncating torn segment tail", {{"path", seg.path},
                                                            {"position", pos},
                                                            {"dropped_bytes", file_size - pos},
                                                            {"reason", reason}});
    if (::ftruncate(seg.file->fd, static_cast<off_t>(pos)) != 0) {
      return Fail(ErrorCode::kIo, "truncate " + seg.path + ": " + ErrnoText(errno));
    }
    truncated_bytes_ += file_size - pos;
    torn = true;
  }
  seg.size = pos;
  return Ok();
}

// Reads the newest batches (up to the memory caps) back into memory.
Status PartitionLog::LoadCacheFromDisk() {
  size_t take = 0;
  int64_t records = 0;
  int64_t bytes = 0;
  for (size_t i = entries_.size(); i > 0; --i) {
    const Entry& e = entries_[i - 1];
    if (take > 0 && (records + e.records > options_.buffer_records ||
                     (options_.buffer_bytes > 0 && bytes + e.size > options_.buffer_bytes))) {
      break;
    }
    records += e.records;
    bytes += e.size;
    ++take;
  }
  for (size_t i = entries_.size() - take; i < entries_.size(); ++i) {
    Entry& e = entries_[i];
    const Segment* seg = SegmentForLocked(e.base_offset);
    if (seg == nullptr) return Fail(ErrorCode::kIo, "index has no segment for a batch");
    std::string buf(static_cast<size_t>(e.size), '\0');
    if (auto st = PreadAll(seg->file->fd, buf.data(), buf.size(), e.file_position); !st) {
      return Fail(st.error().Wrap(seg->path));
    }
    e.bytes = std::make_shared<const std::string>(std::move(buf));
  }
  cached_count_ = take;
  memory_records_ = records;
  memory_bytes_ = bytes;
  return Ok();
}

Status PartitionLog::RollSegment(int64_t base_offset) {
  const std::string path = (fs::path(options_.dir) / SegmentName(base_offset)).string();
  const int fd = ::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return Fail(ErrorCode::kIo, "create " + path + ": " + ErrnoText(errno));
  Segment seg;
  seg.base_offset = base_offset;
  seg.path = path;
  seg.file = std::make_shared<SegmentFile>(fd);
  segments_.push_back(std::move(seg));
  if (options_.fsync) {
    if (auto st = FsyncDir(options_.dir); !st) return st;
  }
  return Ok();
}

// ---------------------------------------------------------------------------
// Append

Status PartitionLog::WriteToActive(const std::string& bytes, int64_t& position) {
  Segment& seg = segments_.back();
  position = seg.size;
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t w = ::write(seg.file->fd, bytes.data() + done, bytes.size() - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      // Drop a partial write so the file stays a sequence of whole batches.
      if (::ftruncate(seg.file->fd, static_cast<off_t>(seg.size)) != 0) {
        log::Error("kafkaserver: cannot truncate partial write", {{"path", seg.path}});
      }
      return Fail(ErrorCode::kIo, "write " + seg.path + ": " + ErrnoText(err));
    }
    done += static_cast<size_t>(w);
  }
  if (options_.fsync && ::fdatasync(seg.file->fd) != 0) {
    return Fail(ErrorCode::kIo, "fdatasync " + seg.path + ": " + ErrnoText(errno));
  }
  seg.size += static_cast<int64_t>(bytes.size());
  disk_bytes_ += static_cast<int64_t>(bytes.size());
  return Ok();
}

Result<int64_t> PartitionLog::Append(std::string batch, int32_t records, int64_t max_timestamp,
                                     uint64_t tag) {
  auto h = ParseBatchHeader(batch, options_.max_batch_bytes);
  if (!h) return Fail(ErrorCode::kInvalidArgument, "append: " + h.error().message());
  if (h->size() != batch.size()) {
    return Fail(ErrorCode::kInvalidArgument, "append: batch length field says " +
                                                 std::to_string(h->size()) + " bytes, got " +
                                                 std::to_string(batch.size()));
  }
  if (records != h->offset_span()) {
    return Fail(ErrorCode::kInvalidArgument, "append: " + std::to_string(records) +
                                                 " records but lastOffsetDelta " +
                                                 std::to_string(h->last_offset_delta));
  }
  if (options_.leader_epoch >= 0) SetBatchLeaderEpoch(batch, options_.leader_epoch);

  std::vector<std::function<void()>> ready;
  int64_t base = 0;
  {
    MutexLock lock(mu_);
    base = next_offset_;
    SetBatchBaseOffset(batch, base);
    Entry e;
    e.base_offset = base;
    e.last_offset = base + h->offset_span() - 1;
    e.max_timestamp = max_timestamp;
    e.size = static_cast<int64_t>(batch.size());
    e.records = h->offset_span();
    e.tag_max = std::max(tag, entries_.empty() ? removed_tag_ : entries_.back().tag_max);
    if (!options_.dir.empty()) {
      const Segment& active = segments_.back();
      if (active.size > 0 && active.size + e.size > options_.segment_bytes) {
        if (auto st = RollSegment(base); !st) return Fail(st.error().Wrap("append"));
      }
      if (auto st = WriteToActive(batch, e.file_position); !st) {
        return Fail(st.error().Wrap("append"));
      }
    }
    e.bytes = std::make_shared<const std::string>(std::move(batch));
    entries_.push_back(std::move(e));
    ++cached_count_;
    memory_records_ += entries_.back().records;
    memory_bytes_ += entries_.back().size;
    next_offset_ = entries_.back().last_offset + 1;
    EvictLocked();
    ApplyRetentionLocked();
    ready = TakeReadyWaitersLocked();
  }
  for (auto& cb : ready) cb();
  return base;
}

void PartitionLog::RemoveFrontEntryLocked() {
  Entry& e = entries_.front();
  removed_tag_ = std::max(removed_tag_, e.tag_max);
  if (cached_count_ == entries_.size()) {
    --cached_count_;
    memory_records_ -= e.records;
    memory_bytes_ -= e.size;
  }
  entries_.pop_front();
}

void PartitionLog::EvictLocked() {
  while (cached_count_ > 1 &&
         (memory_records_ > options_.buffer_records ||
          (options_.buffer_bytes > 0 && memory_bytes_ > options_.buffer_bytes))) {
    if (options_.dir.empty()) {
      RemoveFrontEntryLocked();
    } else {
      Entry& e = entries_[CachedBeginLocked()];
      memory_records_ -= e.records;
      memory_bytes_ -= e.size;
      e.bytes.reset();
      --cached_count_;
    }
  }
}

void PartitionLog::ApplyRetentionLocked() {
  if (options_.dir.empty() || options_.retention_bytes <= 0) return;
  while (segments_.size() > 1 && disk_bytes_ > options_.retention_bytes) {
    const int64_t next_base = segments_[1].base_offset;
    while (!entries_.empty() && entries_.front().base_offset < next_base) RemoveFrontEntryLocked();
    Segment& seg = segments_.front();
    if (::unlink(seg.path.c_str()) != 0) {
      log::Warn("kafkaserver: cannot delete segment",
                {{"path", seg.path}, {"error", ErrnoText(errno)}});
    }
    disk_bytes_ -= seg.size;
    segments_.pop_front();
  }
}

std::vector<std::function<void()>> PartitionLog::TakeReadyWaitersLocked() {
  std::vector<std::function<void()>> ready;
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    if (it->second.offset < next_offset_) {
      ready.push_back(std::move(it->second.callback));
      it = waiters_.erase(it);
    } else {
      ++it;
    }
  }
  return ready;
}

// ---------------------------------------------------------------------------
// Reads

const PartitionLog::Segment* PartitionLog::SegmentForLocked(int64_t offset) const {
  auto it = std::upper_bound(segments_.begin(), segments_.end(), offset,
                             [](int64_t o, const Segment& s) { return o < s.base_offset; });
  if (it == segments_.begin()) return nullptr;
  return &*std::prev(it);
}

size_t PartitionLog::CachedBeginLocked() const { return entries_.size() - cached_count_; }

int64_t PartitionLog::LogStartOffsetLocked() const {
  return entries_.empty() ? next_offset_ : entries_.front().base_offset;
}

Result<ReadInfo> PartitionLog::Read(int64_t offset, int32_t max_bytes,
                                    std::vector<std::shared_ptr<const std::string>>& out) const {
  struct DiskRead {
    size_t out_index;
    std::shared_ptr<SegmentFile> file;
    std::string path;
    int64_t position;
    int64_t size;
  };
  std::vector<DiskRead> plan;
  ReadInfo info;
  {
    MutexLock lock(mu_);
    info.high_watermark = next_offset_;
    info.log_start_offset = LogStartOffsetLocked();
    if (offset < info.log_start_offset || offset > info.high_watermark) {
      info.out_of_range = true;
      return info;
    }
    auto it = std::partition_point(entries_.begin(), entries_.end(),
                                   [&](const Entry& e) { return e.last_offset < offset; });
    const auto budget = static_cast<size_t>(std::max<int32_t>(max_bytes, 0));
    const size_t cached_begin = CachedBeginLocked();
    for (; it != entries_.end(); ++it) {
      const auto size = static_cast<size_t>(it->size);
      if (info.bytes > 0 && info.bytes + size > budget) break;
      const auto index = static_cast<size_t>(it - entries_.begin());
      if (index >= cached_begin) {
        out.push_back(it->bytes);
      } else {
        const Segment* seg = SegmentForLocked(it->base_offset);
        if (seg == nullptr) return Fail(ErrorCode::kIo, "read: index has no segment for a batch");
        plan.push_back({out.size(), seg->file, seg->path, it->file_position, it->size});
        out.push_back(nullptr);
      }
      info.bytes += size;
    }
  }
  // Adjacent batches of one segment are read with a single pread.
  std::string chunk;
  for (size_t i = 0; i < plan.size();) {
    size_t j = i + 1;
    int64_t end = plan[i].position + plan[i].size;
    while (j < plan.size() && plan[j].file == plan[i].file && plan[j].position == end) {
      end += plan[j].size;
      ++j;
    }
    if (j == i + 1) {
      std::string buf(static_cast<size_t>(plan[i].size), '\0');
      if (auto st = PreadAll(plan[i].file->fd, buf.data(), buf.size(), plan[i].position); !st) {
        out.resize(plan.front().out_index);
        return Fail(st.error().Wrap("read " + plan[i].path));
      }
      out[plan[i].out_index] = std::make_shared<const std::string>(std::move(buf));
    } else {
      chunk.resize(static_cast<size_t>(end - plan[i].position));
      if (auto st = PreadAll(plan[i].file->fd, chunk.data(), chunk.size(), plan[i].position); !st) {
        out.resize(plan.front().out_index);
        return Fail(st.error().Wrap("read " + plan[i].path));
      }
      for (size_t k = i; k < j; ++k) {
        out[plan[k].out_index] = std::make_shared<const std::string>(
            chunk, static_cast<size_t>(plan[k].position - plan[i].position),
            static_cast<size_t>(plan[k].size));
      }
    }
    i = j;
  }
  return info;
}

int64_t PartitionLog::LogStartOffset() const {
  MutexLock lock(mu_);
  return LogStartOffsetLocked();
}

int64_t PartitionLog::HighWatermark() const {
  MutexLock lock(mu_);
  return next_offset_;
}

OffsetAndTimestamp PartitionLog::ListOffsets(int64_t timestamp) const {
  MutexLock lock(mu_);
  if (timestamp == kLatest) return {next_offset_, -1};
  if (timestamp == kEarliest) return {LogStartOffsetLocked(), -1};
  if (timestamp == kMaxTimestamp) {
    const Entry* best = nullptr;
    for (const Entry& e : entries_) {
      if (best == nullptr || e.max_timestamp > best->max_timestamp) best = &e;
    }
    if (best == nullptr) return {};
    return {best->last_offset, best->max_timestamp};
  }
  if (timestamp < 0) return {};
  for (const Entry& e : entries_) {
    if (e.max_timestamp >= timestamp) return {e.base_offset, e.max_timestamp};
  }
  return {};
}

OffsetAndTimestamp PartitionLog::ListOffsetsByRecord(int64_t timestamp) const {
  const OffsetAndTimestamp batch = ListOffsets(timestamp);
  if (timestamp < 0 || batch.offset < 0) return batch;
  // The batch's records (read back from disk when evicted; Read outside the
  // mutex): the first one at or after the target, with its own timestamp.
  std::vector<std::shared_ptr<const std::string>> bytes;
  auto read = Read(batch.offset, 1, bytes);
  if (!read || bytes.empty()) return batch;
  auto decoded = codec::kafka::DecodeRecordBatches(*bytes.front(), {.verify_crc = false});
  if (!decoded || decoded->empty() || decoded->front().base_offset != batch.offset) return batch;
  const auto& b = decoded->front();
  if (b.log_append_time()) return {b.base_offset, b.max_timestamp};
  for (const auto& r : b.records) {
    if (r.timestamp_ms >= timestamp) return {r.offset, r.timestamp_ms};
  }
  return batch;
}

uint64_t PartitionLog::TagBefore(int64_t offset) const {
  MutexLock lock(mu_);
  if (offset < LogStartOffsetLocked()) return 0;
  // Last entry lying entirely below `offset`.
  auto it = std::partition_point(entries_.begin(), entries_.end(),
                                 [&](const Entry& e) { return e.last_offset < offset; });
  if (it == entries_.begin()) return removed_tag_;
  return std::prev(it)->tag_max;
}

uint64_t PartitionLog::RemovedTag() const {
  MutexLock lock(mu_);
  return removed_tag_;
}

// ---------------------------------------------------------------------------
// Waiters and stats

uint64_t PartitionLog::AddWaiter(int64_t offset, std::function<void()> callback) {
  MutexLock lock(mu_);
  if (next_offset_ > offset) return 0;
  const uint64_t id = next_waiter_id_++;
  waiters_.emplace(id, Waiter{offset, std::move(callback)});
  return id;
}

bool PartitionLog::RemoveWaiter(uint64_t id) {
  MutexLock lock(mu_);
  return waiters_.erase(id) > 0;
}

void PartitionLog::WakeAllWaiters() {
  std::map<uint64_t, Waiter> all;
  {
    MutexLock lock(mu_);
    all.swap(waiters_);
  }
  for (auto& [id, w] : all) w.callback();
}

PartitionLogStats PartitionLog::Stats() const {
  MutexLock lock(mu_);
  PartitionLogStats s;
  s.log_start_offset = LogStartOffsetLocked();
  s.high_watermark = next_offset_;
  s.batches = static_cast<int64_t>(entries_.size());
  s.memory_batches = static_cast<int64_t>(cached_count_);
  s.memory_records = memory_records_;
  s.memory_bytes = memory_bytes_;
  s.disk_bytes = disk_bytes_;
  s.segments = static_cast<int64_t>(segments_.size());
  s.truncated_bytes = truncated_bytes_;
  s.waiters = waiters_.size();
  return s;
}

}  // namespace pgcdc::adapter::kafkaserver
