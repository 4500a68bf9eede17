// Bus fan-out: one producer publishing shared batches to N subscribers that
// only count what they receive ("null sinks"). Reports events/s through the
// whole bus (ingest queue -> dispatcher -> per-subscriber queues).
#include <benchmark/benchmark.h>

#include <atomic>
#include <thread>

#include "bus/bus.h"
#include "core/log.h"

namespace {

void BM_BusFanOut(benchmark::State& state) {
  const auto sinks = static_cast<size_t>(state.range(0));
  const auto batch_size = static_cast<size_t>(state.range(1));
  const auto mode = state.range(2) == 0 ? pgcdc::bus::Mode::kFast : pgcdc::bus::Mode::kReliable;
  auto batch = std::make_shared<pgcdc::EventBatch>();
  batch->events.resize(batch_size);
  for (auto& e : batch->events) {
    e.channel = "pgcdc:orders";
    e.operation = "INSERT";
  }
  pgcdc::BatchPtr shared = batch;
  constexpr size_t kBatchesPerIteration = 1000;
  uint64_t total_delivered = 0;
  for (auto _ : state) {
    pgcdc::bus::Bus bus({.buffer_size = 65536, .mode = mode});
    std::vector<pgcdc::bus::BatchQueue*> queues;
    for (size_t i = 0; i < sinks; ++i) queues.push_back(&bus.Subscribe("sink" + std::to_string(i)));
    std::atomic<uint64_t> delivered{0};
    std::vector<std::thread> consumers;
    for (auto* q : queues) {
      consumers.emplace_back([q, &delivered] {
        std::vector<pgcdc::bus::BatchSlice> out;
        uint64_t n = 0;
        while (true) {
          out.clear();
          const bool open = q->PopAll(out, std::chrono::milliseconds(10));
          for (auto& s : out) {
            for (const auto& e : s.events()) benchmark::DoNotOptimize(e.lsn);
            n += s.size();
          }
          if (!open) break;
        }
        delivered += n;
      });
    }
    bus.Start();
    for (size_t i = 0; i < kBatchesPerIteration; ++i) bus.Publish(shared);
    bus.CloseIngest();
    bus.Join();
    for (auto& t : consumers) t.join();
    total_delivered += delivered.load();
  }
  const double produced =
      static_cast<double>(state.iterations() * kBatchesPerIteration * batch_size);
  state.counters["events/s"] = benchmark::Counter(produced, benchmark::Counter::kIsRate);
  state.counters["deliveries/s"] =
      benchmark::Counter(static_cast<double>(total_delivered), benchmark::Counter::kIsRate);
  state.counters["delivered_ratio"] = static_cast<double>(total_delivered) / (produced * sinks);
}

// args: sinks, batch size, mode (0 fast, 1 reliable)
BENCHMARK(BM_BusFanOut)
    ->Args({4, 1, 1})
    ->Args({4, 16, 1})
    ->Args({4, 64, 1})
    ->Args({4, 256, 1})
    ->Args({4, 1024, 1})
    ->Args({4, 256, 0})
    ->Args({1, 256, 1})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  // Fast-mode runs drop on purpose; keep their rate-limited warnings out of the report.
  pgcdc::log::Configure(pgcdc::log::Level::kError, pgcdc::log::Format::kText);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
