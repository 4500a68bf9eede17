#include "adapter/view/view_adapter.h"

#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <boost/json.hpp>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>

#include "core/json_dom.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/scope.h"
#include "core/time.h"
#include "core/uuid.h"
#include "registry/define.h"
#include "view/parser.h"

namespace pgcdc::adapter::view {

namespace v = pgcdc::view;

namespace {

constexpr std::string_view kResultPrefix = "pgcdc:_view:";

Result<Emit> ParseEmit(const std::string& text) {
  if (text == "row") return Emit::kRow;
  if (text == "batch") return Emit::kBatch;
  return Fail(ErrorCode::kConfig, "emit must be row or batch, not \"" + text + "\"");
}

struct RawView {
  std::string name;
  std::string query;
  Emit emit = Emit::kRow;
  int64_t max_groups = 0;
  std::string event_time_field;
  bool emit_late = false;
};

Status ParseYamlView(const YAML::Node& node, const Options& o, RawView& out) {
  out.emit = o.emit;
  out.max_groups = o.max_groups;
  out.emit_late = o.emit_late;
  if (!node.IsMap()) return Fail(ErrorCode::kConfig, "each view is a map {name, query, ...}");
  for (const auto& kv : node) {
    const std::string key = kv.first.as<std::string>();
    const std::string value = kv.second.IsScalar() ? kv.second.as<std::string>() : std::string();
    if (key == "name") {
      out.name = value;
    } else if (key == "query") {
      out.query = value;
    } else if (key == "emit") {
      auto e = ParseEmit(value);
      if (!e) return Fail(e.error());
      out.emit = *e;
    } else if (key == "max_groups") {
      int64_t n = 0;
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc() || ptr != value.data() + value.size() || n < 1) {
        return Fail(ErrorCode::kConfig, "max_groups must be an integer >= 1");
      }
      out.max_groups = n;
    } else if (key == "event_time_field") {
      out.event_time_field = value;
    } else if (key == "emit_late") {
      if (value != "true" && value != "false") {
        return Fail(ErrorCode::kConfig, "emit_late must be true or false");
      }
      out.emit_late = value == "true";
    } else {
      return Fail(ErrorCode::kConfig, "unknown key \"" + key +
                                          "\" (name, query, emit, "
                                          "max_groups, event_time_field, emit_late)");
    }
  }
  return Ok();
}

Result<std::vector<RawView>> ParseYamlViews(const Options& o) {
  std::vector<RawView> out;
  if (o.views_yaml.empty()) return out;
  YAML::Node root;
  try {
    root = YAML::Load(o.views_yaml);
    if (!root.IsSequence()) return Fail(ErrorCode::kConfig, "views: a list of views");
    for (size_t i = 0; i < root.size(); ++i) {
      RawView raw;
      if (auto st = ParseYamlView(root[i], o, raw); !st) {
        return Fail(st.error().Wrap("views[" + std::to_string(i) + "]"));
      }
      out.push_back(std::move(raw));
    }
  } catch (const YAML::Exception& e) {
    return Fail(ErrorCode::kConfig, std::string("views: ") + e.what());
  }
  return out;
}

Result<ViewDef> Plan(const RawView& raw) {
  const std::string who = "view \"" + raw.name + "\"";
  if (raw.name.empty()) return Fail(ErrorCode::kConfig, "a view needs a name");
  if (raw.query.empty()) return Fail(ErrorCode::kConfig, who + ": empty query");
  if (raw.query.find(kResultPrefix) != std::string::npos) {
    return Fail(ErrorCode::kConfig, who + ": a query must not read pgcdc:_view: channels");
  }
  auto q = v::ParseQuery(raw.query);
  if (!q) return Fail(q.error().Wrap(who));
  // event_time_field (YAML): the event time when the query has no EVENT TIME BY.
  if (q->event_time.empty() && !raw.event_time_field.empty()) {
    std::string path = raw.event_time_field;
    if (path.starts_with("payload.")) path.erase(0, 8);
    for (size_t start = 0;;) {
      const size_t dot = path.find('.', start);
      q->event_time.push_back(path.substr(start, dot == std::string::npos ? dot : dot - start));
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
  }
  return ViewDef{raw.name, std::make_shared<const v::Query>(std::move(*q)), raw.emit,
                 raw.max_groups, raw.emit_late};
}

}  // namespace

std::vector<std::string> ResultPayloads(const ViewDef& view, const v::WindowResult& window) {
  // Interval joins emit one event per pair whatever `emit` says.
  if (view.emit == Emit::kBatch && !view.query->join) return {v::BatchJson(*view.query, window)};
  std::vector<std::string> out;
  out.reserve(window.rows.size());
  for (size_t r = 0; r < window.rows.size(); ++r) out.push_back(v::RowJson(*view.query, window, r));
  return out;
}

Result<std::vector<ViewDef>> BuildViews(const Options& o) {
  auto raws = ParseYamlViews(o);
  if (!raws) return Fail(raws.error());
  for (const auto& spec : o.cli_queries) {
    const size_t colon = spec.find(':');
    if (colon == std::string::npos) {
      return Fail(ErrorCode::kConfig, "--view-query: expected name:query, got \"" + spec + "\"");
    }
    RawView raw{
        spec.substr(0, colon), spec.substr(colon + 1), o.emit, o.max_groups, {}, o.emit_late};
    std::erase_if(*raws, [&](const RawView& r) { return r.name == raw.name; });
    raws->push_back(std::move(raw));
  }
  std::vector<ViewDef> out;
  std::map<std::string, int> seen;
  for (const auto& raw : *raws) {
    if (seen[raw.name]++ > 0) {
      return Fail(ErrorCode::kConfig, "view \"" + raw.name + "\" is defined twice");
    }
    auto def = Plan(raw);
    if (!def) return Fail(def.error());
    out.push_back(std::move(*def));
  }
  return out;
}

// Results published but not yet known delivered by every other adapter: the
// source events of their windows stay held (docs/views.md, "Restarts").
struct PendingResults {
  uint64_t min_seq = v::kNoSeq;
  int64_t restore_cap = INT64_MAX;  // the restart watermark must stay below it
  Uuid last_id;                     // of the batch's last event
  uint64_t guard = 0;               // first seq after the batch in the bus (0: not seen yet)
  v::Delivery delivery;             // what the batch's delivery settles for a restart
};

// A restart watermark that reopens the window: replayed events of a window
// whose results may not have been delivered are counted again (sessions and
// joins: the replay from its oldest event decides as this run did).
int64_t RestoreCap(const v::Query& q, const v::WindowResult& w) {
  if (q.join || q.window.kind == v::WindowKind::kSession) return w.restore_ns;
  return w.end_ns - 1;
}

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

std::optional<std::string> Unhex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string out(hex.size() / 2, '\0');
  for (size_t i = 0; i < out.size(); ++i) {
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(hex.data() + 2 * i, hex.data() + 2 * i + 2, value, 16);
    if (ec != std::errc() || ptr != hex.data() + 2 * i + 2) return std::nullopt;
    out[i] = static_cast<char>(value);
  }
  return out;
}

