#include "detector/wal/wal_detector.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <deque>
#include <optional>
#include <random>
#include <utility>

#include "codec/pgoutput/pgoutput.h"
#include "codec/pgtypes/pgtypes.h"
#include "config/config.h"
#include "core/ack_poll.h"
#include "core/clock.h"
#include "core/health.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/sleep.h"
#include "core/time.h"
#include "core/uuid.h"
#include "detector/delivery.h"
#include "detector/wal/replication.h"
#include "detector/wal/slot_guard.h"
#include "pg/checkpoint_store.h"
#include "pg/conn.h"
#include "pipeline/ack_tracker.h"
#include "pipeline/backpressure.h"
#include "registry/define.h"
#include "schema/ref.h"
#include "schema/store.h"
#include "snapshot/snapshot_detector.h"
#include "snapshot/snapshot_state.h"
#include "snapshot/table_snapshot.h"

namespace pgcdc::detector::wal {

namespace {

using Clock = std::chrono::steady_clock;
// Batching under load (see the receive loop): a batch may wait up to kLinger
// for more events when the previous one was published less than kBusyGap ago.
constexpr std::chrono::microseconds kLinger{250};
constexpr std::chrono::microseconds kBusyGap{600};
using std::chrono::milliseconds;
// Shortest gap between two status updates sent because the confirmed
// position moved (the server asking, or status_interval, always send one).
constexpr milliseconds kMinStatusGap{500};
// At a stop inside a transaction, how long to read on for its commit.
constexpr milliseconds kFinishTransactionGrace{500};
// A lagging persistent slot is reported at most this often.
constexpr std::chrono::minutes kLagWarnInterval{1};
// An incremental-snapshot thread waiting for its chunk to be delivered looks
// this often (doubling from the first to the max pause).
constexpr std::chrono::microseconds kFeedPollFirst{100};
constexpr milliseconds kFeedPollMax{2};

struct Metrics {
  metrics::Counter& errors = metrics::DefaultCounter(
      "pgcdc_walreplication_errors_total", "WAL replication cycles that ended in an error.");
  metrics::Counter& events =
      metrics::DefaultCounter("pgcdc_wal_events_total", "Events produced by the wal detector.");
  metrics::Counter& value_errors =
      metrics::DefaultCounter("pgcdc_wal_value_errors_total",
                              "Column values that could not be typed and were emitted as strings.");
  metrics::Counter& heartbeat_rows = metrics::DefaultCounter(
      "pgcdc_wal_heartbeat_rows_total",
      "Changes of the --heartbeat-table seen in the stream and not emitted (the detector's own).");
  metrics::Gauge& received_lsn =
      metrics::DefaultGauge("pgcdc_wal_received_lsn", "Highest WAL position received.");
  metrics::Gauge& confirmed_lsn = metrics::DefaultGauge(
      "pgcdc_wal_confirmed_lsn",
      "WAL position confirmed to the server (all events up to it delivered).");
  metrics::Gauge& spool_bytes = metrics::DefaultGauge(
      "pgcdc_wal_spool_bytes", "Bytes buffered for open streamed transactions.");
  metrics::Gauge& spool_memory_bytes = metrics::DefaultGauge(
      "pgcdc_wal_spool_memory_bytes",
      "Memory the streamed-transaction spools hold (at most --detector-stream-memory).");
  metrics::Counter& spilled_bytes = metrics::DefaultCounter(
      "pgcdc_wal_spilled_bytes_total",
      "Bytes of streamed transactions written to spill files (beyond --detector-stream-memory).");
  metrics::Counter& checkpoints =
      metrics::DefaultCounter("pgcdc_checkpoint_total", "Checkpoints saved.");
  metrics::Gauge& slot_lag = metrics::DefaultGauge(
      "pgcdc_slot_lag_bytes", "Bytes of WAL the persistent slot has not confirmed yet.");
  metrics::Counter& slot_lost = metrics::DefaultCounter(
      "pgcdc_slot_lost_total",
      "Times the persistent slot was found to have lost changes (invalidated, missing, or "
      "consumed by another client).");
  metrics::Gauge& safe_wal_size = metrics::DefaultGauge(
      "pgcdc_slot_safe_wal_size_bytes",
      "WAL that can still be written before PostgreSQL invalidates the persistent slot "
      "(max_slot_wal_keep_size; absent when unlimited).");
  metrics::Counter& toast_hits = metrics::DefaultCounter(
      "pgcdc_toast_cache_hits_total", "Unchanged TOAST columns back-filled from the cache.");
  metrics::Counter& toast_misses =
      metrics::DefaultCounter("pgcdc_toast_cache_misses_total",
                              "UPDATEs with unchanged TOAST columns not found in the cache.");
  metrics::Counter& toast_evictions = metrics::DefaultCounter(
      "pgcdc_toast_cache_evictions_total",
      "Rows the TOAST cache dropped (least recently used, or their table changed shape).");
  metrics::Histogram& throttle_seconds =
      metrics::DefaultHistogram("pgcdc_backpressure_throttle_duration_seconds",
                                "Pauses in reading WAL under backpressure (yellow zone).",
                                {0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5});
  metrics::Gauge& toast_entries =
      metrics::DefaultGauge("pgcdc_toast_cache_entries", "Rows the TOAST cache holds.");
};

Metrics& M() { return metrics::Lazy<Metrics>(); }

// Registers a relation's columns in the schema store under
// "<schema>.<table>" and returns the version, which the relation's row events
// carry. A failure is logged and counted by the store; the stream goes on,
// those events carry no version, and the change builder tries again later.
Result<schema::Ref> RegisterSchema(schema::Store& store, const pgoutput::Relation& r) {
  std::vector<schema::Column> columns;
  columns.reserve(r.columns.size());
  for (const auto& c : r.columns) {
    const std::string_view name = pgtypes::TypeName(c.type_oid);
    columns.push_back(
        {.name = c.name,
         .type_oid = c.type_oid,
         .type_name = name.empty() ? "oid:" + std::to_string(c.type_oid) : std::string(name)});
  }
  const std::string subject =
      (r.namespace_name.empty() ? std::string("public") : r.namespace_name) + "." + r.name;
  auto registered = store.Register(subject, columns);
  if (!registered) {
    log::Warn(
        "wal: cannot register the table schema; its events carry no schema version until a "
        "retry succeeds",
        {{"subject", subject}, {"error", registered.error().message()}});
    return Fail(registered.error());
  }
  if (registered->created) {
    log::Info("schema version registered",
              {{"subject", subject}, {"version", registered->version}});
  }
  return schema::Ref{.subject = subject, .version = registered->version};
}

int64_t MillisSince(Clock::time_point start) {
  return static_cast<int64_t>(
      std::chrono::duration_cast<milliseconds>(Clock::now() - start).count());
}

std::string RandomSlotName() {
  static constexpr char kHex[] = "0123456789abcdef";
  std::random_device rd;
  std::string name = "pgcdc_";
  for (int i = 0; i < 8; ++i) name.push_back(kHex[rd() % 16]);
  return name;
}

// Creates the FOR ALL TABLES publication (--all-tables) or checks that the
// configured one exists.
Status EnsurePublication(pg::Conn& meta, const Options& o) {
  if (o.all_tables) {
    auto st =
        meta.Exec("CREATE PUBLICATION " + pg::QuoteIdentifier(o.publication) + " FOR ALL TABLES");
    if (!st && st.error().message().find("already exists") == std::string::npos) {
      return Fail(st.error().Wrap("create publication " + o.publication));
    }
    return Ok();
  }
  auto rows = meta.Query("SELECT 1 FROM pg_publication WHERE pubname = $1", {o.publication});
  if (!rows) return Fail(rows.error());
  if (rows->empty()) {
    return Fail(ErrorCode::kInvalidArgument,
                "publication \"" + o.publication +
                    "\" does not exist (create it, e.g. `pgcdc init --detector wal --table T "
                    "--publication " +
                    o.publication + " | psql`, or use --all-tables)");
  }
  return Ok();
}

// Opens the checkpoint store (--persistent-slot) and the replication
// connection.
Status Connect(const Options& o, std::unique_ptr<pg::CheckpointStore>& store, ReplicationConn& repl,
               SystemIdentity& identity) {
  if (o.persistent_slot && o.checkpoint_backend) {
    store = pg::CheckpointStore::WithBackend(o.checkpoint_backend);
  } else if (o.persistent_slot) {
    auto opened = pg::CheckpointStore::Open(o.checkpoint_db);
    if (!opened) return Fail(opened.error());
    store = std::move(*opened);
  }
  auto r = ReplicationConn::Open(o.database_url);
  if (!r) return Fail(r.error());
  repl = std::move(*r);
  auto id = repl.IdentifySystem();
  if (!id) return Fail(id.error());
  identity = std::move(*id);
  return Ok();
}

// A connection inside a read-only transaction on the slot's exported
// snapshot (snapshot-first, resnapshot).
Result<pg::Conn> OpenSnapshotConn(const std::string& url, const std::string& snapshot_name) {
  auto conn = pg::Conn::Open(url);
  if (!conn) return Fail(conn.error());
  if (auto st = snapshot::PrepareSession(*conn); !st) return Fail(st.error());
  if (auto st = snapshot::BeginSnapshotTransaction(*conn, snapshot_name); !st) {
    return Fail(st.error());
  }
  return conn;
}

}  // namespace

// The replication side of one cycle: connection, slot and start position.
struct SlotSession {
  std::unique_ptr<pg::CheckpointStore> store;  // --persistent-slot only
  ReplicationConn repl;
  std::string name;
  SlotInfo info;
  SystemIdentity identity;
  bool exists = false;         // a persistent slot of that name was there
  bool want_snapshot = false;  // --snapshot-first runs in this cycle
  // ... resuming the chunked export of an earlier run on the slot that run
  // created (--snapshot-state): no new slot, a new snapshot.
  bool resume_snapshot = false;
  uint64_t confirmed_flush = 0;  // the existing slot's confirmed_flush_lsn
  uint64_t start = 0;            // START_REPLICATION position
  uint64_t checkpoint = 0;       // saved position (persistent slot)
  // Set when the persistent slot lost changes (slot guard); the slot is left
  // as it was until HandleSlotLoss().
  std::optional<SlotLoss> loss;
  std::optional<GapWindow> gap;  // set once a lost slot was recreated
  bool failover = false;         // create (or switch) it as a failover slot
};

namespace {

// Persistent slot: loads the checkpoint and checks the slot (slot guard).
// Sets s.loss when it lost changes; turns failover on when wanted.
Status CheckPersistentSlot(pg::Conn& meta, SlotSession& s) {
  // The slot first, then the checkpoint: pgcdc saves a position before it
  // confirms it, so a checkpoint read later is never behind the slot's
  // confirmed position unless another client moved the slot.
  auto state = InspectSlot(meta, s.name);
  if (!state) return Fail(state.error());
  auto acknowledged = s.store->LoadAcknowledged(s.name);
  if (!acknowledged) return Fail(acknowledged.error());
  s.exists = state->exists;
  s.confirmed_flush = state->confirmed_flush;
  s.loss = DiagnoseSlot(*state, *acknowledged);
  if (s.loss || !state->exists || !s.failover || state->failover.value_or(true)) return Ok();
  if (auto st = s.repl.SetSlotFailover(s.name, true); !st) {
    log::Warn("wal: cannot make the slot a failover slot", {{"error", st.error().message()}});
  } else {
    log::Info("wal: slot is now a failover slot", {{"slot", s.name}});
  }
  return Ok();
}

// Opens the checkpoint store and the replication connection, checks a
// persistent slot and creates (or reuses) the slot. `snapshot_done`:
// --snapshot-first already ran. A lost slot is left alone (s.loss).
Result<SlotSession> OpenSlot(const Options& o, bool snapshot_done, pg::Conn& meta) {
  SlotSession s;
  if (auto st = Connect(o, s.store, s.repl, s.identity); !st) return Fail(st.error());
  s.name = o.persistent_slot ? o.slot_name : RandomSlotName();
  s.failover = UseFailover(o.failover_slot, !o.persistent_slot, s.repl.server_version());
  if (o.persistent_slot) {
    auto loaded = s.store->Load(s.name);
    if (!loaded) return Fail(loaded.error());
    s.checkpoint = *loaded;
    if (auto st = CheckPersistentSlot(meta, s); !st) return Fail(st.error());
    if (s.loss) return s;
  }
  // --snapshot-first: once per process, and for a persistent slot only until
  // its first checkpoint (which is saved only after the snapshot's events
  // were delivered).
  s.want_snapshot = o.snapshot_first && !snapshot_done && s.checkpoint == 0;
  if (s.want_snapshot && s.exists && !o.snapshot_state.empty()) {
    // An earlier run's chunked export: its slot still stands at the
    // snapshot's point (nothing was confirmed past it), so keep it and
    // export the chunks not yet delivered.
    auto state = snapshot::LoadSnapshotState(o.snapshot_state);
    if (!state) return Fail(ErrorCode::kConfig, state.error().message());
    s.resume_snapshot = state->has_value();
  }
  CreateSlotOptions create{.temporary = !o.persistent_slot,
                           .export_snapshot = s.want_snapshot && !s.resume_snapshot,
                           .failover = s.failover};
  auto info = s.repl.CreateSlot(s.name, create, &s.exists);
  if (!info) return Fail(info.error());
  if (s.want_snapshot && s.exists && !s.resume_snapshot) {
    // Left over from a run whose snapshot never completed: nothing was
    // confirmed past its start, so recreate it to get a snapshot that meets
    // the stream exactly.
    log::Info("wal: recreating slot for --snapshot-first", {{"slot", s.name}});
    if (auto st = s.repl.DropSlot(s.name); !st) return Fail(st.error());
    info = s.repl.CreateSlot(s.name, create, &s.exists);
    if (!info) return Fail(info.error());
  }
  s.info = std::move(*info);
  if (o.persistent_slot) {
    // The server never streams from before the slot's confirmed position, so
    // an older checkpoint is harmless; a newer one skips nothing delivered.
    s.start = s.checkpoint != 0 ? s.checkpoint : (s.exists ? 0 : s.info.consistent_point);
  } else {
    s.start = s.info.consistent_point;
  }
  return s;
}

}  // namespace

// State of one connect-and-stream cycle; also the builder's sink.
struct WalDetector::Cycle : ChangeSink {
  Cycle(WalDetector& d, RunContext& c) : det(d), ctx(c) {}

