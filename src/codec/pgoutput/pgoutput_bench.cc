// pgoutput decode throughput: CopyData frame -> XLogData -> Insert, the hot
// path of the logical replication source. Bytes processed = CopyData bytes.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "codec/pgoutput/pgoutput.h"

namespace {

using pgcdc::pgoutput::DecodeContext;
using pgcdc::pgoutput::DecodeMessage;
using pgcdc::pgoutput::DecodeReplicationMessage;
using pgcdc::pgoutput::XLogData;

void Put32(std::string& s, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) s.push_back(static_cast<char>(v >> shift));
}
void Put64(std::string& s, uint64_t v) {
  Put32(s, static_cast<uint32_t>(v >> 32));
  Put32(s, static_cast<uint32_t>(v));
}

// A 'w' frame carrying an Insert of an orders-like row (8 text columns, one
// NULL), about 150 bytes: what a typical OLTP table produces.
std::string InsertFrame(uint64_t lsn, int id) {
  const std::vector<std::string> cols = {std::to_string(id),
                                         "ada@example.com",
                                         "shipped",
                                         "123.45",
                                         "2026-11-24 02:34:37.913847+00",
                                         "",
                                         "{\"sku\": \"A-1\", \"qty\": 2}",
                                         "f"};
  std::string s = "w";
  Put64(s, lsn);
  Put64(s, lsn);
  Put64(s, 817'000'000'000'000);
  s.push_back('I');
  Put32(s, 16393);
  s.push_back('N');
  s.push_back(0);
  s.push_back(static_cast<char>(cols.size()));
  for (const std::string& c : cols) {
    if (c.empty()) {
      s.push_back('n');
      continue;
    }
    s.push_back('t');
    Put32(s, static_cast<uint32_t>(c.size()));
    s.append(c);
  }
  return s;
}

void BM_DecodeInsertFrames(benchmark::State& state) {
  std::vector<std::string> frames;
  for (int i = 0; i < 1024; ++i) frames.push_back(InsertFrame(0x1000000 + i * 160, 100000 + i));
  size_t bytes = 0;
  for (auto _ : state) {
    DecodeContext ctx;
    for (const std::string& f : frames) {
      auto outer = DecodeReplicationMessage({reinterpret_cast<const uint8_t*>(f.data()), f.size()});
      auto msg = DecodeMessage(std::get<XLogData>(*outer).payload, ctx);
      benchmark::DoNotOptimize(msg);
      bytes += f.size();
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(frames.size()));
}
BENCHMARK(BM_DecodeInsertFrames);

// Wide row: 40 text columns of 20 bytes (fewer, larger messages).
void BM_DecodeWideInsert(benchmark::State& state) {
  std::string payload = "I";
  Put32(payload, 1);
  payload.push_back('N');
  payload.push_back(0);
  payload.push_back(40);
  for (int i = 0; i < 40; ++i) {
    payload.push_back('t');
    Put32(payload, 20);
    payload.append(20, static_cast<char>('a' + i % 26));
  }
  const std::span<const uint8_t> span(reinterpret_cast<const uint8_t*>(payload.data()),
                                      payload.size());
  DecodeContext ctx;
  for (auto _ : state) {
    auto msg = DecodeMessage(span, ctx);
    benchmark::DoNotOptimize(msg);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * payload.size()));
}
BENCHMARK(BM_DecodeWideInsert);

}  // namespace

BENCHMARK_MAIN();
