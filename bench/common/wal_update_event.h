// The event the transform benchmarks run on: a typical WAL UPDATE of an
// `orders` row (a 550-byte envelope).
#pragma once

#include "core/event.h"

namespace pgcdc::bench {

inline Event WalUpdateEvent() {
  return MakeEvent("pgcdc:orders", "UPDATE",
                   R"({"old":{"id":"42","customer_id":"1001","email":"ann@example.com",)"
                   R"("status":"paid","total":"129.50","currency":"EUR",)"
                   R"("created_at":"2025-06-15 12:00:00.123456+00","note":null},"op":"UPDATE",)"
                   R"("row":{"id":"42","customer_id":"1001","email":"ann@example.com",)"
                   R"("status":"shipped","total":"129.50","currency":"EUR",)"
                   R"("created_at":"2025-06-15 12:00:00.123456+00","note":null},"table":"orders"})",
                   "wal_replication");
}

}  // namespace pgcdc::bench