  // Streams from the started replication until a stop (Ok) or an error;
  // on a stop, publishes what is left and reports the final position.
  Status Stream(ChangeBuilder& builder, const Sleeper& sleeper);

  bool Emit(Event&& e) override {
    e.seq = ++det.next_seq_;
    if (batch.events.empty()) batch_started = Clock::now();
    batch.events.push_back(std::move(e));
    if (batch.events.size() >= det.options_.max_batch) return Publish();
    return true;
  }
  void Boundary(uint64_t lsn) override {
    pending.push_back({det.next_seq_, lsn});
    if (signals.empty()) return;
    // The transaction that inserted the signals has committed. Publish its
    // events first so the signal row precedes the snapshot's events.
    Publish();
    auto committed = std::move(signals);
    signals.clear();
    if (det.incremental_ == nullptr) return;
    for (const auto& s : committed) det.incremental_->HandleSignal(s);
  }
  void OnSignal(std::optional<std::string_view> signal,
                std::optional<std::string_view> payload) override {
    if (!signal) {
      log::Warn("incremental snapshot: signal row without a signal name ignored");
      return;
    }
    auto parsed = ParseSignal(*signal, payload);
    if (!parsed) {
      log::Warn("incremental snapshot: invalid signal ignored",
                {{"signal", *signal}, {"error", parsed.error().message()}});
      return;
    }
    signals.push_back(std::move(*parsed));
  }
  void ResolveTypes(const std::vector<uint32_t>& oids) override {
    if (meta == nullptr) return;
    auto rows = meta->Query(std::string(pgtypes::TypeCatalog::DescriptorQuery()),
                            {pgtypes::TypeCatalog::OidArrayLiteral(oids)});
    if (!rows) {
      log::Warn("wal: cannot look up column types; values will be strings",
                {{"error", rows.error().message()}});
      return;
    }
    if (auto st = catalog.ApplyDescriptorRows(*rows); !st) {
      log::Warn("wal: some type descriptors were malformed", {{"error", st.error().message()}});
    }
  }
  Result<std::optional<schema::Ref>> OnRelationDefined(const pgoutput::Relation& r) override {
    if (det.options_.schema_store == nullptr) return std::optional<schema::Ref>();
    auto ref = RegisterSchema(*det.options_.schema_store, r);
    if (!ref) return Fail(ref.error());
    return std::optional<schema::Ref>(std::move(*ref));
  }
  bool Publish() {
    if (batch.events.empty()) return true;
    last_publish = Clock::now();
    M().events.Inc(batch.events.size());
    const bool ok = ctx.publish(std::move(batch));
    batch = EventBatch{};
    return ok;
  }

