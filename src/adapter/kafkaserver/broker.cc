#include "adapter/kafkaserver/broker.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include "adapter/kafkaserver/batch_format.h"
#include "adapter/kafkaserver/offset_store.h"
#include "codec/kafka/frame.h"
#include "codec/kafka/messages.h"
#include "codec/kafka/record_batch.h"
#include "core/bytes.h"
#include "core/log.h"
#include "core/metrics.h"

namespace pgcdc::adapter::kafkaserver {

namespace k = codec::kafka;
using k::ApiKey;
using k::ErrorCode;
using std::chrono::milliseconds;

namespace {

constexpr size_t kMaxApiKey = 64;

k::Uuid ToWireUuid(const Uuid& id) { return id.bytes; }
Uuid FromWireUuid(const k::Uuid& id) {
  Uuid u;
  u.bytes = id;
  return u;
}

using k::Code;

// Records in a stored batch (recordsCount field of the v2 header).
int64_t BatchBaseOffset(const std::string& batch) {
  if (batch.size() < kBatchHeaderSize) return 0;
  return static_cast<int64_t>((static_cast<uint64_t>(LoadBe32(batch.data())) << 32) |
                              LoadBe32(batch.data() + 4));
}

int64_t BatchRecords(const std::string& batch) {
  if (batch.size() < kBatchHeaderSize) return 0;
  return LoadBe32(batch.data() + 57);
}

std::string HostOf(std::string_view peer) {
  if (!peer.empty() && peer.front() == '[') {
    const size_t close = peer.find(']');
    if (close != std::string_view::npos) return std::string(peer.substr(1, close - 1));
  }
  const size_t colon = peer.rfind(':');
  return std::string(colon == std::string_view::npos ? peer : peer.substr(0, colon));
}

}  // namespace

// ---------------------------------------------------------------------------
// Metrics.

struct Broker::Metrics {
  metrics::Registry& reg = metrics::Default();
  metrics::Family<metrics::Counter>& requests =
      reg.AddCounter("pgcdc_kafkaserver_requests_total", "Kafka requests handled, by API", {"api"});
  metrics::Family<metrics::Counter>& errors = reg.AddCounter(
      "pgcdc_kafkaserver_errors_total",
      "Error codes returned in Kafka responses (per partition or member), by API and error",
      {"api", "error"});
  metrics::Family<metrics::Counter>& protocol_errors = reg.AddCounter(
      "pgcdc_kafkaserver_protocol_errors_total",
      "Connections closed by the broker for a protocol violation, by reason", {"reason"});
  metrics::Counter& records_produced = metrics::DefaultCounter(
      "pgcdc_kafkaserver_records_produced_total", "Records appended by Kafka clients (Produce)");
  metrics::Counter& records_fetched =
      metrics::DefaultCounter("pgcdc_kafkaserver_records_fetched_total",
                              "Records returned to Kafka clients by Fetch (whole batches)");
  metrics::Counter& bytes_fetched = metrics::DefaultCounter("pgcdc_kafkaserver_fetch_bytes_total",
                                                            "Record batch bytes returned by Fetch");
  metrics::Counter& fetch_waits =
      metrics::DefaultCounter("pgcdc_kafkaserver_fetch_waits_total",
                              "Fetch requests that long-polled because no data was available");
  metrics::Gauge& pending_fetches = metrics::DefaultGauge("pgcdc_kafkaserver_pending_fetches",
                                                          "Fetch requests currently long-polling");
  metrics::Gauge& groups = metrics::DefaultGauge("pgcdc_kafkaserver_consumer_groups",
                                                 "Consumer groups known to the broker");
  metrics::Gauge& group_members = metrics::DefaultGauge("pgcdc_kafkaserver_consumer_group_members",
                                                        "Members of all consumer groups");
  metrics::Counter& fetch_requests = metrics::DefaultCounter(
      "pgcdc_kafkaserver_fetch_requests_total", "Fetch requests received from Kafka clients");
  metrics::Counter& offset_commits = metrics::DefaultCounter(
      "pgcdc_kafkaserver_offset_commits_total", "OffsetCommit requests received from consumers");
  metrics::Family<metrics::Counter>& denied = reg.AddCounter(
      "pgcdc_kafkaserver_authorization_denied_total",
      "Resources (topics, groups, transactional ids, the cluster) a SASL user was refused by "
      "kafkaserver.acls (an *_AUTHORIZATION_FAILED error, or left out of a Metadata or ListGroups "
      "listing), by API",
      {"api"});
  std::array<metrics::Counter*, kMaxApiKey> by_api{};

  metrics::Counter& Request(int16_t key) {
    const size_t i = key >= 0 && static_cast<size_t>(key) < kMaxApiKey ? key : kMaxApiKey - 1;
    if (by_api[i] == nullptr) by_api[i] = &requests.With({k::ApiName(key)});
    return *by_api[i];
  }
  void Error(int16_t api, int16_t code) {
    if (code == 0) return;
    errors.With({k::ApiName(api), k::ErrorName(code)}).Inc();
  }
};

// ---------------------------------------------------------------------------
// Fetch long poll.

// Upper bound of one Fetch response (Kafka's fetch.max.bytes default).
constexpr size_t kMaxFetchBytes = 50u << 20;

struct PendingFetch {
  std::weak_ptr<BrokerConnection> conn;
  k::RequestHeader header;
  k::FetchRequest request;
  ReplyFn done;
  GroupTime deadline;
  std::vector<std::pair<PartitionLog*, uint64_t>> waiters;
  std::vector<std::shared_ptr<Topic>> keep;  // keeps the waited-on logs alive
  // High watermark each partition had when RunFetch last read it: a retry
  // waits for data beyond it (not at fetch_offset, where data may already be
  // and would wake the fetch again at once: a busy loop with min_bytes).
  std::vector<std::pair<PartitionLog*, int64_t>> seen_hwm;
  uint64_t timer = 0;
  bool armed = false;  // counted in pending_fetches
  bool finished = false;
};

// ---------------------------------------------------------------------------

struct Broker::Handlers {
  Broker& b;
  const BrokerConnectionPtr& conn;
  const k::RequestHeader& hdr;
  std::string_view body;
  ReplyFn& done;

  int16_t version() const { return hdr.api_version; }

