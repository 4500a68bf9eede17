#include "detector/listennotify/notify_event.h"

#include <string>
#include <utility>

#include "core/json.h"
#include "core/uuid.h"

namespace pgcdc::detector::listennotify {

namespace {
constexpr std::string_view kSource = "listen_notify";
constexpr std::string_view kNotifyOperation = "NOTIFY";
constexpr std::string_view kOpKey = "op";
}  // namespace

Event MakeNotifyEvent(std::string_view channel, std::string_view payload, int64_t now_ns) {
  Event event;
  event.id = NewUuidV7();
  event.channel.assign(channel);
  event.source = kSource;
  event.created_at_ns = now_ns;

  std::string body;
  json::CompactOptions options;
  options.find_key = kOpKey;
  auto info = json::Compact(payload, body, options);
  if (info.has_value()) {
    if (info->kind == json::Kind::kObject && info->found_string.has_value() &&
        !info->found_string->empty()) {
      event.operation = std::move(*info->found_string);
    } else {
      event.operation = kNotifyOperation;
    }
  } else {
    // Not JSON: Compact left `body` untouched (empty); carry the text as a string.
    event.operation = kNotifyOperation;
    json::AppendString(body, payload);
  }
  event.payload = std::move(body);
  return event;
}

}  // namespace pgcdc::detector::listennotify
