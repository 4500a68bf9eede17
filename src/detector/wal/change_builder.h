// ChangeBuilder: turns decoded pgoutput messages into pgcdc events (SPEC
// §1.5.2, §1.5.5, §1.5.6) and marks where the source may be confirmed.
//
// Owns the relation cache, the transaction state and the spools of streamed
// (in-progress) transactions. Streamed transactions are buffered until their
// Stream Commit — events of an aborted transaction or subtransaction are
// never emitted — in memory up to a budget, then in an unlinked temp file, so
// a transaction of any size never has to fit in RAM (tx_spool.h). On Stream
// Commit the spool is replayed with the relation definitions that were valid
// inside it, and its memory is freed as it is replayed.
//
// Pure with respect to I/O besides the spill files: no sockets, no libpq. One
// owner thread (the wal detector's).
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "codec/pgoutput/pgoutput.h"
#include "codec/pgtypes/pgtypes.h"
#include "core/backoff.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/event.h"
#include "detector/wal/signal.h"
#include "detector/wal/toast_cache.h"
#include "detector/wal/tx_spool.h"
#include "schema/ref.h"

namespace pgcdc::detector::wal {

inline constexpr size_t kDefaultSpoolMemoryBytes = 16u << 20;

struct BuilderOptions {
  bool tx_metadata = false;  // `transaction` block on row events
  bool tx_markers = false;   // BEGIN/COMMIT events on pgcdc:_txn
  bool include_schema = false;
  bool schema_events = false;
  // Messages with this prefix are the detector's own heartbeats: they move the
  // confirmed position but are not emitted.
  std::string heartbeat_prefix = "pgcdc_heartbeat";
  // With --heartbeat-table: that table's changes are the detector's own
  // heartbeats (when the publication covers it) and are not emitted either.
  std::optional<SignalTable> heartbeat_table;
  // Bytes of streamed-transaction data kept in memory (all spools together,
  // counted as the chunks they allocate) before spilling to temp files.
  size_t spool_memory_bytes = kDefaultSpoolMemoryBytes;
  // Back-fill unchanged TOAST columns of UPDATEs from recently seen rows.
  bool toast_cache = false;
  size_t toast_cache_max_entries = 100000;
  std::string spool_dir;  // empty = $TMPDIR or /tmp
  // Origin of the deterministic event ids (core/uuid.h MakePositionUuid):
  // row events, logical messages and transaction markers get ids derived
  // from (commit LSN, ordinal in the transaction, origin), so a transaction
  // redelivered after a restart carries the ids of its first delivery.
  uint32_t id_origin = 0;
  // Incremental snapshots: INSERTs into this table are emitted as usual and
  // also handed to ChangeSink::OnSignal.
  std::optional<SignalTable> signal_table;
  // Time for retrying failed schema registrations (null: RealClock()).
  Clock* clock = nullptr;
  // Delays between those retries (full jitter, doubling up to the cap).
  RetryPolicy schema_retry{.base = std::chrono::seconds(1),
                           .cap = std::chrono::seconds(60),
                           .floor = std::chrono::milliseconds(500)};
};

// Where the builder sends its output.
class ChangeSink {
 public:
  virtual ~ChangeSink() = default;
  // Takes an event; returns false when the pipeline no longer accepts events.
  virtual bool Emit(Event&& event) = 0;
  // Everything emitted so far completes the source up to `lsn`: once those
  // events are delivered, `lsn` may be confirmed to the server.
  virtual void Boundary(uint64_t lsn) = 0;
  // Called when relations reference type OIDs the catalog does not know; the
  // detector looks them up (a catalog query) before values are converted.
  virtual void ResolveTypes(const std::vector<uint32_t>& oids) = 0;
  // An INSERT into the signal table (BuilderOptions::signal_table), called
  // right after its event was emitted: the text of its `signal` and `payload`
  // columns (nullopt for NULL or a missing column). The transaction is
  // committed once the next Boundary() is reached.
  virtual void OnSignal(std::optional<std::string_view> signal,
                        std::optional<std::string_view> payload) {}
  // A Relation message (re)defined a table: once per definition the server
  // sends (at the first change of each session and after DDL), never per row.
  // The schema store registers its columns here (--schema-store) and returns
  // where they are: the row events of this definition carry it
  // (schema::RefOf(event.schema)). nullopt: no store. An error: registering
  // failed; the definition's events carry no version until a retry (at the
  // table's next change once BuilderOptions::schema_retry's delay has passed)
  // succeeds.
  virtual Result<std::optional<schema::Ref>> OnRelationDefined(const pgoutput::Relation& relation) {
    return std::optional<schema::Ref>();
  }
};

struct BuilderStats {
  uint64_t value_errors = 0;       // values that fell back to strings
  uint64_t unknown_relations = 0;  // changes for a relation never described
  uint64_t heartbeat_rows = 0;     // heartbeat-table changes not emitted
  uint64_t streamed_txns = 0;
  uint64_t aborted_txns = 0;
  uint64_t spilled_bytes = 0;
  uint64_t toast_hits = 0;
  uint64_t toast_misses = 0;
};

class ChangeBuilder {
 public:
  ChangeBuilder(BuilderOptions options, pgtypes::TypeCatalog& catalog, ChangeSink& sink);
  ~ChangeBuilder();

