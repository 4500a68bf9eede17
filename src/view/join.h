// Interval joins (SPEC §7.5): planning (PlanJoin, called by the parser) and
// the running state (JoinState, owned by the Engine).
//
// Semantics — SQL's inner join of the event stream with itself, restricted
// to pairs whose times are at most WITHIN apart:
//   left ⋈ right ON keys equal AND residual AND |t_left − t_right| ≤ WITHIN
// where left/right are the events passing each side's filter (an event may
// pass both: a self-join on one channel works, SPEC's quirk 43 fixed). A
// pair is emitted once, when its second event arrives (an event on both
// sides pairs with itself if the predicates allow, as in SQL).
//
// Time is the event time (EVENT TIME BY) or the processing time. Each side
// buffers its events per join key; an entry leaves the buffer when the
// watermark (newest event time − ALLOWED LATENESS, or the processing time)
// is more than WITHIN past it, since no event still accepted can match it.
// An event older than the watermark is late: counted, not joined. So the
// output is exactly the SQL join over the events that were not late.
// The buffers are capped at max_groups rows (both sides together): at the
// cap the oldest entry is evicted to make room, and counted (join_evicted).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/error.h"
#include "view/expr.h"
#include "view/query.h"

namespace pgcdc::view {

struct JoinItem {
  Expr expr;
  std::string name;  // empty: SPEC's default `<alias>_<last path segment>`
};

struct JoinSyntax {
  std::string left_alias;
  std::string right_alias;
  int position = 1;  // of the JOIN, for errors
  std::optional<Expr> on;
  std::optional<Expr> where;
  std::vector<JoinItem> items;
};

// Fills q.join and q.columns from the parsed pieces (fields still carry
// their alias as the first path element). Errors carry positions.
Status PlanJoin(JoinSyntax syntax, int64_t within_ns, Query& q);

struct JoinCounters {
  uint64_t late = 0;
  uint64_t evicted = 0;  // buffered rows evicted at the cap
};

class JoinState {
 public:
  JoinState(const Query& query, int64_t max_rows) : q_(query), max_rows_(max_rows) {}

  // Adds the event at time `t`, given the watermark before it (nullopt:
  // none yet). Returns false when no side takes the event; `late` when it
  // was older than the watermark. Pairs go to the rows TakeRows() returns,
  // unless `emit` is false (a replayed event whose pairs were delivered: it
  // is buffered, its pairs are not emitted again).
  // `seq` is the event's Event::seq (UINT64_MAX: untracked).
  bool Add(const EvalContext& ctx, int64_t t, std::optional<int64_t> watermark, uint64_t seq,
           bool emit, bool& late, JoinCounters& counters);
  // Drops entries that no event at or after `watermark` can match.
  void Expire(int64_t watermark);

  // The pairs so far; `min_seq` and `wm_before` of the oldest tracked event
  // in them (UINT64_MAX and INT64_MIN when none).
  struct Rows {
    std::vector<std::vector<Value>> rows;
    uint64_t min_seq = UINT64_MAX;
    int64_t wm_before = INT64_MIN;
  };
  Rows TakeRows() { return std::exchange(rows_, {}); }
  size_t size() const { return order_.size(); }
  // The oldest tracked Event::seq still buffered (UINT64_MAX: none).
  uint64_t OldestSeq() const { return seqs_.empty() ? UINT64_MAX : seqs_.begin()->first; }
  // The watermark before that event (INT64_MIN: none, or nothing buffered).
  int64_t OldestWatermark() const { return seqs_.empty() ? INT64_MIN : seqs_.begin()->second; }

 private:
  struct Entry {
    std::vector<Value> slots;
    uint64_t seq;
    int64_t wm_before;  // the watermark before the event (INT64_MIN: none)
  };
  using Bucket = std::multimap<int64_t, Entry>;  // by time
  struct Side {
    std::unordered_map<std::string, Bucket> by_key;
  };
  // Key text of the event on a side; nullopt when a key is NULL (never equal).
  std::optional<std::string> KeyOf(const std::vector<Expr>& keys, const EvalContext& ctx) const;
  void Probe(int side, const std::string& key, int64_t t, const Entry& arriving);
  void Insert(int side, const std::string& key, int64_t t, Entry entry, JoinCounters& counters);
  void Erase(std::multimap<int64_t, std::pair<int, std::string>>::iterator it);

  const Query& q_;
  int64_t max_rows_;
  Side sides_[2];
  // Every buffered entry by time (side, key): expiry and eviction order.
  std::multimap<int64_t, std::pair<int, std::string>> order_;
  Rows rows_;
  std::multimap<uint64_t, int64_t> seqs_;  // of the buffered entries: seq → wm_before
};

}  // namespace pgcdc::view
