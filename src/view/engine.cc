#include "view/engine.h"

#include <algorithm>
#include <boost/json/value.hpp>
#include <cmath>

#include "core/json.h"
#include "core/json_dom.h"
#include "core/time.h"
#include "view/hll.h"

namespace pgcdc::view {

namespace {

bool NeedsNumber(AggFn fn) {
  return fn == AggFn::kSum || fn == AggFn::kAvg || fn == AggFn::kStddevPop ||
         fn == AggFn::kStddevSamp;
}

bool IsStddev(AggFn fn) { return fn == AggFn::kStddevPop || fn == AggFn::kStddevSamp; }

void AddNumber(Engine::Acc& a, const Value& v, double d, bool welford) {
  ++a.n;
  a.sum += d;
  const auto* i = std::get_if<int64_t>(&v.v);
  if (i == nullptr || __builtin_add_overflow(a.isum, *i, &a.isum)) a.ints = false;
  if (!welford) return;
  const double delta = d - a.mean;
  a.mean += delta / static_cast<double>(a.n);
  a.m2 += delta * (d - a.mean);
}

void Merge(const Aggregate& agg, Engine::Acc& a, const Engine::Acc& b) {
  if (b.n > 0 && IsStddev(agg.fn)) {
    const double n = static_cast<double>(a.n + b.n);
    const double delta = b.mean - a.mean;
    a.m2 += b.m2 + delta * delta * static_cast<double>(a.n) * static_cast<double>(b.n) / n;
    a.mean += delta * static_cast<double>(b.n) / n;
  }
  a.count += b.count;
  a.n += b.n;
  a.sum += b.sum;
  a.ints = a.ints && b.ints && !__builtin_add_overflow(a.isum, b.isum, &a.isum);
  if (!b.best.is_null() &&
      (a.best.is_null() ||
       (agg.fn == AggFn::kMin ? Compare(b.best, a.best) < 0 : Compare(b.best, a.best) > 0))) {
    a.best = b.best;
  }
  if (b.distinct) {
    if (!a.distinct) a.distinct = std::make_unique<std::unordered_set<std::string>>();
    a.distinct->insert(b.distinct->begin(), b.distinct->end());
  }
  if (b.approx) {
    if (!a.approx) a.approx = std::make_unique<Hll>();
    a.approx->Merge(*b.approx);
  }
}

Value Final(const Aggregate& agg, const Engine::Acc& a) {
  switch (agg.fn) {
    case AggFn::kCount:
      if (!agg.distinct) return {a.count};
      return {static_cast<int64_t>(a.distinct ? a.distinct->size() : 0)};
    case AggFn::kSum:
      if (a.n == 0) return {};
      return a.ints ? Value{a.isum} : Value{a.sum};
    case AggFn::kAvg:
      return a.n == 0 ? Value{} : Value{a.sum / static_cast<double>(a.n)};
    case AggFn::kMin:
    case AggFn::kMax:
      return a.best;
    case AggFn::kStddevPop:
      return a.n == 0 ? Value{} : Value{std::sqrt(a.m2 / static_cast<double>(a.n))};
    case AggFn::kStddevSamp:
      return a.n < 2 ? Value{} : Value{std::sqrt(a.m2 / static_cast<double>(a.n - 1))};
    case AggFn::kApproxCountDistinct:
      return {static_cast<int64_t>(a.approx ? a.approx->Estimate() : 0)};
  }
  return {};
}

// One group key value: its type tag and text, NUL-ended (NULL differs from "<nil>").
void AppendKey(std::string& out, const Value& k) {
  out += static_cast<char>('0' + k.v.index());
  AppendText(out, k);
  out += '\0';
}

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// Source-position ids (UUID version 8, docs/events.md "Event ids") of one
// origin sort in source order, which a replay repeats.
bool IsPositionId(const Uuid& id) { return (id.bytes[6] >> 4) == 8; }

uint32_t Origin(const Uuid& id) {
  return ((uint32_t{id.bytes[12]} << 24) | (uint32_t{id.bytes[13]} << 16) |
          (uint32_t{id.bytes[14]} << 8) | id.bytes[15]) &
         0x3FFFFFFF;
}

// The entry of `id`'s origin in a per-origin list (nullptr: none).
Uuid* OfOrigin(std::vector<Uuid>& list, const Uuid& id) {
  for (auto& u : list) {
    if (Origin(u) == Origin(id)) return &u;
  }
  return nullptr;
}

// Keeps the newest id per origin.
void Newest(std::vector<Uuid>& list, const Uuid& id) {
  if (Uuid* u = OfOrigin(list, id)) {
    *u = std::max(*u, id);
  } else {
    list.push_back(id);
  }
}

}  // namespace

void Delivery::Add(const Delivery& other) {
  sessions.insert(sessions.end(), other.sessions.begin(), other.sessions.end());
  for (const Uuid& id : other.joined) Newest(joined, id);
}

Engine::Engine(std::shared_ptr<const Query> query, EngineOptions options)
    : query_(std::move(query)),
      options_(options),
      extractor_(query_->fields),
      key_scratch_(query_->group_by.size()),
      key_refs_(query_->group_by.size()) {
  if (query_->join) join_ = std::make_unique<JoinState>(*query_, options_.max_groups);
}

Engine::~Engine() = default;

bool Engine::EventTime(const EvalContext& ctx, int64_t now_ns, int64_t& t) {
  if (query_->event_time.empty()) {
    t = now_ns;
    return true;
  }
  const Value v = ResolveField(query_->event_time, query_->event_time_field, ctx);
  const auto* s = std::get_if<std::string>(&v.v);
  std::optional<int64_t> parsed = s != nullptr ? ParseTimestamp(*s) : std::nullopt;
  if (!parsed) {
    ++counters_.bad_event_time;
    return false;
  }
  t = *parsed;
  return true;
}

void Engine::EvalKey(const EvalContext& ctx) {
  key_.clear();
  for (size_t i = 0; i < query_->group_by.size(); ++i) {
    const Value& v = EvalRef(query_->group_by[i], ctx, key_scratch_[i]);
    key_refs_[i] = &v;
    AppendKey(key_, v);
  }
}

bool Engine::Admit() {
  if (static_cast<int64_t>(live_groups_) >= options_.max_groups) {
    ++counters_.groups_overflow;
    return false;
  }
  ++live_groups_;
  return true;
}

void Engine::InitGroup(Group& g) const {
  g.keys.reserve(key_refs_.size());
  for (const Value* k : key_refs_) g.keys.push_back(*k);
  g.accs.resize(query_->aggregates.size());
}

Engine::Group* Engine::FindOrAdd(std::unordered_map<std::string, Group>& groups) {
  auto it = groups.find(key_);
  if (it != groups.end()) return &it->second;
  if (!Admit()) return nullptr;
  Group& g = groups[key_];
  InitGroup(g);
  return &g;
}

void Engine::Accumulate(Group& g, const EvalContext& ctx) {
  for (size_t i = 0; i < query_->aggregates.size(); ++i) {
    const Aggregate& agg = query_->aggregates[i];
    Acc& a = g.accs[i];
    if (agg.star) {
      ++a.count;
      continue;
    }
    const Value& v = EvalRef(agg.arg, ctx, scratch_);
    if (v.is_null()) continue;
    ++a.count;
    if (agg.distinct) {
      if (!a.distinct) a.distinct = std::make_unique<std::unordered_set<std::string>>();
      a.distinct->insert(ToText(v));
    } else if (agg.fn == AggFn::kApproxCountDistinct) {
      if (!a.approx) a.approx = std::make_unique<Hll>();
      a.approx->Add(ToText(v));
    } else if (NeedsNumber(agg.fn)) {
      if (auto d = ToNumber(v)) {
        AddNumber(a, v, *d, IsStddev(agg.fn));
      } else {
        ++counters_.type_errors;
      }
    } else if ((agg.fn == AggFn::kMin || agg.fn == AggFn::kMax) &&
               (a.best.is_null() ||
                (agg.fn == AggFn::kMin ? Compare(v, a.best) < 0 : Compare(v, a.best) > 0))) {
      a.best = v;
    }
  }
}

bool Engine::AddToWindows(int64_t t, const EvalContext& ctx) {
  const int64_t size = query_->window.size_ns;
  const int64_t slide =
      query_->window.kind == WindowKind::kSliding ? query_->window.slide_ns : size;
  bool added = false;
  bool open = false;
  for (int64_t start = FloorDiv(t, slide) * slide; start + size > t; start -= slide) {
    if (have_watermark_ && start + size <= watermark_) break;  // closed: older ones too
    open = true;
    Window& win = windows_[start];
    win.start = start;
    win.end = start + size;
    Group* g = FindOrAdd(win.groups);
    if (g == nullptr) continue;
    Accumulate(*g, ctx);
    win.min_seq = std::min(win.min_seq, seq_);
    added = true;
  }
  if (!open) ++counters_.late;
  return added;
}

bool Engine::AddToSession(int64_t t, const EvalContext& ctx) {
  const int64_t gap = query_->window.size_ns;
  if (have_watermark_ && t + gap <= watermark_) {
    ++counters_.late;
    return false;
  }
  // A replayed event of a session whose results were delivered (events of
  // the key up to that session's end that are not in it were late anyway).
  if (!delivered_sessions_.empty()) {
    auto done = delivered_sessions_.find(key_);
    if (done != delivered_sessions_.end() && t <= done->second) {
      ++counters_.late;
      return false;
    }
  }
  if (!Admit()) return false;
  std::vector<Group>& list = sessions_[key_];
  Group merged;
  InitGroup(merged);
  merged.first = merged.last = t;
  merged.min_seq = seq_;
  merged.wm_before = have_watermark_ ? watermark_ : kNoWatermark;
  Accumulate(merged, ctx);
  // Absorb every session within `gap` of the new one (it may bridge several).
  for (auto it = list.begin(); it != list.end();) {
    if (t + gap >= it->first && t <= it->last + gap) {
      for (size_t i = 0; i < merged.accs.size(); ++i) {
        Merge(query_->aggregates[i], merged.accs[i], it->accs[i]);
      }
      merged.first = std::min(merged.first, it->first);
      merged.last = std::max(merged.last, it->last);
      if (it->min_seq < merged.min_seq) {
        merged.min_seq = it->min_seq;
        merged.wm_before = it->wm_before;
      }
      --live_groups_;
      it = list.erase(it);
    } else {
      ++it;
    }
  }
  list.push_back(std::move(merged));
  return true;
}

Outcome Engine::Process(const EventView& e, int64_t now_ns) {
  EvalContext ctx{.channel = e.channel,
                  .operation = e.operation,
                  .source = e.source,
                  .type_errors = &counters_.type_errors};
  boost::json::value document;  // only for payloads the extractor hands back
  switch (extractor_.Extract(e.payload)) {
    case FieldExtractor::Outcome::kOk:
      ctx.fields = &extractor_.values();
      break;
    case FieldExtractor::Outcome::kNeedsDocument: {
      auto payload = json::ParseDom(e.payload);
      if (!payload) break;  // not reached: the extractor accepted it
      document = std::move(*payload);
      ctx.payload = &document;
      break;
    }
    case FieldExtractor::Outcome::kInvalid:
      break;
  }
  if (ctx.fields == nullptr && ctx.payload == nullptr) {
    ++counters_.bad_payload;
    return Outcome::kSkipped;
  }
  seq_ = e.seq == 0 ? kNoSeq : e.seq;
  uuid_ = e.uuid;
  return ProcessIn(ctx, now_ns);
}

Outcome Engine::ProcessIn(const EvalContext& ctx, int64_t now_ns) {
  int64_t t = 0;
  if (!EventTime(ctx, now_ns, t)) return Outcome::kSkipped;
  if (join_) return ProcessJoin(ctx, t);
  const uint64_t late_before = counters_.late;
  Outcome outcome = Outcome::kSkipped;
  if (Matches(ctx)) {
    EvalKey(ctx);
    const bool added =
        query_->window.kind == WindowKind::kSession ? AddToSession(t, ctx) : AddToWindows(t, ctx);
    if (added) ++counters_.events;  // otherwise late or over max_groups, counted there
    outcome = added                          ? Outcome::kAggregated
              : counters_.late > late_before ? Outcome::kLate
                                             : Outcome::kSkipped;
  }
  // Event time moves on with every event, matching WHERE or not.
  if (!query_->event_time.empty()) {
    const int64_t wm = t - query_->lateness_ns;
    if (!have_watermark_ || wm > watermark_) watermark_ = wm;
    have_watermark_ = true;
  }
  return outcome;
}

Outcome Engine::ProcessJoin(const EvalContext& ctx, int64_t t) {
  std::optional<int64_t> watermark;
  if (query_->event_time.empty()) {
    // Processing time never goes back: the event is at the newest time seen.
    if (have_watermark_) t = std::max(t, watermark_);
    watermark = t;
  } else if (have_watermark_) {
    watermark = watermark_;
  }
  // A replayed event whose pairs were delivered before the restart pairs
  // silently (source-position ids repeat, in the same order, on a replay).
  bool emit = true;
  if (uuid_ != nullptr && IsPositionId(*uuid_)) {
    const Uuid* done = OfOrigin(joined_delivered_, *uuid_);
    emit = done == nullptr || *uuid_ > *done;
    Newest(joined_seen_, *uuid_);
  }
  bool late = false;
  JoinCounters jc;
  const bool taken = join_->Add(ctx, t, watermark, seq_, emit, late, jc);
  counters_.late += jc.late;
  counters_.join_evicted += jc.evicted;
  if (taken) ++counters_.events;
  const int64_t wm = query_->event_time.empty() ? t : t - query_->lateness_ns;
  if (!have_watermark_ || wm > watermark_) watermark_ = wm;
  have_watermark_ = true;
  return taken ? Outcome::kAggregated : late ? Outcome::kLate : Outcome::kSkipped;
}

std::vector<WindowResult> Engine::JoinRows() {
  auto rows = join_->TakeRows();
  if (rows.rows.empty()) return {};
  std::vector<WindowResult> out(1);
  out[0].rows = std::move(rows.rows);
  out[0].min_seq = rows.min_seq;
  out[0].restore_ns = rows.wm_before;
  out[0].delivery.joined = joined_seen_;
  return out;
}

bool Engine::Matches(const EvalContext& ctx) const {
  if (!query_->where) return true;
  const Value keep = Eval(*query_->where, ctx);
  const auto* b = std::get_if<bool>(&keep.v);
  return b != nullptr && *b;
}

WindowResult Engine::Close(int64_t start, int64_t end, const std::vector<const Group*>& groups) {
  WindowResult r{.start_ns = start, .end_ns = end};
  for (const Group* g : groups) {
    std::vector<Value> aggs;
    aggs.reserve(g->accs.size());
    for (size_t i = 0; i < g->accs.size(); ++i)
      aggs.push_back(Final(query_->aggregates[i], g->accs[i]));
    EvalContext ctx{.group = &g->keys, .aggregates = &aggs, .type_errors = &counters_.type_errors};
    if (query_->having) {
      const Value keep = Eval(*query_->having, ctx);
      const auto* b = std::get_if<bool>(&keep.v);
      if (b == nullptr || !*b) continue;
    }
    std::vector<Value> row;
    row.reserve(query_->columns.size());
    for (const auto& c : query_->columns) row.push_back(Eval(c.expr, ctx));
    r.rows.push_back(std::move(row));
  }
  return r;
}

std::vector<WindowResult> Engine::CloseUpTo(int64_t watermark, bool all) {
  std::vector<WindowResult> out;
  while (!windows_.empty()) {
    auto it = windows_.begin();
    // Sliding windows: the one with the smallest start also ends first.
    if (!all && it->second.end > watermark) break;
    std::vector<const Group*> groups;
    for (const auto& [k, g] : it->second.groups) groups.push_back(&g);
    out.push_back(Close(it->second.start, it->second.end, groups));
    out.back().min_seq = it->second.min_seq;
    live_groups_ -= it->second.groups.size();
    windows_.erase(it);
  }
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    auto& list = it->second;
    for (auto s = list.begin(); s != list.end();) {
      if (!all && s->last + query_->window.size_ns > watermark) {
        ++s;
        continue;
      }
      out.push_back(Close(s->first, s->last, {&*s}));
      out.back().min_seq = s->min_seq;
      out.back().restore_ns = s->wm_before;
      if (!query_->event_time.empty())
        out.back().delivery.sessions.emplace_back(it->first, s->last);
      --live_groups_;
      s = list.erase(s);
    }
    it = list.empty() ? sessions_.erase(it) : std::next(it);
  }
  std::sort(out.begin(), out.end(), [](const WindowResult& a, const WindowResult& b) {
    return a.start_ns != b.start_ns ? a.start_ns < b.start_ns : a.end_ns < b.end_ns;
  });
  return out;
}