  // Moves `confirmed` forward as far as delivered events allow.
  bool Advance(bool in_tx) {
    const uint64_t through = ctx.acks != nullptr ? ctx.acks->DeliveredThrough() : det.next_seq_;
    uint64_t c = det.confirmed_;
    while (!pending.empty() && pending.front().first <= through) {
      c = std::max(c, pending.front().second);
      pending.pop_front();
    }
    // Nothing outstanding: everything the server has sent (keepalive
    // position) is done.
    if (pending.empty() && !in_tx && batch.events.empty() && through >= det.next_seq_) {
      c = std::max(c, keepalive_end);
    }
    if (c == det.confirmed_) return false;
    det.confirmed_ = c;
    return true;
  }

  // ---- exports from the slot's snapshot (before streaming) ----

  // One table from `conn`'s snapshot through Emit(): its row count, or
  // kInvalidArgument (no such table, bad condition), kCancelled (stopping).
  Result<uint64_t> ExportTable(pg::Conn& conn, snapshot::SnapshotOptions so,
                               const std::stop_token& stop) {
    so.batch_size = det.options_.max_batch;
    snapshot::TableSnapshot ts(conn, catalog, std::move(so));
    if (auto st = ts.Describe(); !st) {
      return Fail(ErrorCode::kInvalidArgument, st.error().message());
    }
    auto stats = ts.Run(
        [this](EventBatch&& batch) {
          for (auto& e : batch.events) {
            if (!Emit(std::move(e))) return false;
          }
          return true;
        },
        {}, stop);
    if (!stats) return Fail(stats.error());
    if (!stats->completed) return Fail(ErrorCode::kCancelled, "interrupted");
    return stats->rows;
  }

  // Every table of `publication` (as `conn`'s snapshot sees it) between the
  // GAP and GAP_SNAPSHOT_COMPLETED events; returns the rows exported.
  Result<uint64_t> ExportPublication(pg::Conn& conn, const std::string& publication,
                                     const GapWindow& gap, const std::stop_token& stop) {
    auto rows = conn.Query(
        "SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1 "
        "ORDER BY schemaname, tablename",
        {publication});
    if (!rows) return Fail(rows.error().Wrap("list publication tables"));
    std::vector<pg::TableName> tables;
    std::vector<std::string> names;
    for (const auto& r : *rows) {
      tables.push_back({r.at(0).value_or(""), r.at(1).value_or("")});
      names.push_back(tables.back().Display());
    }
    if (!Emit(MakeGapEvent(gap, names))) return Fail(ErrorCode::kCancelled, "pipeline stopping");
    uint64_t total = 0;
    for (const auto& t : tables) {
      snapshot::SnapshotOptions so;
      so.table = t.Quoted();
      so.channel = ChannelFor(t.schema, t.name);  // as the stream names it
      auto n = ExportTable(conn, std::move(so), stop);
      if (!n) return Fail(n.error().Wrap(t.Display()));
      total += *n;
    }
    if (!Emit(MakeGapCompletedEvent(gap, names, total))) {
      return Fail(ErrorCode::kCancelled, "pipeline stopping");
    }
    return total;
  }

  // ---- steps of RunCycle's receive loop ----

  // Stamps and publishes the incremental-snapshot chunks queued by their
  // threads. Fails (kCancelled) when the pipeline stops accepting events.
  Status PublishFed(std::vector<EventBatch>& fed) {
    fed.clear();
    det.feed_.Drain(fed);
    if (fed.empty()) return Ok();
    for (auto& b : fed) {
      for (auto& e : b.events) {
        if (!Emit(std::move(e))) return Fail(ErrorCode::kCancelled, "pipeline stopping");
      }
    }
    if (!Publish()) return Fail(ErrorCode::kCancelled, "pipeline stopping");
    det.feed_.fed_through = det.next_seq_;
    det.feed_.drained += fed.size();
    return Ok();
  }

