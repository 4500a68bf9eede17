// The host side of Extism's kernel (the `extism:host/env` imports): a memory
// of its own, separate from the plugin's linear memory, addressed by u64
// offsets (0 = none), with the call's input, output, error and the plugin's
// variables and configuration. Pure C++; plugin_v8.cc binds it to the
// imports. Not thread-safe: one Kernel per plugin instance, used by the one
// call in progress.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgcdc::wasm {

class Kernel {
 public:
  // `memory_limit`: the most bytes the kernel memory may hold at once.
  explicit Kernel(size_t memory_limit) : memory_limit_(memory_limit) {}

  // Starts a call: frees every block, stores `input` as a block of its own.
  void BeginCall(std::string_view input);

  // A new block of `length` bytes; 0 when the limit would be exceeded.
  uint64_t Alloc(uint64_t length);
  void Free(uint64_t offset);
  // The length of the block starting at `offset`; 0 for an unknown offset.
  uint64_t Length(uint64_t offset) const;
  // Byte access; nullopt / false when outside the kernel memory.
  std::optional<uint8_t> LoadU8(uint64_t offset) const;
  std::optional<uint64_t> LoadU64(uint64_t offset) const;
  bool StoreU8(uint64_t offset, uint8_t value);
  bool StoreU64(uint64_t offset, uint64_t value);
  // The bytes of a block (empty for an unknown offset) or of a range.
  std::optional<std::string_view> Block(uint64_t offset) const;
  std::optional<std::string_view> Range(uint64_t offset, uint64_t length) const;
  // A new block holding `bytes`; 0 when the limit would be exceeded.
  uint64_t AllocBytes(std::string_view bytes);

  uint64_t input_offset() const { return input_offset_; }
  uint64_t input_length() const { return input_length_; }
  std::optional<uint8_t> InputLoadU8(uint64_t index) const;
  std::optional<uint64_t> InputLoadU64(uint64_t index) const;

  bool SetOutput(uint64_t offset, uint64_t length);
  const std::string& output() const { return output_; }
  bool SetError(uint64_t offset);
  const std::optional<std::string>& error() const { return error_; }
  uint64_t error_offset() const { return error_offset_; }

  // Extism config (read-only for the plugin) and variables (kept across calls).
  std::map<std::string, std::string, std::less<>>& config() { return config_; }
  uint64_t ConfigGet(uint64_t key_offset);
  uint64_t VarGet(uint64_t key_offset);
  bool VarSet(uint64_t key_offset, uint64_t value_offset);

 private:
  size_t memory_limit_;
  std::vector<uint8_t> memory_;
  std::map<uint64_t, uint64_t> blocks_;  // offset -> length
  uint64_t input_offset_ = 0;
  uint64_t input_length_ = 0;
  std::string output_;
  std::optional<std::string> error_;
  uint64_t error_offset_ = 0;
  std::map<std::string, std::string, std::less<>> config_;
  std::map<std::string, std::string, std::less<>> vars_;
  size_t vars_bytes_ = 0;
};

}  // namespace pgcdc::wasm