  // Handles one XLogData payload. Errors are protocol/parse problems; the
  // caller should reconnect (the server will resend from the confirmed LSN).
  // Returns kCancelled when the sink refused an event (shutting down).
  Status Handle(const pgoutput::XLogData& data);

  // True between Begin and Commit of a non-streamed transaction.
  bool in_transaction() const { return tx_.active; }
  // Bytes buffered for open streamed transactions (memory + files).
  uint64_t spooled_bytes() const;
  // Bytes of memory the spools hold now (<= spool_memory_bytes).
  size_t spool_memory_bytes() const { return spool_budget_.used; }
  const BuilderStats& stats() const { return stats_; }
  // Rows the TOAST cache holds now, and rows it evicted since this builder began.
  size_t toast_entries() const { return toast_ ? toast_->size() : 0; }
  uint64_t toast_evictions() const { return toast_ ? toast_->evictions() : 0; }
  const pgoutput::DecodeContext& decode_context() const { return ctx_; }
  void set_protocol_version(uint32_t v) { ctx_.protocol_version = v; }

  struct RelationInfo {
    std::string namespace_name;
    std::string name;
    std::string channel;
    char replica_identity = 'd';
    std::vector<pgoutput::RelationColumn> columns;
    std::vector<std::string> keys;            // pre-encoded `"name":`
    std::string columns_json;                 // `columns` array for --include-schema
    std::shared_ptr<const RowSchema> schema;  // Event::schema of its row events
  };

 private:
  struct TxState {
    bool active = false;
    uint32_t xid = 0;
    int64_t commit_time_ns = 0;
    int64_t count = 0;  // row events so far
    uint64_t commit_lsn = 0;
    uint32_t ordinal = 0;  // events with positional ids so far (markers excluded)
  };
  using RelationMap = std::unordered_map<uint32_t, RelationInfo>;

  // The deterministic id for position `lsn` and `ordinal` (BuilderOptions::id_origin).
  Uuid PositionId(uint64_t lsn, uint32_t ordinal) const;

