#include "core/uuid.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <regex>
#include <set>
#include <thread>
#include <vector>

#include "core/time.h"

namespace pgcdc {
namespace uuid_internal {
uint64_t NextMonotonicState(uint64_t last_state, uint64_t now_ms);
}  // namespace uuid_internal
namespace {

uint64_t TimestampMs(const Uuid& u) {
  uint64_t ms = 0;
  for (int i = 0; i < 6; ++i) ms = ms << 8 | u.bytes[i];
  return ms;
}

uint16_t Counter(const Uuid& u) {
  return static_cast<uint16_t>((u.bytes[6] & 0x0f) << 8 | u.bytes[7]);
}

TEST(UuidTest, CanonicalFormat) {
  const std::regex re("^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  for (int i = 0; i < 1000; ++i) {
    const std::string s = NewUuidV7().ToString();
    ASSERT_EQ(s.size(), 36u);
    ASSERT_TRUE(std::regex_match(s, re)) << s;
  }
}

TEST(UuidTest, VersionAndVariantBits) {
  for (int i = 0; i < 1000; ++i) {
    const Uuid u = NewUuidV7();
    ASSERT_EQ(u.bytes[6] >> 4, 7);
    ASSERT_EQ(u.bytes[8] >> 6, 0b10);
  }
}

TEST(UuidTest, AppendToAppends) {
  std::string out = "id=";
  const Uuid u = MakeUuidV7(0x0195b3c27a10, 0xc3e, 0x1f112b3c4d5e6f70);
  u.AppendTo(out);
  EXPECT_EQ(out, "id=0195b3c2-7a10-7c3e-9f11-2b3c4d5e6f70");
  EXPECT_EQ(u.ToString(), "0195b3c2-7a10-7c3e-9f11-2b3c4d5e6f70");
}

TEST(UuidTest, MakeUuidV7Layout) {
  EXPECT_EQ(MakeUuidV7(0, 0, 0).ToString(), "00000000-0000-7000-8000-000000000000");
  // All-ones inputs: extra bits beyond each field are masked off.
  EXPECT_EQ(MakeUuidV7(~uint64_t{0}, 0xffff, ~uint64_t{0}).ToString(),
            "ffffffff-ffff-7fff-bfff-ffffffffffff");
  EXPECT_EQ(MakeUuidV7(1, 1, 1).ToString(), "00000000-0001-7001-8000-000000000001");
}

TEST(UuidTest, MakeUuidV7RoundTripsTimestampAndCounter) {
  for (uint64_t ms : {uint64_t{0}, uint64_t{1}, uint64_t{1750000000123}, (uint64_t{1} << 48) - 1}) {
    for (uint16_t counter : {uint16_t{0}, uint16_t{1}, uint16_t{0x800}, uint16_t{0xfff}}) {
      const Uuid u = MakeUuidV7(ms, counter, 0x2aaaaaaaaaaaaaaa);
      EXPECT_EQ(TimestampMs(u), ms);
      EXPECT_EQ(Counter(u), counter);
    }
  }
}

TEST(UuidTest, TimestampIsCurrentTime) {
  const uint64_t before = static_cast<uint64_t>(NowUnixNanos() / 1'000'000);
  const Uuid u = NewUuidV7();
  const uint64_t after = static_cast<uint64_t>(NowUnixNanos() / 1'000'000);
  // The generator may run ahead of the clock only if >4096 ids were made in
  // one millisecond by earlier tests; allow a little slack for that.
  EXPECT_GE(TimestampMs(u), before);
  EXPECT_LE(TimestampMs(u), after + 1000);
}

TEST(UuidTest, StrictlyIncreasingOver100kIds) {
  std::vector<Uuid> ids;
  ids.reserve(100'000);
  for (int i = 0; i < 100'000; ++i) ids.push_back(NewUuidV7());
  for (size_t i = 1; i < ids.size(); ++i) {
    ASSERT_LT(ids[i - 1], ids[i]) << i;
    // Byte order and string order agree.
    ASSERT_LT(ids[i - 1].ToString(), ids[i].ToString()) << i;
  }
}

TEST(UuidTest, MonotonicStateSteps) {
  using uuid_internal::NextMonotonicState;
  constexpr uint64_t kMs = 1750000000123;
  // New millisecond: counter restarts at 0.
  EXPECT_EQ(NextMonotonicState(0, kMs), kMs << 12);
  EXPECT_EQ(NextMonotonicState((kMs - 1) << 12 | 77, kMs), kMs << 12);
  // Same millisecond: counter bumps.
  EXPECT_EQ(NextMonotonicState(kMs << 12, kMs), kMs << 12 | 1);
  EXPECT_EQ(NextMonotonicState(kMs << 12 | 41, kMs), kMs << 12 | 42);
  // Clock stepped back: keep the last millisecond, bump the counter.
  EXPECT_EQ(NextMonotonicState(kMs << 12 | 5, kMs - 1000), kMs << 12 | 6);
  EXPECT_EQ(NextMonotonicState(kMs << 12 | 5, 0), kMs << 12 | 6);
  // Counter overflow advances the millisecond (ahead of the clock).
  EXPECT_EQ(NextMonotonicState(kMs << 12 | 0xfff, kMs), (kMs + 1) << 12);
  EXPECT_EQ(NextMonotonicState((kMs + 1) << 12, kMs), (kMs + 1) << 12 | 1);
  // Once the clock passes the borrowed millisecond, it takes over again.
  EXPECT_EQ(NextMonotonicState((kMs + 1) << 12 | 9, kMs + 2), (kMs + 2) << 12);
}

TEST(UuidTest, ConsecutiveIdsBumpCounterOrStartNewMillisecond) {
  Uuid prev = NewUuidV7();
  for (int i = 0; i < 100'000; ++i) {
    const Uuid cur = NewUuidV7();
    const uint64_t a = TimestampMs(prev) << 12 | Counter(prev);
    const uint64_t b = TimestampMs(cur) << 12 | Counter(cur);
    ASSERT_GT(b, a);
    if (b != a + 1) {
      ASSERT_EQ(Counter(cur), 0) << i;  // jumped to a newer clock millisecond
    }
    prev = cur;
  }
}

TEST(UuidTest, UniqueAndIncreasingPerThreadAcrossThreads) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 20'000;
  std::vector<std::vector<Uuid>> per_thread(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto& v = per_thread[t];
      v.reserve(kPerThread);
      for (int i = 0; i < kPerThread; ++i) v.push_back(NewUuidV7());
    });
  }
  for (auto& th : threads) th.join();
  std::vector<Uuid> all;
  for (const auto& v : per_thread) {
    for (size_t i = 1; i < v.size(); ++i) ASSERT_LT(v[i - 1], v[i]);
    all.insert(all.end(), v.begin(), v.end());
  }
  std::sort(all.begin(), all.end());
  EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end());
  // The (timestamp, counter) prefix alone is unique process-wide.
  std::set<uint64_t> prefixes;
  for (const Uuid& u : all) prefixes.insert(TimestampMs(u) << 12 | Counter(u));
  EXPECT_EQ(prefixes.size(), all.size());
}

