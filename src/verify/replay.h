// Replay: the latest state a sink holds for one table, rebuilt from its
// events in the order the sink keeps them. Per primary key the last
// operation wins — INSERT/UPDATE/SNAPSHOT put the row, DELETE removes it,
// TRUNCATE removes every row — and what stays is one 64-bit hash of the
// row's canonical JSON (canonical.h) in a KeyTable.
//
// An UPDATE whose payload lists `_unchanged_toast_columns` (the WAL source
// without --toast-cache) does not carry those values: the key keeps a mask of
// them and they are left out of its comparison until a later full image.
//
// Order check (ReplayOptions::check_order): WAL event ids encode the commit
// LSN and the change's ordinal (docs/events.md, "Event ids"), so each key's
// events must come in increasing (LSN, ordinal). An event with an id seen
// before is a duplicate (at-least-once redelivery), not a violation; an id
// that is new and older than the key's newest is a violation. Events whose
// ids are not WAL ids (UUIDv7: snapshots, NOTIFY) have no position and are
// only counted.
//
// Records that cannot be read (bad JSON, unknown shape, a row without its
// key) are counted with a few examples; they never stop the replay.
//
// Threading: one thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/uuid.h"
#include "verify/canonical.h"
#include "verify/json_tree.h"
#include "verify/key_table.h"
#include "verify/sink_event.h"

namespace pgcdc::verify {

struct ReplayOptions {
  bool check_order = false;
  size_t max_examples = 10;
};

// One problem found while reading the sink, for the report.
struct Finding {
  std::string where;   // "out.jsonl:12", "partition 0 offset 7", "id 0193…"
  std::string detail;  // what is wrong
};

struct ReplayStats {
  uint64_t records = 0;         // documents handed to Add
  uint64_t row_events = 0;      // events applied to the state
  uint64_t other_tables = 0;    // row events of other tables or channels
  uint64_t non_row_events = 0;  // markers, messages, NOTIFY, …
  uint64_t truncates = 0;
  uint64_t unreadable = 0;    // bad JSON or unrecognised shape
  uint64_t keyless = 0;       // row events whose row lacks a key column
  uint64_t toast_masked = 0;  // keys compared without unchanged TOAST columns (at the end)
  std::vector<Finding> unreadable_examples;
  std::vector<Finding> keyless_examples;
  // Order check.
  uint64_t ordered_events = 0;       // events with a WAL position
  uint64_t unpositioned_events = 0;  // events without one
  uint64_t duplicates = 0;
  uint64_t order_violations = 0;
  std::vector<Finding> order_examples;
};

// Commit LSN >> 4 and ordinal of a WAL event id (UUID version 8), or false.
bool DecodeWalPosition(const Uuid& id, uint64_t& position, uint32_t& ordinal);

class Replay {
 public:
  using State = KeyTable;

  Replay(const RowShape& shape, TableMatch match, ReplayOptions options);

  // Applies one record. `where` locates it for the report.
  void Add(std::string_view document, const Hints& hints, const Location& where);

  const ReplayStats& stats() const { return stats_; }
  // The state; the diff marks the keys it meets.
  State& state() { return state_; }
  // Counts the masked keys into stats (call once, before the diff).
  void Finish();

  // Keeps the final canonical rows of these keys (for a report's examples;
  // set before the first Add).
  void Capture(std::unordered_set<std::string> keys) { capture_ = std::move(keys); }
  const std::unordered_map<std::string, std::string>& captured() const { return captured_; }

 private:
  void Apply(const SinkEvent& e, const Location& where);
  void Put(const SinkEvent& e, const std::string& key, const Location& where);
  void CheckOrder(const SinkEvent& e, KeyState& s, std::string_view key, const Location& where);
  void Note(std::vector<Finding>& examples, const Location& where, std::string detail);
  uint64_t ToastMask(const SinkEvent& e) const;

  const RowShape& shape_;
  TableMatch match_;
  ReplayOptions options_;
  JsonTree tree_;
  std::string scratch_;
  State state_;
  struct UuidHash {
    size_t operator()(const Uuid& u) const;
  };
  std::unordered_set<Uuid, UuidHash> seen_ids_;  // order check only
  ReplayStats stats_;
  std::unordered_set<std::string> capture_;
  std::unordered_map<std::string, std::string> captured_;
};

}  // namespace pgcdc::verify
