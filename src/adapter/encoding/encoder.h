// The value encoder the messaging sinks share (`--kafka-encoding`,
// `--nats-encoding`; SPEC §10.3):
//
//   json      the bytes the sink sends anyway (Kafka: the payload; NATS: the
//             envelope), unchanged
//   avro      a typed record per table (avro.h), or the opaque record
//   protobuf  the pgcdc.plugin.v1.Event message (protobuf.h)
//
// With a schema registry (`encoding.schema_registry_url`) avro and protobuf
// values get the Confluent wire-format header with the registered schema id
// (subject = channel as topic name + "-value"); without one the raw bytes go
// out. One Encoder per sink worker (not thread-safe).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "adapter/encoding/avro.h"
#include "adapter/encoding/registry.h"
#include "core/error.h"
#include "core/event.h"

namespace pgcdc::encoding {

enum class Format { kJson, kAvro, kProtobuf };

struct RegistrySettings {
  std::string url;  // empty: no registry
  std::string username;
  std::string password;
};

// A sink's encoding settings (declared by EncodingParams, params.h).
struct Settings {
  Format format = Format::kJson;
  RegistrySettings registry;
};

std::string_view FormatName(Format format);  // "json", "avro", "protobuf"

class Encoder {
 public:
  static Result<std::unique_ptr<Encoder>> Open(Format format, const RegistrySettings& registry);
  ~Encoder();

  // Appends the encoded value of `event` to `out`; `json` is what JSON mode
  // sends (and what the opaque Avro record and the protobuf payload carry).
  // Errors leave `out` as it was: kInvalidArgument (a value the schema cannot
  // hold, a schema the registry refuses: dead-letter the event) or
  // kConnection (the registry is unreachable: retry).
  Status Encode(const Event& event, std::string_view json, std::string& out);
  std::string_view content_type() const;
  Format format() const { return format_; }
  void Interrupt();

 private:
  Encoder() = default;
  Format format_ = Format::kJson;
  std::unique_ptr<SchemaRegistry> registry_;
  avro::SchemaCache schemas_;
};

}  // namespace pgcdc::encoding
