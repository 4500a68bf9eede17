#include "adapter/arrow/store.h"

namespace pgcdc::adapter::arrow {

EntryPtr MakeEntry(const Event& event) {
  auto e = std::make_shared<Entry>();
  e->id = event.id.ToString();
  e->channel = event.channel;
  e->operation = event.operation;
  e->payload = event.payload;
  e->source = event.source;
  e->created_at_ns = event.created_at_ns;
  e->schema = event.schema;
  return e;
}

size_t Store::Append(EntryPtr entry) {
  std::lock_guard lock(mu_);
  auto it = rings_.find(entry->channel);
  if (it == rings_.end()) it = rings_.emplace(entry->channel, Ring{}).first;
  Ring& ring = it->second;
  size_t overwritten = 0;
  if (ring.slots.size() < capacity_) {
    ring.slots.push_back(std::move(entry));
    ++total_;
  } else {
    ring.slots[ring.next % capacity_] = std::move(entry);
    ++ring.first;
    overwritten = 1;
  }
  ++ring.next;
  return overwritten;
}

ChannelState Store::StateOf(const std::string& name, const Ring& ring) const {
  ChannelState s{.channel = name, .first = ring.first, .next = ring.next};
  if (ring.next > ring.first) s.oldest = ring.slots[ring.first % capacity_];
  return s;
}

std::vector<ChannelState> Store::Channels() const {
  std::lock_guard lock(mu_);
  std::vector<ChannelState> out;
  out.reserve(rings_.size());
  for (const auto& [name, ring] : rings_) out.push_back(StateOf(name, ring));
  return out;
}

ChannelState Store::Channel(std::string_view channel) const {
  std::lock_guard lock(mu_);
  auto it = rings_.find(channel);
  if (it == rings_.end()) return {.channel = std::string(channel)};
  return StateOf(it->first, it->second);
}

Result<Slice> Store::Read(std::string_view channel, std::optional<uint64_t> from,
                          size_t max) const {
  std::lock_guard lock(mu_);
  auto it = rings_.find(channel);
  const uint64_t first = it == rings_.end() ? 0 : it->second.first;
  const uint64_t next = it == rings_.end() ? 0 : it->second.next;
  const uint64_t offset = from.value_or(first);
  const std::string where = "channel " + std::string(channel) + " holds offsets [" +
                            std::to_string(first) + ", " + std::to_string(next) + ")";
  if (offset < first) {
    return Fail(ErrorCode::kNotFound,
                "offset " + std::to_string(offset) + " is no longer buffered (" + where +
                    "; --arrow-buffer-size " + std::to_string(capacity_) +
                    "): the oldest available offset is " + std::to_string(first));
  }
  if (offset > next) {
    return Fail(ErrorCode::kNotFound,
                "offset " + std::to_string(offset) + " is past the newest event (" + where + ")");
  }
  Slice slice{.first = offset};
  const uint64_t end = std::min<uint64_t>(next, offset + max);
  slice.entries.reserve(end - offset);
  for (uint64_t o = offset; o < end; ++o) slice.entries.push_back(it->second.slots[o % capacity_]);
  return slice;
}

size_t Store::channel_count() const {
  std::lock_guard lock(mu_);
  return rings_.size();
}

size_t Store::total() const {
  std::lock_guard lock(mu_);
  return total_;
}

}  // namespace pgcdc::adapter::arrow
