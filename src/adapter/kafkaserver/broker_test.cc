// Broker request handling without sockets: frames in, framed replies out,
// with a manual executor for the Fetch long poll and group timers.
#include "adapter/kafkaserver/broker.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <map>
#include <optional>
#include <tuple>

#include "adapter/kafkaserver/offset_store.h"
#include "adapter/kafkaserver/test_batches.h"
#include "codec/kafka/messages.h"
#include "codec/kafka/record_batch.h"
#include "core/metrics.h"

namespace pgcdc::adapter::kafkaserver {
namespace {

namespace k = codec::kafka;
using namespace std::chrono_literals;

class FakeExecutor final : public Executor {
 public:
  void Post(std::function<void()> fn) override { posted_.push_back(std::move(fn)); }
  uint64_t StartTimer(std::chrono::milliseconds delay, std::function<void()> fn) override {
    const uint64_t id = next_++;
    timers_[id] = {now_ + delay, std::move(fn)};
    return id;
  }
  void CancelTimer(uint64_t id) override { timers_.erase(id); }
  GroupTime Now() const override { return now_; }

  void RunPosted() {
    while (!posted_.empty()) {
      auto fn = std::move(posted_.front());
      posted_.pop_front();
      fn();
    }
  }
  void Advance(std::chrono::milliseconds d) {
    now_ += d;
    for (bool fired = true; fired;) {
      fired = false;
      for (auto it = timers_.begin(); it != timers_.end(); ++it) {
        if (it->second.first <= now_) {
          auto fn = std::move(it->second.second);
          timers_.erase(it);
          fn();
          fired = true;
          break;
        }
      }
    }
  }
  size_t timers() const { return timers_.size(); }
  size_t posted() const { return posted_.size(); }

 private:
  GroupTime now_ = GroupTime{} + std::chrono::hours(1);
  std::deque<std::function<void()>> posted_;
  std::map<uint64_t, std::pair<GroupTime, std::function<void()>>> timers_;
  uint64_t next_ = 1;
};

// A request frame (header + body).
template <class F>
std::string Request(k::ApiKey key, int16_t version, F&& body, int32_t correlation = 7) {
  k::Writer w;
  k::RequestHeader h;
  h.api_key = static_cast<int16_t>(key);
  h.api_version = version;
  h.correlation_id = correlation;
  h.client_id = "broker-test";
  h.flexible = k::IsFlexible(h.api_key, version);
  k::EncodeRequestHeader(h, w);
  body(w);
  return w.Take();
}

// The response body of a framed reply (size and response header removed).
std::string_view ResponseBody(const std::string& reply, bool flexible_header) {
  EXPECT_GE(reply.size(), 8u);
  const size_t header = 4 + 4 + (flexible_header ? 1 : 0);
  return std::string_view(reply).substr(header);
}

int32_t CorrelationOf(const std::string& reply) { return LoadBe32(reply.data() + 4); }

std::string SaslHandshake(const std::string& mechanism);
std::string SaslAuthenticate(const std::string& user, const std::string& password);
std::string MetadataAll();

class BrokerTest : public ::testing::Test {
 protected:
  void SetUp() override { Make({}); }

  // A broker that requires SASL/PLAIN as user/password (and more users),
  // with these ACL rules.
  void MakeSaslPlain(const std::string& user, const std::string& password,
                     std::vector<SaslUser> more = {}, const std::vector<std::string>& acls = {}) {
    BrokerOptions o;
    o.sasl = true;
    o.users = std::move(more);
    o.users.push_back({user, password});
    auto acl = Acl::Parse(acls);
    ASSERT_TRUE(acl) << acl.error().message();
    o.acl = std::move(*acl);
    Make(o);
  }

  // A new connection authenticated as user/password.
  void LogIn(const std::string& user, const std::string& password) {
    conn_ = broker_->NewConnection("127.0.0.1:7000");
    Send(SaslHandshake("PLAIN"));
    Only();
    Send(SaslAuthenticate(user, password));
    Reply r = Only();
    ASSERT_FALSE(r.close) << r.close_reason;
  }

  void Make(BrokerOptions options) {
    broker_.reset();
    TopicStoreOptions to;
    to.default_partitions = 3;
    auto store = TopicStore::Open(to);
    ASSERT_TRUE(store);
    topics_ = std::move(*store);
    offsets_ = OffsetStore::InMemory();
    options.advertised_host = "broker.test";
    options.advertised_port = 9999;
    options.groups.initial_rebalance_delay = 0ms;
    broker_ = std::make_unique<Broker>(options, *topics_, offsets_.get(), ex_);
    conn_ = broker_->NewConnection("127.0.0.1:5555");
  }

  // Sends a frame; the replies collected so far (a delayed one arrives later).
  void Send(const std::string& frame) {
    broker_->Handle(conn_, frame, [this](Reply r) { replies_.push_back(std::move(r)); });
  }
  Reply Only() {
    EXPECT_EQ(replies_.size(), 1u);
    if (replies_.empty()) return {};
    Reply r = std::move(replies_.front());
    replies_.clear();
    return r;
  }

  PartitionLog* Log(const std::string& topic, int32_t p) {
    auto t = topics_->GetOrCreate(topic);
    EXPECT_TRUE(t);
    return (*t)->partition(p);
  }

  std::string FetchFrame(const std::string& topic, int64_t offset, int32_t max_wait_ms,
                         int16_t version = 12, int32_t min_bytes = 1, int8_t isolation = 0) {
    return Request(k::ApiKey::kFetch, version, [&](k::Writer& w) {
      k::FetchRequest f;
      f.isolation_level = isolation;
      f.max_wait_ms = max_wait_ms;
      f.min_bytes = min_bytes;
      f.max_bytes = 1 << 20;
      k::FetchRequest::Topic t;
      t.topic = topic;
      auto found = topics_->Find(topic);
      if (found) t.topic_id = found->id().bytes;
      t.partitions.push_back(
          {.partition = 0, .fetch_offset = offset, .partition_max_bytes = 1 << 20});
      f.topics.push_back(t);
      k::EncodeFetchRequest(f, version, w);
    });
  }