  // Applies one decoded message. `relations` is the relation map to use
  // (the global cache, or a replay overlay), `lsn` the message's position.
  Status Apply(const pgoutput::Message& m, uint64_t lsn, RelationMap& relations,
               const std::set<uint32_t>* aborted_subxids);
  // Apply()'s handlers, one per message type. `relations` as for Apply().
  Status OnCommit(const pgoutput::Commit& c);
  Status OnInsert(const pgoutput::Insert& i, uint64_t lsn, const RelationMap& relations);
  Status OnUpdate(const pgoutput::Update& u, uint64_t lsn, const RelationMap& relations);
  Status OnDelete(const pgoutput::Delete& d, uint64_t lsn, const RelationMap& relations);
  Status OnTruncate(const pgoutput::Truncate& t, uint64_t lsn, const RelationMap& relations);
  // `replaying`: inside a Stream Commit replay (never a confirmable point).
  Status OnLogicalMessage(const pgoutput::LogicalMessage& lm, uint64_t lsn, bool replaying);
  void OnStreamAbort(const pgoutput::StreamAbort& a);
  // Caches the relation (in `relations`; `global` = the global cache, which
  // also emits SCHEMA_CHANGE events and evicts the TOAST cache).
  Status OnRelation(const pgoutput::Relation& r, RelationMap& relations, bool global);
  // Registers again the global definitions whose registration failed, once
  // the retry delay has passed; a success gives their later events the ref.
  void RetryRegistrations();
  // `ref`: the relation's schema store version, carried by its RowSchema.
  RelationInfo MakeRelationInfo(const pgoutput::Relation& r, std::optional<schema::Ref> ref) const;
  Status EmitSchemaChange(const pgoutput::Relation& r, std::string_view changes);
  // `relations` first, then (for a replay overlay) the global cache; null if unknown.
  const RelationInfo* FindRelation(const RelationMap& relations, uint32_t relid) const;
  // TOAST cache (options_.toast_cache) around an UPDATE: fills the row's
  // unchanged-TOAST columns from the row cached under `pk`, if any ...
  void BackfillToast(uint32_t relid, const std::string& pk, pgoutput::TupleData& row);
  // ... and afterwards caches the row under its (possibly new) key `new_pk`
  // when it is complete, forgetting it otherwise.
  void RememberUpdatedRow(uint32_t relid, const std::string& pk, const std::string& new_pk,
                          const pgoutput::TupleData& row);
  Status EmitRow(const RelationInfo* rel, uint32_t relid, std::string_view op,
                 const pgoutput::TupleData* row, const pgoutput::TupleData* old, uint64_t lsn);
  Status EmitMessage(const pgoutput::LogicalMessage& m, uint64_t lsn);
  Status EmitMarker(std::string_view op, uint32_t xid, int64_t commit_time_ns, int64_t count);
  Status EmitEvent(std::string channel, std::string_view op, std::string payload, uint64_t lsn,
                   bool row_event, std::string key = {},
                   std::shared_ptr<const RowSchema> schema = nullptr);
  // Event::key of a row image: one key column's text, or a JSON object of
  // several; nothing when the relation has no key or a key value is missing.
  void AppendRowKey(const RelationInfo& rel, const pgoutput::TupleData& t, std::string& out);
  Status SpoolMessage(uint32_t xid, const pgoutput::Message& m, std::span<const uint8_t> payload,
                      uint64_t lsn);
  Status Replay(uint32_t xid, const pgoutput::StreamCommit& c);
  // Primary-key string of a tuple ("<len>:<text>" per key column), empty when
  // the relation has no key or a key value is missing.
  static std::string PrimaryKey(const RelationInfo& rel, const pgoutput::TupleData& t);
  static ToastCache::Row ToRow(const pgoutput::TupleData& t);
  void AppendTuple(const RelationInfo& rel, const pgoutput::TupleData& t, std::string& out,
                   std::vector<std::string>* unchanged_toast);

  BuilderOptions options_;
  pgtypes::TypeCatalog& catalog_;
  ChangeSink& sink_;
  pgoutput::DecodeContext ctx_;
  RelationMap relations_;
  TxState tx_;
  SpoolBudget spool_budget_;  // before spools_: they release into it when destroyed
  std::map<uint32_t, std::unique_ptr<TxSpool>> spools_;
  BuilderStats stats_;
  std::unique_ptr<ToastCache> toast_;
  // Global definitions the schema store failed to register, by relation id.
  std::map<uint32_t, pgoutput::Relation> unregistered_;
  Backoff registration_backoff_;
  Clock::TimePoint next_registration_ = {};
};

// Channel for a relation: pgcdc:<table> in `public` (or no namespace),
// pgcdc:<schema>.<table> otherwise.
std::string ChannelFor(std::string_view namespace_name, std::string_view table);

}  // namespace pgcdc::detector::wal
