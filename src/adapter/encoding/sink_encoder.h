// SinkEncoder: what the messaging sinks (kafka, nats) share around Encoder —
// the start-up check of the schema registry, the verdict on a value that
// could not be encoded, the metrics, and the validation of the settings.
//
//   json      passthrough(): the sink sends its bytes unchanged and never
//             calls Encode()
//   avro,     Encode() writes the value; a failure is
//   protobuf    kDeadLetter  the value can never be encoded (a column value
//                            the Avro type cannot hold, a schema the registry
//                            refuses with 4xx): the sink dead-letters the
//                            event with the message
//               kRetry       the registry is unreachable or failing (5xx,
//                            timeout): the sink holds the event, backs off
//                            and encodes it again — nothing is dropped
//               kCancelled   interrupted (shutdown)
//
// Metrics: pgcdc_encoding_encoded_total{adapter},
// pgcdc_encoding_errors_total{adapter} (every failed Encode(), whatever the
// verdict), and the registry's pgcdc_schema_registry_* (registry.cc).
//
// Thread: one (the sink's worker), except Interrupt() (any thread).
#pragma once

#include <expected>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapter/encoding/encoder.h"
#include "core/metrics.h"

namespace pgcdc::encoding {

struct EncodeFailure {
  enum class Kind { kDeadLetter, kRetry, kCancelled };
  Kind kind = Kind::kRetry;
  std::string message;
};

class SinkEncoder {
 public:
  // `adapter` names the sink in metrics and messages.
  SinkEncoder(std::string adapter, const Settings& settings);
  ~SinkEncoder();

  bool passthrough() const { return settings_.format == Format::kJson; }
  Format format() const { return settings_.format; }
  // "application/json", "application/avro" or "application/x-protobuf".
  std::string_view content_type() const;

  // Start-up: with a registry, checks that it answers and accepts the
  // format's schema type. The error names the registry (host and path; no
  // credentials).
  Status Open();

  // Replaces `out` with the encoded value of `event`; `json` is what the
  // sink would send in JSON mode (Kafka: the payload or envelope; NATS: the
  // envelope). Requires !passthrough().
  std::expected<void, EncodeFailure> Encode(const Event& event, std::string_view json,
                                            std::string& out);

  void Interrupt();

 private:
  std::string adapter_;
  Settings settings_;
  std::unique_ptr<Encoder> encoder_;
  std::optional<Error> open_error_;  // when encoder_ could not be made
  metrics::Counter& encoded_;
  metrics::Counter& errors_;
};

// The settings' problems, one message each (keys as in params.h): an
// unusable registry URL, credentials without a URL.
std::vector<std::string> ValidateSettings(const Settings& settings);

}  // namespace pgcdc::encoding
