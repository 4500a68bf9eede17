#include "adapter/kafka/record.h"

#include <librdkafka/rdkafka.h>

#include "codec/kafka/topic_name.h"

namespace pgcdc::adapter::kafka {

std::string TopicFor(const Event& event, std::string_view fixed_topic) {
  if (!fixed_topic.empty()) return std::string(fixed_topic);
  return codec::kafka::TopicForChannel(event.channel);
}

std::string_view RecordKey(const Event& event, KeyMode mode, std::string_view event_id) {
  if (mode == KeyMode::kPk && !event.key.empty()) return event.key;
  return event_id;
}

std::array<Header, 4> RecordHeaders(const Event& event, std::string_view event_id,
                                    std::string_view content_type) {
  return {{{"pgcdc-channel", event.channel},
           {"pgcdc-operation", event.operation},
           {"pgcdc-event-id", event_id},
           {"content-type", content_type}}};
}

Failure ClassifyError(int err, bool fatal) {
  if (fatal) return Failure::kFatal;
  switch (static_cast<rd_kafka_resp_err_t>(err)) {
    // The producer instance cannot go on (idempotence / transactions).
    case RD_KAFKA_RESP_ERR__FATAL:
    case RD_KAFKA_RESP_ERR__FENCED:
    case RD_KAFKA_RESP_ERR_PRODUCER_FENCED:
    case RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH:
    case RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
      return Failure::kFatal;
    // This record will never be accepted: too large, malformed, not allowed,
    // or its topic does not exist (and is not created automatically).
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_INVALID_TIMESTAMP:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT:
    case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR__BAD_MSG:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR__KEY_SERIALIZATION:
    case RD_KAFKA_RESP_ERR__VALUE_SERIALIZATION:
      return Failure::kDeadLetter;
    // Everything else is transient: timeouts, transport, leader changes,
    // not enough replicas, purges.
    default:
      return Failure::kRetry;
  }
}

}  // namespace pgcdc::adapter::kafka
