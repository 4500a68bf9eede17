#include "core/event.h"

#include "core/json.h"
#include "core/time.h"
#include "core/uuid.h"

namespace pgcdc {

const std::string& Event::Json() const {
  std::string* cached = json_cache_.ptr.load(std::memory_order_acquire);
  if (cached != nullptr) return *cached;
  auto fresh = std::make_unique<std::string>();
  fresh->reserve(160 + channel.size() + payload.size());
  AppendEventJson(*this, *fresh);
  std::string* expected = nullptr;
  if (json_cache_.ptr.compare_exchange_strong(expected, fresh.get(), std::memory_order_acq_rel)) {
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