  // Decodes a Fetch reply; the records are views into the kept reply.
  k::FetchResponse::Partition FetchPartition(Reply r, int16_t version = 12) {
    kept_ = std::move(r);
    auto resp = k::DecodeFetchResponse(ResponseBody(kept_.bytes, true), version);
    EXPECT_TRUE(resp) << (resp ? "" : resp.error().message());
    if (!resp || resp->responses.empty() || resp->responses[0].partitions.empty()) return {};
    return resp->responses[0].partitions[0];
  }

  FakeExecutor ex_;
  std::unique_ptr<TopicStore> topics_;
  std::unique_ptr<OffsetStore> offsets_;
  std::unique_ptr<Broker> broker_;
  BrokerConnectionPtr conn_;
  std::vector<Reply> replies_;
  Reply kept_;
};

TEST_F(BrokerTest, ApiVersionsListsEverySupportedApi) {
  Send(Request(k::ApiKey::kApiVersions, 3, [](k::Writer& w) {
    k::EncodeApiVersionsRequest({"test", "1.0"}, 3, w);
  }));
  Reply r = Only();
  ASSERT_FALSE(r.close);
  EXPECT_EQ(CorrelationOf(r.bytes), 7);
  // ApiVersions always answers with response header v0.
  auto resp = k::DecodeApiVersionsResponse(ResponseBody(r.bytes, false), 3);
  ASSERT_TRUE(resp) << resp.error().message();
  EXPECT_EQ(resp->error_code, 0);
  EXPECT_EQ(resp->api_keys.size(), k::SupportedApis().size());
  bool fetch = false;
  for (const auto& a : resp->api_keys) {
    if (a.api_key == 1) {
      fetch = true;
      EXPECT_EQ(a.max_version, 13);
    }
  }
  EXPECT_TRUE(fetch);
}

TEST_F(BrokerTest, ApiVersionsUnsupportedVersionAnswersV0WithError35) {
  Send(Request(k::ApiKey::kApiVersions, 9, [](k::Writer& w) {
    k::EncodeApiVersionsRequest({"future", "9"}, 3, w);
  }));
  Reply r = Only();
  ASSERT_FALSE(r.close);
  auto resp = k::DecodeApiVersionsResponse(ResponseBody(r.bytes, false), 0);
  ASSERT_TRUE(resp) << resp.error().message();
  EXPECT_EQ(resp->error_code, 35);
  EXPECT_FALSE(resp->api_keys.empty());
}

TEST_F(BrokerTest, UnknownKeyUnsupportedVersionAndGarbageCloseTheConnection) {
  Send(Request(static_cast<k::ApiKey>(99), 0, [](k::Writer&) {}));
  Reply r = Only();
  EXPECT_TRUE(r.close);
  EXPECT_NE(r.close_reason.find("unknown API key 99"), std::string::npos) << r.close_reason;

  conn_ = broker_->NewConnection("127.0.0.1:5556");
  Send(Request(k::ApiKey::kFetch, 99, [](k::Writer&) {}));
  r = Only();
  EXPECT_TRUE(r.close);
  EXPECT_NE(r.close_reason.find("Fetch v99"), std::string::npos) << r.close_reason;

  conn_ = broker_->NewConnection("127.0.0.1:5557");
  Send(std::string("\x00\x03", 2));  // truncated header
  EXPECT_TRUE(Only().close);

  conn_ = broker_->NewConnection("127.0.0.1:5558");
  // A valid header with a truncated Metadata body.
  Send(Request(k::ApiKey::kMetadata, 4, [](k::Writer& w) { w.Int32(5); }));
  EXPECT_TRUE(Only().close);
}

TEST_F(BrokerTest, MetadataCreatesUnknownTopicsAndAdvertisesTheBroker) {
  for (int16_t version : std::initializer_list<int16_t>{0, 1, 4, 9, 12}) {
    Send(Request(k::ApiKey::kMetadata, version, [&](k::Writer& w) {
      k::MetadataRequest m;
      m.topics = std::vector<k::MetadataRequest::Topic>{{.name = "orders"}};
      m.allow_auto_topic_creation = false;  // SPEC: topics are created on demand anyway
      k::EncodeMetadataRequest(m, version, w);
    }));
    Reply r = Only();
    ASSERT_FALSE(r.close) << r.close_reason;
    auto resp = k::DecodeMetadataResponse(ResponseBody(r.bytes, version >= 9), version);
    ASSERT_TRUE(resp) << resp.error().message();
    ASSERT_EQ(resp->brokers.size(), 1u);
    EXPECT_EQ(resp->brokers[0].host, "broker.test");
    EXPECT_EQ(resp->brokers[0].port, 9999);
    ASSERT_EQ(resp->topics.size(), 1u);
    EXPECT_EQ(resp->topics[0].error_code, 0);
    EXPECT_EQ(resp->topics[0].partitions.size(), 3u);
    if (version >= 10) {
      EXPECT_EQ(resp->topics[0].topic_id, topics_->Find("orders")->id().bytes);
    }
  }
  // Invalid names are refused.
  Send(Request(k::ApiKey::kMetadata, 4, [&](k::Writer& w) {
    k::MetadataRequest m;
    m.topics = std::vector<k::MetadataRequest::Topic>{{.name = "bad name!"}};
    k::EncodeMetadataRequest(m, 4, w);
  }));
  Reply bad = Only();
  auto resp = k::DecodeMetadataResponse(ResponseBody(bad.bytes, false), 4);
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->topics[0].error_code, 17);
  EXPECT_EQ(topics_->size(), 1u);
}

TEST_F(BrokerTest, FetchLongPollIsAnsweredByAnAppend) {
  PartitionLog* log = Log("t", 0);
  Send(FetchFrame("t", 0, 5000));
  EXPECT_TRUE(replies_.empty());  // waiting for data
  EXPECT_EQ(log->Stats().waiters, 1u);
  ASSERT_TRUE(log->Append(testing::MakeBatch({"a", "b"}), 2, 1001));
  EXPECT_TRUE(replies_.empty());  // the waiter only posts to the broker thread
  ex_.RunPosted();
  Reply r = Only();
  auto p = FetchPartition(r);
  EXPECT_EQ(p.error_code, 0);
  EXPECT_EQ(p.high_watermark, 2);
  ASSERT_EQ(p.records.size(), 1u);
  auto batches = k::DecodeRecordBatches(p.records[0]);
  ASSERT_TRUE(batches) << batches.error().message();
  ASSERT_EQ((*batches)[0].records.size(), 2u);
  EXPECT_EQ((*batches)[0].records[1].value, "b");
  EXPECT_EQ(log->Stats().waiters, 0u);
  EXPECT_EQ(ex_.timers(), 0u);
}

// min_bytes above what is there: the fetch waits for *new* data (no busy
// loop re-reading what it already saw) and answers at max_wait with it all.
TEST_F(BrokerTest, FetchWithUnmetMinBytesWaitsForNewDataWithoutSpinning) {
  PartitionLog* log = Log("t", 0);
  ASSERT_TRUE(log->Append(testing::MakeBatch({"a"}), 1, 1000));
  Send(FetchFrame("t", 0, 5000, 12, 1 << 20));
  EXPECT_TRUE(replies_.empty());
  EXPECT_EQ(ex_.posted(), 0u);  // nothing re-scheduled itself
  EXPECT_EQ(log->Stats().waiters, 1u);
  ASSERT_TRUE(log->Append(testing::MakeBatch({"b"}), 1, 1001));
  ex_.RunPosted();  // re-reads once, still below min_bytes, waits again
  EXPECT_TRUE(replies_.empty());
  EXPECT_EQ(ex_.posted(), 0u);
  ex_.Advance(5000ms);
  auto p = FetchPartition(Only());
  EXPECT_EQ(p.error_code, 0);
  EXPECT_EQ(p.high_watermark, 2);
  size_t records = 0;
  for (const auto& piece : p.records) {
    auto batches = k::DecodeRecordBatches(piece);
    ASSERT_TRUE(batches) << batches.error().message();
    for (const auto& b : *batches) records += b.records.size();
  }
  EXPECT_EQ(records, 2u);
}

TEST_F(BrokerTest, FetchLongPollEndsEmptyAtMaxWait) {
  Log("t", 0);
  Send(FetchFrame("t", 0, 500));
  EXPECT_TRUE(replies_.empty());
  ex_.Advance(499ms);
  EXPECT_TRUE(replies_.empty());
  ex_.Advance(1ms);
  auto p = FetchPartition(Only());
  EXPECT_EQ(p.error_code, 0);
  EXPECT_EQ(p.high_watermark, 0);
  EXPECT_TRUE(p.records.empty());
}

TEST_F(BrokerTest, FetchWithDataAnswersAtOnceAndByTopicIdInV13) {
  PartitionLog* log = Log("t", 0);
  ASSERT_TRUE(log->Append(testing::MakeBatch({"x"}), 1, 1000));
  Send(FetchFrame("t", 0, 5000, 13));
  auto p = FetchPartition(Only(), 13);
  EXPECT_EQ(p.error_code, 0);
  EXPECT_EQ(p.records.size(), 1u);
}

TEST_F(BrokerTest, FetchOutOfRangeAndUnknownTopic) {
  Log("t", 0);
  Send(FetchFrame("t", 5, 5000));
  EXPECT_EQ(FetchPartition(Only()).error_code, 1);  // OFFSET_OUT_OF_RANGE, at once
  Send(FetchFrame("nope", 0, 5000));
  EXPECT_EQ(FetchPartition(Only()).error_code, 3);
}

TEST_F(BrokerTest, ClosingTheConnectionCancelsTheLongPoll) {
  PartitionLog* log = Log("t", 0);
  Send(FetchFrame("t", 0, 5000));
  broker_->CloseConnection(conn_);
  EXPECT_EQ(log->Stats().waiters, 0u);
  EXPECT_EQ(ex_.timers(), 0u);
  ASSERT_TRUE(log->Append(testing::MakeBatch({"a"}), 1, 1000));
  ex_.RunPosted();
  ex_.Advance(10s);
  EXPECT_TRUE(replies_.empty());
}

std::string ProduceFrame(const std::string& topic, int32_t partition, std::string records,
                         int16_t acks = -1, int16_t version = 9) {
  return Request(k::ApiKey::kProduce, version, [&](k::Writer& w) {
    k::ProduceRequest p;
    p.acks = acks;
    p.timeout_ms = 1000;
    p.topics.push_back({topic, {{partition, std::move(records)}}});
    k::EncodeProduceRequest(p, version, w);
  });
}

TEST_F(BrokerTest, ProduceAppendsValidatedBatchesAndRejectsBadCrc) {
  Send(ProduceFrame("p", 1, testing::MakeBatch({"a", "b", "c"})));
  auto resp = k::DecodeProduceResponse(ResponseBody(Only().bytes, true), 9);
  ASSERT_TRUE(resp) << resp.error().message();
  EXPECT_EQ(resp->topics[0].partitions[0].error_code, 0);
  EXPECT_EQ(resp->topics[0].partitions[0].base_offset, 0);
  Send(ProduceFrame("p", 1, testing::MakeBatch({"d"})));
  resp = k::DecodeProduceResponse(ResponseBody(Only().bytes, true), 9);
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->topics[0].partitions[0].base_offset, 3);
  EXPECT_EQ(Log("p", 1)->HighWatermark(), 4);

