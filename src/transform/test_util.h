// Shared fixtures for the transform unit tests.
#pragma once

#include <string>

#include "core/event.h"
#include "core/uuid.h"

namespace pgcdc::transform::fixtures {

// 2025-06-15T12:00:00.123456789Z
inline constexpr int64_t kCreatedAt = 1749988800123456789;
// 2025-06-15T11:59:59.5Z
inline constexpr int64_t kCommitTime = 1749988799500000000;

// WAL / snapshot style (record-derived) and the trigger format of LISTEN/NOTIFY.
inline constexpr const char* kWalUpdate =
    R"({"old":{"id":"1","email":"a@x.io","status":"new","amount":"12.50"},"op":"UPDATE",)"
    R"("row":{"id":"1","email":"b@x.io","status":"shipped","amount":"12.50"},"table":"orders"})";
inline constexpr const char* kTrigger =
    R"({"op":"UPDATE","table":"orders","row":{"id":1,"email":"b@x.io","amount":12.50},)"
    R"("old":{"id":1,"email":"a@x.io","amount":12.50}})";
inline constexpr const char* kFreeForm = R"({"id":7,"email":"c@x.io","nested":{"k":[1,2]}})";
inline constexpr const char* kNonObject = R"(["email",1,2])";

inline Event TestEvent(std::string operation, std::string payload,
                       std::string channel = "pgcdc:orders",
                       std::string_view source = "wal_replication") {
  Event e;
  e.id = MakeUuidV7(1749988800123, 0x123, 0x0123456789abcdefULL);
  e.channel = std::move(channel);
  e.operation = std::move(operation);
  e.payload = std::move(payload);
  e.source = source;
  e.created_at_ns = kCreatedAt;
  return e;
}

}  // namespace pgcdc::transform::fixtures
