// Kafka RecordBatch (message format v2, "magic 2") encoder and decoder.
//
// Layout (https://kafka.apache.org/documentation/#recordbatch):
//   baseOffset int64 | batchLength int32 | partitionLeaderEpoch int32 |
//   magic int8 (=2) | crc uint32 | attributes int16 | lastOffsetDelta int32 |
//   baseTimestamp int64 | maxTimestamp int64 | producerId int64 |
//   producerEpoch int16 | baseSequence int32 | records count int32 | records
// batchLength counts the bytes after itself; the CRC-32C covers everything
// from attributes to the end. baseOffset and partitionLeaderEpoch are not
// covered, so a broker can assign offsets by patching bytes (PatchBaseOffset).
// Records (zigzag varints): length | attributes int8 | timestampDelta varlong |
// offsetDelta varint | key (varint len, -1 null) | value | headers count |
// headers (key varint-len string, value varint-len bytes or -1).
// Attributes bits 0-2: compression (none, gzip, snappy, lz4, zstd); bit 3:
// timestamp type (1 = LogAppendTime); bit 4: transactional; bit 5: control.
// When compressed, everything after the records count is compressed.
//
// Compression codecs are the ones real clients produce: gzip (RFC 1952 via
// zlib), snappy (raw snappy, as librdkafka and kafkajs write it, and the
// xerial-framed stream Java clients write: both are accepted on decode, raw is
// written), lz4 (LZ4 frame format), zstd (single frame, streaming decode).
//
// Decoding never trusts a length: truncation, bad CRC, magic != 2, record
// counts that the bytes cannot hold, and decompressed output beyond
// DecodeOptions::max_decompressed_bytes all return kParse errors
// ("record batch at offset 0: ..."). Pure functions, reentrant.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace pgcdc::codec::kafka {

enum class Compression : int8_t { kNone = 0, kGzip = 1, kSnappy = 2, kLz4 = 3, kZstd = 4 };

// "none", "gzip", "snappy", "lz4", "zstd".
std::string_view CompressionName(Compression c);
// Parses the names above (as used in producer configs); kInvalidArgument otherwise.
Result<Compression> ParseCompression(std::string_view name);

struct RecordHeader {
  std::string key;
  std::optional<std::string> value;
  bool operator==(const RecordHeader&) const = default;
};

struct Record {
  // Absolute offset (decode: base_offset + offset delta). Ignored by the
  // encoder, which numbers records base_offset, base_offset+1, ...
  int64_t offset = 0;
  int64_t timestamp_ms = 0;
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<RecordHeader> headers;
  bool operator==(const Record&) const = default;
};

// Fixed sizes of the v2 batch header.
inline constexpr size_t kRecordBatchOverhead = 61;  // header bytes incl. records count
inline constexpr size_t kBatchLengthOffset = 8;     // batchLength follows baseOffset
inline constexpr size_t kBatchLogOverhead = 12;     // baseOffset + batchLength

// Attribute bits.
inline constexpr int16_t kAttrCompressionMask = 0x07;
inline constexpr int16_t kAttrLogAppendTime = 0x08;
inline constexpr int16_t kAttrTransactional = 0x10;
inline constexpr int16_t kAttrControl = 0x20;

struct BatchEncodeOptions {
  Compression compression = Compression::kNone;
  bool log_append_time = false;  // timestamp type bit
  int32_t partition_leader_epoch = -1;
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  int32_t base_sequence = -1;
  bool transactional = false;
  bool control = false;  // a control batch (transaction marker)
};

// Appends one batch holding `records` (must be non-empty) to `out`. first
// timestamp = records[0].timestamp_ms, timestamp deltas relative to it (64-bit
// wrapping, as Java), max timestamp = the largest; record attributes 0;
// offset deltas 0..n-1, so last_offset_delta = n - 1. Errors only if a compressor fails or a field
// does not fit its wire type (kInvalidArgument); `out` is unchanged on error.
Status EncodeRecordBatch(int64_t base_offset, std::span<const Record> records,
                         const BatchEncodeOptions& options, std::string& out);
