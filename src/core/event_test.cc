#include "core/event.h"

#include <gtest/gtest.h>

#include <latch>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/json.h"
#include "core/test_util.h"

namespace pgcdc {
namespace {

Event SampleEvent() {
  return testing::MakeEvent(
      {.channel = "pgcdc:orders",
       .operation = "INSERT",
       .payload = R"({"op":"INSERT","table":"orders","row":{"id":1,"status":"new","amount":12.5},)"
                  R"("old":null})",
       .source = "listen_notify",
       .id = testing::SampleEventId(),
       .created_at_ns = 1750000000123456000});
}

constexpr const char* kSampleJson =
    R"({"id":"0195b3c2-7a10-7c3e-9f11-2b3c4d5e6f70","channel":"pgcdc:orders",)"
    R"("operation":"INSERT","payload":{"op":"INSERT","table":"orders","row":{"id":1,)"
    R"("status":"new","amount":12.5},"old":null},"source":"listen_notify",)"
    R"("created_at":"2025-06-15T15:06:40.123456Z"})";

TEST(EventTest, EnvelopeKeyOrder) {
  const Event e = SampleEvent();
  EXPECT_EQ(e.Json(), kSampleJson);
  std::string out = "prefix";
  AppendEventJson(e, out);
  EXPECT_EQ(out, std::string("prefix") + kSampleJson);
}

TEST(EventTest, TransactionBlockIsLast) {
  Event e = SampleEvent();
  e.source = "wal_replication";
  e.payload = "null";
  e.created_at_ns = 1750000000 * 1'000'000'000LL;
  e.transaction =
      TransactionInfo{.xid = 4294967295u, .commit_time_ns = 1750000000000001000, .seq = 1};
  EXPECT_EQ(e.Json(), R"({"id":"0195b3c2-7a10-7c3e-9f11-2b3c4d5e6f70","channel":"pgcdc:orders",)"
                      R"("operation":"INSERT","payload":null,"source":"wal_replication",)"
                      R"("created_at":"2025-06-15T15:06:40Z","transaction":{"xid":4294967295,)"
                      R"("commit_time":"2025-06-15T15:06:40.000001Z","seq":1}})");
}

TEST(EventTest, DefaultEventHasNullPayload) {
  const Event e;
  EXPECT_EQ(e.Json(), R"({"id":"00000000-0000-0000-0000-000000000000","channel":"","operation":"",)"
                      R"("payload":null,"source":"","created_at":"1970-01-01T00:00:00Z"})");
}

TEST(EventTest, StringsAreEscaped) {
  Event e = SampleEvent();
  e.channel = "we\"ird\\chan\nnel\x01<&>";
  e.operation = "UP\tDATE";
  e.payload = R"("text")";
  EXPECT_EQ(e.Json(), R"({"id":"0195b3c2-7a10-7c3e-9f11-2b3c4d5e6f70",)"
                      R"("channel":"we\"ird\\chan\nnel\u0001<&>","operation":"UP\tDATE",)"
                      R"("payload":"text","source":"listen_notify",)"
                      R"("created_at":"2025-06-15T15:06:40.123456Z"})");
}

TEST(EventTest, InvalidUtf8InChannelIsReplaced) {
  Event e = SampleEvent();
  e.channel = "bad\xff";
  EXPECT_NE(e.Json().find("\"channel\":\"bad\xEF\xBF\xBD\""), std::string::npos);
}

TEST(EventTest, OutputIsValidCompactJson) {
  Event e = SampleEvent();
  e.channel = "\xc3\xa9\x7f\"";
  e.transaction = TransactionInfo{.xid = 1, .commit_time_ns = -1, .seq = 2};
  std::string compacted;
  auto info = json::Compact(e.Json(), compacted);
  ASSERT_TRUE(info.has_value()) << info.error().message();
  EXPECT_EQ(compacted, e.Json());
  EXPECT_EQ(info->kind, json::Kind::kObject);
}

TEST(EventTest, CacheReturnsSameObject) {
  const Event e = SampleEvent();
  const std::string& a = e.Json();
  const std::string& b = e.Json();
  EXPECT_EQ(&a, &b);
  EXPECT_EQ(a, kSampleJson);
}

TEST(EventTest, CopiesReEncode) {
  const Event original = SampleEvent();
  const std::string& cached = original.Json();

  // NOLINTNEXTLINE(performance-unnecessary-copy-initialization): the copy is what is tested.
  const Event copy(original);
  EXPECT_NE(&copy.Json(), &cached);
  EXPECT_EQ(copy.Json(), cached);

  Event modified(original);
  modified.channel = "pgcdc:other";
  EXPECT_NE(modified.Json().find(R"("channel":"pgcdc:other")"), std::string::npos);
  EXPECT_EQ(original.Json(), kSampleJson);

  // Copy-assignment drops the target's stale cache.
  Event assigned;
  const std::string stale = assigned.Json();
  assigned = original;
  EXPECT_EQ(assigned.Json(), kSampleJson);
  EXPECT_NE(assigned.Json(), stale);
  EXPECT_NE(&assigned.Json(), &cached);
}

TEST(EventTest, IdTimestampIsTheCreationTime) {
  // MakeEvent reads the clock once for both: the UUIDv7's 48-bit millisecond
  // timestamp is created_at truncated to milliseconds, or later when the
  // process-wide monotonic UUID state ran ahead of the clock (other tests in
  // this binary generate UUIDs in bursts); it is never earlier.
  for (int i = 0; i < 1000; ++i) {
    const Event e = MakeEvent("c", "INSERT", "1", "test");
    uint64_t ms = 0;
    for (int b = 0; b < 6; ++b) ms = (ms << 8) | e.id.bytes[b];
    EXPECT_GE(ms, static_cast<uint64_t>(e.created_at_ns / 1'000'000));
    EXPECT_LE(ms, static_cast<uint64_t>(e.created_at_ns / 1'000'000) + 5'000);
  }
}

TEST(EventTest, KeyTravelsWithCopiesAndMovesButNotIntoTheEnvelope) {
  Event e = SampleEvent();
  e.key = "42";
  EXPECT_EQ(e.Json(), kSampleJson);  // not part of the envelope
  Event copy(e);
  EXPECT_EQ(copy.key, "42");
  Event assigned;
  assigned = e;
  EXPECT_EQ(assigned.key, "42");
  Event moved(std::move(copy));
  EXPECT_EQ(moved.key, "42");
  Event move_assigned;
  move_assigned = std::move(moved);
  EXPECT_EQ(move_assigned.key, "42");
}

TEST(EventTest, MovesCarryTheCache) {
  Event original = SampleEvent();
  const std::string* cached = &original.Json();

  Event moved(std::move(original));
  EXPECT_EQ(&moved.Json(), cached);
  EXPECT_EQ(moved.Json(), kSampleJson);

  Event target;
  (void)target.Json();
  target = std::move(moved);
  EXPECT_EQ(&target.Json(), cached);
  EXPECT_EQ(target.Json(), kSampleJson);
}

TEST(EventTest, VectorGrowthKeepsEncodings) {
  std::vector<Event> events;
  for (int i = 0; i < 100; ++i) {
    Event e = SampleEvent();
    e.created_at_ns += i;
    (void)e.Json();
    events.push_back(std::move(e));
  }
  for (int i = 0; i < 100; ++i) {
    std::string expected;
    AppendEventJson(events[static_cast<size_t>(i)], expected);
    EXPECT_EQ(events[static_cast<size_t>(i)].Json(), expected);
  }
}

TEST(EventTest, ConcurrentJsonReturnsIdenticalStrings) {
  constexpr int kThreads = 8;
  for (int round = 0; round < 200; ++round) {
    Event e = SampleEvent();
    e.payload = R"({"round":)" + std::to_string(round) + "}";
    std::latch start(kThreads);
    std::vector<const std::string*> seen(kThreads, nullptr);
    std::vector<std::thread> threads;
    threads.reserve(kThreads);
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        start.arrive_and_wait();
        seen[static_cast<size_t>(t)] = &e.Json();
      });
    }
    for (auto& th : threads) th.join();
    std::string expected;
    AppendEventJson(e, expected);
    for (const std::string* s : seen) {
      ASSERT_EQ(s, seen[0]);
      ASSERT_EQ(*s, expected);
    }
  }
}

}  // namespace
}  // namespace pgcdc
