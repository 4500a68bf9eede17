// wal detector (SPEC §2.2): PostgreSQL logical replication with pgoutput.
//
// Each cycle opens a replication connection, creates (or reuses) a slot,
// streams pgoutput protocol v2 (with streaming of in-progress transactions and
// logical messages) and turns changes into events via ChangeBuilder.
//
// Delivery guarantee: the position reported to the server (and saved in
// pgcdc_checkpoints with --persistent-slot) only advances to the end of a
// transaction once every adapter has finished with every event up to it
// (AckTracker). After a crash or reconnect the server resends from there:
// at-least-once, never a gap. With a temporary slot (default) the slot
// disappears with the connection, so changes made while pgcdc is down are not
// seen — use --persistent-slot for durable capture.
//
// A persistent slot is checked at every (re)connect (slot_guard.h): when it
// lost changes (invalidated, missing, or consumed by someone else) the
// detector stops with a clear error (--on-slot-lost fail) or recreates it and
// exports the publication's tables from its snapshot, between two pgcdc:_gap
// events (resnapshot). On PostgreSQL 17 it is created as a failover slot.
//
// With --incremental-snapshot, committed INSERTs into the signal table start
// and stop chunked table snapshots that run on their own threads next to the
// stream (see incremental_snapshot.h).
//
// Thread: Run() executes on the pipeline's detector thread.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "core/backoff.h"
#include "core/mutex.h"
#include "core/supervisor.h"
#include "detector/detector.h"
#include "detector/wal/change_builder.h"
#include "detector/wal/incremental_snapshot.h"
#include "registry/registry.h"

namespace pgcdc::schema {
class Store;
}  // namespace pgcdc::schema

namespace pgcdc::detector::wal {

// Also the connector's config struct: its parameters bind to these fields
// (nested ones too), whose initializers are the defaults. database_url and
// lag_poll_interval come from the core settings.
struct Options {
  std::string database_url;
  std::string publication;  // "all" with all_tables and none given
  bool all_tables = false;
  bool persistent_slot = false;
  std::string slot_name;      // persistent slot name (default pgcdc_<publication>)
  std::string checkpoint_db;  // default: database_url
  // Set by UseCheckpointBackend (a checkpoint plugin): used instead of the
  // pgcdc_checkpoints table in checkpoint_db. Not a configuration key.
  std::shared_ptr<pg::CheckpointBackend> checkpoint_backend;
  // Set by UseSchemaStore (--schema-store): every relation definition's
  // columns are registered there. Not a configuration key.
  std::shared_ptr<schema::Store> schema_store;
  // Accepted for compatibility (needs persistent_slot): the slot always
  // advances only past events every adapter acknowledged.
  bool cooperative_checkpoint = false;
  BuilderOptions builder;
  std::chrono::milliseconds heartbeat_interval{30000};  // 0 disables
  // Heartbeats upsert a row of this table ("t" or "schema.t"; created when
  // missing) instead of emitting a logical message. Its own row events are
  // not emitted (BuilderOptions::heartbeat_table).
  std::string heartbeat_table;
  std::chrono::milliseconds status_interval{10000};
  BackoffPolicy backoff;
  size_t max_batch = 1024;
  uint64_t slot_lag_warn = 100u << 20;                 // bytes; persistent slots only
  std::chrono::milliseconds lag_poll_interval{10000};  // with backpressure (core setting)
  bool snapshot_first = false;
  std::string snapshot_table;
  std::string snapshot_where;
  // --snapshot-state (with --persistent-slot): snapshot-first is read in
  // page-range chunks whose delivery is recorded in this file, so a restart
  // resumes it; "" = one transaction, a restart starts it over.
  std::string snapshot_state;
  int64_t snapshot_workers = 1;
  int64_t snapshot_chunk_pages = 1024;
  IncrementalOptions incremental;  // signal-table snapshots
  // A persistent slot that lost changes: "fail" ends the detector with an
  // error, "resnapshot" recreates the slot and exports every table of the
  // publication from its snapshot.
  std::string on_slot_lost = "fail";
  // PostgreSQL 17+: create the persistent slot with FAILOVER (and turn it on
  // for an existing one) so standbys keep it across a failover.
  bool failover_slot = true;
};

// The replication side of one cycle (defined in wal_detector.cc).
struct SlotSession;

// `pgcdc doctor`: the server's prerequisites (doctor.cc); read-only.
CheckList CheckServer(const Options& options);

class WalDetector : public Detector {
 public:
  explicit WalDetector(Options options);
  std::string_view Name() const override { return "wal"; }
  Status Run(RunContext& ctx) override;
  Status UseCheckpointBackend(std::shared_ptr<pg::CheckpointBackend> backend) override;
  Status UseSchemaStore(std::shared_ptr<schema::Store> store) override;