  // Frames `w` as the response to this request.
  void Respond(const k::Writer& w) { done(Reply{k::FrameResponse(hdr, w.buffer())}); }
  void Close(std::string reason) {
    b.metrics_->protocol_errors.With({"malformed_request"}).Inc();
    Reply r;
    r.close = true;
    r.close_reason = std::move(reason);
    done(std::move(r));
  }
  template <class T>
  bool Decoded(const Result<T>& r) {
    if (r) return true;
    Close(r.error().message());
    return false;
  }
  void CountError(int16_t code) { b.metrics_->Error(hdr.api_key, code); }
  // kafkaserver.acls: may this connection's user do `op` on `topic`? A refusal
  // is counted and logged.
  bool Allowed(AclOp op, std::string_view topic) const {
    return b.Authorized(*conn, hdr.api_key, AclResource::kTopic, op, topic);
  }
  bool Describable(std::string_view topic) const { return Allowed(AclOp::kDescribe, topic); }
  // Whether a full listing (Metadata of every topic, ListGroups) shows the
  // resource: a resource left out is counted, not logged.
  bool Listed(AclResource type, std::string_view name) const {
    return b.Authorized(*conn, hdr.api_key, type, AclOp::kDescribe, name, /*listing=*/true);
  }
  // The same for a consumer group, a transactional id.
  bool GroupAllowed(AclOp op, std::string_view group) const {
    return b.Authorized(*conn, hdr.api_key, AclResource::kGroup, op, group);
  }
  bool TxnAllowed(AclOp op, std::string_view transactional_id) const {
    return b.Authorized(*conn, hdr.api_key, AclResource::kTransactionalId, op, transactional_id);
  }
  // InitProducerId without a transactional id: idempotent_write on the
  // cluster, or (KIP-679) write on any topic.
  bool IdempotentAllowed() const {
    const Acl& acl = b.options_.acl;
    if (acl.Allows(conn->user, AclResource::kCluster, AclOp::kIdempotentWrite, {}) ||
        acl.AllowsAny(conn->user, AclResource::kTopic, AclOp::kWrite)) {
      return true;
    }
    b.Refused(*conn, hdr.api_key, AclResource::kCluster, AclOp::kIdempotentWrite, {});
    return false;
  }
  static constexpr auto kDenied = static_cast<int16_t>(ErrorCode::kTopicAuthorizationFailed);
  static constexpr auto kGroupDenied = static_cast<int16_t>(ErrorCode::kGroupAuthorizationFailed);
  static constexpr auto kTxnDenied =
      static_cast<int16_t>(ErrorCode::kTransactionalIdAuthorizationFailed);
  static constexpr auto kClusterDenied =
      static_cast<int16_t>(ErrorCode::kClusterAuthorizationFailed);

  // Runs the handler of API `key`; false when the broker serves no such API.
  bool Serve(ApiKey key) {
    static constexpr std::pair<ApiKey, void (Handlers::*)()> kApis[] = {
        {ApiKey::kApiVersions, &Handlers::ApiVersions},
        {ApiKey::kMetadata, &Handlers::Metadata},
        {ApiKey::kProduce, &Handlers::Produce},
        {ApiKey::kFetch, &Handlers::Fetch},
        {ApiKey::kListOffsets, &Handlers::ListOffsets},
        {ApiKey::kFindCoordinator, &Handlers::FindCoordinator},
        {ApiKey::kJoinGroup, &Handlers::JoinGroup},
        {ApiKey::kSyncGroup, &Handlers::SyncGroup},
        {ApiKey::kHeartbeat, &Handlers::Heartbeat},
        {ApiKey::kLeaveGroup, &Handlers::LeaveGroup},
        {ApiKey::kOffsetCommit, &Handlers::OffsetCommit},
        {ApiKey::kOffsetFetch, &Handlers::OffsetFetch},
        {ApiKey::kDescribeGroups, &Handlers::DescribeGroups},
        {ApiKey::kListGroups, &Handlers::ListGroups},
        {ApiKey::kSaslHandshake, &Handlers::SaslHandshake},
        {ApiKey::kSaslAuthenticate, &Handlers::SaslAuthenticate},
        {ApiKey::kInitProducerId, &Handlers::InitProducerId},
        {ApiKey::kAddPartitionsToTxn, &Handlers::AddPartitionsToTxn},
        {ApiKey::kEndTxn, &Handlers::EndTxn},
    };
    for (const auto& [api, handler] : kApis) {
      if (api == key) {
        (this->*handler)();
        return true;
      }
    }
    return false;
  }

  // -------------------------------------------------------------------------
  void ApiVersions() {
    auto req = k::DecodeApiVersionsRequest(body, version());
    // Kafka answers even a body it cannot parse (a newer client) with the list.
    k::Writer w;
    auto resp = k::MakeApiVersionsResponse();
    if (!req) resp.error_code = Code(ErrorCode::kInvalidRequest);
    k::EncodeApiVersionsResponse(resp, version(), w);
    CountError(resp.error_code);
    Respond(w);
  }

  // -------------------------------------------------------------------------
  k::MetadataResponse::Topic TopicEntry(const Topic& t) {
    k::MetadataResponse::Topic e;
    e.name = t.name();
    e.topic_id = ToWireUuid(t.id());
    for (int32_t p = 0; p < t.partition_count(); ++p) {
      k::MetadataResponse::Partition part;
      part.partition_index = p;
      part.leader_id = 0;
      part.leader_epoch = 0;
      part.replica_nodes = {0};
      part.isr_nodes = {0};
      e.partitions.push_back(std::move(part));
    }
    return e;
  }

  void Metadata() {
    auto req = k::DecodeMetadataRequest(body, version());
    if (!Decoded(req)) return;
    k::MetadataResponse resp;
    resp.brokers.push_back(
        {.node_id = 0, .host = b.options_.advertised_host, .port = b.options_.advertised_port});
    resp.cluster_id = b.options_.cluster_id;
    resp.controller_id = 0;
    const bool all = !req->topics || (version() == 0 && req->topics->empty());
    if (all) {
      for (const auto& t : b.topics_.All()) {
        if (Listed(AclResource::kTopic, t->name())) resp.topics.push_back(TopicEntry(*t));
      }
    } else {
      for (const auto& rt : *req->topics) {
        k::MetadataResponse::Topic e;
        if (!rt.name) {
          auto t = b.topics_.FindById(FromWireUuid(rt.topic_id));
          if (t && Describable(t->name())) {
            resp.topics.push_back(TopicEntry(*t));
          } else {
            e.error_code = t ? kDenied : Code(ErrorCode::kUnknownTopicId);
            e.topic_id = rt.topic_id;
            CountError(e.error_code);
            resp.topics.push_back(std::move(e));
          }
          continue;
        }
        e.name = *rt.name;
        if (!IsValidTopicName(*rt.name)) {
          e.error_code = Code(ErrorCode::kInvalidTopic);
        } else if (!Describable(*rt.name)) {
          e.error_code = kDenied;  // and not created
        } else {
          // Topics are created on demand (SPEC §5.14), so consumers may
          // subscribe before the first event of a channel arrives.
          auto t = b.topics_.FindOrAutoCreate(*rt.name);
          if (t && *t) {
            resp.topics.push_back(TopicEntry(**t));
            continue;
          }
          e.error_code = Code(t ? ErrorCode::kUnknownTopicOrPartition : ErrorCode::kInvalidTopic);
          if (!t) {
            log::Warn("kafkaserver: cannot create topic",
                      {{"topic", *rt.name}, {"error", t.error().message()}});
          }
        }
        CountError(e.error_code);
        resp.topics.push_back(std::move(e));
      }
    }
    k::Writer w;
    k::EncodeMetadataResponse(resp, version(), w);
    Respond(w);
  }

  // -------------------------------------------------------------------------
  void FindCoordinator() {
    auto req = k::DecodeFindCoordinatorRequest(body, version());
    if (!Decoded(req)) return;
    k::FindCoordinatorResponse resp;
    for (const auto& key : req->coordinator_keys) {
      k::FindCoordinatorResponse::Coordinator c;
      c.key = key;
      if (req->key_type != k::kCoordinatorKeyGroup &&
          req->key_type != k::kCoordinatorKeyTransaction) {
        c.error_code = Code(ErrorCode::kCoordinatorNotAvailable);
        c.error_message = "unknown coordinator key type";
      } else if (key.empty()) {
        c.error_code = Code(ErrorCode::kInvalidGroupId);
      } else if (req->key_type == k::kCoordinatorKeyGroup ? !GroupAllowed(AclOp::kDescribe, key)
                                                          : !TxnAllowed(AclOp::kDescribe, key)) {
        c.error_code = req->key_type == k::kCoordinatorKeyGroup ? kGroupDenied : kTxnDenied;
      } else {
        c.node_id = 0;
        c.host = b.options_.advertised_host;
        c.port = b.options_.advertised_port;
      }
      CountError(c.error_code);
      resp.coordinators.push_back(std::move(c));
    }
    k::Writer w;
    k::EncodeFindCoordinatorResponse(resp, version(), w);
    Respond(w);
  }

