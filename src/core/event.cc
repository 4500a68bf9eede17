#include "core/event.h"

#include "core/json.h"
#include "core/time.h"
#include "core/uuid.h"

namespace pgcdc {

Event::Event(const Event& other)
    : id(other.id),
      channel(other.channel),
      operation(other.operation),
      payload(other.payload),
      key(other.key),
      source(other.source),
      created_at_ns(other.created_at_ns),
      transaction(other.transaction),
      lsn(other.lsn),
      seq(other.seq),
      filtered(other.filtered) {}

Event& Event::operator=(const Event& other) {
  if (this != &other) {
    id = other.id;
    channel = other.channel;
    operation = other.operation;
    payload = other.payload;
    key = other.key;
    source = other.source;
    created_at_ns = other.created_at_ns;
    transaction = other.transaction;
    lsn = other.lsn;
    seq = other.seq;
    filtered = other.filtered;
    ResetCache();
  }
  return *this;
}

Event::Event(Event&& other) noexcept
    : id(other.id),
      channel(std::move(other.channel)),
      operation(std::move(other.operation)),
      payload(std::move(other.payload)),
      key(std::move(other.key)),
      source(other.source),
      created_at_ns(other.created_at_ns),
      transaction(other.transaction),
      lsn(other.lsn),
      seq(other.seq),
      filtered(other.filtered),
      json_cache_(other.json_cache_.exchange(nullptr, std::memory_order_acq_rel)) {}

Event& Event::operator=(Event&& other) noexcept {
  if (this != &other) {
    id = other.id;
    channel = std::move(other.channel);
    operation = std::move(other.operation);
    payload = std::move(other.payload);
    key = std::move(other.key);
    source = other.source;
    created_at_ns = other.created_at_ns;
    transaction = other.transaction;
    lsn = other.lsn;
    seq = other.seq;
    filtered = other.filtered;
    delete json_cache_.exchange(other.json_cache_.exchange(nullptr, std::memory_order_acq_rel),
                                std::memory_order_acq_rel);
  }
  return *this;
}

Event::~Event() { ResetCache(); }

void Event::ResetCache() { delete json_cache_.exchange(nullptr, std::memory_order_acq_rel); }

const std::string& Event::Json() const {
  std::string* cached = json_cache_.load(std::memory_order_acquire);
  if (cached != nullptr) return *cached;
  auto fresh = std::make_unique<std::string>();
  fresh->reserve(160 + channel.size() + payload.size());
  AppendEventJson(*this, *fresh);
  std::string* expected = nullptr;
  if (json_cache_.compare_exchange_strong(expected, fresh.get(), std::memory_order_acq_rel)) {
    return *fresh.release();
  }
  return *expected;  // another thread won the race; ours is discarded
}

Event MakeEvent(std::string channel, std::string operation, std::string payload,
                std::string_view source) {
  Event e;
  e.created_at_ns = NowUnixNanos();
  e.id = NewUuidV7At(static_cast<uint64_t>(e.created_at_ns / 1'000'000));
  e.channel = std::move(channel);
  e.operation = std::move(operation);
  e.payload = std::move(payload);
  e.source = source;
  return e;
}

void AppendEventJson(const Event& event, std::string& out) {
  out.append("{\"id\":\"");
  event.id.AppendTo(out);
  out.append("\",\"channel\":");
  json::AppendString(out, event.channel);
  out.append(",\"operation\":");
  json::AppendString(out, event.operation);
  out.append(",\"payload\":");
  out.append(event.payload);
  out.append(",\"source\":");
  json::AppendString(out, event.source);
  out.append(",\"created_at\":\"");
  AppendRfc3339Nano(event.created_at_ns, out);
  out.push_back('"');
  if (event.transaction) {
    out.append(",\"transaction\":{\"xid\":");
    out.append(std::to_string(event.transaction->xid));
    out.append(",\"commit_time\":\"");
    AppendRfc3339Nano(event.transaction->commit_time_ns, out);
    out.append("\",\"seq\":");
    out.append(std::to_string(event.transaction->seq));
    out.push_back('}');
  }
  out.push_back('}');
}

}  // namespace pgcdc
