#include "adapter/encoding/encoder.h"

#include "adapter/encoding/protobuf.h"
#include "core/enum_names.h"

namespace pgcdc::encoding {

namespace {

constexpr EnumNames<Format, Format::kProtobuf> kFormatNames({"json", "avro", "protobuf"}, "json");
constexpr EnumNames<Format, Format::kProtobuf> kContentTypes(
    {"application/json", "application/avro", "application/x-protobuf"}, "application/json");

}  // namespace

Result<std::unique_ptr<Encoder>> Encoder::Open(Format format, const RegistrySettings& registry) {
  std::unique_ptr<Encoder> e(new Encoder());
  e->format_ = format;
  if (format != Format::kJson && !registry.url.empty()) {
    auto r = SchemaRegistry::Open(
        {.url = registry.url, .username = registry.username, .password = registry.password});
    if (!r) return Fail(r.error());
    e->registry_ = std::move(*r);
  }
  return e;
}

Encoder::~Encoder() = default;

std::string_view FormatName(Format format) { return kFormatNames(format); }

void Encoder::Interrupt() {
  if (registry_) registry_->Interrupt();
}

std::string_view Encoder::content_type() const { return kContentTypes(format_); }

Status Encoder::Encode(const Event& event, std::string_view json, std::string& out) {
  const size_t start = out.size();
  switch (format_) {
    case Format::kJson:
      out.append(json);
      return Ok();
    case Format::kAvro: {
      auto schema = schemas_.For(event);
      if (registry_) {
        auto id = registry_->Register(SubjectFor(event.channel), schema->json, "AVRO");
        if (!id) return Fail(id.error());
        avro::AppendConfluentHeader(*id, out);
      }
      Status st = Ok();
      if (schema->opaque) {
        avro::AppendBytes(json, out);
      } else {
        st = avro::Encode(event, *schema, out);
      }
      if (!st) out.resize(start);
      return st;
    }
    case Format::kProtobuf:
      if (registry_) {
        auto id =
            registry_->Register(SubjectFor(event.channel), protobuf::EventProto(), "PROTOBUF");
        if (!id) return Fail(id.error());
        protobuf::AppendConfluentHeader(*id, out);
      }
      protobuf::Encode(event, json, out);
      return Ok();
  }
  return Ok();
}

}  // namespace pgcdc::encoding