struct ViewAdapter::View {
  ViewDef def;
  std::deque<PendingResults> pending;
  std::string channel;
  std::string late_channel;        // pgcdc:_view:<name>:late
  std::vector<Event> late_events;  // to publish with the next results
  v::Engine engine;
  v::Counters reported;
  metrics::Counter& processed;
  metrics::Counter& windows;
  metrics::Counter& late;
  metrics::Counter& type_errors;
  metrics::Counter& overflow;
  metrics::Counter& bad;
  metrics::Counter& dropped;
  metrics::Counter& evicted;
  metrics::Gauge& groups;
  metrics::Histogram& close_seconds;
  int64_t evicted_logged_at = 0;  // clock of the last eviction warning
  uint64_t evicted_logged = 0;    // join_evicted when it was logged

  explicit View(ViewDef d)
      : def(std::move(d)),
        channel(std::string(kResultPrefix) + def.name),
        late_channel(channel + ":late"),
        engine(def.query, {.max_groups = def.max_groups}),
        processed(Series("pgcdc_view_events_processed_total", "Events a view aggregated.")),
        windows(Series("pgcdc_view_windows_emitted_total", "Windows a view closed and emitted.")),
        late(Series("pgcdc_view_late_events_total",
                    "Events that arrived after every window they belong to had closed.")),
        type_errors(
            Series("pgcdc_view_type_errors_total",
                   "Non-numeric values in SUM/AVG/STDDEV and failed arithmetic (skipped).")),
        overflow(Series("pgcdc_view_groups_overflow_total",
                        "Events dropped because a view reached max_groups.")),
        bad(Series("pgcdc_view_bad_events_total",
                   "Events without a readable event time or with a non-JSON payload (skipped).")),
        dropped(Series("pgcdc_view_results_dropped_total",
                       "VIEW_RESULT events lost: result queue full or pipeline stopping.")),
        evicted(Series("pgcdc_view_join_evicted_total",
                       "Interval joins: buffered events evicted at max_groups before their "
                       "WITHIN bound expired (their later matches are lost).")),
        groups(metrics::Default()
                   .AddGauge("pgcdc_view_groups",
                             "Live groups in a view's open windows (joins: buffered events).",
                             {"view"})
                   .With({def.name})),
        close_seconds(metrics::Default()
                          .AddHistogram("pgcdc_view_window_duration_seconds",
                                        "Time to close a view's due windows and compute their "
                                        "results.",
                                        {0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1}, {"view"})
                          .With({def.name})) {}

