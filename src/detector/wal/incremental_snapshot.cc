#include "detector/wal/incremental_snapshot.h"

#include <atomic>
#include <thread>
#include <utility>

#include "codec/pgtypes/pgtypes.h"
#include "core/json.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/scope.h"
#include "core/supervisor.h"
#include "core/time.h"
#include "core/uuid.h"
#include "pg/migrations.h"
#include "snapshot/table_snapshot.h"

namespace pgcdc::detector::wal {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct Metrics {
  metrics::Counter& rows =
      metrics::DefaultCounter("pgcdc_incremental_snapshot_rows_exported_total",
                              "Rows exported by incremental (signal-table) snapshots.");
  metrics::Counter& chunks =
      metrics::DefaultCounter("pgcdc_incremental_snapshot_chunks_total",
                              "Chunks read by incremental (signal-table) snapshots.");
  metrics::Counter& unknown_signals =
      metrics::DefaultCounter("pgcdc_incremental_snapshot_unknown_signals_total",
                              "Signal-table rows with a signal name pgcdc does not know.");
  metrics::Gauge& active = metrics::DefaultGauge("pgcdc_incremental_snapshots_active",
                                                 "Incremental snapshots running now.");
  metrics::Histogram& duration = metrics::DefaultHistogram(
      "pgcdc_incremental_snapshot_duration_seconds",
      "Time from start (or resume) to completion of incremental snapshots.",
      {1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600});
};

Metrics& M() { return metrics::Lazy<Metrics>(); }

// Snapshots of the same table share this key: schema (public when not given)
// and name.
std::string TableKey(std::string_view table) {
  auto t = snapshot::ParseTableName(table);
  if (!t) return std::string(table);
  return (t->schema.empty() ? std::string("public") : t->schema) + "\x1f" + t->name;
}

Event ControlEvent(std::string_view operation, std::string payload) {
  return MakeEvent(std::string(kSnapshotControlChannel), std::string(operation), std::move(payload),
                   kIncrementalSource);
}

constexpr const char* kPrimaryKeyQuery =
    "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND "
    "a.attnum = ANY(i.indkey) WHERE i.indrelid = $1::regclass AND i.indisprimary "
    "ORDER BY array_position(i.indkey::int2[], a.attnum)";

}  // namespace

std::string EncodeKey(const std::vector<std::string>& key) {
  std::string out;
  json::Writer w(out);
  w.BeginArray();
  for (const auto& v : key) w.String(v);
  w.EndArray();
  return out;
}

namespace {

// A snapshot control event's payload: the fields `write` adds, then
// snapshot_id and table.
template <class Write>
std::string ControlPayload(std::string_view snapshot_id, std::string_view table, Write write) {
  std::string out;
  json::Writer w(out);
  w.BeginObject();
  write(w);
  w.StringField("snapshot_id", snapshot_id);
  w.StringField("table", table);
  w.EndObject();
  return out;
}

}  // namespace

std::string StartedPayload(size_t chunk_size, std::string_view snapshot_id,
                           std::string_view table) {
  return ControlPayload(snapshot_id, table,
                        [&](json::Writer& w) { w.UintField("chunk_size", chunk_size); });
}

std::string CompletedPayload(int64_t duration_ms, uint64_t rows, std::string_view snapshot_id,
                             std::string_view table) {
  return ControlPayload(snapshot_id, table, [&](json::Writer& w) {
    w.IntField("duration_ms", duration_ms);
    w.UintField("rows", rows);
  });
}

// One snapshot thread's state. `done` is set by the thread as its last act;
// everything else is written before the thread starts.
struct IncrementalSnapshots::Job {
  std::string id;
  std::string table;
  std::atomic<bool> done{false};
  std::jthread thread;  // last member: joined first on destruction
};

IncrementalSnapshots::IncrementalSnapshots(IncrementalOptions options, PublishFn publish,
                                           WaitFn wait_delivered)
    : options_(std::move(options)), publish_(std::move(publish)), wait_(std::move(wait_delivered)) {
  if (options_.progress_db.empty()) options_.progress_db = options_.database_url;
  if (options_.chunk_size == 0) options_.chunk_size = 1;
}

IncrementalSnapshots::~IncrementalSnapshots() {
  for (auto& [key, job] : jobs_) job->thread.request_stop();
  jobs_.clear();  // joins
}

size_t IncrementalSnapshots::active() {
  Reap();
  return jobs_.size();
}

void IncrementalSnapshots::Reap() {
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    if (it->second->done.load()) {
      it = jobs_.erase(it);  // joins a thread that already finished
    } else {
      ++it;
    }
  }
}

IncrementalSnapshots::Job* IncrementalSnapshots::Active(const std::string& key) {
  Reap();
  auto it = jobs_.find(key);
  return it == jobs_.end() ? nullptr : it->second.get();
}

