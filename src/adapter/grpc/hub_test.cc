#include "adapter/grpc/hub.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "core/metrics.h"
#include "core/test_util.h"

namespace pgcdc::adapter::grpc {
namespace {

Item MakeItem(const std::string& id, const std::string& channel) {
  return {.id = id, .channel = channel, .bytes = std::make_shared<const std::string>(id)};
}

// A transport that records what the client asks of it; writes complete when
// the test says so (Complete()).
class FakeTransport : public Transport {
 public:
  void Send(const Item& item, bool more) override {
    EXPECT_FALSE(in_flight) << "two writes in flight";
    in_flight = true;
    sent.push_back(item.id);
  }
  void Close(EndReason reason) override {
    ++closes;
    closed = reason;
  }
  // Completes the write in flight (the next one may start at once).
  void Complete(Client& c, bool ok = true) {
    ASSERT_TRUE(in_flight);
    in_flight = false;
    c.WriteDone(ok);
  }
  void Drain(Client& c) {
    while (in_flight) Complete(c);
  }
  std::atomic<bool> in_flight{false};
  std::vector<std::string> sent;
  EndReason closed = EndReason::kNone;
  int closes = 0;
};

double Metric(const std::string& name) {
  return static_cast<double>(metrics::DefaultCounter(name, "").Value());
}

TEST(NormalizeChannels, SortsDedupsAndRejectsBadNames) {
  auto ok = NormalizeChannels({"b", "a", "b"});
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(*ok, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(NormalizeChannels({})->empty());
  EXPECT_FALSE(NormalizeChannels({""}).has_value());
  EXPECT_FALSE(NormalizeChannels({"a\nb"}).has_value());
  EXPECT_FALSE(NormalizeChannels({std::string(300, 'x')}).has_value());
  std::vector<std::string> many;
  for (int i = 0; i < 65; ++i) many.push_back("c" + std::to_string(i));
  EXPECT_FALSE(NormalizeChannels(many).has_value());
}

TEST(Hub, DeliversInOrderToMatchingClientsOnly) {
  Hub hub({.client_queue = 16});
  FakeTransport all_t, a_t, ab_t;
  auto all = hub.Subscribe({}, "", &all_t).client;
  auto a = hub.Subscribe({"a"}, "", &a_t).client;
  auto ab = hub.Subscribe({"b", "a"}, "", &ab_t).client;
  ASSERT_TRUE(all && a && ab);
  EXPECT_EQ(hub.clients(), 3u);
  std::vector<Item> items = {MakeItem("1", "a"), MakeItem("2", "b"), MakeItem("3", "c"),
                             MakeItem("4", "a")};
  hub.Publish(items);
  all_t.Drain(*all);
  a_t.Drain(*a);
  ab_t.Drain(*ab);
  EXPECT_EQ(all_t.sent, (std::vector<std::string>{"1", "2", "3", "4"}));
  EXPECT_EQ(a_t.sent, (std::vector<std::string>{"1", "4"}));
  EXPECT_EQ(ab_t.sent, (std::vector<std::string>{"1", "2", "4"}));
}

TEST(Hub, OneWriteInFlightTheRestQueued) {
  Hub hub({.client_queue = 16});
  FakeTransport t;
  auto c = hub.Subscribe({}, "", &t).client;
  std::vector<Item> items = {MakeItem("1", "x"), MakeItem("2", "x"), MakeItem("3", "x")};
  hub.Publish(items);
  EXPECT_EQ(t.sent, (std::vector<std::string>{"1"}));
  EXPECT_EQ(c->queued(), 2u);
  t.Complete(*c);
  EXPECT_EQ(t.sent, (std::vector<std::string>{"1", "2"}));
  t.Drain(*c);
  EXPECT_EQ(c->queued(), 0u);
  // Idle again: the next publish starts a write at once.
  hub.Publish(std::vector<Item>{MakeItem("4", "x")});
  EXPECT_EQ(t.sent.back(), "4");
}

TEST(Hub, SlowClientIsEndedOnceAndCountedOthersUnaffected) {
  const double before = Metric("pgcdc_grpc_slow_client_disconnects_total");
  Hub hub({.client_queue = 2});
  FakeTransport slow_t, fast_t;
  auto slow = hub.Subscribe({}, "", &slow_t).client;
  auto fast = hub.Subscribe({}, "", &fast_t).client;
  for (int i = 0; i < 6; ++i) {
    hub.Publish(std::vector<Item>{MakeItem(std::to_string(i), "x")});
    fast_t.Drain(*fast);  // the fast client keeps up; the slow one never completes
  }
  EXPECT_EQ(slow_t.closed, EndReason::kSlow);
  EXPECT_EQ(slow_t.closes, 1);
  EXPECT_EQ(slow->ended(), EndReason::kSlow);
  EXPECT_EQ(slow->queued(), 0u);
  EXPECT_EQ(fast_t.sent.size(), 6u);
  EXPECT_EQ(fast_t.closes, 0);
  EXPECT_EQ(Metric("pgcdc_grpc_slow_client_disconnects_total"), before + 1);
  // Its write in flight completes later: nothing more is sent.
  const size_t sent = slow_t.sent.size();
  slow_t.Complete(*slow);
  EXPECT_EQ(slow_t.sent.size(), sent);
}

TEST(Hub, PublishWaitsForRoomUpToTheSlowTimeout) {
  Hub hub({.client_queue = 4, .slow_timeout = std::chrono::seconds(10)});
  FakeTransport t;
  auto c = hub.Subscribe({}, "", &t).client;
  std::vector<Item> burst;
  for (int i = 0; i < 20; ++i) burst.push_back(MakeItem(std::to_string(i), "x"));
  // The transport completes writes on another thread while Publish waits.
  std::atomic<bool> stop{false};
  std::thread drainer([&] {
    while (!stop.load()) {
      if (c->queued() > 0) {
        // Only the drainer completes writes: the single-writer rule holds.
        t.in_flight = false;
        c->WriteDone(true);
      }
      std::this_thread::yield();
    }
  });
  hub.Publish(burst);
  // Everything was queued (none dropped, nobody ended) despite a queue of 4.
  EXPECT_TRUE(testing::Eventually([&] { return c->queued() == 0; }));
  stop = true;
  drainer.join();
  EXPECT_EQ(c->ended(), EndReason::kNone);
  EXPECT_EQ(t.closes, 0);
}

TEST(Hub, AClientThatNeverDrainsIsEndedWhenTheSlowTimeoutPasses) {
  Hub hub({.client_queue = 4, .slow_timeout = std::chrono::milliseconds(50)});
  FakeTransport t;
  auto c = hub.Subscribe({}, "", &t).client;
  EXPECT_EQ(hub.clients(), 1u);
  std::vector<Item> burst;
  for (int i = 0; i < 20; ++i) burst.push_back(MakeItem(std::to_string(i), "x"));
  const auto t0 = std::chrono::steady_clock::now();
  hub.Publish(burst);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(50));
  EXPECT_EQ(t.closed, EndReason::kSlow);
  EXPECT_EQ(hub.clients(), 0u);  // ended: no longer counted, even before its stream is done
}

TEST(Hub, WaitForClientReturnsOnSubscribeOrClose) {
  Hub hub({});
  FakeTransport t;
  std::shared_ptr<Client> c;
  std::thread subscriber([&] { c = hub.Subscribe({}, "", &t).client; });
  EXPECT_TRUE(hub.WaitForClient());
  subscriber.join();
  Hub closing({});
  std::thread closer([&] { closing.CloseAll(); });
  EXPECT_FALSE(closing.WaitForClient());
  closer.join();
}

TEST(Hub, CloseAllEndsEveryClientWithShutdownAndRefusesNewOnes) {
  Hub hub({});
  FakeTransport t1, t2, t3;
  auto c1 = hub.Subscribe({}, "", &t1).client;
  auto c2 = hub.Subscribe({"a"}, "", &t2).client;
  hub.CloseAll();
  EXPECT_EQ(t1.closed, EndReason::kShutdown);
  EXPECT_EQ(t2.closed, EndReason::kShutdown);
  auto refused = hub.Subscribe({}, "", &t3);
  EXPECT_FALSE(refused.client);
  EXPECT_EQ(refused.refusal, Hub::Refusal::kShuttingDown);
  hub.CloseAll();  // idempotent: no second Close
  EXPECT_EQ(t1.closes, 1);
}

TEST(Hub, ClientGoneEndsAndDetachStopsCallsIntoTheTransport) {
  Hub hub({});
  FakeTransport t;
  auto c = hub.Subscribe({}, "", &t).client;
  hub.Publish(std::vector<Item>{MakeItem("1", "x"), MakeItem("2", "x")});
  t.Complete(*c, /*ok=*/false);
  EXPECT_EQ(t.closed, EndReason::kGone);
  c->Detach();
  hub.Remove(c.get());
  EXPECT_EQ(hub.clients(), 0u);
  c->End(EndReason::kShutdown);
  EXPECT_EQ(t.closes, 1);
}

TEST(Hub, ResumeReplaysTheFilteredEventsAfterTheIdThenLiveOnes) {
  Hub hub({.client_queue = 1, .replay_capacity = 10});
  hub.Publish(std::vector<Item>{MakeItem("1", "a"), MakeItem("2", "b"), MakeItem("3", "a"),
                                MakeItem("4", "a"), MakeItem("5", "b")});
  FakeTransport t;
  // Three events to replay although the queue holds one: the replay does not
  // count against the live limit.
  auto sub = hub.Subscribe({"a"}, "2", &t);
  ASSERT_TRUE(sub.client) << sub.message;
  hub.Publish(std::vector<Item>{MakeItem("6", "a")});
  t.Drain(*sub.client);
  EXPECT_EQ(t.sent, (std::vector<std::string>{"3", "4", "6"}));
  EXPECT_EQ(t.closes, 0);
  // Resuming from the newest id replays nothing.
  FakeTransport t2;
  auto latest = hub.Subscribe({}, "6", &t2);
  ASSERT_TRUE(latest.client);
  EXPECT_TRUE(t2.sent.empty());
}

TEST(Hub, ResumeFromAnEvictedOrUnknownIdIsRefused) {
  const double before = Metric("pgcdc_grpc_refused_total");
  Hub hub({.replay_capacity = 3});
  for (int i = 1; i <= 5; ++i) hub.Publish(std::vector<Item>{MakeItem(std::to_string(i), "a")});
  FakeTransport t;
  auto evicted = hub.Subscribe({}, "2", &t);
  EXPECT_FALSE(evicted.client);
  EXPECT_EQ(evicted.refusal, Hub::Refusal::kResumeMiss);
  EXPECT_NE(evicted.message.find("resume_from 2"), std::string::npos);
  EXPECT_NE(evicted.message.find("last 3 events"), std::string::npos);
  EXPECT_TRUE(hub.Subscribe({}, "3", &t).client);  // the oldest still kept
  EXPECT_EQ(hub.Subscribe({}, "nope", &t).refusal, Hub::Refusal::kResumeMiss);
  EXPECT_EQ(Metric("pgcdc_grpc_refused_total"), before + 2);
}

TEST(Hub, ReplayOffMeansEveryResumeIsAMiss) {
  Hub hub({.replay_capacity = 0});
  hub.Publish(std::vector<Item>{MakeItem("1", "a")});
  FakeTransport t;
  EXPECT_EQ(hub.Subscribe({}, "1", &t).refusal, Hub::Refusal::kResumeMiss);
}

TEST(Hub, MaxClientsAndBadChannelsAreRefused) {
  Hub hub({.max_clients = 1});
  FakeTransport t1, t2;
  ASSERT_TRUE(hub.Subscribe({}, "", &t1).client);
  EXPECT_EQ(hub.Subscribe({}, "", &t2).refusal, Hub::Refusal::kTooManyClients);
  Hub other({});
  auto bad = other.Subscribe({"ok", ""}, "", &t2);
  EXPECT_EQ(bad.refusal, Hub::Refusal::kBadChannel);
  EXPECT_NE(bad.message.find("empty channel name"), std::string::npos);
}

}  // namespace
}  // namespace pgcdc::adapter::grpc
