// Event JSON encoding: NOTIFY payload -> envelope JSON, the stdout hot path.
#include <benchmark/benchmark.h>

#include "core/event.h"
#include "core/time.h"
#include "detector/listennotify/notify_event.h"

namespace {

const char* kTriggerPayload =
    R"({"op": "UPDATE", "table": "orders", "row": {"id": 42, "customer": "ada", "status": "shipped", "amount": 123.45, "created_at": "2026-11-24T02:34:37.913847+00:00"}, "old": {"id": 42, "customer": "ada", "status": "paid", "amount": 123.45, "created_at": "2026-11-24T02:34:37.913847+00:00"}})";

void BM_NotifyToEventJson(benchmark::State& state) {
  size_t bytes = 0;
  for (auto _ : state) {
    pgcdc::Event e = pgcdc::detector::listennotify::MakeNotifyEvent("pgcdc:orders", kTriggerPayload,
                                                                    pgcdc::NowUnixNanos());
    const std::string& json = e.Json();
    bytes += json.size();
    benchmark::DoNotOptimize(json.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_NotifyToEventJson);

void BM_EnvelopeOnly(benchmark::State& state) {
  pgcdc::Event e = pgcdc::detector::listennotify::MakeNotifyEvent("pgcdc:orders", kTriggerPayload,
                                                                  pgcdc::NowUnixNanos());
  std::string out;
  for (auto _ : state) {
    out.clear();
    pgcdc::AppendEventJson(e, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * out.size()));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EnvelopeOnly);

}  // namespace

BENCHMARK_MAIN();