std::vector<WindowResult> Engine::Advance(int64_t now_ns) {
  if (query_->event_time.empty()) {
    watermark_ = join_ && have_watermark_ ? std::max(watermark_, now_ns) : now_ns;
    have_watermark_ = true;
  }
  if (join_) {
    if (have_watermark_) join_->Expire(watermark_);
    return JoinRows();
  }
  if (!have_watermark_) return {};
  return CloseUpTo(watermark_, false);
}

uint64_t Engine::OldestSeq() const {
  if (join_) return join_->OldestSeq();
  uint64_t oldest = kNoSeq;
  for (const auto& [start, w] : windows_) oldest = std::min(oldest, w.min_seq);
  for (const auto& [key, list] : sessions_) {
    for (const auto& s : list) oldest = std::min(oldest, s.min_seq);
  }
  return oldest;
}

std::optional<int64_t> Engine::RestorePoint() const {
  if (query_->event_time.empty() || !have_watermark_) return std::nullopt;
  int64_t point = watermark_;
  // Sessions and joins resume from the watermark before the oldest event
  // they hold: the replay from that event on decides lateness (and joins
  // pair) exactly as this run did, and the events before it that the
  // replay brings back are late or in delivered results.
  if (join_) {
    if (join_->OldestSeq() != kNoSeq) point = std::min(point, join_->OldestWatermark());
  } else {
    for (const auto& [key, list] : sessions_) {
      for (const auto& s : list) point = std::min(point, s.wm_before);
    }
  }
  if (point == kNoWatermark) return std::nullopt;
  return point;
}

