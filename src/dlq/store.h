// Store: the dead letter table (SPEC §4.2, Appendix B) — creating it, writing
// records, and the queries behind `pgcdc dlq list|replay|purge`.
//
//   id BIGSERIAL PRIMARY KEY, event_id TEXT NOT NULL, adapter TEXT NOT NULL,
//   error TEXT NOT NULL, payload JSON NOT NULL (the whole envelope),
//   created_at TIMESTAMPTZ NOT NULL DEFAULT now(), replayed_at TIMESTAMPTZ
//
// payload is JSON rather than JSONB (the Go tool's type) so the envelope is
// kept byte for byte (JSONB reorders keys and rejects \u0000); tables created
// by the Go tool (JSONB) are read and written just the same.
//
// Identifiers are always quoted, values always bound. A Store borrows a
// connection and is used by one thread at a time.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/event.h"
#include "pg/conn.h"
#include "pg/table_name.h"

namespace pgcdc::dlq {

using pg::ParseTableName;
using pg::TableName;

// Row selection shared by list, replay and purge. All conditions are ANDed.
struct Filter {
  std::string adapter;              // empty = any
  std::optional<int64_t> since_ns;  // created_at >= since (inclusive)
  std::optional<int64_t> until_ns;  // created_at <= until (inclusive)
  std::optional<int64_t> id;        // exactly this record
  bool pending_only = false;        // replayed_at IS NULL
  bool replayed_only = false;       // replayed_at IS NOT NULL
  std::optional<int64_t> after_id;  // id > after_id (keyset paging)
  std::optional<int64_t> max_id;    // id <= max_id
};

struct WhereClause {
  std::string sql;  // "" or " WHERE … AND …" with $1.. placeholders
  std::vector<std::optional<std::string>> params;
};
WhereClause BuildWhere(const Filter& filter);

struct Record {
  int64_t id = 0;
  std::string event_id;
  std::string adapter;
  std::string error;
  std::string payload;  // the stored envelope text
  int64_t created_at_ns = 0;
  std::optional<int64_t> replayed_at_ns;
};

enum class Order { kNewestFirst, kOldestFirst };

class Store {
 public:
  Store(pg::Conn& conn, TableName table) : conn_(conn), table_(std::move(table)) {}

  const TableName& table() const { return table_; }
  Result<bool> Exists();
  // Creates the table and its indexes when missing (serialised between
  // processes by an advisory lock; an existing table needs no privileges).
  Status EnsureTable();
  Status Insert(const Event& event, std::string_view adapter, std::string_view error);

  // Up to `limit` records (0 = all) matching the filter.
  Result<std::vector<Record>> List(const Filter& filter, int64_t limit, Order order);
  Result<int64_t> Count(const Filter& filter);
  // Count and highest id (0 when none) of the matching records.
  Result<std::pair<int64_t, int64_t>> CountAndMaxId(const Filter& filter);
  // Matching records per adapter, taking only the `limit` oldest (0 = all).
  Result<std::vector<std::pair<std::string, int64_t>>> CountByAdapter(const Filter& filter,
                                                                      int64_t limit);
  // Sets replayed_at = now() on these records if still pending; returns how many.
  Result<int64_t> MarkReplayed(std::span<const int64_t> ids);
  // Deletes the matching records; returns how many.
  Result<int64_t> Purge(const Filter& filter);
  // Session-level advisory lock keyed by the table, so two replays of the
  // same table never deliver the same record twice. false = held elsewhere.
  Result<bool> TryLockReplay();

 private:
  pg::Conn& conn_;
  TableName table_;
};

}  // namespace pgcdc::dlq