  metrics::Counter& Series(const char* name, const char* help) {
    return metrics::Default().AddCounter(name, help, {"view"}).With({def.name});
  }
};

ViewAdapter::ViewAdapter(std::vector<ViewDef> views, Options options, Clock clock)
    : options_(std::move(options)), clock_(clock ? std::move(clock) : Clock(NowUnixNanos)) {
  for (auto& d : views) views_.push_back(std::make_unique<View>(std::move(d)));
}

ViewAdapter::~ViewAdapter() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  cv_.NotifyAll();
  if (emitter_.joinable()) emitter_.join();
}

Status ViewAdapter::Attach(const Services& services) {
  publish_ = services.publish;
  delivered_by_others_ = services.delivered_by_others;
  if (!publish_)
    return Fail(ErrorCode::kConfig, "the view adapter needs a pipeline to publish into");
  return Ok();
}

Status ViewAdapter::Open() {
  if (auto st = LoadState(); !st) return st;
  emitter_ = std::thread(scope::Bind([this] { RunEmitter(); }));
  return Ok();
}

Status ViewAdapter::Deliver(std::span<const Event* const> events) {
  const int64_t now = clock_();
  for (const Event* e : events) {
    if (e->channel.starts_with(kResultPrefix)) {
      // Our own results came back through the bus: every event published
      // after them has a higher seq than any seen so far.
      for (auto& view : views_) {
        for (auto& p : view->pending) {
          if (p.guard == 0 && p.last_id == e->id) p.guard = max_seq_seen_ + 1;
        }
      }
      continue;
    }
    max_seq_seen_ = std::max(max_seq_seen_, e->seq);
    v::EventView ev{e->channel, e->operation, e->source, e->payload, {}, e->seq, &e->id};
    std::string id;  // rendered only for a late event that is reported
    for (auto& view : views_) {
      if (view->engine.Process(ev, now) == v::Outcome::kLate && view->def.emit_late) {
        if (id.empty()) id = e->id.ToString();
        ev.id = id;
        view->late_events.push_back(
            MakeEvent(view->late_channel, "VIEW_LATE", v::LateJson(ev), "view"));
      }
    }
  }
  for (auto& view : views_) CloseWindows(*view, now);
  return Ok();
}

Status ViewAdapter::Flush() {
  const int64_t now = clock_();
  for (auto& view : views_) CloseWindows(*view, now);
  Release();
  // The state on disk first: the pipeline confirms up to held_ right after.
  return SaveState();
}

std::optional<uint64_t> ViewAdapter::OldestHeldSeq() const {
  if (held_ == v::kNoSeq) return std::nullopt;
  return held_;
}

namespace {

// Replaces `path` with `text` atomically (temporary file, fsync, rename).
Status WriteAtomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "we");
  if (f == nullptr)
    return Fail(ErrorCode::kIo, "view state: create " + tmp + ": " + strerror(errno));
  const bool written = std::fwrite(text.data(), 1, text.size(), f) == text.size() &&
                       std::fflush(f) == 0 && ::fsync(fileno(f)) == 0;
  const int err = errno;
  if (std::fclose(f) != 0 || !written || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return Fail(ErrorCode::kIo,
                "view state: write " + path + ": " + strerror(written ? errno : err));
  }
  return Ok();
}

}  // namespace

