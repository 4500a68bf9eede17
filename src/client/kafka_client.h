// Kafka client pieces shared by the kafka sink (adapter/kafka) and the
// kafka_consumer source (detector/kafka_consumer): the connection keys both
// declare (kafka.brokers, kafka.sasl_*, kafka.tls, kafka.tls_ca_file; SPEC
// §2.7 "shared with Kafka adapter"), the librdkafka properties they map to,
// and building a librdkafka configuration from properties. Pure apart from
// librdkafka's configuration object; any thread.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"
#include "registry/define.h"

struct rd_kafka_conf_s;

namespace pgcdc::client::kafka {

// The shared connection settings. A connector's config struct derives from
// it, so its fields keep their plain names (o.brokers).
struct Connection {
  std::string brokers = "localhost:9092";  // comma-separated host:port list
  std::string sasl_mechanism;              // "", plain, scram-sha-256, scram-sha-512
  std::string sasl_username;
  std::string sasl_password;
  bool tls = false;
  std::string tls_ca_file;
};

using Properties = std::vector<std::pair<std::string, std::string>>;

// bootstrap.servers, security.protocol, SASL and CA properties of `c`, then
// each "name=value" of `extra` (so they override pgcdc's); secrets included.
Properties ConnectionProperties(const Connection& c, std::span<const std::string> extra);

// "name=value" -> (name, value); nullopt without '=' or with an empty name.
std::optional<std::pair<std::string, std::string>> SplitProperty(std::string_view p);

// Properties that hold secrets: never echoed in messages.
bool SecretProperty(std::string_view name);

// The rules of the shared keys (brokers present, SASL user with a mechanism,
// CA file only with TLS) and of `extra_key` (each entry name=value). `user`
// names who needs them ("adapter kafka", "detector kafka_consumer").
void ValidateConnection(const Connection& c, std::string_view user,
                        const std::vector<std::string>& extra, std::string_view extra_key,
                        std::vector<std::string>& errors);

struct ConfDeleter {
  void operator()(rd_kafka_conf_s* c) const;
};
using ConfPtr = std::unique_ptr<rd_kafka_conf_s, ConfDeleter>;

// A librdkafka configuration with every property set; a kConfig error names
// the property librdkafka rejected (its value unless it is a secret).
Result<ConfPtr> BuildConf(const Properties& properties);

// The declarations of the shared keys, for a config struct Cfg deriving from
// Connection. Every connector that uses them declares them through this, so
// they stay alike (RegistryTest.SharedKeysMustBeDeclaredAlike).
template <class Cfg>
std::vector<ParamSpec> ConnectionParams() {
  static_assert(std::is_base_of_v<Connection, Cfg>);
  auto field = [](auto member) { return Nested([](Cfg& c) -> Connection& { return c; }, member); };
  return {
      ParamAt<Cfg>("kafka.brokers", field(&Connection::brokers),
                   "bootstrap brokers, host:port[,host:port...]"),
      ParamAt<Cfg>("kafka.sasl_mechanism", field(&Connection::sasl_mechanism),
                   "SASL mechanism (default: none)",
                   {.choices = {"plain", "scram-sha-256", "scram-sha-512"}}),
      ParamAt<Cfg>("kafka.sasl_username", field(&Connection::sasl_username), "SASL user name"),
      ParamAt<Cfg>("kafka.sasl_password", field(&Connection::sasl_password), "SASL password"),
      ParamAt<Cfg>("kafka.tls", field(&Connection::tls), "connect with TLS"),
      ParamAt<Cfg>("kafka.tls_ca_file", field(&Connection::tls_ca_file),
                   "PEM CA bundle to verify the brokers with (default: system store)"),
  };
}

}  // namespace pgcdc::client::kafka
