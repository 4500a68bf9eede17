#include "verify/replay.h"

#include <cstring>

namespace pgcdc::verify {

namespace {

uint64_t LoadBigEndian64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | p[i];
  return v;
}

// "(LSN 0/16B3748, change 3)" for the report.
std::string PositionText(uint64_t position, uint32_t ordinal) {
  const uint64_t lsn = position << 4;
  char buf[64];
  std::snprintf(buf, sizeof buf, "LSN %X/%X change %u", static_cast<unsigned>(lsn >> 32),
                static_cast<unsigned>(lsn & 0xffffffffU), ordinal);
  return buf;
}

}  // namespace

bool DecodeWalPosition(const Uuid& id, uint64_t& position, uint32_t& ordinal) {
  const uint64_t hi = LoadBigEndian64(id.bytes.data());
  const uint64_t lo = LoadBigEndian64(id.bytes.data() + 8);
  if (((hi >> 12) & 0xf) != 8 || (lo >> 62) != 0b10) return false;
  position = (hi >> 16) << 12 | (hi & 0x0fff);
  ordinal = static_cast<uint32_t>(lo >> 30);
  return true;
}

size_t Replay::UuidHash::operator()(const Uuid& u) const {
  uint64_t a = 0;
  uint64_t b = 0;
  std::memcpy(&a, u.bytes.data(), 8);
  std::memcpy(&b, u.bytes.data() + 8, 8);
  return static_cast<size_t>(a * 0x9e3779b97f4a7c15ULL ^ b);
}

Replay::Replay(const RowShape& shape, TableMatch match, ReplayOptions options)
    : shape_(shape), match_(std::move(match)), options_(options) {}

void Replay::Note(std::vector<Finding>& examples, const Location& where, std::string detail) {
  if (examples.size() < options_.max_examples) {
    examples.push_back({where.Format(), std::move(detail)});
  }
}

void Replay::Add(std::string_view document, const Hints& hints, const Location& where) {
  ++stats_.records;
  if (auto st = tree_.Parse(document); !st) {
    ++stats_.unreadable;
    Note(stats_.unreadable_examples, where, st.error().message());
    return;
  }
  auto event = ReadSinkEvent(tree_, hints);
  if (!event) {
    ++stats_.unreadable;
    Note(stats_.unreadable_examples, where, event.error().message());
    return;
  }
  Apply(*event, where);
}

uint64_t Replay::ToastMask(const SinkEvent& e) const {
  uint64_t mask = 0;
  if (e.unchanged_toast == kNone || tree_.kind(e.unchanged_toast) != NodeKind::kArray) return 0;
  for (NodeId c = tree_.node(e.unchanged_toast).first; c != kNone; c = tree_.node(c).next) {
    if (tree_.kind(c) == NodeKind::kString) mask |= shape_.MaskBit(tree_.text(c));
  }
  return mask;
}

void Replay::Apply(const SinkEvent& e, const Location& where) {
  if (e.op == RowOp::kOther) {
    ++stats_.non_row_events;
    return;
  }
  if (!match_.Matches(e)) {
    ++stats_.other_tables;
    return;
  }
  ++stats_.row_events;
  if (e.op == RowOp::kTruncate) {
    ++stats_.truncates;
    state_.Clear();
    captured_.clear();
    return;
  }
  std::string key;
  if (!AppendCanonicalKey(tree_, e.row, shape_, key)) {
    ++stats_.keyless;
    Note(stats_.keyless_examples, where,
         std::string(e.operation) + " without a value for every key column");
    return;
  }
  if (e.op == RowOp::kDelete) {
    captured_.erase(key);
    if (options_.check_order) {
      KeyState* state = state_.Upsert(key).first;
      CheckOrder(e, *state, key, where);
      state->deleted = true;
    } else if (KeyState* state = state_.Find(key)) {
      state->deleted = true;
    }
    return;
  }
  Put(e, key, where);
}

void Replay::Put(const SinkEvent& e, const std::string& key, const Location& where) {
  // A changed key (UPDATE of a key column) removes the row under the old key.
  if (e.old != kNone) {
    std::string old_key;
    if (AppendCanonicalKey(tree_, e.old, shape_, old_key) && old_key != key) {
      captured_.erase(old_key);
      if (KeyState* state = state_.Find(old_key)) state->deleted = true;
    }
  }
  const uint64_t mask = ToastMask(e);
  scratch_.clear();
  AppendCanonicalRow(tree_, e.row, shape_, mask, scratch_);
  if (!capture_.empty() && capture_.count(key) != 0) captured_[key] = scratch_;
  auto [state, fresh] = state_.Upsert(key);
  KeyState& s = *state;
  if (options_.check_order) CheckOrder(e, s, key, where);
  // Columns still missing from an earlier UPDATE stay missing unless this
  // image carries them (an INSERT or UPDATE without the marker does).
  s.toast_mask = mask == 0 ? 0 : (s.deleted || fresh ? mask : s.toast_mask | mask);
  s.hash = HashCanonical(scratch_);
  s.deleted = false;
}

void Replay::CheckOrder(const SinkEvent& e, KeyState& s, std::string_view key,
                        const Location& where) {
  uint64_t position = 0;
  uint32_t ordinal = 0;
  const auto id = ParseUuid(e.id);
  if (!id || !DecodeWalPosition(*id, position, ordinal)) {
    ++stats_.unpositioned_events;
    return;
  }
  ++stats_.ordered_events;
  if (!seen_ids_.insert(*id).second) {
    ++stats_.duplicates;
    return;
  }
  const bool older =
      s.position != 0 && std::pair(position, ordinal) < std::pair(s.position, s.ordinal);
  if (older) {
    ++stats_.order_violations;
    Note(stats_.order_examples, where,
         "key " + KeyDisplay(shape_, key) + ": " + std::string(e.operation) + " at " +
             PositionText(position, ordinal) + " after " + PositionText(s.position, s.ordinal));
    return;
  }
  s.position = position;
  s.ordinal = ordinal;
}

void Replay::Finish() {
  stats_.toast_masked = 0;
  state_.ForEach([&](std::string_view, const KeyState& s) {
    if (!s.deleted && s.toast_mask != 0) ++stats_.toast_masked;
  });
}

}  // namespace pgcdc::verify