  // -------------------------------------------------------------------------
  void ListOffsets() {
    auto req = k::DecodeListOffsetsRequest(body, version());
    if (!Decoded(req)) return;
    k::ListOffsetsResponse resp;
    for (const auto& rt : req->topics) {
      k::ListOffsetsResponse::Topic out;
      out.name = rt.name;
      auto t = b.topics_.Find(rt.name);
      for (const auto& rp : rt.partitions) {
        k::ListOffsetsResponse::Partition p;
        p.partition_index = rp.partition_index;
        PartitionLog* log = t ? t->partition(rp.partition_index) : nullptr;
        if (!Allowed(AclOp::kRead, rt.name)) {
          p.error_code = kDenied;
        } else if (log == nullptr) {
          p.error_code = Code(ErrorCode::kUnknownTopicOrPartition);
        } else {
          auto r = log->ListOffsetsByRecord(rp.timestamp);
          if (req->isolation_level == 1 && rp.timestamp == PartitionLog::kLatest) {
            // read_committed: the end is the last stable offset.
            r.offset =
                b.txns_.LastStableOffset(TxnPartition{rt.name, rp.partition_index}, r.offset);
          }
          p.offset = r.offset;
          p.timestamp = r.timestamp;
          p.leader_epoch = 0;
          if (version() == 0) {
            if (r.offset >= 0) p.old_style_offsets.push_back(r.offset);
          }
        }
        CountError(p.error_code);
        out.partitions.push_back(std::move(p));
      }
      resp.topics.push_back(std::move(out));
    }
    k::Writer w;
    k::EncodeListOffsetsResponse(resp, version(), w);
    Respond(w);
  }

  // -------------------------------------------------------------------------
  void Produce() {
    auto req = k::DecodeProduceRequest(body, version());
    if (!Decoded(req)) return;
    k::ProduceResponse resp;
    const bool acks_ok = req->acks == 0 || req->acks == 1 || req->acks == -1;
    // A transactional producer needs write on its transactional id.
    const bool txn_ok = !req->transactional_id || TxnAllowed(AclOp::kWrite, *req->transactional_id);
    int64_t produced = 0;
    for (const auto& rt : req->topics) {
      k::ProduceResponse::Topic out;
      out.name = rt.name;
      std::shared_ptr<Topic> topic;
      int16_t topic_error = 0;
      if (!acks_ok) {
        topic_error = Code(ErrorCode::kInvalidRequiredAcks);
      } else if (!txn_ok) {
        topic_error = kTxnDenied;
      } else if (!IsValidTopicName(rt.name)) {
        topic_error = Code(ErrorCode::kInvalidTopic);
      } else if (!Allowed(AclOp::kWrite, rt.name)) {
        topic_error = kDenied;
      } else {
        auto t = b.topics_.FindOrAutoCreate(rt.name);
        if (!t) {
          topic_error = Code(ErrorCode::kInvalidTopic);
        } else if (!*t) {
          topic_error = Code(ErrorCode::kUnknownTopicOrPartition);
        } else {
          topic = std::move(*t);
        }
      }
      for (const auto& rp : rt.partitions) {
        k::ProduceResponse::Partition p;
        p.index = rp.index;
        p.error_code = topic_error;
        PartitionLog* log = topic ? topic->partition(rp.index) : nullptr;
        if (p.error_code == 0 && log == nullptr) {
          p.error_code = Code(ErrorCode::kUnknownTopicOrPartition);
        }
        if (p.error_code == 0) {
          produced += AppendProduced(*log, TxnPartition{rt.name, rp.index}, rp.records, p);
        }
        CountError(p.error_code);
        out.partitions.push_back(std::move(p));
      }
      resp.topics.push_back(std::move(out));
    }
    b.metrics_->records_produced.Inc(static_cast<uint64_t>(produced));
    if (req->acks == 0) {
      done(Reply{});  // no response at all
      return;
    }
    k::Writer w;
    k::EncodeProduceResponse(resp, version(), w);
    Respond(w);
  }

  // Validates and appends one partition's records; fills the response entry.
  int64_t AppendProduced(PartitionLog& log, const TxnPartition& where,
                         const std::optional<std::string>& records,
                         k::ProduceResponse::Partition& p) {
    if (!records || records->empty()) {
      p.error_code = Code(ErrorCode::kInvalidRecord);
      p.error_message = "no records";
      return 0;
    }
    // Message format v0/v1 (magic at byte 16) is not accepted.
    if (records->size() > 16 && (*records)[16] != 2) {
      p.error_code = Code(ErrorCode::kUnsupportedForMessageFormat);
      p.error_message = "only message format v2 (magic 2) is supported";
      return 0;
    }
    k::DecodeOptions opts;
    opts.verify_crc = false;
    auto views = k::SplitRecordBatches(*records, opts);
    if (!views) {
      p.error_code = Code(ErrorCode::kCorruptMessage);
      p.error_message = views.error().message();
      return 0;
    }
    for (const auto& v : *views) {
      if (!v.header.crc_ok) {
        p.error_code = Code(ErrorCode::kCorruptMessage);
        p.error_message = "record batch CRC mismatch";
        return 0;
      }
      if (v.header.record_count != v.header.last_offset_delta + 1 || v.header.control()) {
        p.error_code = Code(ErrorCode::kInvalidRecord);
        p.error_message = "record count does not match the last offset delta";
        return 0;
      }
    }
    // Full decode (decompression, record framing) so nothing malformed is stored.
    if (auto decoded = k::DecodeRecordBatches(*records); !decoded) {
      p.error_code = Code(ErrorCode::kCorruptMessage);
      p.error_message = decoded.error().message();
      return 0;
    }
    // Transactional batches only into a partition of the producer's ongoing
    // transaction, with its current epoch.
    b.txns_.Expire(b.executor_.Now());
    for (const auto& v : *views) {
      if (!v.header.transactional()) continue;
      if (const int16_t err =
              b.txns_.CheckProduce(where, v.header.producer_id, v.header.producer_epoch);
          err != 0) {
        p.error_code = err;
        p.error_message = "transactional batch outside an ongoing transaction of this producer";
        return 0;
      }
    }
    int64_t appended = 0;
    bool first = true;
    for (const auto& v : *views) {
      auto off = log.Append(std::string(v.bytes), v.header.record_count, v.header.max_timestamp);
      if (off && v.header.transactional()) b.txns_.OnAppend(where, v.header.producer_id, *off);
      if (!off) {
        p.error_code = Code(off.error().code() == pgcdc::ErrorCode::kIo
                                ? static_cast<ErrorCode>(56)  // KAFKA_STORAGE_ERROR
                                : ErrorCode::kCorruptMessage);
        p.error_message = off.error().message();
        return appended;
      }
      if (first) p.base_offset = *off;
      first = false;
      appended += v.header.record_count;
    }
    p.log_start_offset = log.LogStartOffset();
    return appended;
  }

  // -------------------------------------------------------------------------
  void Fetch() {
    auto req = k::DecodeFetchRequest(body, version());
    if (!Decoded(req)) return;
    auto f = std::make_shared<PendingFetch>();
    f->conn = conn;
    f->header = hdr;
    f->request = std::move(*req);
    f->done = std::move(done);
    const auto wait = std::min<milliseconds>(
        milliseconds(std::max<int32_t>(f->request.max_wait_ms, 0)), b.options_.max_fetch_wait);
    f->deadline = b.executor_.Now() + wait;
    b.RunFetch(f, wait.count() == 0);
  }

