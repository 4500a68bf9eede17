// kafkaserver adapter (SPEC §5.14, issue 7): a built-in Kafka-protocol
// broker. Every event becomes a record of topic `channel` (':' -> '.'),
// keyed by the row's key, in partition murmur2(key) like Kafka's default
// partitioner; Kafka clients (tested: kcat/librdkafka, kafkajs) consume
// it, alone or in consumer groups with committed offsets, and may produce to
// topics too.
//
// Record: key = --kafkaserver-key-column's value (from the payload's `row`,
// then `old` image, else its top level) or, by default, the event's replica
// identity key (Event::key), then the `id` column, then the event id; value
// = the envelope JSON (or only the payload); headers pgcdc-channel,
// pgcdc-operation, pgcdc-event-id; timestamp = created_at.
//
// Acknowledgement (--kafkaserver-ack):
//  committed (default): the adapter holds events (OldestHeldSeq) until every
//    consumer group that has committed offsets on the event's topic has
//    committed past it, or retention evicted it. Topics nobody has committed
//    on hold nothing.
//  stored: events are acknowledged once appended (fsynced with a data dir).
//
// Threads: Open()/Deliver()/Flush()/OldestHeldSeq()/Close() on the adapter
// worker; Subscribers() from any thread; the server runs on its own I/O
// thread (server.h).
//
// Namespace: the broker (this folder's other files), the adapter class and the
// registry entry, Connector(), all live in pgcdc::adapter::kafkaserver, like
// every other adapter's code.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "adapter/adapter.h"
#include "codec/kafka/topic_name.h"
#include "core/metrics.h"
#include "core/mutex.h"
#include "registry/registry.h"

namespace pgcdc::adapter::kafkaserver {

class TopicStore;
class Topic;
class OffsetStore;
class Server;

// The kafkaserver section (YAML `kafkaserver:`): Connector() binds every
// kafkaserver.* key to a field; the initial values are the defaults.
struct AdapterOptions {
  std::string addr = ":9092";
  int32_t partitions = 8;
  int64_t buffer_size = 10000;        // records kept in memory per partition
  int64_t buffer_bytes = 64ll << 20;  // and at most this many bytes (0 = no byte cap)
  std::chrono::milliseconds session_timeout{30000};
  // Empty: Event::key, then the `id` column.
  std::string key_column;
  // Record value: "event" (the envelope JSON) or "payload" (only the payload).
  std::string value = "event";
  // Codec of the record batches pgcdc writes for events (consumers
  // decompress; produced batches keep the producer's codec).
  std::string compression = "none";  // none|gzip|snappy|lz4|zstd
  std::string data_dir;
  // With a data dir: the oldest segments of a partition are deleted while
  // its files exceed this many bytes (0 = keep everything).
  int64_t retention_bytes = 1ll << 30;
  // When events count as delivered: "committed" or "stored" (file comment).
  std::string ack = "committed";
  std::string advertised_host;
  std::string sasl_user;
  std::string sasl_password;
  // More SASL/PLAIN accounts ("name:password"), and a file of them; ACL
  // rules "user:operation:topic", "user:operation:group|transactional_id|
  // topic:NAME", "user:operation:cluster" (acl.h).
  std::vector<std::string> users;
  std::string users_file;
  std::vector<std::string> acls;
  std::string tls_cert_file;
  std::string tls_key_file;
  std::chrono::milliseconds rebalance_delay{3000};
  // Listener limits (ServerOptions).
  int64_t max_connections = 1024;
  int64_t max_request_size = 100 * 1024 * 1024;
  std::chrono::milliseconds idle_timeout{540'000};
  // Where committed offsets live: a PostgreSQL URL (pgcdc_checkpoints), else
  // the data dir's __consumer_offsets.json, else memory. The connector fills
  // in database_url when both this and data_dir are empty (SPEC default).
  std::string checkpoint_db;
};

// "pgcdc:orders" -> "pgcdc.orders" (shared with the kafka producer sink).
using codec::kafka::TopicForChannel;

// The record key of an event (see the file comment). `key_column` empty =
// the default order.
std::string RecordKey(const Event& event, std::string_view key_column);

class KafkaServerAdapter final : public Adapter {
 public:
  explicit KafkaServerAdapter(AdapterOptions options);
  ~KafkaServerAdapter() override;

  std::string_view Name() const override { return "kafkaserver"; }
  // Opens the topic store (recovering a data dir), the offset store, binds
  // and starts serving.
  Status Open() override;
  Status Deliver(std::span<const Event* const> events) override;
  std::optional<uint64_t> OldestHeldSeq() const override;
  // With ack=committed: consumer groups that asked for their committed
  // offsets (OffsetFetch) and so hold records until they commit; with
  // ack=stored: open client connections. `pgcdc snapshot -a kafkaserver`
  // waits for one before it exports, so no row is acknowledged before a
  // consumer can receive it. 0 before Open() and after Close(). Thread-safe:
  // called from other threads while the worker opens and closes the server.
  std::optional<size_t> Subscribers() const override;
  void Close() override;

  // For tests: the bound listen address after Open().
  const std::string& BoundAddress() const { return bound_; }
  TopicStore* topics() const { return topics_.get(); }
  OffsetStore* offsets() const { return offsets_.get(); }

 private:
  Result<Topic*> TopicFor(const std::string& channel);

  AdapterOptions options_;
  // Resolved from options_.value / options_.ack once.
  bool payload_values_ = false;
  bool hold_until_committed_ = true;
  metrics::Counter& records_metric_;  // events appended by Deliver()
  metrics::Gauge& held_metric_;       // OldestHeldSeq() (0 = none held)
  std::unique_ptr<TopicStore> topics_;
  std::unique_ptr<OffsetStore> offsets_;
  // Set in Open() and reset in Close(); Subscribers() reads it from another
  // thread.
  mutable Mutex server_mu_;
  std::unique_ptr<Server> server_ GUARDED_BY(server_mu_);
  std::string bound_;
  // Worker-thread caches.
  std::unordered_map<std::string, std::shared_ptr<Topic>> topic_cache_;
};

// The registry entry: parameters bound to AdapterOptions.
ConnectorInfo Connector();

}  // namespace pgcdc::adapter::kafkaserver
