// BinlogStream: turns the binlog events of a row-based replica connection into
// pgcdc events (SPEC §1.5.7) and marks where the stream may be resumed from.
//
// Pure with respect to I/O: the detector feeds it raw events (Handle) and
// answers its table lookups (StreamSink::DescribeTable, information_schema).
//
//   INSERT/UPDATE/DELETE  one event per row on pgcdc:<db>.<table>, payload
//                         {"old","op","row","schema","table"} with typed
//                         values (row_values.h); UPDATE rows come in (before,
//                         after) pairs; DELETE puts the before image in `row`.
//   TRUNCATE [TABLE] t    a TRUNCATE event (row and old null)
//   ALTER/CREATE/DROP/RENAME of a captured table
//                         the table's description is looked up again; with
//                         schema_events, a SCHEMA_CHANGE event on
//                         pgcdc:_schema lists the columns added, removed or
//                         retyped (emitted when the next rows of the table
//                         arrive, from the new table map)
//   transaction markers   BEGIN/COMMIT on pgcdc:_txn (tx_markers), a
//                         `transaction` block on row events (tx_metadata)
//
// Positions: after each event group (transaction, DDL statement) the sink's
// Boundary() receives the position just after it — binlog file and offset,
// plus the GTID state (MariaDB "domain-server-seq,...") — where a new
// connection resumes without losing or repeating a group.
//
// Event ids are derived from the group's start (binlog file number and
// offset) and the change's ordinal in the group (core/uuid.h
// MakePositionUuid), so a group re-read after a restart carries the ids of its
// first delivery. Event::lsn = (file number << 32) | end offset of the rows
// event (SPEC §2.5).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "core/event.h"
#include "detector/mysql/binlog.h"
#include "detector/mysql/row_values.h"

namespace pgcdc::detector::mysql {

// Where a stream stands: the next event to read.
struct Position {
  std::string file;  // e.g. "binlog.000003"
  uint64_t pos = 0;  // offset in `file`
  std::string gtid;  // MariaDB GTID state "d-s-n[,d-s-n...]"; empty = unknown
  bool operator==(const Position&) const = default;
};

// The number in a binlog file name ("binlog.000042" -> 42; 0 if none).
uint64_t FileNumber(std::string_view file);

// `--mysql-tables` entries: "db.table" or a bare "table" (any database).
class TableFilter {
 public:
  // Error for an empty entry or one with more than one dot.
  static Result<TableFilter> Parse(const std::vector<std::string>& entries);
  bool Matches(std::string_view db, std::string_view table) const;
  bool all() const { return qualified_.empty() && bare_.empty(); }

 private:
  std::vector<std::pair<std::string, std::string>> qualified_;
  std::vector<std::string> bare_;
};

// A table's columns as information_schema describes them (in order).
struct ColumnInfo {
  std::string name;
  std::string data_type;  // DATA_TYPE, e.g. "decimal", "varchar"
  bool is_unsigned = false;
  uint32_t collation = 0;  // 0 = none / unknown
  bool is_json_text = false;
  bool key = false;
  std::vector<std::string> elements;  // ENUM/SET members
};

class StreamSink {
 public:
  virtual ~StreamSink() = default;
  // Takes an event; false when the pipeline no longer accepts events.
  virtual bool Emit(Event&& event) = 0;
  // Everything emitted so far completes the source up to `next`.
  virtual void Boundary(const Position& next) = 0;
  // The table's current columns (information_schema), nullopt when unknown
  // (no such table any more, lookup failed).
  virtual std::optional<std::vector<ColumnInfo>> DescribeTable(const std::string& db,
                                                               const std::string& table) = 0;
};

struct StreamOptions {
  TableFilter tables;
  bool tx_metadata = false;
  bool tx_markers = false;  // implies tx_metadata
  bool schema_events = false;
  uint32_t id_origin = 0;
  const CharsetMap* charsets = nullptr;
  // The server sends CRC32 checksums (@master_binlog_checksum): needed for
  // the events before the first FORMAT_DESCRIPTION (the dump's fake ROTATE).
  bool checksum = false;
};

struct StreamStats {
  uint64_t rows = 0;              // row events emitted
  uint64_t value_errors = 0;      // values emitted as null because they did not decode
  uint64_t replaced_text = 0;     // strings with bytes invalid in their charset
  uint64_t unknown_tables = 0;    // rows events without a preceding table map
  uint64_t positional_names = 0;  // tables whose columns had to be named col_N
};

class BinlogStream {
 public:
  BinlogStream(StreamOptions options, Position start, StreamSink& sink);
  ~BinlogStream();

  // One event as the server sent it (no OK byte). Errors: malformed events
  // (kParse), events that cannot be handled (kUnimplemented: compressed or
  // partial-JSON rows); kCancelled when the sink refused an event.
  Status Handle(Bytes event);

  // The position after the last complete event group.
  const Position& position() const { return committed_; }
  bool in_group() const { return group_.active; }
  const FormatDescription& format() const { return fd_; }
  const StreamStats& stats() const { return stats_; }
  // Forgets the described columns of every table (after DDL elsewhere).
  void ForgetTables() { described_.clear(); }

 private:
  struct Group {
    bool active = false;      // between GTID/BEGIN and its end
    bool in_tx = false;       // after BEGIN (ends with XID/COMMIT)
    bool standalone = false;  // MariaDB GTID flag: one statement, no COMMIT
    uint64_t start = 0;       // file number << 32 | offset of its first event
    std::string gtid;         // "d-s-n" of the group (MariaDB), "" unknown
    uint32_t domain = 0;
    uint64_t sequence = 0;
    int64_t commit_time_ns = 0;
    uint32_t ordinal = 0;  // events with positional ids so far
    int64_t count = 0;     // row events
    bool begin_emitted = false;
  };
  struct Table;

  Status OnFormatDescription(Bytes body);
  Status OnRotate(const RawEvent& ev);
  Status OnQuery(const RawEvent& ev);
  Status OnTableMap(const RawEvent& ev);
  Status OnRows(const RawEvent& ev);
  Status OnDdl(std::string_view db, std::string_view statement);
  void StartGroup(const RawEvent& ev);
  Status EndGroup(const RawEvent& ev);
  // After an event outside any group: the position moved past it.
  void Advance(const RawEvent& ev);
  Status EmitRowEvents(const Table& t, const RowsEvent& rows, uint64_t lsn);
  Status EmitRow(const Table& t, std::string_view op, const RowImage* row, const RowImage* old,
                 uint64_t lsn);
  Status EmitSchemaChange(const Table& t, const std::string& changes);
  Status EmitMarker(std::string_view op);
  Status Publish(Event e, bool row_event);
  void AppendImage(const Table& t, const RowImage& img, std::string& out);
  std::shared_ptr<Table> Describe(TableMap map);
  std::string GtidState() const;

  StreamOptions options_;
  StreamSink& sink_;
  FormatDescription fd_;
  std::string file_;
  uint64_t file_number_ = 0;
  Position committed_;
  Group group_;
  std::map<uint32_t, std::string> gtid_state_;                   // domain -> "d-s-n"
  std::unordered_map<uint64_t, std::shared_ptr<Table>> tables_;  // by table id
  // information_schema descriptions by "db.table" (cleared by DDL).
  std::unordered_map<std::string, std::optional<std::vector<ColumnInfo>>> described_;
  // Column lists last emitted per "db.table" (for SCHEMA_CHANGE diffs).
  std::unordered_map<std::string, std::vector<Column>> last_columns_;
  StreamStats stats_;
};

}  // namespace pgcdc::detector::mysql
