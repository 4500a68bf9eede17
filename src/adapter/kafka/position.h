// Exactly-once bookkeeping of the kafka sink (pure; unit tested): which
// events carry a replay-stable position, how positions compare, and the
// value of the record that commits a position inside a Kafka transaction.
//
// Position = the event id when it is a position id (UUID version 8, RFC 9562
// variant: WAL changes, core/uuid.h MakePositionUuid): ids of one origin
// (database + publication) sort in commit order, then change order, and a
// change redelivered after a restart carries the same id. Events of other
// sources (v7 ids) have no position and are never skipped (at-least-once).
//
// The committed position lives in a compacted topic (kafka.offsets_topic),
// keyed by the transactional id, value:
//   {"transactional_id":"…","event_id":"<uuid>","lsn":"0/16B3748","seq":N,
//    "committed_at":"<RFC 3339>"}
// Only event_id is read back; the rest is for operators.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/event.h"
#include "core/uuid.h"

namespace pgcdc::adapter::kafka {

// A replay-stable position id: version 8 with the RFC 9562 variant.
bool IsPositionId(const Uuid& id);
// The 30-bit origin of a position id.
uint32_t OriginOf(const Uuid& id);
// True when `id` is a position id at or before `committed` (same origin).
bool AtOrBefore(const Uuid& id, const Uuid& committed);

// The offsets record value for `last` (the last event of a transaction).
std::string EncodeCommitted(std::string_view transactional_id, const Event& last, int64_t now_ns);
// The committed event id from an offsets record value; nullopt when the value
// is not one (or its id is not a position id).
std::optional<Uuid> DecodeCommitted(std::string_view value);

}  // namespace pgcdc::adapter::kafka
