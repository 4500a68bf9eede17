// Test helper: builds RecordBatch v2 bytes by hand (uncompressed, producer id
// -1), independent of the wire codec.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "adapter/kafkaserver/batch_format.h"

namespace pgcdc::adapter::kafkaserver::testing {

inline void PutVarLong(std::string& out, int64_t v) {
  auto u = (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);  // zigzag
  while (u >= 0x80) {
    out.push_back(static_cast<char>((u & 0x7F) | 0x80));
    u >>= 7;
  }
  out.push_back(static_cast<char>(u));
}

inline void PutBe(std::string& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

// One batch holding `values.size()` records (no keys, no headers) with
// timestamps base_ts, base_ts+1, ... and base offset `base_offset`.
inline std::string MakeBatch(const std::vector<std::string>& values, int64_t base_ts = 1000,
                             int64_t base_offset = 0) {
  std::string records;
  for (size_t i = 0; i < values.size(); ++i) {
    std::string rec;
    rec.push_back(0);                          // attributes
    PutVarLong(rec, static_cast<int64_t>(i));  // timestampDelta
    PutVarLong(rec, static_cast<int64_t>(i));  // offsetDelta
    PutVarLong(rec, -1);                       // key: null
    PutVarLong(rec, static_cast<int64_t>(values[i].size()));
    rec += values[i];
    PutVarLong(rec, 0);  // headers
    PutVarLong(records, static_cast<int64_t>(rec.size()));
    records += rec;
  }
  const auto n = static_cast<int64_t>(values.size());
  std::string b;
  PutBe(b, static_cast<uint64_t>(base_offset), 8);
  PutBe(b, 0, 4);  // batchLength, patched below
  PutBe(b, 0, 4);  // partitionLeaderEpoch
  b.push_back(2);  // magic
  PutBe(b, 0, 4);  // crc, patched below
  PutBe(b, 0, 2);  // attributes
  PutBe(b, static_cast<uint64_t>(n - 1), 4);
  PutBe(b, static_cast<uint64_t>(base_ts), 8);
  PutBe(b, static_cast<uint64_t>(base_ts + n - 1), 8);
  PutBe(b, static_cast<uint64_t>(-1), 8);  // producerId
  PutBe(b, static_cast<uint64_t>(-1), 2);  // producerEpoch
  PutBe(b, static_cast<uint64_t>(-1), 4);  // baseSequence
  PutBe(b, static_cast<uint64_t>(n), 4);
  b += records;
  StoreBe32(b.data() + 8, static_cast<int32_t>(b.size() - kBatchLogOverhead));
  StoreBe32(b.data() + 17,
            static_cast<int32_t>(Crc32c(std::string_view(b).substr(kBatchCrcStart))));
  return b;
}

inline int64_t BaseOffsetOf(const std::string& batch) { return LoadBe64(batch.data()); }
inline int64_t MaxTimestampOf(const std::string& batch) { return LoadBe64(batch.data() + 35); }

}  // namespace pgcdc::adapter::kafkaserver::testing
