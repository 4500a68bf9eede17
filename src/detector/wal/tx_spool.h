// TxSpool: the buffered messages of one streamed (in-progress) transaction,
// kept until its Stream Commit (replayed) or Stream Abort (dropped).
//
// Memory: records are packed into chunks of at most kSpoolChunkBytes (a
// record larger than that gets a chunk of its own size, rounded up to whole
// pages). Every chunk is
// charged in full to a SpoolBudget shared by all spools of one builder, so
// `budget.used` is the heap the spools really hold, not an estimate. Once a
// chunk would take the budget past its limit, this spool appends every later
// record to an unlinked temp file instead (order is kept: memory first, then
// file). Replay (Drain) hands the records out in arrival order and frees each
// chunk as soon as its records have been handed out; the file part is read
// back through a fixed buffer, one record at a time. So a transaction of any
// size needs at most `limit` bytes of memory while it is buffered, and the
// memory goes back while it is replayed.
//
// One owner thread (the builder's).
#pragma once

#include <cstdint>
#include <cstdio>
#include <deque>
#include <functional>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "core/error.h"

namespace pgcdc::detector::wal {

// Largest chunk of packed records (smaller when the budget is smaller).
inline constexpr size_t kSpoolChunkBytes = 256u << 10;
// Buffer of the spill file's reads and writes.
inline constexpr size_t kSpoolFileBufferBytes = 64u << 10;

// The in-memory budget shared by the spools of one builder.
struct SpoolBudget {
  size_t limit = 0;  // bytes of chunks all spools together may hold
  size_t used = 0;   // bytes of chunks they hold now
};

class TxSpool {
 public:
  // One buffered message. `bytes` is valid only during the Drain callback.
  struct Record {
    uint32_t xid = 0;
    uint64_t lsn = 0;
    std::span<const uint8_t> bytes;
  };

  // `dir`: where the spill file is created (it is unlinked at once).
  TxSpool(SpoolBudget& budget, std::string dir);
  ~TxSpool();
  TxSpool(const TxSpool&) = delete;
  TxSpool& operator=(const TxSpool&) = delete;

  Status Add(uint32_t xid, uint64_t lsn, std::span<const uint8_t> bytes);

  // Replays every record in arrival order, once, releasing memory chunks as
  // they are used up; stops at the first error fn returns. The spool is empty
  // afterwards (whatever the outcome).
  Status Drain(const std::function<Status(const Record&)>& fn);

  void MarkAborted(uint32_t subxid) { aborted_.insert(subxid); }
  const std::set<uint32_t>& aborted() const { return aborted_; }
  // Bytes of chunks held (charged to the budget).
  size_t memory_bytes() const { return memory_bytes_; }
  // Bytes written to the spill file.
  uint64_t file_bytes() const { return file_bytes_; }
  uint64_t records() const { return memory_records_ + file_records_; }

 private:
  // Chunks are mapped directly (not malloc'ed): unmapping gives the pages
  // back to the system at once, instead of leaving them in the detector
  // thread's malloc arena where other threads' allocations cannot use them.
  struct Chunk {
    explicit Chunk(size_t bytes);
    ~Chunk();
    Chunk(Chunk&& o) noexcept;
    Chunk(const Chunk&) = delete;
    Chunk& operator=(const Chunk&) = delete;
    Chunk& operator=(Chunk&&) = delete;
    uint8_t* data = nullptr;  // null when the mapping failed
    size_t capacity = 0;
    size_t size = 0;
    size_t records = 0;
  };
  // Appends to the last chunk or a new one within the budget; false when
  // the record does not fit in memory.
  bool AddToMemory(uint32_t xid, uint64_t lsn, std::span<const uint8_t> bytes);
  Status AddToFile(uint32_t xid, uint64_t lsn, std::span<const uint8_t> bytes);
  Status OpenFile();
  Status DrainChunks(const std::function<Status(const Record&)>& fn);
  Status DrainFile(const std::function<Status(const Record&)>& fn);
  void ReleaseFront();
  void Clear();

  SpoolBudget& budget_;
  std::string dir_;
  std::deque<Chunk> chunks_;
  size_t memory_bytes_ = 0;
  uint64_t memory_records_ = 0;
  std::FILE* file_ = nullptr;
  std::unique_ptr<char[]> file_buffer_;
  uint64_t file_bytes_ = 0;
  uint64_t file_records_ = 0;
  std::set<uint32_t> aborted_;
};

}  // namespace pgcdc::detector::wal