  std::string bad = testing::MakeBatch({"zzz"});
  bad[bad.size() - 3] ^= 0x55;  // inside the value: CRC no longer matches
  Send(ProduceFrame("p", 1, bad));
  resp = k::DecodeProduceResponse(ResponseBody(Only().bytes, true), 9);
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->topics[0].partitions[0].error_code, 2);  // CORRUPT_MESSAGE
  EXPECT_EQ(Log("p", 1)->HighWatermark(), 4);

  Send(ProduceFrame("p", 7, testing::MakeBatch({"a"})));  // 3 partitions only
  resp = k::DecodeProduceResponse(ResponseBody(Only().bytes, true), 9);
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->topics[0].partitions[0].error_code, 3);
}

// A transactional producer (librdkafka's order of requests): init, add the
// partition, produce, end. read_committed fetches stop at the last stable
// offset while a transaction is open and list aborted transactions.
TEST_F(BrokerTest, TransactionsCommitAbortAndReadCommittedFetch) {
  auto init = [&](const char* txn_id) {
    Send(Request(k::ApiKey::kInitProducerId, 4, [&](k::Writer& w) {
      k::InitProducerIdRequest r;
      if (txn_id != nullptr) r.transactional_id = txn_id;
      r.transaction_timeout_ms = 60000;
      k::EncodeInitProducerIdRequest(r, 4, w);
    }));
    auto resp = k::DecodeInitProducerIdResponse(ResponseBody(Only().bytes, true), 4);
    EXPECT_TRUE(resp);
    return resp ? *resp : k::InitProducerIdResponse{};
  };
  auto add = [&](const k::InitProducerIdResponse& pid) {
    Send(Request(k::ApiKey::kAddPartitionsToTxn, 3, [&](k::Writer& w) {
      k::AddPartitionsToTxnRequest r{"tx", pid.producer_id, pid.producer_epoch, {{"x", {0}}}};
      k::EncodeAddPartitionsToTxnRequest(r, 3, w);
    }));
    auto resp = k::DecodeAddPartitionsToTxnResponse(ResponseBody(Only().bytes, true), 3);
    return resp ? resp->results[0].results[0].error_code : int16_t{-1};
  };
  auto end = [&](const k::InitProducerIdResponse& pid, bool commit) {
    Send(Request(k::ApiKey::kEndTxn, 3, [&](k::Writer& w) {
      k::EndTxnRequest r{"tx", pid.producer_id, pid.producer_epoch, commit};
      k::EncodeEndTxnRequest(r, 3, w);
    }));
    auto resp = k::DecodeEndTxnResponse(ResponseBody(Only().bytes, true), 3);
    return resp ? resp->error_code : int16_t{-1};
  };
  auto batch = [&](const k::InitProducerIdResponse& pid, std::vector<std::string> values) {
    std::vector<k::Record> records;
    for (auto& v : values) records.push_back({.timestamp_ms = 1000, .value = v});
    k::BatchEncodeOptions o;
    o.producer_id = pid.producer_id;
    o.producer_epoch = pid.producer_epoch;
    o.base_sequence = 0;
    o.transactional = true;
    std::string out;
    EXPECT_TRUE(k::EncodeRecordBatch(0, records, o, out));
    return out;
  };
  auto produce = [&](std::string records) {
    Send(ProduceFrame("x", 0, std::move(records)));
    auto resp = k::DecodeProduceResponse(ResponseBody(Only().bytes, true), 9);
    return resp ? resp->topics[0].partitions[0].error_code : int16_t{-1};
  };

  const auto idem = init(nullptr);
  EXPECT_EQ(idem.error_code, 0);
  EXPECT_GE(idem.producer_id, 0);
  const auto pid = init("tx");
  ASSERT_EQ(pid.error_code, 0);
  EXPECT_NE(pid.producer_id, idem.producer_id);
  EXPECT_EQ(produce(batch(pid, {"early"})), 48) << "partition not in a transaction yet";
  ASSERT_EQ(add(pid), 0);
  ASSERT_EQ(produce(batch(pid, {"a", "b"})), 0);  // offsets 0, 1
  // Open transaction: read_committed sees nothing yet, read_uncommitted all.
  Send(FetchFrame("x", 0, 0, 12, 1, 1));
  auto open = FetchPartition(Only());
  EXPECT_EQ(open.last_stable_offset, 0);
  EXPECT_EQ(open.high_watermark, 2);
  EXPECT_TRUE(open.records.empty());
  Send(FetchFrame("x", 0, 0, 12, 1, 0));
  EXPECT_EQ(FetchPartition(Only()).records.size(), 1u);
  ASSERT_EQ(end(pid, false), 0);  // abort: marker at offset 2

  ASSERT_EQ(add(pid), 0);
  ASSERT_EQ(produce(batch(pid, {"c"})), 0);  // offset 3
  ASSERT_EQ(end(pid, true), 0);              // commit: marker at offset 4
  EXPECT_EQ(Log("x", 0)->HighWatermark(), 5);

  Send(FetchFrame("x", 0, 0, 12, 1, 1));
  auto done = FetchPartition(Only());
  EXPECT_EQ(done.last_stable_offset, 5);
  ASSERT_TRUE(done.aborted_transactions);
  ASSERT_EQ(done.aborted_transactions->size(), 1u);
  EXPECT_EQ((*done.aborted_transactions)[0].producer_id, pid.producer_id);
  EXPECT_EQ((*done.aborted_transactions)[0].first_offset, 0);
  // Batches: data, abort marker, data, commit marker.
  std::vector<bool> control;
  for (const auto& piece : done.records) {
    auto batches = k::DecodeRecordBatches(piece);
    ASSERT_TRUE(batches) << batches.error().message();
    for (const auto& b : *batches) {
      EXPECT_TRUE(b.transactional());
      control.push_back(b.control());
    }
  }
  EXPECT_EQ(control, (std::vector<bool>{false, true, false, true}));

  // A new incarnation fences the old epoch.
  const auto again = init("tx");
  EXPECT_EQ(again.producer_id, pid.producer_id);
  EXPECT_EQ(again.producer_epoch, pid.producer_epoch + 1);
  EXPECT_EQ(add(pid), 47);
  EXPECT_EQ(end(pid, true), 47);
}

