// Transform chain throughput on a typical WAL UPDATE event, one core
// (items_per_second = events/s per core). Each iteration copies the event (as
// an adapter worker does for its per-adapter chain), runs the chain and
// encodes the event JSON; BM_EncodeOnly is the same without the chain.
#include <benchmark/benchmark.h>

#include <cstdlib>

#include "core/event.h"
#include "transform/builtins.h"
#include "wal_update_event.h"

namespace {

using namespace pgcdc;
using namespace pgcdc::transform;

Event WalUpdate() { return bench::WalUpdateEvent(); }

TransformPtr Must(Result<TransformPtr> t) {
  if (!t) std::abort();
  return *t;
}

void RunChain(benchmark::State& state, const Chain& chain) {
  const Event original = WalUpdate();
  size_t bytes = 0;
  for (auto _ : state) {
    Event e = original;
    auto v = chain.Apply(e);
    benchmark::DoNotOptimize(v);
    bytes += e.Json().size();
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["json_bytes"] =
      static_cast<double>(bytes) / static_cast<double>(state.iterations());
}

void BM_EncodeOnly(benchmark::State& state) { RunChain(state, Chain()); }
BENCHMARK(BM_EncodeOnly);

void BM_DropMaskFilter(benchmark::State& state) {
  RunChain(state,
           Chain({MakeDropColumns({"note", "customer_id"}), MakeMask({{"email", MaskMode::kHash}}),
                  Must(MakeFilter({.operations = {"INSERT", "UPDATE"}}))}));
}
BENCHMARK(BM_DropMaskFilter);

void BM_DropMaskCelEnvelope(benchmark::State& state) {
  RunChain(
      state,
      Chain({MakeDropColumns({"note", "customer_id"}), MakeMask({{"email", MaskMode::kHash}}),
             Must(MakeCelFilter(R"(operation != "DELETE" && channel.startsWith("pgcdc:"))"))}));
}
BENCHMARK(BM_DropMaskCelEnvelope);

void BM_DropMaskCelRow(benchmark::State& state) {
  RunChain(state,
           Chain({MakeDropColumns({"note", "customer_id"}), MakeMask({{"email", MaskMode::kHash}}),
                  Must(MakeCelFilter(R"(operation == "UPDATE" && row.status != old.status)"))}));
}
BENCHMARK(BM_DropMaskCelRow);

void BM_DropOnly(benchmark::State& state) { RunChain(state, Chain({MakeDropColumns({"note"})})); }
BENCHMARK(BM_DropOnly);

void BM_Debezium(benchmark::State& state) { RunChain(state, Chain({MakeDebezium({})})); }
BENCHMARK(BM_Debezium);

}  // namespace

BENCHMARK_MAIN();