  // The next message, or none after the wait. With events waiting, only
  // takes what is already buffered: when the socket runs dry they are
  // published at once instead of after the next message or a full batch
  // (latency under a steady trickle). Exception: if the previous batch went
  // out very recently (thousands of commits per second), waits up to kLinger
  // from this batch's first event for more, so several events share one
  // hand-off instead of one thread wake-up each.
  Result<std::optional<std::string_view>> Receive(bool paused, int wake_fd) {
    if (paused) return std::optional<std::string_view>{};
    const std::chrono::microseconds wait =
        batch.events.empty() ? milliseconds(100) : milliseconds(0);
    auto msg = repl->Receive(wait, wake_fd, det.feed_.fd());
    if (msg && !msg->has_value() && !batch.events.empty()) {
      // Dry socket with events waiting (the clock is read only here, not per
      // message while data is buffered): linger under load.
      const auto now = Clock::now();
      const auto age = now - batch_started;
      if (now - last_publish < kBusyGap && age < kLinger) {
        msg = repl->Receive(std::chrono::duration_cast<std::chrono::microseconds>(kLinger - age),
                            wake_fd, det.feed_.fd());
      }
    }
    return msg;
  }

  // Decodes one CopyData message and feeds it to the builder.
  Status Handle(ChangeBuilder& builder, std::string_view msg, bool* reply_requested) {
    auto bytes = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(msg.data()), msg.size());
    auto rm = pgoutput::DecodeReplicationMessage(bytes);
    if (!rm) return Fail(rm.error());
    if (const auto* x = std::get_if<pgoutput::XLogData>(&*rm)) {
      received = std::max(received, x->wal_start);
      return builder.Handle(*x);
    }
    if (const auto* k = std::get_if<pgoutput::PrimaryKeepalive>(&*rm)) {
      keepalive_end = std::max(keepalive_end, k->wal_end);
      received = std::max(received, k->wal_end);
      *reply_requested = k->reply_requested;
    }
    return Ok();
  }

  void ExportStats(const ChangeBuilder& builder) {
    auto& m = M();
    m.received_lsn.Set(static_cast<double>(received));
    m.spool_bytes.Set(static_cast<double>(builder.spooled_bytes()));
    m.spool_memory_bytes.Set(static_cast<double>(builder.spool_memory_bytes()));
    // The builder counts per cycle; export the deltas.
    const auto& bs = builder.stats();
    m.value_errors.Inc(bs.value_errors - exported.value_errors);
    m.heartbeat_rows.Inc(bs.heartbeat_rows - exported.heartbeat_rows);
    m.toast_hits.Inc(bs.toast_hits - exported.toast_hits);
    m.toast_misses.Inc(bs.toast_misses - exported.toast_misses);
    m.spilled_bytes.Inc(bs.spilled_bytes - exported.spilled_bytes);
    exported = bs;
    m.toast_entries.Set(static_cast<double>(builder.toast_entries()));
    m.toast_evictions.Inc(builder.toast_evictions() - exported_toast_evictions);
    exported_toast_evictions = builder.toast_evictions();
  }

  // Saves the confirmed position as the checkpoint (persistent slot), then
  // sends it in a standby status update. Saving first keeps the slot's
  // confirmed_flush_lsn at or behind the checkpoint, which is how the slot
  // guard tells another client's consumption from ours; when the save fails,
  // the last saved position is confirmed instead.
  Status SendStatus(bool reply) {
    auto& m = M();
    uint64_t confirmed = det.confirmed_;
    if (store != nullptr && confirmed != 0) {
      if (auto st = store->Save(slot, confirmed); !st) {
        log::Warn("wal: checkpoint save failed; confirming the last saved position",
                  {{"error", st.error().message()}});
        confirmed = std::min(confirmed, saved);
      } else {
        saved = confirmed;
        m.checkpoints.Inc();
        // The checkpoint is past the snapshot-first export now: a restart
        // streams, so its resume file has done its job.
        if (det.snapshot_state_pending_) {
          det.snapshot_state_pending_ = false;
          if (auto rm = snapshot::RemoveSnapshotState(det.options_.snapshot_state); !rm) {
            log::Warn("wal: cannot remove the snapshot-first state file",
                      {{"error", rm.error().message()}});
          }
        }
      }
    }
    const auto msg = pgoutput::EncodeStandbyStatusUpdate(std::max(received, confirmed), confirmed,
                                                         confirmed, NowUnixNanos(), reply);
    if (auto st = repl->Send(msg); !st) return st;
    last_status = Clock::now();
    last_sent_confirmed = confirmed;
    m.confirmed_lsn.Set(static_cast<double>(confirmed));
    return Ok();
  }

  // After each message (or wait): advances the confirmed position, sends a
  // status update when due, measures the slot lag and emits heartbeats.
  Status ReportProgress(bool in_tx, bool reply_requested) {
    const auto& o = det.options_;
    const bool advanced = Advance(in_tx);
    if (det.recovering_until_ != 0 && det.confirmed_ >= det.recovering_until_) {
      // Every event of the resnapshot is delivered.
      det.recovering_until_ = 0;
      if (ctx.health != nullptr) ctx.health->Up("slot");
      log::Info("wal: gap covered; the recreated slot is streaming", {{"slot", slot}});
    }
    const auto now = Clock::now();
    if (reply_requested || now - last_status >= o.status_interval ||
        (advanced && det.confirmed_ != last_sent_confirmed && now - last_status >= kMinStatusGap)) {
      if (auto st = SendStatus(reply_requested); !st) return st;
    }
    CheckSlotLag(now);
    if (o.heartbeat_interval.count() > 0 && now - last_heartbeat >= o.heartbeat_interval) {
      last_heartbeat = now;
      // A non-transactional logical message travels through the slot without
      // touching any table, so an idle database's slot keeps advancing; or,
      // with --heartbeat-table, an upsert of that table's one row.
      Status hb = o.heartbeat_table.empty() ? HeartbeatMessage() : HeartbeatRow();
      if (!hb) log::Warn("wal: heartbeat failed", {{"error", hb.error().message()}});
    }
    return Ok();
  }

  Status HeartbeatMessage() {
    auto r = meta->Query("SELECT pg_logical_emit_message(false, $1, '')",
                         {det.options_.builder.heartbeat_prefix});
    return r ? Ok() : Status(Fail(r.error()));
  }

  // --heartbeat-table: the table is created on the first beat (so a
  // migration-less database works), then its row id 1 is upserted.
  Status HeartbeatRow() {
    const auto& t = *det.options_.builder.heartbeat_table;
    const std::string name = pg::QuoteIdentifier(t.schema) + "." + pg::QuoteIdentifier(t.name);
    if (!heartbeat_table_ready) {
      auto made = meta->Exec("CREATE TABLE IF NOT EXISTS " + name +
                             " (id integer PRIMARY KEY DEFAULT 1, last_beat timestamptz NOT NULL "
                             "DEFAULT now())");
      if (!made) return made;
      heartbeat_table_ready = true;
    }
    return meta->Exec("INSERT INTO " + name +
                      " (id, last_beat) VALUES (1, now()) ON CONFLICT (id) DO UPDATE SET last_beat "
                      "= EXCLUDED.last_beat");
  }

