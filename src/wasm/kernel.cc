#include "wasm/kernel.h"

#include <cstring>

namespace pgcdc::wasm::kernel {

namespace {

uint64_t Load(std::span<const uint8_t> m, uint64_t at) {
  uint64_t v = 0;
  if (at <= m.size() && m.size() - at >= 8) std::memcpy(&v, m.data() + at, 8);
  return v;
}

void Store(std::span<uint8_t> m, uint64_t at, uint64_t v) {
  if (at <= m.size() && m.size() - at >= 8) std::memcpy(m.data() + at, &v, 8);
}

uint64_t Padded(uint64_t n) { return (n + 7) & ~uint64_t{7}; }

}  // namespace

uint64_t BytesNeeded(uint64_t input_size) { return kBase + kHeader + Padded(input_size) + 8; }

uint64_t HostAlloc(std::span<uint8_t> memory, std::string_view data) {
  const uint64_t p = Load(memory, kHeap);
  const uint64_t end = p + kHeader + Padded(data.size());
  if (p < kBase || end + 8 > memory.size()) return 0;
  Store(memory, p, data.size());
  Store(memory, p + 8, (p + kHeader) ^ kTag);
  if (!data.empty()) std::memcpy(memory.data() + p + kHeader, data.data(), data.size());
  Store(memory, kHeap, end);
  return p + kHeader;
}

void BeginCall(std::span<uint8_t> memory, std::string_view input) {
  Store(memory, kHeap, kBase);
  const uint64_t input_offset = HostAlloc(memory, input);
  Store(memory, kInputOffset, input_offset);
  Store(memory, kInputLength, input_offset == 0 ? 0 : input.size());
  Store(memory, kOutputOffset, 0);
  Store(memory, kOutputLength, 0);
  Store(memory, kErrorOffset, 0);
}

std::optional<std::string_view> Block(std::span<const uint8_t> memory, uint64_t offset) {
  const uint64_t heap = Load(memory, kHeap);
  if (offset < kBase + kHeader || offset > heap || heap > memory.size()) return std::nullopt;
  if (Load(memory, offset - 8) != (offset ^ kTag)) return std::nullopt;
  const uint64_t length = Load(memory, offset - kHeader);
  if (length > heap - offset) return std::nullopt;
  return std::string_view(reinterpret_cast<const char*>(memory.data()) + offset, length);
}

std::optional<std::string_view> Output(std::span<const uint8_t> memory) {
  const uint64_t offset = Load(memory, kOutputOffset);
  const uint64_t length = Load(memory, kOutputLength);
  if (offset == 0 || length == 0) return std::string_view();
  if (offset > memory.size() || memory.size() - offset < length) return std::nullopt;
  return std::string_view(reinterpret_cast<const char*>(memory.data()) + offset, length);
}

std::optional<std::string> Error(std::span<const uint8_t> memory) {
  const uint64_t offset = Load(memory, kErrorOffset);
  if (offset == 0) return std::nullopt;
  auto block = Block(memory, offset);
  return block ? std::string(*block) : std::string("(error_set with an invalid offset)");
}

}  // namespace pgcdc::wasm::kernel
