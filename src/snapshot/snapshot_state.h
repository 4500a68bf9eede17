// SnapshotState: the resume point of a chunked table snapshot (`pgcdc
// snapshot --snapshot-state FILE`), a small JSON file:
//
//   {"version":1,"table":"public.orders","where":"","system_id":"7312…",
//    "database":"app","table_oid":16385,"chunk_pages":1024,
//    "done":[[0,3072],[4096,null]]}
//
// `done` lists the page ranges (begin, end; null = to the end of the table)
// whose rows every adapter has acknowledged, merged where they touch. The
// identity fields say which export the file belongs to: a run whose table,
// filter, database or table OID differ does not resume from it.
//
// Files are replaced atomically (write to FILE.tmp, fsync, rename, fsync the
// directory), so a crash leaves either the old or the new state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "snapshot/chunk_plan.h"

namespace pgcdc::snapshot {

struct SnapshotIdentity {
  std::string table;      // as given by --table
  std::string where;      // --where, verbatim
  std::string system_id;  // pg_control_system().system_identifier ("" if unreadable)
  std::string database;   // current_database()
  uint32_t table_oid = 0;
  bool operator==(const SnapshotIdentity&) const = default;
};

// Reads the identity of `quoted_table` in the connected database (table,
// where and table_oid are filled by the caller).
Result<SnapshotIdentity> ReadIdentity(pg::Conn& conn);

struct SnapshotState {
  SnapshotIdentity identity;
  uint64_t chunk_pages = 0;
  std::vector<PageRange> done;  // sorted, disjoint, merged

  // Every page of `range` is inside a done range.
  bool Covers(const PageRange& range) const;
  // Adds `range` to `done` (merging).
  void MarkDone(const PageRange& range);

  std::string Encode() const;
  // kParse for anything that is not a state file of this version.
  static Result<SnapshotState> Decode(std::string_view text);
};

// The file's state; nullopt when the file does not exist. kParse (naming
// the file) when it cannot be read as a state file, kIo on read errors.
Result<std::optional<SnapshotState>> LoadSnapshotState(const std::string& path);
// Atomic replace (see above).
Status SaveSnapshotState(const std::string& path, const SnapshotState& state);
// Removes the file (a missing file is fine).
Status RemoveSnapshotState(const std::string& path);

// Default state file for a table: pgcdc-snapshot-<table>.json in the working
// directory, characters other than [A-Za-z0-9._-] replaced with '_'.
std::string DefaultStatePath(std::string_view table);

}  // namespace pgcdc::snapshot