Status IncrementalSnapshots::EnsureControl() {
  if (control_ && control_->ok()) return Ok();
  control_.reset();
  auto conn = pg::Conn::Open(options_.progress_db);
  if (!conn) return Fail(conn.error().Wrap("snapshot progress database"));
  if (auto m = pg::Migrate(*conn); !m) return Fail(m.error());
  control_ = std::move(*conn);
  return Ok();
}

void IncrementalSnapshots::StartJob(std::string snapshot_id, std::string table) {
  auto job = std::make_unique<Job>();
  job->id = std::move(snapshot_id);
  job->table = std::move(table);
  Job* j = job.get();
  jobs_[TableKey(j->table)] = std::move(job);
  j->thread = std::jthread(scope::Bind([this, j](std::stop_token stop) {
    M().active.Add(1);
    RunJob(*j, std::move(stop));
    M().active.Add(-1);
    j->done.store(true);
  }));
}

void IncrementalSnapshots::HandleSignal(const Signal& signal) {
  if (signal.kind == SignalKind::kUnknown) {
    M().unknown_signals.Inc();
    log::Warn("incremental snapshot: unknown signal ignored", {{"signal", signal.name}});
    return;
  }
  if (auto st = EnsureControl(); !st) {
    log::Error("incremental snapshot: signal not handled",
               {{"signal", signal.name}, {"table", signal.table}, {"error", st.error().message()}});
    return;
  }
  const std::string key = TableKey(signal.table);
  Job* job = Active(key);
  if (signal.kind == SignalKind::kStopSnapshot) {
    // The progress row decides: a `stopped` snapshot is never resumed, and a
    // running thread notices at its next chunk even if the stop request
    // below raced with it.
    auto rows = control_->Query(
        "UPDATE pgcdc_snapshot_progress SET status = 'stopped', updated_at = now() "
        "WHERE (snapshot_id = $1 OR table_name = $2) AND status IN ('pending', 'running') "
        "RETURNING snapshot_id",
        {job != nullptr ? job->id : std::string(), signal.table});
    if (!rows) {
      log::Error("incremental snapshot: stop failed",
                 {{"table", signal.table}, {"error", rows.error().message()}});
      return;
    }
    if (job != nullptr) job->thread.request_stop();
    if (rows->empty() && job == nullptr) {
      log::Info("incremental snapshot: stop-snapshot ignored, no active snapshot",
                {{"table", signal.table}});
      return;
    }
    for (const auto& r : *rows) {
      log::Info("incremental snapshot stopped",
                {{"table", signal.table}, {"snapshot_id", r.at(0).value_or("")}});
    }
    return;
  }
  if (job != nullptr) {
    log::Info("incremental snapshot: execute-snapshot ignored, one is already active",
              {{"table", signal.table}, {"snapshot_id", job->id}});
    return;
  }
  std::string id = signal.snapshot_id.empty() ? NewUuidV7().ToString() : signal.snapshot_id;
  // Re-using an id starts that snapshot over.
  auto ins = control_->Query(
      "INSERT INTO pgcdc_snapshot_progress (snapshot_id, table_name, status) "
      "VALUES ($1, $2, 'running') ON CONFLICT (snapshot_id) DO UPDATE SET "
      "table_name = EXCLUDED.table_name, last_pk = NULL, rows_processed = 0, "
      "status = 'running', updated_at = now()",
      {id, signal.table});
  if (!ins) {
    log::Error("incremental snapshot: cannot record progress",
               {{"table", signal.table}, {"error", ins.error().message()}});
    return;
  }
  log::Info("incremental snapshot requested", {{"table", signal.table}, {"snapshot_id", id}});
  StartJob(std::move(id), signal.table);
}

void IncrementalSnapshots::ResumeRunning() {
  if (auto st = EnsureControl(); !st) {
    log::Error("incremental snapshot: cannot look for snapshots to resume",
               {{"error", st.error().message()}});
    return;
  }
  auto rows = control_->Query(
      "SELECT snapshot_id, table_name FROM pgcdc_snapshot_progress WHERE status = 'running' "
      "ORDER BY updated_at, snapshot_id");
  if (!rows) {
    log::Error("incremental snapshot: cannot look for snapshots to resume",
               {{"error", rows.error().message()}});
    return;
  }
  for (auto& r : *rows) {
    std::string id = r.at(0).value_or("");
    std::string table = r.at(1).value_or("");
    if (Job* job = Active(TableKey(table)); job != nullptr) {
      if (job->id != id) {
        log::Warn("incremental snapshot: another snapshot of the table is active; not resumed",
                  {{"table", table}, {"snapshot_id", id}, {"active", job->id}});
      }
      continue;
    }
    log::Info("incremental snapshot resuming", {{"table", table}, {"snapshot_id", id}});
    StartJob(std::move(id), std::move(table));
  }
}

