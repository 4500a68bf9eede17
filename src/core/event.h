// Event: one change travelling through pgcdc (SPEC §1).
//
// An Event is created by a detector, then shared read-only between adapters
// inside an EventBatch. Its JSON encoding is produced at most once and cached
// (thread-safe); sinks write the cached bytes.
//
// Invariant: `payload` always holds valid, compact JSON text.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/uuid.h"

namespace pgcdc {

// The columns of the table a row event comes from (WAL row events): what
// schema-aware encoders (Avro, …) type the row images by. Shared by every
// event of the relation until its definition changes; immutable.
struct RowSchema {
  struct Column {
    std::string name;
    uint32_t type_oid = 0;
    bool key = false;  // part of the replica identity key
  };
  std::string namespace_name;  // PostgreSQL schema, e.g. "public"
  std::string table;
  std::vector<Column> columns;  // in table order
};

struct TransactionInfo {
  uint32_t xid = 0;
  int64_t commit_time_ns = 0;
  int64_t seq = 0;
};

class Event {
 public:
  Uuid id;
  std::string channel;
  std::string operation;
  std::string payload = "null";  // compact JSON text
  // The row's key, for sinks that key records (Kafka): for WAL row events the
  // replica identity key of the row — one column: its value as text (strings
  // unquoted); several: a compact JSON object {"column":value,...}. Empty when
  // the source has no key for the event. Not part of the envelope JSON.
  std::string key;
  // Points to static storage (a source name literal such as "listen_notify").
  std::string_view source;
  int64_t created_at_ns = 0;
  std::optional<TransactionInfo> transaction;
  uint64_t lsn = 0;  // 0 for non-WAL sources
  // WAL row events: the relation's columns (null for other events).
  std::shared_ptr<const RowSchema> schema;
  // Acknowledgement ordinal assigned by checkpointing detectors: strictly
  // increasing in publish order, 0 = not tracked. Adapters report the highest
  // seq they have finished with (see pipeline/ack_tracker.h).
  uint64_t seq = 0;
  // Set by the global transform chain for an event it dropped. The event
  // stays in its batch so adapters still acknowledge its `seq` (the source's
  // checkpoint moves past it), but no adapter delivers it.
  bool filtered = false;

  // The compact envelope JSON (no trailing newline), encoded on first use.
  // Safe to call concurrently from several threads. Callers must not modify
  // the event after the first call.
  const std::string& Json() const;

  // Drops the cached JSON after the event was changed (transforms change
  // `payload` on their own copy of an event). Not thread-safe: only for an
  // event no other thread can see.
  void InvalidateJson() { json_cache_.Reset(); }

 private:
  // The cached JSON: owned, published once with a CAS. A copied event starts
  // without one (the copy may be changed); a moved-from event hands it over.
  class JsonCache {
   public:
    JsonCache() = default;
    JsonCache(const JsonCache&) {}
    JsonCache& operator=(const JsonCache& other) {
      if (this != &other) Reset();
      return *this;
    }
    JsonCache(JsonCache&& other) noexcept : ptr(other.Release()) {}
    JsonCache& operator=(JsonCache&& other) noexcept {
      if (this != &other) delete ptr.exchange(other.Release(), std::memory_order_acq_rel);
      return *this;
    }
    ~JsonCache() { Reset(); }

    void Reset() { delete Release(); }
    std::string* Release() { return ptr.exchange(nullptr, std::memory_order_acq_rel); }

    std::atomic<std::string*> ptr{nullptr};
  };
  mutable JsonCache json_cache_;
};

// A new event with a fresh UUIDv7 id and created_at = now. `source` must
// point to static storage.
Event MakeEvent(std::string channel, std::string operation, std::string payload,
                std::string_view source);

// Encodes the envelope with keys in SPEC order: id, channel, operation,
// payload, source, created_at, transaction (omitted when absent).
void AppendEventJson(const Event& event, std::string& out);

struct EventBatch {
  std::vector<Event> events;
};
using BatchPtr = std::shared_ptr<const EventBatch>;

}  // namespace pgcdc
