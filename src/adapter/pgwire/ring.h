// The pgwire gateway's event ring (SPEC §5.21): the last `capacity` events of
// every channel together, oldest first, plus per-channel counters. Each
// event gets an absolute position (0, 1, 2, … for the life of the process),
// so a live tail knows exactly where it stands and can tell when the ring
// overwrote rows it had not sent yet.
//
// The ring is a view, not a durable log: the adapter acknowledges events once
// they are in the ring; at most `capacity` are kept (at-most-buffer).
//
// Thread-safe: Append from the pipeline's worker, reads from the server.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/event.h"

namespace pgcdc::adapter::pgwire {

struct Row {
  uint64_t position = 0;  // absolute, assigned by Append
  std::string id;
  std::string channel;
  std::string operation;
  std::string source;
  std::string payload;
  int64_t created_at_ns = 0;
  uint64_t lsn = 0;
};
using RowPtr = std::shared_ptr<const Row>;

Row RowFromEvent(const Event& event);

struct ChannelCount {
  std::string channel;
  int64_t events = 0;  // events seen on the channel since start (not only those held)
};

struct RingStatus {
  size_t capacity = 0;
  size_t used = 0;
  uint64_t total = 0;  // events ever appended
};

class Ring {
 public:
  explicit Ring(size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

  // Appends rows (positions assigned here), overwriting the oldest when full,
  // then calls the listener once (outside the lock). Returns how many rows
  // were overwritten.
  size_t Append(std::vector<Row> rows);

  // Every row held, oldest first.
  std::vector<RowPtr> Snapshot() const;
  // Rows at positions >= `from`, oldest first, at most `max`. `missed` gets
  // how many rows from `from` on were already overwritten.
  std::vector<RowPtr> ReadFrom(uint64_t from, size_t max, uint64_t& missed) const;
  // The position the next row will get.
  uint64_t next() const;
  std::vector<ChannelCount> Channels() const;  // in first-seen order
  RingStatus Status() const;

  // Called after every Append (on the appending thread). Set before use.
  void SetListener(std::function<void()> listener) { listener_ = std::move(listener); }

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  std::vector<RowPtr> slots_;  // grows to capacity_, then wraps
  uint64_t next_ = 0;          // absolute position of the next row
  std::vector<ChannelCount> channels_;
  std::unordered_map<std::string, size_t> channel_index_;  // into channels_
  std::function<void()> listener_;
};

}  // namespace pgcdc::adapter::pgwire
