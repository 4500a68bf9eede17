#include "adapter/kafkaserver/kafkaserver_adapter.h"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <vector>

#include "adapter/kafkaserver/offset_store.h"
#include "adapter/kafkaserver/server.h"
#include "adapter/kafkaserver/topic_store.h"
#include "codec/kafka/murmur2.h"
#include "codec/kafka/record_batch.h"
#include "core/log.h"
#include "core/metrics.h"
#include "net/http_server.h"
#include "registry/define.h"
#include "transform/payload.h"

namespace pgcdc::adapter::kafkaserver {

namespace k = codec::kafka;
using std::chrono::milliseconds;

namespace {

// --kafkaserver-compression (validated by the registry's choices).
codec::kafka::Compression CompressionOf(std::string_view name) {
  using C = codec::kafka::Compression;
  if (name == "gzip") return C::kGzip;
  if (name == "snappy") return C::kSnappy;
  if (name == "lz4") return C::kLz4;
  if (name == "zstd") return C::kZstd;
  return C::kNone;
}

}  // namespace

namespace {

// Looks `column` up in `obj`; the value as text (strings unquoted), nullopt
// when absent or JSON null.
std::optional<std::string> MemberText(const transform::JsonObject& obj, std::string_view column) {
  const auto* m = obj.Find(column);
  if (m == nullptr) return std::nullopt;
  std::string scratch;
  const std::string_view raw = transform::JsonObject::ValueText(*m, scratch);
  if (raw == "null") return std::nullopt;
  return transform::StringifyJson(raw);
}

std::optional<std::string> LookupColumn(const Event& e, std::string_view column) {
  if (e.payload.empty() || e.payload.front() != '{') return std::nullopt;
  transform::Arena arena;
  auto root = transform::JsonObject::Parse(e.payload, arena);
  if (!root) return std::nullopt;
  bool images = false;
  for (const char* image : {"row", "old"}) {
    auto child = (*root)->Child(image, arena);
    if (!child || *child == nullptr) continue;
    images = true;
    if (auto v = MemberText(**child, column)) return v;
  }
  if (images) return std::nullopt;
  return MemberText(**root, column);
}

}  // namespace

std::string RecordKey(const Event& event, std::string_view key_column) {
  if (key_column.empty()) {
    if (!event.key.empty()) return event.key;
    if (auto v = LookupColumn(event, "id")) return *v;
  } else if (auto v = LookupColumn(event, key_column)) {
    return *v;
  }
  return event.id.ToString();
}

// ---------------------------------------------------------------------------

namespace {

Result<std::unique_ptr<TopicStore>> OpenTopics(const AdapterOptions& o) {
  TopicStoreOptions to;
  to.data_dir = o.data_dir;
  to.default_partitions = o.partitions;
  to.auto_create = true;
  to.log.buffer_records = o.buffer_size;
  to.log.buffer_bytes = o.buffer_bytes;
  to.log.leader_epoch = 0;
  to.log.retention_bytes = o.retention_bytes;
  to.log.fsync = !o.data_dir.empty() && o.ack == "stored";
  auto topics = TopicStore::Open(std::move(to));
  if (!topics) return Fail(topics.error().Wrap("kafkaserver: topic store"));
  return topics;
}

// Committed offsets: PostgreSQL, else the data dir, else memory.
Result<std::unique_ptr<OffsetStore>> OpenOffsets(const AdapterOptions& o) {
  if (!o.checkpoint_db.empty()) {
    auto store = OffsetStore::OpenPostgres(o.checkpoint_db);
    if (!store) return Fail(store.error().Wrap("kafkaserver: committed offsets (PostgreSQL)"));
    return store;
  }
  if (!o.data_dir.empty()) {
    auto store = OffsetStore::OpenFile(o.data_dir);
    if (!store) return Fail(store.error().Wrap("kafkaserver: committed offsets"));
    return store;
  }
  return OffsetStore::InMemory();
}

// Every SASL/PLAIN account: sasl_user, then users, then users_file.
Result<std::vector<SaslUser>> SaslUsers(const AdapterOptions& o) {
  auto users = ParseSaslUsers(o.users, "kafkaserver.users");
  if (!users) return users;
  if (!o.sasl_user.empty()) users->insert(users->begin(), {o.sasl_user, o.sasl_password});
  if (!o.users_file.empty()) {
    std::ifstream in(o.users_file, std::ios::binary);
    if (!in) {
      return Fail(ErrorCode::kInvalidArgument,
                  "kafkaserver.users_file: cannot read " + o.users_file);
    }
    const std::string text{std::istreambuf_iterator<char>(in), {}};
    auto more = ParseSaslUsersFile(text, "kafkaserver.users_file " + o.users_file);
    if (!more) return Fail(more.error());
    users->insert(users->end(), more->begin(), more->end());
  }
  return users;
}

// The broker's authentication and authorization settings, checked.
Status ConfigureAccess(const AdapterOptions& o, BrokerOptions& broker) {
  auto users = SaslUsers(o);
  if (!users) return Fail(users.error());
  auto acl = Acl::Parse(o.acls);
  if (!acl) return Fail(acl.error());
  if (acl->enabled() && users->empty()) {
    return Fail(ErrorCode::kInvalidArgument,
                "kafkaserver.acls: ACLs need SASL users (--kafkaserver-sasl-user, "
                "--kafkaserver-user or --kafkaserver-users-file)");
  }
  for (const auto& name : acl->NamedUsers()) {
    const bool known = std::any_of(users->begin(), users->end(),
                                   [&](const SaslUser& u) { return u.name == name; });
    if (!known) {
      return Fail(ErrorCode::kInvalidArgument,
                  "kafkaserver.acls: user \"" + name + "\" is not a SASL user");
    }
  }
  broker.sasl = !users->empty();
  broker.users = std::move(*users);
  broker.acl = std::move(*acl);
  return Ok();
}

ServerOptions ServerOptionsFor(const AdapterOptions& o, const net::ListenAddress& addr) {
  ServerOptions so;
  so.host = addr.host;
  so.port = addr.port;
  so.tls_cert_file = o.tls_cert_file;
  so.tls_key_file = o.tls_key_file;
  so.max_connections = static_cast<size_t>(o.max_connections);
  so.max_frame_size = static_cast<size_t>(o.max_request_size);
  so.idle_timeout = o.idle_timeout;
  so.broker.advertised_host = o.advertised_host;
  so.broker.advertised_port = 0;
  so.broker.session_timeout_cap = o.session_timeout;
  so.broker.groups.initial_rebalance_delay = o.rebalance_delay;
  so.broker.groups.min_session_timeout =
      std::min<milliseconds>(so.broker.groups.min_session_timeout, o.session_timeout);
  return so;
}

metrics::Family<metrics::Gauge>& BufferUsage() {
  return metrics::Default().AddGauge(
      "pgcdc_kafkaserver_buffer_usage",
      "Records of a partition held in the broker's memory cache (--kafkaserver-buffer-size caps "
      "it).",
      {"topic", "partition"});
}

}  // namespace

KafkaServerAdapter::KafkaServerAdapter(AdapterOptions options)
    : options_(std::move(options)),
      payload_values_(options_.value == "payload"),
      hold_until_committed_(options_.ack != "stored"),
      records_metric_(
          metrics::DefaultCounter("pgcdc_kafkaserver_records_stored_total",
                                  "Events appended to the broker's topics by the adapter")),
      held_metric_(metrics::DefaultGauge(
          "pgcdc_kafkaserver_oldest_held_seq",
          "Oldest event sequence held for consumer groups (0 = none held)")) {}

KafkaServerAdapter::~KafkaServerAdapter() { Close(); }

Status KafkaServerAdapter::Open() {
  auto addr = net::ParseListenAddress(options_.addr);
  if (!addr) return Fail(addr.error().Wrap("kafkaserver"));
  auto topics = OpenTopics(options_);
  if (!topics) return Fail(topics.error());
  topics_ = std::move(*topics);
  auto offsets = OpenOffsets(options_);
  if (!offsets) return Fail(offsets.error());
  offsets_ = std::move(*offsets);

  ServerOptions so = ServerOptionsFor(options_, *addr);
  if (auto st = ConfigureAccess(options_, so.broker); !st) return Fail(st.error());
  const auto sasl_users = static_cast<int64_t>(so.broker.users.size());
  auto server = std::make_unique<Server>(std::move(so), *topics_, offsets_.get());
  auto bound = server->Start();
  if (!bound) return Fail(bound.error());
  bound_ = *bound;
  log::Info("kafkaserver: serving",
            {{"addr", bound_},
             {"advertised", server->Advertised()},
             {"partitions", static_cast<int64_t>(options_.partitions)},
             {"offsets", std::string(offsets_->backend_name())},
             {"data_dir", options_.data_dir.empty() ? "(memory)" : options_.data_dir},
             {"ack", options_.ack},
             {"sasl_users", sasl_users},
             {"acl_rules", static_cast<int64_t>(options_.acls.size())}});
  MutexLock lock(server_mu_);
  server_ = std::move(server);
  return Ok();
}

Result<Topic*> KafkaServerAdapter::TopicFor(const std::string& channel) {
  auto it = topic_cache_.find(channel);
  if (it != topic_cache_.end()) return it->second.get();
  auto t = topics_->GetOrCreate(TopicForChannel(channel));
  if (!t) return Fail(t.error().Wrap("kafkaserver: topic for channel " + channel));
  Topic* raw = t->get();
  topic_cache_.emplace(channel, std::move(*t));
  return raw;
}

Status KafkaServerAdapter::Deliver(std::span<const Event* const> events) {
  if (!topics_) return Fail(ErrorCode::kClosed, "kafkaserver: not open");
  struct Group {
    Topic* topic;
    int32_t partition;
    std::vector<k::Record> records;
    int64_t max_ts = 0;
    uint64_t max_seq = 0;
    size_t bytes = 0;  // key + value + headers of `records`
  };
  // Large rows are split over several batches of about this size, so no
  // batch exceeds what the log or a consumer (receive.message.max.bytes)
  // accepts; a single record larger than this still gets a batch of its own.
  constexpr size_t kBatchBytes = 1u << 20;
  std::vector<Group> groups;
  std::map<std::pair<Topic*, int32_t>, size_t> index;
  for (const Event* e : events) {
    auto topic = TopicFor(e->channel);
    if (!topic) return Fail(topic.error());
    k::Record r;
    r.key = RecordKey(*e, options_.key_column);
    const int32_t partition = k::DefaultPartition(*r.key, (*topic)->partition_count());
    r.timestamp_ms = e->created_at_ns / 1'000'000;
    r.value = payload_values_ ? e->payload : e->Json();
    r.headers.reserve(3);
    r.headers.push_back({"pgcdc-channel", e->channel});
    r.headers.push_back({"pgcdc-operation", e->operation});
    r.headers.push_back({"pgcdc-event-id", e->id.ToString()});
    size_t bytes = r.key->size() + (r.value ? r.value->size() : 0) + 64;
    for (const auto& h : r.headers) bytes += h.key.size() + (h.value ? h.value->size() : 0);
    auto [it, inserted] = index.try_emplace({*topic, partition}, groups.size());
    if (inserted) {
      groups.push_back(Group{*topic, partition, {}, 0, 0, 0});
    } else if (groups[it->second].bytes + bytes > kBatchBytes) {
      // Partition order is kept: groups are appended in vector order.
      it->second = groups.size();
      groups.push_back(Group{*topic, partition, {}, 0, 0, 0});
    }
    Group& g = groups[it->second];
    g.bytes += bytes;
    g.max_ts = std::max(g.max_ts, r.timestamp_ms);
    g.max_seq = std::max(g.max_seq, e->seq);
    g.records.push_back(std::move(r));
  }
  std::string batch;
  for (auto& g : groups) {
    batch.clear();
    if (auto st = k::EncodeRecordBatch(0, g.records, CompressionOf(options_.compression), batch);
        !st) {
      return Fail(st.error().Wrap("kafkaserver: encoding a record batch"));
    }
    PartitionLog* log = g.topic->partition(g.partition);
    auto off =
        log->Append(std::move(batch), static_cast<int32_t>(g.records.size()), g.max_ts, g.max_seq);
    if (!off) {
      return Fail(off.error().Wrap("kafkaserver: appending to " + g.topic->name() + "-" +
                                   std::to_string(g.partition)));
    }
    records_metric_.Inc(g.records.size());
    BufferUsage()
        .With({g.topic->name(), std::to_string(g.partition)})
        .Set(static_cast<double>(log->Stats().memory_records));
    batch = std::string();
  }
  return Ok();
}

std::optional<uint64_t> KafkaServerAdapter::OldestHeldSeq() const {
  if (!hold_until_committed_ || !topics_ || !offsets_) return std::nullopt;
  uint64_t oldest = std::numeric_limits<uint64_t>::max();
  for (const auto& topic : topics_->All()) {
    for (int32_t p = 0; p < topic->partition_count(); ++p) {
      const auto committed = offsets_->MinCommitted(topic->name(), p);
      if (!committed) break;  // no group committed on this topic: nothing held
      const PartitionLog* log = topic->partition(p);
      const int64_t hwm = log->HighWatermark();
      // Evicted records are released whatever the groups committed.
      const int64_t from = std::max(*committed, log->LogStartOffset());
      if (from >= hwm) continue;
      const uint64_t below = log->TagBefore(from);
      // Only batches appended by this process carry tags (seqs); if none is
      // at/after `from`, nothing of this run is held here.
      if (log->TagBefore(hwm) <= below) continue;
      oldest = std::min(oldest, below + 1);
    }
  }
  if (oldest == std::numeric_limits<uint64_t>::max()) {
    held_metric_.Set(0);
    return std::nullopt;
  }
  held_metric_.Set(static_cast<double>(oldest));
  return oldest;
}

std::optional<size_t> KafkaServerAdapter::Subscribers() const {
  MutexLock lock(server_mu_);
  if (!server_) return 0;
  // With ack=committed only a consumer group that asked for its offsets will
  // hold (and so surely receive) the records; any connection otherwise.
  if (hold_until_committed_ && offsets_) return offsets_->ConsumerGroupCount();
  return server_->ConnectionCount();
}

void KafkaServerAdapter::Close() {
  std::unique_ptr<Server> server;
  {
    MutexLock lock(server_mu_);
    server = std::move(server_);
  }
  if (server) server->Stop();
}

namespace {

using O = AdapterOptions;

// Listener, partitions and consumer groups.
std::vector<ParamSpec> BrokerParams() {
  return {
      Param("kafkaserver.addr", &O::addr, "listen address HOST:PORT (empty host = all interfaces)"),
      Param("kafkaserver.partition_count", &O::partitions,
            "partitions of every topic created by the broker",
            {.flag = "kafkaserver-partitions", .min = 1, .max = 10000}),
      Param("kafkaserver.buffer_size", &O::buffer_size,
            "records kept in memory per partition (the retention without a data dir)",
            {.min = 1, .max = 1'000'000'000}),
      Param("kafkaserver.buffer_bytes", &O::buffer_bytes,
            "bytes of record batches kept in memory per partition (besides "
            "--kafkaserver-buffer-size records); bounds memory when rows or produced batches are "
            "large (0 = no byte limit)",
            {.min = 0}),
      Param("kafkaserver.session_timeout", &O::session_timeout,
            "longest consumer session timeout applied: group members not heard from within "
            "min(their session.timeout.ms, this) are removed (rebalance)",
            {.min = 1}),
  };
}

// What a record holds, where topics and offsets are stored, when events count
// as delivered.
std::vector<ParamSpec> RecordParams() {
  return {
      Param("kafkaserver.key_column", &O::key_column,
            "column whose value keys the records (looked up in the row, then the old image, else "
            "the payload's top level); default: the row's replica identity key for WAL events, "
            "then the `id` column, then the event id"),
      Param("kafkaserver.checkpoint_db", &O::checkpoint_db,
            "PostgreSQL URL storing committed offsets in pgcdc_checkpoints (default: --db, unless "
            "--kafkaserver-data-dir is set: then the data dir)"),
      Param("kafkaserver.value", &O::value,
            "record value: the event envelope JSON, or only its payload",
            {.choices = {"event", "payload"}}),
      Param("kafkaserver.compression", &O::compression,
            "codec of the record batches written for events (consumers decompress; produced "
            "batches keep their own codec)",
            {.flag = "kafkaserver-compression",
             .choices = {"none", "gzip", "snappy", "lz4", "zstd"}}),
      Param("kafkaserver.data_dir", &O::data_dir,
            "directory for segment files (topics survive restarts; consumers catch up from disk) "
            "and committed offsets; empty = memory only"),
      Param("kafkaserver.retention_bytes", &O::retention_bytes,
            "with a data dir: per partition, the oldest segment files are deleted while the "
            "partition's files exceed this many bytes (0 = keep everything)",
            {.min = 0}),
      Param("kafkaserver.ack", &O::ack,
            "when events count as delivered: committed = once every consumer group that "
            "committed offsets on the topic has committed past them (or retention evicted "
            "them); stored = once appended (fsynced with a data dir)",
            {.choices = {"committed", "stored"}}),
  };
}

// What clients see and must present.
std::vector<ParamSpec> ClientParams() {
  return {
      Param("kafkaserver.advertised_host", &O::advertised_host,
            "host announced to clients in Metadata (default: the listen host, or localhost when "
            "listening on all interfaces)"),
      Param("kafkaserver.sasl_user", &O::sasl_user,
            "require SASL/PLAIN authentication with this user name"),
      Param("kafkaserver.sasl_password", &O::sasl_password,
            "SASL/PLAIN password (with --kafkaserver-sasl-user)"),
      Param("kafkaserver.users", &O::users,
            "more SASL/PLAIN accounts, name:password each (a file keeps passwords out of ps: "
            "--kafkaserver-users-file)",
            {.flag = "kafkaserver-user"}),
      Param("kafkaserver.users_file", &O::users_file,
            "file of SASL/PLAIN accounts, one name:password per line (# comments)"),
      Param("kafkaserver.acls", &O::acls,
            "ACL rules: user:read|write|describe|all:TOPIC, "
            "user:read|describe|all:group:GROUP, user:write|describe|all:transactional_id:ID, "
            "user:describe|idempotent_write|all:cluster (names: exact, * or a prefix ending in "
            "*; user * = every user). With any rule, topics no rule grants are refused "
            "(TOPIC_AUTHORIZATION_FAILED); groups, transactional ids and the cluster only once a "
            "rule names that type (GROUP_/TRANSACTIONAL_ID_/CLUSTER_AUTHORIZATION_FAILED)",
            {.flag = "kafkaserver-acl"}),
      Param("kafkaserver.tls_cert", &O::tls_cert_file,
            "PEM certificate (chain): the listener speaks TLS"),
      Param("kafkaserver.tls_key", &O::tls_key_file, "PEM private key for --kafkaserver-tls-cert"),
      Param("kafkaserver.rebalance_delay", &O::rebalance_delay,
            "initial rebalance delay of a new consumer group (waits for more members to join; "
            "Kafka's group.initial.rebalance.delay.ms)",
            {.min = 0}),
      Param("kafkaserver.max_connections", &O::max_connections,
            "open client connections; more are closed at once (counted; 0 = unlimited)",
            {.min = 0, .max = 1'000'000}),
      Param("kafkaserver.max_request_size", &O::max_request_size,
            "largest request accepted; a bigger one closes the connection "
            "(Kafka's socket.request.max.bytes)",
            {.min = 1024, .max = int64_t{1} << 30}),
      Param("kafkaserver.idle_timeout", &O::idle_timeout,
            "close a connection (or an unfinished TLS handshake) that sends nothing for this "
            "long while no request is pending (Kafka's connections.max.idle.ms)",
            {.min = 100}),
  };
}

void Validate(const AdapterOptions& o, const Context&, Errors& errors) {
  if (auto a = net::ParseListenAddress(o.addr); !a) {
    errors.push_back("kafkaserver.addr: " + a.error().message());
  }
  if (o.sasl_user.empty() != o.sasl_password.empty()) {
    errors.push_back(
        "kafkaserver.sasl_user: --kafkaserver-sasl-user and --kafkaserver-sasl-password go "
        "together");
  }
  BrokerOptions access;
  if (auto st = ConfigureAccess(o, access); !st) errors.push_back(st.error().message());
  if (o.tls_cert_file.empty() != o.tls_key_file.empty()) {
    errors.push_back(
        "kafkaserver.tls_cert: --kafkaserver-tls-cert and --kafkaserver-tls-key go together");
  }
}

Result<AdapterPtr> Make(AdapterOptions o, const Context& ctx) {
  // SPEC default: the source database, unless offsets live in the data dir.
  if (o.checkpoint_db.empty() && o.data_dir.empty()) o.checkpoint_db = ctx.core.database_url;
  return std::make_unique<KafkaServerAdapter>(std::move(o));
}

}  // namespace

ConnectorInfo Connector() {
  return DefineAdapter<AdapterOptions>({
      .name = "kafkaserver",
      .description =
          "Built-in Kafka-protocol broker: Kafka clients (tested: kcat/librdkafka, kafkajs) "
          "consume events as records of topic <channel> (':' -> '.'), keyed by the row key and "
          "partitioned like Kafka's default partitioner; consumer groups, committed offsets, "
          "Produce, optional segment files, SASL/PLAIN and TLS.",
      .params = Params({BrokerParams(), RecordParams(), ClientParams()}),
      .validate = Validate,
      .make = Make,
  });
}

}  // namespace pgcdc::adapter::kafkaserver

PGCDC_REGISTER_CONNECTOR(adapter, kafkaserver, pgcdc::adapter::kafkaserver::Connector)