RestartState Engine::Checkpoint(int64_t cap) {
  RestartState st;
  st.watermark_ns = RestorePoint();
  if (st.watermark_ns && cap < *st.watermark_ns) {
    st.watermark_ns = cap == kNoWatermark ? std::nullopt : std::optional<int64_t>(cap);
  }
  // A delivered session whose end + gap the restored watermark has reached
  // is late on any replay: it no longer needs its entry.
  if (st.watermark_ns) {
    const int64_t gap = query_->window.size_ns;
    std::erase_if(delivered_sessions_,
                  [&](const auto& kv) { return kv.second + gap <= *st.watermark_ns; });
  }
  st.sessions.insert(delivered_sessions_.begin(), delivered_sessions_.end());
  st.joined = joined_delivered_;
  return st;
}

void Engine::Restore(const RestartState& st) {
  if (join_) joined_delivered_ = st.joined;  // by ids: processing time too
  if (query_->event_time.empty()) return;    // processing time restarts with the clock
  if (st.watermark_ns) {
    watermark_ = *st.watermark_ns;
    have_watermark_ = true;
  }
  if (!join_ && query_->window.kind == WindowKind::kSession) {
    delivered_sessions_.insert(st.sessions.begin(), st.sessions.end());
  }
}

void Engine::Delivered(const Delivery& d) {
  for (const auto& [key, last] : d.sessions) {
    auto [it, added] = delivered_sessions_.emplace(key, last);
    if (!added) it->second = std::max(it->second, last);
  }
  for (const Uuid& id : d.joined) Newest(joined_delivered_, id);
}

