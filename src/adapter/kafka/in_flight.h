// InFlight: the records the kafka sink handed to the producer and is not
// finished with yet, in produce order — the bookkeeping behind "produce
// asynchronously, acknowledge in order" (no librdkafka in here; unit tested).
//
// Each record moves through
//
//   kInFlight --delivery report ok--> kDone            (at-least-once)
//                                 \-> kDelivered --commit--> kDone (transactions)
//   kInFlight --retriable failure--> kRetry --produced again--> kInFlight
//   kInFlight --permanent failure--> kRejected --dead-lettered--> kDone
//   kDelivered --transaction aborted--> kRetry
//
// Delivery reports arrive in any order across partitions; the acknowledgement
// only ever moves over a contiguous prefix of finished records:
// OldestHeldSeq() is the seq of the first record that is not kDone, and
// Release() drops the finished prefix. Records keep a copy of their event
// (the pipeline's events only live until Deliver() returns; the DLQ and a
// retry need them later), and their value bytes, which the producer
// references without copying until the delivery report.
//
// Storage: a ring of `capacity` records allocated once. Records never move
// (a record's address is the producer's opaque), and a released slot is
// reused with its strings' capacity, so a steady stream copies events
// without allocating. At most `capacity` records are held: Add() requires
// !full().
//
// Thread: one (the adapter worker; delivery reports are served by
// rd_kafka_poll on that thread).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/event.h"

namespace pgcdc::adapter::kafka {

enum class RecordState { kInFlight, kDelivered, kRetry, kRejected, kDone };

struct Record {
  Event event;
  std::string topic;
  std::string key;
  std::string id;     // the event id as text (header, and the key in id mode)
  std::string value;  // the value bytes when they are not event.payload (envelope)
  bool value_is_payload = true;
  RecordState state = RecordState::kInFlight;
  std::string error;  // the last failure (retry) or the rejection (DLQ)
  uint32_t failures = 0;
  std::chrono::steady_clock::time_point produced_at{};  // the last hand-over to the producer

  const std::string& Value() const { return value_is_payload ? event.payload : value; }
};

class InFlight {
 public:
  explicit InFlight(size_t capacity);

  // The next record slot (state kInFlight), for the caller to fill: its
  // event is the event it carries; topic, key, id and value are cleared.
  // Requires !full().
  Record& Add(const Event& event);

  // State changes reported by the producer.
  void Delivered(Record& r, bool in_transaction);
  void Failed(Record& r, std::string error);    // retriable: produce again later
  void Rejected(Record& r, std::string error);  // permanent: dead-letter it
  // A rejected record was dead-lettered (or is otherwise finished).
  void Finish(Record& r);
  // Produce a kRetry record again (it becomes kInFlight).
  void Resent(Record& r);

  // Every kInFlight record failed (the producer went away without reports).
  void FailInFlight(const std::string& error);

  // The transaction committed: every kDelivered record is finished.
  void CommitDelivered();
  // The transaction aborted: kDelivered records must be produced again.
  void RetryDelivered(const std::string& error);

  // The records to produce again, in produce order: every kRetry record,
  // and with `follow_keys` every later record already delivered (kDone or
  // kDelivered, not yet released) with the same topic and key as a failed
  // one — a failed record that is produced again lands after them, so they
  // are sent again after it to keep each key's last record the newest
  // (duplicates are allowed, reordering a key is not). Records returned are
  // set to kRetry. Transactions pass false: an aborted transaction's records
  // are all invisible, so only they are produced again.
  std::vector<Record*> RetryRound(bool follow_keys = true);
  // Rejected records waiting for the DLQ, in produce order (cleared).
  std::vector<Record*> TakeRejected();

  // Drops the finished prefix; returns how many records were dropped.
  size_t Release();
  // Lowest Event::seq not finished (0-seq events hold nothing); nullopt when
  // every record is finished or untracked.
  std::optional<uint64_t> OldestHeldSeq() const;

  size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }
  bool full() const { return count_ == slots_.size(); }
  size_t capacity() const { return slots_.size(); }
  size_t in_flight() const { return in_flight_; }
  size_t retrying() const { return retry_; }
  size_t delivered_uncommitted() const { return delivered_; }
  bool has_rejected() const { return !rejected_.empty(); }
  // Everything not yet finished (the drain at shutdown waits for this).
  size_t unfinished() const { return count_ - done_; }
  // The i-th held record in produce order (i < size()).
  Record& at(size_t i) { return slots_[(head_ + i) % slots_.size()]; }
  const Record& at(size_t i) const { return slots_[(head_ + i) % slots_.size()]; }
  // The error of the newest record waiting to be produced again.
  std::string LastRetryError() const;
  void Clear();

 private:
  void Leave(Record& r);  // leaves the counted state r is in

  std::vector<Record> slots_;
  size_t head_ = 0;   // index of the oldest held record
  size_t count_ = 0;  // records held
  std::vector<Record*> rejected_;
  size_t in_flight_ = 0;
  size_t delivered_ = 0;
  size_t retry_ = 0;
  size_t done_ = 0;
};

}  // namespace pgcdc::adapter::kafka
