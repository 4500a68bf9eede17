// The encoding parameters of a messaging sink, declared once:
//
//   <sink>.encoding                    --<sink>-encoding           json | avro | protobuf
//   encoding.schema_registry_url       --schema-registry-url       (shared by all sinks)
//   encoding.schema_registry_username  --schema-registry-username
//   encoding.schema_registry_password  --schema-registry-password
//
// A sink keeps an encoding::Settings member in its config struct and splices
// these in with EncodingParams<Cfg>("kafka", &Cfg::encoding); then
// Encoder::Open(settings.format, settings.registry).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "adapter/encoding/encoder.h"
#include "registry/define.h"

namespace pgcdc::encoding {

template <class Cfg, class Proj>
std::vector<ParamSpec> EncodingParams(const std::string& sink, Proj settings) {
  auto reg = [settings](auto member) {
    return [ settings, member ](auto& c) -> auto& {
      return std::invoke(settings, c).registry.*member;
    };
  };
  return {
      ParamEnumAt<Cfg>(
          sink + ".encoding",
          [settings](auto& c) -> auto& { return std::invoke(settings, c).format; },
          {{"json", Format::kJson}, {"avro", Format::kAvro}, {"protobuf", Format::kProtobuf}},
          "value encoding: json (as is), avro (typed per table, docs/encodings.md) or protobuf "
          "(pgcdc.plugin.v1.Event)",
          {.flag = sink + "-encoding"}),
      ParamAt<Cfg>("encoding.schema_registry_url", reg(&RegistrySettings::url),
                   "Confluent Schema Registry for avro/protobuf values (adds the wire-format "
                   "header with the schema id)",
                   {.flag = "schema-registry-url"}),
      ParamAt<Cfg>("encoding.schema_registry_username", reg(&RegistrySettings::username),
                   "Schema Registry basic-auth user", {.flag = "schema-registry-username"}),
      ParamAt<Cfg>("encoding.schema_registry_password", reg(&RegistrySettings::password),
                   "Schema Registry basic-auth password", {.flag = "schema-registry-password"}),
  };
}

}  // namespace pgcdc::encoding
