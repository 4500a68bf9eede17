#include "adapter/kafka/in_flight.h"

#include <algorithm>
#include <set>
#include <utility>

namespace pgcdc::adapter::kafka {

InFlight::InFlight(size_t capacity) : slots_(std::max<size_t>(capacity, 1)) {}

Record& InFlight::Add(const Event& event) {
  Record& r = slots_[(head_ + count_) % slots_.size()];
  ++count_;
  r.event = event;  // reuses the slot's string capacity
  r.topic.clear();
  r.key.clear();
  r.id.clear();
  r.value.clear();
  r.value_is_payload = true;
  r.error.clear();
  r.failures = 0;
  r.state = RecordState::kInFlight;
  ++in_flight_;
  return r;
}

void InFlight::Leave(Record& r) {
  switch (r.state) {
    case RecordState::kInFlight:
      --in_flight_;
      break;
    case RecordState::kDelivered:
      --delivered_;
      break;
    case RecordState::kRetry:
      --retry_;
      break;
    case RecordState::kRejected:
      break;
    case RecordState::kDone:
      --done_;
      break;
  }
}

void InFlight::Delivered(Record& r, bool in_transaction) {
  if (r.state != RecordState::kInFlight) return;  // e.g. a late report after an abort
  Leave(r);
  if (in_transaction) {
    r.state = RecordState::kDelivered;
    ++delivered_;
  } else {
    r.state = RecordState::kDone;
    ++done_;
  }
}

void InFlight::Failed(Record& r, std::string error) {
  if (r.state != RecordState::kInFlight) return;
  Leave(r);
  r.state = RecordState::kRetry;
  r.error = std::move(error);
  ++r.failures;
  ++retry_;
}

void InFlight::Rejected(Record& r, std::string error) {
  if (r.state != RecordState::kInFlight) return;
  Leave(r);
  r.state = RecordState::kRejected;
  r.error = std::move(error);
  rejected_.push_back(&r);
}

void InFlight::Finish(Record& r) {
  if (r.state == RecordState::kDone) return;
  Leave(r);
  r.state = RecordState::kDone;
  ++done_;
}

void InFlight::Resent(Record& r) {
  Leave(r);
  r.state = RecordState::kInFlight;
  ++in_flight_;
}

void InFlight::FailInFlight(const std::string& error) {
  if (in_flight_ == 0) return;
  for (size_t i = 0; i < count_; ++i) {
    if (at(i).state == RecordState::kInFlight) Failed(at(i), error);
  }
}

void InFlight::CommitDelivered() {
  if (delivered_ == 0) return;
  for (size_t i = 0; i < count_; ++i) {
    Record& r = at(i);
    if (r.state == RecordState::kDelivered) {
      r.state = RecordState::kDone;
      ++done_;
    }
  }
  delivered_ = 0;
}

void InFlight::RetryDelivered(const std::string& error) {
  if (delivered_ == 0) return;
  for (size_t i = 0; i < count_; ++i) {
    Record& r = at(i);
    if (r.state == RecordState::kDelivered) {
      r.state = RecordState::kRetry;
      r.error = error;
      ++r.failures;
      ++retry_;
    }
  }
  delivered_ = 0;
}

std::vector<Record*> InFlight::RetryRound(bool follow_keys) {
  std::vector<Record*> out;
  if (retry_ == 0) return out;
  // (topic, key) of every failed record seen so far: a delivered record of
  // the same key after it must follow it again.
  std::set<std::pair<std::string_view, std::string_view>> failed_keys;
  for (size_t i = 0; i < count_; ++i) {
    Record& r = at(i);
    if (r.state == RecordState::kRetry) {
      failed_keys.emplace(r.topic, r.key);
      out.push_back(&r);
    } else if (follow_keys &&
               (r.state == RecordState::kDone || r.state == RecordState::kDelivered) &&
               !failed_keys.empty() && failed_keys.count({r.topic, r.key}) != 0) {
      Leave(r);
      r.state = RecordState::kRetry;
      ++retry_;
      out.push_back(&r);
    }
  }
  return out;
}

std::vector<Record*> InFlight::TakeRejected() { return std::exchange(rejected_, {}); }

size_t InFlight::Release() {
  size_t n = 0;
  while (count_ > 0 && slots_[head_].state == RecordState::kDone) {
    head_ = (head_ + 1) % slots_.size();
    --count_;
    --done_;
    ++n;
  }
  return n;
}

std::optional<uint64_t> InFlight::OldestHeldSeq() const {
  for (size_t i = 0; i < count_; ++i) {
    const Record& r = at(i);
    if (r.state == RecordState::kDone) continue;
    if (r.event.seq != 0) return r.event.seq;
  }
  return std::nullopt;
}

std::string InFlight::LastRetryError() const {
  std::string last;
  for (size_t i = 0; i < count_; ++i) {
    if (at(i).state == RecordState::kRetry) last = at(i).error;
  }
  return last;
}

void InFlight::Clear() {
  head_ = count_ = 0;
  rejected_.clear();
  in_flight_ = delivered_ = retry_ = done_ = 0;
}

}  // namespace pgcdc::adapter::kafka