  // -------------------------------------------------------------------------
  // Producer ids and transactions (transactions.h).

  void InitProducerId() {
    auto req = k::DecodeInitProducerIdRequest(body, version());
    if (!Decoded(req)) return;
    k::InitProducerIdResponse resp;
    const bool transactional = req->transactional_id && !req->transactional_id->empty();
    if (transactional && !TxnAllowed(AclOp::kWrite, *req->transactional_id)) {
      resp.error_code = kTxnDenied;
    } else if (!transactional && !IdempotentAllowed()) {
      resp.error_code = kClusterDenied;
    } else {
      const auto r = b.txns_.InitProducerId(req->transactional_id, req->transaction_timeout_ms,
                                            b.executor_.Now());
      resp.error_code = r.error;
      resp.producer_id = r.id;
      resp.producer_epoch = r.epoch;
    }
    CountError(resp.error_code);
    k::Writer w;
    k::EncodeInitProducerIdResponse(resp, version(), w);
    Respond(w);
  }

  void AddPartitionsToTxn() {
    auto req = k::DecodeAddPartitionsToTxnRequest(body, version());
    if (!Decoded(req)) return;
    k::AddPartitionsToTxnResponse resp;
    // Kafka: without write on the transactional id every partition fails.
    const bool txn_ok = TxnAllowed(AclOp::kWrite, req->transactional_id);
    for (const auto& t : req->topics) {
      k::AddPartitionsToTxnResponse::Topic out;
      out.name = t.name;
      const bool allowed = txn_ok && Allowed(AclOp::kWrite, t.name);
      auto topic = allowed && IsValidTopicName(t.name) ? b.topics_.FindOrAutoCreate(t.name)
                                                       : Result<std::shared_ptr<Topic>>(nullptr);
      for (const int32_t p : t.partitions) {
        int16_t err = 0;
        if (!txn_ok) {
          err = kTxnDenied;
        } else if (!allowed) {
          err = kDenied;
        } else if (!topic || !*topic || (*topic)->partition(p) == nullptr) {
          err = Code(ErrorCode::kUnknownTopicOrPartition);
        } else {
          err = b.txns_.AddPartition(req->transactional_id, req->producer_id, req->producer_epoch,
                                     TxnPartition{t.name, p}, b.executor_.Now());
        }
        CountError(err);
        out.results.push_back({p, err});
      }
      resp.results.push_back(std::move(out));
    }
    k::Writer w;
    k::EncodeAddPartitionsToTxnResponse(resp, version(), w);
    Respond(w);
  }

  void EndTxn() {
    auto req = k::DecodeEndTxnRequest(body, version());
    if (!Decoded(req)) return;
    k::EndTxnResponse resp;
    resp.error_code = !TxnAllowed(AclOp::kWrite, req->transactional_id)
                          ? kTxnDenied
                          : b.txns_.EndTxn(req->transactional_id, req->producer_id,
                                           req->producer_epoch, req->committed);
    CountError(resp.error_code);
    k::Writer w;
    k::EncodeEndTxnResponse(resp, version(), w);
    Respond(w);
  }

  // -------------------------------------------------------------------------
  // Consumer groups.

  void JoinGroup() {
    auto req = k::DecodeJoinGroupRequest(body, version());
    if (!Decoded(req)) return;
    if (!GroupAllowed(AclOp::kRead, req->group_id)) {
      k::JoinGroupResponse resp;
      resp.error_code = kGroupDenied;
      resp.member_id = req->member_id;
      CountError(resp.error_code);
      k::Writer w;
      k::EncodeJoinGroupResponse(resp, version(), w);
      Respond(w);
      return;
    }
    JoinArgs a;
    a.group_id = req->group_id;
    a.member_id = req->member_id;
    a.group_instance_id = req->group_instance_id;
    a.client_id = hdr.client_id.value_or("");
    a.client_host = "/" + conn->host;
    a.session_timeout_ms = req->session_timeout_ms;
    const auto cap = b.options_.session_timeout_cap.count();
    if (cap > 0 && a.session_timeout_ms > cap) a.session_timeout_ms = static_cast<int32_t>(cap);
    a.rebalance_timeout_ms = version() == 0 ? req->session_timeout_ms : req->rebalance_timeout_ms;
    a.protocol_type = req->protocol_type;
    for (auto& p : req->protocols) a.protocols.push_back({p.name, p.metadata});
    a.require_known_member_id = version() >= 4;
    a.reason = req->reason.value_or("");
    const int16_t v = version();
    auto h = hdr;
    auto reply = std::move(done);
    Broker* broker = &b;
    std::weak_ptr<BrokerConnection> weak = conn;
    b.groups_.Join(std::move(a), b.executor_.Now(),
                   [broker, v, h, reply = std::move(reply), weak](const JoinResult& r) {
                     auto c = weak.lock();
                     if (!c || c->closed) return;
                     k::JoinGroupResponse resp;
                     resp.error_code = Code(r.error);
                     resp.generation_id = r.generation_id;
                     resp.protocol_type = r.protocol_type;
                     resp.protocol_name = r.protocol_name;
                     resp.leader = r.leader_id;
                     resp.skip_assignment = r.skip_assignment;
                     resp.member_id = r.member_id;
                     for (auto& m : r.members) {
                       resp.members.push_back({m.member_id, m.group_instance_id, m.metadata});
                     }
                     broker->metrics_->Error(h.api_key, resp.error_code);
                     k::Writer w;
                     k::EncodeJoinGroupResponse(resp, v, w);
                     reply(Reply{k::FrameResponse(h, w.buffer())});
                     broker->UpdateGroupGauges();
                   });
  }

  void SyncGroup() {
    auto req = k::DecodeSyncGroupRequest(body, version());
    if (!Decoded(req)) return;
    if (!GroupAllowed(AclOp::kRead, req->group_id)) {
      k::SyncGroupResponse resp;
      resp.error_code = kGroupDenied;
      CountError(resp.error_code);
      k::Writer w;
      k::EncodeSyncGroupResponse(resp, version(), w);
      Respond(w);
      return;
    }
    SyncArgs a;
    a.group_id = req->group_id;
    a.member_id = req->member_id;
    a.group_instance_id = req->group_instance_id;
    a.generation_id = req->generation_id;
    a.protocol_type = req->protocol_type;
    a.protocol_name = req->protocol_name;
    for (auto& x : req->assignments) a.assignments.push_back({x.member_id, x.assignment});
    const int16_t v = version();
    auto h = hdr;
    auto reply = std::move(done);
    Broker* broker = &b;
    std::weak_ptr<BrokerConnection> weak = conn;
    b.groups_.Sync(std::move(a), b.executor_.Now(),
                   [broker, v, h, reply = std::move(reply), weak](SyncResult r) {
                     auto c = weak.lock();
                     if (!c || c->closed) return;
                     k::SyncGroupResponse resp;
                     resp.error_code = Code(r.error);
                     resp.protocol_type = r.protocol_type;
                     resp.protocol_name = r.protocol_name;
                     resp.assignment = std::move(r.assignment);
                     broker->metrics_->Error(h.api_key, resp.error_code);
                     k::Writer w;
                     k::EncodeSyncGroupResponse(resp, v, w);
                     reply(Reply{k::FrameResponse(h, w.buffer())});
                   });
  }

