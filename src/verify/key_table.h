// KeyTable: the per-key state of a replayed sink — an open-addressing hash
// table (linear probing, power-of-two capacity, at most 3/4 full) keyed by
// the canonical key's XXH3 hash, with the key texts back to back in one
// arena. A 1 M-key table is two flat arrays instead of a million heap nodes,
// so the lookups of the table scan (one per row, in key order) mostly hit
// the cache. Entries are never removed: a DELETE marks its key `deleted`,
// the diff marks matched keys `seen`; Clear() empties everything (TRUNCATE).
//
// Memory: 48 bytes per slot (1–2.7 slots per key) plus the key text.
// Threading: one thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pgcdc::verify {

// What is kept per key.
struct KeyState {
  uint64_t hash = 0;        // XXH3 of the row's canonical JSON
  uint64_t toast_mask = 0;  // columns left out (unchanged TOAST, see replay.h)
  uint64_t position = 0;    // order check: WAL commit LSN >> 4 of the newest event; 0 = none
  uint32_t ordinal = 0;     // order check: its change ordinal
  bool deleted = false;     // the sink's last word on this key was a DELETE
  bool seen = false;        // the diff met this key in the table
};

class KeyTable {
 public:
  KeyTable();

  // The state of `key`, created (all zero) when new; second = created.
  std::pair<KeyState*, bool> Upsert(std::string_view key);
  // The state of `key`, or null.
  KeyState* Find(std::string_view key);
  // Starts loading the slot where `key` would be (a later Find is then
  // likely a cache hit).
  void Prefetch(std::string_view key) const {
    __builtin_prefetch(&slots_[HashKey(key) & (slots_.size() - 1)]);
  }
  // Keys ever inserted since the last Clear (deleted ones included).
  size_t size() const { return size_; }
  void Clear();

  // f(std::string_view key, KeyState&) for every key, in no particular order.
  template <class F>
  void ForEach(F&& f) {
    for (auto& s : slots_) {
      if (s.key_hash != 0) f(Key(s), s.state);
    }
  }

 private:
  struct Slot {
    uint64_t key_hash = 0;  // 0 = empty
    uint64_t key_offset = 0;
    uint32_t key_size = 0;
    KeyState state;
  };
  static uint64_t HashKey(std::string_view key);
  std::string_view Key(const Slot& s) const {
    return std::string_view(arena_).substr(s.key_offset, s.key_size);
  }
  size_t Probe(uint64_t h, std::string_view key) const;  // slot of key, or the empty one
  void Grow();

  std::vector<Slot> slots_;
  std::string arena_;
  size_t size_ = 0;
};

}  // namespace pgcdc::verify
