// The arrow sink's per-channel ring buffers (SPEC §5.18), addressed by
// ABSOLUTE offsets: the n-th event ever buffered on a channel has offset n-1
// for the life of the process. SPEC's offsets were relative to the current
// ring window, so a client that asked for "offset 100" after the ring had
// moved got other rows than it had counted (skipped or repeated). Here an
// offset that has been overwritten is refused (kOutOfRange, naming the
// oldest offset still held) and never silently skipped.
//
// Thread-safe: Append from the pipeline, reads from the Flight handlers.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/event.h"

namespace pgcdc::adapter::arrow {

// One buffered event (what the Arrow columns are built from).
struct Entry {
  std::string id;
  std::string channel;
  std::string operation;
  std::string payload;  // compact JSON
  std::string_view source;
  int64_t created_at_ns = 0;
  std::shared_ptr<const RowSchema> schema;  // WAL row events only
};
using EntryPtr = std::shared_ptr<const Entry>;

EntryPtr MakeEntry(const Event& event);

struct ChannelState {
  std::string channel;
  uint64_t first = 0;  // oldest offset held
  uint64_t next = 0;   // offset the next event will get
  EntryPtr oldest;     // the event at `first` (null when empty)
};

struct Slice {
  uint64_t first = 0;  // absolute offset of entries[0]
  std::vector<EntryPtr> entries;
};

class Store {
 public:
  explicit Store(size_t capacity_per_channel) : capacity_(capacity_per_channel) {}

  // Appends `entry` to its channel's ring, overwriting the oldest when full.
  // Returns the number of events overwritten (0 or 1).
  size_t Append(EntryPtr entry);

  // Every channel, sorted by name.
  std::vector<ChannelState> Channels() const;
  // One channel; an unknown channel is empty at offset 0.
  ChannelState Channel(std::string_view channel) const;

  // Up to `max` events from absolute `offset` on. An error when `offset`
  // was overwritten (message names the oldest offset) or lies past the
  // newest (kNotFound; Flight answers OUT_OF_RANGE); offset == next gives
  // an empty slice. No offset: from the oldest held.
  [[nodiscard]] Result<Slice> Read(std::string_view channel, std::optional<uint64_t> from,
                                   size_t max) const;

  size_t capacity() const { return capacity_; }
  size_t total() const;
  size_t channel_count() const;

 private:
  struct Ring {
    std::vector<EntryPtr> slots;  // grows to capacity, then wraps
    uint64_t first = 0;
    uint64_t next = 0;
  };
  ChannelState StateOf(const std::string& name, const Ring& ring) const;

  const size_t capacity_;
  mutable std::mutex mu_;
  std::map<std::string, Ring, std::less<>> rings_;
  size_t total_ = 0;
};

}  // namespace pgcdc::adapter::arrow
