#include "adapter/kafkaserver/batch_format.h"

#include "codec/kafka/record_batch.h"

namespace pgcdc::adapter::kafkaserver {

int64_t LoadBe64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return static_cast<int64_t>(v);
}
int32_t LoadBe32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return static_cast<int32_t>(v);
}
int16_t LoadBe16(const char* p) {
  return static_cast<int16_t>((static_cast<unsigned char>(p[0]) << 8) |
                              static_cast<unsigned char>(p[1]));
}
void StoreBe64(char* p, int64_t v) {
  auto u = static_cast<uint64_t>(v);
  for (int i = 7; i >= 0; --i) {
    p[i] = static_cast<char>(u & 0xFF);
    u >>= 8;
  }
}
void StoreBe32(char* p, int32_t v) {
  auto u = static_cast<uint32_t>(v);
  for (int i = 3; i >= 0; --i) {
    p[i] = static_cast<char>(u & 0xFF);
    u >>= 8;
  }
}

Result<BatchHeader> ParseBatchHeader(std::string_view bytes, size_t max_batch_bytes) {
  if (bytes.size() < kBatchHeaderSize) {
    return Fail(ErrorCode::kParse,
                "record batch header truncated: " + std::to_string(bytes.size()) + " bytes");
  }
  // The fixed header only, so the codec does not compute the CRC.
  auto parsed = codec::kafka::ParseBatchHeader(bytes.substr(0, kBatchHeaderSize));
  if (!parsed) return Fail(parsed.error());
  BatchHeader h = *parsed;
  h.crc_ok = false;
  if (static_cast<uint64_t>(h.batch_length) + kBatchLogOverhead > max_batch_bytes) {
    return Fail(ErrorCode::kParse,
                "record batch length " + std::to_string(h.batch_length) + " out of range");
  }
  if (h.last_offset_delta < 0) {
    return Fail(ErrorCode::kParse, "record batch lastOffsetDelta " +
                                       std::to_string(h.last_offset_delta) + " is negative");
  }
  return h;
}

bool BatchCrcOk(std::string_view batch) {
  if (batch.size() < kBatchHeaderSize) return false;
  const auto stored = static_cast<uint32_t>(LoadBe32(batch.data() + 17));
  return Crc32c(batch.substr(kBatchCrcStart)) == stored;
}

void SetBatchBaseOffset(std::string& batch, int64_t base_offset) {
  StoreBe64(batch.data(), base_offset);
}

void SetBatchLeaderEpoch(std::string& batch, int32_t epoch) { StoreBe32(batch.data() + 12, epoch); }

}  // namespace pgcdc::adapter::kafkaserver
