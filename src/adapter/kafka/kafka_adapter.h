// kafka adapter (SPEC §5.13, issue 14): produces every event as a Kafka
// record with librdkafka (acks=all, idempotent producer). Record layout:
// record.h.
//
// Delivery (docs/kafka.md):
//  - Deliver() hands records to the producer without waiting (many in flight,
//    up to max_in_flight); an event is acknowledged to the pipeline only once
//    the broker confirmed it and every event before it (OldestHeldSeq()).
//  - librdkafka retries transient errors itself until delivery_timeout. A
//    record that still fails with a transient error is not dropped: the
//    adapter waits for the records in flight to settle, backs off
//    (backoff_base … backoff_cap) and produces it again — together with any
//    later record of the same key that already landed, so each key's newest
//    record stays the newest. Meanwhile nothing new is produced.
//  - A record the broker will never take (too large, invalid, not
//    authorised, unknown topic) goes to the DLQ with the broker's error and
//    is then acknowledged. If the DLQ fails the adapter fails (no ack).
//  - A fatal producer error (idempotence state lost) recreates the producer
//    and produces every unconfirmed record again.
//  - Encodings (avro, protobuf): the value is encoded before the record is
//    made (encoding::SinkEncoder). A value that can never be encoded goes to
//    the DLQ like a rejected record; while the schema registry is
//    unreachable the event is held (backoff, producer served meanwhile).
//  - Rate limit: a token per new record (not for records produced again).
//    Circuit breaker: cb_max_failures consecutive failed records open it;
//    while open, failed records are not produced again until
//    cb_reset_timeout passed, then the oldest one alone goes as a probe.
//  - Health: degraded while every broker is down or records are failing, up
//    again when the broker answers.
//  - Close() waits up to drain_timeout for records in flight.
//  - With a transactional id: kafka_transactions.h (exactly-once).
//
// Threads: everything runs on the adapter worker (delivery reports are served
// by polling the producer there), except Interrupt() (any thread) and
// librdkafka's log callback (its own threads).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapter/adapter.h"
#include "adapter/encoding/encoder.h"
#include "adapter/kafka/record.h"
#include "adapter/middleware/middleware.h"
#include "client/kafka_client.h"
#include "core/backoff.h"
#include "registry/registry.h"

namespace pgcdc::adapter::kafka {

// The kafka section (YAML `kafka:`); Connector() binds every kafka.* key to
// a field. Initial values are the defaults.
// The connection keys (kafka.brokers, kafka.sasl_*, kafka.tls*) are the
// shared ones of client/kafka_client.h.
struct Options : client::kafka::Connection {
  std::string topic;             // empty: one topic per channel
  std::string transactional_id;  // non-empty: exactly-once transactions
  // Value encoding and schema registry (docs/encodings.md).
  encoding::Settings encoding;
  KeyMode key = KeyMode::kPk;
  ValueMode value = ValueMode::kPayload;
  BackoffPolicy backoff{std::chrono::seconds(1), std::chrono::seconds(30),
                        std::chrono::milliseconds(100)};
  // Records produced and not yet confirmed (and acknowledged) at most.
  size_t max_in_flight = 10000;
  std::chrono::milliseconds linger{5};                 // linger.ms
  std::chrono::milliseconds delivery_timeout{300000};  // message.timeout.ms (0 = infinite)
  int64_t max_message_bytes = 1000000;                 // message.max.bytes
  std::string compression = "none";                    // none|gzip|snappy|lz4|zstd
  std::chrono::milliseconds connect_timeout{10000};    // start-up broker check
  std::chrono::milliseconds drain_timeout{30000};      // Close() waits this long
  // Extra librdkafka producer properties, "name=value" each.
  std::vector<std::string> properties;
  // Exactly-once (with transactional_id).
  std::string offsets_topic = "__pgcdc_offsets";
  size_t transaction_max_events = 5000;                  // events per Kafka transaction at most
  std::chrono::milliseconds transaction_timeout{60000};  // transaction.timeout.ms
  // Circuit breaker and rate limit (kafka.cb_*, kafka.rate_limit*): only
  // breaker_failures, breaker_reset, rate_limit and rate_burst are used.
  middleware::Options flow;
};

// The librdkafka producer properties for `o`, in order (name, value); the
// secrets are included. Pure; unit tested.
std::vector<std::pair<std::string, std::string>> ProducerProperties(const Options& o);

// The connection and security properties (bootstrap servers, TLS, SASL, the
// extra properties): shared by the producer and the offsets reader.
std::vector<std::pair<std::string, std::string>> ClientProperties(const Options& o);

// Checks what the loader cannot (cross-field rules, property syntax, and
// that librdkafka accepts every property). One message per problem.
std::vector<std::string> ValidateOptions(const Options& o);

class KafkaAdapter final : public Adapter {
 public:
  explicit KafkaAdapter(Options options);
  ~KafkaAdapter() override;
  KafkaAdapter(const KafkaAdapter&) = delete;
  KafkaAdapter& operator=(const KafkaAdapter&) = delete;

  std::string_view Name() const override { return "kafka"; }
  Status Attach(const Services& services) override;
  // Creates the producer and checks that a broker answers within
  // connect_timeout.
  Status Open() override;
  Status Deliver(std::span<const Event* const> events) override;
  Status Flush() override;
  std::optional<uint64_t> OldestHeldSeq() const override;
  void Interrupt() override;
  void Close() override;

  struct Impl;  // librdkafka stays in the .cc

 private:
  std::unique_ptr<Impl> impl_;
};

ConnectorInfo Connector();

}  // namespace pgcdc::adapter::kafka