  // Persistent slot: how far the slot trails the server (metric, warning,
  // and the backpressure controller's input).
  void CheckSlotLag(Clock::time_point now) {
    const auto& o = det.options_;
    auto* bp = ctx.backpressure;
    const auto lag_interval =
        bp != nullptr ? std::min(o.status_interval, o.lag_poll_interval) : o.status_interval;
    if (!o.persistent_slot || now - last_lag_check < lag_interval) return;
    last_lag_check = now;
    auto lag = meta->Query(
        "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint::text, "
        "to_jsonb(s)->>'wal_status', to_jsonb(s)->>'safe_wal_size' "
        "FROM pg_replication_slots s WHERE slot_name = $1",
        {slot});
    if (!lag || lag->empty() || !lag->at(0).at(0)) return;
    const double bytes = std::stod(*lag->at(0).at(0));
    M().slot_lag.Set(bytes);
    CheckRetention(lag->at(0), now);
    if (bp != nullptr) bp->Update(static_cast<int64_t>(bytes));
    if (o.slot_lag_warn > 0 && bytes > static_cast<double>(o.slot_lag_warn) &&
        now - last_lag_warn >= kLagWarnInterval) {
      last_lag_warn = now;
      log::Warn("wal: replication slot is lagging",
                {{"slot", slot},
                 {"lag_bytes", static_cast<int64_t>(bytes)},
                 {"threshold", static_cast<uint64_t>(o.slot_lag_warn)}});
    }
  }

  // The slot's WAL reservation (wal_status, safe_wal_size of CheckSlotLag's
  // row): a gauge, and a warning while PostgreSQL may invalidate the slot.
  void CheckRetention(const pg::Row& row, Clock::time_point now) {
    if (row.size() > 2 && row[2]) M().safe_wal_size.Set(std::stod(*row[2]));
    if (row.size() < 2 || !row[1] || *row[1] != "unreserved") return;
    if (now - last_retention_warn < kLagWarnInterval) return;
    last_retention_warn = now;
    log::Warn(
        "wal: the slot's WAL is no longer reserved (wal_status unreserved): PostgreSQL "
        "invalidates it at the next checkpoint unless it catches up (max_slot_wal_keep_size)",
        {{"slot", slot}, {"safe_wal_size", row.size() > 2 && row[2] ? *row[2] : "?"}});
  }

  WalDetector& det;
  RunContext& ctx;
  pgtypes::TypeCatalog catalog;
  pg::Conn* meta = nullptr;
  ReplicationConn* repl = nullptr;
  pg::CheckpointStore* store = nullptr;  // --persistent-slot only
  uint64_t saved = 0;                    // last position saved in `store`
  std::string slot;
  // Clocks of the periodic duties (ReportProgress).
  Clock::time_point last_status{};
  Clock::time_point last_heartbeat{};
  bool heartbeat_table_ready = false;
  Clock::time_point last_lag_check{};
  Clock::time_point last_lag_warn{};
  Clock::time_point last_retention_warn{};
  uint64_t last_sent_confirmed = 0;
  BuilderStats exported;  // builder stats already added to the metrics
  uint64_t exported_toast_evictions = 0;
  EventBatch batch;
  Clock::time_point batch_started{};  // when the first event of `batch` was added
  Clock::time_point last_publish{};
  std::deque<std::pair<uint64_t, uint64_t>> pending;  // (last seq, lsn to confirm)
  uint64_t keepalive_end = 0;
  uint64_t received = 0;
  std::vector<Signal> signals;  // of the transaction being received
};

WalDetector::WalDetector(Options options) : options_(std::move(options)) {
  if (options_.slot_name.empty()) options_.slot_name = "pgcdc_" + options_.publication;
  if (options_.checkpoint_db.empty()) options_.checkpoint_db = options_.database_url;
}

Status WalDetector::UseCheckpointBackend(std::shared_ptr<pg::CheckpointBackend> backend) {
  if (!options_.persistent_slot) {
    return Fail(ErrorCode::kConfig,
                "--checkpoint-plugin needs --persistent-slot (a temporary slot keeps no "
                "checkpoints)");
  }
  options_.checkpoint_backend = std::move(backend);
  return Ok();
}

Status WalDetector::UseSchemaStore(std::shared_ptr<schema::Store> store) {
  options_.schema_store = std::move(store);
  return Ok();
}

Status WalDetector::Run(detector::RunContext& ctx) {
  if (options_.incremental.enabled) {
    incremental_ = std::make_unique<IncrementalSnapshots>(
        options_.incremental,
        [this](EventBatch&& b) {
          feed_.Push(std::move(b));
          return true;
        },
        [this, &ctx](std::stop_token stop) { return WaitFedDelivered(ctx, std::move(stop)); });
  }
  // Stops and joins the snapshot threads whichever way Run() returns.
  struct Reset {
    std::unique_ptr<IncrementalSnapshots>& p;
    ~Reset() { p.reset(); }
  } reset_incremental{incremental_};
  log::Info("starting detector",
            {{"detector", "wal"},
             {"db", pg::RedactUrl(options_.database_url)},
             {"publication", options_.publication},
             {"slot", options_.persistent_slot ? options_.slot_name : std::string("(temporary)")}});
  SupervisorOptions so = detector::SupervisorFor(ctx, "wal", M().errors, options_.backoff);
  // Mistakes a retry cannot fix (missing publication, bad slot name, no
  // permission) end the detector before it ever streamed.
  // A slot that lost changes ends it too with --on-slot-lost fail.
  so.is_fatal = [this, before_up = FatalBeforeUp(ErrorCode::kInvalidArgument)](const Error& error,
                                                                               bool ever_up) {
    return slot_lost_fatal_ || before_up(error, ever_up);
  };
  Supervisor supervisor(std::move(so), ctx.stop);
  return supervisor.Run([&](Supervisor::Session& session) { return RunCycle(ctx, session); });
}

WalDetector::SnapshotFeed::SnapshotFeed() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

WalDetector::SnapshotFeed::~SnapshotFeed() { ::close(fd_); }

void WalDetector::SnapshotFeed::Push(EventBatch&& batch) {
  {
    MutexLock lock(mu_);
    queue_.push_back(std::move(batch));
    ++pushed;
  }
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(fd_, &one, sizeof one);
}

void WalDetector::SnapshotFeed::Drain(std::vector<EventBatch>& out) {
  uint64_t v;
  [[maybe_unused]] auto n = ::read(fd_, &v, sizeof v);
  MutexLock lock(mu_);
  for (auto& b : queue_) out.push_back(std::move(b));
  queue_.clear();
}

bool WalDetector::WaitFedDelivered(detector::RunContext& ctx, std::stop_token stop) {
  // Ends on the snapshot thread's stop or the detector's.
  Sleeper sleeper(std::move(stop));
  std::stop_callback detector_stop(ctx.stop, [&sleeper] { sleeper.Interrupt(); });
  const PollOptions poll{.first_pause = kFeedPollFirst, .max_pause = kFeedPollMax};
  const uint64_t target_batches = feed_.pushed.load();
  // First the WAL thread must have stamped them (it may be reconnecting),
  // then every adapter must have finished with them.
  if (PollUntil([&] { return feed_.drained.load() >= target_batches; }, sleeper, poll) !=
      WaitResult::kDone) {
    return false;
  }
  if (ctx.acks == nullptr) return true;
  return WaitForAck(*ctx.acks, feed_.fed_through.load(), sleeper, poll) == WaitResult::kDone;
}

