// ToastCache: an LRU of recent row images per (relation, primary key), used to
// back-fill "unchanged TOAST" columns of UPDATEs (pgoutput sends no data for a
// large out-of-line value that did not change). Bounded by entry count.
// One owner thread (the wal detector's); emptied on every reconnect.
#pragma once

#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace pgcdc::detector::wal {

class ToastCache {
 public:
  using Row = std::vector<std::optional<std::string>>;  // text value per column, nullopt = NULL

  explicit ToastCache(size_t max_entries) : max_entries_(max_entries) {}

  // Returns the cached row and marks it most recently used, or nullptr.
  const Row* Get(uint32_t relid, const std::string& pk);
  void Put(uint32_t relid, const std::string& pk, Row row);
  void Erase(uint32_t relid, const std::string& pk);
  void EvictRelation(uint32_t relid);

  size_t size() const { return index_.size(); }
  uint64_t evictions() const { return evictions_; }

 private:
  struct Entry {
    uint32_t relid;
    std::string pk;
    Row row;
  };
  static std::string Key(uint32_t relid, const std::string& pk);
  size_t max_entries_;
  std::list<Entry> lru_;  // front = most recent
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
  uint64_t evictions_ = 0;
};

}  // namespace pgcdc::detector::wal
