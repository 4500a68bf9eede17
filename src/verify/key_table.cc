#include "verify/key_table.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace pgcdc::verify {

namespace {
constexpr size_t kInitialSlots = 1024;  // a power of two
}  // namespace

KeyTable::KeyTable() : slots_(kInitialSlots) {}

uint64_t KeyTable::HashKey(std::string_view key) {
  const uint64_t h = XXH3_64bits(key.data(), key.size());
  return h == 0 ? 1 : h;
}

size_t KeyTable::Probe(uint64_t h, std::string_view key) const {
  const size_t mask = slots_.size() - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.key_hash == 0 || (s.key_hash == h && Key(s) == key)) return i;
  }
}

void KeyTable::Grow() {
  std::vector<Slot> old(slots_.size() * 2);
  old.swap(slots_);
  const size_t mask = slots_.size() - 1;
  for (const Slot& s : old) {
    if (s.key_hash == 0) continue;
    size_t i = s.key_hash & mask;
    while (slots_[i].key_hash != 0) i = (i + 1) & mask;
    slots_[i] = s;
  }
}

std::pair<KeyState*, bool> KeyTable::Upsert(std::string_view key) {
  if ((size_ + 1) * 4 > slots_.size() * 3) Grow();
  const uint64_t h = HashKey(key);
  Slot& s = slots_[Probe(h, key)];
  if (s.key_hash != 0) return {&s.state, false};
  s.key_hash = h;
  s.key_offset = arena_.size();
  s.key_size = static_cast<uint32_t>(key.size());
  arena_.append(key);
  ++size_;
  return {&s.state, true};
}

KeyState* KeyTable::Find(std::string_view key) {
  Slot& s = slots_[Probe(HashKey(key), key)];
  return s.key_hash == 0 ? nullptr : &s.state;
}

void KeyTable::Clear() {
  slots_.assign(kInitialSlots, Slot{});
  arena_.clear();
  size_ = 0;
}

}  // namespace pgcdc::verify
