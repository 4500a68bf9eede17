#include "adapter/kafkaserver/transactions.h"

#include <algorithm>
#include <limits>

#include "core/log.h"

namespace pgcdc::adapter::kafkaserver {

namespace {

// Kafka error codes used here.
constexpr int16_t kNone = 0;
constexpr int16_t kUnknownTopicOrPartition = 3;
constexpr int16_t kInvalidProducerEpoch = 47;
constexpr int16_t kInvalidTxnState = 48;
constexpr int16_t kInvalidProducerIdMapping = 49;
constexpr int16_t kInvalidTransactionTimeout = 50;
constexpr int16_t kStorageError = 56;

// Kafka's bounds for transaction.timeout.ms (the broker default maximum is 15 min).
constexpr int32_t kMaxTransactionTimeoutMs = 15 * 60 * 1000;

}  // namespace

Transactions::Txn* Transactions::ByProducer(int64_t producer_id) {
  auto it = transactional_ids_.find(producer_id);
  if (it == transactional_ids_.end()) return nullptr;
  auto t = txns_.find(it->second);
  return t == txns_.end() ? nullptr : &t->second;
}

const Transactions::Txn* Transactions::ByProducer(int64_t producer_id) const {
  return const_cast<Transactions*>(this)->ByProducer(producer_id);
}

Transactions::ProducerId Transactions::InitProducerId(
    const std::optional<std::string>& transactional_id, int32_t timeout_ms, TimePoint now) {
  Expire(now);
  if (!transactional_id || transactional_id->empty()) {
    return {kNone, next_producer_id_++, 0};  // idempotent producer
  }
  if (timeout_ms <= 0 || timeout_ms > kMaxTransactionTimeoutMs) {
    return {kInvalidTransactionTimeout, -1, -1};
  }
  auto [it, fresh] = txns_.try_emplace(*transactional_id);
  Txn& txn = it->second;
  if (!fresh && txn.ongoing) {
    // The previous incarnation left a transaction open: abort it (its
    // records never become visible to read_committed consumers).
    log::Info("kafkaserver: aborting the open transaction of a re-initialised producer",
              {{"transactional_id", *transactional_id},
               {"producer_id", txn.producer_id},
               {"epoch", static_cast<int64_t>(txn.epoch)}});
    if (const int16_t err = Finish(txn, false); err != kNone) return {err, -1, -1};
  }
  if (fresh || txn.epoch == std::numeric_limits<int16_t>::max() - 1) {
    if (!fresh) transactional_ids_.erase(txn.producer_id);
    txn.producer_id = next_producer_id_++;
    txn.epoch = 0;
    transactional_ids_[txn.producer_id] = *transactional_id;
  } else {
    ++txn.epoch;
  }
  txn.timeout_ms = timeout_ms;
  return {kNone, txn.producer_id, txn.epoch};
}

int16_t Transactions::Current(const std::string& transactional_id, int64_t producer_id,
                              int16_t epoch, Txn** txn) {
  auto it = txns_.find(transactional_id);
  if (it == txns_.end() || it->second.producer_id != producer_id) {
    return kInvalidProducerIdMapping;
  }
  if (epoch != it->second.epoch) return kInvalidProducerEpoch;
  *txn = &it->second;
  return kNone;
}

int16_t Transactions::AddPartition(const std::string& transactional_id, int64_t producer_id,
                                   int16_t epoch, const TxnPartition& partition, TimePoint now) {
  Txn* found = nullptr;
  if (const int16_t err = Current(transactional_id, producer_id, epoch, &found); err != kNone) {
    return err;
  }
  Txn& txn = *found;
  if (!txn.ongoing) {
    txn.ongoing = true;
    txn.started = now;
  }
  txn.partitions.insert(partition);
  return kNone;
}

int16_t Transactions::EndTxn(const std::string& transactional_id, int64_t producer_id,
                             int16_t epoch, bool commit) {
  Txn* found = nullptr;
  if (const int16_t err = Current(transactional_id, producer_id, epoch, &found); err != kNone) {
    return err;
  }
  Txn& txn = *found;
  if (!txn.ongoing) {
    // Nothing was written (or it was aborted by a timeout): committing is an
    // error only when records could be lost, i.e. after a timeout abort —
    // which the epoch check cannot tell; an empty transaction is fine.
    return kNone;
  }
  return Finish(txn, commit);
}

int16_t Transactions::Finish(Txn& txn, bool commit) {
  int16_t result = kNone;
  for (const auto& p : txn.partitions) {
    auto marker = writer_(p, txn.producer_id, txn.epoch, commit);
    auto ps = partitions_.find(p);
    const bool had_records = ps != partitions_.end() && ps->second.open.count(txn.producer_id);
    if (!marker) {
      if (marker.error().code() == ErrorCode::kNotFound) {
        if (had_records) result = kUnknownTopicOrPartition;
      } else {
        log::Warn(
            "kafkaserver: writing a transaction marker failed",
            {{"topic", p.topic}, {"partition", p.partition}, {"error", marker.error().message()}});
        result = kStorageError;
      }
    }
    if (!had_records) continue;
    const int64_t first = ps->second.open[txn.producer_id];
    ps->second.open.erase(txn.producer_id);
    if (!commit && marker) ps->second.aborted.push_back({txn.producer_id, first, *marker});
  }
  txn.partitions.clear();
  txn.ongoing = false;
  return result;
}

int16_t Transactions::CheckProduce(const TxnPartition& partition, int64_t producer_id,
                                   int16_t epoch) const {
  const Txn* txn = ByProducer(producer_id);
  if (txn == nullptr) return kInvalidProducerIdMapping;
  if (epoch != txn->epoch) return kInvalidProducerEpoch;
  if (!txn->ongoing || txn->partitions.count(partition) == 0) return kInvalidTxnState;
  return kNone;
}

void Transactions::OnAppend(const TxnPartition& partition, int64_t producer_id,
                            int64_t base_offset) {
  partitions_[partition].open.try_emplace(producer_id, base_offset);
}

int64_t Transactions::LastStableOffset(const TxnPartition& partition,
                                       int64_t high_watermark) const {
  auto it = partitions_.find(partition);
  if (it == partitions_.end()) return high_watermark;
  int64_t lso = high_watermark;
  for (const auto& [pid, first] : it->second.open) lso = std::min(lso, first);
  return lso;
}

std::vector<AbortedRange> Transactions::Aborted(const TxnPartition& partition, int64_t from,
                                                int64_t to) const {
  std::vector<AbortedRange> out;
  auto it = partitions_.find(partition);
  if (it == partitions_.end()) return out;
  for (const auto& a : it->second.aborted) {
    if (a.last_offset >= from && a.first_offset < to) out.push_back(a);
  }
  return out;
}

size_t Transactions::Expire(TimePoint now) {
  size_t n = 0;
  for (auto& [id, txn] : txns_) {
    if (!txn.ongoing || now - txn.started < std::chrono::milliseconds(txn.timeout_ms)) continue;
    log::Warn("kafkaserver: transaction timed out; aborting it",
              {{"transactional_id", id}, {"producer_id", txn.producer_id}});
    (void)Finish(txn, false);
    // The producer must not go on with this epoch.
    ++txn.epoch;
    ++n;
  }
  return n;
}

size_t Transactions::open_transactions() const {
  size_t n = 0;
  for (const auto& [id, txn] : txns_) n += txn.ongoing ? 1 : 0;
  return n;
}

}  // namespace pgcdc::adapter::kafkaserver
