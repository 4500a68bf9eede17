// Engine: runs one view's plan over events (SPEC §7.3, §7.4) and yields the
// windows that closed. Single-threaded (the view adapter's worker); no I/O,
// no clock of its own: callers pass processing time in, so tests drive it.
//
// Time: with EVENT TIME BY the event's timestamp places it in windows and
// the watermark is max(event time) - ALLOWED LATENESS; without, the event
// time is the processing time passed in and the watermark is that time.
// Tumbling and sliding windows are aligned to the Unix epoch ([k*slide,
// k*slide+size)); a window closes once the watermark reaches its end, a
// session (per group key) once the watermark passes last event + gap. An
// event whose every window already closed is late: counted and skipped.
//
// State is bounded by `max_groups` live groups across all open windows and
// sessions; a new group beyond it is dropped and counted.
#pragma once

#include <boost/container/small_vector.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "core/uuid.h"
#include "view/expr.h"
#include "view/fields.h"
#include "view/hll.h"
#include "view/join.h"
#include "view/query.h"

namespace pgcdc::view {

struct EventView {
  std::string_view channel;
  std::string_view operation;
  std::string_view source;
  std::string_view payload;  // JSON text
  std::string_view id;       // for late-event reports only
  // The event's acknowledgement ordinal (Event::seq; 0 = not tracked): the
  // engine reports the oldest one its open state still depends on.
  uint64_t seq = 0;
  // The event's id (null: none). Interval joins recognise replayed events by
  // it when it is a source-position id (docs/events.md, "Event ids").
  const Uuid* uuid = nullptr;
};

constexpr uint64_t kNoSeq = UINT64_MAX;
// A watermark of "none yet" (restore no watermark).
constexpr int64_t kNoWatermark = INT64_MIN;

// What delivering a closed window's results settles for a restart
// (docs/views.md, "Restarts"): event-time sessions a replay must not rebuild,
// join events whose pairs a replay must not emit again.
struct Delivery {
  // Event-time sessions: group key (engine encoding) and last event time.
  std::vector<std::pair<std::string, int64_t>> sessions;
  // Interval joins: per id origin, the last source-position id processed
  // when the pairs were taken (every pair of an event up to it is in them).
  std::vector<Uuid> joined;
  void Add(const Delivery& other);
  bool empty() const { return sessions.empty() && joined.empty(); }
};

// What a view keeps across restarts (the view state file).
struct RestartState {
  // The watermark to resume from (nullopt: none).
  std::optional<int64_t> watermark_ns;
  // Event-time sessions: per group key (engine encoding), the last event time
  // of its last delivered session. Kept while a replay could bring that
  // session's events back without the watermark making them late.
  std::map<std::string, int64_t> sessions;
  // Interval joins: per id origin, the newest event whose pairs are delivered.
  std::vector<Uuid> joined;
  bool empty() const { return !watermark_ns && sessions.empty() && joined.empty(); }
};

// What Process() did with an event.
enum class Outcome {
  kAggregated,  // counted in at least one window or session
  kLate,        // every window it belongs to had closed (Counters::late)
  kSkipped,     // filtered by WHERE, over max_groups, or unreadable (counted)
};

struct EngineOptions {
  int64_t max_groups = 100000;
};

struct Counters {
  uint64_t events = 0;           // processed (matched WHERE and counted in a window)
  uint64_t late = 0;             // every window of the event had closed
  uint64_t type_errors = 0;      // non-numeric values in SUM/AVG/STDDEV, bad arithmetic
  uint64_t groups_overflow = 0;  // new groups dropped at max_groups
  uint64_t bad_event_time = 0;   // EVENT TIME BY field missing or unparsable
  uint64_t bad_payload = 0;      // payload is not JSON
  uint64_t join_evicted = 0;     // interval joins: buffered rows evicted at max_groups
};

// One closed window: its rows (columns in SELECT order) after HAVING.
struct WindowResult {
  int64_t start_ns = 0;
  int64_t end_ns = 0;
  uint64_t min_seq = kNoSeq;  // oldest tracked event counted in it
  std::vector<std::vector<Value>> rows;
  // Sessions and joins: the watermark just before its oldest tracked event
  // (kNoWatermark: there was none). A replay resumed from it decides lateness
  // exactly as the first run did from that event on.
  int64_t restore_ns = kNoWatermark;
  Delivery delivery;  // what its delivery settles (checkpointing)
};

class Engine {
 public:
  Engine(std::shared_ptr<const Query> query, EngineOptions options);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  Outcome Process(const EventView& event, int64_t now_ns);
  // The windows the watermark (now, for processing time) has closed, oldest first.
  std::vector<WindowResult> Advance(int64_t now_ns);
  // Every open window and session, closed now (shutdown).
  std::vector<WindowResult> FlushAll();

  const Counters& counters() const { return counters_; }
  // Checkpointing (docs/views.md): the oldest Event::seq that open windows,
  // sessions or join buffers hold (kNoSeq: none). Events from it on must be
  // replayed after a restart to rebuild the open state.
  uint64_t OldestSeq() const;
  // What to save for a restart (docs/views.md, "Restarts"), given `cap`: the
  // lowest restore point of closed windows whose results are not yet
  // delivered (WindowResult::restore_ns, or end − 1 for tumbling and sliding
  // windows; INT64_MAX: none). The watermark: replayed events of windows it
  // has closed are skipped as late, those of windows still open (or not yet
  // delivered) counted again; event time only (processing time restarts
  // with the clock). Prunes the delivered sessions it no longer needs.
  RestartState Checkpoint(int64_t cap);
  void Restore(const RestartState& state);
  // Results of windows closed earlier are delivered: a replay skips their
  // sessions' events and does not emit their pairs again. Call only when
  // Checkpoint() runs too (it prunes what this records).
  void Delivered(const Delivery& delivery);
  // Live groups; for an interval join, buffered rows (both sides).
  size_t groups() const { return join_ ? join_->size() : live_groups_; }
  const Query& query() const { return *query_; }