// {"views":{"<name>":{"watermark_ns":N, "sessions":{"<key hex>":N},
// "joined":["<id>"]}}}: per view, what a restart resumes from
// (Engine::Checkpoint): the watermark (event time; kept below the windows
// whose results are not yet delivered), the delivered sessions a replay
// could rebuild, and the newest event whose join pairs are delivered. Keys
// are optional (files with only "watermark_ns" load).
Status ViewAdapter::SaveState() {
  if (options_.state_file.empty()) return Ok();
  boost::json::object views;
  for (const auto& view : views_) {
    int64_t cap = INT64_MAX;
    for (const auto& p : view->pending) cap = std::min(cap, p.restore_cap);
    const v::RestartState st = view->engine.Checkpoint(cap);
    if (st.empty()) continue;
    boost::json::object entry;
    if (st.watermark_ns) entry["watermark_ns"] = *st.watermark_ns;
    if (!st.sessions.empty()) {
      boost::json::object sessions;
      for (const auto& [key, last] : st.sessions) sessions[Hex(key)] = last;
      entry["sessions"] = std::move(sessions);
    }
    if (!st.joined.empty()) {
      boost::json::array joined;
      for (const Uuid& id : st.joined) joined.emplace_back(id.ToString());
      entry["joined"] = std::move(joined);
    }
    views[view->def.name] = std::move(entry);
  }
  std::string text = json::SerializeDom(boost::json::object{{"views", std::move(views)}});
  if (text == saved_state_) return Ok();
  if (auto st = WriteAtomically(options_.state_file, text); !st) return st;
  saved_state_ = std::move(text);
  return Ok();
}

namespace {

// One view's entry of the state file (SaveState's format).
Result<v::RestartState> ParseRestartState(const boost::json::object& saved) {
  v::RestartState st;
  if (const auto* wm = saved.if_contains("watermark_ns"); wm != nullptr && wm->is_int64()) {
    st.watermark_ns = wm->as_int64();
  }
  if (const auto* sessions = saved.if_contains("sessions"); sessions != nullptr) {
    if (!sessions->is_object()) return Fail(ErrorCode::kConfig, "sessions is not an object");
    for (const auto& kv : sessions->as_object()) {
      auto key = Unhex(kv.key());
      if (!key || !kv.value().is_int64()) {
        return Fail(ErrorCode::kConfig, "bad session entry \"" + std::string(kv.key()) + "\"");
      }
      st.sessions[*key] = kv.value().as_int64();
    }
  }
  if (const auto* joined = saved.if_contains("joined"); joined != nullptr) {
    if (!joined->is_array()) return Fail(ErrorCode::kConfig, "joined is not an array");
    for (const auto& id : joined->as_array()) {
      auto uuid = id.is_string() ? ParseUuid(id.as_string()) : std::nullopt;
      if (!uuid) return Fail(ErrorCode::kConfig, "joined: not an event id");
      st.joined.push_back(*uuid);
    }
  }
  return st;
}

}  // namespace

Status ViewAdapter::LoadState() {
  if (options_.state_file.empty()) return Ok();
  std::ifstream in(options_.state_file);
  if (!in) return Ok();  // first start
  std::stringstream text;
  text << in.rdbuf();
  auto doc = json::ParseDom(text.str());
  const auto* root = doc ? doc->if_object() : nullptr;
  const auto* views = root != nullptr ? root->if_contains("views") : nullptr;
  if (views == nullptr || !views->is_object()) {
    return Fail(ErrorCode::kConfig, "view state file " + options_.state_file +
                                        " is not a pgcdc view state (delete it to start afresh)");
  }
  for (auto& view : views_) {
    const auto* saved = views->as_object().if_contains(view->def.name);
    if (saved == nullptr || !saved->is_object()) continue;
    auto st = ParseRestartState(saved->as_object());
    if (!st) {
      return Fail(ErrorCode::kConfig, "view state file " + options_.state_file + ": view \"" +
                                          view->def.name + "\": " + st.error().message() +
                                          " (delete the file to start afresh)");
    }
    view->engine.Restore(*st);
    log::Info("view resumes from its saved state",
              {{"view", view->def.name},
               {"watermark", st->watermark_ns ? FormatRfc3339Nano(*st->watermark_ns) : "none"},
               {"delivered_sessions", std::to_string(st->sessions.size())},
               {"joined_through", st->joined.empty() ? "none" : st->joined.front().ToString()}});
  }
  saved_state_ = json::SerializeDom(*doc);
  return Ok();
}