  void Heartbeat() {
    auto req = k::DecodeHeartbeatRequest(body, version());
    if (!Decoded(req)) return;
    k::HeartbeatResponse resp;
    resp.error_code =
        !GroupAllowed(AclOp::kRead, req->group_id)
            ? kGroupDenied
            : Code(b.groups_.Heartbeat(req->group_id, req->member_id, req->group_instance_id,
                                       req->generation_id, b.executor_.Now()));
    CountError(resp.error_code);
    k::Writer w;
    k::EncodeHeartbeatResponse(resp, version(), w);
    Respond(w);
  }

  void LeaveGroup() {
    auto req = k::DecodeLeaveGroupRequest(body, version());
    if (!Decoded(req)) return;
    if (!GroupAllowed(AclOp::kRead, req->group_id)) {
      k::LeaveGroupResponse resp;
      resp.error_code = kGroupDenied;  // and no member entries, as Kafka answers
      CountError(resp.error_code);
      k::Writer w;
      k::EncodeLeaveGroupResponse(resp, version(), w);
      Respond(w);
      return;
    }
    std::vector<LeaveMember> members;
    for (auto& m : req->members) members.push_back({m.member_id, m.group_instance_id});
    auto r = b.groups_.Leave(req->group_id, members, b.executor_.Now());
    k::LeaveGroupResponse resp;
    resp.error_code = Code(r.error);
    if (version() < 3) {
      if (resp.error_code == 0 && !r.member_errors.empty()) {
        resp.error_code = Code(r.member_errors[0]);
      }
    } else {
      for (size_t i = 0; i < req->members.size(); ++i) {
        k::LeaveGroupResponse::Member m;
        m.member_id = req->members[i].member_id;
        m.group_instance_id = req->members[i].group_instance_id;
        m.error_code = i < r.member_errors.size() ? Code(r.member_errors[i]) : int16_t{0};
        CountError(m.error_code);
        resp.members.push_back(std::move(m));
      }
    }
    CountError(resp.error_code);
    k::Writer w;
    k::EncodeLeaveGroupResponse(resp, version(), w);
    Respond(w);
    b.UpdateGroupGauges();
  }

  void DescribeGroups() {
    auto req = k::DecodeDescribeGroupsRequest(body, version());
    if (!Decoded(req)) return;
    k::DescribeGroupsResponse resp;
    for (const auto& id : req->groups) {
      if (!GroupAllowed(AclOp::kDescribe, id)) {
        k::DescribeGroupsResponse::Group g;
        g.error_code = kGroupDenied;
        g.group_id = id;
        CountError(g.error_code);
        resp.groups.push_back(std::move(g));
        continue;
      }
      auto d = b.groups_.Describe(id);
      k::DescribeGroupsResponse::Group g;
      g.error_code = Code(d.error);
      g.group_id = id;
      g.group_state = d.state;
      g.protocol_type = d.protocol_type;
      g.protocol_data = d.protocol_data;
      for (auto& m : d.members) {
        g.members.push_back({m.member_id, m.group_instance_id, m.client_id, m.client_host,
                             m.metadata, m.assignment});
      }
      CountError(g.error_code);
      resp.groups.push_back(std::move(g));
    }
    k::Writer w;
    k::EncodeDescribeGroupsResponse(resp, version(), w);
    Respond(w);
  }

  void ListGroups() {
    auto req = k::DecodeListGroupsRequest(body, version());
    if (!Decoded(req)) return;
    std::vector<GroupState> states;
    for (const auto& s : req->states_filter) {
      if (auto st = ParseGroupState(s)) states.push_back(*st);
    }
    k::ListGroupsResponse resp;
    // A filter naming only unknown states matches nothing.
    // Kafka: describe on the cluster lists every group, else only the groups
    // the user may describe.
    const bool every = b.options_.acl.GrantsCluster(conn->user, AclOp::kDescribe);
    if (req->states_filter.empty() || !states.empty()) {
      for (auto& g : b.groups_.List(states)) {
        if (!every && !Listed(AclResource::kGroup, g.group_id)) continue;
        resp.groups.push_back({g.group_id, g.protocol_type, g.state});
      }
    }
    k::Writer w;
    k::EncodeListGroupsResponse(resp, version(), w);
    Respond(w);
  }

  // -------------------------------------------------------------------------
  // Committed offsets.

  void OffsetCommit() {
    auto req = k::DecodeOffsetCommitRequest(body, version());
    if (!Decoded(req)) return;
    int16_t error = 0;
    if (!GroupAllowed(AclOp::kRead, req->group_id)) {
      error = kGroupDenied;
    } else if (b.offsets_ == nullptr) {
      error = Code(ErrorCode::kCoordinatorNotAvailable);
    } else if (req->group_id.empty()) {
      error = Code(ErrorCode::kInvalidGroupId);
    } else {
      error = Code(b.groups_.ValidateCommit(req->group_id, req->member_id, req->group_instance_id,
                                            req->generation_id, b.executor_.Now()));
    }
    // Per-partition checks first; the valid rest is stored all or nothing.
    std::vector<std::vector<int16_t>> codes;
    std::vector<kafkaserver::OffsetCommit> commits;
    for (const auto& rt : req->topics) {
      auto& tc = codes.emplace_back();
      const bool allowed = error != 0 || Allowed(AclOp::kRead, rt.name);
      for (const auto& rp : rt.partitions) {
        int16_t code = error == 0 && !allowed ? kDenied : error;
        const std::string metadata = rp.committed_metadata.value_or("");
        if (code == 0 && metadata.size() > OffsetStore::kMaxMetadataBytes) {
          code = Code(KafkaError::kOffsetMetadataTooLarge);
        } else if (code == 0 && (!IsValidTopicName(rt.name) || rp.partition_index < 0)) {
          code = Code(ErrorCode::kUnknownTopicOrPartition);
        }
        if (code == 0) {
          commits.push_back({.topic = rt.name,
                             .partition = rp.partition_index,
                             .offset = rp.committed_offset,
                             .leader_epoch = rp.committed_leader_epoch,
                             .metadata = metadata});
        }
        tc.push_back(code);
      }
    }
    if (!commits.empty()) {
      const int64_t now_ms = std::chrono::duration_cast<milliseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
      if (auto st = b.offsets_->Commit(req->group_id, commits, now_ms); !st) {
        log::Warn("kafkaserver: storing committed offsets failed",
                  {{"group", req->group_id}, {"error", st.error().message()}});
        for (auto& tc : codes) {
          for (auto& c : tc) {
            if (c == 0) c = Code(ErrorCode::kCoordinatorNotAvailable);
          }
        }
      } else if (b.on_commit_) {
        b.on_commit_();
      }
    }
    k::OffsetCommitResponse resp;
    for (size_t t = 0; t < req->topics.size(); ++t) {
      const auto& rt = req->topics[t];
      k::OffsetCommitResponse::Topic out;
      out.name = rt.name;
      for (size_t i = 0; i < rt.partitions.size(); ++i) {
        out.partitions.push_back({rt.partitions[i].partition_index, codes[t][i]});
        CountError(codes[t][i]);
      }
      resp.topics.push_back(std::move(out));
    }
    k::Writer w;
    k::EncodeOffsetCommitResponse(resp, version(), w);
    Respond(w);
  }

