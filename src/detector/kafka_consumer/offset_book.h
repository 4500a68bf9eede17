// OffsetBook: which Kafka offsets the kafka_consumer source may commit.
//
// Every consumed record is entered with the seq of its event (or, for a
// record that produced none — dead-lettered —, the seq of the last event
// before it). Once every adapter finished with the events through a seq
// (RunContext::acks), Delivered() moves those records to the commit set:
// per partition the next offset to read (record offset + 1). Because seqs
// follow consumption order and each partition is consumed in offset order,
// that is the highest contiguous delivered offset of the partition.
// Pure; the detector thread.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "detector/consume/consume.h"

namespace pgcdc::detector::kafka_consumer {

using PartitionKey = std::pair<std::string, int32_t>;  // (topic, partition)

struct Position {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
};

class OffsetBook {
 public:
  void Consumed(uint64_t seq, Position p) { queue_.Push(seq, std::move(p)); }
  // Moves the records delivered through `through` to the commit set; how many.
  size_t Delivered(uint64_t through);
  // The offsets to commit (next offset to read) that changed since the last
  // call, ordered by topic and partition.
  std::vector<Position> TakeCommits();
  // The highest seq of a pending record of one of `parts` (0: none).
  uint64_t LastSeqOf(const std::set<PartitionKey>& parts) const;
  // Forgets the pending records and uncommitted offsets of `parts` (the
  // partitions were revoked: their records come again to their next owner).
  size_t Forget(const std::set<PartitionKey>& parts);
  // Records consumed and not yet delivered.
  size_t pending() const { return queue_.size(); }

 private:
  consume::DeliveryQueue<Position> queue_;
  std::map<PartitionKey, int64_t> ready_;  // changed since the last TakeCommits()
};

}  // namespace pgcdc::detector::kafka_consumer
