// duckdb adapter (SPEC §5.19): events into a DuckDB database (in memory or a
// file), queryable over HTTP on the main server:
//   POST /query         {"sql":"…","params":[…],"timeout":"5s"} → JSON rows
//   GET  /query/tables  [{"channel":"…","count":N}, …]
//
// Table cdc_events(id PRIMARY KEY, channel, operation, payload JSON, source,
// created_at); per WAL table a typed view "<schema>.<table>" with the row's
// columns (query.h). Events are appended to the table (DuckDB's appender) and
// committed in one transaction (replays: INSERT OR REPLACE) every flush_size events or
// flush_interval; retention deletes old rows every max(retention/10, 1s).
//
// Durability (beyond SPEC, whose sink acknowledges on receipt): events are
// acknowledged to the pipeline only once their transaction committed —
// OldestHeldSeq() holds the source's checkpoint over staged events — so with
// a file database and a persistent slot nothing is lost on a crash; replayed
// events replace their earlier copy (same id).
//
// /query runs on `query_threads` threads of its own (never the HTTP I/O
// thread), each with its own connection; a query past its timeout is
// interrupted (duckdb_interrupt); a result over query_max_bytes is refused.
// Read-only mode (default): one SELECT per request, and the database is
// opened with external access and configuration changes off.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "adapter/adapter.h"
#include "adapter/duckdb/store.h"
#include "registry/registry.h"

namespace pgcdc::adapter::duckdb {

struct Options {
  std::string path = ":memory:";
  std::chrono::milliseconds retention{std::chrono::hours(1)};
  std::chrono::milliseconds flush_interval{std::chrono::seconds(5)};
  size_t flush_size = 1000;
  bool query_readonly = true;
  std::chrono::milliseconds query_timeout{std::chrono::seconds(30)};  // default
  std::chrono::milliseconds query_max_timeout{std::chrono::minutes(5)};
  size_t query_max_bytes = 16u << 20;
  size_t query_threads = 2;
  size_t query_queue = 64;  // requests waiting for a query thread; more → 503
  std::string query_token;  // bearer token for /query (on top of --http-auth-token)
};

// How often retention runs: max(retention/10, 1s).
std::chrono::milliseconds RetentionInterval(std::chrono::milliseconds retention);

class DuckdbAdapter final : public Adapter {
 public:
  explicit DuckdbAdapter(Options options);
  ~DuckdbAdapter() override;
  std::string_view Name() const override { return "duckdb"; }
  Status Attach(const Services& services) override;
  Status Open() override;
  Status Deliver(std::span<const Event* const> events) override;
  Status Flush() override;
  std::optional<uint64_t> OldestHeldSeq() const override;
  void Close() override;

  struct Queries;  // the /query side (shared with the route handlers)

 private:
  Status Commit();
  Status Housekeep();
  void CountRows();
  Status EnsureView(const Event& e);

  Options options_;
  std::shared_ptr<Queries> queries_;
  std::shared_ptr<Store> store_;
  std::optional<uint64_t> first_seq_;  // lowest tracked seq staged
  std::chrono::steady_clock::time_point since_{};
  std::chrono::steady_clock::time_point next_retention_{};
  std::chrono::steady_clock::time_point next_count_{};
  bool rows_changed_ = true;  // the row gauge needs a count
  // The columns each view was created with (recreated when they change).
  std::map<std::string, std::vector<std::pair<std::string, uint32_t>>> views_;
  std::shared_ptr<const RowSchema> last_schema_;  // the schema last checked
};

ConnectorInfo Connector();

}  // namespace pgcdc::adapter::duckdb