std::vector<WindowResult> Engine::FlushAll() { return join_ ? JoinRows() : CloseUpTo(0, true); }

namespace {

void WriteWindow(json::Writer& w, const WindowResult& win) {
  w.Key("_window");
  w.BeginObject();
  w.StringField("start", FormatRfc3339Nano(win.start_ns));
  w.StringField("end", FormatRfc3339Nano(win.end_ns));
  w.EndObject();
}

void WriteRow(json::Writer& w, const Query& q, const std::vector<Value>& row) {
  for (size_t i = 0; i < row.size(); ++i) {
    w.Key(q.columns[i].name);
    WriteValue(w, row[i]);
  }
}

}  // namespace

std::string RowJson(const Query& q, const WindowResult& win, size_t row) {
  std::string out;
  json::Writer w(out);
  w.BeginObject();
  WriteRow(w, q, win.rows[row]);
  if (!q.join) WriteWindow(w, win);
  w.EndObject();
  return out;
}

std::string LateJson(const EventView& e) {
  std::string out;
  json::Writer w(out);
  w.BeginObject();
  w.StringField("id", e.id);
  w.StringField("channel", e.channel);
  w.StringField("operation", e.operation);
  w.Key("payload");
  w.Raw(e.payload);
  w.EndObject();
  return out;
}

