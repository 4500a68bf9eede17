// Transactions: producer ids and Kafka transactions for the built-in broker
// (KIP-98), so idempotent and transactional producers — pgcdc's own kafka
// sink among them — can write to it, and read_committed consumers only see
// committed records.
//
//  - InitProducerId: a new producer id (idempotent producers), or for a
//    transactional id its producer id with the epoch bumped; an ongoing
//    transaction of the previous epoch is aborted first (zombie fencing).
//  - AddPartitionsToTxn registers the partitions a transaction writes; a
//    transactional batch for any other partition, or of an old epoch, is
//    refused.
//  - EndTxn writes a commit or abort marker (a control batch) into every
//    partition of the transaction.
//  - Per partition the first offset of every open transaction and the
//    aborted ranges are tracked: the last stable offset (LSO) is the first
//    offset of the oldest open transaction (else the high watermark), and a
//    read_committed Fetch gets data below the LSO plus the aborted
//    transactions in its range, which the client drops.
//  - A transaction open longer than its timeout is aborted (Expire()).
//
// One coordinator (this node) for every transactional id. State is kept in
// memory only: the markers are in the logs, but a restarted broker has
// forgotten open transactions and aborted ranges (documented limitation).
// Not thread-safe: every call runs on the broker thread. Markers are written
// through the MarkerWriter the broker supplies (it owns the logs).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"

namespace pgcdc::adapter::kafkaserver {

struct TxnPartition {
  std::string topic;
  int32_t partition = 0;
  auto operator<=>(const TxnPartition&) const = default;
};

struct AbortedRange {
  int64_t producer_id = 0;
  int64_t first_offset = 0;
  int64_t last_offset = 0;  // the abort marker's offset
};

class Transactions {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  // Appends a control batch (commit or abort marker) for the producer to the
  // partition; returns the marker's offset. A missing partition is kNotFound
  // (nothing to mark).
  using MarkerWriter = std::function<Result<int64_t>(const TxnPartition&, int64_t producer_id,
                                                     int16_t epoch, bool commit)>;

  explicit Transactions(MarkerWriter writer) : writer_(std::move(writer)) {}

  struct ProducerId {
    int16_t error = 0;  // Kafka error code
    int64_t id = -1;
    int16_t epoch = -1;
  };
  ProducerId InitProducerId(const std::optional<std::string>& transactional_id, int32_t timeout_ms,
                            TimePoint now);
  // Kafka error codes (0 = ok).
  int16_t AddPartition(const std::string& transactional_id, int64_t producer_id, int16_t epoch,
                       const TxnPartition& partition, TimePoint now);
  int16_t EndTxn(const std::string& transactional_id, int64_t producer_id, int16_t epoch,
                 bool commit);

  // Whether a transactional batch of (producer, epoch) may go to `partition`.
  int16_t CheckProduce(const TxnPartition& partition, int64_t producer_id, int16_t epoch) const;
  // A transactional batch was appended at `base_offset`.
  void OnAppend(const TxnPartition& partition, int64_t producer_id, int64_t base_offset);

  // Read committed.
  int64_t LastStableOffset(const TxnPartition& partition, int64_t high_watermark) const;
  std::vector<AbortedRange> Aborted(const TxnPartition& partition, int64_t from, int64_t to) const;

  // Aborts transactions open longer than their timeout; returns how many.
  size_t Expire(TimePoint now);

  size_t open_transactions() const;

 private:
  struct Txn {
    int64_t producer_id = -1;
    int16_t epoch = -1;
    int32_t timeout_ms = 0;
    bool ongoing = false;
    TimePoint started{};
    std::set<TxnPartition> partitions;
  };
  struct PartitionState {
    std::map<int64_t, int64_t> open;  // producer id -> first offset of its open transaction
    std::vector<AbortedRange> aborted;
  };
  // The transaction of (id, producer, epoch), or the Kafka error why not.
  int16_t Current(const std::string& transactional_id, int64_t producer_id, int16_t epoch,
                  Txn** txn);
  // Writes markers to the transaction's partitions and closes it.
  int16_t Finish(Txn& txn, bool commit);
  Txn* ByProducer(int64_t producer_id);
  const Txn* ByProducer(int64_t producer_id) const;

  MarkerWriter writer_;
  int64_t next_producer_id_ = 1000;
  std::map<std::string, Txn> txns_;                   // by transactional id
  std::map<int64_t, std::string> transactional_ids_;  // producer id -> transactional id
  std::map<TxnPartition, PartitionState> partitions_;
};

}  // namespace pgcdc::adapter::kafkaserver
