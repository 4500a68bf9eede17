// The chaos suite (issue 15): one WAL stream with a persistent slot per
// durable sink, while pgcdc is killed with SIGKILL at random points,
// PostgreSQL is restarted in immediate mode, the walsender is terminated, the
// sink is made unavailable and (file sink) its disk fills up. Afterwards every
// row version must be at the sink, in per-key order, and the duplicates are
// counted against the bound the unacknowledged windows give.
//
// Profiles (PGCDC_CHAOS_PROFILE): `short` (the default, what `make test`
// runs: the file sink, 20,000 rows, 3 kills, one restart, one walsender
// termination, one disk-full) and `full` (`make chaos`: every sink, 200,000
// rows, 20 kills, 2 restarts, 1 termination, a 30 s outage, a disk-full).
// PGCDC_CHAOS_SEED fixes the random points (printed at start);
// PGCDC_CHAOS_SINKS (comma list) and PGCDC_CHAOS_ROWS override the profile;
// PGCDC_CHAOS_REPORT names a file that gets one Markdown table row per sink.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "harness.h"

namespace pgcdc::testing::chaos {

struct Profile {
  std::string name;
  std::vector<std::string> sinks;
  int rows = 0;
  int kills = 0;
  int pg_restarts = 0;
  int walsender_kills = 0;
  std::chrono::seconds outage{0};
  std::chrono::seconds disk_full{0};
  uint32_t seed = 0;
};
Profile LoadProfile();

// One delivered change: the row's key, its version (column v) and the
// commit LSN decoded from the event id (0 when the id is not a WAL id).
struct Delivered {
  int key = 0;
  int version = 0;
  uint64_t lsn = 0;
};
// Parses one event JSON (nullopt for events of other channels or garbage,
// e.g. a line cut by SIGKILL).
std::optional<Delivered> ParseEvent(std::string_view json, const std::string& channel);
// The commit LSN in a WAL event id (docs/events.md), 0 if it is not one.
uint64_t LsnOfEventId(std::string_view id);

// A sink under test. Everything runs on the test thread.
class Sink {
 public:
  virtual ~Sink() = default;
  // Adapter arguments for `pgcdc listen` (after the WAL ones).
  virtual std::vector<std::string> Args() = 0;
  // Everything delivered so far, in delivery order (per key at least).
  virtual std::vector<Delivered> Events(Process* live) = 0;
  // A cheap, monotonic measure of deliveries (defaults to Events().size()).
  virtual double Progress(Process* live) { return static_cast<double>(Events(live).size()); }
  // False when the delivered events can only be read from a live pgcdc.
  virtual bool ReadableAfterEnd() const { return true; }
  // The process ended (kill -9 or exit): keep what it delivered.
  virtual void Ended(Process& /*p*/) {}
  // Sinks with a server or a peer can be made unavailable.
  virtual bool CanBeUnavailable() const { return false; }
  virtual void SetAvailable(bool /*available*/, Process* /*live*/) {}
  // The file sink's disk.
  virtual bool HasDisk() const { return false; }
  virtual void FillDisk(bool /*full*/) {}
};

// Why sink `name` cannot run in this build (duckdb, iceberg: no DuckDB); ""
// when it can.
std::string SinkMissing(const std::string& name);
// Builds the sink `name` for `table` (channel pgcdc:<table>); null if unknown.
std::unique_ptr<Sink> MakeSink(const std::string& name, const std::string& table);

}  // namespace pgcdc::testing::chaos
