// The adapter without a detector: record keys, topics, partitions and the
// deferred acknowledgement against committed offsets.
#include "adapter/kafkaserver/kafkaserver_adapter.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>

#include "adapter/kafkaserver/offset_store.h"
#include "adapter/kafkaserver/topic_store.h"
#include "codec/kafka/murmur2.h"
#include "codec/kafka/record_batch.h"
#include "config/config.h"
#include "config/core_params.h"
#include "core/test_util.h"
#include "registry/define.h"
#include "registry/test_util.h"

namespace pgcdc::adapter::kafkaserver {
namespace {

namespace k = codec::kafka;

Event Ev(std::string channel, std::string payload, std::string key = {}, uint64_t seq = 0) {
  Event e = MakeEvent(std::move(channel), "INSERT", std::move(payload), "test");
  e.key = std::move(key);
  e.seq = seq;
  return e;
}

TEST(KafkaServerTopics, ChannelToTopic) {
  EXPECT_EQ(TopicForChannel("pgcdc:orders"), "pgcdc.orders");
  EXPECT_EQ(TopicForChannel("pgcdc:public.orders"), "pgcdc.public.orders");
  EXPECT_EQ(TopicForChannel("weird chan/é"), "weird_chan___");
  EXPECT_EQ(TopicForChannel("."), "_.");
  EXPECT_EQ(TopicForChannel(std::string(300, 'a')).size(), 249u);
  EXPECT_TRUE(IsValidTopicName(TopicForChannel("a b:c")));
}

TEST(KafkaServerKeys, DefaultOrderAndKeyColumn) {
  // Event::key (the replica identity key) wins by default.
  EXPECT_EQ(RecordKey(Ev("c", R"({"op":"INSERT","row":{"id":1,"sku":"x"},"old":null})", "42"), ""),
            "42");
  // Then the id column of the row image.
  EXPECT_EQ(RecordKey(Ev("c", R"({"op":"INSERT","row":{"id":7,"sku":"x"},"old":null})"), ""), "7");
  // Old image when the row has no such column; strings unquoted.
  EXPECT_EQ(RecordKey(Ev("c", R"({"op":"DELETE","row":{"x":1},"old":{"id":"a-1"}})"), ""), "a-1");
  // Top level for plain payloads (NOTIFY).
  EXPECT_EQ(RecordKey(Ev("c", R"({"id":true,"v":1})"), ""), "true");
  // An explicit column beats Event::key.
  EXPECT_EQ(RecordKey(Ev("c", R"({"op":"INSERT","row":{"id":1,"sku":"x-9"}})", "1"), "sku"), "x-9");
  EXPECT_EQ(RecordKey(Ev("c", R"({"sku":12.50})"), "sku"), "12.50");
  // Nothing found: the event id.
  Event e = Ev("c", R"([1,2])");
  EXPECT_EQ(RecordKey(e, ""), e.id.ToString());
  Event n = Ev("c", R"({"id":null})");
  EXPECT_EQ(RecordKey(n, ""), n.id.ToString());
}

class AdapterTest : public ::testing::Test {
 protected:
  std::unique_ptr<KafkaServerAdapter> Open(const std::string& ack) {
    AdapterOptions o;
    o.addr = "127.0.0.1:0";
    o.partitions = 4;
    o.ack = ack;
    auto a = std::make_unique<KafkaServerAdapter>(o);
    auto st = a->Open();
    EXPECT_TRUE(st) << (st ? "" : st.error().message());
    return a;
  }
  Status Deliver(KafkaServerAdapter& a, const std::vector<Event>& events) {
    std::vector<const Event*> ptrs;
    for (const auto& e : events) ptrs.push_back(&e);
    return a.Deliver(ptrs);
  }
};

TEST_F(AdapterTest, RecordsLandInMurmur2PartitionsWithHeaders) {
  auto a = Open("stored");
  std::vector<Event> events;
  for (int i = 0; i < 20; ++i) {
    events.push_back(Ev("pgcdc:t", R"({"id":)" + std::to_string(i) + "}", "", 0));
  }
  ASSERT_TRUE(Deliver(*a, events));
  auto topic = a->topics()->Find("pgcdc.t");
  ASSERT_TRUE(topic);
  int64_t total = 0;
  for (int32_t p = 0; p < 4; ++p) {
    std::vector<std::shared_ptr<const std::string>> out;
    auto info = topic->partition(p)->Read(0, 1 << 20, out);
    ASSERT_TRUE(info);
    // One batch per partition per Deliver call.
    EXPECT_LE(out.size(), 1u);
    for (const auto& b : out) {
      auto decoded = k::DecodeRecordBatches(*b);
      ASSERT_TRUE(decoded) << decoded.error().message();
      for (const auto& r : (*decoded)[0].records) {
        ++total;
        ASSERT_TRUE(r.key);
        EXPECT_EQ(k::DefaultPartition(*r.key, 4), p);
        ASSERT_EQ(r.headers.size(), 3u);
        EXPECT_EQ(r.headers[0].key, "pgcdc-channel");
        EXPECT_EQ(r.headers[0].value, "pgcdc:t");
        EXPECT_EQ(r.headers[1].value, "INSERT");
        ASSERT_TRUE(r.value);
        EXPECT_NE(r.value->find(*r.headers[2].value), std::string::npos);  // envelope id
      }
    }
  }
  EXPECT_EQ(total, 20);
  EXPECT_FALSE(a->OldestHeldSeq());  // stored: nothing held
  a->Close();
}

// Large rows are split over several batches of about 1 MiB (a batch over the
// log's limit would fail the pipeline; consumers cap message sizes too), in
// order, every record once.
TEST_F(AdapterTest, LargeRowsAreSplitIntoBoundedBatchesInOrder) {
  auto a = Open("stored");
  std::vector<Event> events;
  const std::string big(300 * 1024, 'x');
  for (int i = 0; i < 12; ++i) {
    // One key: every record lands in the same partition.
    events.push_back(Ev(
        "pgcdc:big", R"({"id":7,"n":)" + std::to_string(i) + R"(,"pad":")" + big + R"("})", "", 0));
  }
  ASSERT_TRUE(Deliver(*a, events));
  auto topic = a->topics()->Find("pgcdc.big");
  ASSERT_TRUE(topic);
  int64_t n = 0;
  size_t batches = 0;
  for (int32_t p = 0; p < topic->partition_count(); ++p) {
    std::vector<std::shared_ptr<const std::string>> out;
    ASSERT_TRUE(topic->partition(p)->Read(0, 64 << 20, out));
    for (const auto& b : out) {
      ++batches;
      EXPECT_LE(b->size(), (1u << 20) + 400 * 1024);  // one record may overshoot the target
      auto decoded = k::DecodeRecordBatches(*b);
      ASSERT_TRUE(decoded) << decoded.error().message();
      for (const auto& r : (*decoded)[0].records) {
        ASSERT_TRUE(r.value);
        EXPECT_NE(r.value->find("\"n\":" + std::to_string(n) + ","), std::string::npos);
        ++n;
      }
    }
  }
  EXPECT_EQ(n, 12);
  EXPECT_GE(batches, 4u);
  a->Close();
}

TEST_F(AdapterTest, CommittedAckHoldsEventsUntilEveryGroupCommitted) {
  auto a = Open("committed");
  // Keys "a" and "b": find two keys that land in different partitions.
  std::vector<Event> events;
  for (uint64_t seq = 1; seq <= 8; ++seq) {
    events.push_back(Ev("c", "{}", "k" + std::to_string(seq), seq));
  }
  ASSERT_TRUE(Deliver(*a, events));
  // Nobody committed on the topic: nothing is held.
  EXPECT_FALSE(a->OldestHeldSeq());

  auto topic = a->topics()->Find("c");
  ASSERT_TRUE(topic);
  // Group g1 commits every partition's high watermark except the one
  // holding seq 1.
  const int32_t p1 = k::DefaultPartition("k1", 4);
  std::vector<OffsetCommit> commits;
  for (int32_t p = 0; p < 4; ++p) {
    const int64_t hwm = topic->partition(p)->HighWatermark();
    commits.push_back({.topic = "c", .partition = p, .offset = p == p1 ? 0 : hwm});
  }
  ASSERT_TRUE(a->offsets()->Commit("g1", commits, 0));
  EXPECT_EQ(a->OldestHeldSeq(), std::optional<uint64_t>(1));
  // Fully committed: released.
  commits[p1].offset = topic->partition(p1)->HighWatermark();
  ASSERT_TRUE(a->offsets()->Commit("g1", commits, 0));
  EXPECT_FALSE(a->OldestHeldSeq());
  // A second group that has consumed nothing of a partition holds it.
  ASSERT_TRUE(a->offsets()->Commit("g2", {{.topic = "c", .partition = p1, .offset = 0}}, 0));
  auto held = a->OldestHeldSeq();
  ASSERT_TRUE(held);
  EXPECT_EQ(*held, 1u);
  // New events above every commit are held from their own seq on.
  ASSERT_TRUE(a->offsets()->Commit(
      "g2", {{.topic = "c", .partition = p1, .offset = topic->partition(p1)->HighWatermark()}}, 0));
  for (int32_t p = 0; p < 4; ++p) {
    ASSERT_TRUE(a->offsets()->Commit(
        "g2", {{.topic = "c", .partition = p, .offset = topic->partition(p)->HighWatermark()}}, 0));
  }
  EXPECT_FALSE(a->OldestHeldSeq());
  ASSERT_TRUE(Deliver(*a, {Ev("c", "{}", "k1", 9), Ev("c", "{}", "k2", 10)}));
  // Batches carry their highest seq, so the bound is conservative: just above
  // the last seq already committed in k1's partition.
  uint64_t last_committed_in_p1 = 0;
  for (uint64_t seq = 1; seq <= 8; ++seq) {
    if (k::DefaultPartition("k" + std::to_string(seq), 4) == p1) last_committed_in_p1 = seq;
  }
  EXPECT_EQ(a->OldestHeldSeq(), std::optional<uint64_t>(last_committed_in_p1 + 1));
  a->Close();
}

TEST_F(AdapterTest, PortInUseIsAClearError) {
  auto first = Open("stored");
  AdapterOptions o;
  o.addr = first->BoundAddress();
  KafkaServerAdapter second(o);
  auto st = second.Open();
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message().find("address already in use"), std::string::npos)
      << st.error().message();
}

TEST_F(AdapterTest, SubscribersCountsClientConnectionsWhenAckIsStored) {
  KafkaServerAdapter closed(AdapterOptions{});
  EXPECT_EQ(closed.Subscribers(), std::optional<size_t>(0));  // not open: nobody
  auto a = Open("stored");
  EXPECT_EQ(a->Subscribers(), std::optional<size_t>(0));
  const std::string& bound = a->BoundAddress();
  const int port = std::stoi(bound.substr(bound.rfind(':') + 1));
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  // Read from this thread while the server's I/O thread accepts.
  EXPECT_TRUE(
      pgcdc::testing::Eventually([&] { return a->Subscribers() == std::optional<size_t>(1); }));
  EXPECT_EQ(a->Subscribers(), std::optional<size_t>(1));
  a->Close();
  EXPECT_EQ(a->Subscribers(), std::optional<size_t>(0));
  ::close(fd);
}

// A loopback client socket to "host:port" (-1 on failure).
int ConnectTo(const std::string& bound) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(std::stoi(bound.substr(bound.rfind(':') + 1))));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    ::close(fd);
    return -1;
  }
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

