// `--mysql-snapshot-first`: the captured tables' rows as SNAPSHOT events,
// read in one consistent snapshot whose binlog position is where the stream
// then starts — no gap, no overlap.
//
// The consistent point: MariaDB reports the binlog position of a
// `START TRANSACTION WITH CONSISTENT SNAPSHOT` itself (binlog_snapshot_file /
// _position), so no lock is taken; on MySQL the snapshot is opened under a
// brief FLUSH TABLES WITH READ LOCK (needs RELOAD) and SHOW MASTER STATUS.
//
// Values are rendered like the binlog decoder renders the same column
// (row_values.h), from the text protocol: integers, YEAR and BIT (as `c + 0`)
// as numbers; DECIMAL as a number up to 15 significant digits, else a
// string; binary strings as base64; TIMESTAMP as RFC 3339 UTC (the session
// runs at time_zone +00:00); JSON as JSON; the rest as strings.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/event.h"

namespace pgcdc::detector::mysql {

struct SnapshotColumn {
  enum class Kind { kNumber, kDecimal, kString, kBinary, kJson, kBit, kYear, kTimestamp };
  std::string name;
  Kind kind = Kind::kString;
  bool key = false;  // part of the primary key
};

// The kind of an information_schema.COLUMNS DATA_TYPE; `binary` when the
// column has no character set (binary, varbinary, blobs).
SnapshotColumn::Kind SnapshotKind(std::string_view data_type, bool binary, bool json_text);

// The SELECT list for `columns` (identifiers quoted with backquotes).
std::string SnapshotSelectList(const std::vector<SnapshotColumn>& columns);

// Appends the JSON value of one text-protocol value (nullopt = NULL).
void AppendSnapshotValue(const SnapshotColumn& column, std::optional<std::string_view> text,
                         std::string& out);

// The SNAPSHOT event of one row of db.table (payload like the binlog's row
// events: {"old":null,"op":"SNAPSHOT","row":{...},"schema":db,"table":t};
// Event::key from the primary key columns).
Event SnapshotRowEvent(const std::string& db, const std::string& table,
                       const std::vector<SnapshotColumn>& columns,
                       const std::vector<std::optional<std::string_view>>& values);

// A backquoted MySQL identifier (` doubled).
std::string QuoteMysqlIdentifier(std::string_view name);

}  // namespace pgcdc::detector::mysql
