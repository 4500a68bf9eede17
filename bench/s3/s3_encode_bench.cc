// The s3 sink's encoding cost without PostgreSQL or the network: a flush of
// 10,000 WAL INSERT events of bench/s3/s3_bench.sh's table (bigint, integer,
// text, timestamptz, numeric) buffered with Batch::Add and encoded once
// (items_per_second = events/s of wall time; the CPU column is the whole
// process's CPU time, DuckDB's own threads included).
#include <benchmark/benchmark.h>

#include <cstdlib>

#include "adapter/s3/s3_adapter.h"

namespace {

using namespace pgcdc;
using namespace pgcdc::adapter::s3;

constexpr int kFlush = 10'000;

std::vector<Event> Events() {
  auto schema = std::make_shared<RowSchema>();
  schema->namespace_name = "public";
  schema->table = "bench_s";
  schema->columns = {{"id", 20, true}, {"a", 23}, {"b", 25}, {"c", 1184}, {"d", 1700}};
  std::vector<Event> out;
  for (int i = 1; i <= kFlush; ++i) {
    const std::string id = std::to_string(i);
    Event e =
        MakeEvent("pgcdc:bench_s", "INSERT",
                  R"({"old":null,"op":"INSERT","row":{"id":)" + id + R"(,"a":)" + id +
                      R"(,"b":"row number )" + id +
                      R"(","c":"2026-12-06T22:00:00.123456+00:00","d":12.34},"table":"bench_s"})",
                  "wal_replication");
    e.schema = schema;
    e.lsn = 0x1000000 + i;
    e.seq = i;
    out.push_back(std::move(e));
  }
  return out;
}

void Run(benchmark::State& state, const Layout& layout) {
  const std::vector<Event> events = Events();
  size_t bytes = 0;
  for (auto _ : state) {
    Batch batch(layout);
    for (const Event& e : events) {
      if (!batch.Add(e)) std::abort();
    }
    for (auto& [key, p] : batch.partitions()) {
      if (!batch.Encode(p)) std::abort();
      bytes += p.body.size();
    }
  }
  state.SetItemsProcessed(state.iterations() * kFlush);
  state.counters["object_bytes_per_event"] =
      static_cast<double>(bytes) / static_cast<double>(state.iterations() * kFlush);
}

void BM_Jsonl(benchmark::State& state) { Run(state, Layout{}); }
BENCHMARK(BM_Jsonl)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime()->UseRealTime();

void BM_ParquetEnvelope(benchmark::State& state) { Run(state, Layout{.parquet = true}); }
BENCHMARK(BM_ParquetEnvelope)
    ->Unit(benchmark::kMillisecond)
    ->MeasureProcessCPUTime()
    ->UseRealTime();

void BM_ParquetTyped(benchmark::State& state) {
  Run(state, Layout{.parquet = true, .typed = true});
}
BENCHMARK(BM_ParquetTyped)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime()->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