 private:
  struct Cycle;
  // One connect-and-stream cycle (run by the Supervisor).
  Status RunCycle(detector::RunContext& ctx, Supervisor::Session& session);
  Status RunSnapshotFirst(Cycle& cycle, const std::string& snapshot_name,
                          detector::RunContext& ctx);
  // --snapshot-state: the chunked, resumable export (snapshot_detector.h)
  // on the slot's snapshot, or on a new one when resuming.
  Status RunChunkedSnapshotFirst(const SlotSession& s, detector::RunContext& ctx);
  // The slot lost changes: reports it, then fails (on_slot_lost "fail") or
  // recreates the slot with an exported snapshot.
  Status HandleSlotLoss(SlotSession& s, detector::RunContext& ctx);
  // After a recreated slot: the publication's tables from its snapshot,
  // between the pgcdc:_gap events.
  Status RunResnapshot(Cycle& cycle, const SlotSession& s, detector::RunContext& ctx);
  // Before START_REPLICATION: snapshot-first or resnapshot (then the start
  // is confirmed only once their events are delivered), else the start
  // position counts as confirmed.
  Status ExportBeforeStreaming(Cycle& cycle, const SlotSession& s, detector::RunContext& ctx);
  Options options_;
  uint64_t next_seq_ = 0;   // Event::seq counter, monotonic across cycles
  uint64_t confirmed_ = 0;  // last position confirmed to the server
  bool snapshot_done_ = false;
  // The snapshot-first state file is removed once a checkpoint covers it.
  bool snapshot_state_pending_ = false;
  // Slot guard (detector thread only).
  bool slot_lost_fatal_ = false;    // the cycle's error ends the detector
  bool retention_checked_ = false;  // start-up warnings given
  // After a resnapshot: the slot counts as recovered (health "slot" up) once
  // the position confirmed to the server reaches this.
  uint64_t recovering_until_ = 0;
  // Signal-table snapshots (when enabled); lives for one Run().
  std::unique_ptr<IncrementalSnapshots> incremental_;

  // Incremental-snapshot events travel through the WAL thread so they get
  // Event::seq numbers in publish order; their threads can then wait until
  // a chunk is delivered before saving its progress. Any thread may Push();
  // only the WAL thread drains.
  class SnapshotFeed {
   public:
    SnapshotFeed();
    ~SnapshotFeed();
    void Push(EventBatch&& batch);
    // Moves everything queued into `out`; resets the wake fd.
    void Drain(std::vector<EventBatch>& out);
    int fd() const { return fd_; }
    std::atomic<uint64_t> pushed{0};       // batches pushed
    std::atomic<uint64_t> drained{0};      // batches stamped by the WAL thread
    std::atomic<uint64_t> fed_through{0};  // highest seq given to fed events

   private:
    int fd_;
    Mutex mu_;
    std::vector<EventBatch> queue_ GUARDED_BY(mu_);
  };
  SnapshotFeed feed_;
  // Blocks until every batch pushed so far is delivered by every adapter.
  bool WaitFedDelivered(RunContext& ctx, std::stop_token stop);
};

}  // namespace pgcdc::detector::wal