TEST_F(BrokerTest, ProduceWithAcksZeroSendsNoResponse) {
  Send(ProduceFrame("p", 0, testing::MakeBatch({"a"}), 0, 7));
  Reply r = Only();
  EXPECT_FALSE(r.close);
  EXPECT_TRUE(r.bytes.empty());
  EXPECT_EQ(Log("p", 0)->HighWatermark(), 1);
}

TEST_F(BrokerTest, ListOffsetsEarliestAndLatest) {
  PartitionLog* log = Log("l", 2);
  ASSERT_TRUE(log->Append(testing::MakeBatch({"a", "b"}), 2, 1001));
  for (int64_t ts : {k::kEarliestTimestamp, k::kLatestTimestamp}) {
    Send(Request(k::ApiKey::kListOffsets, 7, [&](k::Writer& w) {
      k::ListOffsetsRequest req;
      req.topics.push_back({"l", {{.partition_index = 2, .timestamp = ts}}});
      k::EncodeListOffsetsRequest(req, 7, w);
    }));
    // No response decoder: the body is throttle, topics[name, partitions[index,
    // error, timestamp, offset, epoch, tags], tags], tags (flexible).
    Reply r = Only();
    k::Reader rd(ResponseBody(r.bytes, true));
    rd.Int32();
    ASSERT_EQ(rd.CompactArrayLength(), 1);
    EXPECT_EQ(rd.CompactString(), "l");
    ASSERT_EQ(rd.CompactArrayLength(), 1);
    EXPECT_EQ(rd.Int32(), 2);
    EXPECT_EQ(rd.Int16(), 0);
    rd.Int64();
    EXPECT_EQ(rd.Int64(), ts == k::kEarliestTimestamp ? 0 : 2);
    EXPECT_TRUE(rd.ok()) << rd.error();
  }
}

