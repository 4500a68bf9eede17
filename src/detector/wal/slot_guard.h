// Slot guard: when a persistent replication slot can no longer give pgcdc
// every change after the position it last acknowledged, and what to emit when
// pgcdc covers that gap.
//
// A persistent slot can lose changes without the stream failing:
//   * PostgreSQL invalidated it: max_slot_wal_keep_size let the server remove
//     WAL the slot still needed (wal_status 'lost'; PostgreSQL 17 also names
//     the cause in invalidation_reason), or, on a PostgreSQL 16 standby, a
//     recovery conflict ('conflicting');
//   * it is missing although pgcdc holds a checkpoint for it: dropped by
//     hand, or not carried over by a failover or a restore. Creating it again
//     would start at the current WAL position and skip everything between;
//   * its confirmed_flush_lsn is ahead of every position pgcdc acknowledged:
//     another client consumed it, or someone advanced it. pgcdc saves its
//     checkpoint before it confirms a position to the server, so its own
//     confirmations never put the slot ahead of the checkpoint.
// DiagnoseSlot() recognises these from one pg_replication_slots row (read the
// same way on every server version) and the acknowledged position. The wal
// detector then stops (--on-slot-lost fail) or recreates the slot and exports
// the publication's tables from the new slot's snapshot (resnapshot),
// framed by the pgcdc:_gap events built here.
//
// Also here: the walsender commands that create a slot (FAILOVER on
// PostgreSQL 17, so a standby keeps the slot across a failover) or turn
// failover on for an existing one, and the start-up check on WAL retention.
// Functions taking a pg::Conn query the server; the others are pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/event.h"
#include "pg/conn.h"

namespace pgcdc::detector::wal {

// The pg_replication_slots columns the guard reads. Columns a server version
// does not have read as empty/unset.
struct SlotState {
  bool exists = false;
  bool active = false;
  std::string wal_status;           // PG 13+: reserved, extended, unreserved, lost
  std::string invalidation_reason;  // PG 17+: wal_removed, rows_removed, …
  bool conflicting = false;         // PG 16+: invalidated by a recovery conflict
  uint64_t restart_lsn = 0;
  uint64_t confirmed_flush = 0;
  // Bytes of WAL that can still be written before the slot is invalidated
  // (PG 13+); unset when max_slot_wal_keep_size is unlimited.
  std::optional<int64_t> safe_wal_size;
  std::optional<bool> failover;  // PG 17+
};

// Reads slot `$1` (one row, or none when the slot does not exist) through
// to_jsonb, so the same text works on every server version.
extern const std::string_view kSlotStateQuery;
// One row of kSlotStateQuery.
SlotState ParseSlotState(const pg::Row& row);
Result<SlotState> InspectSlot(pg::Conn& conn, const std::string& slot);

struct SlotLoss {
  std::string reason;     // for the log, /healthz and the gap event
  uint64_t from_lsn = 0;  // the last position known to be delivered (0: unknown)
};

// Whether a persistent slot lost changes after `acknowledged`, the highest
// position pgcdc saved as delivered (0 when it has no checkpoint).
std::optional<SlotLoss> DiagnoseSlot(const SlotState& slot, uint64_t acknowledged);

// PostgreSQL 17 added failover slots (CREATE_REPLICATION_SLOT … FAILOVER,
// ALTER_REPLICATION_SLOT).
inline constexpr int kFailoverSlotsVersion = 170000;

struct CreateSlotOptions {
  bool temporary = false;
  bool export_snapshot = false;  // SNAPSHOT 'export' (else 'nothing')
  bool failover = false;         // only for persistent slots on PostgreSQL 17+
};
// CREATE_REPLICATION_SLOT "name" [TEMPORARY] LOGICAL pgoutput (SNAPSHOT '…'[, FAILOVER true]).
std::string CreateSlotCommand(std::string_view name, const CreateSlotOptions& options);
// ALTER_REPLICATION_SLOT "name" (FAILOVER true|false).
std::string AlterSlotFailoverCommand(std::string_view name, bool failover);
// Whether a persistent slot should be a failover slot on this server.
bool UseFailover(bool wanted, bool temporary, int server_version);

// ---- the pgcdc:_gap events ----

inline constexpr std::string_view kGapChannel = "pgcdc:_gap";

// The window of WAL a lost slot may have skipped.
struct GapWindow {
  std::string slot;
  std::string reason;
  uint64_t from_lsn = 0;     // last position known to be delivered (0: unknown)
  int64_t from_time_ns = 0;  // when that checkpoint was saved (0: unknown)
  uint64_t to_lsn = 0;       // where the recreated slot starts
  int64_t to_time_ns = 0;    // when it was created
};
// Operation GAP, before the snapshot rows:
// {"from_lsn","from_time"(null when unknown),"reason","slot","tables","to_lsn","to_time"}.
Event MakeGapEvent(const GapWindow& gap, const std::vector<std::string>& tables);
// Operation GAP_SNAPSHOT_COMPLETED, after the last snapshot row:
// {"from_lsn","rows","slot","tables","to_lsn"}.
Event MakeGapCompletedEvent(const GapWindow& gap, const std::vector<std::string>& tables,
                            uint64_t rows);

// ---- start-up checks ----

// Warns when max_slot_wal_keep_size is unlimited (a stalled persistent slot
// keeps WAL until the disk fills) and when heartbeats are off. Query errors
// are ignored (the check is advisory).
void WarnAboutRetention(pg::Conn& conn, const std::string& slot, bool heartbeats);

}  // namespace pgcdc::detector::wal