void ViewAdapter::Release() {
  const uint64_t others =
      delivered_by_others_ ? delivered_by_others_(Name()) : std::numeric_limits<uint64_t>::max();
  uint64_t held = v::kNoSeq;
  const bool keep = !options_.state_file.empty();
  for (auto& view : views_) {
    std::erase_if(view->pending, [&](const PendingResults& p) {
      if (p.guard == 0 || others < p.guard) return false;
      if (keep) view->engine.Delivered(p.delivery);
      return true;
    });
    held = std::min(held, view->engine.OldestSeq());
    for (const auto& p : view->pending) held = std::min(held, p.min_seq);
  }
  held_ = held;
}

void ViewAdapter::Close() {
  for (auto& view : views_) {
    // Resuming after a restart (state file): windows holding unconfirmed
    // events are rebuilt from the source's replay; flushing them now would
    // emit a partial window, or count their events twice (processing time).
    if (!options_.state_file.empty() && view->engine.OldestSeq() != v::kNoSeq &&
        !view->def.query->join) {
      log::Info("view: open windows resume after the restart, not flushed",
                {{"view", view->def.name}});
      continue;
    }
    CloseWindows(*view, std::nullopt);
  }
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  cv_.NotifyAll();
  if (emitter_.joinable()) emitter_.join();
}

