#include "adapter/kafkaserver/kafkaserver_adapter.h"

#include <algorithm>
#include <limits>
#include <map>
#include <vector>

#include "adapter/kafkaserver/offset_store.h"
#include "adapter/kafkaserver/server.h"
#include "adapter/kafkaserver/topic_store.h"
#include "codec/kafka/murmur2.h"
#include "codec/kafka/record_batch.h"
#include "config/config.h"
#include "core/log.h"
#include "core/metrics.h"
#include "net/http_server.h"
#include "transform/payload.h"

namespace pgcdc::kafkaserver {

namespace k = codec::kafka;
using std::chrono::duration_cast;
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

bool TopicChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

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

struct AdapterMetrics {
  metrics::Counter& records =
      metrics::Default()
          .AddCounter("pgcdc_kafkaserver_records_stored_total",
                      "Events appended to the broker's topics by the adapter")
          .Get();
  metrics::Gauge& held =
      metrics::Default()
          .AddGauge("pgcdc_kafkaserver_oldest_held_seq",
                    "Oldest event sequence held for consumer groups (0 = none held)")
          .Get();
};

AdapterMetrics& Metrics() {
  static AdapterMetrics m;
  return m;
}

}  // namespace

std::string TopicForChannel(std::string_view channel) {
  std::string out;
  out.reserve(channel.size());
  for (char c : channel) {
    if (c == ':') {
      out.push_back('.');
    } else {
      out.push_back(TopicChar(c) ? c : '_');
    }
  }
  if (out.size() > 249) out.resize(249);
  if (out.empty() || out == "." || out == "..") out = "_" + out;
  return out;
}

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

KafkaServerAdapter::KafkaServerAdapter(AdapterOptions options) : options_(std::move(options)) {}

KafkaServerAdapter::~KafkaServerAdapter() { Close(); }

Status KafkaServerAdapter::Open() {
  auto addr = net::ParseListenAddress(options_.addr);
  if (!addr) return Fail(addr.error().Wrap("kafkaserver"));

  TopicStoreOptions to;
  to.data_dir = options_.data_dir;
  to.default_partitions = options_.partitions;
  to.auto_create = true;
  to.log.buffer_records = options_.buffer_size;
  to.log.buffer_bytes = options_.buffer_bytes;
  to.log.leader_epoch = 0;
  to.log.retention_bytes = options_.retention_bytes;
  to.log.fsync = !options_.data_dir.empty() && options_.ack == AdapterOptions::Ack::kStored;
  auto topics = TopicStore::Open(std::move(to));
  if (!topics) return Fail(topics.error().Wrap("kafkaserver: topic store"));
  topics_ = std::move(*topics);

  if (!options_.checkpoint_db.empty()) {
    auto o = OffsetStore::OpenPostgres(options_.checkpoint_db);
    if (!o) return Fail(o.error().Wrap("kafkaserver: committed offsets (PostgreSQL)"));
    offsets_ = std::move(*o);
  } else if (!options_.data_dir.empty()) {
    auto o = OffsetStore::OpenFile(options_.data_dir);
    if (!o) return Fail(o.error().Wrap("kafkaserver: committed offsets"));
    offsets_ = std::move(*o);
  } else {
    offsets_ = OffsetStore::InMemory();
  }

  ServerOptions so;
  so.host = addr->host;
  so.port = addr->port;
  so.tls_cert_file = options_.tls_cert_file;
  so.tls_key_file = options_.tls_key_file;
  so.broker.advertised_host = options_.advertised_host;
  so.broker.advertised_port = 0;
  so.broker.sasl = !options_.sasl_user.empty();
  so.broker.sasl_user = options_.sasl_user;
  so.broker.sasl_password = options_.sasl_password;
  so.broker.session_timeout_cap = options_.session_timeout;
  so.broker.groups.initial_rebalance_delay = options_.rebalance_delay;
  so.broker.groups.min_session_timeout =
      std::min<milliseconds>(so.broker.groups.min_session_timeout, options_.session_timeout);
  server_ = std::make_unique<Server>(std::move(so), *topics_, offsets_.get());
  auto bound = server_->Start();
  if (!bound) {
    server_.reset();
    return Fail(bound.error());
  }
  bound_ = *bound;
  log::Info("kafkaserver: serving",
            {{"addr", bound_},
             {"advertised", server_->Advertised()},
             {"partitions", static_cast<int64_t>(options_.partitions)},
             {"offsets", std::string(offsets_->backend_name())},
             {"data_dir", options_.data_dir.empty() ? "(memory)" : options_.data_dir},
             {"ack", options_.ack == AdapterOptions::Ack::kCommitted ? "committed" : "stored"}});
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
    r.value = options_.value == AdapterOptions::Value::kPayload ? e->payload : e->Json();
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
    Metrics().records.Inc(g.records.size());
    batch = std::string();
  }
  return Ok();
}

