#include "client/kafka_client.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <cctype>

namespace pgcdc::client::kafka {

namespace {

std::string Upper(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return out;
}

}  // namespace

Properties ConnectionProperties(const Connection& c, std::span<const std::string> extra) {
  Properties p = {{"bootstrap.servers", c.brokers}};
  const bool sasl = !c.sasl_mechanism.empty();
  p.emplace_back("security.protocol",
                 std::string(sasl ? "sasl_" : "") + (c.tls ? "ssl" : "plaintext"));
  if (sasl) {
    p.emplace_back("sasl.mechanisms", Upper(c.sasl_mechanism));
    p.emplace_back("sasl.username", c.sasl_username);
    p.emplace_back("sasl.password", c.sasl_password);
  }
  if (!c.tls_ca_file.empty()) p.emplace_back("ssl.ca.location", c.tls_ca_file);
  for (const auto& e : extra) {
    if (auto kv = SplitProperty(e)) p.push_back(std::move(*kv));
  }
  return p;
}

std::optional<std::pair<std::string, std::string>> SplitProperty(std::string_view p) {
  const size_t eq = p.find('=');
  if (eq == std::string_view::npos || eq == 0) return std::nullopt;
  return std::pair{std::string(p.substr(0, eq)), std::string(p.substr(eq + 1))};
}

bool SecretProperty(std::string_view name) {
  return name.find("password") != std::string_view::npos ||
         name.find("secret") != std::string_view::npos ||
         name.find("key.pem") != std::string_view::npos;
}

void ValidateConnection(const Connection& c, std::string_view user,
                        const std::vector<std::string>& extra, std::string_view extra_key,
                        std::vector<std::string>& errors) {
  if (c.brokers.find_first_not_of(" ,") == std::string::npos) {
    errors.push_back("kafka.brokers: required for " + std::string(user) +
                     " (--kafka-brokers host:port,...)");
  }
  if (!c.sasl_mechanism.empty() && c.sasl_username.empty()) {
    errors.push_back("kafka.sasl_username: required with kafka.sasl_mechanism " + c.sasl_mechanism);
  }
  if (c.sasl_mechanism.empty() && (!c.sasl_username.empty() || !c.sasl_password.empty())) {
    errors.push_back(
        "kafka.sasl_mechanism: required with kafka.sasl_username/password (plain, "
        "scram-sha-256 or scram-sha-512)");
  }
  if (!c.tls_ca_file.empty() && !c.tls) {
    errors.push_back("kafka.tls_ca_file: needs kafka.tls (--kafka-tls)");
  }
  for (const auto& p : extra) {
    if (!SplitProperty(p)) {
      errors.push_back(std::string(extra_key) + ": \"" + p + "\" is not name=value");
    }
  }
}

void ConfDeleter::operator()(rd_kafka_conf_s* c) const { rd_kafka_conf_destroy(c); }

Result<ConfPtr> BuildConf(const Properties& properties) {
  ConfPtr conf(rd_kafka_conf_new());
  char err[512];
  for (const auto& [name, value] : properties) {
    if (rd_kafka_conf_set(conf.get(), name.c_str(), value.c_str(), err, sizeof err) !=
        RD_KAFKA_CONF_OK) {
      return Fail(ErrorCode::kConfig, "librdkafka property " + name +
                                          (SecretProperty(name) ? "" : "=" + value) + ": " + err);
    }
  }
  return conf;
}

}  // namespace pgcdc::client::kafka