Status WalDetector::RunSnapshotFirst(Cycle& cycle, const std::string& snapshot_name,
                                     RunContext& ctx) {
  const auto started = Clock::now();
  auto conn = OpenSnapshotConn(options_.database_url, snapshot_name);
  if (!conn) return Fail(conn.error().Wrap("snapshot-first"));
  snapshot::SnapshotOptions so;
  so.table = options_.snapshot_table;
  so.where = options_.snapshot_where;
  // A missing table or bad WHERE will not fix itself (kInvalidArgument): stop.
  auto rows = cycle.ExportTable(*conn, std::move(so), ctx.stop);
  (void)conn->Exec(rows ? "COMMIT" : "ROLLBACK");
  if (!rows && rows.error().code() == ErrorCode::kCancelled) {
    return Fail(ErrorCode::kCancelled, "snapshot-first interrupted");
  }
  if (!rows) return Fail(rows.error().Wrap("snapshot-first"));
  if (!cycle.Publish()) return Fail(ErrorCode::kCancelled, "pipeline stopping");
  log::Info("snapshot-first complete",
            {{"table", options_.snapshot_table}, {"rows", *rows}, {"ms", MillisSince(started)}});
  return Ok();
}

Status WalDetector::RunChunkedSnapshotFirst(const SlotSession& s, RunContext& ctx) {
  const auto started = Clock::now();
  snapshot::SnapshotDetectorOptions so;
  so.database_url = options_.database_url;
  so.snapshot.table = options_.snapshot_table;
  so.snapshot.where = options_.snapshot_where;
  so.snapshot.batch_size = options_.max_batch;
  // Resuming: the slot's snapshot died with its connection; a new one shows
  // every change the stream (from the slot's point) will also replay.
  so.snapshot_name = s.resume_snapshot ? std::string() : s.info.snapshot_name;
  so.workers = static_cast<size_t>(options_.snapshot_workers);
  so.chunk_pages = static_cast<uint64_t>(options_.snapshot_chunk_pages);
  so.state_path = options_.snapshot_state;
  so.remove_state_when_done = false;  // once the slot's checkpoint covers it
  so.first_seq = next_seq_;
  snapshot::SnapshotDetector export_run(std::move(so));
  const Status st = export_run.Run(ctx);
  next_seq_ = std::max(next_seq_, export_run.last_seq());
  if (!st) {
    const ErrorCode code =
        st.error().code() == ErrorCode::kNotFound ? ErrorCode::kInvalidArgument : st.error().code();
    return Fail(code, "snapshot-first: " + st.error().message());
  }
  if (!export_run.completed()) return Fail(ErrorCode::kCancelled, "snapshot-first interrupted");
  snapshot_state_pending_ = true;
  log::Info("snapshot-first complete", {{"table", options_.snapshot_table},
                                        {"rows", export_run.rows()},
                                        {"chunks_resumed", export_run.chunks_skipped()},
                                        {"resumed", s.resume_snapshot},
                                        {"ms", MillisSince(started)}});
  return Ok();
}

Status WalDetector::HandleSlotLoss(SlotSession& s, RunContext& ctx) {
  const SlotLoss& loss = *s.loss;
  M().slot_lost.Inc();
  log::Error("wal: the replication slot lost changes",
             {{"slot", s.name},
              {"reason", loss.reason},
              {"last_delivered_lsn", pgoutput::FormatLsn(loss.from_lsn)},
              {"on_slot_lost", options_.on_slot_lost}});
  const std::string what = "replication slot \"" + s.name + "\" lost changes after " +
                           pgoutput::FormatLsn(loss.from_lsn) + ": " + loss.reason;
  if (ctx.health != nullptr) ctx.health->Down("slot", what);
  if (options_.on_slot_lost != "resnapshot") {
    slot_lost_fatal_ = true;
    return Fail(ErrorCode::kInvalidArgument,
                what +
                    ". pgcdc stops (--on-slot-lost fail). Restart with --on-slot-lost resnapshot "
                    "to recreate the slot and export the publication's tables, or drop the slot "
                    "and its checkpoint (pgcdc slot drop --name " +
                    s.name + ") to start over without them");
  }
  GapWindow gap{.slot = s.name, .reason = loss.reason, .from_lsn = loss.from_lsn};
  if (auto at = s.store->SavedAt(s.name)) gap.from_time_ns = *at;
  // A lost slot cannot stream and one consumed by another client must not
  // be shared: start over with a new slot and its exported snapshot.
  if (s.exists) {
    if (auto st = s.repl.DropSlot(s.name); !st) return st;
  }
  CreateSlotOptions create{.export_snapshot = true, .failover = s.failover};
  auto info = s.repl.CreateSlot(s.name, create, &s.exists);
  if (!info) return Fail(info.error());
  if (s.exists) return Fail(ErrorCode::kConnection, "slot " + s.name + " was created meanwhile");
  s.info = std::move(*info);
  s.start = s.info.consistent_point;
  gap.to_lsn = s.info.consistent_point;
  gap.to_time_ns = NowUnixNanos();
  log::Warn("wal: slot recreated; exporting the publication's tables to cover the gap",
            {{"slot", s.name},
             {"from_lsn", pgoutput::FormatLsn(gap.from_lsn)},
             {"to_lsn", pgoutput::FormatLsn(gap.to_lsn)}});
  s.gap = std::move(gap);
  return Ok();
}

Status WalDetector::RunResnapshot(Cycle& cycle, const SlotSession& s, RunContext& ctx) {
  const auto started = Clock::now();
  auto conn = OpenSnapshotConn(options_.database_url, s.info.snapshot_name);
  if (!conn) return Fail(conn.error().Wrap("resnapshot"));
  auto rows = cycle.ExportPublication(*conn, options_.publication, *s.gap, ctx.stop);
  (void)conn->Exec(rows ? "COMMIT" : "ROLLBACK");
  if (!rows) return Fail(rows.error().Wrap("resnapshot"));
  if (!cycle.Publish()) return Fail(ErrorCode::kCancelled, "pipeline stopping");
  log::Info("wal: resnapshot exported",
            {{"slot", s.name}, {"rows", *rows}, {"ms", MillisSince(started)}});
  return Ok();
}

Status WalDetector::ExportBeforeStreaming(Cycle& cycle, const SlotSession& s, RunContext& ctx) {
  if (!s.want_snapshot && !s.gap) {
    if (confirmed_ < s.start) confirmed_ = s.start;
    return Ok();
  }
  // The exported snapshot shows the database exactly at the slot's
  // consistent point: rows from it, then the stream from that point, gives
  // no gap and no overlap. The replication connection must stay idle until
  // the snapshot transaction has started.
  if (s.gap) {
    if (auto st = RunResnapshot(cycle, s, ctx); !st) return st;
    recovering_until_ = s.info.consistent_point;
  } else if (!options_.snapshot_state.empty()) {
    if (auto st = RunChunkedSnapshotFirst(s, ctx); !st) return st;
  } else if (auto st = RunSnapshotFirst(cycle, s.info.snapshot_name, ctx); !st) {
    return st;
  }
  // Confirm the start only once every snapshot event has been delivered.
  cycle.Boundary(s.resume_snapshot ? s.confirmed_flush : s.info.consistent_point);
  confirmed_ = 0;
  snapshot_done_ = true;
  return Ok();
}

