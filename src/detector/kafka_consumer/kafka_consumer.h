// kafka_consumer source (SPEC §2.7, issue 18; docs/kafka_consumer.md):
// a member of consumer group `group` subscribed to `topics`; every record
// becomes an event (consume.h: channel pgcdc:<topic>, operation
// KAFKA_CONSUME, source kafka_consumer, created_at = the record timestamp,
// Event::key = the record key), or with unwrap the pgcdc event the record
// holds.
//
// Delivery: at-least-once, with offsets committed only after delivery
// (deliberately unlike SPEC's auto-commit on enqueue). Auto-commit is off;
// every commit_interval (and before partitions are given up, and at
// shutdown) the detector commits, per partition, the offset after the
// highest record every adapter finished with (OffsetBook). On a rebalance
// that revokes partitions it first waits (up to revoke_timeout) for their
// records in flight, commits, then lets them go; records not delivered by
// then come again to the partition's next owner. A kill -9 re-delivers at
// most what was consumed since the last commit; redelivered records keep
// their event id (derived from topic, partition and offset).
// At most max_pending records are consumed and not yet delivered: beyond
// that the assigned partitions are paused (the client keeps polling, so the
// group membership stays).
//
// Errors: no broker answering within connect_timeout at start is a
// configuration error (exit 2); later the client reconnects by itself; a
// fatal client error recreates the consumer (backoff detector.backoff_*).
// With unwrap, a record that is not a pgcdc envelope goes to the DLQ
// (counted) and its offset is committed with its neighbours.
//
// Thread: Run() and every librdkafka callback execute on the detector
// thread (callbacks are served from rd_kafka_consumer_poll).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/kafka_client.h"
#include "core/retry_policy.h"
#include "detector/consume/consume.h"
#include "detector/detector.h"

namespace pgcdc::detector::kafka_consumer {

// Also the connector's config struct (kafka_consumer.* and the shared kafka.*
// connection keys).
struct Options : client::kafka::Connection {
  std::vector<std::string> topics;
  std::string group = "pgcdc";
  std::string offset = "earliest";  // auto.offset.reset without a committed offset
  bool unwrap = false;
  bool metadata = false;
  std::vector<std::string> properties;  // extra librdkafka consumer properties
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds commit_interval{1000};
  std::chrono::milliseconds revoke_timeout{10000};
  int64_t max_pending = 10000;
  int64_t batch_size = 500;
  RetryPolicy backoff;  // detector.backoff_base / detector.backoff_cap
  // After a stop request, how long consumed events may still be delivered
  // so their offsets are committed (set from shutdown_timeout).
  std::chrono::milliseconds stop_grace{2500};
};

// The librdkafka consumer properties for `o`, in order (secrets included).
client::kafka::Properties ConsumerProperties(const Options& o);

// One consumed record, as the conversion needs it.
struct Record {
  std::string_view topic;
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestamp_ms = -1;  // -1: none (created_at = now)
  std::optional<std::string_view> key;
  std::string_view value;
  std::vector<consume::Header> headers;
};

// The event of `r` (id from topic, partition and offset); with unwrap the
// event inside it, or `unusable` set (the SPEC event is then returned, for
// the DLQ). Pure.
using consume::Converted;
Converted RecordEvent(const Record& r, const Options& o);

class KafkaConsumerDetector final : public Detector {
 public:
  explicit KafkaConsumerDetector(Options options);
  std::string_view Name() const override { return "kafka_consumer"; }
  Status Run(RunContext& ctx) override;

  struct Session;  // one consumer instance (librdkafka stays in the .cc)

 private:
  Status RunCycle(RunContext& ctx, Supervisor::Session& session);

  Options options_;
  uint64_t next_seq_ = 0;  // seqs keep rising across consumer instances
};

}  // namespace pgcdc::detector::kafka_consumer