// True when the server closes `fd` within the 5 s receive timeout.
bool ClosedByServer(int fd) {
  char c;
  const ssize_t n = ::recv(fd, &c, 1, 0);
  return n == 0 || (n < 0 && errno == ECONNRESET);
}

TEST(KafkaServerLimits, ConnectionCapAndIdleTimeout) {
  AdapterOptions o;
  o.addr = "127.0.0.1:0";
  o.ack = "stored";  // Subscribers() counts connections
  o.max_connections = 2;
  o.idle_timeout = std::chrono::milliseconds(2500);
  KafkaServerAdapter a(o);
  ASSERT_TRUE(a.Open());
  const int first = ConnectTo(a.BoundAddress());
  const int second = ConnectTo(a.BoundAddress());
  ASSERT_GE(first, 0);
  ASSERT_GE(second, 0);
  ASSERT_TRUE(
      pgcdc::testing::Eventually([&] { return a.Subscribers() == std::optional<size_t>(2); }));
  // Over the cap: closed at once, the others stay.
  const int third = ConnectTo(a.BoundAddress());
  ASSERT_GE(third, 0);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(ClosedByServer(third));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(1500));
  // Silent connections are closed after the idle timeout.
  EXPECT_TRUE(ClosedByServer(first));
  EXPECT_TRUE(ClosedByServer(second));
  EXPECT_TRUE(
      pgcdc::testing::Eventually([&] { return a.Subscribers() == std::optional<size_t>(0); }));
  for (int fd : {first, second, third}) ::close(fd);
  a.Close();
}

}  // namespace

