#include "view/hll.h"

#include <bit>
#include <cmath>

namespace pgcdc::view {

uint64_t Hll::Hash(std::string_view value) {
  // FNV-1a over the bytes, then a SplitMix64 finaliser to spread every input
  // bit over the whole word (HyperLogLog reads both ends of the hash).
  uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : value) {
    h ^= static_cast<uint8_t>(c);
    h *= 0x100000001b3ULL;
  }
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return h;
}

void Hll::AddHash(uint64_t hash) {
  if (registers_.empty()) {
    sparse_.insert(hash);
    if (sparse_.size() > kSparseLimit) Densify();
    return;
  }
  const size_t index = hash >> (64 - kPrecision);
  // Rank: position of the first 1 bit in the remaining 52 bits (1-based).
  const uint64_t rest = (hash << kPrecision) | (uint64_t{1} << (kPrecision - 1));
  const auto rank = static_cast<uint8_t>(std::countl_zero(rest) + 1);
  if (rank > registers_[index]) registers_[index] = rank;
}

void Hll::Densify() {
  registers_.assign(kRegisters, 0);
  std::unordered_set<uint64_t> hashes;
  hashes.swap(sparse_);
  for (const uint64_t h : hashes) AddHash(h);
}

void Hll::Merge(const Hll& other) {
  if (other.registers_.empty()) {
    for (const uint64_t h : other.sparse_) AddHash(h);
    return;
  }
  if (registers_.empty()) Densify();
  for (size_t i = 0; i < kRegisters; ++i) {
    if (other.registers_[i] > registers_[i]) registers_[i] = other.registers_[i];
  }
}

uint64_t Hll::Estimate() const {
  if (registers_.empty()) return sparse_.size();
  constexpr double kM = static_cast<double>(kRegisters);
  const double alpha = 0.7213 / (1.0 + 1.079 / kM);
  double sum = 0;
  size_t zeros = 0;
  for (const uint8_t r : registers_) {
    sum += std::ldexp(1.0, -static_cast<int>(r));
    if (r == 0) ++zeros;
  }
  double estimate = alpha * kM * kM / sum;
  if (estimate <= 2.5 * kM && zeros > 0) {
    estimate = kM * std::log(kM / static_cast<double>(zeros));
  }
  return static_cast<uint64_t>(std::llround(estimate));
}

}  // namespace pgcdc::view