std::optional<uint64_t> KafkaServerAdapter::OldestHeldSeq() const {
  if (options_.ack != AdapterOptions::Ack::kCommitted || !topics_ || !offsets_) {
    return std::nullopt;
  }
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
    Metrics().held.Set(0);
    return std::nullopt;
  }
  Metrics().held.Set(static_cast<double>(oldest));
  return oldest;
}

void KafkaServerAdapter::Close() {
  if (server_) {
    server_->Stop();
    server_.reset();
  }
}

// ---------------------------------------------------------------------------

namespace {

Result<AdapterOptions> OptionsFrom(const config::Config& cfg) {
  AdapterOptions o;
  o.addr = cfg.GetString("kafkaserver.addr");
  o.partitions = static_cast<int32_t>(cfg.GetInt("kafkaserver.partition_count"));
  o.buffer_size = cfg.GetInt("kafkaserver.buffer_size");
  o.buffer_bytes = cfg.GetInt("kafkaserver.buffer_bytes");
  o.session_timeout = duration_cast<milliseconds>(cfg.GetDuration("kafkaserver.session_timeout"));
  o.key_column = cfg.GetString("kafkaserver.key_column");
  o.value = cfg.GetString("kafkaserver.value") == "payload" ? AdapterOptions::Value::kPayload
                                                            : AdapterOptions::Value::kEvent;
  o.compression = cfg.GetString("kafkaserver.compression");
  o.data_dir = cfg.GetString("kafkaserver.data_dir");
  o.retention_bytes = cfg.GetInt("kafkaserver.retention_bytes");
  o.ack = cfg.GetString("kafkaserver.ack") == "stored" ? AdapterOptions::Ack::kStored
                                                       : AdapterOptions::Ack::kCommitted;
  o.advertised_host = cfg.GetString("kafkaserver.advertised_host");
  o.sasl_user = cfg.GetString("kafkaserver.sasl_user");
  o.sasl_password = cfg.GetString("kafkaserver.sasl_password");
  o.tls_cert_file = cfg.GetString("kafkaserver.tls_cert");
  o.tls_key_file = cfg.GetString("kafkaserver.tls_key");
  o.rebalance_delay = duration_cast<milliseconds>(cfg.GetDuration("kafkaserver.rebalance_delay"));
  o.checkpoint_db = cfg.GetString("kafkaserver.checkpoint_db");
  // SPEC default: the source database, unless offsets live in the data dir.
  if (o.checkpoint_db.empty() && o.data_dir.empty())
    o.checkpoint_db = cfg.GetString("database_url");
  return o;
}

}  // namespace

