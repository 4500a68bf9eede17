// The duckdb sink's ingest rate without PostgreSQL or HTTP: N WAL INSERT
// events of bench/duckdb/duckdb_bench.sh's table (bigint, integer, text,
// timestamptz, numeric; a typed view) delivered to the adapter in batches of
// 1,000 — as the pipeline hands them over — then flushed; the clock stops
// once every event is committed (what the sink acknowledges).
//
//   build/release/bench/duckdb/duckdb_ingest_bench [EVENTS] [PATH] [FLUSH_SIZE]
//   (EVENTS 1000000, PATH :memory:, FLUSH_SIZE 10000)
// Prints events/s.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "adapter/duckdb/duckdb_adapter.h"

using namespace pgcdc;
using namespace pgcdc::adapter::duckdb;

namespace {

std::vector<Event> Events(int n) {
  auto schema = std::make_shared<RowSchema>();
  schema->namespace_name = "public";
  schema->table = "bench_d";
  schema->columns = {{"id", 20, true}, {"a", 23}, {"b", 25}, {"c", 1184}, {"d", 1700}};
  std::vector<Event> out;
  out.reserve(n);
  for (int i = 1; i <= n; ++i) {
    const std::string id = std::to_string(i);
    Event e = MakeEvent("pgcdc:bench_d", "INSERT",
                        R"({"op":"INSERT","table":"bench_d","row":{"id":)" + id + R"(,"a":)" + id +
                            R"(,"b":"row )" + id +
                            R"(","c":"2026-12-06 22:00:00.123456+00","d":12.34},"old":null})",
                        "wal_replication");
    e.schema = schema;
    e.seq = i;
    out.push_back(std::move(e));
  }
  return out;
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 1'000'000;
  Options o;
  o.path = argc > 2 ? argv[2] : ":memory:";
  o.flush_size = argc > 3 ? std::strtoul(argv[3], nullptr, 10) : 10'000;
  const std::vector<Event> events = Events(n);
  std::vector<const Event*> ptrs;
  for (const auto& e : events) ptrs.push_back(&e);

  DuckdbAdapter sink(o);
  if (auto st = sink.Open(); !st) {
    std::fprintf(stderr, "%s\n", st.error().message().c_str());
    return 1;
  }
  const auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < ptrs.size(); i += 1000) {
    const size_t len = std::min<size_t>(1000, ptrs.size() - i);
    if (auto st = sink.Deliver(std::span(ptrs).subspan(i, len)); !st) {
      std::fprintf(stderr, "%s\n", st.error().message().c_str());
      return 1;
    }
  }
  sink.Close();  // commits the rest
  const double secs = Seconds(start);
  std::printf("%d events into %s (flush size %zu): %.2f s, %.0f events/s\n", n, o.path.c_str(),
              o.flush_size, secs, n / secs);
  return 0;
}