std::string BatchJson(const Query& q, const WindowResult& win) {
  std::string out;
  json::Writer w(out);
  w.BeginObject();
  WriteWindow(w, win);
  w.Key("rows");
  w.BeginArray();
  for (const auto& row : win.rows) {
    w.BeginObject();
    WriteRow(w, q, row);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return out;
}

std::optional<int64_t> ParseTimestamp(std::string_view s) {
  // YYYY-MM-DD[T ]HH:MM:SS[.frac][Z|±HH[:MM]]
  auto num = [&](size_t pos, size_t len, int& out) {
    if (pos + len > s.size()) return false;
    out = 0;
    for (size_t i = pos; i < pos + len; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      out = out * 10 + (s[i] - '0');
    }
    return true;
  };
  int y, mo, d, h, mi, se;
  if (!num(0, 4, y) || s.size() < 19 || s[4] != '-' || !num(5, 2, mo) || s[7] != '-' ||
      !num(8, 2, d) || (s[10] != 'T' && s[10] != ' ' && s[10] != 't') || !num(11, 2, h) ||
      s[13] != ':' || !num(14, 2, mi) || s[16] != ':' || !num(17, 2, se) || mo < 1 || mo > 12 ||
      d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) {
    return std::nullopt;
  }
  size_t i = 19;
  int64_t frac = 0;
  int digits = 0;
  if (i < s.size() && s[i] == '.') {
    for (++i; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
      if (digits < 9) frac = frac * 10 + (s[i] - '0'), ++digits;
    }
    if (digits == 0) return std::nullopt;
    for (; digits < 9; ++digits) frac *= 10;
  }
  int64_t offset = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int oh = 0, om = 0;
    if (!num(i + 1, 2, oh)) return std::nullopt;
    size_t next = i + 3;
    if (next < s.size() && s[next] == ':') ++next;
    if (next < s.size() && !num(next, 2, om)) return std::nullopt;
    offset = (oh * 3600 + om * 60) * (s[i] == '-' ? -1 : 1);
    i = next < s.size() ? next + 2 : next;
  }
  if (i != s.size()) return std::nullopt;
  const int64_t secs =
      DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 + h * 3600 +
      mi * 60 + se - offset;
  return secs * 1000000000 + frac;
}

}  // namespace pgcdc::view
