// Conversion of one PostgreSQL NOTIFY message into a pgcdc Event (SPEC §1.5.1).
#pragma once

#include <cstdint>
#include <string_view>

#include "core/event.h"

namespace pgcdc::detector::listennotify {

// Builds the event for a notification on `channel` carrying `payload`:
//  * payload is a JSON object with a non-empty string member "op" (the first
//    top-level "op" member) -> operation = that value, payload = compact JSON;
//  * payload is any other JSON value -> operation "NOTIFY", payload = compact JSON;
//  * otherwise (not JSON, or nested deeper than json::CompactOptions::max_depth)
//    -> operation "NOTIFY", payload = the text as a JSON string.
// Invalid UTF-8 is replaced with U+FFFD. source is "listen_notify", the id a
// fresh UUIDv7 and created_at `now_ns`. Never fails.
Event MakeNotifyEvent(std::string_view channel, std::string_view payload, int64_t now_ns);

}  // namespace pgcdc::detector::listennotify