TEST(UuidTest, RandomBitsDiffer) {
  const Uuid a = NewUuidV7();
  const Uuid b = NewUuidV7();
  EXPECT_FALSE(std::equal(a.bytes.begin() + 8, a.bytes.end(), b.bytes.begin() + 8));
}

TEST(UuidTest, PositionUuidLayout) {
  // position 0x123456789abcdef, ordinal 7, origin 0x2aaaaaaa.
  const Uuid u = MakePositionUuid(0x123456789abcdefULL, 7, 0x2aaaaaaa);
  EXPECT_EQ(u.ToString(), "12345678-9abc-8def-8000-0001eaaaaaaa");
  // Deterministic, and the version/variant bits never leak into the fields.
  EXPECT_EQ(u, MakePositionUuid(0x123456789abcdefULL, 7, 0x2aaaaaaa));
  const std::regex re("^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  EXPECT_TRUE(std::regex_match(MakePositionUuid(~0ULL, ~0U, ~0U).ToString(), re));
  EXPECT_TRUE(std::regex_match(MakePositionUuid(0, 0, 0).ToString(), re));
}

TEST(UuidTest, PositionUuidsSortByPositionThenOrdinal) {
  std::vector<Uuid> ids;
  for (uint64_t pos : {1ULL, 2ULL, 0xfffULL, 0x1000ULL, 0xfffffffffffffffULL}) {
    for (uint32_t ord : {0U, 1U, 2U, 0xffffffffU}) ids.push_back(MakePositionUuid(pos, ord, 99));
  }
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  EXPECT_EQ(std::adjacent_find(ids.begin(), ids.end()), ids.end());
  // Another origin gives other ids for the same positions.
  EXPECT_NE(MakePositionUuid(5, 1, PositionOrigin("a")),
            MakePositionUuid(5, 1, PositionOrigin("b")));
}

TEST(UuidTest, PositionOriginIsStableAndFitsThirtyBits) {
  EXPECT_EQ(PositionOrigin("7312345678901234567/app/pgcdc_pub"),
            PositionOrigin("7312345678901234567/app/pgcdc_pub"));
  std::set<uint32_t> seen;
  for (int i = 0; i < 10000; ++i) {
    const uint32_t o = PositionOrigin("scope-" + std::to_string(i));
    EXPECT_LT(o, 1U << 30);
    seen.insert(o);
  }
  EXPECT_EQ(seen.size(), 10000u);
}

TEST(UuidTest, ParseRoundTripsAndRejectsJunk) {
  const Uuid u = NewUuidV7();
  ASSERT_TRUE(ParseUuid(u.ToString()).has_value());
  EXPECT_EQ(*ParseUuid(u.ToString()), u);
  EXPECT_EQ(ParseUuid("0195B3C2-7A10-7C3E-9F11-2B3C4D5E6F70")->ToString(),
            "0195b3c2-7a10-7c3e-9f11-2b3c4d5e6f70");
  for (const char* bad :
       {"", "0195b3c2-7a10-7c3e-9f11-2b3c4d5e6f7", "0195b3c2-7a10-7c3e-9f11-2b3c4d5e6f7g",
        "0195b3c27a10-7c3e-9f11-2b3c4d5e6f70a", "{0195b3c2-7a10-7c3e-9f11-2b3c4d5e6f}"}) {
    EXPECT_FALSE(ParseUuid(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace pgcdc
