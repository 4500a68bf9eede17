#include "adapter/encoding/sink_encoder.h"

namespace pgcdc::encoding {

namespace {

std::string_view SchemaType(Format f) { return f == Format::kProtobuf ? "PROTOBUF" : "AVRO"; }

}  // namespace

SinkEncoder::SinkEncoder(std::string adapter, const Settings& settings)
    : adapter_(std::move(adapter)),
      settings_(settings),
      encoded_(metrics::AdapterCounter("pgcdc_encoding_encoded_total",
                                       "Values encoded as Avro or Protobuf.", adapter_)),
      errors_(metrics::AdapterCounter(
          "pgcdc_encoding_errors_total",
          "Values that could not be encoded (dead-lettered, or held while the schema registry "
          "is unreachable).",
          adapter_)) {
  auto e = Encoder::Open(settings_.format, settings_.registry);
  if (e) {
    encoder_ = std::move(*e);
  } else {
    open_error_ = e.error();
  }
}

SinkEncoder::~SinkEncoder() = default;

std::string_view SinkEncoder::content_type() const {
  return encoder_ ? encoder_->content_type() : std::string_view("application/json");
}

Status SinkEncoder::Open() {
  if (open_error_) return Fail(open_error_->Wrap(adapter_));
  if (passthrough() || settings_.registry.url.empty()) return Ok();
  auto reg = SchemaRegistry::Open({.url = settings_.registry.url,
                                   .username = settings_.registry.username,
                                   .password = settings_.registry.password});
  if (!reg) return Fail(reg.error().Wrap(adapter_));
  if (auto st = (*reg)->Check(SchemaType(settings_.format)); !st) {
    return Fail(st.error().Wrap(adapter_));
  }
  return Ok();
}

std::expected<void, EncodeFailure> SinkEncoder::Encode(const Event& event, std::string_view json,
                                                       std::string& out) {
  out.clear();
  const Status st = encoder_->Encode(event, json, out);
  if (st) {
    encoded_.Inc();
    return {};
  }
  errors_.Inc();
  EncodeFailure f;
  f.message = std::string(FormatName(settings_.format)) + " encoding: " + st.error().message();
  switch (st.error().code()) {
    case ErrorCode::kInvalidArgument:
      f.kind = EncodeFailure::Kind::kDeadLetter;
      break;
    case ErrorCode::kCancelled:
      f.kind = EncodeFailure::Kind::kCancelled;
      break;
    default:  // connection, timeout, 5xx, a malformed registry answer
      f.kind = EncodeFailure::Kind::kRetry;
      break;
  }
  return std::unexpected(std::move(f));
}

void SinkEncoder::Interrupt() {
  if (encoder_) encoder_->Interrupt();
}

std::vector<std::string> ValidateSettings(const Settings& s) {
  std::vector<std::string> errors;
  if (s.registry.url.empty()) {
    if (!s.registry.username.empty() || !s.registry.password.empty()) {
      errors.push_back(
          "encoding.schema_registry_username: needs encoding.schema_registry_url "
          "(--schema-registry-url)");
    }
    return errors;
  }
  if (auto r = SchemaRegistry::Open({.url = s.registry.url}); !r) {
    errors.push_back("encoding.schema_registry_url: " + r.error().message());
  }
  return errors;
}

}  // namespace pgcdc::encoding