namespace {

TEST(KafkaServerConnector, DefaultsValidationAndOffsetsDefault) {
  const ConnectorInfo info = Connector();
  EXPECT_EQ(info.name, "kafkaserver");
  config::CoreSettings core;
  core.database_url = "postgres://localhost/src";
  auto load = [&](const std::vector<std::pair<std::string, std::string>>& flags) {
    return testing::BindForTest<AdapterOptions>(info, flags, core);
  };
  {
    auto [o, errors] = load({});
    EXPECT_TRUE(errors.empty()) << errors[0];
    const AdapterOptions defaults;
    EXPECT_EQ(o.addr, defaults.addr);
    EXPECT_EQ(o.partitions, 8);
    EXPECT_EQ(o.buffer_bytes, 64 << 20);
    EXPECT_EQ(o.session_timeout, std::chrono::seconds(30));
    EXPECT_EQ(o.value, "event");
    EXPECT_EQ(o.ack, "committed");
    EXPECT_EQ(o.retention_bytes, 1 << 30);
    EXPECT_EQ(o.rebalance_delay, std::chrono::seconds(3));
    EXPECT_EQ(o.checkpoint_db, "");  // database_url is filled in by make, not bound
  }
  for (const auto& p : info.params) {
    if (p.key == "kafkaserver.partition_count") {
      EXPECT_EQ(p.flag, "kafkaserver-partitions");
    } else if (p.key == "kafkaserver.buffer_bytes") {
      EXPECT_EQ(p.default_value, "67108864");
    } else if (p.key == "kafkaserver.checkpoint_db") {
      EXPECT_EQ(p.default_value, "");
    }
    EXPECT_NE(p.key, "database_url");  // a core parameter
  }
  {
    auto [o, errors] = load({{"kafkaserver.value", "payload"}, {"kafkaserver.ack", "stored"}});
    EXPECT_TRUE(errors.empty());
    EXPECT_EQ(o.value, "payload");
    EXPECT_EQ(o.ack, "stored");
  }
  EXPECT_FALSE(load({{"kafkaserver.value", "row"}}).second.empty());
  EXPECT_FALSE(load({{"kafkaserver.addr", "nope"}}).second.empty());
  EXPECT_FALSE(load({{"kafkaserver.sasl_user", "u"}}).second.empty());
  EXPECT_FALSE(load({{"kafkaserver.tls_key", "k.pem"}}).second.empty());
  // Users and ACLs.
  auto first_error = [&](const std::vector<std::pair<std::string, std::string>>& flags) {
    auto errors = load(flags).second;
    return errors.empty() ? std::string() : errors[0];
  };
  EXPECT_EQ(
      first_error({{"kafkaserver.users", "alice:p"}, {"kafkaserver.acls", "alice:read:pgcdc.*"}}),
      "");
  EXPECT_NE(first_error({{"kafkaserver.acls", "alice:read:t"}}).find("ACLs need SASL users"),
            std::string::npos);
  EXPECT_NE(first_error({{"kafkaserver.sasl_user", "alice"},
                         {"kafkaserver.sasl_password", "p"},
                         {"kafkaserver.acls", "bob:read:t"}})
                .find("user \"bob\" is not a SASL user"),
            std::string::npos);
  EXPECT_NE(first_error({{"kafkaserver.users", "alice"}}).find("expected name:password"),
            std::string::npos);
  EXPECT_NE(first_error({{"kafkaserver.users_file", "/nonexistent/users"}})
                .find("kafkaserver.users_file: cannot read /nonexistent/users"),
            std::string::npos);
  EXPECT_NE(first_error({{"kafkaserver.users", "alice:p"}, {"kafkaserver.acls", "alice:rw:t"}})
                .find("expected read, write, describe or all"),
            std::string::npos);
  // Group, transactional-id and cluster rules.
  EXPECT_EQ(first_error({{"kafkaserver.users", "alice:p"},
                         {"kafkaserver.acls", "alice:read:group:analytics"},
                         {"kafkaserver.acls", "alice:write:transactional_id:tx-*"},
                         {"kafkaserver.acls", "alice:describe:cluster"}}),
            "");
  EXPECT_NE(first_error({{"kafkaserver.users", "alice:p"},
                         {"kafkaserver.acls", "alice:write:group:analytics"}})
                .find("kafkaserver.acls[0] \"alice:write:group:analytics\": operation \"write\" "
                      "on a group: expected read, describe or all"),
            std::string::npos);
  EXPECT_NE(first_error({{"kafkaserver.users", "alice:p"},
                         {"kafkaserver.acls", "bob:read:group:analytics"}})
                .find("user \"bob\" is not a SASL user"),
            std::string::npos);
}

}  // namespace
}  // namespace pgcdc::adapter::kafkaserver
