#include "detector/wal/toast_cache.h"

namespace pgcdc::detector::wal {

std::string ToastCache::Key(uint32_t relid, const std::string& pk) {
  std::string k = std::to_string(relid);
  k.push_back('/');
  k.append(pk);
  return k;
}

const ToastCache::Row* ToastCache::Get(uint32_t relid, const std::string& pk) {
  auto it = index_.find(Key(relid, pk));
  if (it == index_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);
  return &it->second->row;
}

void ToastCache::Put(uint32_t relid, const std::string& pk, Row row) {
  if (max_entries_ == 0) return;
  const std::string key = Key(relid, pk);
  if (auto it = index_.find(key); it != index_.end()) {
    it->second->row = std::move(row);
    lru_.splice(lru_.begin(), lru_, it->second);
    return;
  }
  lru_.push_front(Entry{relid, pk, std::move(row)});
  index_[key] = lru_.begin();
  while (index_.size() > max_entries_) {
    index_.erase(Key(lru_.back().relid, lru_.back().pk));
    lru_.pop_back();
    ++evictions_;
  }
}

void ToastCache::Erase(uint32_t relid, const std::string& pk) {
  auto it = index_.find(Key(relid, pk));
  if (it == index_.end()) return;
  lru_.erase(it->second);
  index_.erase(it);
}

void ToastCache::EvictRelation(uint32_t relid) {
  for (auto it = lru_.begin(); it != lru_.end();) {
    if (it->relid == relid) {
      index_.erase(Key(relid, it->pk));
      it = lru_.erase(it);
      ++evictions_;
    } else {
      ++it;
    }
  }
}

}  // namespace pgcdc::detector::wal