ConnectorInfo Connector() {
  ConnectorInfo info;
  info.kind = ConnectorKind::kAdapter;
  info.name = "kafkaserver";
  info.description =
      "Built-in Kafka-protocol broker: Kafka clients (tested: kcat/librdkafka, kafkajs) "
      "consume events as records of topic <channel> (':' -> '.'), keyed by the row key and "
      "partitioned like Kafka's default partitioner; consumer groups, committed offsets, "
      "Produce, optional segment files, SASL/PLAIN and TLS.";
  using PT = ParamType;
  info.params = {
      {.key = "kafkaserver.addr",
       .type = PT::kString,
       .default_value = ":9092",
       .description = "listen address HOST:PORT (empty host = all interfaces)",
       .flag = "kafkaserver-addr"},
      {.key = "kafkaserver.partition_count",
       .type = PT::kInt,
       .default_value = "8",
       .description = "partitions of every topic created by the broker",
       .flag = "kafkaserver-partitions",
       .min = 1,
       .max = 10000},
      {.key = "kafkaserver.buffer_size",
       .type = PT::kInt,
       .default_value = "10000",
       .description = "records kept in memory per partition (the retention without a data dir)",
       .flag = "kafkaserver-buffer-size",
       .min = 1,
       .max = 1'000'000'000},
      {.key = "kafkaserver.buffer_bytes",
       .type = PT::kInt,
       .default_value = "67108864",
       .description = "bytes of record batches kept in memory per partition (besides "
                      "--kafkaserver-buffer-size records); bounds memory when rows or produced "
                      "batches are large (0 = no byte limit)",
       .flag = "kafkaserver-buffer-bytes",
       .min = 0},
      {.key = "kafkaserver.session_timeout",
       .type = PT::kDuration,
       .default_value = "30s",
       .description = "longest consumer session timeout applied: group members not heard from "
                      "within min(their session.timeout.ms, this) are removed (rebalance)",
       .flag = "kafkaserver-session-timeout",
       .min = 1},
      {.key = "kafkaserver.key_column",
       .type = PT::kString,
       .description = "column whose value keys the records (looked up in the row, then the old "
                      "image, else the payload's top level); default: the row's replica "
                      "identity key for WAL events, then the `id` column, then the event id",
       .flag = "kafkaserver-key-column"},
      {.key = "kafkaserver.checkpoint_db",
       .type = PT::kString,
       .description = "PostgreSQL URL storing committed offsets in pgcdc_checkpoints (default: "
                      "--db, unless --kafkaserver-data-dir is set: then the data dir)",
       .flag = "kafkaserver-checkpoint-db"},
      {.key = "kafkaserver.value",
       .type = PT::kString,
       .default_value = "event",
       .description = "record value: the event envelope JSON, or only its payload",
       .flag = "kafkaserver-value",
       .choices = {"event", "payload"}},
      {.key = "kafkaserver.compression",
       .type = PT::kString,
       .default_value = "none",
       .description = "codec of the record batches written for events (consumers decompress; "
                      "produced batches keep their own codec)",
       .flag = "kafkaserver-compression",
       .choices = {"none", "gzip", "snappy", "lz4", "zstd"}},
      {.key = "kafkaserver.data_dir",
       .type = PT::kString,
       .description = "directory for segment files (topics survive restarts; consumers catch "
                      "up from disk) and committed offsets; empty = memory only",
       .flag = "kafkaserver-data-dir"},
      {.key = "kafkaserver.retention_bytes",
       .type = PT::kInt,
       .default_value = "1073741824",
       .description = "with a data dir: per partition, the oldest segment files are deleted "
                      "while the partition's files exceed this many bytes (0 = keep everything)",
       .flag = "kafkaserver-retention-bytes",
       .min = 0},
      {.key = "kafkaserver.ack",
       .type = PT::kString,
       .default_value = "committed",
       .description = "when events count as delivered: committed = once every consumer group "
                      "that committed offsets on the topic has committed past them (or "
                      "retention evicted them); stored = once appended (fsynced with a data dir)",
       .flag = "kafkaserver-ack",
       .choices = {"committed", "stored"}},
      {.key = "kafkaserver.advertised_host",
       .type = PT::kString,
       .description = "host announced to clients in Metadata (default: the listen host, or "
                      "localhost when listening on all interfaces)",
       .flag = "kafkaserver-advertised-host"},
      {.key = "kafkaserver.sasl_user",
       .type = PT::kString,
       .description = "require SASL/PLAIN authentication with this user name",
       .flag = "kafkaserver-sasl-user"},
      {.key = "kafkaserver.sasl_password",
       .type = PT::kString,
       .description = "SASL/PLAIN password (with --kafkaserver-sasl-user)",
       .flag = "kafkaserver-sasl-password"},
      {.key = "kafkaserver.tls_cert",
       .type = PT::kString,
       .description = "PEM certificate (chain): the listener speaks TLS",
       .flag = "kafkaserver-tls-cert"},
      {.key = "kafkaserver.tls_key",
       .type = PT::kString,
       .description = "PEM private key for --kafkaserver-tls-cert",
       .flag = "kafkaserver-tls-key"},
      {.key = "kafkaserver.rebalance_delay",
       .type = PT::kDuration,
       .default_value = "3s",
       .description = "initial rebalance delay of a new consumer group (waits for more members "
                      "to join; Kafka's group.initial.rebalance.delay.ms)",
       .flag = "kafkaserver-rebalance-delay",
       .min = 0},
  };
  info.validate = [](const config::Config& cfg, std::vector<std::string>& errors) {
    if (auto a = net::ParseListenAddress(cfg.GetString("kafkaserver.addr")); !a) {
      errors.push_back("kafkaserver.addr: " + a.error().message());
    }
    if (cfg.Has("kafkaserver.sasl_user") != cfg.Has("kafkaserver.sasl_password")) {
      errors.push_back(
          "kafkaserver.sasl_user: --kafkaserver-sasl-user and --kafkaserver-sasl-password go "
          "together");
    }
    if (cfg.Has("kafkaserver.tls_cert") != cfg.Has("kafkaserver.tls_key")) {
      errors.push_back(
          "kafkaserver.tls_cert: --kafkaserver-tls-cert and --kafkaserver-tls-key go together");
    }
  };
  info.make_adapter = [](const config::Config& cfg) -> Result<adapter::AdapterPtr> {
    auto o = OptionsFrom(cfg);
    if (!o) return Fail(o.error());
    return std::make_unique<KafkaServerAdapter>(std::move(*o));
  };
  return info;
}

}  // namespace pgcdc::kafkaserver