  void OffsetFetch() {
    auto req = k::DecodeOffsetFetchRequest(body, version());
    if (!Decoded(req)) return;
    k::OffsetFetchResponse resp;
    for (const auto& rg : req->groups) {
      k::OffsetFetchResponse::Group g;
      g.group_id = rg.group_id;
      if (!GroupAllowed(AclOp::kDescribe, rg.group_id)) {
        g.error_code = kGroupDenied;
        // v0-1 have no group-level error: each requested partition carries it.
        if (version() < 2 && rg.topics) {
          for (const auto& rt : *rg.topics) {
            k::OffsetFetchResponse::Topic t;
            t.name = rt.name;
            for (int32_t idx : rt.partition_indexes) {
              k::OffsetFetchResponse::Partition p;
              p.partition_index = idx;
              p.metadata = "";
              p.error_code = kGroupDenied;
              t.partitions.push_back(std::move(p));
            }
            g.topics.push_back(std::move(t));
          }
        }
      } else if (b.offsets_ == nullptr) {
        g.error_code = Code(ErrorCode::kCoordinatorNotAvailable);
      } else if (!rg.topics) {
        // Every partition this group committed.
        std::map<std::string, std::vector<k::OffsetFetchResponse::Partition>> by_topic;
        for (const auto& [key, c] : b.offsets_->FetchGroup(rg.group_id)) {
          if (!b.options_.acl.Allows(conn->user, AclResource::kTopic, AclOp::kDescribe,
                                     key.topic)) {
            continue;  // a topic this user may not see
          }
          k::OffsetFetchResponse::Partition p;
          p.partition_index = key.partition;
          p.committed_offset = c.offset;
          p.committed_leader_epoch = c.leader_epoch;
          p.metadata = c.metadata;
          by_topic[key.topic].push_back(std::move(p));
        }
        for (auto& [name, parts] : by_topic) g.topics.push_back({name, std::move(parts)});
      } else {
        for (const auto& rt : *rg.topics) {
          k::OffsetFetchResponse::Topic t;
          t.name = rt.name;
          const bool allowed = Allowed(AclOp::kRead, rt.name);
          if (allowed) b.offsets_->NoteConsumer(rg.group_id, rt.name);
          for (int32_t idx : rt.partition_indexes) {
            k::OffsetFetchResponse::Partition p;
            p.partition_index = idx;
            p.metadata = "";
            if (!allowed) {
              p.error_code = kDenied;
              CountError(p.error_code);
            } else if (auto c = b.offsets_->Fetch(rg.group_id, rt.name, idx)) {
              p.committed_offset = c->offset;
              p.committed_leader_epoch = c->leader_epoch;
              p.metadata = c->metadata;
            }
            t.partitions.push_back(std::move(p));
          }
          g.topics.push_back(std::move(t));
        }
      }
      CountError(g.error_code);
      resp.groups.push_back(std::move(g));
    }
    k::Writer w;
    k::EncodeOffsetFetchResponse(resp, version(), w);
    Respond(w);
  }

  // -------------------------------------------------------------------------
  // SASL/PLAIN.

  void SaslHandshake() {
    auto req = k::DecodeSaslHandshakeRequest(body, version());
    if (!Decoded(req)) return;
    k::SaslHandshakeResponse resp;
    if (!b.options_.sasl) {
      resp.error_code = Code(ErrorCode::kUnsupportedSaslMechanism);
    } else if (conn->authenticated || conn->sasl != BrokerConnection::Sasl::kNone) {
      resp.error_code = Code(ErrorCode::kIllegalSaslState);
      resp.mechanisms = {"PLAIN"};
    } else if (req->mechanism != "PLAIN") {
      resp.error_code = Code(ErrorCode::kUnsupportedSaslMechanism);
      resp.mechanisms = {"PLAIN"};
    } else {
      resp.mechanisms = {"PLAIN"};
      // v0: the tokens follow as raw size-prefixed frames (no Kafka header).
      conn->sasl = version() == 0 ? BrokerConnection::Sasl::kRawToken
                                  : BrokerConnection::Sasl::kHandshakeDone;
    }
    CountError(resp.error_code);
    k::Writer w;
    k::EncodeSaslHandshakeResponse(resp, version(), w);
    Respond(w);
  }

