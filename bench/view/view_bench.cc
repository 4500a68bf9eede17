// Streaming SQL view throughput on one core (issue 20's goals: ≥ 1 M events/s
// through a GROUP BY tumbling COUNT/SUM view; ≥ 300 K events/s with 100 K
// distinct groups), from recorded events: the engine parses each payload
// (WAL row JSON), evaluates the group key and aggregates, closing windows as
// processing time moves. BM_DuckDb* runs the same aggregate in DuckDB over
// the same events already loaded as typed columns (no JSON parsing) — the
// engine's peer for the ratio in BENCHMARKS.md. Groups' state memory is
// printed once per configuration (RSS growth over the live groups).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "view/engine.h"
#include "view/parser.h"

#ifdef PGCDC_BENCH_DUCKDB
#include <duckdb.h>
#endif

namespace {

using namespace pgcdc::view;

constexpr int64_t kSec = 1'000'000'000;
constexpr int kEvents = 1'000'000;

struct Recorded {
  std::vector<std::string> payloads;
  std::vector<int> keys;
  std::vector<int> amounts;
};

// WAL-shaped payloads: {"op","table","row":{id, customer, amount, note}}.
const Recorded& Events(int groups) {
  static std::map<int, std::unique_ptr<Recorded>> cache;
  auto& slot = cache[groups];
  if (slot) return *slot;
  slot = std::make_unique<Recorded>();
  std::mt19937 rng(42);
  for (int i = 0; i < kEvents; ++i) {
    const int key = static_cast<int>(rng() % static_cast<unsigned>(groups));
    const int amount = static_cast<int>(rng() % 10'000);
    slot->keys.push_back(key);
    slot->amounts.push_back(amount);
    slot->payloads.push_back(R"({"op":"INSERT","table":"orders","row":{"id":)" + std::to_string(i) +
                             R"(,"customer":"c)" + std::to_string(key) + R"(","amount":)" +
                             std::to_string(amount) + R"(,"note":"web checkout"}})");
  }
  return *slot;
}

std::shared_ptr<const Query> Plan(const char* text) {
  auto q = ParseQuery(text);
  if (!q) {
    std::fprintf(stderr, "%s\n", q.error().message().c_str());
    std::abort();
  }
  return std::make_shared<const Query>(std::move(*q));
}

long RssKiB() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return 0;
}

// All events in one 1-minute processing-time window (closed at the end of
// each iteration), so every group of the configuration is live at once.
void RunView(benchmark::State& state, int groups) {
  const Recorded& events = Events(groups);
  auto q = Plan(
      "SELECT row.customer AS customer, COUNT(*) AS n, SUM(row.amount) AS total "
      "FROM pgcdc_events GROUP BY row.customer TUMBLING WINDOW 1m");
  size_t rows = 0;
  static std::map<int, bool> reported;
  for (auto _ : state) {
    Engine engine(q, {.max_groups = 1'000'000});
    const long before = RssKiB();
    for (const auto& p : events.payloads) {
      (void)engine.Process({.channel = "pgcdc:orders", .operation = "INSERT", .payload = p}, kSec);
    }
    if (!reported[groups]) {
      reported[groups] = true;
      std::fprintf(stderr, "view state: %d groups, ~%ld bytes per group (RSS growth)\n", groups,
                   (RssKiB() - before) * 1024 / groups);
    }
    auto out = engine.FlushAll();
    rows = out.empty() ? 0 : out[0].rows.size();
    benchmark::DoNotOptimize(out);
  }
  state.counters["groups"] = static_cast<double>(rows);
  state.SetItemsProcessed(state.iterations() * kEvents);
}

void BM_View100Groups(benchmark::State& state) { RunView(state, 100); }
void BM_View100KGroups(benchmark::State& state) { RunView(state, 100'000); }
BENCHMARK(BM_View100Groups)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_View100KGroups)->Unit(benchmark::kMillisecond)->UseRealTime();

// Interval join (SPEC §7.5) of the 100 K-customer events with themselves:
// even ids on channel o, odd on p, joined by customer within 100 ms of
// processing time (10 µs apart: ~10 K events per side buffered at once).
void BM_Join100KKeys(benchmark::State& state) {
  const Recorded& events = Events(100'000);
  auto q = Plan(
      "SELECT a.row.id AS o, b.row.id AS p, b.row.amount - a.row.amount AS d "
      "FROM pgcdc_events a JOIN pgcdc_events b ON a.row.customer = b.row.customer "
      "WITHIN 100ms WHERE a.channel = 'o' AND b.channel = 'p'");
  size_t pairs = 0;
  for (auto _ : state) {
    Engine engine(q, {.max_groups = 1'000'000});
    pairs = 0;
    for (size_t i = 0; i < events.payloads.size(); ++i) {
      const int64_t now = static_cast<int64_t>(i) * 10'000;
      (void)engine.Process(
          {.channel = i % 2 == 0 ? "o" : "p", .operation = "INSERT", .payload = events.payloads[i]},
          now);
      if (i % 1000 == 0) {
        for (const auto& w : engine.Advance(now)) pairs += w.rows.size();
      }
    }
    for (const auto& w : engine.FlushAll()) pairs += w.rows.size();
  }
  state.counters["pairs"] = static_cast<double>(pairs);
  state.SetItemsProcessed(state.iterations() * kEvents);
}
BENCHMARK(BM_Join100KKeys)->Unit(benchmark::kMillisecond)->UseRealTime();

#ifdef PGCDC_BENCH_DUCKDB
// DuckDB, one thread, the same events as typed columns in a table.
void RunDuckDb(benchmark::State& state, int groups) {
  const Recorded& events = Events(groups);
  duckdb_database db = nullptr;
  duckdb_connection conn = nullptr;
  duckdb_config config = nullptr;
  duckdb_create_config(&config);
  duckdb_set_config(config, "threads", "1");
  if (duckdb_open_ext(nullptr, &db, config, nullptr) != DuckDBSuccess ||
      duckdb_connect(db, &conn) != DuckDBSuccess) {
    state.SkipWithError("cannot open DuckDB");
    return;
  }
  duckdb_destroy_config(&config);
  duckdb_query(conn, "CREATE TABLE ev (customer VARCHAR, amount INTEGER, ts BIGINT)", nullptr);
  duckdb_appender app = nullptr;
  duckdb_appender_create(conn, nullptr, "ev", &app);
  for (size_t i = 0; i < events.keys.size(); ++i) {
    const std::string customer = "c" + std::to_string(events.keys[i]);
    duckdb_append_varchar(app, customer.c_str());
    duckdb_append_int32(app, events.amounts[i]);
    duckdb_append_int64(app, 1);
    duckdb_appender_end_row(app);
  }
  duckdb_appender_destroy(&app);
  for (auto _ : state) {
    duckdb_result res;
    duckdb_query(conn,
                 "SELECT ts // 60 AS w, customer, count(*), sum(amount) FROM ev "
                 "GROUP BY w, customer",
                 &res);
    benchmark::DoNotOptimize(duckdb_row_count(&res));
    duckdb_destroy_result(&res);
  }
  duckdb_disconnect(&conn);
  duckdb_close(&db);
  state.SetItemsProcessed(state.iterations() * kEvents);
}
void BM_DuckDb100Groups(benchmark::State& state) { RunDuckDb(state, 100); }
void BM_DuckDb100KGroups(benchmark::State& state) { RunDuckDb(state, 100'000); }
BENCHMARK(BM_DuckDb100Groups)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_DuckDb100KGroups)->Unit(benchmark::kMillisecond)->UseRealTime();
#endif

}  // namespace

BENCHMARK_MAIN();
