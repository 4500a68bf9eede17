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

#include "codec/kafka/record_batch.h"
#include "core/error.h"

namespace pgcdc::adapter::kafkaserver {

inline constexpr size_t kBatchHeaderSize = 61;
// Bytes before the part counted by batchLength (baseOffset + batchLength).
inline constexpr size_t kBatchLogOverhead = 12;
inline constexpr size_t kBatchCrcStart = 21;

// The codec's parsed RecordBatch header (size(): the whole batch;
// offset_span(): the offsets it occupies).
using BatchHeader = codec::kafka::BatchHeader;

// Parses the fixed header at the start of `bytes` (which may hold more than
// one batch, or only the header) with the codec's parser, plus the log's
// limits. Fails (kParse) when fewer than 61 bytes are given, magic != 2,
// batchLength < 49 or > max_batch_bytes - 12, or lastOffsetDelta < 0. Does not
// check the CRC (crc_ok stays false) or that the whole batch is present.
Result<BatchHeader> ParseBatchHeader(std::string_view bytes, size_t max_batch_bytes);

// CRC32C (Castagnoli): the codec's, one implementation for both. `crc`
// continues a running value (start with 0).
using codec::kafka::Crc32c;

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

}  // namespace pgcdc::adapter::kafkaserver
