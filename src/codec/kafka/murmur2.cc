#include "codec/kafka/murmur2.h"

namespace pgcdc::codec::kafka {

int32_t Murmur2(std::string_view data) {
  // 32-bit MurmurHash2 with Kafka's seed; arithmetic on uint32_t wraps like
  // Java's int, and Java's >>> is a logical shift on the unsigned value.
  constexpr uint32_t kSeed = 0x9747b28c;
  constexpr uint32_t kM = 0x5bd1e995;
  constexpr int kR = 24;
  const size_t length = data.size();
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  uint32_t h = kSeed ^ static_cast<uint32_t>(length);
  const size_t blocks = length / 4;
  for (size_t i = 0; i < blocks; ++i) {
    const size_t i4 = i * 4;
    uint32_t k = uint32_t{p[i4]} | (uint32_t{p[i4 + 1]} << 8) | (uint32_t{p[i4 + 2]} << 16) |
                 (uint32_t{p[i4 + 3]} << 24);
    k *= kM;
    k ^= k >> kR;
    k *= kM;
    h *= kM;
    h ^= k;
  }
  const size_t tail = blocks * 4;
  switch (length % 4) {
    case 3:
      h ^= uint32_t{p[tail + 2]} << 16;
      [[fallthrough]];
    case 2:
      h ^= uint32_t{p[tail + 1]} << 8;
      [[fallthrough]];
    case 1:
      h ^= uint32_t{p[tail]};
      h *= kM;
      break;
    default:  // no tail
      break;
  }
  h ^= h >> 13;
  h *= kM;
  h ^= h >> 15;
  return static_cast<int32_t>(h);
}

int32_t DefaultPartition(std::string_view key, int32_t partitions) {
  if (partitions <= 0) return 0;
  return (Murmur2(key) & 0x7fffffff) % partitions;
}

}  // namespace pgcdc::codec::kafka
