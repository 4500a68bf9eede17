#include "adapter/pgwire/ring.h"

#include <algorithm>

namespace pgcdc::adapter::pgwire {

Row RowFromEvent(const Event& event) {
  return Row{.id = event.id.ToString(),
             .channel = event.channel,
             .operation = event.operation,
             .source = std::string(event.source),
             .payload = event.payload,
             .created_at_ns = event.created_at_ns,
             .lsn = event.lsn};
}

size_t Ring::Append(std::vector<Row> rows) {
  size_t overwritten = 0;
  {
    std::lock_guard lock(mu_);
    for (Row& r : rows) {
      auto [it, added] = channel_index_.try_emplace(r.channel, channels_.size());
      if (added) channels_.push_back({.channel = r.channel});
      ++channels_[it->second].events;
      r.position = next_;
      auto row = std::make_shared<const Row>(std::move(r));
      if (slots_.size() < capacity_) {
        slots_.push_back(std::move(row));
      } else {
        slots_[next_ % capacity_] = std::move(row);
        ++overwritten;
      }
      ++next_;
    }
  }
  if (listener_) listener_();
  return overwritten;
}

std::vector<RowPtr> Ring::Snapshot() const {
  uint64_t missed = 0;
  return ReadFrom(0, capacity_, missed);
}

std::vector<RowPtr> Ring::ReadFrom(uint64_t from, size_t max, uint64_t& missed) const {
  std::lock_guard lock(mu_);
  const uint64_t first = next_ - slots_.size();
  missed = from < first ? first - from : 0;
  const uint64_t start = std::max(from, first);
  std::vector<RowPtr> out;
  const uint64_t end = std::min<uint64_t>(next_, start + max);
  if (end > start) out.reserve(end - start);
  for (uint64_t p = start; p < end; ++p) out.push_back(slots_[p % capacity_]);
  return out;
}

uint64_t Ring::next() const {
  std::lock_guard lock(mu_);
  return next_;
}

std::vector<ChannelCount> Ring::Channels() const {
  std::lock_guard lock(mu_);
  return channels_;
}

RingStatus Ring::Status() const {
  std::lock_guard lock(mu_);
  return {.capacity = capacity_, .used = slots_.size(), .total = next_};
}

}  // namespace pgcdc::adapter::pgwire