void ViewAdapter::CloseWindows(View& view, std::optional<int64_t> now) {
  const auto start = std::chrono::steady_clock::now();
  const auto windows = now ? view.engine.Advance(*now) : view.engine.FlushAll();
  if (!windows.empty()) {
    view.close_seconds.Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  Collect(view, windows);
}

void ViewAdapter::Collect(View& view, const std::vector<v::WindowResult>& windows) {
  UpdateMetrics(view);
  if (windows.empty() && view.late_events.empty()) return;
  EventBatch batch;
  batch.events = std::move(view.late_events);
  view.late_events.clear();
  PendingResults pending;
  for (const auto& w : windows) {
    pending.min_seq = std::min(pending.min_seq, w.min_seq);
    pending.restore_cap = std::min(pending.restore_cap, RestoreCap(*view.def.query, w));
    pending.delivery.Add(w.delivery);
    if (!view.def.query->join) view.windows.Inc();
    for (auto& payload : ResultPayloads(view.def, w)) {
      batch.events.push_back(MakeEvent(view.channel, "VIEW_RESULT", std::move(payload), "view"));
    }
  }
  if (batch.events.empty()) return;
  const size_t n = batch.events.size();
  pending.last_id = batch.events.back().id;
  {
    MutexLock lock(mu_);
    if (pending_events_ + n <= static_cast<size_t>(options_.result_buffer) && !stopping_) {
      if (pending.min_seq != v::kNoSeq) view.pending.push_back(pending);
      pending_events_ += n;
      pending_.push_back(std::move(batch));
      cv_.NotifyAll();
      return;
    }
  }
  view.dropped.Inc(n);
  log::Warn("view results dropped: result queue full",
            {{"view", view.def.name}, {"events", std::to_string(n)}});
}

void ViewAdapter::UpdateMetrics(View& view) {
  const v::Counters& c = view.engine.counters();
  v::Counters& r = view.reported;
  view.processed.Inc(c.events - r.events);
  view.late.Inc(c.late - r.late);
  view.type_errors.Inc(c.type_errors - r.type_errors);
  view.overflow.Inc(c.groups_overflow - r.groups_overflow);
  view.bad.Inc((c.bad_event_time + c.bad_payload) - (r.bad_event_time + r.bad_payload));
  if (c.groups_overflow > r.groups_overflow && r.groups_overflow == 0) {
    log::Warn("view reached max_groups; new groups are dropped",
              {{"view", view.def.name}, {"max_groups", std::to_string(view.def.max_groups)}});
  }
  view.evicted.Inc(c.join_evicted - r.join_evicted);
  // Joins at their cap lose matches: say so, at most every 10 s.
  const int64_t now = clock_();
  if (c.join_evicted > view.evicted_logged &&
      (view.evicted_logged == 0 || now - view.evicted_logged_at >= 10'000'000'000)) {
    log::Warn(
        "interval join at max_groups: oldest buffered events evicted, their later "
        "matches are lost (raise max_groups or shorten WITHIN)",
        {{"view", view.def.name},
         {"max_groups", std::to_string(view.def.max_groups)},
         {"evicted", std::to_string(c.join_evicted - view.evicted_logged)}});
    view.evicted_logged = c.join_evicted;
    view.evicted_logged_at = now;
  }
  r = c;
  view.groups.Set(static_cast<double>(view.engine.groups()));
}

void ViewAdapter::RunEmitter() {
  MutexLock lock(mu_);
  for (;;) {
    while (pending_.empty() && !stopping_) cv_.Wait(mu_);
    if (pending_.empty()) return;
    EventBatch batch = std::move(pending_.front());
    pending_.pop_front();
    const size_t n = batch.events.size();
    pending_events_ -= n;
    const std::string channel = batch.events.front().channel;
    lock.Unlock();
    const bool ok = publish_(std::move(batch));
    if (!ok) {
      metrics::Default()
          .AddCounter("pgcdc_view_results_dropped_total",
                      "VIEW_RESULT events lost: result queue full or pipeline stopping.", {"view"})
          .With({std::string_view(channel).substr(kResultPrefix.size())})
          .Inc(n);
    }
    lock.Lock();
  }
}

ConnectorInfo Connector() {
  using O = Options;
  return DefineAdapter<Options>({
      .name = "view",
      .description =
          "Streaming SQL views: windowed GROUP BY aggregates (tumbling, sliding, session; "
          "processing or event time) over every event, published back as VIEW_RESULT events on "
          "pgcdc:_view:<name>. Enabled by views: or --view-query.",
      .params =
          {
              TreeParamAt<O>("views", &O::views_yaml,
                             "views (YAML list): {name, query, emit: row|batch, max_groups, "
                             "event_time_field, emit_late}"),
              Param("view.cli_queries", &O::cli_queries, "a view, name:query (repeatable)",
                    {.flag = "view-query", .split_commas = false}),
              ParamEnum("view.emit", &O::emit, {{"row", Emit::kRow}, {"batch", Emit::kBatch}},
                        "--view-query views: one event per group row (row) or per window (batch)",
                        {.flag = "view-emit"}),
              Param("view.emit_late", &O::emit_late,
                    "--view-query views: publish late events on pgcdc:_view:<name>:late",
                    {.flag = "view-emit-late"}),
              Param("view.max_groups", &O::max_groups,
                    "--view-query views: most live groups per view (more are dropped and counted)",
                    {.flag = "view-max-groups", .min = 1}),
              Param("view.state_file", &O::state_file,
                    "file where views keep what a restart resumes from: watermark, delivered "
                    "sessions, delivered join pairs (with --persistent-slot: no window lost or "
                    "counted twice, no session or pair emitted twice; docs/views.md)",
                    {.flag = "view-state-file"}),
              Param("view.result_buffer", &O::result_buffer,
                    "VIEW_RESULT events waiting for the bus (more are dropped and counted)",
                    {.flag = "view-result-buffer", .min = 1}),
          },
      .validate =
          [](const O& o, const Context&, Errors& errors) {
            auto views = BuildViews(o);
            if (!views) {
              errors.push_back(views.error().message());
            } else if (views->empty()) {
              errors.push_back("adapter view: define at least one view (views: or --view-query)");
            }
          },
      .make = [](O o, const Context&) -> Result<AdapterPtr> {
        auto views = BuildViews(o);
        if (!views) return Fail(views.error());
        return std::make_unique<ViewAdapter>(std::move(*views), std::move(o));
      },
  });
}

}  // namespace pgcdc::adapter::view

PGCDC_REGISTER_CONNECTOR(adapter, view, pgcdc::adapter::view::Connector)
