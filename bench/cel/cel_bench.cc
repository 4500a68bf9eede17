// CEL evaluation throughput for the cel_filter transform: one evaluation per
// event on one core (items_per_second = events/s per core).
#include <benchmark/benchmark.h>

#include <string>

#include "cel/cel.h"

namespace {

using pgcdc::cel::Activation;
using pgcdc::cel::CompileOptions;
using pgcdc::cel::Declarations;
using pgcdc::cel::Program;

constexpr std::string_view kRow =
    R"({"id":42,"status":"shipped","customer":"c-1001","total":129.5,"tags":["prio","eu"],)"
    R"("created_at":"2025-06-15T12:00:00Z","note":null})";
constexpr std::string_view kOld =
    R"({"id":42,"status":"paid","customer":"c-1001","total":129.5,"tags":["prio","eu"],)"
    R"("created_at":"2025-06-15T12:00:00Z","note":null})";

Program MustCompile(std::string_view expr, const Declarations& decls) {
  auto p = Program::Compile(expr, decls, CompileOptions{.require_bool = true});
  if (!p) std::abort();
  return *p;
}

// Per-event binding as the transform does it: slots looked up once.
void BindEnvelope(Activation& act, const Declarations& decls) {
  static const int kChannel = decls.Slot("channel"), kOperation = decls.Slot("operation"),
                   kSource = decls.Slot("source"), kId = decls.Slot("id"),
                   kTable = decls.Slot("table"), kSchema = decls.Slot("schema_name"),
                   kHasRecord = decls.Slot("has_record");
  act.BindString(kChannel, "pgcdc:orders");
  act.BindString(kOperation, "UPDATE");
  act.BindString(kSource, "wal");
  act.BindString(kId, "0193d3c4-5b6f-7c0d-8e9f-0a1b2c3d4e5f");
  act.BindString(kTable, "orders");
  act.BindString(kSchema, "public");
  act.BindBool(kHasRecord, true);
}

// Envelope fields only: no allocation per evaluation.
void BM_EnvelopeFilter(benchmark::State& state) {
  Declarations decls = Declarations::EventFilter();
  Program p = MustCompile(R"(operation == "UPDATE" && channel.startsWith("pgcdc:"))", decls);
  Activation act(decls);
  for (auto _ : state) {
    BindEnvelope(act, decls);
    benchmark::DoNotOptimize(p.Evaluate(act));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EnvelopeFilter);

void BM_EnvelopeFilterIn(benchmark::State& state) {
  Declarations decls = Declarations::EventFilter();
  Program p = MustCompile(
      R"(table in ["orders", "invoices", "customers"] && operation != "DELETE" && has_record)",
      decls);
  Activation act(decls);
  for (auto _ : state) {
    BindEnvelope(act, decls);
    benchmark::DoNotOptimize(p.Evaluate(act));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EnvelopeFilterIn);

// Row data: row/old decoded from JSON for every event (the realistic cost).
void BM_RowFilterWithJsonDecode(benchmark::State& state) {
  Declarations decls = Declarations::EventFilter();
  Program p = MustCompile(R"(operation == "UPDATE" && row.status != old.status)", decls);
  Activation act(decls);
  for (auto _ : state) {
    BindEnvelope(act, decls);
    act.BindJson(decls.Slot("row"), kRow);
    act.BindJson(decls.Slot("old"), kOld);
    benchmark::DoNotOptimize(p.Evaluate(act));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RowFilterWithJsonDecode);

// The whole payload decoded once; row and old bound as its fields.
void BM_RowFilterPayloadFields(benchmark::State& state) {
  Declarations decls = Declarations::EventFilter();
  Program p = MustCompile(R"(operation == "UPDATE" && row.status != old.status)", decls);
  Activation act(decls);
  const std::string payload = R"({"op":"UPDATE","table":"orders","row":)" + std::string(kRow) +
                              R"(,"old":)" + std::string(kOld) + "}";
  for (auto _ : state) {
    BindEnvelope(act, decls);
    act.BindJson(decls.Slot("payload"), payload);
    act.BindField(decls.Slot("row"), decls.Slot("payload"), "row");
    act.BindField(decls.Slot("old"), decls.Slot("payload"), "old");
    benchmark::DoNotOptimize(p.Evaluate(act));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RowFilterPayloadFields);

// Same expression with the row images already decoded (evaluation only).
void BM_RowFilterPredecoded(benchmark::State& state) {
  Declarations decls = Declarations::EventFilter();
  Program p = MustCompile(R"(operation == "UPDATE" && row.status != old.status)", decls);
  Activation act(decls);
  BindEnvelope(act, decls);
  act.Bind(decls.Slot("row"), *pgcdc::cel::ValueFromJson(kRow));
  act.Bind(decls.Slot("old"), *pgcdc::cel::ValueFromJson(kOld));
  for (auto _ : state) benchmark::DoNotOptimize(p.Evaluate(act));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RowFilterPredecoded);

void BM_MacroAndRegex(benchmark::State& state) {
  Declarations decls = Declarations::EventFilter();
  Program p = MustCompile(
      R"(row.tags.exists(t, t == "eu") && row.customer.matches("^c-[0-9]+$") && row.total > 100)",
      decls);
  Activation act(decls);
  BindEnvelope(act, decls);
  act.Bind(decls.Slot("row"), *pgcdc::cel::ValueFromJson(kRow));
  for (auto _ : state) benchmark::DoNotOptimize(p.Evaluate(act));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MacroAndRegex);

void BM_Compile(benchmark::State& state) {
  Declarations decls = Declarations::EventFilter();
  for (auto _ : state) {
    benchmark::DoNotOptimize(Program::Compile(
        R"(operation == "UPDATE" && row.status != old.status && channel.startsWith("pgcdc:"))",
        decls));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Compile);

}  // namespace

BENCHMARK_MAIN();
