// TableSnapshot: streams every row of one table (optionally filtered) out of
// PostgreSQL as SNAPSHOT events (SPEC §1.5.3), via COPY ... TO STDOUT in text
// format and CopyTextParser.
//
// Event shape:
//   channel   "pgcdc:" + the table string exactly as given (SPEC §1.4), or
//             SnapshotOptions::channel
//   operation "SNAPSHOT", source "snapshot" (or SnapshotOptions::source), lsn
//   0, seq 0 (callers stamp seq)
//   payload   {"old":null,"op":"SNAPSHOT","row":{<columns in table order>},
//              ["snapshot_id":"<id>",]"table":"<name without schema>"}
// Column values are typed exactly like the WAL detector's, i.e. like
// PostgreSQL's to_json() with the deviations documented in pgtypes.h (most
// notably: numerics beyond double precision become JSON strings). That holds
// when the session settings PrepareSession() applies are in force.
//
// Contract with the caller:
//   * the connection is open and already inside a transaction the caller
//     controls (normally BeginSnapshotTransaction()); Describe() and Run()
//     only read, and never commit or roll back;
//   * `where` is raw SQL from a trusted operator: it is interpolated into the
//     query as `WHERE (<where>)`. Statements run through the extended query
//     protocol, so it cannot stack a second statement, and a READ ONLY
//     transaction rejects writes, but it can still read anything the role can.
//   * when Run() stops early (the batch callback returned false or a stop
//     was requested) the COPY is cancelled, which aborts the transaction: the
//     caller must roll back before reusing the connection.
//
// Threading: one TableSnapshot per connection, used from one thread; the
// callbacks run on that thread.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "codec/pgtypes/pgtypes.h"
#include "core/error.h"
#include "core/event.h"
#include "pg/conn.h"
#include "pg/table_name.h"
#include "snapshot/chunk_plan.h"

namespace pgcdc::snapshot {

inline constexpr std::string_view kSource = "snapshot";
inline constexpr std::string_view kOperation = "SNAPSHOT";

// Table references (see pg/table_name.h).
using pg::ParseTableName;
using pg::TableName;

// Sets the session parameters PostgreSQL's text output must be produced under
// for pgtypes to type it like to_json(): DateStyle 'ISO, MDY', TimeZone 'UTC',
// IntervalStyle 'postgres', extra_float_digits 1. Call once after connecting.
Status PrepareSession(pg::Conn& conn);

// True when `name` looks like an exported snapshot id (pg_export_snapshot(),
// e.g. "00000003-0000001B-1"): ^[0-9A-Fa-f/:-]+$.
bool IsValidSnapshotName(std::string_view name);

// Starts `BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY` and, when
// `snapshot_name` is not empty, adopts that exported snapshot with
// `SET TRANSACTION SNAPSHOT '<name>'` (the name is validated first: it cannot
// be a bind parameter). On failure the transaction is rolled back.
Status BeginSnapshotTransaction(pg::Conn& conn, std::string_view snapshot_name = {});

// pg_class.reltuples for the table: the planner's row estimate, or -1 when
// unknown (never vacuumed/analysed, partitioned parent, view).
Result<int64_t> EstimateRows(pg::Conn& conn, std::string_view table);

struct SnapshotOptions {
  std::string table;         // as given by the user; see ParseTableName
  std::string where;         // raw SQL condition, trusted operator input; "" = all rows
  std::string snapshot_id;   // adds "snapshot_id" to payloads when not empty
  std::string channel;       // envelope channel; empty = "pgcdc:" + table
  size_t batch_size = 1000;  // events per batch callback (>= 1)
  size_t max_row_bytes = size_t{256} << 20;  // COPY text of one row
  std::string_view source = kSource;         // envelope `source`; must be static storage
  // Keyset mode (one chunk of an incremental snapshot): when `key_columns` is
  // not empty, Run() reads at most `limit` rows ordered by these columns and,
  // when `after` is not empty, strictly after that key (text values, bound as
  // parameters), with a plain SELECT (see BuildKeysetQuery) instead of COPY.
  // SnapshotStats::last_key then holds the key of the last row read.
  std::vector<std::string> key_columns;
  std::vector<std::string> after;  // empty or one value per key column
  size_t limit = 1000;
};

// The keyset chunk query: SELECT * FROM <table> [WHERE [(<where>) AND]
// ("k1", "k2") > ($1, $2)] ORDER BY "k1", "k2" LIMIT <limit>. Identifiers are
// quoted; the key values are parameters $1..$n (present when `has_after`).
std::string BuildKeysetQuery(const TableName& table, std::string_view where,
                             const std::vector<std::string>& key_columns, bool has_after,
                             size_t limit);

struct SnapshotColumn {
  std::string name;
  uint32_t type_oid = 0;
};

struct SnapshotStats {
  uint64_t rows = 0;          // rows turned into events and accepted by the callback
  uint64_t bytes = 0;         // COPY text bytes received
  uint64_t value_errors = 0;  // values emitted as strings because they did not parse
  bool completed = false;     // false: stopped early
  // Keyset mode: text values of the key columns of the last row read (empty
  // when the chunk was empty).
  std::vector<std::string> last_key;
};

class TableSnapshot {
 public:
  // Hands a full batch over; false stops the export.
  using BatchFn = std::function<bool(EventBatch&&)>;
  // Rows handed over so far; called after every batch.
  using ProgressFn = std::function<void(uint64_t rows)>;

  // `conn` and `catalog` must outlive this object. User-defined column types
  // missing from `catalog` are looked up and registered by Describe().
  TableSnapshot(pg::Conn& conn, pgtypes::TypeCatalog& catalog, SnapshotOptions options);

  // Checks the table name, reads the column names and types, resolves
  // unknown types and validates the WHERE clause (without reading rows).
  // kNotFound when the table does not exist, kInvalidArgument for a bad name
  // or WHERE clause. Run() calls it when it has not run yet.
  Status Describe();
  const std::vector<SnapshotColumn>& columns() const { return columns_; }
  const TableName& table() const { return table_; }

  // Restricts the next Run()s (COPY mode) to the rows in `range` (a TID
  // range scan); nullopt = the whole table.
  void SetPageRange(std::optional<PageRange> range) { range_ = range; }

  // Streams the rows. Returns the stats (completed=false when stopped
  // early), or an error (connection loss, malformed COPY data, ...).
  Result<SnapshotStats> Run(const BatchFn& on_batch, const ProgressFn& on_progress = {},
                            const std::stop_token& stop = {});

 private:
  void AppendRowEvent(std::span<const std::optional<std::string_view>> fields, EventBatch& batch,
                      int64_t now_ns, SnapshotStats& stats);
  Result<SnapshotStats> RunKeyset(const BatchFn& on_batch, const ProgressFn& on_progress,
                                  std::stop_token stop);
  Status CancelCopy();

  pg::Conn& conn_;
  pgtypes::TypeCatalog& catalog_;
  SnapshotOptions options_;
  bool described_ = false;
  TableName table_;
  std::string channel_;
  std::vector<SnapshotColumn> columns_;
  std::vector<std::string> keys_;  // `"name":` per column
  std::string payload_suffix_;     // `}` + [snapshot_id] + table + `}`
  std::string select_sql_;         // SELECT * FROM … [WHERE (…)]
  std::optional<PageRange> range_;
};

}  // namespace pgcdc::snapshot
