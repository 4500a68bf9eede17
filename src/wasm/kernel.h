// The host's view of pgcdc's Extism kernel (kernel.wat): the control block
// and block layout of the kernel's memory, which the host reads and writes
// directly (no call into Wasm) to pass a call's input in and read its output
// and error out. Pure functions over the memory's bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace pgcdc::wasm::kernel {

// Control block fields (byte offsets of little-endian u64s), kernel.wat.
inline constexpr uint64_t kHeap = 0;
inline constexpr uint64_t kInputOffset = 8;
inline constexpr uint64_t kInputLength = 16;
inline constexpr uint64_t kOutputOffset = 24;
inline constexpr uint64_t kOutputLength = 32;
inline constexpr uint64_t kErrorOffset = 40;
inline constexpr uint64_t kBase = 64;    // the first block header
inline constexpr uint64_t kHeader = 16;  // length, then offset ^ kTag
inline constexpr uint64_t kTag = 0x7067636463626c6bULL;

// The bytes the memory must hold for a call with `input_size` bytes of input.
uint64_t BytesNeeded(uint64_t input_size);

// Starts a call: frees every block and writes `input` as the first one.
// `memory` must hold BytesNeeded(input.size()) bytes.
void BeginCall(std::span<uint8_t> memory, std::string_view input);

// The data of the live block at `offset` (what the kernel's `length` accepts).
std::optional<std::string_view> Block(std::span<const uint8_t> memory, uint64_t offset);

// What the call left: the output_set range (empty when none was set) and
// the error_set block (nullopt when none). Output outside the memory: nullopt.
std::optional<std::string_view> Output(std::span<const uint8_t> memory);
std::optional<std::string> Error(std::span<const uint8_t> memory);

// Writes a block header and data at the heap for the host (the kernel's
// `alloc` does the same for the plugin); 0 when the memory is too small.
uint64_t HostAlloc(std::span<uint8_t> memory, std::string_view data);

}  // namespace pgcdc::wasm::kernel