namespace {

// Runs one snapshot on the calling (snapshot) thread; see the class comment.
class Runner {
 public:
  enum class Outcome { kFinished, kInterrupted };

  Runner(const IncrementalOptions& o, const IncrementalSnapshots::PublishFn& publish,
         const IncrementalSnapshots::WaitFn& wait, std::string id, std::string table,
         std::stop_token stop)
      : o_(o),
        publish_(publish),
        wait_(wait),
        id_(std::move(id)),
        table_(std::move(table)),
        stop_(std::move(stop)) {}

  void Run() {
    SupervisorOptions so;
    so.component = table_;
    so.label = "table";
    so.metric_prefix = "pgcdc_incremental_snapshot";
    so.retry = kRetry;
    so.log_message = "incremental snapshot: connection lost, retrying";
    so.log_fields = {{"snapshot_id", id_}};
    // A lost connection is retried; anything else (no such table, no
    // primary key, bad resume key) will not fix itself.
    so.is_fatal = [this](const Error&, bool) { return !lost_; };
    Supervisor supervisor(std::move(so), stop_);
    Status st = supervisor.Run([this](Supervisor::Session& session) -> Status {
      auto r = Attempt(session);
      if (r) return Ok();
      lost_ = r.error().code() == ErrorCode::kConnection || (data_ && !data_->ok()) ||
              (progress_ && !progress_->ok());
      if (lost_) {
        data_.reset();
        progress_.reset();
      }
      return Fail(r.error());
    });
    if (!st) {
      log::Error("incremental snapshot failed",
                 {{"table", table_}, {"snapshot_id", id_}, {"error", st.error().message()}});
      MarkFailed();
    }
  }

 private:
  // First reconnect delay and cap for a snapshot thread.
  static constexpr RetryPolicy kRetry{.base = milliseconds(500), .cap = milliseconds(30000)};

  Result<Outcome> Attempt(Supervisor::Session& session) {
    if (!progress_) {
      auto c = pg::Conn::Open(o_.progress_db);
      if (!c) return Fail(c.error().Wrap("snapshot progress database"));
      progress_ = std::move(*c);
    }
    if (!data_) {
      auto c = pg::Conn::Open(o_.database_url);
      if (!c) return Fail(c.error());
      if (auto st = snapshot::PrepareSession(*c); !st) return Fail(st.error());
      data_ = std::move(*c);
    }
    session.Up();
    if (!loaded_) {
      auto st = Load();
      if (!st) return Fail(st.error());
      if (!*st) return Outcome::kFinished;
      loaded_ = true;
    }
    if (!announced_) {
      EventBatch b;
      b.events.push_back(
          ControlEvent("SNAPSHOT_STARTED", StartedPayload(o_.chunk_size, id_, table_)));
      if (!publish_(std::move(b))) return Outcome::kInterrupted;
      announced_ = true;
      log::Info("incremental snapshot started", {{"table", table_},
                                                 {"snapshot_id", id_},
                                                 {"key", EncodeKey(key_columns_)},
                                                 {"resume_after", EncodeKey(last_key_)}});
    }
    for (;;) {
      if (stop_.stop_requested()) return Outcome::kInterrupted;
      if (auto st = snapshot::BeginSnapshotTransaction(*data_); !st) return Fail(st.error());
      snapshot::SnapshotOptions so;
      so.table = table_;
      so.snapshot_id = id_;
      so.batch_size = o_.chunk_size;
      so.source = kIncrementalSource;
      so.key_columns = key_columns_;
      so.after = last_key_;
      so.limit = o_.chunk_size;
      snapshot::TableSnapshot ts(*data_, catalog_, so);
      auto stats = ts.Run(publish_, {}, stop_);
      (void)data_->Exec(stats && stats->completed ? "COMMIT" : "ROLLBACK");
      if (!stats) return Fail(stats.error());
      if (!stats->completed) return Outcome::kInterrupted;
      M().chunks.Inc();
      M().rows.Inc(stats->rows);
      rows_ += stats->rows;
      if (!stats->last_key.empty()) last_key_ = stats->last_key;
      // Save progress only for rows every sink has delivered: a crash then
      // re-reads anything that was still in flight.
      if (wait_ && !wait_(stop_)) return Outcome::kInterrupted;
      auto saved = progress_->Query(
          "UPDATE pgcdc_snapshot_progress SET last_pk = $2::jsonb, rows_processed = $3::bigint, "
          "updated_at = now() WHERE snapshot_id = $1 AND status = 'running' RETURNING 1",
          {id_, last_key_.empty() ? std::nullopt : std::optional(EncodeKey(last_key_)),
           std::to_string(rows_)});
      if (!saved) return Fail(saved.error().Wrap("save progress"));
      if (saved->empty()) {
        log::Info("incremental snapshot no longer running (stopped)",
                  {{"table", table_}, {"snapshot_id", id_}});
        return Outcome::kFinished;
      }
      if (stats->rows < o_.chunk_size) break;
      if (o_.chunk_delay.count() > 0 && !session.sleeper().SleepFor(o_.chunk_delay)) {
        return Outcome::kInterrupted;
      }
    }
    auto done = progress_->Query(
        "UPDATE pgcdc_snapshot_progress SET status = 'completed', updated_at = now() "
        "WHERE snapshot_id = $1 AND status = 'running' RETURNING 1",
        {id_});
    if (!done) return Fail(done.error().Wrap("save progress"));
    if (done->empty()) return Outcome::kFinished;  // stopped at the last moment
    const auto ms = std::chrono::duration_cast<milliseconds>(Clock::now() - started_).count();
    EventBatch b;
    b.events.push_back(ControlEvent(
        "SNAPSHOT_COMPLETED", CompletedPayload(static_cast<int64_t>(ms), rows_, id_, table_)));
    (void)publish_(std::move(b));
    M().duration.Observe(static_cast<double>(ms) / 1000.0);
    log::Info("incremental snapshot completed", {{"table", table_},
                                                 {"snapshot_id", id_},
                                                 {"rows", rows_},
                                                 {"ms", static_cast<int64_t>(ms)}});
    return Outcome::kFinished;
  }

