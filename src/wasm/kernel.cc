#include "wasm/kernel.h"

#include <cstring>

namespace pgcdc::wasm {

namespace {
// Offset 0 means "none" in the ABI; blocks start after a small reserved head.
constexpr uint64_t kBase = 8;
}  // namespace

void Kernel::BeginCall(std::string_view input) {
  memory_.assign(kBase, 0);
  blocks_.clear();
  output_.clear();
  error_.reset();
  error_offset_ = 0;
  input_offset_ = AllocBytes(input);
  input_length_ = input_offset_ == 0 ? 0 : input.size();
}

uint64_t Kernel::Alloc(uint64_t length) {
  if (memory_.size() < kBase) memory_.assign(kBase, 0);
  const uint64_t offset = memory_.size();
  if (length > memory_limit_ || offset + length > memory_limit_) return 0;
  memory_.resize(offset + length);
  blocks_[offset] = length;
  return offset;
}

void Kernel::Free(uint64_t offset) { blocks_.erase(offset); }

uint64_t Kernel::Length(uint64_t offset) const {
  auto it = blocks_.find(offset);
  return it == blocks_.end() ? 0 : it->second;
}

std::optional<uint8_t> Kernel::LoadU8(uint64_t offset) const {
  if (offset < kBase || offset >= memory_.size()) return std::nullopt;
  return memory_[offset];
}

std::optional<uint64_t> Kernel::LoadU64(uint64_t offset) const {
  if (offset < kBase || offset > memory_.size() || memory_.size() - offset < 8) return std::nullopt;
  uint64_t v = 0;
  std::memcpy(&v, memory_.data() + offset, 8);  // little-endian host, like Wasm
  return v;
}

bool Kernel::StoreU8(uint64_t offset, uint8_t value) {
  if (offset < kBase || offset >= memory_.size()) return false;
  memory_[offset] = value;
  return true;
}

bool Kernel::StoreU64(uint64_t offset, uint64_t value) {
  if (offset < kBase || offset > memory_.size() || memory_.size() - offset < 8) return false;
  std::memcpy(memory_.data() + offset, &value, 8);
  return true;
}

std::optional<std::string_view> Kernel::Block(uint64_t offset) const {
  auto it = blocks_.find(offset);
  if (it == blocks_.end()) return std::nullopt;
  return Range(offset, it->second);
}

std::optional<std::string_view> Kernel::Range(uint64_t offset, uint64_t length) const {
  if (offset < kBase || offset > memory_.size() || memory_.size() - offset < length) {
    return std::nullopt;
  }
  return std::string_view(reinterpret_cast<const char*>(memory_.data()) + offset, length);
}

uint64_t Kernel::AllocBytes(std::string_view bytes) {
  const uint64_t offset = Alloc(bytes.size());
  if (offset != 0 && !bytes.empty())
    std::memcpy(memory_.data() + offset, bytes.data(), bytes.size());
  return offset;
}

std::optional<uint8_t> Kernel::InputLoadU8(uint64_t index) const {
  if (index >= input_length_) return std::nullopt;
  return LoadU8(input_offset_ + index);
}

std::optional<uint64_t> Kernel::InputLoadU64(uint64_t index) const {
  if (index >= input_length_) return std::nullopt;
  // The PDKs read the input in 8-byte words; the last one may be partial.
  uint64_t v = 0;
  const uint64_t n = std::min<uint64_t>(8, input_length_ - index);
  std::memcpy(&v, memory_.data() + input_offset_ + index, n);
  return v;
}

bool Kernel::SetOutput(uint64_t offset, uint64_t length) {
  auto bytes = Range(offset, length);
  if (!bytes) return false;
  output_.assign(*bytes);
  return true;
}

bool Kernel::SetError(uint64_t offset) {
  if (offset == 0) {
    error_.reset();
    error_offset_ = 0;
    return true;
  }
  auto bytes = Block(offset);
  if (!bytes) return false;
  error_ = std::string(*bytes);
  error_offset_ = offset;
  return true;
}

uint64_t Kernel::ConfigGet(uint64_t key_offset) {
  auto key = Block(key_offset);
  if (!key) return 0;
  auto it = config_.find(*key);
  return it == config_.end() ? 0 : AllocBytes(it->second);
}

uint64_t Kernel::VarGet(uint64_t key_offset) {
  auto key = Block(key_offset);
  if (!key) return 0;
  auto it = vars_.find(*key);
  return it == vars_.end() ? 0 : AllocBytes(it->second);
}

bool Kernel::VarSet(uint64_t key_offset, uint64_t value_offset) {
  auto key = Block(key_offset);
  if (!key) return false;
  auto it = vars_.find(*key);
  if (it != vars_.end()) {
    vars_bytes_ -= it->first.size() + it->second.size();
    vars_.erase(it);
  }
  if (value_offset == 0) return true;  // 0 removes the variable
  auto value = Block(value_offset);
  if (!value || vars_bytes_ + key->size() + value->size() > memory_limit_) return false;
  vars_bytes_ += key->size() + value->size();
  vars_.emplace(std::string(*key), std::string(*value));
  return true;
}

}  // namespace pgcdc::wasm