inline Status EncodeRecordBatch(int64_t base_offset, std::span<const Record> records,
                                Compression compression, std::string& out) {
  BatchEncodeOptions options;
  options.compression = compression;
  return EncodeRecordBatch(base_offset, records, options, out);
}

// The fixed batch header, readable without touching the records.
struct BatchHeader {
  int64_t base_offset = 0;
  int32_t batch_length = 0;  // bytes after the batchLength field
  int32_t partition_leader_epoch = -1;
  int8_t magic = 2;
  uint32_t crc = 0;
  bool crc_ok = false;  // crc equals Crc32c(attributes..end)
  int16_t attributes = 0;
  int32_t last_offset_delta = 0;
  int64_t first_timestamp = 0;
  int64_t max_timestamp = 0;
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  int32_t base_sequence = -1;
  int32_t record_count = 0;

  Compression compression() const {
    return static_cast<Compression>(attributes & kAttrCompressionMask);
  }
  bool log_append_time() const { return (attributes & kAttrLogAppendTime) != 0; }
  bool transactional() const { return (attributes & kAttrTransactional) != 0; }
  bool control() const { return (attributes & kAttrControl) != 0; }
  // Total bytes of this batch on the wire (12 + batch_length).
  size_t size() const { return kBatchLogOverhead + static_cast<size_t>(batch_length); }
  int64_t last_offset() const { return base_offset + last_offset_delta; }
  // Number of offsets the batch occupies.
  int64_t offset_span() const { return int64_t{last_offset_delta} + 1; }
};

struct DecodedBatch : BatchHeader {
  std::vector<Record> records;  // decompressed; offsets absolute
};

// One batch's header plus its exact bytes (a view into the input).
struct BatchView {
  BatchHeader header;
  std::string_view bytes;
};

struct DecodeOptions {
  // Cap on one batch's decompressed records section.
  size_t max_decompressed_bytes = 64u * 1024u * 1024u;
  // Reject batches whose CRC does not match (otherwise crc_ok reports it).
  bool verify_crc = true;
  // A trailing incomplete batch is ignored instead of an error (Fetch
  // responses may end with a partial batch; Produce requests may not).
  bool allow_partial_tail = false;
};

// Parses the header of the batch at the start of `data` (needs >= 61 bytes
// and, for the CRC check, the whole batch). Does not check the CRC option:
// crc_ok is computed when the whole batch is present, else false.
Result<BatchHeader> ParseBatchHeader(std::string_view data);

// Splits a records blob (a Produce partition's records, or a segment file)
// into its batches without decoding records: validates magic, lengths, CRC
// (per options), the compression type, that last_offset_delta/record_count
// are consistent (0 <= count-1 <= last_offset_delta) and that
// base_offset + last_offset_delta does not overflow. A producer's batch has
// last_offset_delta == record_count - 1; enforcing that is the broker's call.
Result<std::vector<BatchView>> SplitRecordBatches(std::string_view data,
                                                  const DecodeOptions& options = {});

// Decodes every batch in `data`, decompressing records.
Result<std::vector<DecodedBatch>> DecodeRecordBatches(std::string_view data,
                                                      const DecodeOptions& options = {});

// Sets the baseOffset field of the batch at the start of `batch_bytes`
// (not covered by the CRC). kInvalidArgument if shorter than a batch header.
Status PatchBaseOffset(std::string& batch_bytes, int64_t base_offset);
// Same for partitionLeaderEpoch.
Status PatchPartitionLeaderEpoch(std::string& batch_bytes, int32_t epoch);

// CRC-32C (Castagnoli), as used by RecordBatch; `crc` continues a previous
// value (start with 0).
uint32_t Crc32c(std::string_view data, uint32_t crc = 0);

// Whole-buffer (de)compression with the batch codecs. Decompress fails with
// kParse on corrupt input or when the output would exceed max_output.
Result<std::string> Compress(Compression c, std::string_view data);
Result<std::string> Decompress(Compression c, std::string_view data, size_t max_output);

}  // namespace pgcdc::codec::kafka