  // Reads the progress row and the primary key. false: not `running` (any
  // more): nothing to do.
  Result<bool> Load() {
    auto row = progress_->Query(
        "SELECT status, rows_processed::text FROM pgcdc_snapshot_progress "
        "WHERE snapshot_id = $1",
        {id_});
    if (!row) return Fail(row.error().Wrap("load progress"));
    if (row->empty() || row->at(0).at(0).value_or("") != "running") return false;
    rows_ = std::stoull(row->at(0).at(1).value_or("0"));
    auto key = progress_->Query(
        "SELECT e FROM pgcdc_snapshot_progress p, "
        "jsonb_array_elements_text(COALESCE(p.last_pk, '[]'::jsonb)) WITH ORDINALITY AS t(e, n) "
        "WHERE p.snapshot_id = $1 ORDER BY n",
        {id_});
    if (!key) return Fail(key.error().Wrap("load progress"));
    last_key_.clear();
    for (auto& r : *key) last_key_.push_back(r.at(0).value_or(""));

    auto name = snapshot::ParseTableName(table_);
    if (!name) return Fail(name.error());
    auto cols = data_->Query(kPrimaryKeyQuery, {name->Quoted()});
    if (!cols) return Fail(cols.error().Wrap("table \"" + table_ + "\""));
    key_columns_.clear();
    for (auto& r : *cols) key_columns_.push_back(r.at(0).value_or(""));
    if (key_columns_.empty()) {
      return Fail(ErrorCode::kInvalidArgument,
                  "table \"" + table_ +
                      "\" has no primary key (incremental snapshots read it in key order)");
    }
    if (!last_key_.empty() && last_key_.size() != key_columns_.size()) {
      return Fail(ErrorCode::kInvalidArgument, "saved last_pk " + EncodeKey(last_key_) +
                                                   " does not match the primary key " +
                                                   EncodeKey(key_columns_));
    }
    return true;
  }

  void MarkFailed() {
    if (!progress_ || !progress_->ok()) {
      progress_.reset();
      auto c = pg::Conn::Open(o_.progress_db);
      if (!c) return;
      progress_ = std::move(*c);
    }
    auto r = progress_->Query(
        "UPDATE pgcdc_snapshot_progress SET status = 'failed', updated_at = now() "
        "WHERE snapshot_id = $1 AND status = 'running'",
        {id_});
    if (!r) {
      log::Warn("incremental snapshot: cannot mark failed",
                {{"snapshot_id", id_}, {"error", r.error().message()}});
    }
  }

  const IncrementalOptions& o_;
  const IncrementalSnapshots::PublishFn& publish_;
  const IncrementalSnapshots::WaitFn& wait_;
  const std::string id_;
  const std::string table_;
  std::stop_token stop_;
  bool lost_ = false;  // the last failure was a lost connection
  const Clock::time_point started_ = Clock::now();
  std::optional<pg::Conn> data_;
  std::optional<pg::Conn> progress_;
  pgtypes::TypeCatalog catalog_;
  bool loaded_ = false;
  bool announced_ = false;
  std::vector<std::string> key_columns_;
  std::vector<std::string> last_key_;
  uint64_t rows_ = 0;
};

}  // namespace

void IncrementalSnapshots::RunJob(Job& job, std::stop_token stop) {
  Runner(options_, publish_, wait_, job.id, job.table, std::move(stop)).Run();
}

}  // namespace pgcdc::detector::wal