// OffsetCommit v2 / OffsetFetch v1 bodies written by hand (no encoders needed
// elsewhere).
std::string CommitFrame(const std::string& group, const std::string& topic, int32_t partition,
                        int64_t offset) {
  return Request(k::ApiKey::kOffsetCommit, 2, [&](k::Writer& w) {
    w.String(group);
    w.Int32(-1);  // generation
    w.String("");
    w.Int64(-1);  // retention
    w.ArrayLength(1);
    w.String(topic);
    w.ArrayLength(1);
    w.Int32(partition);
    w.Int64(offset);
    w.NullableString(std::string_view("meta"));
  });
}

TEST_F(BrokerTest, OffsetCommitThenFetchIncludingOffsetZero) {
  bool notified = false;
  broker_->OnCommit([&] { notified = true; });
  Send(CommitFrame("g", "t", 0, 0));
  Reply r = Only();
  k::Reader rd(ResponseBody(r.bytes, false));
  ASSERT_EQ(rd.ArrayLength(), 1);
  rd.String();
  ASSERT_EQ(rd.ArrayLength(), 1);
  rd.Int32();
  EXPECT_EQ(rd.Int16(), 0);
  EXPECT_TRUE(notified);
  auto c = offsets_->Fetch("g", "t", 0);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->offset, 0);

  // OffsetFetch v1: committed 0 vs none (-1).
  Send(Request(k::ApiKey::kOffsetFetch, 1, [&](k::Writer& w) {
    w.String("g");
    w.ArrayLength(1);
    w.String("t");
    w.ArrayLength(2);
    w.Int32(0);
    w.Int32(1);
  }));
  r = Only();
  k::Reader f(ResponseBody(r.bytes, false));
  ASSERT_EQ(f.ArrayLength(), 1);
  EXPECT_EQ(f.String(), "t");
  ASSERT_EQ(f.ArrayLength(), 2);
  EXPECT_EQ(f.Int32(), 0);
  EXPECT_EQ(f.Int64(), 0);
  EXPECT_EQ(f.NullableString(), std::optional<std::string_view>("meta"));
  EXPECT_EQ(f.Int16(), 0);
  EXPECT_EQ(f.Int32(), 1);
  EXPECT_EQ(f.Int64(), -1);
  f.NullableString();
  EXPECT_EQ(f.Int16(), 0);
  EXPECT_TRUE(f.ok()) << f.error();
}

std::string SaslHandshake(const std::string& mechanism) {
  return Request(k::ApiKey::kSaslHandshake, 1, [&](k::Writer& w) { w.String(mechanism); });
}
std::string SaslAuthenticate(const std::string& user, const std::string& password) {
  return Request(k::ApiKey::kSaslAuthenticate, 1, [&](k::Writer& w) {
    w.Bytes(std::string("\0", 1) + user + std::string("\0", 1) + password);
  });
}
std::string MetadataAll() {
  return Request(k::ApiKey::kMetadata, 4, [](k::Writer& w) {
    k::MetadataRequest m;
    k::EncodeMetadataRequest(m, 4, w);
  });
}

TEST_F(BrokerTest, SaslPlainGatesEveryOtherRequest) {
  MakeSaslPlain("alice", "s3cret");
  // Before authentication only ApiVersions and SASL requests are allowed.
  Send(MetadataAll());
  Reply r = Only();
  EXPECT_TRUE(r.close);
  EXPECT_NE(r.close_reason.find("before SASL authentication"), std::string::npos);

  conn_ = broker_->NewConnection("127.0.0.1:6000");
  Send(SaslHandshake("SCRAM-SHA-256"));
  r = Only();
  k::Reader h(ResponseBody(r.bytes, false));
  EXPECT_EQ(h.Int16(), 33);  // UNSUPPORTED_SASL_MECHANISM
  Send(SaslHandshake("PLAIN"));
  r = Only();
  k::Reader h2(ResponseBody(r.bytes, false));
  EXPECT_EQ(h2.Int16(), 0);
  Send(SaslAuthenticate("alice", "wrong"));
  r = Only();
  EXPECT_TRUE(r.close);  // after the error response
  k::Reader a(ResponseBody(r.bytes, false));
  EXPECT_EQ(a.Int16(), 58);  // SASL_AUTHENTICATION_FAILED

  conn_ = broker_->NewConnection("127.0.0.1:6001");
  Send(SaslHandshake("PLAIN"));
  Only();
  Send(SaslAuthenticate("alice", "s3cret"));
  r = Only();
  EXPECT_FALSE(r.close);
  k::Reader ok(ResponseBody(r.bytes, false));
  EXPECT_EQ(ok.Int16(), 0);
  Send(MetadataAll());
  EXPECT_FALSE(Only().close);
}

