// How the kafka sink turns an event into a Kafka record, and what it does
// about a failed one (SPEC §5.13; pure functions, unit tested).
//
//   topic   --kafka-topic, or the channel with ':' -> '.' (pgcdc:orders ->
//           pgcdc.orders; characters Kafka does not allow become '_')
//   key     pk (default): the row's key (Event::key: the replica identity
//           key of a WAL row), so a row's changes share a partition and stay
//           in order; the event id when the event has no key.
//           id: the event id (SPEC's behaviour).
//   value   payload (default, SPEC): the event payload JSON.
//           envelope: the whole event JSON (Event::Json()).
//           Either one encoded with --kafka-encoding (docs/encodings.md).
//   headers pgcdc-channel, pgcdc-operation, pgcdc-event-id,
//           content-type (application/json, or the encoding's)
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "core/event.h"

namespace pgcdc::adapter::kafka {

enum class KeyMode { kPk, kId };
enum class ValueMode { kPayload, kEnvelope };

// The topic of `event`: `fixed_topic` when set, else from the channel.
std::string TopicFor(const Event& event, std::string_view fixed_topic);

// The record key; `event_id` is the event id as text.
std::string_view RecordKey(const Event& event, KeyMode mode, std::string_view event_id);

struct Header {
  std::string_view name;
  std::string_view value;
};
// The four headers, in this order: pgcdc-channel, pgcdc-operation,
// pgcdc-event-id, content-type (the encoding's: application/json,
// application/avro, application/x-protobuf). Views into the arguments.
std::array<Header, 4> RecordHeaders(const Event& event, std::string_view event_id,
                                    std::string_view content_type);

// What a failed record needs.
enum class Failure {
  kRetry,       // transient (broker down, timeout, leader change, …): produce it again
  kDeadLetter,  // the broker (or the client) will never accept this record: DLQ it
  kFatal,       // the producer instance is unusable (idempotence/transaction state)
};
// Classifies a librdkafka error code (rd_kafka_resp_err_t as int).
// `fatal` is rd_kafka_fatal_error()'s verdict for the instance.
Failure ClassifyError(int err, bool fatal);

}  // namespace pgcdc::adapter::kafka
