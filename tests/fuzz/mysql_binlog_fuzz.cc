// libFuzzer target for the mysql detector's binlog decoder and event stream.
//
// Input: one flags byte (bit 0: the server sends CRC32 checksums, bit 1: tx
// markers), then events, each as a 2-byte little-endian length and that many
// bytes, fed to one BinlogStream in order (the seeds are real MariaDB 10.11
// captures from src/detector/mysql/testdata.hex).
// Invariants checked (abort on violation):
//  * every emitted payload is valid JSON;
//  * an error is a clean Status (parse/unimplemented), never a crash or a read
//    outside the input (ASan/UBSan in the fuzz build).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/json.h"
#include "detector/mysql/stream.h"

namespace {

using namespace pgcdc::detector::mysql;

struct Sink : StreamSink {
  bool Emit(pgcdc::Event&& e) override {
    std::string out;
    if (!pgcdc::json::Compact(e.payload, out)) {
      std::fprintf(stderr, "mysql_binlog_fuzz: invalid payload JSON: %s\n", e.payload.c_str());
      std::abort();
    }
    return true;
  }
  void Boundary(const Position&) override {}
  std::optional<std::vector<ColumnInfo>> DescribeTable(const std::string&,
                                                       const std::string&) override {
    return std::nullopt;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  Sink sink;
  StreamOptions o;
  o.checksum = (data[0] & 1) != 0;
  o.tx_markers = (data[0] & 2) != 0;
  o.schema_events = true;
  BinlogStream stream(std::move(o), {"binlog.000001", 4, "0-1-1"}, sink);
  size_t i = 1;
  while (i + 2 <= size) {
    const size_t n = data[i] | (static_cast<size_t>(data[i + 1]) << 8);
    i += 2;
    if (n > size - i) break;
    (void)stream.Handle(std::span<const uint8_t>(data + i, n));
    i += n;
  }
  return 0;
}