// kafkaserver.acls: alice reads pgcdc.* only, bob writes "inbox" only.
TEST_F(BrokerTest, AclsLimitEachUserToItsTopics) {
  MakeSaslPlain("alice", "a", {{"bob", "b"}}, {"alice:read:pgcdc.*", "bob:write:inbox"});
  ASSERT_TRUE(topics_->GetOrCreate("pgcdc.orders"));
  ASSERT_TRUE(topics_->GetOrCreate("secret"));
  ASSERT_TRUE(Log("pgcdc.orders", 0)->Append(testing::MakeBatch({"o1"}), 1, 1000));
  ASSERT_TRUE(Log("secret", 0)->Append(testing::MakeBatch({"s1"}), 1, 1000));
  auto metadata_names = [&] {
    Send(MetadataAll());
    auto resp = k::DecodeMetadataResponse(ResponseBody(Only().bytes, false), 4);
    EXPECT_TRUE(resp);
    std::vector<std::string> names;
    if (resp) {
      for (const auto& t : resp->topics) names.push_back(t.name.value_or(""));
    }
    std::sort(names.begin(), names.end());
    return names;
  };
  LogIn("alice", "a");
  EXPECT_EQ(metadata_names(), std::vector<std::string>{"pgcdc.orders"});
  Send(FetchFrame("pgcdc.orders", 0, 0));
  auto allowed = FetchPartition(Only());
  EXPECT_EQ(allowed.error_code, 0);
  EXPECT_FALSE(allowed.records.empty());
  Send(FetchFrame("secret", 0, 0));
  auto denied = FetchPartition(Only());
  EXPECT_EQ(denied.error_code, 29);  // TOPIC_AUTHORIZATION_FAILED
  EXPECT_TRUE(denied.records.empty());
  Send(ProduceFrame("pgcdc.orders", 0, testing::MakeBatch({"x"})));
  auto produced = k::DecodeProduceResponse(ResponseBody(Only().bytes, true), 9);
  ASSERT_TRUE(produced);
  EXPECT_EQ(produced->topics[0].partitions[0].error_code, 29);
  EXPECT_EQ(Log("pgcdc.orders", 0)->HighWatermark(), 1);
  // Asking by name for a topic it may not see neither answers nor creates it.
  Send(Request(k::ApiKey::kMetadata, 4, [&](k::Writer& w) {
    k::MetadataRequest m;
    m.topics = std::vector<k::MetadataRequest::Topic>{{.name = "brand.new"}};
    k::EncodeMetadataRequest(m, 4, w);
  }));
  auto named = k::DecodeMetadataResponse(ResponseBody(Only().bytes, false), 4);
  ASSERT_TRUE(named);
  EXPECT_EQ(named->topics[0].error_code, 29);
  EXPECT_EQ(topics_->Find("brand.new"), nullptr);

  LogIn("bob", "b");
  EXPECT_TRUE(metadata_names().empty());  // "inbox" does not exist yet
  Send(ProduceFrame("inbox", 0, testing::MakeBatch({"hello"})));
  produced = k::DecodeProduceResponse(ResponseBody(Only().bytes, true), 9);
  ASSERT_TRUE(produced);
  EXPECT_EQ(produced->topics[0].partitions[0].error_code, 0);
  EXPECT_EQ(metadata_names(), std::vector<std::string>{"inbox"});
  Send(FetchFrame("inbox", 0, 0));
  EXPECT_EQ(FetchPartition(Only()).error_code, 29);  // write, not read
}

