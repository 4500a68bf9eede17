// Kafka's default key partitioner hash.
//
// Murmur2 is bit-for-bit the Java client's org.apache.kafka.common.utils.
// Utils.murmur2 (32-bit MurmurHash2, seed 0x9747b28c, little-endian 4-byte
// blocks, signed result) which librdkafka's "murmur2" partitioner and kafkajs'
// DefaultPartitioner reproduce, so keys land in the same partitions as with
// Java producers.
#pragma once

#include <cstdint>
#include <string_view>

namespace pgcdc::codec::kafka {

int32_t Murmur2(std::string_view data);

// (Murmur2(key) & 0x7fffffff) % partitions, as Java's BuiltInPartitioner for
// keyed records. partitions <= 0 returns 0.
int32_t DefaultPartition(std::string_view key, int32_t partitions);

}  // namespace pgcdc::codec::kafka
