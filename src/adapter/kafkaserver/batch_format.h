// Just enough of the Kafka RecordBatch v2 layout for the partition log: the
// fixed 61-byte header, base-offset patching and the CRC32C check. Records
// inside a batch stay opaque (the wire codec decodes them).
//
//   offset  size  field
//        0     8  baseOffset            (not covered by the CRC)
//        8     4  batchLength           (bytes after this field)
//       12     4  partitionLeaderEpoch  (not covered by the CRC)
//       16     1  magic (= 2)
//       17     4  crc (CRC32C of bytes 21..end)
//       21     2  attributes
//       23     4  lastOffsetDelta
//       27     8  baseTimestamp
//       35     8  maxTimestamp
//       43     8  producerId
//       51     2  producerEpoch
//       53     4  baseSequence
//       57     4  recordsCount
//       61        records...
// All integers are big-endian.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"

namespace pgcdc::kafkaserver {

inline constexpr size_t kBatchHeaderSize = 61;
// Bytes before the part counted by batchLength (baseOffset + batchLength).
inline constexpr size_t kBatchLogOverhead = 12;
inline constexpr size_t kBatchCrcStart = 21;

struct BatchHeader {
  int64_t base_offset = 0;
  int32_t batch_length = 0;
  int32_t partition_leader_epoch = 0;
  int8_t magic = 0;
  uint32_t crc = 0;
  int16_t attributes = 0;
  int32_t last_offset_delta = 0;
  int64_t base_timestamp = 0;
  int64_t max_timestamp = 0;
  int64_t producer_id = 0;
  int16_t producer_epoch = 0;
  int32_t base_sequence = 0;
  int32_t records_count = 0;

  // Whole batch size on the wire / on disk.
  size_t total_size() const { return kBatchLogOverhead + static_cast<size_t>(batch_length); }
  // Number of offsets the batch occupies.
  int64_t offset_span() const { return int64_t{last_offset_delta} + 1; }
};

// Parses the fixed header at the start of `bytes` (which may hold more than
// one batch, or only the header). Fails (kParse) when fewer than 61 bytes are
// given, magic != 2, batchLength < 49 or > max_batch_bytes - 12, or
// lastOffsetDelta < 0. Does not check the CRC or that the whole batch is present.
Result<BatchHeader> ParseBatchHeader(std::string_view bytes, size_t max_batch_bytes);

// CRC32C (Castagnoli), software slicing-by-8. `crc` continues a running value
// (start with 0).
uint32_t Crc32c(std::string_view data, uint32_t crc = 0);

// True when `batch` (exactly one whole batch) carries a matching CRC.
bool BatchCrcOk(std::string_view batch);

// Overwrites baseOffset / partitionLeaderEpoch in place (neither is covered by
// the CRC). `batch` must hold at least the header.
void SetBatchBaseOffset(std::string& batch, int64_t base_offset);
void SetBatchLeaderEpoch(std::string& batch, int32_t epoch);

// Big-endian loads/stores used by the above (exposed for tests and callers
// that build headers).
int64_t LoadBe64(const char* p);
int32_t LoadBe32(const char* p);
int16_t LoadBe16(const char* p);
void StoreBe64(char* p, int64_t v);
void StoreBe32(char* p, int32_t v);

}  // namespace pgcdc::kafkaserver
