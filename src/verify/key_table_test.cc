#include "verify/key_table.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

namespace pgcdc::verify {
namespace {

TEST(KeyTable, BehavesLikeAMapThroughGrowthAndClear) {
  KeyTable t;
  std::map<std::string, uint64_t> model;
  std::mt19937_64 rng(7);
  for (int i = 0; i < 50000; ++i) {
    const std::string key = "[" + std::to_string(rng() % 20000) + "]";
    auto [state, created] = t.Upsert(key);
    EXPECT_EQ(created, !model.contains(key));
    state->hash = rng();
    model[key] = state->hash;
  }
  EXPECT_EQ(t.size(), model.size());
  for (const auto& [key, hash] : model) {
    KeyState* s = t.Find(key);
    ASSERT_NE(s, nullptr) << key;
    EXPECT_EQ(s->hash, hash);
  }
  EXPECT_EQ(t.Find("[-1]"), nullptr);
  size_t n = 0;
  t.ForEach([&](std::string_view key, KeyState& s) {
    EXPECT_EQ(model.at(std::string(key)), s.hash);
    ++n;
  });
  EXPECT_EQ(n, model.size());
  t.Clear();
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.Find("[1]"), nullptr);
  EXPECT_TRUE(t.Upsert("").second) << "the empty key is a key";
  EXPECT_FALSE(t.Upsert("").second);
}

}  // namespace
}  // namespace pgcdc::verify
