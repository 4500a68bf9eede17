#include "detector/kafka_consumer/offset_book.h"

#include <algorithm>

namespace pgcdc::detector::kafka_consumer {

size_t OffsetBook::Delivered(uint64_t through) {
  return queue_.Release(through, [this](Position&& p) {
    int64_t& next = ready_[{std::move(p.topic), p.partition}];
    next = std::max(next, p.offset + 1);
  });
}

std::vector<Position> OffsetBook::TakeCommits() {
  std::vector<Position> out;
  out.reserve(ready_.size());
  for (auto& [key, next] : ready_) out.push_back({key.first, key.second, next});
  ready_.clear();
  return out;
}

uint64_t OffsetBook::LastSeqOf(const std::set<PartitionKey>& parts) const {
  return queue_.LastSeq([&](const Position& p) {
    return parts.contains(PartitionKey{p.topic, p.partition});
  });
}

size_t OffsetBook::Forget(const std::set<PartitionKey>& parts) {
  std::erase_if(ready_, [&](const auto& kv) { return parts.contains(kv.first); });
  return queue_.Drop([&](const Position& p) {
    return parts.contains(PartitionKey{p.topic, p.partition});
  });
}

}  // namespace pgcdc::detector::kafka_consumer
