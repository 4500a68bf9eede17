// The exactly-once position store of the kafka sink: a compacted topic
// (kafka.offsets_topic, default __pgcdc_offsets) holding one record per
// transactional id, written inside each Kafka transaction (position.h for
// the value). Reading it back happens once at start-up, after the producer
// fenced older instances (init_transactions), with an isolation.level =
// read_committed consumer, so a position from an aborted transaction is
// never seen.
//
// librdkafka stays in the .cc. Runs on the adapter worker at Open().
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/uuid.h"

namespace pgcdc::adapter::kafka {

struct OffsetsTopic {
  // Connection and security properties (bootstrap.servers, security.*,
  // sasl.*, ssl.*, the user's extra properties).
  std::vector<std::pair<std::string, std::string>> client_properties;
  std::string topic;
  std::string transactional_id;
  std::chrono::milliseconds timeout{10000};
};

// Creates the topic (1 partition, cleanup.policy=compact) when it does not
// exist. Brokers without the CreateTopics API (or without the permission)
// leave it to auto-creation: the failure is logged, not returned, unless the
// brokers cannot be reached at all.
Status EnsureOffsetsTopic(const OffsetsTopic& t);

// The position last committed by `t.transactional_id`: the event id of the
// newest record with that key, or nullopt when there is none (first run).
// Fails when the topic cannot be read within the timeout (the caller must
// not guess: skipping too little duplicates, too much loses).
Result<std::optional<Uuid>> ReadCommittedPosition(const OffsetsTopic& t);

}  // namespace pgcdc::adapter::kafka
