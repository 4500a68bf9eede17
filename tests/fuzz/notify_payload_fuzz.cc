// libFuzzer target for the LISTEN/NOTIFY codec and the JSON helpers under it.
//
// Input: "<channel>\0<payload>"; without a NUL byte the whole input is the
// payload on a fixed channel. Invariants checked (abort on violation):
//  * the event envelope is valid JSON and already compact (Compact(x) == x);
//  * the payload is valid compact JSON;
//  * Compact on the raw payload is idempotent, leaves `out` untouched on
//    failure and agrees with MakeNotifyEvent about JSON-ness;
//  * json::AppendString output is a valid compact JSON string.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/event.h"
#include "core/json.h"
#include "detector/listennotify/notify_event.h"

namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "notify_payload_fuzz: invariant violated: %s\n", what);
    std::abort();
  }
}

// The envelope nests the payload one level deeper than MakeNotifyEvent's own
// limit allows, so validate it with a generous (non-recursive) depth cap.
constexpr int kDeep = 1 << 20;

void CheckCompactIdentity(std::string_view json, const char* what) {
  std::string out;
  auto r = pgcdc::json::Compact(json, out, {.find_key = {}, .max_depth = kDeep});
  Check(r.has_value(), what);
  Check(out == json, what);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string_view channel = "pgcdc:fuzz";
  std::string_view payload = input;
  if (const size_t nul = input.find('\0'); nul != std::string_view::npos) {
    channel = input.substr(0, nul);
    payload = input.substr(nul + 1);
  }

  const pgcdc::Event event =
      pgcdc::detector::listennotify::MakeNotifyEvent(channel, payload, 1750000000123456000);
  Check(!event.operation.empty(), "operation is non-empty");
  Check(event.channel == channel, "channel is kept verbatim");
  Check(event.source == "listen_notify", "source");
  CheckCompactIdentity(event.payload, "payload is valid compact JSON");
  CheckCompactIdentity(event.Json(), "envelope is valid compact JSON");
  Check(&event.Json() == &event.Json(), "envelope is cached");

  // Compact directly on the raw payload.
  std::string out = "prefix";
  auto r = pgcdc::json::Compact(payload, out, {.find_key = "op"});
  if (r.has_value()) {
    const std::string_view compacted = std::string_view(out).substr(6);
    Check(compacted == event.payload, "MakeNotifyEvent uses the compacted payload");
    CheckCompactIdentity(compacted, "Compact is idempotent");
    Check(compacted.size() <= payload.size() * 3, "compaction grows at most by U+FFFD repairs");
    const bool has_op = r->kind == pgcdc::json::Kind::kObject && r->found_string.has_value() &&
                        !r->found_string->empty();
    Check(has_op ? event.operation == *r->found_string : event.operation == "NOTIFY",
          "operation follows the op member");
    if (r->found_string.has_value()) {
      std::string quoted;
      pgcdc::json::AppendString(quoted, *r->found_string);
      CheckCompactIdentity(quoted, "decoded op re-encodes as a valid string");
    }
  } else {
    Check(out == "prefix", "output untouched on error");
    Check(r.error().message().starts_with("invalid JSON at offset "), "error message format");
    Check(event.operation == "NOTIFY", "non-JSON payload is a NOTIFY");
    std::string quoted;
    pgcdc::json::AppendString(quoted, payload);
    Check(quoted == event.payload, "non-JSON payload is carried as a JSON string");
  }

  std::string channel_json;
  pgcdc::json::AppendString(channel_json, channel);
  CheckCompactIdentity(channel_json, "AppendString output is a valid JSON string");
  return 0;
}