  void SaslAuthenticate() {
    auto req = k::DecodeSaslAuthenticateRequest(body, version());
    if (!Decoded(req)) return;
    k::SaslAuthenticateResponse resp;
    bool close = false;
    if (conn->sasl != BrokerConnection::Sasl::kHandshakeDone) {
      resp.error_code = Code(ErrorCode::kIllegalSaslState);
      resp.error_message = "SaslAuthenticate without a SaslHandshake";
      close = true;
    } else if (const SaslUser* user = b.CheckPlain(req->auth_bytes); user == nullptr) {
      resp.error_code = Code(ErrorCode::kSaslAuthenticationFailed);
      resp.error_message = "Authentication failed: Invalid username or password";
      close = true;
      log::Warn("kafkaserver: SASL authentication failed", {{"peer", conn->peer}});
    } else {
      conn->authenticated = true;
      conn->user = user->name;
      conn->sasl = BrokerConnection::Sasl::kNone;
    }
    CountError(resp.error_code);
    k::Writer w;
    k::EncodeSaslAuthenticateResponse(resp, version(), w);
    Reply r{k::FrameResponse(hdr, w.buffer())};
    if (close) {
      r.close = true;
      r.close_reason = "SASL authentication failed";
    }
    done(std::move(r));
  }
};

// ---------------------------------------------------------------------------

Broker::Broker(BrokerOptions options, TopicStore& topics, OffsetStore* offsets, Executor& executor)
    : options_(std::move(options)),
      topics_(topics),
      offsets_(offsets),
      executor_(executor),
      groups_(options_.groups),
      txns_([this](const TxnPartition& p, int64_t pid, int16_t epoch, bool commit) {
        return WriteMarker(p, pid, epoch, commit);
      }),
      metrics_(new Metrics()) {}

Result<int64_t> Broker::WriteMarker(const TxnPartition& partition, int64_t producer_id,
                                    int16_t epoch, bool commit) {
  auto topic = topics_.Find(partition.topic);
  PartitionLog* log = topic ? topic->partition(partition.partition) : nullptr;
  if (log == nullptr) return Fail(pgcdc::ErrorCode::kNotFound, "no such partition");
  // Control record: key = version 0 + type (0 abort, 1 commit); value =
  // version 0 + coordinator epoch.
  k::Writer kw;
  kw.Int16(0);
  kw.Int16(commit ? 1 : 0);
  k::Writer vw;
  vw.Int16(0);
  vw.Int32(0);
  k::Record marker;
  marker.timestamp_ms =
      std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  marker.key = kw.Take();
  marker.value = vw.Take();
  k::BatchEncodeOptions opts;
  opts.producer_id = producer_id;
  opts.producer_epoch = epoch;
  opts.transactional = true;
  opts.control = true;
  std::string batch;
  if (auto st = k::EncodeRecordBatch(0, std::span<const k::Record>(&marker, 1), opts, batch); !st) {
    return Fail(st.error());
  }
  return log->Append(std::move(batch), 1, marker.timestamp_ms);
}

Broker::~Broker() {
  Shutdown();
  delete metrics_;
}

void Broker::SetAdvertised(std::string host, int32_t port) {
  options_.advertised_host = std::move(host);
  options_.advertised_port = port;
}

BrokerConnectionPtr Broker::NewConnection(std::string peer) {
  auto c = std::make_shared<BrokerConnection>();
  c->id = next_connection_id_++;
  c->host = HostOf(peer);
  c->peer = std::move(peer);
  c->authenticated = !options_.sasl;
  connections_[c->id] = c;
  return c;
}

void Broker::CloseConnection(const BrokerConnectionPtr& conn) {
  if (!conn || conn->closed) return;
  conn->closed = true;
  if (conn->fetch) {
    CancelFetch(*conn->fetch);
    conn->fetch.reset();
  }
  connections_.erase(conn->id);
}

void Broker::Shutdown() {
  auto conns = std::move(connections_);
  connections_.clear();
  for (auto& [id, weak] : conns) {
    if (auto c = weak.lock()) {
      c->closed = true;
      if (c->fetch) {
        CancelFetch(*c->fetch);
        c->fetch.reset();
      }
    }
  }
  groups_.Shutdown();
}

void Broker::Tick() {
  groups_.Tick(executor_.Now());
  UpdateGroupGauges();
}

void Broker::UpdateGroupGauges() {
  const auto list = groups_.List();
  size_t members = 0;
  for (const auto& g : list) members += groups_.Describe(g.group_id).members.size();
  metrics_->groups.Set(static_cast<double>(list.size()));
  metrics_->group_members.Set(static_cast<double>(members));
}

bool Broker::Authorized(const BrokerConnection& conn, int16_t api, AclResource type, AclOp op,
                        std::string_view name, bool listing) {
  if (options_.acl.Allows(conn.user, type, op, name)) return true;
  if (listing) {
    metrics_->denied.With({k::ApiName(api)}).Inc();
  } else {
    Refused(conn, api, type, op, name);
  }
  return false;
}

void Broker::Refused(const BrokerConnection& conn, int16_t api, AclResource type, AclOp op,
                     std::string_view name) {
  metrics_->denied.With({k::ApiName(api)}).Inc();
  constexpr auto kLogEvery = std::chrono::minutes(1);
  constexpr size_t kMaxRemembered = 4096;
  const auto now = executor_.Now();
  std::string key = conn.user;
  key.append(1, '\0').append(k::ApiName(api)).append(1, '\0');
  key.append(AclResourceName(type)).append(1, '\0').append(name);
  auto it = refusals_logged_.find(key);
  if (it != refusals_logged_.end() && now - it->second < kLogEvery) return;
  if (it == refusals_logged_.end() && refusals_logged_.size() >= kMaxRemembered) {
    refusals_logged_.clear();
  }
  refusals_logged_[std::move(key)] = now;
  log::Warn("kafkaserver: request refused by kafkaserver.acls",
            {{"user", conn.user},
             {"peer", conn.peer},
             {"api", k::ApiName(api)},
             {"resource", AclResourceName(type)},
             {"name", name},
             {"operation", AclOpName(op)}});
}

const SaslUser* Broker::CheckPlain(std::string_view token) const {
  auto creds = k::ParseSaslPlain(token);
  if (!creds) return nullptr;
  if (!creds->authzid.empty() && creds->authzid != creds->username) return nullptr;
  return FindSaslUser(options_.users, creds->username, creds->password);
}

void Broker::Handle(const BrokerConnectionPtr& conn, const std::string& frame, ReplyFn done) {
  if (conn->closed) return;
  Dispatch(conn, frame, done);
}

void Broker::Dispatch(const BrokerConnectionPtr& conn, const std::string& frame, ReplyFn& done) {
  auto close = [&](std::string_view reason_label, std::string reason) {
    metrics_->protocol_errors.With({reason_label}).Inc();
    Reply r;
    r.close = true;
    r.close_reason = std::move(reason);
    done(std::move(r));
  };
  // SaslHandshake v0: the next frame is a bare PLAIN token.
  if (conn->sasl == BrokerConnection::Sasl::kRawToken) {
    conn->sasl = BrokerConnection::Sasl::kNone;
    const SaslUser* user = CheckPlain(frame);
    if (user == nullptr) {
      log::Warn("kafkaserver: SASL authentication failed", {{"peer", conn->peer}});
      close("sasl_failed", "SASL authentication failed");
      return;
    }
    conn->authenticated = true;
    conn->user = user->name;
    done(Reply{k::FrameWithSize("")});
    return;
  }
  size_t body_offset = 0;
  auto hdr = k::DecodeRequestHeader(frame, &body_offset);
  if (!hdr) {
    close("bad_header", "bad request header: " + hdr.error().message());
    return;
  }
  const int16_t key = hdr->api_key;
  const int16_t version = hdr->api_version;
  metrics_->Request(key).Inc();
  if (key == static_cast<int16_t>(k::ApiKey::kFetch)) metrics_->fetch_requests.Inc();
  if (key == static_cast<int16_t>(k::ApiKey::kOffsetCommit)) metrics_->offset_commits.Inc();
  if (k::FindApi(key) == nullptr) {
    close("unknown_api", "unknown API key " + std::to_string(key));
    return;
  }
  if (!k::IsSupported(key, version)) {
    if (key == static_cast<int16_t>(ApiKey::kApiVersions)) {
      // Kafka's answer: UNSUPPORTED_VERSION with the supported list, v0 body.
      k::Writer w;
      k::EncodeApiVersionsResponse(k::MakeApiVersionsResponse(ErrorCode::kUnsupportedVersion), 0,
                                   w);
      metrics_->Error(key, Code(ErrorCode::kUnsupportedVersion));
      done(Reply{k::FrameResponse(*hdr, w.buffer())});
      return;
    }
    close("unsupported_version",
          std::string(k::ApiName(key)) + " v" + std::to_string(version) + " is not supported");
    return;
  }
  if (!conn->authenticated && key != static_cast<int16_t>(ApiKey::kApiVersions) &&
      key != static_cast<int16_t>(ApiKey::kSaslHandshake) &&
      key != static_cast<int16_t>(ApiKey::kSaslAuthenticate)) {
    close("unauthenticated", std::string(k::ApiName(key)) + " request before SASL authentication");
    return;
  }
  Handlers h{*this, conn, *hdr, std::string_view(frame).substr(body_offset), done};
  if (!h.Serve(static_cast<ApiKey>(key))) {
    close("unknown_api", "unhandled API key " + std::to_string(key));
  }
}

// ---------------------------------------------------------------------------
// Fetch.

namespace {

// What one Fetch attempt has gathered so far.
struct FetchGather {
  size_t max_bytes = 0;  // the request's cap (see RunFetch)
  size_t total = 0;      // bytes of the batches taken
  int64_t records = 0;
  bool error = false;  // some partition answered with an error
  std::vector<std::shared_ptr<const std::string>> buffers;
};

// Reads partition `rp` of `topic` (null, or `topic_error` set, when the topic
// is unknown) for one Fetch attempt into `p`, within the request's budget.
// `txns` gives the last stable offset and the aborted transactions; with
// isolation level 1 (read_committed) nothing at or after the last stable
// offset is returned.
void FetchPartition(PendingFetch& f, Topic* topic, int16_t topic_error,
                    const k::FetchRequest::Partition& rp, const Transactions& txns,
                    int8_t isolation_level, FetchGather& g, k::FetchResponse::Partition& p) {
  p.partition_index = rp.partition;
  p.high_watermark = -1;
  p.last_stable_offset = -1;
  p.log_start_offset = -1;
  PartitionLog* log = topic ? topic->partition(rp.partition) : nullptr;
  if (topic_error != 0 || log == nullptr) {
    p.error_code = topic_error != 0 ? topic_error : Code(ErrorCode::kUnknownTopicOrPartition);
    g.error = true;
    return;
  }
  const size_t before = g.buffers.size();
  const size_t budget =
      g.total >= g.max_bytes
          ? 0
          : std::min<size_t>(g.max_bytes - g.total, std::max<int32_t>(rp.partition_max_bytes, 0));
  ReadInfo info;
  if (budget > 0 || g.total == 0) {
    auto r = log->Read(rp.fetch_offset, static_cast<int32_t>(std::min<size_t>(budget, INT32_MAX)),
                       g.buffers);
    if (!r) {
      log::Warn(
          "kafkaserver: reading partition failed",
          {{"topic", topic->name()}, {"partition", rp.partition}, {"error", r.error().message()}});
      p.error_code = static_cast<int16_t>(56);  // KAFKA_STORAGE_ERROR
      g.error = true;
      g.buffers.resize(before);
      return;
    }
    info = *r;
  } else {
    info.high_watermark = log->HighWatermark();
    info.log_start_offset = log->LogStartOffset();
  }
  f.seen_hwm.emplace_back(log, info.high_watermark);
  const TxnPartition where{topic->name(), rp.partition};
  const int64_t lso = txns.LastStableOffset(where, info.high_watermark);
  if (isolation_level == 1) {
    // read_committed: nothing at or after the last stable offset, and the
    // aborted transactions of the range.
    size_t keep = before;
    while (keep < g.buffers.size() && BatchBaseOffset(*g.buffers[keep]) < lso) ++keep;
    for (size_t i = keep; i < g.buffers.size(); ++i) info.bytes -= g.buffers[i]->size();
    g.buffers.resize(keep);
    p.aborted_transactions.emplace();
    for (const auto& a : txns.Aborted(where, rp.fetch_offset, lso)) {
      p.aborted_transactions->push_back({a.producer_id, a.first_offset});
    }
  }
  p.high_watermark = info.high_watermark;
  p.last_stable_offset = lso;
  p.log_start_offset = info.log_start_offset;
  if (info.out_of_range) {
    p.error_code = Code(ErrorCode::kOffsetOutOfRange);
    g.error = true;
  } else if (info.bytes > 0 && g.total > 0 && g.total + info.bytes > g.max_bytes) {
    g.buffers.resize(before);  // only the first partition may exceed max_bytes
  } else {
    g.total += info.bytes;
    for (size_t i = before; i < g.buffers.size(); ++i) {
      p.records.push_back(*g.buffers[i]);
      g.records += BatchRecords(*g.buffers[i]);
    }
  }
}

}  // namespace

void Broker::RunFetch(const std::shared_ptr<PendingFetch>& f, bool final_attempt) {
  auto conn = f->conn.lock();
  if (!conn || conn->closed || f->finished) return;
  const auto& req = f->request;
  const int16_t version = f->header.api_version;
  k::FetchResponse resp;
  std::vector<std::shared_ptr<Topic>> topics;
  FetchGather g;
  // The client's max_bytes, capped like Kafka's fetch.max.bytes: old
  // versions default it to INT32_MAX.
  g.max_bytes =
      std::min<size_t>(static_cast<size_t>(std::max<int32_t>(req.max_bytes, 0)), kMaxFetchBytes);
  f->seen_hwm.clear();
  for (const auto& rt : req.topics) {
    k::FetchResponse::Topic out;
    std::shared_ptr<Topic> topic;
    int16_t topic_error = 0;
    if (version >= 13) {
      out.topic_id = rt.topic_id;
      topic = topics_.FindById(FromWireUuid(rt.topic_id));
      if (!topic) topic_error = Code(ErrorCode::kUnknownTopicId);
    } else {
      out.topic = rt.topic;
      topic = topics_.Find(rt.topic);
      if (!topic) topic_error = Code(ErrorCode::kUnknownTopicOrPartition);
    }
    if (topic &&
        !Authorized(*conn, f->header.api_key, AclResource::kTopic, AclOp::kRead, topic->name())) {
      topic_error = Code(ErrorCode::kTopicAuthorizationFailed);
      topic.reset();
    }
    for (const auto& rp : rt.partitions) {
      k::FetchResponse::Partition& p = out.partitions.emplace_back();
      FetchPartition(*f, topic.get(), topic_error, rp, txns_, req.isolation_level, g, p);
      metrics_->Error(f->header.api_key, p.error_code);
    }
    if (topic) topics.push_back(std::move(topic));
    resp.responses.push_back(std::move(out));
  }
  const bool enough =
      g.total > 0 && g.total >= static_cast<size_t>(std::max<int32_t>(req.min_bytes, 1));
  if (!final_attempt && !enough && !g.error && executor_.Now() < f->deadline) {
    f->keep = std::move(topics);
    ArmFetch(f);
    return;
  }
  metrics_->records_fetched.Inc(static_cast<uint64_t>(g.records));
  metrics_->bytes_fetched.Inc(g.total);
  k::Writer w;
  k::EncodeFetchResponse(resp, version, w);
  auto done = std::move(f->done);
  const auto header = f->header;
  FinishFetch(f);
  done(Reply{k::FrameResponse(header, w.buffer())});
}

void Broker::ArmFetch(const std::shared_ptr<PendingFetch>& f) {
  auto conn = f->conn.lock();
  if (!conn) return;
  conn->fetch = f;
  if (!f->armed) {
    f->armed = true;
    metrics_->fetch_waits.Inc();
    metrics_->pending_fetches.Add(1);
  }
  std::weak_ptr<PendingFetch> weak = f;
  Executor* ex = &executor_;
  bool ready = false;
  auto wake = [this, ex, weak] {
    ex->Post([this, weak] {
      auto p = weak.lock();
      if (!p || p->finished) return;
      for (auto& [log, id] : p->waiters) log->RemoveWaiter(id);
      p->waiters.clear();
      RunFetch(p, executor_.Now() >= p->deadline);
    });
  };
  for (const auto& t : f->keep) {
    // Find the partitions of this topic in the request.
    for (const auto& rt : f->request.topics) {
      const bool same =
          f->header.api_version >= 13 ? ToWireUuid(t->id()) == rt.topic_id : t->name() == rt.topic;
      if (!same) continue;
      for (const auto& rp : rt.partitions) {
        PartitionLog* log = t->partition(rp.partition);
        if (log == nullptr) continue;
        int64_t at = rp.fetch_offset;
        for (const auto& [seen_log, hwm] : f->seen_hwm) {
          if (seen_log == log) at = std::max(at, hwm);
        }
        const uint64_t id = log->AddWaiter(at, wake);
        if (id == 0) {
          ready = true;
        } else {
          f->waiters.emplace_back(log, id);
        }
      }
    }
  }
  if (f->timer == 0) {
    const auto now = executor_.Now();
    const auto delay = f->deadline > now
                           ? std::chrono::duration_cast<milliseconds>(f->deadline - now)
                           : milliseconds(0);
    f->timer = executor_.StartTimer(delay, [this, weak] {
      auto p = weak.lock();
      if (!p || p->finished) return;
      p->timer = 0;
      for (auto& [log, id] : p->waiters) log->RemoveWaiter(id);
      p->waiters.clear();
      RunFetch(p, true);
    });
  }
  if (ready) wake();
}

void Broker::CancelFetch(PendingFetch& f) {
  if (f.finished) return;
  f.finished = true;
  for (auto& [log, id] : f.waiters) log->RemoveWaiter(id);
  f.waiters.clear();
  if (f.timer != 0) executor_.CancelTimer(f.timer);
  f.timer = 0;
  f.keep.clear();
  f.done = nullptr;
  if (f.armed) metrics_->pending_fetches.Add(-1);
  f.armed = false;
}

void Broker::FinishFetch(const std::shared_ptr<PendingFetch>& f) {
  f->finished = true;
  for (auto& [log, id] : f->waiters) log->RemoveWaiter(id);
  f->waiters.clear();
  if (f->timer != 0) executor_.CancelTimer(f->timer);
  f->timer = 0;
  f->keep.clear();
  if (f->armed) metrics_->pending_fetches.Add(-1);
  f->armed = false;
  if (auto c = f->conn.lock(); c && c->fetch == f) c->fetch.reset();
}

}  // namespace pgcdc::adapter::kafkaserver
