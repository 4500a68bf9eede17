#include <gtest/gtest.h>

#include "core/metrics.h"
#include "transform/builtins.h"
#include "transform/test_util.h"

namespace pgcdc::transform {
namespace {

using namespace std::chrono_literals;
using fixtures::TestEvent;

struct Clock {
  int64_t now = 1'000'000'000;
  std::function<int64_t()> Fn() {
    return [this] { return now; };
  }
};

Verdict Feed(DedupTransform& d, const std::string& payload, bool fresh_id = false) {
  Event e = TestEvent("INSERT", payload);
  if (fresh_id) e.id = NewUuidV7();
  auto v = d.Apply(e);
  EXPECT_TRUE(v);
  return *v;
}

std::string Row(int id) { return R"({"op":"INSERT","row":{"id":)" + std::to_string(id) + "}}"; }

TEST(DedupTest, WindowExpiresKeys) {
  Clock clock;
  auto d = MakeDedup({.key_path = "row.id", .window = 10s, .max_keys = 10, .clock = clock.Fn()});
  ASSERT_TRUE(d);
  EXPECT_EQ(Feed(**d, Row(1)), Verdict::kKeep);
  clock.now += std::chrono::nanoseconds(9s).count();
  EXPECT_EQ(Feed(**d, Row(1)), Verdict::kDrop);  // a hit does not extend the expiry
  clock.now += std::chrono::nanoseconds(1s).count();
  EXPECT_EQ(Feed(**d, Row(1)), Verdict::kKeep);  // expired: seen again as new
  EXPECT_EQ(Feed(**d, Row(1)), Verdict::kDrop);
  EXPECT_EQ(Feed(**d, Row(2)), Verdict::kKeep);
}

TEST(DedupTest, MaxKeysEvictsLeastRecentlyUsed) {
  Clock clock;
  auto d = MakeDedup({.key_path = "row.id", .window = 1h, .max_keys = 2, .clock = clock.Fn()});
  ASSERT_TRUE(d);
  EXPECT_EQ(Feed(**d, Row(1)), Verdict::kKeep);
  EXPECT_EQ(Feed(**d, Row(2)), Verdict::kKeep);
  EXPECT_EQ(Feed(**d, Row(1)), Verdict::kDrop);  // 1 becomes most recently used
  EXPECT_EQ(Feed(**d, Row(3)), Verdict::kKeep);  // evicts 2
  EXPECT_EQ((*d)->size(), 2u);
  EXPECT_EQ(Feed(**d, Row(1)), Verdict::kDrop);
  EXPECT_EQ(Feed(**d, Row(2)), Verdict::kKeep);  // was evicted
}

TEST(DedupTest, KeyPathForms) {
  Clock clock;
  // A leading "payload." is accepted; strings and numbers key by their text.
  auto d = MakeDedup({.key_path = "payload.row.id", .window = 1h, .clock = clock.Fn()});
  ASSERT_TRUE(d);
  EXPECT_EQ(Feed(**d, R"({"op":"INSERT","row":{"id":"5"}})"), Verdict::kKeep);
  EXPECT_EQ(Feed(**d, R"({"op":"UPDATE","row":{"id":5}})"), Verdict::kDrop);
  // Missing path -> event id: distinct ids are never duplicates, equal ids are.
  EXPECT_EQ(Feed(**d, R"({"other":1})", true), Verdict::kKeep);
  EXPECT_EQ(Feed(**d, R"({"other":1})", true), Verdict::kKeep);
  EXPECT_EQ(Feed(**d, R"([1,2])"), Verdict::kKeep);
  EXPECT_EQ(Feed(**d, R"([1,2])"), Verdict::kDrop);  // same fixed test id

  auto top = MakeDedup({.key_path = "order", .window = 1h, .clock = clock.Fn()});
  EXPECT_EQ(Feed(**top, R"({"order":{"a":1}})", true), Verdict::kKeep);
  EXPECT_EQ(Feed(**top, R"({"order":{"a":1}})", true), Verdict::kDrop);
}

TEST(DedupTest, InvalidOptions) {
  EXPECT_FALSE(MakeDedup({.window = 0s}));
  EXPECT_FALSE(MakeDedup({.window = 1s, .max_keys = 0}));
  EXPECT_FALSE(MakeDedup({.key_path = "row..id", .window = 1s}));
}

TEST(DedupTest, MetricsCountDropsAndCacheSize) {
  auto& dropped = metrics::Default().AddCounter("pgcdc_dedup_dropped_total", "").Get();
  auto& size = metrics::Default().AddGauge("pgcdc_dedup_cache_size", "").Get();
  const uint64_t d0 = dropped.Value();
  const double s0 = size.Value();
  {
    Clock clock;
    auto d = MakeDedup({.key_path = "row.id", .window = 1h, .max_keys = 3, .clock = clock.Fn()});
    for (int i = 0; i < 5; ++i) Feed(**d, Row(i));
    Feed(**d, Row(4));
    EXPECT_EQ(dropped.Value(), d0 + 1);
    EXPECT_EQ(size.Value(), s0 + 3);
  }
  EXPECT_EQ(size.Value(), s0);  // a destroyed cache no longer counts
}

}  // namespace
}  // namespace pgcdc::transform
