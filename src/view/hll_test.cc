#include "view/hll.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

namespace pgcdc::view {
namespace {

double RelativeError(uint64_t estimate, uint64_t truth) {
  return std::fabs(static_cast<double>(estimate) - static_cast<double>(truth)) /
         static_cast<double>(truth);
}

TEST(Hll, SmallSetsAreExactAndRepeatsDoNotCount) {
  Hll h;
  EXPECT_EQ(h.Estimate(), 0u);
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 500; ++i) h.Add("key-" + std::to_string(i));
  }
  EXPECT_EQ(h.Estimate(), 500u);
}

// 1.6 % is one standard error at 2^12 registers; the hash is deterministic,
// so these figures are the same on every run: the bound is ~3 standard errors.
TEST(Hll, LargeSetsAreWithinTheStandardErrorBound) {
  for (const uint64_t n : {600ULL, 2'000ULL, 10'000ULL, 100'000ULL, 1'000'000ULL}) {
    Hll h;
    for (uint64_t i = 0; i < n; ++i) h.Add(std::to_string(i * 7919));
    EXPECT_LT(RelativeError(h.Estimate(), n), 0.05) << n << " estimated " << h.Estimate();
  }
}

TEST(Hll, MergeIsTheUnion) {
  Hll a, b, both;
  for (int i = 0; i < 30'000; ++i) {
    const std::string v = "v" + std::to_string(i);
    if (i < 20'000) a.Add(v);
    if (i >= 10'000) b.Add(v);
    both.Add(v);
  }
  Hll small;
  small.Add("v1");         // already in a
  small.Add("only-here");  // new
  a.Merge(b);
  EXPECT_EQ(a.Estimate(), both.Estimate());
  Hll exact;
  exact.Add("x");
  exact.Merge(small);
  EXPECT_EQ(exact.Estimate(), 3u);
  a.Merge(small);
  EXPECT_LT(RelativeError(a.Estimate(), 30'001), 0.05);
}

TEST(Hll, HashSpreadsNeighbouringInputs) {
  EXPECT_NE(Hll::Hash("a"), Hll::Hash("b"));
  EXPECT_NE(Hll::Hash("1") >> 52, Hll::Hash("2") >> 52);
  EXPECT_EQ(Hll::Hash("same"), Hll::Hash("same"));
}

}  // namespace
}  // namespace pgcdc::view
