// Rebuilding an Event from its stored envelope JSON (`pgcdc dlq replay`), and
// the small text parsers that needs: canonical UUIDs and RFC 3339 times.
// Pure functions, no I/O; safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "core/error.h"
#include "core/event.h"
#include "core/uuid.h"

namespace pgcdc::dlq {

// Parses the canonical 8-4-4-4-12 hex form (either case). Any UUID version.
Result<Uuid> ParseUuid(std::string_view text);

// Parses an RFC 3339 date-time ("2025-06-15T12:00:00.123456Z",
// "2025-06-15T14:00:00+02:00"; 't', 'z' and a space separator accepted, at
// most 9 fraction digits) to Unix nanoseconds (UTC). Years 1678..2261 (the
// int64 nanosecond range).
Result<int64_t> ParseRfc3339(std::string_view text);

// Returns a view of an equal string with process lifetime (Event::source must
// point to static storage). Thread-safe; each distinct text is stored once.
std::string_view InternSource(std::string_view source);

// Rebuilds an event from its envelope (SPEC §1: id, channel, operation,
// payload, source, created_at, optional transaction). The payload keeps its
// stored text (whitespace removed), so an envelope written by Event::Json()
// comes back byte-identical from Json(). lsn and seq are 0. Unknown keys are
// ignored; a missing or mistyped key is a kParse error naming it.
Result<Event> EventFromEnvelope(std::string_view envelope);

// The raw text of the value of top-level member `key` of a JSON object
// (the last one when repeated); nullopt when absent. `doc` must be valid JSON.
std::optional<std::string_view> RawMember(std::string_view doc, std::string_view key);

}  // namespace pgcdc::dlq