// Group, transactional-id and cluster rules: each refusal carries its own
// error code (GROUP_/TRANSACTIONAL_ID_/CLUSTER_AUTHORIZATION_FAILED).
TEST_F(BrokerTest, GroupTransactionalIdAndClusterAclsAnswerTheirOwnErrors) {
  MakeSaslPlain(
      "alice", "a", {{"bob", "b"}, {"ops", "o"}, {"admin", "d"}, {"ingest", "i"}},
      {"*:read:pgcdc.*", "alice:read:group:analytics", "ops:read:group:*", "admin:describe:cluster",
       "ingest:write:inbound.*", "ingest:write:transactional_id:ingest-*"});
  ASSERT_TRUE(topics_->GetOrCreate("pgcdc.orders"));
  auto find_coordinator = [&](const std::string& key, int8_t type) {
    Send(Request(k::ApiKey::kFindCoordinator, 1, [&](k::Writer& w) {
      w.String(key);
      w.Int8(type);
    }));
    const Reply reply = Only();
    k::Reader r(ResponseBody(reply.bytes, false));
    r.Int32();  // throttle
    return r.Int16();
  };
  auto join = [&](const std::string& group) {
    Send(Request(k::ApiKey::kJoinGroup, 0, [&](k::Writer& w) {
      w.String(group);
      w.Int32(10000);
      w.String("");  // member id
      w.String("consumer");
      w.ArrayLength(1);
      w.String("range");
      w.Bytes("meta");
    }));
    ex_.Advance(1ms);
    broker_->Tick();
    const Reply reply = Only();
    k::Reader r(ResponseBody(reply.bytes, false));
    return r.Int16();
  };
  auto heartbeat = [&](const std::string& group) {
    Send(Request(k::ApiKey::kHeartbeat, 0, [&](k::Writer& w) {
      w.String(group);
      w.Int32(1);
      w.String("m");
    }));
    const Reply reply = Only();
    k::Reader r(ResponseBody(reply.bytes, false));
    return r.Int16();
  };
  auto sync = [&](const std::string& group) {
    Send(Request(k::ApiKey::kSyncGroup, 0, [&](k::Writer& w) {
      w.String(group);
      w.Int32(1);
      w.String("m");
      w.ArrayLength(0);
    }));
    const Reply reply = Only();
    k::Reader r(ResponseBody(reply.bytes, false));
    return r.Int16();
  };
  auto leave = [&](const std::string& group) {
    Send(Request(k::ApiKey::kLeaveGroup, 0, [&](k::Writer& w) {
      w.String(group);
      w.String("m");
    }));
    const Reply reply = Only();
    k::Reader r(ResponseBody(reply.bytes, false));
    return r.Int16();
  };
  auto commit = [&](const std::string& group) {
    Send(CommitFrame(group, "pgcdc.orders", 0, 5));
    const Reply reply = Only();
    k::Reader r(ResponseBody(reply.bytes, false));
    r.ArrayLength();
    r.String();
    r.ArrayLength();
    r.Int32();
    return r.Int16();
  };
  // OffsetFetch v3 (group-level error) and v1 (per-partition error).
  auto offset_fetch = [&](const std::string& group, int16_t version) {
    Send(Request(k::ApiKey::kOffsetFetch, version, [&](k::Writer& w) {
      w.String(group);
      w.ArrayLength(1);
      w.String("pgcdc.orders");
      w.ArrayLength(1);
      w.Int32(0);
    }));
    const Reply reply = Only();
    k::Reader r(ResponseBody(reply.bytes, false));
    if (version >= 3) r.Int32();
    int64_t offset = -1;
    int16_t partition_error = -1;
    if (r.ArrayLength() == 1) {  // v2+: no topics with a group-level error
      r.String();
      EXPECT_EQ(r.ArrayLength(), 1);
      r.Int32();
      offset = r.Int64();
      r.NullableString();
      partition_error = r.Int16();
    }
    const int16_t group_error = version >= 2 ? r.Int16() : partition_error;
    EXPECT_TRUE(r.ok()) << r.error();
    return std::make_tuple(offset, partition_error, group_error);
  };
  auto describe = [&](const std::string& group) {
    Send(Request(k::ApiKey::kDescribeGroups, 0, [&](k::Writer& w) {
      w.ArrayLength(1);
      w.String(group);
    }));
    const Reply reply = Only();
    k::Reader r(ResponseBody(reply.bytes, false));
    EXPECT_EQ(r.ArrayLength(), 1);
    return r.Int16();
  };
  auto list = [&] {
    Send(Request(k::ApiKey::kListGroups, 0, [](k::Writer&) {}));
    const Reply reply = Only();
    k::Reader r(ResponseBody(reply.bytes, false));
    EXPECT_EQ(r.Int16(), 0);
    std::vector<std::string> names;
    for (int32_t n = r.ArrayLength(); n > 0; --n) {
      names.emplace_back(r.String());
      r.String();
    }
    std::sort(names.begin(), names.end());
    return names;
  };
  auto init = [&](std::optional<std::string> txn_id) {
    Send(Request(k::ApiKey::kInitProducerId, 4, [&](k::Writer& w) {
      k::InitProducerIdRequest r;
      r.transactional_id = txn_id;
      r.transaction_timeout_ms = 60000;
      k::EncodeInitProducerIdRequest(r, 4, w);
    }));
    auto resp = k::DecodeInitProducerIdResponse(ResponseBody(Only().bytes, true), 4);
    EXPECT_TRUE(resp);
    return resp ? *resp : k::InitProducerIdResponse{};
  };

  // alice: her group works end to end; any other group is refused.
  LogIn("alice", "a");
  EXPECT_EQ(find_coordinator("analytics", 0), 0);
  EXPECT_EQ(find_coordinator("other", 0), 30);
  EXPECT_EQ(commit("analytics"), 0);
  EXPECT_EQ(commit("other"), 30);
  EXPECT_EQ(join("analytics"), 0);
  EXPECT_EQ(join("other"), 30);
  EXPECT_EQ(heartbeat("other"), 30);
  EXPECT_EQ(sync("other"), 30);
  EXPECT_EQ(leave("other"), 30);
  EXPECT_EQ(offset_fetch("analytics", 3), std::make_tuple(int64_t{5}, int16_t{0}, int16_t{0}));
  EXPECT_EQ(std::get<2>(offset_fetch("other", 3)), 30);
  EXPECT_EQ(std::get<1>(offset_fetch("other", 1)), 30);
  EXPECT_EQ(describe("analytics"), 0);
  EXPECT_EQ(describe("other"), 30);
  EXPECT_FALSE(offsets_->Fetch("other", "pgcdc.orders", 0));

  // ops may use every group; it joins a second one.
  LogIn("ops", "o");
  EXPECT_EQ(join("team.x"), 0);
  EXPECT_EQ(list(), (std::vector<std::string>{"analytics", "team.x"}));

  // ListGroups shows each user the groups it may describe; cluster describe
  // shows all of them.
  LogIn("alice", "a");
  EXPECT_EQ(list(), std::vector<std::string>{"analytics"});
  LogIn("bob", "b");
  EXPECT_TRUE(list().empty());
  EXPECT_EQ(join("analytics"), 30);  // bob reads the topic, not the group
  LogIn("admin", "d");
  EXPECT_EQ(list(), (std::vector<std::string>{"analytics", "team.x"}));
  EXPECT_EQ(describe("team.x"), 30);  // cluster describe lists, does not describe

  // Transactional ids: ingest-* only.
  LogIn("ingest", "i");
  EXPECT_EQ(find_coordinator("ingest-1", 1), 0);
  EXPECT_EQ(find_coordinator("tx", 1), 53);
  EXPECT_EQ(init(std::string("tx")).error_code, 53);
  EXPECT_EQ(init(std::string("tx")).producer_id, -1);
  const auto pid = init(std::string("ingest-1"));
  EXPECT_EQ(pid.error_code, 0);
  Send(Request(k::ApiKey::kAddPartitionsToTxn, 3, [&](k::Writer& w) {
    k::AddPartitionsToTxnRequest r{"tx", pid.producer_id, pid.producer_epoch, {{"inbound.a", {0}}}};
    k::EncodeAddPartitionsToTxnRequest(r, 3, w);
  }));
  auto added = k::DecodeAddPartitionsToTxnResponse(ResponseBody(Only().bytes, true), 3);
  ASSERT_TRUE(added);
  EXPECT_EQ(added->results[0].results[0].error_code, 53);
  Send(Request(k::ApiKey::kEndTxn, 3, [&](k::Writer& w) {
    k::EndTxnRequest r{"tx", pid.producer_id, pid.producer_epoch, true};
    k::EncodeEndTxnRequest(r, 3, w);
  }));
  auto ended = k::DecodeEndTxnResponse(ResponseBody(Only().bytes, true), 3);
  ASSERT_TRUE(ended);
  EXPECT_EQ(ended->error_code, 53);
  // Idempotent producers: write on any topic is enough (KIP-679)...
  EXPECT_EQ(init(std::nullopt).error_code, 0);
  // ...a user without it, or idempotent_write on the cluster, is refused.
  LogIn("bob", "b");
  EXPECT_EQ(init(std::nullopt).error_code, 31);
  EXPECT_EQ(init(std::string("ingest-1")).error_code, 53);

  // Every refusal is counted by API.
  const std::string text = metrics::Default().Expose();
  for (const char* api : {"FindCoordinator", "JoinGroup", "Heartbeat", "SyncGroup", "LeaveGroup",
                          "OffsetCommit", "OffsetFetch", "DescribeGroups", "ListGroups",
                          "InitProducerId", "AddPartitionsToTxn", "EndTxn"}) {
    EXPECT_NE(
        text.find("pgcdc_kafkaserver_authorization_denied_total{api=\"" + std::string(api) + "\"}"),
        std::string::npos)
        << api;
  }
}

