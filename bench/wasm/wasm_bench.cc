// Wasm plugin costs, one core (docs/plugins.md "Cost"):
// - start-up: the first Plugin::Load of a process (V8 start + isolate +
//   compile + instantiate), printed before the benchmarks, then BM_Load*
//   (a further instance: isolate + compile + instantiate);
// - per call: BM_Call* (the host boundary alone and with a 550-byte event);
// - per event in a chain, as transform_bench measures it: copy the event,
//   run the chain, encode the JSON — built-in drop_columns next to the noop
//   WAT plugin and the drop_field plugin in C and in Rust (src/wasm/testdata;
//   the Rust one when rustc with libstd-rust-dev-wasm32 built it).
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "core/event.h"
#include "transform/builtins.h"
#include "transform/wasm_transform.h"
#include "wal_update_event.h"
#include "wasm/plugin.h"

namespace {

using namespace pgcdc;
using namespace pgcdc::transform;

std::string PluginPath(const char* name) {
  return std::string(PGCDC_WASM_TESTDATA) + "/" + name + ".wasm";
}

std::shared_ptr<wasm::Plugin> Load(const char* name,
                                   std::map<std::string, std::string> config = {}) {
  auto p = wasm::Plugin::Load(PluginPath(name),
                              {.name = name, .type = "transform", .config = std::move(config)});
  if (!p) {
    std::fprintf(stderr, "%s\n", p.error().message().c_str());
    std::abort();
  }
  return std::shared_ptr<wasm::Plugin>(std::move(*p));
}

Event WalUpdate() { return bench::WalUpdateEvent(); }

void BM_LoadNoop(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(Load("noop"));
}
BENCHMARK(BM_LoadNoop)->Unit(benchmark::kMillisecond);

void BM_LoadDropFieldC(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(Load("drop_field", {{"field", "\"email\""}}));
}
BENCHMARK(BM_LoadDropFieldC)->Unit(benchmark::kMillisecond);

bool HaveRust(benchmark::State& state) {
  if (std::filesystem::exists(PluginPath("drop_field_rs"))) return true;
  state.SkipWithError("drop_field_rs.wasm not built (no rustc with libstd-rust-dev-wasm32)");
  return false;
}

void BM_LoadDropFieldRust(benchmark::State& state) {
  if (!HaveRust(state)) return;
  for (auto _ : state) benchmark::DoNotOptimize(Load("drop_field_rs", {{"field", "\"email\""}}));
}
BENCHMARK(BM_LoadDropFieldRust)->Unit(benchmark::kMillisecond);

void BM_CallEmptyPlugin(benchmark::State& state) {
  auto p = Load("drop_event");
  for (auto _ : state) benchmark::DoNotOptimize(p->Call("transform", "{}"));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CallEmptyPlugin);

void BM_CallNoopEvent(benchmark::State& state) {
  auto p = Load("noop");
  const std::string input = WalUpdate().Json();
  for (auto _ : state) benchmark::DoNotOptimize(p->Call("transform", input));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CallNoopEvent);

void RunChain(benchmark::State& state, const Chain& chain) {
  const Event original = WalUpdate();
  for (auto _ : state) {
    Event e = original;
    auto v = chain.Apply(e);
    if (!v) std::abort();
    benchmark::DoNotOptimize(e.Json());
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_ChainEncodeOnly(benchmark::State& state) { RunChain(state, Chain()); }
BENCHMARK(BM_ChainEncodeOnly);

void BM_ChainBuiltinDropColumns(benchmark::State& state) {
  RunChain(state, Chain({MakeDropColumns({"email"})}));
}
BENCHMARK(BM_ChainBuiltinDropColumns);

void BM_ChainWasmNoop(benchmark::State& state) {
  RunChain(state, Chain({MakeWasmTransform(Load("noop"))}));
}
BENCHMARK(BM_ChainWasmNoop);

void BM_ChainWasmDropFieldC(benchmark::State& state) {
  RunChain(state, Chain({MakeWasmTransform(Load("drop_field", {{"field", "\"email\""}}))}));
}
BENCHMARK(BM_ChainWasmDropFieldC);

void BM_ChainWasmDropFieldRust(benchmark::State& state) {
  if (!HaveRust(state)) return;
  RunChain(state, Chain({MakeWasmTransform(Load("drop_field_rs", {{"field", "\"email\""}}))}));
}
BENCHMARK(BM_ChainWasmDropFieldRust);

}  // namespace

int main(int argc, char** argv) {
  const auto start = std::chrono::steady_clock::now();
  auto first = Load("noop");
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::printf("first plugin load in this process (V8 start + instance): %.2f ms\n", ms);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