  // One aggregate's running state; mergeable (sessions merge).
  struct Acc {
    int64_t count = 0;  // non-null values (COUNT)
    int64_t n = 0;      // numeric values (SUM/AVG/STDDEV)
    double sum = 0;
    int64_t isum = 0;
    bool ints = true;  // every numeric value was an integer and isum did not overflow
    double mean = 0;   // Welford (STDDEV only)
    double m2 = 0;
    Value best;  // MIN or MAX so far
    // COUNT(DISTINCT) and approx_count_distinct, allocated on their first value.
    std::unique_ptr<std::unordered_set<std::string>> distinct;
    std::unique_ptr<Hll> approx;
  };
  struct Group {
    std::vector<Value> keys;
    // In place for up to two aggregates (no allocation of its own).
    boost::container::small_vector<Acc, 2> accs;
    // Session bounds (event times).
    int64_t first = 0;
    int64_t last = 0;
    uint64_t min_seq = kNoSeq;         // sessions: oldest tracked event
    int64_t wm_before = kNoWatermark;  // sessions: the watermark before that event
  };

 private:
  struct Window {
    int64_t start = 0;
    int64_t end = 0;
    uint64_t min_seq = kNoSeq;
    std::unordered_map<std::string, Group> groups;
  };
  bool EventTime(const EvalContext& ctx, int64_t now_ns, int64_t& t);
  bool Matches(const EvalContext& ctx) const;  // WHERE is TRUE
  Outcome ProcessIn(const EvalContext& ctx, int64_t now_ns);
  void EvalKey(const EvalContext& ctx);  // key_ and key_refs_ of the event
  bool Admit();                          // room for one more group (max_groups)
  void InitGroup(Group& g) const;        // keys from key_refs_, empty accumulators
  Group* FindOrAdd(std::unordered_map<std::string, Group>& groups);
  void Accumulate(Group& g, const EvalContext& ctx);
  bool AddToWindows(int64_t t, const EvalContext& ctx);
  bool AddToSession(int64_t t, const EvalContext& ctx);
  WindowResult Close(int64_t start, int64_t end, const std::vector<const Group*>& groups);
  std::vector<WindowResult> CloseUpTo(int64_t watermark, bool all);
  Outcome ProcessJoin(const EvalContext& ctx, int64_t t);
  // The watermark a restart resumes from, before pending caps (nullopt: none).
  std::optional<int64_t> RestorePoint() const;
  std::vector<WindowResult> JoinRows();

  std::shared_ptr<const Query> query_;
  EngineOptions options_;
  Counters counters_;
  size_t live_groups_ = 0;
  bool have_watermark_ = false;
  int64_t watermark_ = 0;
  std::map<int64_t, Window> windows_;  // tumbling and sliding, by start
  std::unordered_map<std::string, std::vector<Group>> sessions_;
  std::unique_ptr<JoinState> join_;  // interval joins only
  uint64_t seq_ = kNoSeq;            // of the event being processed (kNoSeq: untracked)
  const Uuid* uuid_ = nullptr;       // of the event being processed
  // Event-time sessions: group key → last event time of its last delivered
  // session (RestartState::sessions); events of the key up to it are late.
  std::unordered_map<std::string, int64_t> delivered_sessions_;
  // Interval joins, per id origin: the newest id whose pairs are delivered
  // (a replayed event up to it pairs silently), and the newest id processed.
  std::vector<Uuid> joined_delivered_;
  std::vector<Uuid> joined_seen_;
  FieldExtractor extractor_;  // the payload fields the query reads
  // The event's group key (type tag and text of each GROUP BY value) and
  // its values; reused from event to event.
  std::string key_;
  std::vector<Value> key_scratch_;      // computed key values
  std::vector<const Value*> key_refs_;  // each key value (into fields or key_scratch_)
  Value scratch_;                       // an aggregate's computed argument
};

// SPEC §7.6 payloads: one row {<columns…>, "_window": {start, end}}, or a
// batch {"_window": {...}, "rows": [...]} of a whole window. Interval joins
// (SPEC §7.5) yield one WindowResult of pairs (start = end = 0) per
// Advance(); their rows have no "_window" and are always one per event.
std::string RowJson(const Query& query, const WindowResult& window, size_t row);
std::string BatchJson(const Query& query, const WindowResult& window);
// The payload of a late-event report on pgcdc:_view:<name>:late: the event
// as it arrived, {"id", "channel", "operation", "payload"}. `event.payload`
// must be JSON (Process() only reports late events whose payload parsed).
std::string LateJson(const EventView& event);

// RFC 3339 ("2025-06-15T12:00:00Z", "…+02:00") and PostgreSQL's text form
// ("2025-06-15 12:00:00.5+00"); no offset = UTC. Unix nanoseconds.
std::optional<int64_t> ParseTimestamp(std::string_view text);

}  // namespace pgcdc::view