// Topic rules alone keep consumer groups, transactional ids and idempotent
// producers open (configurations from before group rules existed).
TEST_F(BrokerTest, TopicRulesAloneLeaveGroupsOpen) {
  MakeSaslPlain("alice", "a", {}, {"alice:read:pgcdc.*"});
  LogIn("alice", "a");
  Send(Request(k::ApiKey::kFindCoordinator, 1, [&](k::Writer& w) {
    w.String("any-group");
    w.Int8(0);
  }));
  const Reply reply = Only();
  k::Reader r(ResponseBody(reply.bytes, false));
  r.Int32();
  EXPECT_EQ(r.Int16(), 0);
  Send(CommitFrame("any-group", "pgcdc.orders", 0, 3));
  Only();
  EXPECT_TRUE(offsets_->Fetch("any-group", "pgcdc.orders", 0));
  Send(Request(k::ApiKey::kInitProducerId, 4, [&](k::Writer& w) {
    k::InitProducerIdRequest req;
    req.transactional_id = "any-txn";
    req.transaction_timeout_ms = 60000;
    k::EncodeInitProducerIdRequest(req, 4, w);
  }));
  auto init = k::DecodeInitProducerIdResponse(ResponseBody(Only().bytes, true), 4);
  ASSERT_TRUE(init);
  EXPECT_EQ(init->error_code, 0);
}

TEST_F(BrokerTest, SaslHandshakeV0TakesARawToken) {
  MakeSaslPlain("u", "p");
  Send(Request(k::ApiKey::kSaslHandshake, 0, [&](k::Writer& w) { w.String("PLAIN"); }));
  Only();
  Send(std::string("\0u\0p", 4));  // bare token, no Kafka header
  Reply r = Only();
  EXPECT_FALSE(r.close);
  EXPECT_EQ(r.bytes, std::string(4, '\0'));  // empty server token
  Send(MetadataAll());
  EXPECT_FALSE(Only().close);
}

TEST_F(BrokerTest, JoinSyncHeartbeatOneMember) {
  // JoinGroup v5 (no MEMBER_ID_REQUIRED before v4... v5 requires it).
  auto join = [&](const std::string& member) {
    return Request(k::ApiKey::kJoinGroup, 5, [&](k::Writer& w) {
      w.String("grp");
      w.Int32(10000);  // session
      w.Int32(10000);  // rebalance
      w.String(member);
      w.NullableString(std::nullopt);  // instance id
      w.String("consumer");
      w.ArrayLength(1);
      w.String("range");
      w.Bytes("meta");
    });
  };
  Send(join(""));
  Reply r = Only();
  k::Reader j(ResponseBody(r.bytes, false));
  j.Int32();
  EXPECT_EQ(j.Int16(), 79);  // MEMBER_ID_REQUIRED
  j.Int32();
  j.String();
  j.String();
  const std::string member(j.String());
  ASSERT_FALSE(member.empty());
  Send(join(member));
  ex_.Advance(1ms);  // initial delay 0: completes on the next tick of the clock
  broker_->Tick();
  r = Only();
  k::Reader j2(ResponseBody(r.bytes, false));
  j2.Int32();
  EXPECT_EQ(j2.Int16(), 0);
  const int32_t generation = j2.Int32();
  EXPECT_EQ(j2.String(), "range");
  EXPECT_EQ(j2.String(), member);  // leader

  Send(Request(k::ApiKey::kSyncGroup, 3, [&](k::Writer& w) {
    w.String("grp");
    w.Int32(generation);
    w.String(member);
    w.NullableString(std::nullopt);
    w.ArrayLength(1);
    w.String(member);
    w.Bytes("assignment");
  }));
  r = Only();
  k::Reader s(ResponseBody(r.bytes, false));
  s.Int32();
  EXPECT_EQ(s.Int16(), 0);
  EXPECT_EQ(s.Bytes(), "assignment");

  Send(Request(k::ApiKey::kHeartbeat, 3, [&](k::Writer& w) {
    w.String("grp");
    w.Int32(generation + 5);
    w.String(member);
    w.NullableString(std::nullopt);
  }));
  r = Only();
  k::Reader hb(ResponseBody(r.bytes, false));
  hb.Int32();
  EXPECT_EQ(hb.Int16(), 22);  // ILLEGAL_GENERATION
}

}  // namespace
}  // namespace pgcdc::adapter::kafkaserver
