// HyperLogLog distinct counting for approx_count_distinct (docs/views.md).
//
// Exact while a group has seen at most kSparseLimit distinct hashes (small
// groups, the common case, cost a few hundred bytes and have no error), then
// 2^12 one-byte registers (4 KiB per group and aggregate): a relative
// standard error of 1.04/sqrt(4096) ≈ 1.6 %. Estimates use the raw HyperLogLog
// formula with linear counting below 2.5·m (Flajolet et al., 2007); with
// 64-bit hashes no large-range correction is needed.
#pragma once

#include <cstdint>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace pgcdc::view {

class Hll {
 public:
  static constexpr int kPrecision = 12;
  static constexpr size_t kRegisters = size_t{1} << kPrecision;
  static constexpr size_t kSparseLimit = 512;

  void Add(std::string_view value) { AddHash(Hash(value)); }
  void AddHash(uint64_t hash);
  void Merge(const Hll& other);
  uint64_t Estimate() const;

  // A well-mixed 64-bit hash of `value` (stable across runs and processes).
  static uint64_t Hash(std::string_view value);

 private:
  void Densify();
  std::unordered_set<uint64_t> sparse_;
  std::vector<uint8_t> registers_;  // empty while sparse
};

}  // namespace pgcdc::view