Status WalDetector::RunCycle(detector::RunContext& ctx, Supervisor::Session& session) {
  const Sleeper& sleeper = session.sleeper();
  // Regular connection: publication check, slot checks, type lookups,
  // heartbeats.
  auto meta = pg::Conn::Open(options_.database_url);
  if (!meta) return Fail(meta.error());
  if (auto st = EnsurePublication(*meta, options_); !st) return st;
  auto opened = OpenSlot(options_, snapshot_done_, *meta);
  if (!opened) return Fail(opened.error());
  if (opened->loss) {
    if (auto st = HandleSlotLoss(*opened, ctx); !st) return st;
  }
  if (options_.persistent_slot && !retention_checked_) {
    retention_checked_ = true;
    WarnAboutRetention(*meta, opened->name, options_.heartbeat_interval.count() > 0);
  }
  const std::string& slot = opened->name;
  const uint64_t start = opened->start;

  Cycle cycle(*this, ctx);
  cycle.meta = &*meta;
  cycle.repl = &opened->repl;
  cycle.store = opened->store.get();
  cycle.saved = opened->checkpoint;
  cycle.slot = slot;
  if (auto st = ExportBeforeStreaming(cycle, *opened, ctx); !st) return st;
  if (auto st = opened->repl.StartReplication(slot, start, {options_.publication}, 2); !st) {
    return st;
  }

  BuilderOptions bopts = options_.builder;
  // Event ids are stable per database and publication (the publication decides
  // which changes a transaction has, so the ordinals), whatever the slot.
  bopts.id_origin = PositionOrigin(opened->identity.system_id + "/" + opened->identity.dbname +
                                   "/" + options_.publication);
  ChangeBuilder builder(bopts, cycle.catalog, cycle);
  builder.set_protocol_version(2);

  session.Up();
  log::Info("streaming", {{"detector", "wal"},
                          {"slot", slot},
                          {"start_lsn", pgoutput::FormatLsn(start)},
                          {"created", !opened->exists}});
  // (Re)connected: carry on with snapshots a crash or disconnect interrupted.
  if (incremental_ != nullptr) incremental_->ResumeRunning();

  return cycle.Stream(builder, sleeper);
}

Status WalDetector::Cycle::Stream(ChangeBuilder& builder, const Sleeper& sleeper) {
  last_status = Clock::now();
  last_heartbeat = Clock::now();
  last_lag_check = Clock::now() - det.options_.status_interval;

  auto* bp = ctx.backpressure;
  std::vector<EventBatch> fed;
  // The loop below notices a stop itself.
  auto sleep_unless_stopped = [&](milliseconds d) { (void)sleeper.SleepFor(d); };
  while (!ctx.stop.stop_requested()) {
    // Backpressure: in red stop reading WAL (but keep reporting status);
    // in yellow slow down in proportion to the lag.
    const bool paused = bp != nullptr && bp->Paused();
    if (bp != nullptr && !paused) {
      if (const auto t = bp->Throttle(); t.count() > 0) {
        M().throttle_seconds.Observe(std::chrono::duration<double>(t).count());
        sleep_unless_stopped(t);
      }
    }
    if (paused) sleep_unless_stopped(milliseconds(100));
    // Incremental-snapshot chunks: stamp and publish them from this thread.
    if (auto st = PublishFed(fed); !st) return st;
    auto msg = Receive(paused, sleeper.fd());
    if (!msg) return Fail(msg.error());
    bool reply_requested = false;
    if (msg->has_value()) {
      if (auto st = Handle(builder, **msg, &reply_requested); !st) return st;
    } else {
      // Nothing buffered right now: hand what we have to the bus.
      if (!Publish()) return Fail(ErrorCode::kCancelled, "pipeline stopping");
    }
    ExportStats(builder);
    if (auto st = ReportProgress(builder.in_transaction(), reply_requested); !st) return st;
  }
  // Orderly stop. A transaction whose first events went out before its
  // commit was read (the commit is usually in the socket already) is read on,
  // briefly, so that it can be confirmed with the rest.
  const auto until = Clock::now() + kFinishTransactionGrace;
  while (builder.in_transaction() && Clock::now() < until) {
    auto msg = repl->Receive(milliseconds(20), -1, -1);
    if (!msg) break;
    bool reply_requested = false;
    if (msg->has_value() && !Handle(builder, **msg, &reply_requested)) break;
  }
  // Then publish what we have, let the adapters finish it, and report the
  // final position (which then covers everything delivered).
  Publish();
  if (!FinishAfterStop(ctx, det.next_seq_, RealClock(), kStopGrace)) {
    log::Warn(
        "wal: stopped before the adapters finished; the slot resumes at the last delivered "
        "event, and what follows it comes again after the restart",
        {{"slot", slot}});
  }
  Advance(builder.in_transaction());
  (void)SendStatus(false);
  return Ok();
}

namespace {

using O = Options;

// The persistent slot's safety parameters (lag, loss, failover).
std::vector<ParamSpec> SlotParams() {
  return FlagsFromKeys(
      "detector.", "",
      {
          Param("detector.slot_lag_warn", &O::slot_lag_warn,
                "warn when the persistent slot lags the server by more than this many bytes",
                {.min = 0}),
          Param("detector.on_slot_lost", &O::on_slot_lost,
                "when the persistent slot lost changes (invalidated by "
                "max_slot_wal_keep_size, missing after a failover, consumed by another "
                "client): fail = stop with an error; resnapshot = recreate it and export the "
                "publication's tables between pgcdc:_gap events",
                {.choices = {"fail", "resnapshot"}}),
          Param("detector.failover_slot", &O::failover_slot,
                "PostgreSQL 17+: make the persistent slot a failover slot, synchronized to "
                "standbys (ignored on older servers)"),
      });
}

// The wal detector's parameters. The detector.* flags are the keys without
// "detector." (--tx-metadata), the incremental_snapshot.* ones
// --snapshot-<name>, unless a parameter names its own.
std::vector<ParamSpec> WalParams() {
  return Params({
      FlagsFromKeys(
          "detector.", "",
          {
              Param("detector.publication", &O::publication,
                    "publication to stream (required unless --all-tables)"),
              Param("detector.all_tables", &O::all_tables,
                    "create (if missing) and stream a FOR ALL TABLES publication"),
              Param("detector.persistent_slot", &O::persistent_slot,
                    "use a named, durable slot and resume from the last delivered position"),
              Param("detector.slot_name", &O::slot_name,
                    "persistent slot name (default pgcdc_<publication>)"),
              Param("detector.checkpoint_db", &O::checkpoint_db,
                    "database holding pgcdc_checkpoints (default --db)"),
              Param("detector.tx_metadata", &O::builder, &BuilderOptions::tx_metadata,
                    "add a transaction block (xid, commit_time, seq) to row events"),
              Param("detector.tx_markers", &O::builder, &BuilderOptions::tx_markers,
                    "emit BEGIN/COMMIT events on pgcdc:_txn (implies --tx-metadata)"),
              Param("detector.include_schema", &O::builder, &BuilderOptions::include_schema,
                    "add schema and columns (name, type) to row payloads"),
              Param("detector.schema_events", &O::builder, &BuilderOptions::schema_events,
                    "emit SCHEMA_CHANGE events on pgcdc:_schema when a table's columns change"),
              Param(
                  "detector.heartbeat_interval", &O::heartbeat_interval,
                  "emit a logical message this often so an idle slot keeps advancing (0 disables)"),
              Param("detector.heartbeat_table", &O::heartbeat_table,
                    "upsert heartbeats into this table (created if missing; \"t\" or "
                    "\"schema.t\") instead of emitting logical messages; its row events are "
                    "not emitted"),
              Param("detector.status_interval", &O::status_interval,
                    "longest time between standby status updates to the server",
                    {.flag = "detector-status-interval", .min = 100}),
              Param("detector.cooperative_checkpoint", &O::cooperative_checkpoint,
                    "accepted for compatibility: the slot always advances only past events every "
                    "adapter acknowledged"),
              Param("detector.stream_memory", &O::builder, &BuilderOptions::spool_memory_bytes,
                    "bytes of in-progress streamed transactions kept in memory before spilling to "
                    "temp files",
                    {.flag = "detector-stream-memory", .min = 0}),
              Param("detector.snapshot_first", &O::snapshot_first,
                    "before streaming, export --snapshot-table from the slot's own snapshot (no "
                    "gap, no overlap)"),
              Param("snapshot.table", &O::snapshot_table,
                    "table exported by --snapshot-first (schema.table allowed)"),
              Param("snapshot.where", &O::snapshot_where,
                    "optional SQL condition for --snapshot-first (trusted input)"),
              Param("snapshot.state", &O::snapshot_state,
                    "with --persistent-slot: --snapshot-first reads page-range chunks and records "
                    "the delivered ones in this file, so a restart after a crash resumes the "
                    "export instead of starting it over",
                    {.flag = "snapshot-state"}),
              Param("snapshot.workers", &O::snapshot_workers,
                    "with --snapshot-state: connections reading chunks in parallel",
                    {.flag = "snapshot-workers", .min = 1, .max = 64}),
              Param("snapshot.chunk_pages", &O::snapshot_chunk_pages,
                    "with --snapshot-state: table pages (8 KiB each) per chunk",
                    {.flag = "snapshot-chunk-pages", .min = 1, .max = 1'000'000'000}),
              Param("detector.toast_cache", &O::builder, &BuilderOptions::toast_cache,
                    "back-fill unchanged TOAST columns of UPDATEs from recently seen rows"),
              Param("detector.toast_cache_max_entries", &O::builder,
                    &BuilderOptions::toast_cache_max_entries, "rows kept by the TOAST cache (LRU)",
                    {.min = 1}),
          }),
      SlotParams(),
      FlagsFromKeys(
          "incremental_snapshot.", "snapshot-",
          {
              Param("incremental_snapshot.enabled", &O::incremental, &IncrementalOptions::enabled,
                    "act on execute-snapshot/stop-snapshot rows inserted into the signal table "
                    "(chunked snapshots next to the stream)",
                    {.flag = "incremental-snapshot"}),
              Param("incremental_snapshot.signal_table", &O::incremental,
                    &IncrementalOptions::signal_table,
                    "signal table (schema.table allowed; must be in the publication)"),
              Param("incremental_snapshot.chunk_size", &O::incremental,
                    &IncrementalOptions::chunk_size, "rows per incremental snapshot chunk",
                    {.min = 1}),
              Param("incremental_snapshot.chunk_delay", &O::incremental,
                    &IncrementalOptions::chunk_delay, "pause between incremental snapshot chunks",
                    {.min = 0}),
              Param("incremental_snapshot.progress_db", &O::incremental,
                    &IncrementalOptions::progress_db,
                    "database holding pgcdc_snapshot_progress (default --db)"),
          }),
      ReconnectParams<O>("detector"),
  });
}

void Validate(const O& o, const Context& ctx, Errors& errors) {
  if (ctx.core.database_url.empty()) {
    errors.push_back("database_url: required for detector wal (--db or PGCDC_DATABASE_URL)");
  }
  if (o.publication.empty() && !o.all_tables) {
    errors.push_back(
        "detector.publication: required for detector wal (--publication P, or --all-tables)");
  }
  if (o.persistent_slot && ctx.core.bus_mode == "fast") {
    errors.push_back(
        "bus.mode: fast mode drops events when an adapter falls behind, which would leave gaps "
        "behind a persistent slot; use --bus-mode reliable (the default with --persistent-slot)");
  }
  if (o.snapshot_first && o.snapshot_table.empty()) {
    errors.push_back("snapshot.table: --snapshot-first needs --snapshot-table");
  }
  if (!o.snapshot_state.empty() && (!o.snapshot_first || !o.persistent_slot)) {
    errors.push_back(
        "snapshot.state: a resumable --snapshot-first needs --snapshot-first and "
        "--persistent-slot (a temporary slot cannot be resumed after a restart)");
  }
  if (o.on_slot_lost == "resnapshot" && !o.persistent_slot) {
    errors.push_back("detector.on_slot_lost: resnapshot requires --persistent-slot");
  }
  if (o.cooperative_checkpoint && !o.persistent_slot) {
    errors.push_back("detector.cooperative_checkpoint: requires --persistent-slot");
  }
  if (o.incremental.enabled) {
    if (auto t = ParseSignalTable(o.incremental.signal_table); !t) {
      errors.push_back("incremental_snapshot.signal_table: " + t.error().message());
    }
  }
  if (!o.heartbeat_table.empty()) {
    if (auto t = ParseSignalTable(o.heartbeat_table); !t) {
      errors.push_back("detector.heartbeat_table: " + t.error().message());
    }
  }
  ValidateBackoff("detector", o.backoff, errors);
}

// The settings both the detector and `pgcdc doctor` derive from the core
// configuration: the database, the --all-tables publication, the slot name.
void ApplyContext(O& o, const Context& ctx) {
  o.database_url = ctx.core.database_url;
  if (o.publication.empty() && o.all_tables) o.publication = "all";
  if (o.slot_name.empty()) o.slot_name = "pgcdc_" + o.publication;
}

Result<DetectorPtr> Make(O o, const Context& ctx) {
  ApplyContext(o, ctx);
  o.lag_poll_interval = ctx.core.backpressure.poll_interval;
  o.incremental.database_url = o.database_url;
  if (o.incremental.enabled) {
    auto t = ParseSignalTable(o.incremental.signal_table);
    if (!t) return Fail(t.error());
    o.builder.signal_table = std::move(*t);
  }
  if (!o.heartbeat_table.empty()) {
    auto t = ParseSignalTable(o.heartbeat_table);
    if (!t) return Fail(t.error());
    o.builder.heartbeat_table = std::move(*t);
  }
  return std::make_unique<WalDetector>(std::move(o));
}

}  // namespace

ConnectorInfo Connector() {
  return DefineDetector<Options>({
      .name = "wal",
      .description =
          "PostgreSQL logical replication (pgoutput v2): typed row values, streamed large "
          "transactions, TRUNCATE, logical messages. With --persistent-slot the slot only "
          "advances past events every adapter has delivered: at-least-once across crashes.",
      .params = WalParams(),
      .validate = Validate,
      .make = Make,
      .check =
          [](O o, const Context& ctx) {
            ApplyContext(o, ctx);
            return CheckServer(o);
          },
  });
}

}  // namespace pgcdc::detector::wal

PGCDC_REGISTER_CONNECTOR(detector, wal, pgcdc::detector::wal::Connector)
